// Multi-threaded stress of spawn, join, abort and task_group on a 2-thread pool (run under TSan).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/combinators.hpp>
#include <asyncpat/task.hpp>
#include <asyncpat/task_group.hpp>

#include "../support/catch.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::task;

namespace {
task<int> hop(asio::thread_pool& pool, std::atomic<int>* runs) {
    runs->fetch_add(1, std::memory_order_relaxed);
    co_await asio::post(pool.get_executor(), asyncpat::use_task);  // cross-thread completion
    co_return 1;
}
}  // namespace

TEST_CASE("100000 spawned tasks on a 2-thread pool all complete exactly once", "[mt][spawn]") {
    constexpr int count = 100'000;
    asio::thread_pool pool(2);
    std::atomic<int> runs{0};
    std::atomic<int> joined{0};
    auto spawner = [](asio::thread_pool& p, std::atomic<int>* r,
                      std::atomic<int>* j) -> task<void> {
        std::vector<asyncpat::join_handle<int>> handles;
        handles.reserve(1000);
        for (int i = 0; i < count; ++i) {
            handles.push_back(asyncpat::spawn(p, hop(p, r)));
            if (handles.size() == 1000) {
                for (auto& h : handles) j->fetch_add(co_await h, std::memory_order_relaxed);
                handles.clear();
            }
        }
        for (auto& h : handles) j->fetch_add(co_await h, std::memory_order_relaxed);
    };
    asyncpat::sync_wait(pool.get_executor(), spawner(pool, &runs, &joined));
    pool.join();
    CHECK(runs.load() == count);
    CHECK(joined.load() == count);
}

TEST_CASE("detached tasks on a pool: every one runs once", "[mt][spawn]") {
    constexpr int count = 20'000;
    std::atomic<int> runs{0};
    {
        asio::thread_pool pool(2);
        for (int i = 0; i < count; ++i) asyncpat::spawn(pool, hop(pool, &runs)).detach();
        pool.join();
    }
    CHECK(runs.load() == count);
}

TEST_CASE("abort racing completion from other threads", "[mt][cancel]") {
    asio::io_context io(1);  // outlives the pool, whose threads post the joins' resumptions
    asio::thread_pool pool(2);
    std::atomic<int> finished{0};
    for (int round = 0; round < 2000; ++round) {
        auto handle = asyncpat::spawn(
            pool,
            [](std::atomic<int>* f) -> task<void> {
                co_await asyncpat::this_task::yield();
                f->fetch_add(1, std::memory_order_relaxed);
            },
            &finished);
        handle.abort();  // may land before the start, while it runs, or after it finished
        auto join = [](asyncpat::join_handle<void> h) -> task<int> {
            try {
                co_await h;
                co_return 1;
            } catch (const std::system_error&) {
                co_return 0;
            }
        };
        (void)asyncpat::sync_wait(io, join(std::move(handle)));
    }
    pool.join();
    CHECK(finished.load() <= 2000);
}

TEST_CASE("a task group fed from two threads and cancelled midway", "[mt][task_group]") {
    asio::thread_pool pool(2);
    std::atomic<int> started{0};
    auto body = [](asio::thread_pool& p, std::atomic<int>* s) -> task<std::size_t> {
        asyncpat::task_group<int> group(p);
        std::thread feeder([&group, s] {
            for (int i = 0; i < 500; ++i)
                group.spawn(
                    [](std::atomic<int>* st) -> task<int> {
                        st->fetch_add(1, std::memory_order_relaxed);
                        co_await asyncpat::sleep_for(1ms);
                        co_return 1;
                    },
                    s);
        });
        for (int i = 0; i < 500; ++i)
            group.spawn(
                [](std::atomic<int>* st) -> task<int> {
                    st->fetch_add(1, std::memory_order_relaxed);
                    co_await asyncpat::this_task::yield();
                    co_return 1;
                },
                s);
        feeder.join();
        std::size_t collected = 0;
        int errors = 0;
        for (;;) {
            try {
                auto v = co_await group.next();
                if (!v) break;
            } catch (const std::system_error&) {
                ++errors;
            }
            if (++collected == 300) group.cancel();
        }
        co_return collected + static_cast<std::size_t>(errors) - static_cast<std::size_t>(errors);
    };
    auto collected = asyncpat::sync_wait(pool.get_executor(), body(pool, &started));
    pool.join();
    CHECK(collected == 1000);
}

TEST_CASE("tasks on one strand of a 2-thread io_context are serialised", "[mt][executor]") {
    asio::io_context io(2);
    auto strand = asio::make_strand(io);
    long counter = 0;  // guarded by the strand
    auto bump = [](long* c, int n) -> task<void> {
        for (int i = 0; i < n; ++i) {
            ++*c;
            co_await asyncpat::this_task::yield();
        }
    };
    for (int t = 0; t < 4; ++t) asyncpat::spawn(strand, bump, &counter, 5000).detach();
    std::thread other([&io] { io.run(); });
    io.run();
    other.join();
    CHECK(counter == 20000);
}

TEST_CASE("a group and its waiter on a 2-thread pool", "[mt][task_group]") {
    asio::thread_pool pool(2);
    auto body = [](asio::thread_pool& p) -> task<int> {
        int total = 0;
        for (int round = 0; round < 200; ++round) {
            asyncpat::task_group<int> group(p);
            for (int i = 0; i < 10; ++i)
                group.spawn(
                    [](int v) -> task<int> {
                        co_await asyncpat::this_task::yield();
                        co_return v;
                    },
                    1);
            for (int v : co_await group.join_all()) total += v;
        }
        co_return total;
    };
    CHECK(asyncpat::sync_wait(pool.get_executor(), body(pool)) == 2000);
    pool.join();
}

namespace {
task<int> short_timer() {
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 200us);
    co_await timer.async_wait(asyncpat::use_task);
    co_return 1;
}
}  // namespace

TEST_CASE("sync_wait(io) while another thread runs the same io_context", "[mt][spawn]") {
    // The completion may run on the other thread while this one waits for a handler: sync_wait
    // must still return (it used to block in run_one forever, and read its flags unlocked).
    asio::io_context io(2);
    auto guard = asio::make_work_guard(io);
    std::thread other([&io] { io.run(); });
    int sum = 0;
    for (int i = 0; i < 300; ++i) sum += asyncpat::sync_wait(io, short_timer());
    guard.reset();
    other.join();
    CHECK(sum == 300);
}
