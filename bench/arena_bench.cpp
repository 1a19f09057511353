// Benchmarks of message_arena beside the seed's design (a shared_mutex-protected vector of
// shared_ptr<vector>) and make_shared. Items = operations.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/arena.hpp>

#include "bench_support.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <vector>

namespace {

using asyncpat_bench::after_a_thread_started;
using asyncpat_bench::measure;

constexpr std::size_t live = 1024;
constexpr std::size_t message_bytes = 256;
constexpr std::int64_t reads = 1'000'000;
constexpr std::int64_t cycles = 1'000'000;

std::vector<std::byte> payload(std::size_t n, std::size_t seed) {
    std::vector<std::byte> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i + seed) & 0xFF);
    return out;
}

// The seed's arena: messages stored once, read by index through a shared lock; it never frees.
class seed_arena {
public:
    std::size_t alloc(std::span<const std::byte> data) {
        auto message = std::make_shared<std::vector<std::uint8_t>>(
            reinterpret_cast<const std::uint8_t*>(data.data()),
            reinterpret_cast<const std::uint8_t*>(data.data()) + data.size());
        std::unique_lock lock(mutex_);
        messages_.push_back(std::move(message));
        return messages_.size() - 1;
    }
    std::shared_ptr<std::vector<std::uint8_t>> get(std::size_t index) const {
        std::shared_lock lock(mutex_);
        return messages_[index];
    }

private:
    mutable std::shared_mutex mutex_;
    std::vector<std::shared_ptr<std::vector<std::uint8_t>>> messages_;
};

// ---- get: 10^6 reads of existing messages by their index-like handles (the seed: get(index)
// under a shared lock, copying the shared_ptr)

// asyncpat: reads through weak_message_refs in read sections of 64 reads each (a section costs
// an atomic increment and decrement; a read costs a generation check).
constexpr std::int64_t reads_per_section = 64;

void BM_arena_get_asyncpat(benchmark::State& state) {
    asyncpat::message_arena arena(live, message_bytes);
    std::vector<asyncpat::message_ref> owners;
    std::vector<asyncpat::weak_message_ref> handles;
    for (std::size_t i = 0; i < live; ++i) {
        owners.push_back(arena.try_alloc(payload(message_bytes, i)));
        handles.push_back(owners.back().weak());
    }
    measure(state, reads, [&] {
        std::uint64_t sum = 0;
        for (std::int64_t first = 0; first < reads; first += reads_per_section) {
            asyncpat::arena_read_section const section = arena.read_section();
            for (std::int64_t i = first; i < first + reads_per_section && i < reads; ++i) {
                std::optional<std::span<const std::byte>> const message =
                    section.get(handles[static_cast<std::size_t>(i) % live]);
                sum += static_cast<std::uint64_t>(
                    (*message)[static_cast<std::size_t>(i) % message_bytes]);
            }
        }
        return sum;
    });
}

// asyncpat, taking shared ownership for each read: upgrading the weak ref with lock (a CAS in,
// a decrement out), as the seed's get copies a shared_ptr.
void BM_arena_get_lock_asyncpat(benchmark::State& state) {
    asyncpat::message_arena arena(live, message_bytes);
    std::vector<asyncpat::message_ref> owners;
    std::vector<asyncpat::weak_message_ref> handles;
    for (std::size_t i = 0; i < live; ++i) {
        owners.push_back(arena.try_alloc(payload(message_bytes, i)));
        handles.push_back(owners.back().weak());
    }
    measure(state, reads, [&] {
        std::uint64_t sum = 0;
        for (std::int64_t i = 0; i < reads; ++i) {
            asyncpat::message_ref const ref =
                arena.lock(handles[static_cast<std::size_t>(i) % live]);
            sum +=
                static_cast<std::uint64_t>(ref.span()[static_cast<std::size_t>(i) % message_bytes]);
        }
        return sum;
    });
}

// What asyncpat's pattern does instead of a lookup: the task holds a message_ref and reads
// through it (no atomic operation, no lock). Not the workload; shown for comparison.
void BM_arena_read_held_ref_asyncpat(benchmark::State& state) {
    asyncpat::message_arena arena(live, message_bytes);
    std::vector<asyncpat::message_ref> owners;
    for (std::size_t i = 0; i < live; ++i)
        owners.push_back(arena.try_alloc(payload(message_bytes, i)));
    measure(state, reads, [&] {
        std::uint64_t sum = 0;
        for (std::int64_t i = 0; i < reads; ++i) {
            const asyncpat::message_ref& ref = owners[static_cast<std::size_t>(i) % live];
            sum +=
                static_cast<std::uint64_t>(ref.span()[static_cast<std::size_t>(i) % message_bytes]);
        }
        return sum;
    });
}

void BM_arena_get_seed_design(benchmark::State& state) {
    seed_arena arena;
    std::vector<std::size_t> handles;
    for (std::size_t i = 0; i < live; ++i)
        handles.push_back(arena.alloc(payload(message_bytes, i)));
    measure(state, reads, [&] {
        std::uint64_t sum = 0;
        for (std::int64_t i = 0; i < reads; ++i) {
            auto const message = arena.get(handles[static_cast<std::size_t>(i) % live]);
            sum += (*message)[static_cast<std::size_t>(i) % message_bytes];
        }
        return sum;
    });
}

// ---- steady state: 1024 live messages; allocate one, read one, release the oldest

void BM_arena_alloc_get_release_asyncpat(benchmark::State& state) {
    asyncpat::message_arena arena(live + 1, message_bytes);
    std::vector<std::byte> const data = payload(message_bytes, 1);
    std::vector<asyncpat::message_ref> ring(live);
    measure(state, cycles, [&] {
        std::uint64_t sum = 0;
        for (std::int64_t i = 0; i < cycles; ++i) {
            std::size_t const slot = static_cast<std::size_t>(i) % live;
            asyncpat::message_ref fresh = arena.try_alloc(data);                    // allocate
            sum += static_cast<std::uint64_t>(fresh.span()[slot % message_bytes]);  // read
            ring[slot] = std::move(fresh);  // release the oldest
        }
        return sum;
    });
}

void BM_arena_alloc_get_release_make_shared(benchmark::State& state) {
    std::vector<std::byte> const data = payload(message_bytes, 1);
    std::vector<std::shared_ptr<const std::vector<std::uint8_t>>> ring(live);
    auto const* begin = reinterpret_cast<const std::uint8_t*>(data.data());
    measure(state, cycles, [&] {
        std::uint64_t sum = 0;
        for (std::int64_t i = 0; i < cycles; ++i) {
            std::size_t const slot = static_cast<std::size_t>(i) % live;
            auto fresh =
                std::make_shared<const std::vector<std::uint8_t>>(begin, begin + data.size());
            sum += (*fresh)[slot % message_bytes];
            ring[slot] = std::move(fresh);
        }
        return sum;
    });
}

// The seed's design cannot free: its alloc alone, 10^5 per run on a fresh arena (dropped with
// the timer paused, so only the allocations are measured).
void BM_arena_alloc_get_release_seed_design(benchmark::State& state) {
    constexpr std::int64_t per_run = 100'000;
    std::vector<std::byte> const data = payload(message_bytes, 1);
    std::int64_t allocations_before = asyncpat_bench::allocations.load();
    for (auto _ : state) {
        auto arena = std::make_unique<seed_arena>();
        std::size_t last = 0;
        for (std::int64_t i = 0; i < per_run; ++i) last = arena->alloc(data);
        benchmark::DoNotOptimize(last);
        state.PauseTiming();
        arena.reset();
        state.ResumeTiming();
    }
    auto const items = static_cast<std::int64_t>(state.iterations()) * per_run;
    state.SetItemsProcessed(items);
    state.counters["allocs_per_item"] =
        static_cast<double>(asyncpat_bench::allocations.load() - allocations_before) /
        static_cast<double>(items);
}

}  // namespace

BENCHMARK(BM_arena_get_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_arena_get_seed_design)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_arena_get_lock_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_arena_read_held_ref_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_arena_alloc_get_release_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_arena_alloc_get_release_seed_design)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_arena_alloc_get_release_make_shared)->Unit(benchmark::kMillisecond);
// The alloc/get/release rows once the process has started a thread, as every program that
// shares an arena between threads has: libstdc++'s shared_ptr, glibc's malloc and the arena then
// use atomic operations (before, they see a single-threaded process and skip them). Registered
// last, because the process stays multi-threaded for the rest of the run.
BENCHMARK(after_a_thread_started<BM_arena_alloc_get_release_asyncpat>)
    ->Name("BM_arena_alloc_get_release_asyncpat_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_arena_alloc_get_release_make_shared>)
    ->Name("BM_arena_alloc_get_release_make_shared_threaded")
    ->Unit(benchmark::kMillisecond);
