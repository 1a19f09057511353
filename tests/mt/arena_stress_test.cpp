// message_arena across threads: two producers allocate messages on a 2-thread pool and share the
// refs through a channel; two consumers read each back and release it. Every message must read
// exactly as written, and the arena must end empty. Run under TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/arena.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/combinators.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task_group.hpp>

#include "../support/catch.hpp"

#include <asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

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

namespace {
// Allocates with a short timeout and holds each message for a moment: many allocs wait, and
// their cancellations race with releases on the other thread.
task<void> churn(asyncpat::message_arena& arena, int rounds, std::atomic<int>& served,
                 std::atomic<int>& timed_out) {
    for (int i = 0; i < rounds; ++i) {
        try {
            asyncpat::message_ref m = co_await asyncpat::timeout(
                std::chrono::microseconds(20 + i % 50), arena.alloc(std::string_view("churn")));
            served.fetch_add(1, std::memory_order_relaxed);
            co_await asyncpat::this_task::yield();
        } catch (const std::system_error&) {
            timed_out.fetch_add(1, std::memory_order_relaxed);
        }
    }
}
}  // namespace

TEST_CASE("cancelled waiting allocs lose no slot while releases race them", "[mt][arena]") {
    asio::thread_pool pool(2);
    asyncpat::message_arena arena(3, 16);
    std::atomic<int> served{0}, timed_out{0};
    auto body = [&]() -> task<void> {
        asyncpat::task_group<void> group(pool);
        for (int t = 0; t < 8; ++t) group.spawn(churn(arena, 2000, served, timed_out));
        co_await group.join_all();
    };
    asyncpat::sync_wait(pool.get_executor(), body());
    pool.join();
    CHECK(served.load() + timed_out.load() == 8 * 2000);
    CHECK(timed_out.load() > 0);  // some waits were cancelled
    CHECK(arena.live_slots() == 0);
    // Every slot is free again: none was stranded by a cancelled hand-off.
    std::vector<asyncpat::message_ref> all;
    for (int i = 0; i < 3; ++i) all.push_back(arena.try_alloc("again"));
    for (auto const& m : all) CHECK(static_cast<bool>(m));
    CHECK(arena.high_watermark() == 3);
}

TEST_CASE("an arena destroyed while allocs wait and messages live on other threads",
          "[mt][arena]") {
    int bad_trials = 0;
    for (int trial = 0; trial < 200; ++trial) {
        asio::thread_pool pool(2);
        auto arena = std::make_unique<asyncpat::message_arena>(2, 16);
        std::atomic<int> closed{0}, sent{0};
        auto [tx, rx] = asyncpat::make_channel<asyncpat::message_ref>(4);
        // A holder on the pool keeps the messages a while, and drops them after the arena went.
        auto holder = asyncpat::spawn(
            pool,
            [](asyncpat::receiver<asyncpat::message_ref> in) -> task<void> {
                std::vector<asyncpat::message_ref> kept;
                while (auto m = co_await in.receive()) kept.push_back(std::move(*m));
                co_await asyncpat::this_task::yield();
            },
            std::move(rx));
        std::vector<asyncpat::join_handle<void>> allocs;
        for (int w = 0; w < 3; ++w)
            allocs.push_back(asyncpat::spawn(
                pool,
                [](task<asyncpat::message_ref> alloc, asyncpat::sender<asyncpat::message_ref> out,
                   std::atomic<int>& sent_count, std::atomic<int>& closed_count) -> task<void> {
                    try {
                        asyncpat::message_ref m = co_await std::move(alloc);
                        co_await out.send(std::move(m));
                        sent_count.fetch_add(1, std::memory_order_relaxed);
                    } catch (const std::system_error&) {
                        closed_count.fetch_add(1, std::memory_order_relaxed);
                    }
                },
                arena->alloc(std::string_view("m")),  // made now; may start after the reset
                tx, std::ref(sent), std::ref(closed)));
        tx.close();
        std::this_thread::sleep_for(std::chrono::microseconds(trial % 7 * 10));
        arena.reset();  // waiting allocs fail; sent messages live on in the holder
        auto join_all = [](std::vector<asyncpat::join_handle<void>> handles,
                           asyncpat::join_handle<void> last) -> task<void> {
            for (auto& h : handles) co_await h;
            co_await last;
        };
        asyncpat::sync_wait(pool.get_executor(), join_all(std::move(allocs), std::move(holder)));
        pool.join();
        if (sent.load() > 2 || sent.load() + closed.load() != 3) ++bad_trials;
    }
    CHECK(bad_trials == 0);
}
