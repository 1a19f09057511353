// Benchmarks of the coroutine core: awaiting a task and spawning + joining one, each beside its
// Asio peer (asio::awaitable and co_spawn) in the same binary.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// Items = awaits (or spawn+join round trips). The `allocs_per_item` counter counts global
// operator new calls per item during the timed loop.
#include <asyncpat/task.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

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

template <typename Run>
void measure(benchmark::State& state, int items_per_run, Run run) {
    run();  // warm up caches and recycling allocators
    long const before = allocations.load(std::memory_order_relaxed);
    for (auto _ : state) benchmark::DoNotOptimize(run());
    long const allocs = allocations.load(std::memory_order_relaxed) - before;
    auto const items = static_cast<std::int64_t>(state.iterations()) * items_per_run;
    state.SetItemsProcessed(items);
    state.counters["allocs_per_item"] = static_cast<double>(allocs) / static_cast<double>(items);
}

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
BENCHMARK(BM_task_await_opaque_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_task_await_opaque_asio)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_spawn_join_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_spawn_join_asio)->Unit(benchmark::kMillisecond);
