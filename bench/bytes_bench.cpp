// Benchmarks of bytes/bytes_mut, each beside the hand-rolled C++ alternatives in the same
// binary. Items = operations (slices, splits, adoptions).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/bytes.hpp>

#include "bench_support.hpp"

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace {

using asyncpat_bench::after_a_thread_started;
using asyncpat_bench::measure;

constexpr std::size_t buffer_size = 64 * 1024;
constexpr std::size_t slice_size = 512;
constexpr int slices_per_run = 10'000;
constexpr std::size_t frame_size = 1024;
constexpr int frames_per_round = 64;
constexpr int rounds_per_run = 100;
constexpr int adoptions_per_run = 10'000;
constexpr std::size_t adopted_size = 1024;

std::vector<std::uint8_t> filled_vector(std::size_t size) {
    std::vector<std::uint8_t> v(size);
    for (std::size_t i = 0; i < size; ++i) v[i] = static_cast<std::uint8_t>(i);
    return v;
}

// ---- slice + clone + drop: a 512-byte slice at offset i % 1000 of a 64 KiB buffer, one more
// handle to it, both dropped.

void BM_bytes_slice_clone_drop_asyncpat(benchmark::State& state) {
    asyncpat::bytes const whole(filled_vector(buffer_size));
    measure(state, slices_per_run, [&] {
        std::uintptr_t sum = 0;
        for (int i = 0; i < slices_per_run; ++i) {
            std::size_t const offset = static_cast<std::size_t>(i % 1000);
            asyncpat::bytes slice = whole.slice(offset, offset + slice_size);
            asyncpat::bytes clone = slice;
            benchmark::DoNotOptimize(clone.data());
            sum += clone.size();
        }
        return sum;
    });
}

// Peer: the slice copied into a new vector owned by a shared_ptr, and that shared_ptr copied.
void BM_bytes_slice_clone_drop_shared_vector_copy(benchmark::State& state) {
    auto const whole = std::make_shared<std::vector<std::uint8_t>>(filled_vector(buffer_size));
    measure(state, slices_per_run, [&] {
        std::uintptr_t sum = 0;
        for (int i = 0; i < slices_per_run; ++i) {
            auto const first = whole->begin() + i % 1000;
            auto slice = std::make_shared<std::vector<std::uint8_t>>(
                first, first + static_cast<std::ptrdiff_t>(slice_size));
            auto clone = slice;
            benchmark::DoNotOptimize(clone->data());
            sum += clone->size();
        }
        return sum;
    });
}

// Peer: the usual hand-rolled view, {shared_ptr<vector>, offset, length}.
struct shared_view {
    std::shared_ptr<const std::vector<std::uint8_t>> buffer;
    std::size_t offset;
    std::size_t length;
    const std::uint8_t* data() const noexcept { return buffer->data() + offset; }
};

void BM_bytes_slice_clone_drop_shared_ptr_view(benchmark::State& state) {
    auto const whole =
        std::make_shared<const std::vector<std::uint8_t>>(filled_vector(buffer_size));
    measure(state, slices_per_run, [&] {
        std::uintptr_t sum = 0;
        for (int i = 0; i < slices_per_run; ++i) {
            shared_view slice{whole, static_cast<std::size_t>(i % 1000), slice_size};
            shared_view clone = slice;
            benchmark::DoNotOptimize(clone.data());
            sum += clone.length;
        }
        return sum;
    });
}

// ---- split_to(1024) + freeze, 64 times per round from a filled 64 KiB buffer; the frames live
// until the round ends, then the buffer is refilled (memset).

void BM_bytes_split_to_1k_asyncpat(benchmark::State& state) {
    asyncpat::bytes_mut buffer = asyncpat::bytes_mut::with_capacity(buffer_size);
    std::vector<asyncpat::bytes> frames;
    frames.reserve(frames_per_round);
    measure(state, std::int64_t{rounds_per_run} * frames_per_round, [&] {
        std::uintptr_t sum = 0;
        for (int round = 0; round < rounds_per_run; ++round) {
            buffer.resize(buffer_size, static_cast<std::byte>(round));  // reclaims: no allocation
            for (int i = 0; i < frames_per_round; ++i)
                frames.push_back(buffer.split_to(frame_size).freeze());
            benchmark::DoNotOptimize(frames.data());
            sum += frames.back().size();
            frames.clear();
        }
        return sum;
    });
}

// Peer: each frame copied out into its own vector.
void BM_bytes_split_to_1k_vector_copy(benchmark::State& state) {
    std::vector<std::uint8_t> buffer(buffer_size);
    std::vector<std::vector<std::uint8_t>> frames;
    frames.reserve(frames_per_round);
    measure(state, std::int64_t{rounds_per_run} * frames_per_round, [&] {
        std::uintptr_t sum = 0;
        for (int round = 0; round < rounds_per_run; ++round) {
            std::memset(buffer.data(), round, buffer.size());
            for (int i = 0; i < frames_per_round; ++i) {
                auto const first = buffer.begin() + static_cast<std::ptrdiff_t>(
                                                        static_cast<std::size_t>(i) * frame_size);
                frames.emplace_back(first, first + static_cast<std::ptrdiff_t>(frame_size));
            }
            benchmark::DoNotOptimize(frames.data());
            sum += frames.back().size();
            frames.clear();
        }
        return sum;
    });
}

// ---- adopt a 1 KiB std::vector, copy the handle, drop both (the vector is made each time, by
// both sides).

void BM_bytes_from_vector_asyncpat(benchmark::State& state) {
    std::vector<std::uint8_t> const source = filled_vector(adopted_size);
    measure(state, adoptions_per_run, [&] {
        std::uintptr_t sum = 0;
        for (int i = 0; i < adoptions_per_run; ++i) {
            asyncpat::bytes adopted{std::vector<std::uint8_t>(source)};
            asyncpat::bytes clone = adopted;
            benchmark::DoNotOptimize(clone.data());
            sum += clone.size();
        }
        return sum;
    });
}

void BM_bytes_from_vector_shared_ptr(benchmark::State& state) {
    std::vector<std::uint8_t> const source = filled_vector(adopted_size);
    measure(state, adoptions_per_run, [&] {
        std::uintptr_t sum = 0;
        for (int i = 0; i < adoptions_per_run; ++i) {
            auto adopted = std::make_shared<const std::vector<std::uint8_t>>(
                std::vector<std::uint8_t>(source));
            auto clone = adopted;
            benchmark::DoNotOptimize(clone->data());
            sum += clone->size();
        }
        return sum;
    });
}

}  // namespace

BENCHMARK(BM_bytes_slice_clone_drop_asyncpat);
BENCHMARK(BM_bytes_slice_clone_drop_shared_vector_copy);
BENCHMARK(BM_bytes_slice_clone_drop_shared_ptr_view);
BENCHMARK(BM_bytes_split_to_1k_asyncpat);
BENCHMARK(BM_bytes_split_to_1k_vector_copy);
BENCHMARK(BM_bytes_from_vector_asyncpat);
BENCHMARK(BM_bytes_from_vector_shared_ptr);
// The slice rows again once the process has started a thread, as every program that shares
// buffers between threads has: libstdc++'s shared_ptr and asyncpat's bytes both count without
// atomic operations while the process is single-threaded (__libc_single_threaded) and with them
// afterwards. Registered last: the process stays multi-threaded for the rest of the run.
BENCHMARK(after_a_thread_started<BM_bytes_slice_clone_drop_asyncpat>)
    ->Name("BM_bytes_slice_clone_drop_asyncpat_threaded");
BENCHMARK(after_a_thread_started<BM_bytes_slice_clone_drop_shared_ptr_view>)
    ->Name("BM_bytes_slice_clone_drop_shared_ptr_view_threaded");
