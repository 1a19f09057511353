// message_arena across threads: two producers allocate messages on a 2-thread pool and share the
// refs through a channel; two consumers read each back and release it. Every message must read
// exactly as written, and the arena must end empty. Run under TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/arena.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task_group.hpp>

#include "../support/catch.hpp"

#include <asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

using asyncpat::task;

namespace {
constexpr int per_producer = 500'000;  // 10^6 messages in all

// A message that says who wrote it and when, with a checksum over both.
std::string make_message(int producer, int seq) {
    std::string text = std::to_string(producer) + ":" + std::to_string(seq) + ":";
    text += std::to_string((producer * 7919 + seq) % 1000003);
    text.resize(24 + static_cast<std::size_t>(seq % 40), '.');
    return text;
}

task<void> produce(asyncpat::message_arena& arena, asyncpat::sender<asyncpat::message_ref> out,
                   int id) {
    for (int seq = 0; seq < per_producer; ++seq) {
        std::string const text = make_message(id, seq);
        asyncpat::message_ref ref = co_await arena.alloc(std::string_view(text));
        co_await out.send(std::move(ref));
    }
}

// Counts what it read, and what did not read back as written (Catch is not thread-safe).
task<void> consume(asyncpat::receiver<asyncpat::message_ref> in, std::atomic<int>& read,
                   std::atomic<int>& corrupted) {
    while (auto ref = co_await in.receive()) {
        std::string_view const text = ref->as_string_view();
        int producer = 0, seq = 0;
        if (std::sscanf(std::string(text).c_str(), "%d:%d:", &producer, &seq) != 2 ||
            text != make_message(producer, seq))
            corrupted.fetch_add(1, std::memory_order_relaxed);
        read.fetch_add(1, std::memory_order_relaxed);
    }
}

task<void> body(asio::thread_pool& pool, asyncpat::message_arena& arena, std::atomic<int>& read,
                std::atomic<int>& corrupted) {
    asyncpat::task_group<void> group(pool);
    {
        auto [tx, rx] = asyncpat::make_channel<asyncpat::message_ref>(64);
        group.spawn(produce(arena, tx, 1));
        group.spawn(produce(arena, std::move(tx), 2));
        group.spawn(consume(rx, read, corrupted));
        group.spawn(consume(std::move(rx), read, corrupted));
    }
    co_await group.join_all();
}
}  // namespace

TEST_CASE("arena refs shared across threads read back intact, and the arena ends empty",
          "[mt][arena]") {
    asio::thread_pool pool(2);
    asyncpat::message_arena arena(128, 64);  // fewer slots than messages in flight: allocs wait
    std::atomic<int> read{0}, corrupted{0};
    asyncpat::sync_wait(pool.get_executor(), body(pool, arena, read, corrupted));
    pool.join();
    CHECK(read.load() == 2 * per_producer);
    CHECK(corrupted.load() == 0);
    CHECK(arena.live_slots() == 0);
    CHECK(arena.live_bytes() == 0);
    CHECK(arena.high_watermark() <= 128);
}
