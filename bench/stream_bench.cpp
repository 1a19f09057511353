// Benchmarks of streams, each beside its peer in the same binary. Items = stream items.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/stream.hpp>

#include <asyncpat/bytes.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include "bench_support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/experimental/coro.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <vector>

namespace {

using asyncpat_bench::measure;

constexpr std::uint64_t items = 1'000'000;

// ---- map / filter / sum over a generator of 0 .. 10^6

asyncpat::generator<std::uint64_t> numbers(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) co_yield i;
}

asyncpat::task<std::uint64_t> map_filter_sum_asyncpat(std::uint64_t n) {
    co_return co_await asyncpat::fold(
        numbers(n) | asyncpat::map([](std::uint64_t x) { return x * 3; }) |
            asyncpat::filter([](std::uint64_t x) { return x % 2 == 0; }),
        std::uint64_t{0}, [](std::uint64_t sum, std::uint64_t x) { return sum + x; });
}

void BM_stream_map_filter_sum_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, items, [&] { return asyncpat::sync_wait(io, map_filter_sum_asyncpat(items)); });
}

asio::experimental::coro<std::uint64_t> numbers_asio(asio::any_io_executor, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) co_yield i;
}

// The consumer is a coro too, so that it awaits the generator directly (symmetric transfer on
// the same executor), the fastest way Asio offers.
asio::experimental::coro<void, std::uint64_t> map_filter_sum_asio(asio::any_io_executor ex,
                                                                  std::uint64_t n) {
    auto source = numbers_asio(ex, n);
    std::uint64_t sum = 0;
    while (auto x = co_await source) {
        std::uint64_t const y = *x * 3;
        if (y % 2 == 0) sum += y;
    }
    co_return sum;
}

void BM_stream_map_filter_sum_asio_coro(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, items, [&] {
        std::uint64_t result = 0;
        auto consumer = map_filter_sum_asio(io.get_executor(), items);
        consumer.async_resume([&result](std::exception_ptr, std::uint64_t sum) { result = sum; });
        io.restart();
        io.run();
        return result;
    });
}

void BM_stream_map_filter_sum_plain_loop(benchmark::State& state) {
    measure(state, items, [] {
        std::uint64_t n = items;
        benchmark::DoNotOptimize(n);  // not a constant: the loop is not folded away
        std::uint64_t sum = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            std::uint64_t const y = i * 3;
            if (y % 2 == 0) sum += y;
        }
        return sum;
    });
}

}  // namespace

BENCHMARK(BM_stream_map_filter_sum_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_map_filter_sum_asio_coro)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_map_filter_sum_plain_loop)->Unit(benchmark::kMillisecond);
