// Benchmarks of the coroutine core: awaiting a task and spawning + joining one, each beside its
// Asio peer (asio::awaitable and co_spawn) in the same binary.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// Items = awaits (or spawn+join round trips). The `allocs_per_item` counter counts global
// operator new calls per item during the timed loop.
#include <asyncpat/task.hpp>

#include "bench_support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <benchmark/benchmark.h>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>

namespace {

using asyncpat_bench::measure;

constexpr int awaits_per_run = 1'000'000;
constexpr int spawns_per_run = 100'000;

// Two shapes of callee. The plain one is what users write: the compiler sees the callee and
// may place its frame inside the caller's (HALO, clang); Asio's awaitable frames always go
// through its allocator and frame stack. The opaque one (noinline) forces a real frame
// allocation, transfer in and out, and result hand-over on every await, for both sides.
asyncpat::task<int> trivial_task(int x) {
    co_return x + 1;
}
asio::awaitable<int> trivial_awaitable(int x) {
    co_return x + 1;
}
[[gnu::noinline]] asyncpat::task<int> opaque_task(int x) {
    co_return x + 1;
}
[[gnu::noinline]] asio::awaitable<int> opaque_awaitable(int x) {
    co_return x + 1;
}

asyncpat::task<long> await_loop_asyncpat(int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await trivial_task(i);
    co_return sum;
}

asio::awaitable<long> await_loop_asio(int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await trivial_awaitable(i);
    co_return sum;
}

asyncpat::task<long> opaque_await_loop_asyncpat(int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await opaque_task(i);
    co_return sum;
}

asio::awaitable<long> opaque_await_loop_asio(int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await opaque_awaitable(i);
    co_return sum;
}

asyncpat::task<long> spawn_loop_asyncpat(int n) {
    auto ex = co_await asyncpat::this_task::executor;
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await asyncpat::spawn(ex, trivial_task(i));
    co_return sum;
}

asio::awaitable<long> spawn_loop_asio(int n) {
    auto ex = co_await asio::this_coro::executor;
    long sum = 0;
    for (int i = 0; i < n; ++i)
        sum += co_await asio::co_spawn(ex, trivial_awaitable(i), asio::use_awaitable);
    co_return sum;
}

// The floor: the least a lazy task with symmetric transfer can do per await on this machine
// (a frame from a thread-local free list, a transfer in and out, the value read back), with
// none of a real task's duties (no executor or cancellation context, no exception path, no cap
// on the free list). It is not usable code, only the yardstick for the two above.
namespace floor {
struct free_block {
    free_block* next;
};
inline thread_local free_block* free_list = nullptr;

struct task {
    struct promise_type {
        std::coroutine_handle<> continuation;
        int value = 0;
        static void* operator new(std::size_t size) {
            if (free_block* block = free_list) {
                free_list = block->next;
                return block;
            }
            return ::operator new(size);
        }
        static void operator delete(void* pointer, std::size_t) noexcept {
            auto* block = static_cast<free_block*>(pointer);
            block->next = free_list;
            free_list = block;
        }
        task get_return_object() {
            return task{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct final_awaiter {
            bool await_ready() noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                return h.promise().continuation;
            }
            void await_resume() noexcept {}
        };
        final_awaiter final_suspend() noexcept { return {}; }
        void return_value(int v) noexcept { value = v; }
        void unhandled_exception() noexcept { std::abort(); }
    };
    explicit task(std::coroutine_handle<promise_type> h) noexcept : handle(h) {}
    task(task&& other) noexcept : handle(std::exchange(other.handle, {})) {}
    ~task() {
        if (handle) handle.destroy();
    }
    bool await_ready() noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
        handle.promise().continuation = caller;
        return handle;
    }
    int await_resume() noexcept { return handle.promise().value; }
    std::coroutine_handle<promise_type> handle;
};

// Eager, runs the loop to the end on the calling thread.
struct driver {
    struct promise_type {
        driver get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::abort(); }
    };
};

task trivial(int x) {
    co_return x + 1;
}
[[gnu::noinline]] task opaque(int x) {
    co_return x + 1;
}

driver loop(int n, long* out) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await trivial(i);
    *out = sum;
}
driver opaque_loop(int n, long* out) {
    long sum = 0;
    for (int i = 0; i < n; ++i) sum += co_await opaque(i);
    *out = sum;
}
}  // namespace floor

// Both sides are started the same way (a completion callback) and driven by io_context::run.
long run_asio(asio::io_context& io, asio::awaitable<long> work) {
    long result = 0;
    asio::co_spawn(io, std::move(work), [&result](std::exception_ptr, long v) { result = v; });
    io.restart();
    io.run();
    return result;
}

long run_asyncpat(asio::io_context& io, asyncpat::task<long> work) {
    long result = 0;
    asyncpat::async_run(io, std::move(work), [&result](std::exception_ptr, long v) { result = v; });
    io.restart();
    io.run();
    return result;
}

void BM_task_await_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, awaits_per_run,
            [&] { return run_asyncpat(io, await_loop_asyncpat(awaits_per_run)); });
}

void BM_task_await_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, awaits_per_run, [&] { return run_asio(io, await_loop_asio(awaits_per_run)); });
}

void BM_task_await_opaque_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, awaits_per_run,
            [&] { return run_asyncpat(io, opaque_await_loop_asyncpat(awaits_per_run)); });
}

void BM_task_await_opaque_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, awaits_per_run,
            [&] { return run_asio(io, opaque_await_loop_asio(awaits_per_run)); });
}

void BM_task_await_floor(benchmark::State& state) {
    measure(state, awaits_per_run, [] {
        long sum = 0;
        floor::loop(awaits_per_run, &sum);
        return sum;
    });
}

void BM_task_await_opaque_floor(benchmark::State& state) {
    measure(state, awaits_per_run, [] {
        long sum = 0;
        floor::opaque_loop(awaits_per_run, &sum);
        return sum;
    });
}

void BM_spawn_join_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, spawns_per_run,
            [&] { return run_asyncpat(io, spawn_loop_asyncpat(spawns_per_run)); });
}

void BM_spawn_join_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, spawns_per_run, [&] { return run_asio(io, spawn_loop_asio(spawns_per_run)); });
}

}  // namespace

BENCHMARK(BM_task_await_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_task_await_asio)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_task_await_floor)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_task_await_opaque_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_task_await_opaque_asio)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_task_await_opaque_floor)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_spawn_join_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_spawn_join_asio)->Unit(benchmark::kMillisecond);
