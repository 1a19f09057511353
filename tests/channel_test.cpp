// Tests of the bounded channels, concurrent and local (each test runs for both kinds):
// semantics, close, permits, cancel safety, lifetimes.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/channel.hpp>

#include <asyncpat/combinators.hpp>
#include <asyncpat/local_channel.hpp>
#include <asyncpat/spawn.hpp>

#include "support/alloc_counter.hpp"
#include "support/catch.hpp"
#include "support/failing_work_executor.hpp"
#include "support/lifetime.hpp"
#include "support/runner.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::task;
using asyncpat_test::join_on;
using asyncpat_test::run;

namespace {
// The two kinds of channel; every TEMPLATE_TEST_CASE below runs for both.
struct concurrent_kind {
    template <typename T>
    static auto make(std::size_t capacity) {
        return asyncpat::make_channel<T>(capacity);
    }
};
struct local_kind {
    template <typename T>
    static auto make(std::size_t capacity) {
        return asyncpat::make_local_channel<T>(capacity);
    }
};
template <typename Kind, typename T>
auto make(std::size_t capacity) {
    return Kind::template make<T>(capacity);
}
template <typename Kind, typename T>
using tx_t = decltype(make<Kind, T>(1).first);
template <typename Kind, typename T>
using rx_t = decltype(make<Kind, T>(1).second);
}  // namespace

TEMPLATE_TEST_CASE("capacity 0 is a clear error", "[channel]", concurrent_kind, local_kind) {
    CHECK_THROWS_AS((make<TestType, int>(0)), std::invalid_argument);
}

TEMPLATE_TEST_CASE("values arrive in order; the end comes after the last sender goes", "[channel]",
                   concurrent_kind, local_kind) {
    auto body = []() -> task<std::vector<int>> {
        auto [tx, rx] = make<TestType, int>(4);
        auto producer = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](tx_t<TestType, int> out) -> task<void> {
                for (int i = 0; i < 10; ++i) co_await out.send(i);
            },
            std::move(tx));
        std::vector<int> got;
        while (auto v = co_await rx.receive()) got.push_back(*v);
        co_await producer;
        co_return got;
    };
    CHECK(run(body()) == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEMPLATE_TEST_CASE("send waits for room (backpressure)", "[channel]", concurrent_kind, local_kind) {
    auto body = []() -> task<int> {
        auto [tx, rx] = make<TestType, int>(2);
        int sent = 0;
        auto producer = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](tx_t<TestType, int> out, int* count) -> task<void> {
                for (int i = 0; i < 5; ++i) {
                    co_await out.send(i);
                    ++*count;
                }
            },
            std::move(tx), &sent);
        co_await asyncpat::sleep_for(5ms);
        CHECK(sent == 2);  // the producer is parked on a full channel
        CHECK(rx.size() == 2);
        auto first = co_await rx.receive();
        co_await asyncpat::sleep_for(5ms);
        CHECK(sent == 3);
        int sum = *first;
        while (auto v = co_await rx.receive()) sum += *v;
        co_await producer;
        co_return sum;
    };
    CHECK(run(body()) == 10);
}

TEMPLATE_TEST_CASE("try_send leaves the value in place on full and closed", "[channel]",
                   concurrent_kind, local_kind) {
    auto [tx, rx] = make<TestType, std::string>(1);
    std::string a = "first", b = "second";
    CHECK_FALSE(tx.try_send(std::move(a)));
    CHECK(tx.try_send(std::move(b)) == asyncpat::errc::channel_full);
    CHECK(b == "second");
    CHECK(rx.try_receive() == std::optional<std::string>("first"));
    std::error_code ec;
    CHECK_FALSE(rx.try_receive(ec));
    CHECK(ec == asyncpat::errc::channel_empty);
    tx.close();
    CHECK(tx.try_send(std::move(b)) == asyncpat::errc::channel_closed);
    CHECK(b == "second");
    CHECK_FALSE(rx.try_receive(ec));
    CHECK(ec == asyncpat::errc::channel_closed);
}

TEMPLATE_TEST_CASE("close: receivers drain, then see the end; pending sends fail with their value",
                   "[channel]", concurrent_kind, local_kind) {
    auto body = []() -> task<int> {
        auto [tx, rx] = make<TestType, std::string>(1);
        co_await tx.send("queued");
        auto blocked = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](tx_t<TestType, std::string> out) -> task<std::string> {
                try {
                    co_await out.send("blocked");
                } catch (asyncpat::send_error<std::string>& e) {
                    if (e.code() == asyncpat::errc::channel_closed) co_return e.value();
                }
                co_return "";
            },
            tx);
        co_await asyncpat::sleep_for(2ms);
        rx.close();
        std::string const back = co_await blocked;
        CHECK(back == "blocked");  // handed back, not lost
        auto drained = co_await rx.receive();
        auto end = co_await rx.receive();
        co_return (drained == std::optional<std::string>("queued") && !end) ? 1 : 0;
    };
    CHECK(run(body()) == 1);
}

TEMPLATE_TEST_CASE("the last receiver gone: queued values are destroyed, sends fail", "[channel]",
                   concurrent_kind, local_kind) {
    asyncpat_test::lifetime_counter counter;
    auto body = [](asyncpat_test::lifetime_counter& c) -> task<int> {
        auto [tx, rx] = make<TestType, asyncpat_test::tracked>(4);
        co_await tx.send(asyncpat_test::tracked(c, 1));
        co_await tx.send(asyncpat_test::tracked(c, 2));
        {
            auto gone = std::move(rx);
        }
        CHECK(c.alive() == 0);
        try {
            co_await tx.send(asyncpat_test::tracked(c, 3));
        } catch (asyncpat::send_error<asyncpat_test::tracked>& e) {
            co_return e.value().value();
        }
        co_return 0;
    };
    CHECK(run(body(counter)) == 3);
    CHECK(counter.alive() == 0);
}

TEMPLATE_TEST_CASE("a channel destroyed with values inside destroys each once", "[channel]",
                   concurrent_kind, local_kind) {
    asyncpat_test::lifetime_counter counter;
    {
        auto [tx, rx] = make<TestType, asyncpat_test::tracked>(8);
        for (int i = 0; i < 5; ++i) CHECK_FALSE(tx.try_send(asyncpat_test::tracked(counter, i)));
        CHECK(counter.alive() == 5);
        auto one = rx.try_receive();
        CHECK(one);
    }
    CHECK(counter.alive() == 0);
}

TEMPLATE_TEST_CASE("permits reserve room; dropping one frees it", "[channel]", concurrent_kind,
                   local_kind) {
    auto body = []() -> task<int> {
        auto [tx, rx] = make<TestType, int>(1);
        auto p = co_await tx.reserve();
        std::error_code ec;
        auto none = tx.try_reserve(ec);
        CHECK_FALSE(none);
        CHECK(ec == asyncpat::errc::channel_full);
        int v = 5;
        CHECK(tx.try_send(std::move(v)) == asyncpat::errc::channel_full);
        p.send(7);
        auto got = co_await rx.receive();
        {
            auto dropped = co_await tx.reserve();
        }
        auto again = tx.try_reserve(ec);
        CHECK(again);
        again.send(8);
        auto second = co_await rx.receive();
        co_return *got + *second;
    };
    CHECK(run(body()) == 15);
}

TEMPLATE_TEST_CASE("receive_many takes what is queued, up to max", "[channel]", concurrent_kind,
                   local_kind) {
    auto body = []() -> task<std::size_t> {
        auto [tx, rx] = make<TestType, int>(16);
        for (int i = 0; i < 10; ++i) co_await tx.send(i);
        std::vector<int> out;
        auto n = co_await rx.receive_many(out, 4);
        CHECK(n == 4);
        n = co_await rx.receive_many(out, 100);
        CHECK(n == 6);
        tx.close();
        n = co_await rx.receive_many(out, 100);
        CHECK(n == 0);
        co_return out.size();
    };
    CHECK(run(body()) == 10);
}

TEMPLATE_TEST_CASE("counters: sent, received, high watermark", "[channel]", concurrent_kind,
                   local_kind) {
    auto [tx, rx] = make<TestType, int>(8);
    for (int i = 0; i < 5; ++i) CHECK_FALSE(tx.try_send(int{i}));
    for (int i = 0; i < 3; ++i) CHECK(rx.try_receive());
    CHECK(rx.sent_count() == 5);
    CHECK(rx.received_count() == 3);
    CHECK(rx.high_watermark() == 5);
    CHECK(rx.capacity() == 8);
}

namespace {
task<void> yields(int n) {
    for (int i = 0; i < n; ++i) co_await asyncpat::this_task::yield();
}

// One trial: a receive with an immediate timeout (its cancellation) while a sender delivers
// after `delay` yields, i.e. before, at about, or after the moment of cancellation.
template <typename TestType>
task<int> receive_race_trial(rx_t<TestType, int>& rx, tx_t<TestType, int>& tx, int value,
                             int delay) {
    auto send_later = [](tx_t<TestType, int>& out, int v, int n) -> task<void> {
        co_await yields(n);
        co_await out.send(v);
    };
    auto receive_with_timeout = [](rx_t<TestType, int>& in) -> task<std::optional<int>> {
        try {
            co_return co_await asyncpat::timeout(
                0ms, [](rx_t<TestType, int>& r) -> task<std::optional<int>> {
                    co_return co_await r.receive();
                }(in));
        } catch (const std::system_error&) {
            co_return std::nullopt;  // timed out: the receive was cancelled and took nothing
        }
    };
    auto [received, sent] =
        co_await asyncpat::when_all(receive_with_timeout(rx), send_later(tx, value, delay));
    (void)sent;
    int accounted = 0;
    if (received == value) ++accounted;                              // received in time
    if (rx.try_receive() == std::optional<int>(value)) ++accounted;  // or still queued
    co_return accounted;
}

// One trial: a send parked on a full channel races a short wait (which cancels it) while a
// receiver makes room after `delay` yields.
template <typename TestType>
task<int> send_race_trial(rx_t<TestType, int>& rx, tx_t<TestType, int>& tx, int value, int delay) {
    CHECK_FALSE(tx.try_send(int{-1}));  // now full
    int handed_back = 0;
    auto send_one = [](tx_t<TestType, int>& out, int v, int* back) -> task<void> {
        try {
            co_await out.send(v);
        } catch (asyncpat::send_error<int>& e) {
            if (e.value() == v) ++*back;
        }
    };
    auto drain_later = [](rx_t<TestType, int>& in, int n) -> task<void> {
        co_await yields(n);
        (void)in.try_receive();  // takes the -1: room for the parked send
    };
    co_await asyncpat::when_all(asyncpat::race(send_one(tx, value, &handed_back), yields(1)),
                                drain_later(rx, delay));
    int delivered = 0;
    while (auto v = rx.try_receive()) {
        if (*v == value) ++delivered;
    }
    co_return handed_back + delivered;
}
}  // namespace

TEMPLATE_TEST_CASE("cancel safety: a receive racing cancellation loses no value",
                   "[channel][cancel]", concurrent_kind, local_kind) {
    auto body = []() -> task<int> {
        auto [tx, rx] = make<TestType, int>(1);
        int accounted = 0;
        for (int i = 0; i < 100'000; ++i)
            accounted += co_await receive_race_trial<TestType>(rx, tx, i, i % 3);
        co_return accounted;
    };
    CHECK(run(body()) == 100'000);  // every value received exactly once
}

TEMPLATE_TEST_CASE("cancel safety: a send cancelled on a full channel hands its value back",
                   "[channel][cancel]", concurrent_kind, local_kind) {
    auto body = []() -> task<int> {
        auto [tx, rx] = make<TestType, int>(1);
        int accounted = 0;
        for (int i = 0; i < 100'000; ++i)
            accounted += co_await send_race_trial<TestType>(rx, tx, i, i % 3);
        co_return accounted;
    };
    CHECK(run(body()) == 100'000);  // each value either delivered or handed back, once
}

TEST_CASE("a parked receive keeps its io_context running", "[channel]") {
    // The sender is another thread: while the receive is parked, the io_context must not run
    // out of work (sync_wait would report the task abandoned).
    asio::io_context io(1);
    auto [tx, rx] = asyncpat::make_channel<int>(1);
    std::thread producer([out = std::move(tx)]() mutable {
        std::this_thread::sleep_for(20ms);
        (void)out.try_send(42);
    });
    auto receive = [](asyncpat::receiver<int>& in) -> task<int> {
        co_return (co_await in.receive()).value_or(-1);
    };
    CHECK(asyncpat::sync_wait(io, receive(rx)) == 42);
    producer.join();
}

TEMPLATE_TEST_CASE("a task that parked gives its unit of work back", "[channel]", concurrent_kind,
                   local_kind) {
    // A parked task holds one unit of work: while it waits, the io_context does not run out of
    // work; once it is done, run() returns (it would not if a unit stayed held).
    asio::io_context io(1);
    auto [tx, rx] = make<TestType, int>(1);
    int got = 0;
    auto receive_twice = [](rx_t<TestType, int> in, int* out) -> task<void> {
        *out = *co_await in.receive();
        *out += *co_await in.receive();
    };
    auto handle = asyncpat::spawn(io, receive_twice, std::move(rx), &got);
    io.poll();                  // parked
    CHECK_FALSE(io.stopped());  // the parked task's unit: poll() did not run out of work
    CHECK_FALSE(tx.try_send(1));
    io.poll();  // parked again
    CHECK_FALSE(io.stopped());
    CHECK_FALSE(tx.try_send(2));
    io.run_for(10s);  // returns at once: no unit of work is left
    CHECK(handle.is_finished());
    CHECK(got == 3);
    CHECK(io.stopped());
}

namespace {
// Waits that cannot park: taking the executor's work unit throws (out of memory). Each is its
// own task, so its frame (and the awaiter in it) is gone when the exception has arrived.
template <typename Receiver>
task<void> receive_failing_to_park(Receiver& rx, bool& fail_next_work) {
    fail_next_work = true;
    (void)co_await rx.receive();
}
template <typename Sender>
task<void> send_failing_to_park(Sender& tx, bool& fail_next_work) {
    fail_next_work = true;
    co_await tx.send(2);
}

struct failed_parks {
    int receive_failures = 0;
    int send_failures = 0;
    std::optional<int> first;
    std::optional<int> second;
    bool waiting_on_timer = false;
};

template <typename Kind>
task<void> park_and_fail(failed_parks& out, std::shared_ptr<bool> fail_next_work) {
    auto [tx, rx] = make<Kind, int>(1);
    try {
        co_await receive_failing_to_park(rx, *fail_next_work);
    } catch (std::bad_alloc const&) {
        ++out.receive_failures;
    }
    (void)tx.try_send(1);  // full now
    try {
        co_await send_failing_to_park(tx, *fail_next_work);
    } catch (std::bad_alloc const&) {
        ++out.send_failures;
    }
    // The channel is intact: the queued value is there, and a send takes the room it frees
    // (the failed send left no "sender waiting" state behind that would hold it back).
    out.first = co_await rx.receive();
    co_await tx.send(3);
    out.second = co_await rx.receive();
    // Now wait to be aborted: the cancellation must reach only the timer, not the hooks of
    // the waits above, whose frames are gone.
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 1h);
    out.waiting_on_timer = true;
    co_await timer.async_wait(asyncpat::use_task);
}
}  // namespace

TEMPLATE_TEST_CASE("a wait that fails to park (out of memory) leaves no hook or state behind",
                   "[channel]", concurrent_kind, local_kind) {
    asio::io_context io(1);
    auto fail_next_work = std::make_shared<bool>(false);
    asyncpat_test::failing_work_executor ex(io.get_executor(), fail_next_work);
    failed_parks out;
    auto handle = asyncpat::spawn(ex, park_and_fail<TestType>(out, fail_next_work));
    io.poll();
    REQUIRE(out.waiting_on_timer);
    handle.abort();  // before the fix: called the failed receive's hook in a freed frame
    auto join = [](asyncpat::join_handle<void> h) -> task<void> { co_await h; };
    CHECK_THROWS_AS(asyncpat::sync_wait(io, join(std::move(handle))), std::system_error);
    CHECK(out.receive_failures == 1);
    CHECK(out.send_failures == 1);
    CHECK(out.first == 1);
    CHECK(out.second == 3);
}

namespace {
template <typename Sender>
task<void> reserve_then_send(Sender tx) {
    auto permit = co_await tx.reserve();  // parks: the channel is full
    permit.send(42);
}
}  // namespace

TEMPLATE_TEST_CASE("a reservation granted to a task that never runs again gives its slot back",
                   "[channel]", concurrent_kind, local_kind) {
    auto [tx, rx] = make<TestType, int>(1);
    (void)tx.try_send(1);  // full
    {
        asio::io_context io(1);
        asyncpat::spawn_detached(io, reserve_then_send(std::move(tx)));
        io.poll();  // the reserve parks
        std::error_code ec;
        CHECK(rx.try_receive(ec) == std::optional<int>(1));  // grants the reserve its slot
        // The io_context goes with the granted task's resumption queued: the task is
        // abandoned, and with it the last sender.
    }
    std::error_code ec;
    CHECK(rx.try_receive(ec) == std::nullopt);
    CHECK(ec == asyncpat::errc::channel_closed);  // not held open by a permit nobody has
}

TEST_CASE("a local channel's async_receive with a callback on a foreign thread is refused",
          "[channel][local]") {
    auto [tx, rx] = asyncpat::make_local_channel<int>(4);
    (void)tx.try_send(0);  // the channel belongs to this thread now
    std::promise<bool> refused;
    // A plain callback's executor is the system pool's: the receive would run there.
    rx.async_receive([&refused](std::exception_ptr e, std::optional<int>) {
        bool logic_error = false;
        try {
            if (e) std::rethrow_exception(e);
        } catch (const std::logic_error&) {
            logic_error = true;
        } catch (...) {
        }
        refused.set_value(logic_error);
    });
    CHECK(refused.get_future().get());
}

namespace {
template <typename TestType>
asio::awaitable<std::uint64_t> awaitable_pipeline() {
    auto [tx, rx] = make<TestType, int>(2);
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(
        ex,
        [](tx_t<TestType, int> out) -> asio::awaitable<void> {
            for (int i = 1; i <= 100; ++i) co_await out.async_send(i, asio::use_awaitable);
        }(std::move(tx)),
        asio::detached);
    std::uint64_t sum = 0;
    while (auto v = co_await rx.async_receive(asio::use_awaitable))
        sum += static_cast<std::uint64_t>(*v);
    co_return sum;
}
}  // namespace

TEMPLATE_TEST_CASE("async_send and async_receive from asio::awaitable", "[channel][bridge]",
                   concurrent_kind, local_kind) {
    asio::io_context io(1);
    auto result = asio::co_spawn(io, awaitable_pipeline<TestType>(), asio::use_future);
    io.run();
    CHECK(result.get() == 5050);
}

TEMPLATE_TEST_CASE("async_receive cancelled through the token's slot takes nothing",
                   "[channel][bridge]", concurrent_kind, local_kind) {
    asio::io_context io(1);
    auto [tx, rx] = make<TestType, int>(1);
    asio::cancellation_signal signal;
    bool aborted = false;
    // The handler's executor is io's: the receive runs there, and the cancellation is emitted
    // from io's thread (Asio's rule for slots).
    rx.async_receive(asio::bind_executor(
        io, asio::bind_cancellation_slot(
                signal.slot(),
                [&aborted](std::exception_ptr e, std::optional<int> v) { aborted = e && !v; })));
    io.run_for(std::chrono::milliseconds(2));  // the receive is parked
    signal.emit(asio::cancellation_type::terminal);
    io.restart();
    io.run();
    CHECK(aborted);
    CHECK_FALSE(tx.try_send(7));  // the cancelled receive left the queue
    CHECK(rx.try_receive() == std::optional<int>(7));
}

TEMPLATE_TEST_CASE("permits, parked receivers and parked senders at once (capacity 1)", "[channel]",
                   concurrent_kind, local_kind) {
    auto body = []() -> task<int> {
        auto ex = co_await asyncpat::this_task::executor;
        auto [tx, rx] = make<TestType, int>(1);
        auto p = co_await tx.reserve();  // all the room is reserved
        auto sending = asyncpat::spawn(
            ex, [](tx_t<TestType, int> out) -> task<void> { co_await out.send(5); }, tx);
        co_await yields(3);
        CHECK_FALSE(sending.is_finished());  // parked: no room
        // A receiver that parks now sees nothing queued. (Had it parked first, the send would
        // have gone straight to it: a hand-off buffers nothing, so it needs no room.)
        auto receiving = asyncpat::spawn(
            ex, [](rx_t<TestType, int> in) -> task<int> { co_return *co_await in.receive(); }, rx);
        co_await yields(3);
        CHECK_FALSE(receiving.is_finished());
        p.send(1);  // straight to the parked receiver; the room goes to the parked sender
        int const first = co_await receiving;
        co_await sending;
        auto second = co_await rx.receive();
        co_return first * 10 + second.value_or(0);
    };
    CHECK(run(body()) == 15);
}

TEMPLATE_TEST_CASE("close wakes every parked receiver with the end", "[channel]", concurrent_kind,
                   local_kind) {
    auto body = []() -> task<int> {
        auto ex = co_await asyncpat::this_task::executor;
        auto [tx, rx] = make<TestType, int>(4);
        std::vector<asyncpat::join_handle<bool>> waiting;
        for (int i = 0; i < 3; ++i) {
            waiting.push_back(asyncpat::spawn(
                ex,
                [](rx_t<TestType, int> in) -> task<bool> {
                    // (a named result: g++ 12 cannot parse `(co_await x).f()` in a template)
                    std::optional<int> const v = co_await in.receive();
                    co_return !v.has_value();
                },
                rx));
        }
        co_await yields(3);
        tx.close();
        int ended = 0;
        for (auto& w : waiting) ended += (co_await w) ? 1 : 0;
        co_return ended;
    };
    CHECK(run(body()) == 3);
}

TEMPLATE_TEST_CASE("a capacity that is not a power of two wraps correctly", "[channel]",
                   concurrent_kind, local_kind) {
    auto body = []() -> task<bool> {
        auto [tx, rx] = make<TestType, int>(3);
        auto producer = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](tx_t<TestType, int> out) -> task<void> {
                for (int i = 0; i < 10'000; ++i) {
                    if (i % 7 == 0) co_await asyncpat::this_task::yield();
                    co_await out.send(i);
                }
            },
            std::move(tx));
        int expected = 0;
        bool in_order = true;
        std::vector<int> batch;
        for (;;) {
            batch.clear();
            std::size_t const n = co_await rx.receive_many(batch, 2);
            if (n == 0) break;
            for (int v : batch) in_order = in_order && v == expected++;
        }
        co_await producer;
        co_return in_order&& expected == 10'000 && rx.sent_count() == 10'000 &&
            rx.received_count() == 10'000 && rx.high_watermark() == 3;
    };
    CHECK(run(body()));
}

TEMPLATE_TEST_CASE("use_awaitable fast paths: immediate send, receive, end and closed",
                   "[channel][bridge]", concurrent_kind, local_kind) {
    asio::io_context io(1);
    auto [tx, rx] = make<TestType, std::string>(2);
    auto check = [](tx_t<TestType, std::string>& out,
                    rx_t<TestType, std::string>& in) -> asio::awaitable<int> {
        int score = 0;
        co_await out.async_send("a", asio::use_awaitable);  // room: completes at once
        if (co_await in.async_receive(asio::use_awaitable) == std::optional<std::string>("a"))
            ++score;
        out.close();
        try {
            co_await out.async_send("kept", asio::use_awaitable);
        } catch (asyncpat::send_error<std::string>& e) {
            if (e.code() == asyncpat::errc::channel_closed && e.value() == "kept") ++score;
        }
        if (!co_await in.async_receive(asio::use_awaitable)) ++score;  // closed and drained
        co_return score;
    };
    auto result = asio::co_spawn(io, check(tx, rx), asio::use_future);
    io.run();
    CHECK(result.get() == 3);
}

TEMPLATE_TEST_CASE("a permit taken before close still delivers; receivers see the end after it",
                   "[channel]", concurrent_kind, local_kind) {
    auto body = []() -> task<int> {
        auto ex = co_await asyncpat::this_task::executor;
        auto [tx, rx] = make<TestType, int>(2);
        auto p = co_await tx.reserve();
        auto dropped = co_await tx.reserve();
        tx.close();
        std::error_code ec;
        CHECK_FALSE(rx.try_receive(ec));
        CHECK(ec == asyncpat::errc::channel_empty);  // not the end: permits are out
        auto receiving = asyncpat::spawn(
            ex,
            [](rx_t<TestType, int> in) -> task<int> {
                int sum = 0;
                while (auto v = co_await in.receive()) sum += *v;
                co_return sum;
            },
            rx);
        co_await yields(3);
        CHECK_FALSE(receiving.is_finished());
        p.send(9);
        co_await yields(3);
        CHECK_FALSE(receiving.is_finished());  // the other permit is still out
        {
            auto gone = std::move(dropped);
        }
        co_return co_await receiving;
    };
    CHECK(run(body()) == 9);
}

// ---- local channels only

TEST_CASE("a local channel used from a second thread throws", "[channel][local]") {
    auto [tx, rx] = asyncpat::make_local_channel<int>(4);
    CHECK_FALSE(tx.try_send(1));  // binds the channel to this thread
    bool threw = false;
    std::thread other([&threw, &rx] {
        try {
            (void)rx.try_receive();
        } catch (const std::logic_error&) {
            threw = true;
        }
    });
    other.join();
    CHECK(threw);
    CHECK(rx.try_receive() == std::optional<int>(1));  // still usable on its own thread
}

TEST_CASE("a task parked on a local channel aborted from another thread takes nothing",
          "[channel][local][cancel]") {
    asio::io_context io(1);
    auto [tx, rx] = asyncpat::make_local_channel<int>(1);
    auto parked = asyncpat::spawn(
        io, [](asyncpat::local_receiver<int> in) -> task<int> { co_return *co_await in.receive(); },
        rx);
    io.run_for(std::chrono::milliseconds(2));  // the receive is parked
    std::thread aborter([&parked] { parked.abort(); });
    aborter.join();
    bool aborted = false;
    auto check = [](asyncpat::join_handle<int>& handle, bool& out) -> task<void> {
        try {
            (void)co_await handle;
        } catch (const std::system_error& e) {
            out = e.code() == asio::error::operation_aborted;
        }
    };
    asyncpat::sync_wait(io, check(parked, aborted));
    CHECK(aborted);
    CHECK_FALSE(tx.try_send(7));  // the aborted receive left the queue: the value is queued
    CHECK(rx.try_receive() == std::optional<int>(7));
}

TEMPLATE_TEST_CASE("a million values through a channel allocate nothing per value",
                   "[channel][alloc]", concurrent_kind, local_kind) {
    auto body = []() -> task<std::uint64_t> {
        auto [tx, rx] = make<TestType, std::uint64_t>(64);
        auto producer = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](tx_t<TestType, std::uint64_t> out) -> task<void> {
                for (std::uint64_t i = 0; i < 1'000'000; ++i) co_await out.send(i);
            },
            std::move(tx));
        std::uint64_t sum = 0;
        while (auto v = co_await rx.receive()) sum += *v;
        co_await producer;
        co_return sum;
    };
    long const before = asyncpat_test::allocation_count();
    std::uint64_t const sum = run(body());
    long const used = asyncpat_test::allocation_count() - before;
    CHECK(sum == 499'999'500'000ULL);
    CHECK(used < 100);  // the channel, the tasks and the io_context: nothing per value
}

// ---- The local channel's own send and receive awaiters (and the same rules for both kinds)

TEMPLATE_TEST_CASE("a value handed to a parked receive beats an abort that follows it",
                   "[channel][cancel]", concurrent_kind, local_kind) {
    asio::io_context io(1);
    auto [tx, rx] = make<TestType, int>(1);
    auto receive_one = [](rx_t<TestType, int> in) -> task<int> {
        co_return *co_await in.receive();
    };
    auto parked = asyncpat::spawn(io, receive_one, rx);
    io.poll();  // parked
    auto hand_over_then_abort = [](tx_t<TestType, int>& out,
                                   asyncpat::join_handle<int>& receiving) -> task<int> {
        std::error_code const sent = out.try_send(7);  // handed over: woken, not yet run
        CHECK_FALSE(sent);
        receiving.abort();  // emitted before the receive runs again
        co_return co_await receiving;
    };
    CHECK(asyncpat::sync_wait(io, hand_over_then_abort(tx, parked)) == 7);
    std::error_code ec;
    CHECK(rx.try_receive(ec) == std::nullopt);
}

namespace {
template <typename Sender>
task<int> send_after_yield(Sender out) {
    try {
        co_await asyncpat::this_task::yield();
    } catch (const std::system_error&) {  // the abort may end the yield: the send still runs
    }
    try {
        co_await out.send(2);
    } catch (asyncpat::send_error<int>& e) {
        co_return e.code() == asio::error::operation_aborted ? e.value() : -1;
    }
    co_return 0;
}
template <typename Receiver>
task<int> receive_after_yield(Receiver in) {
    try {
        co_await asyncpat::this_task::yield();
    } catch (const std::system_error&) {
    }
    try {
        (void)co_await in.receive();
    } catch (const std::system_error& e) {
        co_return e.code() == asio::error::operation_aborted ? 1 : -1;
    }
    co_return 0;
}
}  // namespace

TEMPLATE_TEST_CASE(
    "a wait of a task cancelled before it parks: a send hands its value back, "
    "a receive takes nothing",
    "[channel][cancel]", concurrent_kind, local_kind) {
    asio::io_context io(1);
    auto [tx, rx] = make<TestType, int>(1);
    (void)tx.try_send(1);  // full
    auto sending = asyncpat::spawn(io, send_after_yield<tx_t<TestType, int>>(tx));
    io.poll_one();  // at the yield
    sending.abort();
    CHECK(join_on(io, sending) == 2);
    std::error_code ec;
    CHECK(rx.try_receive(ec) == std::optional<int>(1));
    io.restart();
    auto receiving = asyncpat::spawn(io, receive_after_yield<rx_t<TestType, int>>(rx));
    io.poll_one();
    receiving.abort();
    CHECK(join_on(io, receiving) == 1);
    CHECK_FALSE(tx.try_send(5));  // the cancelled receive was never queued for it
    CHECK(rx.try_receive(ec) == std::optional<int>(5));
}

TEMPLATE_TEST_CASE("an operation made earlier and awaited later sees the channel as it is then",
                   "[channel]", concurrent_kind, local_kind) {
    auto body = []() -> task<int> {
        auto [tx, rx] = make<TestType, int>(1);
        auto receiving = rx.receive();
        (void)tx.try_send(3);
        int const first = *co_await receiving;
        auto sending = tx.send(4);
        co_await sending;
        std::error_code ec;
        co_return first * 10 + *rx.try_receive(ec);
    };
    CHECK(run(body()) == 34);
}

namespace {
// An awaiter adaptor that runs code between its inner awaiter's await_ready and await_suspend
// (legal, if unusual): the inner operation must look at the channel again before it parks.
template <typename Inner, typename Between>
struct split_awaiter {
    Inner& inner;
    Between between;
    bool await_ready() { return inner.await_ready(); }
    template <typename Promise>
    auto await_suspend(std::coroutine_handle<Promise> caller) {
        between();
        return inner.await_suspend(caller);
    }
    decltype(auto) await_resume() { return inner.await_resume(); }
};
template <typename Sender, typename Receiver>
task<int> send_while_room_appears(Sender out, Receiver in) {
    auto sending = out.send(2);
    auto take_one = [&in] {
        std::error_code ec;
        (void)in.try_receive(ec);  // room appears after the send found the channel full
    };
    co_await split_awaiter<decltype(sending), decltype(take_one)>{sending, take_one};
    co_return 1;
}
template <typename Sender, typename Receiver>
task<int> receive_while_value_appears(Sender out, Receiver in) {
    auto receiving = in.receive();
    auto put_one = [&out] { (void)out.try_send(9); };
    co_return *co_await split_awaiter<decltype(receiving), decltype(put_one)>{receiving, put_one};
}
}  // namespace

TEMPLATE_TEST_CASE("a send or receive awaited through an adaptor that acts in between", "[channel]",
                   concurrent_kind, local_kind) {
    {
        auto [tx, rx] = make<TestType, int>(1);
        (void)tx.try_send(1);                              // full
        CHECK(run(send_while_room_appears(tx, rx)) == 1);  // before: parked with room there
        std::error_code ec;
        CHECK(rx.try_receive(ec) == std::optional<int>(2));
    }
    {
        auto [tx, rx] = make<TestType, int>(1);
        CHECK(run(receive_while_value_appears(tx, rx)) == 9);  // before: parked, value queued
    }
}

TEST_CASE("a local channel used by tasks on a strand parks, wakes, and is abandoned cleanly",
          "[channel][local]") {
    {
        asio::io_context io(1);
        auto strand = asio::make_strand(io);
        auto [tx, rx] = asyncpat::make_local_channel<int>(1);
        auto receive_one = [](asyncpat::local_receiver<int> in) -> task<int> {
            co_return *co_await in.receive();
        };
        auto send_three = [](asyncpat::local_sender<int> out) -> task<void> {
            co_await asyncpat::this_task::yield();
            co_await out.send(11);
            co_await out.send(12);
            co_await out.send(13);  // parks: full
        };
        auto receiving = asyncpat::spawn(strand, receive_one, rx);
        auto sending = asyncpat::spawn(strand, send_three, tx);
        io.poll();
        auto join = [](asyncpat::join_handle<int>& r, asyncpat::join_handle<void>& s,
                       asyncpat::local_receiver<int>& in) -> task<int> {
            int const v = co_await r;
            int const a = *co_await in.receive();
            int const b = *co_await in.receive();
            co_await s;
            co_return v * 10000 + a * 100 + b;
        };
        CHECK(asyncpat::sync_wait(io, join(receiving, sending, rx)) == 111213);
    }
    asyncpat::local_sender<int> keep;
    {
        asio::io_context io(1);
        auto strand = asio::make_strand(io);
        auto [tx, rx] = asyncpat::make_local_channel<int>(1);
        auto receive_one = [](asyncpat::local_receiver<int> in) -> task<void> {
            (void)co_await in.receive();
        };
        asyncpat::spawn_detached(strand, receive_one, rx);
        io.poll();  // parked, its hook armed in a tree nobody can cancel
        std::error_code const sent = tx.try_send(1);  // woken by a post to the strand
        CHECK_FALSE(sent);
        keep = tx;
    }  // the resumption goes unrun: the task is abandoned (ASan checks the unit and the hook)
}

namespace {
template <typename Sender, typename Receiver>
task<std::size_t> receive_many_while_value_appears(Sender out, Receiver in, std::vector<int>& got) {
    auto receiving = in.receive_many(got, 4);
    auto put_one = [&out] { (void)out.try_send(9); };
    co_return co_await split_awaiter<decltype(receiving), decltype(put_one)>{receiving, put_one};
}
}  // namespace

TEMPLATE_TEST_CASE("receive_many awaited through an adaptor that acts in between", "[channel]",
                   concurrent_kind, local_kind) {
    auto [tx, rx] = make<TestType, int>(2);
    std::vector<int> got;
    CHECK(run(receive_many_while_value_appears(tx, rx, got)) == 1);  // before: parked, 9 queued
    CHECK(got == std::vector<int>{9});
}

TEMPLATE_TEST_CASE("a parked wait whose wake cannot be queued is abandoned cleanly", "[channel]",
                   concurrent_kind, local_kind) {
    // The hand-off wakes the parked receive by posting its resumption; the post fails (out of
    // memory), so the task is abandoned there and then, its frame destroyed inside the send:
    // nothing may touch the waiter after that (ASan).
    asio::io_context io(1);
    auto fail_next_work = std::make_shared<bool>(false);
    auto fail_next_execute = std::make_shared<bool>(false);
    asyncpat_test::failing_work_executor ex(io.get_executor(), fail_next_work, fail_next_execute);
    auto [tx, rx] = make<TestType, int>(1);
    auto receive_one = [](rx_t<TestType, int> in) -> task<void> { (void)co_await in.receive(); };
    auto handle = asyncpat::spawn(ex, receive_one, rx);
    io.poll();  // parked
    *fail_next_execute = true;
    std::error_code const sent = tx.try_send(1);  // handed over; the wake's post fails
    CHECK_FALSE(sent);
    CHECK_FALSE(*fail_next_execute);  // the post was tried (and failed)
    CHECK(handle.is_finished());      // abandoned
    std::error_code ec;
    CHECK(rx.try_receive(ec) == std::nullopt);  // the value went with the abandoned frame
}

TEMPLATE_TEST_CASE(
    "after a parked send is cancelled or admitted: try_send sees the channel as it is", "[channel]",
    concurrent_kind, local_kind) {
    asio::io_context io(1);
    auto [tx, rx] = make<TestType, int>(1);
    (void)tx.try_send(1);  // full
    auto send_one = [](tx_t<TestType, int> out, int v) -> task<void> { co_await out.send(v); };
    auto cancelled = asyncpat::spawn(io, send_one, tx, 2);
    io.poll();  // parked
    cancelled.abort();
    io.poll();  // cancelled: no sender is parked any more
    CHECK(cancelled.is_finished());
    std::error_code ec;
    CHECK(rx.try_receive(ec) == std::optional<int>(1));
    CHECK_FALSE(tx.try_send(3));  // room, and nobody parked ahead
    auto admitted = asyncpat::spawn(io, send_one, tx, 4);
    io.restart();  // (the io_context ran out of work when the cancelled send ended)
    io.poll();     // parked behind 3
    CHECK(rx.try_receive(ec) == std::optional<int>(3));  // admits 4
    io.poll();
    CHECK(admitted.is_finished());
    CHECK(rx.try_receive(ec) == std::optional<int>(4));
    CHECK_FALSE(tx.try_send(5));  // nobody parked: not blocked
    CHECK(rx.try_receive(ec) == std::optional<int>(5));
}

TEMPLATE_TEST_CASE(
    "a parked reserve cancelled while a permit holds the room: try_send reaches "
    "the parked receiver",
    "[channel]", concurrent_kind, local_kind) {
    asio::io_context io(1);
    auto [tx, rx] = make<TestType, int>(1);
    std::error_code ec;
    auto held = tx.try_reserve(ec);  // the only slot
    REQUIRE(held);
    auto receive_one = [](rx_t<TestType, int> in) -> task<int> {
        co_return *co_await in.receive();
    };
    auto reserve_one = [](tx_t<TestType, int> out) -> task<void> { (void)co_await out.reserve(); };
    auto receiving = asyncpat::spawn(io, receive_one, rx);
    auto reserving = asyncpat::spawn(io, reserve_one, tx);
    io.poll();  // both parked: the receive on an empty channel, the reserve for the held slot
    reserving.abort();
    io.poll();
    CHECK(reserving.is_finished());
    CHECK_FALSE(tx.try_send(3));  // nobody parked ahead any more: handed to the parked receive
    io.restart();
    io.poll();
    REQUIRE(receiving.is_finished());
    CHECK(join_on(io, receiving) == 3);
}
