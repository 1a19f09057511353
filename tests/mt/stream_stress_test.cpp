// Streams on a 2-thread pool: buffer_unordered work spawned across threads, merged with a
// channel fed by a plain thread, chunked and forwarded; every item accounted once. Run under TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/channel.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/stream.hpp>

#include "../support/catch.hpp"

#include <asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

using asyncpat::task;

namespace {
constexpr std::int64_t work_items = 2000;
constexpr std::int64_t thread_items = 2000;

task<std::int64_t> square_later(std::int64_t x) {
    co_await asyncpat::this_task::yield();  // resumes on any pool thread
    co_return x* x;
}

task<std::int64_t> pipeline(asyncpat::receiver<std::int64_t> from_thread) {
    std::vector<std::int64_t> ids;
    for (std::int64_t i = 1; i <= work_items; ++i) ids.push_back(i);
    auto squares = asyncpat::from_range(std::move(ids)) | asyncpat::map(square_later) |
                   asyncpat::buffer_unordered(8);
    auto merged = std::move(squares) | asyncpat::merge(std::move(from_thread)) |
                  asyncpat::chunks(16) | asyncpat::map([](std::vector<std::int64_t> chunk) {
                      std::int64_t sum = 0;
                      for (std::int64_t v : chunk) sum += v;
                      return sum;
                  });
    auto [tx, rx] = asyncpat::make_channel<std::int64_t>(4);
    auto forwarding = asyncpat::spawn(co_await asyncpat::this_task::executor,
                                      asyncpat::forward(std::move(merged), std::move(tx)));
    std::int64_t const total = co_await asyncpat::fold(
        std::move(rx), std::int64_t{0}, [](std::int64_t a, std::int64_t b) { return a + b; });
    co_await forwarding;
    co_return total;
}
}  // namespace

TEST_CASE("a stream pipeline across a thread pool and a plain thread loses nothing",
          "[mt][stream]") {
    for (int round = 0; round < 3; ++round) {
        asio::thread_pool pool(2);
        auto [tx, rx] = asyncpat::make_channel<std::int64_t>(16);
        std::thread feeder([out = std::move(tx)]() mutable {
            for (std::int64_t i = 1; i <= thread_items; ++i) {
                std::int64_t value = -i;
                for (;;) {
                    std::error_code const ec = out.try_send(std::move(value));
                    if (ec != asyncpat::errc::channel_full) break;  // sent (or closed: give up)
                    std::this_thread::yield();
                }
            }
        });
        std::int64_t const total =
            asyncpat::sync_wait(pool.get_executor(), pipeline(std::move(rx)));
        feeder.join();
        pool.join();
        std::int64_t const squares = work_items * (work_items + 1) * (2 * work_items + 1) / 6;
        std::int64_t const negatives = -thread_items * (thread_items + 1) / 2;
        CHECK(total == squares + negatives);
    }
}

TEST_CASE("buffered on a thread pool keeps the order; dropping it early aborts the rest",
          "[mt][stream]") {
    for (int round = 0; round < 20; ++round) {
        asio::thread_pool pool(2);
        auto body = []() -> task<bool> {
            std::vector<std::int64_t> ids;
            for (std::int64_t i = 1; i <= 500; ++i) ids.push_back(i);
            auto squares = asyncpat::from_range(std::move(ids)) | asyncpat::map(square_later) |
                           asyncpat::buffered(8);
            std::int64_t next = 1;
            bool in_order = true;
            while (auto square = co_await squares.next()) {
                in_order = in_order && *square == next * next;
                if (++next > 300) break;  // the stream is dropped with work in flight
            }
            co_return in_order&& next == 301;
        };
        CHECK(asyncpat::sync_wait(pool.get_executor(), body()));
        pool.join();
    }
}
