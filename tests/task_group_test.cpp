// Tests of task_group.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/task_group.hpp>

#include <asyncpat/combinators.hpp>

#include "support/catch.hpp"
#include "support/lifetime.hpp"
#include "support/runner.hpp"
#include "support/tasks.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::task;
using asyncpat_test::fail_after;
using asyncpat_test::run;
using asyncpat_test::value_after;
using asyncpat_test::wait_long;

TEST_CASE("next yields results in completion order, then nullopt", "[task_group]") {
    auto body = []() -> task<std::vector<int>> {
        asyncpat::task_group<int> group(co_await asyncpat::this_task::executor);
        group.spawn(value_after(30ms, 3));
        group.spawn(value_after(10ms, 1));
        group.spawn(value_after, 20ms, 2);  // callable + arguments, kept alive by the group
        CHECK(group.size() == 3);
        std::vector<int> order;
        while (auto v = co_await group.next()) order.push_back(*v);
        CHECK(group.empty());
        co_return order;
    };
    CHECK(run(body()) == std::vector<int>{1, 2, 3});
}

TEST_CASE("next rethrows a failed task's exception and the group goes on", "[task_group]") {
    auto body = []() -> task<int> {
        asyncpat::task_group<int> group(co_await asyncpat::this_task::executor);
        group.spawn(fail_after(1ms, "first"));
        group.spawn(value_after(10ms, 5));
        // Never co_await inside a Catch assertion: GCC 12 evaluates co_await in the
        // short-circuited copy of the expression that CHECK expands to (docs/compilers.md).
        std::string error;
        try {
            co_await group.next();
        } catch (const std::runtime_error& e) {
            error = e.what();
        }
        CHECK(error == "first");
        auto v = co_await group.next();
        auto const end = co_await group.next();
        CHECK_FALSE(end);
        co_return v.value_or(-1);
    };
    CHECK(run(body()) == 5);
}

TEST_CASE("join_all collects values and every error", "[task_group]") {
    auto ok = []() -> task<std::size_t> {
        asyncpat::task_group<int> group(co_await asyncpat::this_task::executor);
        for (int i = 0; i < 10; ++i) group.spawn(value_after(std::chrono::milliseconds(i), i));
        auto values = co_await group.join_all();
        co_return values.size();
    };
    CHECK(run(ok()) == 10);

    auto failing = []() -> task<std::size_t> {
        asyncpat::task_group<int> group(co_await asyncpat::this_task::executor);
        group.spawn(fail_after(1ms, "a"));
        group.spawn(value_after(2ms, 1));
        group.spawn(fail_after(3ms, "b"));
        try {
            co_await group.join_all();
        } catch (const asyncpat::task_group_error& e) {
            CHECK(std::string(e.what()) == "2 tasks of the group failed; first: a");
            co_return e.errors().size();
        }
        co_return 0;
    };
    CHECK(run(failing()) == 2);
}

TEST_CASE("task_group<void>", "[task_group]") {
    auto body = []() -> task<int> {
        asyncpat::task_group<> group(co_await asyncpat::this_task::executor);
        int count = 0;
        for (int i = 0; i < 5; ++i)
            group.spawn(
                [](int* c) -> task<void> {
                    co_await asyncpat::this_task::yield();
                    ++*c;
                },
                &count);
        bool const first = co_await group.next();
        CHECK(first);
        co_await group.join_all();
        bool const after = co_await group.next();
        CHECK_FALSE(after);
        co_return count;
    };
    CHECK(run(body()) == 5);
}

TEST_CASE("cancel stops every running task; outcomes are still collected", "[task_group][cancel]") {
    auto body = []() -> task<int> {
        int cancellations = 0;
        asyncpat::task_group<int> group(co_await asyncpat::this_task::executor);
        for (int i = 0; i < 4; ++i) group.spawn(wait_long(&cancellations));
        co_await asyncpat::sleep_for(2ms);
        group.cancel();
        int aborted = 0;
        for (;;) {
            try {
                if (!co_await group.next()) break;
            } catch (const std::system_error& e) {
                if (e.code() == asio::error::operation_aborted) ++aborted;
            }
        }
        CHECK(cancellations == 4);
        co_return aborted;
    };
    CHECK(run(body()) == 4);
}

TEST_CASE("destroying the group cancels what still runs", "[task_group][cancel]") {
    asio::io_context io(1);
    int cancellations = 0;
    asyncpat_test::lifetime_counter counter;
    {
        asyncpat::task_group<int> group(io);
        for (int i = 0; i < 3; ++i) group.spawn(wait_long(&cancellations));
        group.spawn([](asyncpat_test::tracked t) -> task<int> { co_return t.value(); },
                    asyncpat_test::tracked(counter));
        io.run_for(5ms);
    }
    io.run();  // the cancelled tasks finish in the background
    CHECK(cancellations == 3);
    CHECK(counter.alive() == 0);
}

TEST_CASE("uncollected failures of a destroyed group reach the unhandled handler", "[task_group]") {
    int reported = 0;
    auto previous =
        asyncpat::set_unhandled_exception_handler([&reported](std::exception_ptr) { ++reported; });
    asio::io_context io(1);
    {
        asyncpat::task_group<int> group(io);
        group.spawn(fail_after(0ms, "finished before the group went"));
        io.run_for(5ms);
    }
    {
        asyncpat::task_group<int> group(io);
        group.spawn([]() -> task<int> {
            try {
                co_await asyncpat::sleep_for(1h);
            } catch (...) {
            }
            throw std::runtime_error("failed after the group went");
        });
        io.restart();  // the first run_for ran out of work
        io.run_for(5ms);
    }
    io.run();
    asyncpat::set_unhandled_exception_handler(previous);
    CHECK(reported == 2);
}

TEST_CASE("join_all cancelled: the group is cancelled and drained first", "[task_group][cancel]") {
    asio::io_context io(1);
    int cancellations = 0;
    auto joiner = [](int* c) -> task<void> {
        asyncpat::task_group<int> group(co_await asyncpat::this_task::executor);
        for (int i = 0; i < 3; ++i) group.spawn(wait_long(c));
        co_await group.join_all();
    };
    auto handle = asyncpat::spawn(io, joiner(&cancellations));
    io.run_for(5ms);
    handle.abort();
    io.run();
    CHECK(cancellations == 3);
    CHECK(handle.is_finished());
}

TEST_CASE("a second concurrent waiter gets already_waiting", "[task_group]") {
    auto body = []() -> task<int> {
        asyncpat::task_group<int> group(co_await asyncpat::this_task::executor);
        group.spawn(value_after(10ms, 1));
        auto second = [](asyncpat::task_group<int>& g) -> task<int> {
            try {
                co_await g.next();
            } catch (const std::system_error& e) {
                co_return e.code() == asyncpat::errc::already_waiting ? 1 : 0;
            }
            co_return -1;
        };
        auto [first, other] = co_await asyncpat::when_all(group.next(), second(group));
        CHECK(first == std::optional<int>(1));
        co_return other;
    };
    CHECK(run(body()) == 1);
}

TEST_CASE("spawn from several threads", "[task_group]") {
    asio::thread_pool pool(2);
    asyncpat::task_group<int> group(pool);
    std::vector<std::thread> spawners;
    for (int t = 0; t < 2; ++t)
        spawners.emplace_back([&group] {
            for (int i = 0; i < 200; ++i) group.spawn([](int v) -> task<int> { co_return v; }, 1);
        });
    for (auto& s : spawners) s.join();
    auto sum = [](asyncpat::task_group<int>& g) -> task<int> {
        int total = 0;
        for (int v : co_await g.join_all()) total += v;
        co_return total;
    };
    CHECK(asyncpat::sync_wait(pool.get_executor(), sum(group)) == 400);
    pool.join();
}

TEST_CASE("a member collecting its own group can be cancelled (no deadlock)",
          "[task_group][cancel]") {
    auto owner = []() -> task<int> {
        asyncpat::task_group<> group(co_await asyncpat::this_task::executor);
        group.spawn(
            [](asyncpat::task_group<>& g) -> task<void> {
                try {
                    while (co_await g.next()) {
                    }
                } catch (...) {
                }
            },
            std::ref(group));
        group.spawn(asyncpat::sleep_for(1h));
        co_await asyncpat::sleep_for(5ms);
        group.cancel();  // emits inline on the collecting member, whose handler needs the group
        co_await asyncpat::sleep_for(5ms);
        co_return 1;
    };
    CHECK(run(owner()) == 1);
}

TEST_CASE("join_all cancelled reports the failures it had collected", "[task_group][cancel]") {
    int reported = 0;
    auto previous =
        asyncpat::set_unhandled_exception_handler([&reported](std::exception_ptr) { ++reported; });
    asio::io_context io(1);
    auto joiner = []() -> task<void> {
        asyncpat::task_group<int> group(co_await asyncpat::this_task::executor);
        group.spawn(fail_after(0ms, "boom"));
        group.spawn(value_after(1h, 1));
        co_await group.join_all();
    };
    auto handle = asyncpat::spawn(io, joiner());
    io.run_for(10ms);
    handle.abort();
    io.restart();
    io.run();
    asyncpat::set_unhandled_exception_handler(previous);
    CHECK(reported == 1);
}

namespace {
task<std::string> join_all_of(asyncpat::task_group<int>* group) {
    try {
        co_await group->join_all();
        co_return "returned";
    } catch (const std::system_error& e) {
        co_return e.code() == asio::error::operation_aborted ? "aborted" : e.what();
    }
}
task<void> destroy_after(std::unique_ptr<asyncpat::task_group<int>>* group, int yields) {
    for (int i = 0; i < yields; ++i) co_await asyncpat::this_task::yield();
    group->reset();
}
}  // namespace

TEST_CASE("a group destroyed while another task waits in join_all ends that wait", "[task_group]") {
    // The owner's logic error, but the waiter must end with operation_aborted without touching
    // the destroyed group object (it used to call cancel() on it and wait again).
    asio::io_context io(1);
    auto group = std::make_unique<asyncpat::task_group<int>>(io);
    group->spawn([]() -> task<int> {
        co_await asyncpat::sleep_for(1h);
        co_return 1;
    });
    auto waiting = asyncpat::spawn(io, join_all_of(group.get()));
    asyncpat::spawn_detached(io, destroy_after(&group, 3));
    auto join = [](asyncpat::join_handle<std::string> h) -> task<std::string> {
        co_return co_await h;
    };
    CHECK(asyncpat::sync_wait(io, join(std::move(waiting))) == "aborted");
    CHECK_FALSE(group);
}

TEST_CASE("a join_all resumed after its group was destroyed ends with operation_aborted",
          "[task_group]") {
    // The member's hand-over to join_all is queued on another io_context when the group goes;
    // the resumed join_all must not wait again (nothing would ever wake it).
    asio::io_context waiter_io(1);
    asio::io_context group_io(1);
    auto group = std::make_unique<asyncpat::task_group<int>>(group_io);
    group->spawn([]() -> task<int> { co_return 1; });
    group->spawn([]() -> task<int> {
        co_await asyncpat::sleep_for(1h);
        co_return 2;
    });
    auto waiting = asyncpat::spawn(waiter_io, join_all_of(group.get()));
    waiter_io.poll();  // join_all waits
    group_io.poll();   // the first member finishes: its hand-over is posted to waiter_io
    group.reset();     // the second is cancelled
    group_io.poll();
    auto join = [](asyncpat::join_handle<std::string> h) -> task<std::string> {
        co_return co_await h;
    };
    CHECK(asyncpat::sync_wait(waiter_io, join(std::move(waiting))) == "aborted");
}
