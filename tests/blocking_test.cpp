// Tests of spawn_blocking and blocking_pool.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/blocking.hpp>

#include <asyncpat/combinators.hpp>

#include "support/catch.hpp"
#include "support/runner.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using asyncpat::task;
using asyncpat_test::run;

namespace {
task<int> blocking_value() {
    auto const caller = std::this_thread::get_id();
    std::thread::id ran_on;
    int v = co_await asyncpat::spawn_blocking(
        [&ran_on](int a, int b) {
            ran_on = std::this_thread::get_id();
            return a + b;
        },
        40, 2);
    CHECK(ran_on != caller);                      // not on the task's executor
    CHECK(std::this_thread::get_id() == caller);  // resumed back on it
    co_return v;
}

task<int> blocking_exception() {
    try {
        co_await asyncpat::spawn_blocking([] { throw std::invalid_argument("bad input"); });
    } catch (const std::invalid_argument& e) {
        co_return std::string(e.what()) == "bad input" ? 1 : 0;
    }
    co_return -1;
}

task<std::string> blocking_move_only(asyncpat::blocking_pool& pool) {
    auto owned = std::make_unique<std::string>("owned");
    co_return co_await asyncpat::spawn_blocking(
        pool, [](std::unique_ptr<std::string> s) { return *s + "!"; }, std::move(owned));
}

// While the blocking call sleeps, the executor keeps running other work.
task<int> executor_keeps_running() {
    int ticks = 0;
    auto ticker = [](int* t) -> task<void> {
        for (int i = 0; i < 10; ++i) {
            co_await asyncpat::sleep_for(2ms);
            ++*t;
        }
    };
    auto sleeper = []() -> task<void> {
        co_await asyncpat::spawn_blocking([] { std::this_thread::sleep_for(100ms); });
    };
    co_await asyncpat::when_all(sleeper(), ticker(&ticks));
    co_return ticks;
}
}  // namespace

TEST_CASE("spawn_blocking runs on the pool and resumes on the task's executor", "[blocking]") {
    CHECK(run(blocking_value()) == 42);
}

TEST_CASE("spawn_blocking rethrows the function's exception", "[blocking]") {
    CHECK(run(blocking_exception()) == 1);
}

TEST_CASE("spawn_blocking with a pool of one's own and move-only arguments", "[blocking]") {
    asyncpat::blocking_pool pool(1);
    CHECK(run(blocking_move_only(pool)) == "owned!");
}

TEST_CASE("spawn_blocking does not block the executor", "[blocking]") {
    CHECK(run(executor_keeps_running()) == 10);
}

TEST_CASE("a cancelled task does not start the blocking call", "[blocking][cancel]") {
    asio::io_context io(1);
    bool ran = false;
    auto handle = asyncpat::spawn(io, [&ran]() -> task<void> {
        try {
            co_await asyncpat::sleep_for(1h);
        } catch (...) {
        }
        co_await asyncpat::spawn_blocking([&ran] { ran = true; });
    });
    io.run_for(2ms);
    handle.abort();
    io.run();
    CHECK(handle.is_finished());
    CHECK_FALSE(ran);
}
