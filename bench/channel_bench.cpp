// Benchmarks of the bounded channel, each beside its Asio peer (asio::experimental::channel with
// use_awaitable) in the same binary. Items = messages.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// First part of issue #3: the single-threaded workloads. The channel core is still the
// mutex-protected one; these figures are the baseline the lock-free core must beat.
#include <asyncpat/channel.hpp>

#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include "bench_support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {

using asyncpat_bench::measure;

constexpr int messages = 1'000'000;
constexpr int pingpong_rounds = 200'000;  // 2 messages each

using asio_channel = asio::experimental::channel<void(std::error_code, std::uint64_t)>;

// ---- asyncpat

asyncpat::task<void> produce(asyncpat::sender<std::uint64_t> tx, int n) {
    for (int i = 0; i < n; ++i) co_await tx.send(static_cast<std::uint64_t>(i));
}

asyncpat::task<std::uint64_t> consume(asyncpat::receiver<std::uint64_t> rx) {
    std::uint64_t sum = 0;
    while (auto v = co_await rx.receive()) sum += *v;
    co_return sum;
}

asyncpat::task<std::uint64_t> spsc_asyncpat(int n) {
    auto [tx, rx] = asyncpat::make_channel<std::uint64_t>(1024);
    auto producer =
        asyncpat::spawn(co_await asyncpat::this_task::executor, produce(std::move(tx), n));
    std::uint64_t const sum = co_await consume(std::move(rx));
    co_await producer;
    co_return sum;
}

asyncpat::task<void> ponger(asyncpat::receiver<std::uint64_t> in,
                            asyncpat::sender<std::uint64_t> out) {
    while (auto v = co_await in.receive()) co_await out.send(*v + 1);
}

asyncpat::task<std::uint64_t> pingpong_asyncpat(int rounds) {
    auto [ping_tx, ping_rx] = asyncpat::make_channel<std::uint64_t>(1);
    auto [pong_tx, pong_rx] = asyncpat::make_channel<std::uint64_t>(1);
    auto other = asyncpat::spawn(co_await asyncpat::this_task::executor,
                                 ponger(std::move(ping_rx), std::move(pong_tx)));
    std::uint64_t v = 0;
    for (int i = 0; i < rounds; ++i) {
        co_await ping_tx.send(v);
        v = *co_await pong_rx.receive();
    }
    ping_tx.close();
    co_await other;
    co_return v;
}

// ---- Asio

asio::awaitable<void> produce_asio(asio_channel& ch, int n) {
    for (int i = 0; i < n; ++i)
        co_await ch.async_send(std::error_code{}, static_cast<std::uint64_t>(i),
                               asio::use_awaitable);
    ch.close();
}

asio::awaitable<std::uint64_t> spsc_asio(int n) {
    auto ex = co_await asio::this_coro::executor;
    asio_channel ch(ex, 1024);
    asio::co_spawn(ex, produce_asio(ch, n), asio::detached);
    std::uint64_t sum = 0;
    for (;;) {
        std::error_code ec;
        std::uint64_t v = 0;
        try {
            v = co_await ch.async_receive(asio::use_awaitable);
        } catch (const std::system_error&) {
            break;  // closed
        }
        sum += v;
        (void)ec;
    }
    co_return sum;
}

asio::awaitable<void> ponger_asio(asio_channel& in, asio_channel& out) {
    try {
        for (;;) {
            auto v = co_await in.async_receive(asio::use_awaitable);
            co_await out.async_send(std::error_code{}, v + 1, asio::use_awaitable);
        }
    } catch (const std::system_error&) {
    }
}

asio::awaitable<std::uint64_t> pingpong_asio(int rounds) {
    auto ex = co_await asio::this_coro::executor;
    asio_channel ping(ex, 1), pong(ex, 1);
    asio::co_spawn(ex, ponger_asio(ping, pong), asio::detached);
    std::uint64_t v = 0;
    for (int i = 0; i < rounds; ++i) {
        co_await ping.async_send(std::error_code{}, v, asio::use_awaitable);
        v = co_await pong.async_receive(asio::use_awaitable);
    }
    ping.close();
    co_return v;
}

std::uint64_t run_asio(asio::io_context& io, asio::awaitable<std::uint64_t> work) {
    std::uint64_t result = 0;
    asio::co_spawn(io, std::move(work),
                   [&result](std::exception_ptr, std::uint64_t v) { result = v; });
    io.restart();
    io.run();
    return result;
}

void BM_channel_spsc_1thread_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, messages, [&] { return asyncpat::sync_wait(io, spsc_asyncpat(messages)); });
}

void BM_channel_spsc_1thread_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, messages, [&] { return run_asio(io, spsc_asio(messages)); });
}

void BM_channel_pingpong_1thread_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, 2 * pingpong_rounds,
            [&] { return asyncpat::sync_wait(io, pingpong_asyncpat(pingpong_rounds)); });
}

void BM_channel_pingpong_1thread_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, 2 * pingpong_rounds,
            [&] { return run_asio(io, pingpong_asio(pingpong_rounds)); });
}

}  // namespace

BENCHMARK(BM_channel_spsc_1thread_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_spsc_1thread_asio)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_pingpong_1thread_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_pingpong_1thread_asio)->Unit(benchmark::kMillisecond);
