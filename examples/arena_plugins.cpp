// Pattern: a message stored once, handed to plugin tasks that outlive the function that
// dispatched it.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// A dispatcher receives a message and gives it to several plugins, each running as its own task.
// Handing them a pointer (or a reference) into the dispatcher's buffer is the bug: the plugins
// outlive the call, and the buffer is reused. Copying the message for each plugin costs an
// allocation per plugin. The seed's answer was an arena of messages and index handles; its arena
// never freed anything, took a lock on every read, and a stale index read whatever message was
// in its place by then.
//
// asyncpat's message_arena keeps the idea and fixes all three:
//   1. the message is copied once into a slot; each plugin gets a message_ref (a reference count);
//   2. the plugins run after the dispatching function returned, reading without a lock;
//   3. the slot is reused once the last plugin dropped its ref (the memory stays flat);
//   4. a weak ref kept past that point is caught: lock() fails, it never reads the new message.
#include <asyncpat.hpp>

#include <fmt/core.h>

#include <string_view>
#include <vector>

using asyncpat::message_arena;
using asyncpat::message_ref;
using asyncpat::task;

namespace {

// 2. A plugin: owns its message_ref, so the message lives as long as the plugin needs it.
task<void> plugin(std::string_view name, message_ref message) {
    co_await asyncpat::this_task::yield();  // runs later, after dispatch() returned
    fmt::print("   plugin {} reads \"{}\" (slot {}, generation {})\n", name,
               message.as_string_view(), message.index(), message.generation());
}

// 1. The dispatcher: stores the message once and spawns the plugins, then returns at once.
asyncpat::weak_message_ref dispatch(message_arena& arena, asyncpat::task_group<void>& plugins,
                                    std::string_view text) {
    message_ref message = arena.try_alloc(text);
    for (std::string_view name : {"audit", "metrics", "search"})
        plugins.spawn(plugin(name, message));
    return message.weak();  // the dispatcher keeps only a weak ref
}

task<void> tour() {
    message_arena arena(/*slots*/ 1, /*max_message_bytes*/ 64);
    asyncpat::task_group<void> plugins(co_await asyncpat::this_task::executor);

    fmt::print("1-2. one message, three plugins:\n");
    asyncpat::weak_message_ref const first = dispatch(arena, plugins, "order 17 shipped");
    fmt::print("   dispatch returned; live slots: {}\n", arena.live_slots());
    co_await plugins.join_all();

    fmt::print("3. all plugins done; live slots: {}\n", arena.live_slots());
    asyncpat::weak_message_ref const second = dispatch(arena, plugins, "order 18 cancelled");
    co_await plugins.join_all();

    fmt::print("4. the first message's weak ref, after its slot was reused:\n");
    if (message_ref stale = arena.lock(first))
        fmt::print("   BUG: read \"{}\"\n", stale.as_string_view());
    else
        fmt::print("   lock() refused it (slot {}: generation {} then, {} now)\n", first.index(),
                   first.generation(), second.generation());
    fmt::print("   high watermark: {} slot, allocation failures: {}\n", arena.high_watermark(),
               arena.allocation_failures());
}

}  // namespace

int main() {
    asio::io_context io;
    asyncpat::sync_wait(io, tour());
}
