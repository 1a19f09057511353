// Tests of the oneshot channel: delivery, broken promise, closed receiver, cancel safety.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/oneshot.hpp>

#include <asyncpat/combinators.hpp>
#include <asyncpat/local_channel.hpp>
#include <asyncpat/spawn.hpp>

#include "support/catch.hpp"
#include "support/failing_work_executor.hpp"
#include "support/lifetime.hpp"
#include "support/runner.hpp"

#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

using namespace std::chrono_literals;
using asyncpat::task;
using asyncpat_test::run;

namespace {
task<void> yields(int n) {
    for (int i = 0; i < n; ++i) co_await asyncpat::this_task::yield();
}

// A oneshot of kind Kind: every single-thread test runs for both kinds.
template <typename T, typename Kind>
auto make() {
    if constexpr (std::is_same_v<Kind, asyncpat::channel_kind::local>)
        return asyncpat::make_local_oneshot<T>();
    else
        return asyncpat::make_oneshot<T>();
}

template <typename T, typename Kind>
task<std::error_code> receive_error(asyncpat::oneshot_receiver<T, Kind>& rx) {
    try {
        (void)co_await rx;
    } catch (const std::system_error& e) {
        co_return e.code();
    }
    co_return std::error_code{};
}
}  // namespace

TEMPLATE_TEST_CASE("oneshot: a value sent before the receive is there at once", "[oneshot]",
                   asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    auto body = []() -> task<std::string> {
        auto [tx, rx] = make<std::string, TestType>();
        std::string v = "hello";
        CHECK_FALSE(tx.send(std::move(v)));
        co_return co_await rx;
    };
    CHECK(run(body()) == "hello");
}

TEMPLATE_TEST_CASE("oneshot: a parked receive is woken by the send", "[oneshot]",
                   asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    auto body = []() -> task<int> {
        auto [tx, rx] = make<int, TestType>();
        auto sender = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](asyncpat::oneshot_sender<int, TestType> out) -> task<void> {
                co_await yields(3);
                (void)out.send(42);
            },
            std::move(tx));
        int const v = co_await rx.receive();
        co_await sender;
        co_return v;
    };
    CHECK(run(body()) == 42);
}

TEMPLATE_TEST_CASE("oneshot: a sender destroyed without sending is a broken promise", "[oneshot]",
                   asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    SECTION("before the receive") {
        auto body = []() -> task<std::error_code> {
            auto [tx, rx] = make<int, TestType>();
            {
                auto gone = std::move(tx);
            }
            co_return co_await receive_error(rx);
        };
        CHECK(run(body()) == asyncpat::errc::broken_promise);
    }
    SECTION("while the receive is parked") {
        auto body = []() -> task<std::error_code> {
            auto [tx, rx] = make<int, TestType>();
            auto dropper = asyncpat::spawn(
                co_await asyncpat::this_task::executor,
                [](asyncpat::oneshot_sender<int, TestType>) -> task<void> { co_await yields(2); },
                std::move(tx));
            auto ec = co_await receive_error(rx);
            co_await dropper;
            co_return ec;
        };
        CHECK(run(body()) == asyncpat::errc::broken_promise);
    }
}

TEMPLATE_TEST_CASE("oneshot: sending to a dropped receiver fails and leaves the value", "[oneshot]",
                   asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    auto [tx, rx] = make<std::string, TestType>();
    CHECK_FALSE(tx.is_closed());
    {
        auto gone = std::move(rx);
    }
    CHECK(tx.is_closed());
    std::string v = "kept";
    CHECK(tx.send(std::move(v)) == asyncpat::errc::channel_closed);
    CHECK(v == "kept");
    CHECK_THROWS_AS(tx.send(std::string{"again"}), std::logic_error);  // used up
}

TEMPLATE_TEST_CASE("oneshot: try_receive reports every state", "[oneshot]",
                   asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    auto [tx, rx] = make<int, TestType>();
    std::error_code ec;
    CHECK_FALSE(rx.try_receive(ec));
    CHECK(ec == asyncpat::errc::channel_empty);
    CHECK_FALSE(rx.is_ready());
    CHECK_FALSE(tx.send(7));
    CHECK(rx.is_ready());
    CHECK(rx.try_receive(ec) == std::optional<int>(7));
    CHECK_FALSE(ec);
    CHECK_FALSE(rx.try_receive(ec));
    CHECK(ec == asyncpat::errc::channel_closed);

    auto [tx2, rx2] = make<int, TestType>();
    {
        auto gone = std::move(tx2);
    }
    CHECK_FALSE(rx2.try_receive(ec));
    CHECK(ec == asyncpat::errc::broken_promise);
}

TEMPLATE_TEST_CASE("oneshot: a second receive is a logic error", "[oneshot]",
                   asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    auto body = []() -> task<bool> {
        auto [tx, rx] = make<int, TestType>();
        (void)tx.send(1);
        (void)co_await rx;
        try {
            (void)co_await rx;
        } catch (const std::logic_error&) {
            co_return true;
        }
        co_return false;
    };
    CHECK(run(body()));
}

TEMPLATE_TEST_CASE("oneshot: values are destroyed exactly once", "[oneshot]",
                   asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    asyncpat_test::lifetime_counter counter;
    {
        auto [tx, rx] = make<asyncpat_test::tracked, TestType>();
        CHECK_FALSE(tx.send(asyncpat_test::tracked{counter, 1}));
    }  // never received
    {
        auto [tx, rx] = make<asyncpat_test::tracked, TestType>();
        CHECK_FALSE(tx.send(asyncpat_test::tracked{counter, 2}));
        std::error_code ec;
        CHECK(rx.try_receive(ec)->value() == 2);
    }
    CHECK(counter.alive() == 0);
}

TEMPLATE_TEST_CASE("oneshot: a cancelled receive takes nothing; the value waits for the next",
                   "[oneshot][cancel]", asyncpat::channel_kind::concurrent,
                   asyncpat::channel_kind::local) {
    auto body = []() -> task<int> {
        int accounted = 0;
        for (int i = 0; i < 20'000; ++i) {
            auto [tx, rx] = make<int, TestType>();
            auto send_later = [](asyncpat::oneshot_sender<int, TestType> out, int v,
                                 int n) -> task<void> {
                co_await yields(n);
                (void)out.send(std::move(v));
            };
            auto receive_with_timeout =
                [](asyncpat::oneshot_receiver<int, TestType>& in) -> task<std::optional<int>> {
                try {
                    co_return co_await asyncpat::timeout(
                        0ms,
                        [](asyncpat::oneshot_receiver<int, TestType>& r)
                            -> task<std::optional<int>> { co_return co_await r; }(in));
                } catch (const std::system_error&) {
                    co_return std::nullopt;
                }
            };
            auto [got, sent] = co_await asyncpat::when_all(receive_with_timeout(rx),
                                                           send_later(std::move(tx), i, i % 3));
            (void)sent;
            if (got == i) {
                ++accounted;
            } else {
                std::error_code ec;
                if (rx.try_receive(ec) == std::optional<int>(i)) ++accounted;
            }
        }
        co_return accounted;
    };
    CHECK(run(body()) == 20'000);
}

namespace {
// A receive that cannot park (taking the executor's work unit throws), in a task of its own so
// that its frame is gone when the exception has arrived.
template <typename Receiver>
task<void> receive_failing_to_park(Receiver& rx, bool& fail_next_work) {
    fail_next_work = true;
    (void)co_await rx;
}

template <typename Kind>
task<void> oneshot_park_fails(int& failures, std::optional<int>& received, bool& waiting,
                              std::shared_ptr<bool> fail_next_work) {
    auto [tx, rx] = make<int, Kind>();
    try {
        co_await receive_failing_to_park(rx, *fail_next_work);
    } catch (std::bad_alloc const&) {
        ++failures;
    }
    // The receiver took nothing and can still receive.
    CHECK_FALSE(tx.send(5));
    received = co_await rx;
    // Aborted while waiting here: only the timer may see the cancellation.
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 1h);
    waiting = true;
    co_await timer.async_wait(asyncpat::use_task);
}
}  // namespace

TEMPLATE_TEST_CASE("oneshot: a receive that fails to park (out of memory) leaves nothing behind",
                   "[oneshot]", asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    asio::io_context io(1);
    auto fail_next_work = std::make_shared<bool>(false);
    asyncpat_test::failing_work_executor ex(io.get_executor(), fail_next_work);
    int failures = 0;
    std::optional<int> received;
    bool waiting = false;
    auto handle = asyncpat::spawn(
        ex, oneshot_park_fails<TestType>(failures, received, waiting, fail_next_work));
    io.poll();
    REQUIRE(waiting);
    handle.abort();
    auto join = [](asyncpat::join_handle<void> h) -> task<void> { co_await h; };
    CHECK_THROWS_AS(asyncpat::sync_wait(io, join(std::move(handle))), std::system_error);
    CHECK(failures == 1);
    CHECK(received == 5);
}

namespace {
task<void> receive_value(asyncpat::oneshot_receiver<int> rx) {
    (void)co_await rx;
}
}  // namespace

TEST_CASE("oneshot: a cancellation whose wake-up cannot be queued abandons the task", "[oneshot]") {
    // The hook, run under the task's lock by the cancellation, fails to queue the resumption:
    // the tree is abandoned there, which disarms the same context (it used to deadlock on its
    // own lock).
    asio::io_context io(1);
    auto no_work_failure = std::make_shared<bool>(false);
    auto fail_next_execute = std::make_shared<bool>(false);
    asyncpat_test::failing_work_executor ex(io.get_executor(), no_work_failure, fail_next_execute);
    auto [tx, rx] = asyncpat::make_oneshot<int>();
    auto handle = asyncpat::spawn(ex, receive_value(std::move(rx)));
    io.poll();                  // the receive parks
    handle.abort();             // queues the cancellation's emission
    *fail_next_execute = true;  // the wake-up the hook queues will fail
    io.poll();
    CHECK(handle.is_finished());
    auto join = [](asyncpat::join_handle<void> h) -> task<void> { co_await h; };
    std::error_code code;
    try {
        asyncpat::sync_wait(io, join(std::move(handle)));
    } catch (const std::system_error& e) {
        code = e.code();
    }
    CHECK(code == asyncpat::make_error_code(asyncpat::errc::abandoned));
}

TEST_CASE("oneshot: a sender on another thread wakes a parked receive", "[oneshot]") {
    auto body = []() -> task<int> {
        auto [tx, rx] = asyncpat::make_oneshot<int>();
        std::thread other([out = std::move(tx)]() mutable {
            std::this_thread::sleep_for(5ms);
            (void)out.send(99);
        });
        int const v = co_await rx;
        other.join();
        co_return v;
    };
    CHECK(run(body()) == 99);
}

TEMPLATE_TEST_CASE("oneshot: async_receive from asio::awaitable", "[oneshot][bridge]",
                   asyncpat::channel_kind::concurrent, asyncpat::channel_kind::local) {
    asio::io_context io(1);
    auto [tx, rx] = make<int, TestType>();
    std::optional<int> got;
    asio::co_spawn(
        io,
        [](asyncpat::oneshot_receiver<int, TestType>& in,
           std::optional<int>& out) -> asio::awaitable<void> {
            out = co_await in.async_receive(asio::use_awaitable);
        }(rx, got),
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    asio::post(io, [out = std::move(tx)]() mutable { (void)out.send(5); });
    io.run();
    CHECK(got == 5);
}

namespace {
asyncpat::task<void> mark(bool* ran) {
    *ran = true;
    co_return;
}
asyncpat::task<void> send_later(asyncpat::oneshot_sender<int> tx) {
    (void)tx.send(7);
    co_return;
}

// A spawned task waits in this thread's ready slot for the spawner to suspend; aborted there,
// it must complete as cancelled without running when the spawner's receive parks.
asyncpat::task<int> abort_in_ready_slot(bool* ran) {
    auto ex = co_await asyncpat::this_task::executor;
    auto [tx, rx] = asyncpat::make_oneshot<int>();
    auto aborted = asyncpat::spawn(ex, mark(ran));
    aborted.abort();
    asyncpat::spawn(ex, send_later(std::move(tx))).detach();
    int const value = co_await rx;
    try {
        co_await aborted;
    } catch (const std::system_error& e) {
        if (e.code() == asio::error::operation_aborted) co_return value;
    }
    co_return -1;
}
}  // namespace

TEST_CASE("a task aborted while it waits to start is completed when the spawner parks",
          "[oneshot][spawn][cancel]") {
    asio::io_context io(1);
    bool ran = false;
    CHECK(asyncpat::sync_wait(io, abort_in_ready_slot(&ran)) == 7);
    CHECK_FALSE(ran);
}

TEST_CASE("a local oneshot used from another thread is a clear error", "[oneshot][local]") {
    auto [tx, rx] = asyncpat::make_local_oneshot<int>();
    CHECK_FALSE(rx.is_ready());
    std::error_code ec;
    CHECK_FALSE(rx.try_receive(ec));  // binds the oneshot to this thread
    bool refused = false;
    std::thread other([&tx, &refused] {
        try {
            (void)tx.send(1);
        } catch (const std::logic_error&) {
            refused = true;
        }
    });
    other.join();
    CHECK(refused);
    CHECK_FALSE(tx.send(2));  // this thread may
    CHECK(rx.try_receive(ec) == 2);
}
