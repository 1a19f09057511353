// Tests of when_all, race, timeout and sleep_for.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/combinators.hpp>

#include "support/catch.hpp"
#include "support/lifetime.hpp"
#include "support/runner.hpp"
#include "support/tasks.hpp"

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::task;
using asyncpat_test::fail_after;
using asyncpat_test::run;
using asyncpat_test::value_after;
using asyncpat_test::wait_long;

namespace {
task<int> sync_value(int v) {
    co_return v;
}
}  // namespace

TEST_CASE("when_all yields every result in argument order", "[combinators]") {
    auto both = [](void) -> task<int> {
        auto [a, b, c] = co_await asyncpat::when_all(value_after(5ms, 1), value_after(1ms, 2),
                                                     asyncpat::sleep_for(2ms));
        (void)c;
        co_return a * 10 + b;
    };
    CHECK(run(both()) == 12);
}

TEST_CASE("when_all of tasks that complete synchronously", "[combinators]") {
    auto all = []() -> task<int> {
        auto [a, b] = co_await asyncpat::when_all(sync_value(3), sync_value(4));
        co_return a + b;
    };
    CHECK(run(all()) == 7);
}

TEST_CASE("when_all runs children concurrently", "[combinators]") {
    auto timed = []() -> task<std::chrono::steady_clock::duration> {
        auto const start = std::chrono::steady_clock::now();
        co_await asyncpat::when_all(value_after(50ms, 1), value_after(50ms, 2),
                                    value_after(50ms, 3));
        co_return std::chrono::steady_clock::now() - start;
    };
    CHECK(run(timed()) < 140ms);  // sequential would take 150 ms or more
}

TEST_CASE("when_all cancels the others when one fails and rethrows the first error",
          "[combinators][cancel]") {
    int cancellations = 0;
    auto failing = [](int* c) -> task<int> {
        co_await asyncpat::when_all(wait_long(c), fail_after(2ms), wait_long(c));
        co_return 0;
    };
    CHECK_THROWS_WITH(run(failing(&cancellations)), "child failed");
    CHECK(cancellations == 2);
}

TEST_CASE("when_all over a vector", "[combinators]") {
    auto many = []() -> task<int> {
        std::vector<task<int>> work;
        for (int i = 0; i < 20; ++i)
            work.push_back(value_after(std::chrono::milliseconds(20 - i), i));
        auto values = co_await asyncpat::when_all(std::move(work));
        int sum = 0;
        for (std::size_t i = 0; i < values.size(); ++i) {
            CHECK(values[i] == static_cast<int>(i));  // argument order, not completion order
            sum += values[i];
        }
        std::vector<task<void>> sleeps;
        sleeps.push_back(asyncpat::sleep_for(1ms));
        co_await asyncpat::when_all(std::move(sleeps));
        co_await asyncpat::when_all(std::vector<task<void>>{});
        co_return sum;
    };
    CHECK(run(many()) == 190);
}

TEST_CASE("race returns the first result and cancels the losers", "[combinators][cancel]") {
    int cancellations = 0;
    auto first = [](int* c) -> task<int> {
        auto winner = co_await asyncpat::race(wait_long(c), value_after(2ms, 5), wait_long(c));
        CHECK(winner.index() == 1);
        co_return std::get<1>(winner);
    };
    CHECK(run(first(&cancellations)) == 5);
    CHECK(cancellations == 2);
}

TEST_CASE("race rethrows the winner's exception", "[combinators]") {
    int cancellations = 0;
    auto failing = [](int* c) -> task<void> {
        co_await asyncpat::race(wait_long(c), fail_after(1ms));
    };
    CHECK_THROWS_WITH(run(failing(&cancellations)), "child failed");
    CHECK(cancellations == 1);
}

TEST_CASE("a synchronous winner stops the others before they start", "[combinators]") {
    int cancellations = 0;
    auto sync_first = [](int* c) -> task<int> {
        auto winner = co_await asyncpat::race(sync_value(9), wait_long(c));
        co_return std::get<0>(winner);
    };
    CHECK(run(sync_first(&cancellations)) == 9);
    CHECK(cancellations == 0);  // the second child never ran its body
}

TEST_CASE("timeout yields the value in time, timed_out otherwise", "[combinators]") {
    CHECK(run(asyncpat::timeout(1s, value_after(1ms, 4))) == 4);
    int cancellations = 0;
    auto late = [](int* c) -> task<int> {
        try {
            co_await asyncpat::timeout(5ms, wait_long(c));
        } catch (const std::system_error& e) {
            co_return e.code() == asyncpat::errc::timed_out ? 1 : 0;
        }
        co_return -1;
    };
    CHECK(run(late(&cancellations)) == 1);
    CHECK(cancellations == 1);  // the work was cancelled and awaited before timeout returned
    run(asyncpat::timeout(1s, asyncpat::sleep_for(1ms)));
}

TEST_CASE("cancelling the parent cancels every child", "[combinators][cancel]") {
    asio::io_context io(1);
    int cancellations = 0;
    auto parent = [](int* c) -> task<void> {
        co_await asyncpat::when_all(wait_long(c), wait_long(c), wait_long(c));
    };
    auto handle = asyncpat::spawn(io, parent(&cancellations));
    io.run_for(5ms);
    handle.abort();
    io.run();
    CHECK(handle.is_finished());
    CHECK(cancellations == 3);
}

TEST_CASE("children are destroyed exactly once when the executor goes away", "[combinators]") {
    asyncpat_test::lifetime_counter counter;
    {
        asio::io_context io(1);
        auto holds = [](asyncpat_test::tracked t) -> task<int> {
            co_await asyncpat::sleep_for(1h);
            co_return t.value();
        };
        auto parent = [](asyncpat_test::lifetime_counter& c, decltype(holds) make) -> task<void> {
            co_await asyncpat::when_all(make(asyncpat_test::tracked(c, 1)),
                                        make(asyncpat_test::tracked(c, 2)));
        };
        asyncpat::spawn(io, parent(counter, holds)).detach();
        io.run_for(5ms);
        CHECK(counter.alive() >= 2);
    }
    CHECK(counter.alive() == 0);
}

TEST_CASE("an abandoned child's operation leaves no stale cancellation handler",
          "[combinators][cancel]") {
    // One child waits on a timer of another io_context, which is destroyed: that child is
    // abandoned. Its sibling then fails, which cancels the children: the emit must not reach
    // the destroyed timer's cancellation handler (ASan checks).
    auto other = std::make_unique<asio::io_context>(1);
    auto waits_elsewhere = [](asio::io_context& ctx) -> task<int> {
        asio::steady_timer timer(ctx, 1h);
        co_await timer.async_wait(asyncpat::use_task);
        co_return 1;
    };
    auto fails_later = []() -> task<int> {
        co_await asyncpat::sleep_for(30ms);
        throw std::runtime_error("sibling failed");
    };
    asio::io_context io(1);
    asyncpat::spawn(
        io,
        [](decltype(waits_elsewhere) w, decltype(fails_later) f,
           asio::io_context& ctx) -> task<void> {
            try {
                co_await asyncpat::when_all(w(ctx), f());
            } catch (const std::exception&) {
            }
        },
        waits_elsewhere, fails_later, std::ref(*other))
        .detach();
    io.run_for(10ms);
    other.reset();
    io.restart();
    io.run();
    SUCCEED("no use of the destroyed timer");
}
