// Benchmark support: counts global operator new calls, and runs a workload with Google
// Benchmark reporting items and allocations per item. Include in exactly one translation unit
// of a benchmark binary (it replaces the global allocation functions).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_BENCH_SUPPORT_HPP
#define ASYNCPAT_BENCH_SUPPORT_HPP

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <thread>

namespace asyncpat_bench {
inline std::atomic<long> allocations{0};

/// Starts (and joins) one thread, once per process. Rows registered after the others call it to
/// measure a process that has started a thread, as every program that shares data between
/// threads has: libstdc++'s shared_ptr, glibc's malloc and asyncpat (reference counts, the
/// arena, the concurrent channel's and oneshot's lock-free paths, spin locks) skip atomic
/// operations until then (`__libc_single_threaded`). The process stays multi-threaded for the
/// rest of the run, which is why such rows are registered last.
inline void start_a_thread_once() {
    static bool const started = [] {
        std::thread([] {}).join();
        return true;
    }();
    (void)started;
}

/// `Bench` run in a process that has started a thread (see start_a_thread_once). Register it
/// last, under its own name: `BENCHMARK(after_a_thread_started<BM_x>)->Name("BM_x_threaded")`.
template <void (*Bench)(benchmark::State&)>
void after_a_thread_started(benchmark::State& state) {
    start_a_thread_once();
    Bench(state);
}

/// Runs `run` (one run handles `items_per_run` items) once to warm caches and recycling
/// allocators, then under Google Benchmark; reports items processed and the counter
/// `allocs_per_item` (global operator new calls per item during the timed loop).
template <typename Run>
void measure(benchmark::State& state, std::int64_t items_per_run, Run run) {
    run();
    long const before = allocations.load(std::memory_order_relaxed);
    for (auto _ : state) benchmark::DoNotOptimize(run());
    long const allocs = allocations.load(std::memory_order_relaxed) - before;
    auto const items = static_cast<std::int64_t>(state.iterations()) * items_per_run;
    state.SetItemsProcessed(items);
    state.counters["allocs_per_item"] = static_cast<double>(allocs) / static_cast<double>(items);
}
}  // namespace asyncpat_bench

// Kept out of line: inlined, GCC pairs the free() below with the operator new it sees at the
// call site and warns (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t size) {
    asyncpat_bench::allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept {
    std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

#endif
