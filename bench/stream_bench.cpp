// Benchmarks of streams, each beside its peer in the same binary. Items = stream items.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/stream.hpp>

#include <asyncpat/bytes.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/local_channel.hpp>
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

#include <coroutine>
#include <cstdint>
#include <exception>
#include <system_error>
#include <utility>
#include <vector>

namespace {

using asyncpat_bench::after_a_thread_started;
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

// The floors: the least a generator coroutine can cost per item on this machine, written bare in
// this file, with none of a stream's duties (no executor or cancellation context, no exception
// path, no adapters; the map and the filter are written into the consumer). Not usable code,
// only yardsticks for the rows above:
// - push: what asyncpat's generator does (each co_yield calls the consumer's sink through a
//   function pointer, and the generator resumes at once when the sink wants more);
// - pull: the textbook generator (std::generator, cppcoro): the consumer resumes the generator
//   for each item, which suspends back at its co_yield and hands over a pointer to the item.
// In both, the generator's loop counter lives in its frame and goes through memory on every item
// (the call or the switch between producer and consumer is opaque to the optimiser), which the
// plain loop does not pay.
namespace floor {
template <typename Promise>
struct owned_coroutine {
    using promise_type = Promise;
    std::coroutine_handle<Promise> handle;
    explicit owned_coroutine(std::coroutine_handle<Promise> h) noexcept : handle(h) {}
    owned_coroutine(owned_coroutine&& other) noexcept
        : handle(std::exchange(other.handle, nullptr)) {}
    owned_coroutine& operator=(owned_coroutine&&) = delete;
    ~owned_coroutine() {
        if (handle) handle.destroy();
    }
};

struct push_promise;
using push_generator = owned_coroutine<push_promise>;
struct push_promise {
    bool (*sink)(void*, std::uint64_t) = nullptr;  // true: more
    void* sink_object = nullptr;
    struct yield_awaiter {
        bool more;
        bool await_ready() const noexcept { return more; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        void await_resume() const noexcept {}
    };
    push_generator get_return_object() noexcept {
        return push_generator{std::coroutine_handle<push_promise>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_always final_suspend() const noexcept { return {}; }
    [[gnu::always_inline]] yield_awaiter yield_value(std::uint64_t item) noexcept {
        return {sink(sink_object, item)};
    }
    void return_void() const noexcept {}
    [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
};

push_generator numbers_push(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) co_yield i;
}

[[gnu::noinline]] std::uint64_t map_filter_sum_push(push_generator numbers) {
    std::uint64_t sum = 0;
    numbers.handle.promise().sink_object = &sum;
    numbers.handle.promise().sink = [](void* sum_object, std::uint64_t x) {
        std::uint64_t const y = x * 3;
        if (y % 2 == 0) *static_cast<std::uint64_t*>(sum_object) += y;
        return true;
    };
    numbers.handle.resume();  // runs to the end: the sink always wants more
    return sum;
}

struct pull_promise;
using pull_generator = owned_coroutine<pull_promise>;
struct pull_promise {
    std::uint64_t const* item = nullptr;
    pull_generator get_return_object() noexcept {
        return pull_generator{std::coroutine_handle<pull_promise>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_always final_suspend() const noexcept { return {}; }
    std::suspend_always yield_value(std::uint64_t const& value) noexcept {
        item = &value;
        return {};
    }
    void return_void() const noexcept {}
    [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
};

pull_generator numbers_pull(std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) co_yield i;
}

[[gnu::noinline]] std::uint64_t map_filter_sum_pull(pull_generator numbers) {
    std::uint64_t sum = 0;
    for (;;) {
        numbers.handle.resume();
        if (numbers.handle.done()) break;
        std::uint64_t const y = *numbers.handle.promise().item * 3;
        if (y % 2 == 0) sum += y;
    }
    return sum;
}
}  // namespace floor

void BM_stream_map_filter_sum_floor_push(benchmark::State& state) {
    measure(state, items, [] {
        std::uint64_t n = items;
        benchmark::DoNotOptimize(n);
        return floor::map_filter_sum_push(floor::numbers_push(n));
    });
}

void BM_stream_map_filter_sum_floor_pull(benchmark::State& state) {
    measure(state, items, [] {
        std::uint64_t n = items;
        benchmark::DoNotOptimize(n);
        return floor::map_filter_sum_pull(floor::numbers_pull(n));
    });
}

// ---- the worker + channel pattern: events in, owned snapshots out, read as a stream

template <typename Sender>
asyncpat::task<void> emit_events(Sender tx, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) co_await tx.send(i);
}

// The worker owns its buffer; each event appends 8 bytes, and the 8 new bytes leave as an owned,
// immutable `bytes` that shares the buffer (split_to + freeze: no copy). The buffer is refilled
// in place once the consumer has dropped the earlier snapshots (reserve reclaims it).
template <typename Receiver, typename Sender>
asyncpat::task<void> snapshot_worker(Receiver events, Sender snapshots) {
    asyncpat::bytes_mut buffer;
    while (auto event = co_await events.receive()) {
        if (buffer.capacity() - buffer.size() < 8) buffer.reserve(64 * 1024);
        buffer.put_u64_le(*event);
        co_await snapshots.send(buffer.split_to(8).freeze());
    }
}

// The channels: thread-safe ones, or local ones (everything runs on one thread here, as in the
// Asio peer, whose channel is Asio's single-threaded one).
struct concurrent_channels {
    template <typename T>
    static auto make(std::size_t capacity) {
        return asyncpat::make_channel<T>(capacity);
    }
};
struct local_channels {
    template <typename T>
    static auto make(std::size_t capacity) {
        return asyncpat::make_local_channel<T>(capacity);
    }
};

template <typename Channels>
asyncpat::task<std::uint64_t> worker_snapshots_asyncpat(std::uint64_t n) {
    auto ex = co_await asyncpat::this_task::executor;
    auto [event_tx, event_rx] = Channels::template make<std::uint64_t>(1024);
    auto [snapshot_tx, snapshot_rx] = Channels::template make<asyncpat::bytes>(1024);
    auto feeder = asyncpat::spawn(ex, emit_events(std::move(event_tx), n));
    auto worker = asyncpat::spawn(ex, snapshot_worker(std::move(event_rx), std::move(snapshot_tx)));
    std::uint64_t const total = co_await asyncpat::fold(
        std::move(snapshot_rx), std::uint64_t{0},
        [](std::uint64_t sum, const asyncpat::bytes& b) { return sum + b.size(); });
    co_await feeder;
    co_await worker;
    co_return total;
}

void BM_stream_worker_snapshots_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, items, [&] {
        return asyncpat::sync_wait(io, worker_snapshots_asyncpat<concurrent_channels>(items));
    });
}

void BM_stream_worker_snapshots_asyncpat_local(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, items, [&] {
        return asyncpat::sync_wait(io, worker_snapshots_asyncpat<local_channels>(items));
    });
}

using asio_event_channel = asio::experimental::channel<void(std::error_code, std::uint64_t)>;
using asio_snapshot_channel =
    asio::experimental::channel<void(std::error_code, std::vector<std::uint8_t>)>;

asio::awaitable<void> emit_events_asio(asio_event_channel& tx, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
        co_await tx.async_send(std::error_code{}, i, asio::use_awaitable);
    tx.close();
}

// The hand-rolled peer: the worker's buffer is a vector, and a snapshot is a copy of the new
// bytes in a vector of its own.
asio::awaitable<void> snapshot_worker_asio(asio_event_channel& events,
                                           asio_snapshot_channel& snapshots) {
    std::vector<std::uint8_t> buffer;
    for (;;) {
        std::uint64_t event = 0;
        try {
            event = co_await events.async_receive(asio::use_awaitable);
        } catch (const std::system_error&) {
            break;  // closed
        }
        if (buffer.size() >= 64 * 1024) buffer.clear();
        std::size_t const at = buffer.size();
        for (int b = 0; b < 8; ++b) buffer.push_back(static_cast<std::uint8_t>(event >> (8 * b)));
        co_await snapshots.async_send(
            std::error_code{},
            std::vector<std::uint8_t>(buffer.begin() + static_cast<std::ptrdiff_t>(at),
                                      buffer.end()),
            asio::use_awaitable);
    }
    snapshots.close();
}

asio::awaitable<std::uint64_t> worker_snapshots_asio(std::uint64_t n) {
    auto ex = co_await asio::this_coro::executor;
    asio_event_channel events(ex, 1024);
    asio_snapshot_channel snapshots(ex, 1024);
    asio::co_spawn(ex, emit_events_asio(events, n), asio::detached);
    asio::co_spawn(ex, snapshot_worker_asio(events, snapshots), asio::detached);
    std::uint64_t total = 0;
    for (;;) {
        try {
            total += (co_await snapshots.async_receive(asio::use_awaitable)).size();
        } catch (const std::system_error&) {
            break;
        }
    }
    co_return total;
}

void BM_stream_worker_snapshots_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, items, [&] {
        std::uint64_t result = 0;
        asio::co_spawn(io, worker_snapshots_asio(items),
                       [&result](std::exception_ptr, std::uint64_t v) { result = v; });
        io.restart();
        io.run();
        return result;
    });
}

}  // namespace

BENCHMARK(BM_stream_map_filter_sum_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_map_filter_sum_asio_coro)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_map_filter_sum_plain_loop)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_map_filter_sum_floor_push)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_map_filter_sum_floor_pull)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_worker_snapshots_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_worker_snapshots_asyncpat_local)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_stream_worker_snapshots_asio)->Unit(benchmark::kMillisecond);
// The worker + channel pattern once the process has started a thread, as every program that
// shares channels between threads has: the thread-safe channels' lock-free paths and the bytes'
// reference counts then use atomic operations (before, they see a single-threaded process and
// skip them; see bench_support.hpp). Registered last: the process stays multi-threaded.
BENCHMARK(after_a_thread_started<BM_stream_worker_snapshots_asyncpat>)
    ->Name("BM_stream_worker_snapshots_asyncpat_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_stream_worker_snapshots_asio>)
    ->Name("BM_stream_worker_snapshots_asio_threaded")
    ->Unit(benchmark::kMillisecond);
