// Tests of task<T>, use_task, this_task, spawn/join_handle, async_run and sync_wait.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/task.hpp>

#include <asyncpat/combinators.hpp>
#include <asyncpat/local_channel.hpp>
#include <asyncpat/task_group.hpp>

#include "support/alloc_counter.hpp"
#include "support/catch.hpp"
#include "support/failing_work_executor.hpp"
#include "support/lifetime.hpp"
#include "support/runner.hpp"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/system_executor.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdint>
#include <fcntl.h>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::task;
using asyncpat_test::run;

namespace {

task<int> add_one(int x) {
    co_return x + 1;
}
task<void> nothing() {
    co_return;
}
task<int> thrower() {
    throw std::runtime_error("boom");
    co_return 0;
}
task<int> nested_thrower() {
    co_return co_await thrower() + 1;
}
task<int> outer_catches() {
    try {
        co_await nested_thrower();
    } catch (const std::runtime_error& e) {
        co_return std::string(e.what()) == "boom" ? 7 : -1;
    }
    co_return -2;
}

task<long> sum_of_many(int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await add_one(i);
    co_return sum;
}

task<int&> pick(int& ref) {
    co_return ref;
}
task<int> use_ref() {
    int value = 3;
    int& r = co_await pick(value);
    r = 9;
    co_return value;
}

task<std::unique_ptr<int>> move_only() {
    co_return std::make_unique<int>(5);
}

}  // namespace

TEST_CASE("task returns values, void and references", "[task]") {
    CHECK(run(add_one(41)) == 42);
    run(nothing());
    CHECK(run(use_ref()) == 9);
    CHECK(*run(move_only()) == 5);
}

TEST_CASE("exceptions propagate through nested tasks to the awaiter", "[task]") {
    CHECK_THROWS_WITH(run(nested_thrower()), "boom");
    CHECK(run(outer_catches()) == 7);
}

TEST_CASE("a task is lazy: nothing runs until it is awaited", "[task]") {
    asyncpat_test::lifetime_counter counter;
    {
        auto t = [](asyncpat_test::tracked value) -> task<int> {
            co_return value.value();
        }(asyncpat_test::tracked(counter, 3));
        CHECK(counter.alive() == 1);  // the parameter lives in the (unstarted) frame
    }
    CHECK(counter.alive() == 0);  // destroyed with the frame, never run
}

TEST_CASE("a million synchronous awaits run in constant stack", "[task]") {
    // Symmetric transfer (or the GCC trampoline) keeps the stack flat; with plain resume()
    // calls this overflows, under ASan in particular.
    CHECK(run(sum_of_many(1'000'000)) == 500'000'500'000L);
}

TEST_CASE("awaiting tasks allocates nothing in steady state", "[task][alloc]") {
    run(sum_of_many(1000));  // warm the frame cache
    long const before = asyncpat_test::allocation_count();
    asio::io_context io(1);
    long const setup = asyncpat_test::allocation_count();
    CHECK(asyncpat::sync_wait(io, sum_of_many(100'000)) == 5'000'050'000L);
    long const used = asyncpat_test::allocation_count() - setup;
    (void)before;
    // 100 000 awaits; the few allocations are the run itself (root, handler, scheduler op).
    CHECK(used < 20);
}

namespace {
task<std::string> wait_timer() {
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 1ms);
    co_await timer.async_wait(asyncpat::use_task);
    co_return "waited";
}

task<int> timer_error_code() {
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 1h);
    timer.cancel();  // nothing pending yet
    asio::post(co_await asyncpat::this_task::executor, [&timer] { timer.cancel(); });
    std::error_code ec;
    co_await timer.async_wait(asyncpat::use_task[ec]);
    co_return ec == asio::error::operation_aborted ? 1 : 0;
}

task<int> timer_exception() {
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 1h);
    asio::post(co_await asyncpat::this_task::executor, [&timer] { timer.cancel(); });
    try {
        co_await timer.async_wait(asyncpat::use_task);
    } catch (const std::system_error& e) {
        co_return e.code() == asio::error::operation_aborted ? 1 : 0;
    }
    co_return -1;
}

task<int> as_tuple_form() {
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 1ms);
    auto [ec] = co_await timer.async_wait(asyncpat::detail::net::as_tuple(asyncpat::use_task));
    co_return ec ? 0 : 1;
}

task<int> post_inline() {
    // dispatch on the running executor completes inside the initiation: no suspension needed.
    co_await asio::dispatch(co_await asyncpat::this_task::executor, asyncpat::use_task);
    co_await asio::post(co_await asyncpat::this_task::executor, asyncpat::use_task);
    co_return 2;
}
}  // namespace

TEST_CASE("use_task awaits Asio operations", "[task][use_task]") {
    CHECK(run(wait_timer()) == "waited");
    CHECK(run(timer_error_code()) == 1);
    CHECK(run(timer_exception()) == 1);
    CHECK(run(as_tuple_form()) == 1);
    CHECK(run(post_inline()) == 2);
}

namespace {
task<std::thread::id> hop_through_pool(asio::thread_pool& pool) {
    // The operation completes on a pool thread; the task must resume on its own executor.
    co_await asio::post(pool.get_executor(), asyncpat::use_task);
    co_return std::this_thread::get_id();
}
}  // namespace

TEST_CASE("a task resumes on its own executor after a completion on another thread",
          "[task][affinity]") {
    asio::thread_pool pool(2);
    asio::io_context io(1);
    auto const io_thread = std::this_thread::get_id();
    for (int i = 0; i < 50; ++i)
        CHECK(asyncpat::sync_wait(io, hop_through_pool(pool)) == io_thread);
    pool.join();
}

namespace {
task<int> join_from_other_executor(asio::thread_pool& pool, std::thread::id* resumed_on) {
    auto handle = asyncpat::spawn(pool, []() -> task<int> { co_return 11; });
    int value = co_await handle;
    *resumed_on = std::this_thread::get_id();
    co_return value;
}
}  // namespace

TEST_CASE("joining a task spawned on another executor resumes on the joiner's executor",
          "[task][spawn][affinity]") {
    asio::thread_pool pool(2);
    asio::io_context io(1);
    for (int i = 0; i < 50; ++i) {
        std::thread::id resumed_on;
        CHECK(asyncpat::sync_wait(io, join_from_other_executor(pool, &resumed_on)) == 11);
        CHECK(resumed_on == std::this_thread::get_id());
    }
    pool.join();
}

TEST_CASE("spawn keeps a capturing lambda and its arguments alive", "[task][spawn]") {
    asio::io_context io(1);
    asyncpat::join_handle<std::size_t> handle;
    {
        std::vector<int> owned(1000, 1);
        auto shared = std::make_shared<std::string>("shared");
        // The lambda object and `suffix` move into the spawned state; this scope ends before the
        // task runs (ASan would report a use after scope otherwise).
        handle = asyncpat::spawn(
            io,
            [owned = std::move(owned), shared](std::string suffix) -> task<std::size_t> {
                co_await asyncpat::this_task::yield();
                co_return owned.size() + shared->size() + suffix.size();
            },
            std::string("abc"));
    }
    auto joiner = [](asyncpat::join_handle<std::size_t>& h) -> task<std::size_t> {
        co_return co_await h;
    };
    CHECK(asyncpat::sync_wait(io, joiner(handle)) == 1009);
}

TEST_CASE("spawn runs tasks concurrently and never inside spawn", "[task][spawn]") {
    asio::io_context io(1);
    bool ran = false;
    auto handle = asyncpat::spawn(io, [&ran]() -> task<void> {
        ran = true;
        co_return;
    });
    CHECK_FALSE(ran);
    io.run();
    CHECK(ran);
    CHECK(handle.is_finished());
}

namespace {
// Collects the messages of the exceptions reported as unhandled while it lives.
struct reported_messages {
    std::vector<std::string> messages;
    asyncpat::unhandled_exception_handler previous =
        asyncpat::set_unhandled_exception_handler([this](std::exception_ptr e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                messages.emplace_back(ex.what());
            }
        });
    reported_messages() = default;
    reported_messages(const reported_messages&) = delete;
    reported_messages& operator=(const reported_messages&) = delete;
    ~reported_messages() { asyncpat::set_unhandled_exception_handler(std::move(previous)); }
};
}  // namespace

TEST_CASE("detached exceptions reach the unhandled exception handler", "[task][spawn]") {
    reported_messages reported;
    std::vector<std::string>& seen = reported.messages;
    {
        asio::io_context io(1);
        asyncpat::spawn(io, thrower()).detach();  // explicit detach
        {
            auto dropped = asyncpat::spawn(io, nested_thrower());
        }  // handle dropped
        auto joined = asyncpat::spawn(io, thrower());            // joined: not reported
        auto aborted = asyncpat::spawn(io, []() -> task<void> {  // cancelled: not reported
            co_await asyncpat::sleep_for(1h);
        });
        aborted.abort();
        io.run();
        auto join = [](asyncpat::join_handle<int> h) -> task<int> { co_return co_await h; };
        CHECK_THROWS_WITH(asyncpat::sync_wait(io, join(std::move(joined))), "boom");
    }
    CHECK(seen == std::vector<std::string>{"boom", "boom"});
}

TEST_CASE("spawn_detached runs a task with no handle; its exception is reported", "[task][spawn]") {
    reported_messages reported;
    std::vector<std::string>& seen = reported.messages;
    asyncpat_test::lifetime_counter counter;
    int sum = 0;
    {
        asio::io_context io(1);
        // A task, and a callable whose captures and arguments live as long as the task.
        asyncpat::spawn_detached(io, thrower());
        asyncpat::spawn_detached(
            io,
            [&sum,
             kept = asyncpat_test::tracked(counter, 5)](asyncpat_test::tracked arg) -> task<void> {
                co_await asyncpat::this_task::yield();
                sum += kept.value() + arg.value();
            },
            asyncpat_test::tracked(counter, 6));
        CHECK(sum == 0);  // never inside spawn_detached
        io.run();
        CHECK(counter.alive() == 0);  // freed when the task finished
        // One that never finishes is destroyed with the io_context, not leaked.
        asyncpat::spawn_detached(io.get_executor(),
                                 [kept = asyncpat_test::tracked(counter, 7)]() -> task<void> {
                                     co_await asyncpat::sleep_for(1h);
                                 });
        io.restart();
        io.run_for(2ms);
        CHECK(counter.alive() == 1);
    }
    CHECK(sum == 11);
    CHECK(counter.alive() == 0);
    CHECK(seen == std::vector<std::string>{"boom"});
}

TEST_CASE("spawn_detached: a callable that throws runs nothing and propagates", "[task][spawn]") {
    asio::io_context io(1);
    // Not a coroutine: the call that would make the task throws, inside spawn_detached.
    auto does_not_make_a_task = [](int) -> task<void> { throw std::runtime_error("not made"); };
    CHECK_THROWS_WITH(asyncpat::spawn_detached(io, does_not_make_a_task, 1), "not made");
    CHECK(io.run() == 0);
}

TEST_CASE("an unjoined exception is reported even when stderr cannot be written", "[task][spawn]") {
    // stderr on a full device: the default report fails, and must not terminate.
    int const full = ::open("/dev/full", O_WRONLY);
    if (full < 0) {
        WARN("no /dev/full here: skipped");
        return;
    }
    int const saved = ::dup(2);
    ::dup2(full, 2);
    asio::io_context io(1);
    asyncpat::spawn_detached(io, thrower());
    std::size_t const ran = io.run();
    ::dup2(saved, 2);
    ::close(saved);
    ::close(full);
    CHECK(ran > 0);
}

TEST_CASE("a handler that throws does not escape into the executor", "[task][spawn]") {
    auto previous = asyncpat::set_unhandled_exception_handler(
        [](std::exception_ptr) { throw std::logic_error("handler failed"); });
    asio::io_context io(1);
    asyncpat::spawn(io, thrower()).detach();
    CHECK_NOTHROW(io.run());
    asyncpat::set_unhandled_exception_handler(previous);
}

namespace {
task<int> sleep_forever(bool* cancelled) {
    try {
        co_await asyncpat::sleep_for(1h);
    } catch (const std::system_error& e) {
        *cancelled = e.code() == asio::error::operation_aborted;
        throw;
    }
    co_return 0;
}

task<int> join_expect_abort(asyncpat::join_handle<int> handle) {
    try {
        co_await handle;
    } catch (const std::system_error& e) {
        co_return e.code() == asio::error::operation_aborted ? 1 : 0;
    }
    co_return -1;
}
}  // namespace

TEST_CASE("abort cancels the operation a task awaits", "[task][spawn][cancel]") {
    asio::io_context io(1);
    bool cancelled = false;
    auto handle = asyncpat::spawn(io, sleep_forever(&cancelled));
    io.poll();  // the task starts and parks on its timer
    CHECK_FALSE(handle.is_finished());
    handle.abort();
    auto const start = std::chrono::steady_clock::now();
    CHECK(asyncpat::sync_wait(io, join_expect_abort(std::move(handle))) == 1);
    CHECK(cancelled);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("abort before the start means the body never runs", "[task][spawn][cancel]") {
    asio::io_context io(1);
    bool ran = false;
    auto handle = asyncpat::spawn(io, [&ran]() -> task<int> {
        ran = true;
        co_return 1;
    });
    handle.abort();
    CHECK(asyncpat::sync_wait(io, join_expect_abort(std::move(handle))) == 1);
    CHECK_FALSE(ran);
}

namespace {
task<int> record_run(bool* ran) {
    *ran = true;
    co_return 1;
}

// Spawns from inside a running task (the start goes through this thread's ready slot), aborts
// the handle before the spawner suspends, then joins.
task<int> spawn_then_abort_inside(bool* ran) {
    auto ex = co_await asyncpat::this_task::executor;
    auto handle = asyncpat::spawn(ex, record_run(ran));
    handle.abort();
    co_return co_await join_expect_abort(std::move(handle));
}

task<int> spawn_many_inside(int n, int* finished) {
    auto ex = co_await asyncpat::this_task::executor;
    std::vector<asyncpat::join_handle<int>> handles;
    for (int i = 0; i < n; ++i) {
        handles.push_back(asyncpat::spawn(ex, [finished]() -> task<int> {
            ++*finished;
            co_return 1;
        }));
    }
    int total = 0;
    for (auto& h : handles) total += co_await h;
    co_return total;
}
}  // namespace

TEST_CASE("abort of a task spawned from inside a task, before it ran", "[task][spawn][cancel]") {
    asio::io_context io(1);
    bool ran = false;
    CHECK(asyncpat::sync_wait(io, spawn_then_abort_inside(&ran)) == 1);
    CHECK_FALSE(ran);
}

namespace {
// Finishes `depth` nested awaits deep in the stack (what a deferred transfer of the GCC
// symmetric-transfer workaround needs, see config.hpp), after waking a parked task into this
// thread's ready slot: its root's completion resumes the joiner and the slot holds a task.
task<int> wake_then_finish(asyncpat::local_sender<int> tx, int depth) {
    for (int i = 0; i < depth; ++i) co_await nothing();
    (void)tx.try_send(1);
    co_return 1;
}

task<void> receive_one(asyncpat::local_receiver<int> rx) {
    (void)co_await rx.receive();
}

task<int> join_a_task_that_finishes_deep(int depth) {
    auto [tx, rx] = asyncpat::make_local_channel<int>(1);
    auto ex = co_await asyncpat::this_task::executor;
    auto parked = asyncpat::spawn(ex, receive_one, std::move(rx));
    co_await asyncpat::this_task::yield();  // the receive parks
    auto deep = asyncpat::spawn(ex, wake_then_finish, std::move(tx), depth);
    int const v = co_await deep;
    co_await parked;
    co_return v;
}
}  // namespace

TEST_CASE("a joiner resumed by a completion while the ready slot holds a task is not lost",
          "[task][spawn]") {
    // Whatever the stack depth at the completion: under the GCC workaround, a transfer to the
    // joiner may be deferred (noop_coroutine() returned), and the final suspension must not
    // take that for "nobody to resume" and run the ready slot's task instead.
    for (int depth = 0; depth < 300; depth += 3) {
        asio::io_context io(1);
        auto handle = asyncpat::spawn(io, join_a_task_that_finishes_deep(depth));
        io.run_for(10s);
        INFO("depth " << depth);
        REQUIRE(handle.is_finished());
    }
}

TEST_CASE("many tasks spawned from inside a task all run once", "[task][spawn]") {
    asio::io_context io(1);
    int finished = 0;
    CHECK(asyncpat::sync_wait(io, spawn_many_inside(1000, &finished)) == 1000);
    CHECK(finished == 1000);
}

TEST_CASE("abort from another thread", "[task][spawn][cancel]") {
    asio::io_context io(1);
    bool cancelled = false;
    auto handle = asyncpat::spawn(io, sleep_forever(&cancelled));
    std::thread aborter([&handle] {
        std::this_thread::sleep_for(20ms);
        handle.abort();
    });
    io.run();
    aborter.join();
    CHECK(cancelled);
    CHECK(handle.is_finished());
}

namespace {
task<int> join_twice(asyncpat::join_handle<int> handle) {
    int const first = co_await handle;
    CHECK(first == 42);
    try {
        co_await handle;
    } catch (const std::system_error& e) {
        co_return e.code() == asyncpat::errc::already_joined ? 1 : 0;
    }
    co_return -1;
}

task<int> cancelled_join(asyncpat::join_handle<int>& handle) {
    // The join is raced against a short sleep: the join is cancelled, the task keeps running
    // and can be joined again.
    auto first = co_await asyncpat::race(
        [](asyncpat::join_handle<int>& h) -> task<int> { co_return co_await h; }(handle),
        asyncpat::sleep_for(5ms));
    CHECK(first.index() == 1);
    CHECK_FALSE(handle.is_finished());
    co_return co_await handle;
}
}  // namespace

TEST_CASE("join results are taken once; a cancelled join leaves the task running",
          "[task][spawn][cancel]") {
    asio::io_context io(1);
    CHECK(asyncpat::sync_wait(io, join_twice(asyncpat::spawn(io, add_one(41)))) == 1);
    auto slow = asyncpat::spawn(io, []() -> task<int> {
        co_await asyncpat::sleep_for(30ms);
        co_return 8;
    });
    CHECK(asyncpat::sync_wait(io, cancelled_join(slow)) == 8);
}

TEST_CASE("destroying the executor destroys suspended tasks (abandoned)", "[task][spawn]") {
    asyncpat_test::lifetime_counter counter;
    asyncpat::join_handle<int> survivor;
    {
        asio::io_context io(1);
        auto holds = [](asyncpat_test::tracked value) -> task<int> {
            co_await asyncpat::sleep_for(1h);
            co_return value.value();
        };
        survivor = asyncpat::spawn(io, holds, asyncpat_test::tracked(counter, 1));
        asyncpat::spawn(io, holds, asyncpat_test::tracked(counter, 2)).detach();
        asyncpat::spawn(io, holds, asyncpat_test::tracked(counter, 3)).detach();  // never started
        io.run_for(5ms);
        CHECK(counter.alive() >= 2);
    }
    // The frames were destroyed with the io_context, not leaked (LeakSanitizer checks too).
    CHECK(survivor.is_finished());
    CHECK(counter.alive() == 0);
    asio::io_context other(1);
    CHECK_THROWS_AS(asyncpat_test::join_on(other, survivor), std::system_error);
}

namespace {
asio::awaitable<int> awaitable_caller() {
    auto ex = co_await asio::this_coro::executor;
    int value = co_await asyncpat::async_run(ex, add_one(1), asio::use_awaitable);
    try {
        co_await asyncpat::async_run(ex, thrower(), asio::use_awaitable);
    } catch (const std::runtime_error&) {
        value += 10;
    }
    co_return value;
}

asio::awaitable<int> awaitable_races_task() {
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex, 5ms);
    bool cancelled = false;
    auto outcome =
        co_await (asyncpat::async_run(ex, sleep_forever(&cancelled), asio::use_awaitable) ||
                  timer.async_wait(asio::use_awaitable));
    co_return (outcome.index() == 1 && cancelled) ? 1 : 0;
}
}  // namespace

TEST_CASE("async_run drives a task from asio::awaitable, callbacks and futures", "[task][bridge]") {
    asio::io_context io(1);
    std::future<int> from_awaitable = asio::co_spawn(io, awaitable_caller(), asio::use_future);
    int from_callback = 0;
    asyncpat::async_run(io, add_one(99), [&](std::exception_ptr e, int v) {
        if (!e) from_callback = v;
    });
    io.run();
    CHECK(from_awaitable.get() == 12);
    CHECK(from_callback == 100);

    asio::thread_pool pool(1);
    std::future<int> future = asyncpat::async_run(pool, add_one(6), asio::use_future);
    CHECK(future.get() == 7);
    std::future<int> failing = asyncpat::async_run(pool, thrower(), asio::use_future);
    CHECK_THROWS_AS(failing.get(), std::runtime_error);
    pool.join();
}

TEST_CASE("async_run honours Asio per-operation cancellation", "[task][bridge][cancel]") {
    asio::io_context io(1);
    auto result = asio::co_spawn(io, awaitable_races_task(), asio::use_future);
    io.run();
    CHECK(result.get() == 1);
}

namespace {
task<int> queries() {
    auto ex = co_await asyncpat::this_task::executor;
    CHECK(ex.target<asio::io_context::executor_type>() != nullptr);
    bool const cancelled = co_await asyncpat::this_task::cancellation_requested;
    CHECK_FALSE(cancelled);
    co_await asyncpat::this_task::yield();
    co_await asyncpat::this_task::throw_if_cancelled();
    co_return 1;
}

task<int> observe_cancellation(bool* saw) {
    try {
        co_await asyncpat::sleep_for(1h);
    } catch (const std::system_error&) {
    }
    *saw = co_await asyncpat::this_task::cancellation_requested;
    // Cancellation is sticky: every later suspending operation fails at once.
    try {
        co_await asyncpat::this_task::yield();
    } catch (const std::system_error&) {
        co_return 1;
    }
    co_return 0;
}
}  // namespace

TEST_CASE("this_task queries", "[task]") {
    CHECK(run(queries()) == 1);
    asio::io_context io(1);
    bool saw = false;
    auto handle = asyncpat::spawn(io, observe_cancellation(&saw));
    io.poll();
    handle.abort();
    CHECK(asyncpat_test::join_on(io, handle) == 1);
    CHECK(saw);
}

TEST_CASE("sync_wait reports an io_context that stops first", "[task]") {
    asio::io_context io(1);
    auto stopper = [](asio::io_context& ctx) -> task<int> {
        ctx.stop();
        co_await asyncpat::sleep_for(1h);
        co_return 0;
    };
    CHECK_THROWS_AS(asyncpat::sync_wait(io, stopper(io)), std::system_error);
}

TEST_CASE("sync_wait on a thread pool executor", "[task]") {
    asio::thread_pool pool(2);
    CHECK(asyncpat::sync_wait(pool.get_executor(), add_one(1)) == 2);
    pool.join();
}

// ------------------------------------------------------------------------------------------------
// Regressions found in review.

namespace {
task<bool> in_strand(asio::strand<asio::io_context::executor_type> strand) {
    co_await asyncpat::this_task::yield();
    co_return strand.running_in_this_thread();
}

task<int> stop_then_sleep(asio::io_context& io) {
    io.stop();
    co_await asyncpat::sleep_for(5ms);
    co_return 1;
}

task<int> fail_after_timer() {
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 1ms);
    co_await timer.async_wait(asyncpat::use_task);
    throw std::runtime_error("task failed");
}
}  // namespace

TEST_CASE("a task spawned on a strand runs in the strand", "[task][executor]") {
    asio::io_context io(1);
    auto strand = asio::make_strand(io);
    auto handle = asyncpat::spawn(strand, in_strand(strand));
    auto join = [](asyncpat::join_handle<bool>& h) -> task<bool> { co_return co_await h; };
    CHECK(asyncpat::sync_wait(io, join(handle)));
}

TEST_CASE("a task on an executor that is neither io_context nor pool", "[task][executor]") {
    asio::any_io_executor system{asio::system_executor()};
    CHECK(asyncpat::sync_wait(system, add_one(1)) == 2);
}

TEST_CASE("two coroutines awaiting one join handle: the second gets already_waiting",
          "[task][spawn]") {
    asio::io_context io(1);
    auto handle = asyncpat::spawn(io, []() -> task<std::string> {
        co_await asyncpat::sleep_for(10ms);
        co_return std::string(100, 'x');
    });
    auto joiner = [](asyncpat::join_handle<std::string>& h) -> task<std::string> {
        co_return co_await h;
    };
    auto second_fails = [](asyncpat::join_handle<std::string>& h,
                           decltype(joiner) join) -> task<int> {
        auto first = join(h);
        try {
            co_await asyncpat::when_all(std::move(first), join(h));
        } catch (const std::system_error& e) {
            co_return e.code() == asyncpat::errc::already_waiting ? 1 : 0;
        }
        co_return -1;
    };
    CHECK(asyncpat::sync_wait(io, second_fails(handle, joiner)) == 1);
}

TEST_CASE("sync_wait that gave up on a stopped io_context leaves nothing dangling", "[task]") {
    asio::io_context io(1);
    CHECK_THROWS_AS(asyncpat::sync_wait(io, stop_then_sleep(io)), std::system_error);
    // The first task is still pending on `io`; it completes during this sync_wait and must
    // write into live memory (ASan checks).
    CHECK(asyncpat::sync_wait(io, [](void) -> task<int> {
              co_await asyncpat::sleep_for(20ms);
              co_return 2;
          }()) == 2);
}

TEST_CASE("a throwing async_run handler on a strand propagates out of run()", "[task][bridge]") {
    asio::io_context io(1);
    auto strand = asio::make_strand(io);
    asyncpat::async_run(strand, fail_after_timer(), [](std::exception_ptr e, int) {
        if (e) std::rethrow_exception(e);
    });
    CHECK_THROWS_WITH(io.run(), "task failed");
}

namespace {
asio::awaitable<int> join_from_awaitable(asyncpat::join_handle<int> handle) {
    co_return co_await std::move(handle).async_join(asio::use_awaitable);
}
}  // namespace

TEST_CASE("async_join: a join handle awaited from asio::awaitable", "[task][bridge]") {
    asio::io_context io(1);
    auto handle = asyncpat::spawn(io, add_one(2));
    auto result = asio::co_spawn(io, join_from_awaitable(std::move(handle)), asio::use_future);
    io.run();
    CHECK(result.get() == 3);
}

TEST_CASE("a task awaited twice is a clear error", "[task]") {
    auto twice = []() -> task<int> {
        auto t = add_one(1);
        int first = co_await std::move(t);
        try {
            co_await std::move(t);
        } catch (const std::logic_error&) {
            co_return first;
        }
        co_return -1;
    };
    CHECK(run(twice()) == 2);
}

TEST_CASE("an empty or already awaited task handed to a runner is a clear error", "[task]") {
    asio::io_context io(1);
    auto moved_from = add_one(1);
    auto taken = std::move(moved_from);
    CHECK_THROWS_AS(asyncpat::spawn(io, std::move(moved_from)), std::logic_error);
    CHECK_THROWS_AS(asyncpat::spawn_detached(io, std::move(moved_from)), std::logic_error);
    CHECK_THROWS_AS(asyncpat::spawn(io, [] { return task<int>{}; }), std::logic_error);
    CHECK_THROWS_AS(asyncpat::sync_wait(io, std::move(moved_from)), std::logic_error);
    asyncpat::task_group<int> group(io);
    CHECK_THROWS_AS(group.spawn(std::move(moved_from)), std::logic_error);
    CHECK(group.empty());
    auto awaited_then_spawned = []() -> task<int> {
        auto t = add_one(1);
        int const first = co_await std::move(t);
        auto ex = co_await asyncpat::this_task::executor;
        try {
            auto handle = asyncpat::spawn(ex, std::move(t));  // its frame already ran
        } catch (const std::logic_error&) {
            co_return first;
        }
        co_return -1;
    };
    CHECK(asyncpat::sync_wait(io, awaited_then_spawned()) == 2);
    auto empty_child = []() -> task<int> {
        try {
            auto [a, b] = co_await asyncpat::when_all(add_one(1), task<int>{});
            co_return a + b;
        } catch (const std::logic_error&) {
            co_return 7;
        }
    };
    CHECK(asyncpat::sync_wait(io, empty_child()) == 7);
    CHECK(asyncpat::sync_wait(io, std::move(taken)) == 2);  // the valid one still runs
}

namespace {
// A result type aligned to a cache line (as SIMD or lock-free payloads are): every copy records
// whether it was placed at a multiple of 64.
struct alignas(64) line_aligned {
    int value = 0;
    static inline int misplaced = 0;
    explicit line_aligned(int v) : value(v) { check(); }
    line_aligned(const line_aligned& other) : value(other.value) { check(); }
    line_aligned(line_aligned&& other) noexcept : value(other.value) { check(); }
    line_aligned& operator=(const line_aligned&) = default;
    void check() const noexcept {
        if (reinterpret_cast<std::uintptr_t>(this) % 64 != 0) ++misplaced;
    }
};
task<line_aligned> make_line_aligned(int v) {
    co_await asyncpat::this_task::yield();
    co_return line_aligned(v);
}
task<int> use_line_aligned(asyncpat::any_executor ex) {
    int sum = 0;
    for (int i = 0; i < 8; ++i) {
        sum += (co_await make_line_aligned(i)).value;
        auto handle = asyncpat::spawn(ex, make_line_aligned(i));
        sum += (co_await handle).value;
        auto [a, b] = co_await asyncpat::when_all(make_line_aligned(1), make_line_aligned(2));
        sum += a.value + b.value;
    }
    co_return sum;
}
}  // namespace

TEST_CASE("a result type aligned to 64 bytes is stored aligned", "[task]") {
    asio::io_context io(1);
    line_aligned::misplaced = 0;
    CHECK(asyncpat::sync_wait(io, use_line_aligned(io.get_executor())) == 2 * 28 + 8 * 3);
    CHECK(line_aligned::misplaced == 0);
}

namespace {
task<int> completes_while_queueing_fails(std::shared_ptr<bool> fail_next_execute) {
    co_await asyncpat::this_task::yield();  // the joiner is parked by now
    *fail_next_execute = true;              // waking it will fail to queue
    co_return 7;
}
task<int> joins(asyncpat::join_handle<int> h) {
    co_return co_await h;
}
}  // namespace

TEST_CASE("a joiner that cannot be woken (queueing fails) is abandoned, not terminated",
          "[task][spawn]") {
    asio::io_context io(1);
    auto no_work_failure = std::make_shared<bool>(false);
    auto fail_next_execute = std::make_shared<bool>(false);
    asyncpat_test::failing_work_executor ex(io.get_executor(), no_work_failure, fail_next_execute);
    auto joined = asyncpat::spawn(io, completes_while_queueing_fails(fail_next_execute));
    auto joiner = asyncpat::spawn(ex, joins(std::move(joined)));
    CHECK_NOTHROW(io.run());
    CHECK(joiner.is_finished());
    auto join = [](asyncpat::join_handle<int> h) -> task<int> { co_return co_await h; };
    io.restart();
    std::error_code code;
    try {
        (void)asyncpat::sync_wait(io, join(std::move(joiner)));
    } catch (const std::system_error& e) {
        code = e.code();
    }
    CHECK(code == asyncpat::make_error_code(asyncpat::errc::abandoned));
}

TEST_CASE("sleep_for measures from when it is awaited", "[combinators]") {
    auto late = []() -> task<bool> {
        auto sleep = asyncpat::sleep_for(30ms);
        co_await asyncpat::sleep_for(30ms);
        auto const start = std::chrono::steady_clock::now();
        co_await std::move(sleep);
        co_return std::chrono::steady_clock::now() - start >= 25ms;
    };
    CHECK(run(late()));
}

namespace {
// Whether the awaiting task's tree can be cancelled (detail: which awaiters skip the hook lock).
struct cancellable_probe {
    bool result = false;
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    bool await_suspend(std::coroutine_handle<Promise> caller) noexcept {
        result = caller.promise().context()->cancellable();
        return false;  // resume at once
    }
    bool await_resume() const noexcept { return result; }
};
task<bool> is_cancellable() {
    co_return co_await cancellable_probe{};
}
}  // namespace

TEST_CASE("only trees that nobody can cancel skip the cancellation hook's lock", "[task]") {
    asio::io_context io(1);
    // sync_wait (async_run with a handler that has no slot): nobody can cancel it.
    CHECK_FALSE(asyncpat::sync_wait(io, is_cancellable()));
    // A spawn with a join handle, a task_group member and a combinator's children can be.
    CHECK(asyncpat::sync_wait(io, []() -> task<bool> {
        co_return co_await asyncpat::spawn(co_await asyncpat::this_task::executor,
                                           is_cancellable());
    }()));
    CHECK(asyncpat::sync_wait(io, []() -> task<bool> {
        auto [a, b] = co_await asyncpat::when_all(is_cancellable(), is_cancellable());
        co_return a&& b;
    }()));
    CHECK(asyncpat::sync_wait(io, []() -> task<bool> {
        asyncpat::task_group<bool> group(co_await asyncpat::this_task::executor);
        group.spawn(is_cancellable());
        std::vector<bool> all = co_await group.join_all();
        co_return all.size() == 1 && all[0];
    }()));
    // A detached spawn has no handle to cancel it.
    std::optional<bool> detached;
    asyncpat::spawn_detached(io,
                             [&detached]() -> task<void> { detached = co_await is_cancellable(); });
    io.restart();
    io.run();
    CHECK(detached == std::optional<bool>(false));
    // async_run with a handler bound to a cancellation slot can be cancelled through it.
    asio::cancellation_signal signal;
    std::optional<bool> bound;
    asyncpat::async_run(io.get_executor(), is_cancellable(),
                        asio::bind_cancellation_slot(
                            signal.slot(), [&bound](std::exception_ptr, bool c) { bound = c; }));
    io.restart();
    io.run();
    CHECK(bound == std::optional<bool>(true));
}
