// Local channels under threads: each io_context thread runs its own pipeline over a local
// channel, while another thread aborts tasks parked on it (the cancellation hook that local
// channels install without a lock). Every value is accounted for exactly once. Run under TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/local_channel.hpp>
#include <asyncpat/spawn.hpp>

#include "../support/catch.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <system_error>
#include <thread>

using asyncpat::task;

namespace {
constexpr int rounds = 400;
constexpr int values_per_round = 50;

// Receives until the end, or until it is aborted (a parked receive takes nothing then).
task<void> consume(asyncpat::local_receiver<int> rx, std::atomic<std::int64_t>& got,
                   std::atomic<int>& aborted_while_receiving, std::atomic<bool>& started) {
    started.store(true, std::memory_order_release);
    try {
        while (std::optional<int> v = co_await rx.receive())
            got.fetch_add(*v, std::memory_order_relaxed);
    } catch (const std::system_error&) {
        aborted_while_receiving.fetch_add(1, std::memory_order_relaxed);
    }
}

// Waits for `go` (meanwhile the consumer is parked on the empty channel), then offers every value
// with try_send (a full channel keeps it here), yielding now and then so that the consumer parks on
// an empty channel; then closes and takes back what is still queued. Returns the sum of the values
// that never reached the consumer.
task<std::int64_t> produce(asyncpat::local_sender<int> tx, asyncpat::local_receiver<int> rx,
                           std::atomic<bool>& go) {
    while (!go.load(std::memory_order_acquire)) co_await asyncpat::this_task::yield();
    std::int64_t kept = 0;
    for (int i = 1; i <= values_per_round; ++i) {
        if (i % 5 == 0) co_await asyncpat::this_task::yield();
        if (tx.try_send(int{i})) kept += i;
    }
    tx.close();
    while (std::optional<int> v = rx.try_receive()) kept += *v;
    co_return kept;
}
}  // namespace

TEST_CASE("local channels with aborts from another thread lose nothing", "[mt][local]") {
    asio::io_context io(1);
    auto guard = asio::make_work_guard(io);
    std::thread runner([&io] { io.run(); });

    std::int64_t const expected_per_round = values_per_round * (values_per_round + 1) / 2;
    std::int64_t kept = 0;
    int aborted = 0;
    std::atomic<std::int64_t> got{0};
    std::atomic<int> aborted_while_receiving{0};
    for (int r = 0; r < rounds; ++r) {
        // Made and copied here, before any use; used only on the io_context's thread.
        auto [tx, rx] = asyncpat::make_local_channel<int>(4);
        // Rounds 0 mod 4: abort while the consumer is parked (the producer waits for it);
        // 2 mod 4: abort at some moment while values flow; odd: no abort.
        std::atomic<bool> go{r % 4 != 0};
        std::atomic<bool> started{false};
        auto consumer = asyncpat::spawn(io, consume(rx, got, aborted_while_receiving, started));
        auto producer = asyncpat::spawn(io, produce(std::move(tx), std::move(rx), go));
        if (r % 2 == 0) {
            while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
            for (int spin = 0; spin < r % 7; ++spin) std::this_thread::yield();
            consumer.abort();  // from this thread
            ++aborted;
        }
        go.store(true, std::memory_order_release);
        auto consumed = std::move(consumer).async_join(asio::use_future);
        auto produced = std::move(producer).async_join(asio::use_future);
        try {
            consumed.get();
        } catch (const std::system_error&) {
            // aborted before it started
        }
        kept += produced.get();
    }
    guard.reset();
    runner.join();
    CHECK(aborted == rounds / 2);
    CHECK(aborted_while_receiving.load() >= rounds / 4);  // every 0-mod-4 round: parked
    CHECK(kept + got.load() == expected_per_round * rounds);
}

namespace {
// Receives the one value, or ends aborted (then it took nothing, and the value stays).
task<int> await_one(asyncpat::local_oneshot_receiver<int>& rx, std::atomic<bool>& parked) {
    parked.store(true, std::memory_order_release);
    try {
        co_return co_await rx;
    } catch (const std::system_error&) {
        co_return -1;
    }
}

// Waits for `go`, yields `yields` times, then sends.
task<void> send_after(asyncpat::local_oneshot_sender<int> tx, std::atomic<bool>& go, int yields,
                      int value) {
    while (!go.load(std::memory_order_acquire)) co_await asyncpat::this_task::yield();
    for (int i = 0; i < yields; ++i) co_await asyncpat::this_task::yield();
    (void)tx.send(int{value});
}
}  // namespace

TEST_CASE("local oneshots with aborts from another thread lose nothing", "[mt][local]") {
    asio::io_context io(1);
    auto guard = asio::make_work_guard(io);
    std::thread runner([&io] { io.run(); });
    int received = 0, aborted = 0, left_for_later = 0;
    for (int r = 0; r < 2000; ++r) {
        // Made here, before any use; used only on the io_context's thread.
        auto [tx, rx] = asyncpat::make_local_oneshot<int>();
        // Even rounds: the send waits until the aborted receive has ended. Odd rounds: the
        // abort races the send.
        std::atomic<bool> parked{false}, go{r % 2 == 1};
        auto receiver = asyncpat::spawn(io, await_one(rx, parked));
        asyncpat::spawn(io, send_after(std::move(tx), go, r % 5, 7)).detach();
        while (!parked.load(std::memory_order_acquire)) std::this_thread::yield();
        for (int spin = 0; spin < r % 3; ++spin) std::this_thread::yield();
        receiver.abort();  // from this thread
        int const got = std::move(receiver).async_join(asio::use_future).get();
        go.store(true, std::memory_order_release);
        if (got == 7) {
            ++received;
        } else {
            ++aborted;
            // Cancel-safe: the value was not taken; it is there (or arrives) for a later look.
            auto check = [](asyncpat::local_oneshot_receiver<int>& in) -> task<int> {
                co_return co_await in;
            };
            if (asyncpat::spawn(io, check(rx)).async_join(asio::use_future).get() == 7)
                ++left_for_later;
        }
    }
    guard.reset();
    runner.join();
    CHECK(received + aborted == 2000);
    CHECK(aborted >= 1000);  // every even round
    CHECK(left_for_later == aborted);
}
