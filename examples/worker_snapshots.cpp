// Pattern: a worker that owns its buffer, fed by a channel, emitting owned snapshots that the
// consumer reads as a stream.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// The pitfall first. A stream that fills a buffer of its own is tempted to hand out views of
// that buffer: no copy! But the consumer may keep an item while it pulls the next one, and the
// next one is written into the same buffer. In Rust the borrow checker refuses such a "lending"
// stream; in C++ it compiles, and the consumer's items change under its feet (or dangle, once
// the buffer grows or the stream is gone).
//
// The answer: the worker owns the buffer and emits *owned* snapshots. With `bytes`, a snapshot
// costs no copy either: `split_to(n).freeze()` takes the n new bytes out of the worker's
// `bytes_mut` as an immutable, reference-counted view; the worker keeps appending after them,
// and reuses the memory once every snapshot of it is gone.
//   1. the lending generator, and what a consumer that keeps items sees;
//   2. events into the worker through a bounded channel;
//   3. snapshots out through a second channel, read as a stream (inspect, collect);
//   4. every snapshot intact, and where it lives: inside the worker's buffer.
#include <asyncpat.hpp>

#include <fmt/core.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using asyncpat::bytes;
using asyncpat::task;

namespace {

// 1. Wrong: items that point into the generator's own buffer.
asyncpat::generator<std::string_view> lending_lines() {
    std::array<char, 64> line{};  // one fixed buffer: the views stay readable, just wrong
    for (int i = 1; i <= 3; ++i) {
        auto const written = fmt::format_to_n(line.data(), line.size(), "line {}", i);
        co_yield std::string_view(line.data(), written.size);
    }
}

// 2-3. Right: the worker owns `buffer`; each event appends a record, and the new bytes leave as
// an owned snapshot. It returns where its buffer started, to show where the snapshots live.
task<const std::byte*> worker(asyncpat::receiver<std::uint32_t> events,
                              asyncpat::sender<bytes> snapshots) {
    auto buffer = asyncpat::bytes_mut::with_capacity(1024);
    const std::byte* const start = buffer.data();
    while (auto event = co_await events.receive()) {
        std::string const record = fmt::format("event {} squared is {}", *event, *event * *event);
        buffer.extend(record);
        co_await snapshots.send(buffer.split_to(record.size()).freeze());
    }
    co_return start;
}  // the last sender of `snapshots` goes here: the consumer's stream ends

task<void> producer(asyncpat::sender<std::uint32_t> events) {
    for (std::uint32_t i = 1; i <= 4; ++i) co_await events.send(i);
}

task<void> tour() {
    auto ex = co_await asyncpat::this_task::executor;

    fmt::print("1. a lending stream, its items kept by the consumer:\n");
    {
        auto lines = lending_lines();
        std::vector<std::string_view> held;
        for (int i = 0; i < 3; ++i) held.push_back(*co_await lines.next());
        // (Read while the generator is suspended at its last co_yield: once it finishes, its
        // buffer is destroyed and these views dangle.)
        for (std::string_view v : held) fmt::print("   kept item reads \"{}\"\n", v);
        fmt::print("   every kept item reads the last line written into the one buffer\n");
    }

    fmt::print("2-3. a worker with its own buffer, fed by a channel, emitting snapshots:\n");
    auto [event_tx, event_rx] = asyncpat::make_channel<std::uint32_t>(2);
    auto [snapshot_tx, snapshot_rx] = asyncpat::make_channel<bytes>(2);
    auto feeding = asyncpat::spawn(ex, producer(std::move(event_tx)));
    auto working = asyncpat::spawn(ex, worker(std::move(event_rx), std::move(snapshot_tx)));

    // The consumer keeps every snapshot, then looks at them all at the end.
    std::vector<bytes> snapshots = co_await asyncpat::collect<std::vector<bytes>>(
        std::move(snapshot_rx) |
        asyncpat::inspect([](const bytes& b) { fmt::print("   received {} bytes\n", b.size()); }));
    co_await feeding;
    const std::byte* const buffer_start = co_await working;

    fmt::print("4. all snapshots intact, each a view into the worker's buffer:\n");
    for (const bytes& b : snapshots)
        fmt::print("   \"{}\" at worker buffer + {}\n", b, b.data() - buffer_start);
}

}  // namespace

int main() {
    asio::io_context io;
    asyncpat::sync_wait(io, tour());
}
