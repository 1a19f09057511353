// Benchmarks of the bounded channel, each beside its Asio peer (asio::experimental::channel with
// use_awaitable) in the same binary. Items = messages.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/channel.hpp>

#include <asyncpat/local_channel.hpp>
#include <asyncpat/oneshot.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include "bench_support.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace {

using asyncpat_bench::after_a_thread_started;
using asyncpat_bench::measure;

constexpr int messages = 1'000'000;
constexpr int pingpong_rounds = 200'000;  // 2 messages each

using asio_channel = asio::experimental::channel<void(std::error_code, std::uint64_t)>;
using asio_concurrent_channel =
    asio::experimental::concurrent_channel<void(std::error_code, std::uint64_t)>;
constexpr int mpsc_producers = 4;
constexpr int oneshot_rounds = 100'000;
constexpr int bridge_messages = 200'000;

// ---- asyncpat

// The thread-safe channel and the local (single-thread) one, for the one-thread workloads.
struct concurrent_channel {
    static auto make(std::size_t capacity) {
        return asyncpat::make_channel<std::uint64_t>(capacity);
    }
};
struct local_channel {
    static auto make(std::size_t capacity) {
        return asyncpat::make_local_channel<std::uint64_t>(capacity);
    }
};

template <typename Sender>
asyncpat::task<void> produce(Sender tx, int n) {
    for (int i = 0; i < n; ++i) co_await tx.send(static_cast<std::uint64_t>(i));
}

template <typename Receiver>
asyncpat::task<std::uint64_t> consume(Receiver rx) {
    std::uint64_t sum = 0;
    while (auto v = co_await rx.receive()) sum += *v;
    co_return sum;
}

template <typename Channel>
asyncpat::task<std::uint64_t> spsc_asyncpat(int n) {
    auto [tx, rx] = Channel::make(1024);
    auto producer =
        asyncpat::spawn(co_await asyncpat::this_task::executor, produce(std::move(tx), n));
    std::uint64_t const sum = co_await consume(std::move(rx));
    co_await producer;
    co_return sum;
}

template <typename Receiver, typename Sender>
asyncpat::task<void> ponger(Receiver in, Sender out) {
    while (auto v = co_await in.receive()) co_await out.send(*v + 1);
}

template <typename Channel>
asyncpat::task<std::uint64_t> pingpong_asyncpat(int rounds) {
    auto [ping_tx, ping_rx] = Channel::make(1);
    auto [pong_tx, pong_rx] = Channel::make(1);
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

// ---- The ping-pong floor: the least two coroutines can pay to bounce a value through
// capacity-1 slots on this machine, written bare in this file: a slot and a waiting-receiver
// pointer per channel, one ready slot, symmetric transfer, frames from a thread-local free list;
// none of a channel's duties (no executor, cancellation, work counting, close, waiter lists,
// budget, thread checks). Not usable code, only the yardstick for the ping-pong rows.
namespace floor {
struct free_block {
    free_block* next;
};
inline thread_local free_block* free_list = nullptr;
inline thread_local std::coroutine_handle<> ready;  // the coroutine to run next

inline std::coroutine_handle<> next_or_noop() noexcept {
    if (ready) return std::exchange(ready, nullptr);
    return std::noop_coroutine();
}

struct task {
    struct promise_type {
        static void* operator new(std::size_t size) {
            if (free_block* block = free_list) {
                free_list = block->next;
                return block;
            }
            return ::operator new(size < 256 ? 256 : size);
        }
        static void operator delete(void* p, std::size_t) noexcept {
            auto* block = static_cast<free_block*>(p);
            block->next = free_list;
            free_list = block;
        }
        struct final_awaiter {
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
                return next_or_noop();
            }
            void await_resume() const noexcept {}
        };
        task get_return_object() noexcept {
            return task{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        final_awaiter final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
    };
    std::coroutine_handle<promise_type> handle;
};

struct channel {
    struct receive_waiter {
        std::coroutine_handle<> handle;
        std::optional<std::uint64_t> value;
    };
    std::optional<std::uint64_t> slot;  // capacity 1
    receive_waiter* waiting = nullptr;
    bool closed = false;
};

// The sender never waits in a ping-pong: the slot is free or a receiver waits.
struct send_awaiter {
    channel& ch;
    std::uint64_t value;
    bool await_ready() noexcept {
        if (channel::receive_waiter* w = std::exchange(ch.waiting, nullptr)) {
            w->value = value;
            ready = w->handle;
        } else {
            ch.slot = value;
        }
        return true;
    }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept {}
};

struct receive_awaiter {
    channel& ch;
    channel::receive_waiter waiter{};
    bool await_ready() noexcept {
        if (ch.slot) {
            waiter.value = std::exchange(ch.slot, std::nullopt);
            return true;
        }
        return ch.closed;
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
        waiter.handle = h;
        ch.waiting = &waiter;
        return next_or_noop();
    }
    std::optional<std::uint64_t> await_resume() noexcept { return waiter.value; }
};

task ponger(channel& in, channel& out) {
    while (std::optional<std::uint64_t> v = co_await receive_awaiter{in})
        co_await send_awaiter{out, *v + 1};
}

task pinger(channel& ping, channel& pong, int rounds, std::uint64_t* result) {
    std::uint64_t v = 0;
    for (int i = 0; i < rounds; ++i) {
        co_await send_awaiter{ping, v};
        v = *co_await receive_awaiter{pong};
    }
    ping.closed = true;
    if (channel::receive_waiter* w = std::exchange(ping.waiting, nullptr)) ready = w->handle;
    *result = v;
}

inline std::uint64_t pingpong(int rounds) {
    channel ping, pong;
    std::uint64_t result = 0;
    task const other = ponger(ping, pong);
    task const self = pinger(ping, pong, rounds, &result);
    other.handle.resume();  // waits for the first ping
    self.handle.resume();   // runs the rounds, handing over by symmetric transfer
    while (ready) std::exchange(ready, nullptr).resume();
    other.handle.destroy();
    self.handle.destroy();
    return result;
}
}  // namespace floor

void BM_channel_pingpong_1thread_floor(benchmark::State& state) {
    measure(state, 2 * pingpong_rounds, [] { return floor::pingpong(pingpong_rounds); });
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
    measure(state, messages,
            [&] { return asyncpat::sync_wait(io, spsc_asyncpat<concurrent_channel>(messages)); });
}

void BM_channel_spsc_1thread_asyncpat_local(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, messages,
            [&] { return asyncpat::sync_wait(io, spsc_asyncpat<local_channel>(messages)); });
}

void BM_channel_spsc_1thread_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, messages, [&] { return run_asio(io, spsc_asio(messages)); });
}

void BM_channel_pingpong_1thread_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, 2 * pingpong_rounds, [&] {
        return asyncpat::sync_wait(io, pingpong_asyncpat<concurrent_channel>(pingpong_rounds));
    });
}

void BM_channel_pingpong_1thread_asyncpat_local(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, 2 * pingpong_rounds, [&] {
        return asyncpat::sync_wait(io, pingpong_asyncpat<local_channel>(pingpong_rounds));
    });
}

void BM_channel_pingpong_1thread_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, 2 * pingpong_rounds,
            [&] { return run_asio(io, pingpong_asio(pingpong_rounds)); });
}

// ---- two threads: producer and consumer each on their own io_context and thread

asyncpat::task<void> consume_into(asyncpat::receiver<std::uint64_t> rx, std::uint64_t& sum) {
    sum = co_await consume(std::move(rx));
}

// Runs each io_context on its own thread until it runs out of work.
void run_on_threads(std::vector<asio::io_context*> contexts) {
    std::vector<std::thread> threads;
    for (auto* io : contexts) {
        io->restart();
        threads.emplace_back([io] { io->run(); });
    }
    for (auto& t : threads) t.join();
}

using asyncpat_producer = asyncpat::task<void> (*)(asyncpat::sender<std::uint64_t>, int);

// One producer task made by `producer` on producer_io, the consumer on consumer_io.
std::uint64_t spsc_2threads_asyncpat(
    asio::io_context& producer_io, asio::io_context& consumer_io, int n,
    asyncpat_producer producer = &produce<asyncpat::sender<std::uint64_t>>) {
    auto [tx, rx] = asyncpat::make_channel<std::uint64_t>(1024);
    asyncpat::spawn(producer_io, producer(std::move(tx), n)).detach();
    std::uint64_t sum = 0;
    asyncpat::spawn(consumer_io, consume_into(std::move(rx), sum)).detach();
    run_on_threads({&producer_io, &consumer_io});
    return sum;
}

asio::awaitable<void> produce_concurrent(asio_concurrent_channel& ch, int n) {
    for (int i = 0; i < n; ++i)
        co_await ch.async_send(std::error_code{}, static_cast<std::uint64_t>(i),
                               asio::use_awaitable);
}

asio::awaitable<void> consume_concurrent(asio_concurrent_channel& ch, int n, std::uint64_t& sum) {
    for (int i = 0; i < n; ++i) sum += co_await ch.async_receive(asio::use_awaitable);
}

using asio_producer = asio::awaitable<void> (*)(asio_concurrent_channel&, int);

// `producers` producer coroutines made by `producer` on producer_io, the consumer on
// consumer_io.
std::uint64_t spsc_2threads_asio(asio::io_context& producer_io, asio::io_context& consumer_io,
                                 int producers, int n,
                                 asio_producer producer = &produce_concurrent) {
    asio_concurrent_channel ch(consumer_io, 1024);
    std::uint64_t sum = 0;
    for (int p = 0; p < producers; ++p)
        asio::co_spawn(producer_io, producer(ch, n / producers), asio::detached);
    asio::co_spawn(consumer_io, consume_concurrent(ch, n, sum), asio::detached);
    run_on_threads({&producer_io, &consumer_io});
    return sum;
}

// The hand-rolled peer: a bounded queue under a mutex with two condition variables, between two
// plain threads.
class mutex_queue {
public:
    explicit mutex_queue(std::size_t capacity) : capacity_(capacity) {}
    void push(std::uint64_t v) {
        std::unique_lock<std::mutex> lock(mutex_);
        not_full_.wait(lock, [&] { return items_.size() < capacity_; });
        items_.push_back(v);
        lock.unlock();
        not_empty_.notify_one();
    }
    std::uint64_t pop() {
        std::unique_lock<std::mutex> lock(mutex_);
        not_empty_.wait(lock, [&] { return !items_.empty(); });
        std::uint64_t const v = items_.front();
        items_.pop_front();
        lock.unlock();
        not_full_.notify_one();
        return v;
    }

private:
    std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable not_full_;
    std::condition_variable not_empty_;
    std::deque<std::uint64_t> items_;
};

std::uint64_t spsc_2threads_mutex_queue(int n) {
    mutex_queue queue(1024);
    std::thread producer([&] {
        for (int i = 0; i < n; ++i) queue.push(static_cast<std::uint64_t>(i));
    });
    std::uint64_t sum = 0;
    for (int i = 0; i < n; ++i) sum += queue.pop();
    producer.join();
    return sum;
}

std::uint64_t mpsc_asyncpat(asio::io_context& producer_io, asio::io_context& consumer_io, int n) {
    auto [tx, rx] = asyncpat::make_channel<std::uint64_t>(1024);
    for (int p = 0; p < mpsc_producers; ++p)
        asyncpat::spawn(producer_io, produce(tx, n / mpsc_producers)).detach();
    tx = {};
    std::uint64_t sum = 0;
    asyncpat::spawn(consumer_io, consume_into(std::move(rx), sum)).detach();
    run_on_threads({&producer_io, &consumer_io});
    return sum;
}

// ---- two threads, a producer that computes each value first (a chain of multiply-xorshift
// steps, tens of nanoseconds): the receiver is faster than the sender, so it often finds the
// channel empty and parks, and the sender pays for waking it. Not an issue #3 workload: it shows
// the regime where a faster receiver does not make the pair faster.

constexpr int busy_steps = 24;

std::uint64_t compute_value(std::uint64_t x) {
    for (int step = 0; step < busy_steps; ++step) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        x ^= x >> 29;
    }
    return x;
}

asyncpat::task<void> produce_busy(asyncpat::sender<std::uint64_t> tx, int n) {
    std::uint64_t x = 1;
    for (int i = 0; i < n; ++i) {
        x = compute_value(x);
        co_await tx.send(x);
    }
}

asio::awaitable<void> produce_busy_asio(asio_concurrent_channel& ch, int n) {
    std::uint64_t x = 1;
    for (int i = 0; i < n; ++i) {
        x = compute_value(x);
        co_await ch.async_send(std::error_code{}, x, asio::use_awaitable);
    }
}

void BM_channel_spsc_2threads_busy_producer_asyncpat(benchmark::State& state) {
    asio::io_context a(1), b(1);
    measure(state, messages, [&] { return spsc_2threads_asyncpat(a, b, messages, &produce_busy); });
}

void BM_channel_spsc_2threads_busy_producer_asio(benchmark::State& state) {
    asio::io_context a(1), b(1);
    measure(state, messages,
            [&] { return spsc_2threads_asio(a, b, 1, messages, &produce_busy_asio); });
}

void BM_channel_spsc_2threads_asyncpat(benchmark::State& state) {
    asio::io_context a(1), b(1);
    measure(state, messages, [&] { return spsc_2threads_asyncpat(a, b, messages); });
}

void BM_channel_spsc_2threads_asio(benchmark::State& state) {
    asio::io_context a(1), b(1);
    measure(state, messages, [&] { return spsc_2threads_asio(a, b, 1, messages); });
}

void BM_channel_spsc_2threads_mutex_queue(benchmark::State& state) {
    measure(state, messages, [&] { return spsc_2threads_mutex_queue(messages); });
}

void BM_channel_mpsc_4producers_2threads_asyncpat(benchmark::State& state) {
    asio::io_context a(1), b(1);
    measure(state, messages, [&] { return mpsc_asyncpat(a, b, messages); });
}

void BM_channel_mpsc_4producers_2threads_asio(benchmark::State& state) {
    asio::io_context a(1), b(1);
    measure(state, messages, [&] { return spsc_2threads_asio(a, b, mpsc_producers, messages); });
}

// ---- oneshot round trip: spawn a task that sends one value, await the value

template <typename Sender>
asyncpat::task<void> send_once(Sender tx, std::uint64_t v) {
    (void)tx.send(std::move(v));
    co_return;
}

// The thread-safe oneshot and the local (single-thread) one.
struct concurrent_oneshot {
    static auto make() { return asyncpat::make_oneshot<std::uint64_t>(); }
};
struct local_oneshot {
    static auto make() { return asyncpat::make_local_oneshot<std::uint64_t>(); }
};

template <typename Oneshot>
asyncpat::task<std::uint64_t> oneshot_asyncpat(int rounds) {
    auto ex = co_await asyncpat::this_task::executor;
    std::uint64_t sum = 0;
    for (int i = 0; i < rounds; ++i) {
        auto [tx, rx] = Oneshot::make();
        asyncpat::spawn_detached(ex, send_once(std::move(tx), static_cast<std::uint64_t>(i)));
        sum += co_await rx;
    }
    co_return sum;
}

asio::awaitable<void> send_once_asio(std::shared_ptr<asio_channel> ch, std::uint64_t v) {
    co_await ch->async_send(std::error_code{}, v, asio::use_awaitable);
}

asio::awaitable<std::uint64_t> oneshot_asio(int rounds) {
    auto ex = co_await asio::this_coro::executor;
    std::uint64_t sum = 0;
    for (int i = 0; i < rounds; ++i) {
        auto ch = std::make_shared<asio_channel>(ex, 1);
        asio::co_spawn(ex, send_once_asio(ch, static_cast<std::uint64_t>(i)), asio::detached);
        sum += co_await ch->async_receive(asio::use_awaitable);
    }
    co_return sum;
}

void BM_oneshot_roundtrip_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, oneshot_rounds, [&] {
        return asyncpat::sync_wait(io, oneshot_asyncpat<concurrent_oneshot>(oneshot_rounds));
    });
}

void BM_oneshot_roundtrip_asyncpat_local(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, oneshot_rounds, [&] {
        return asyncpat::sync_wait(io, oneshot_asyncpat<local_oneshot>(oneshot_rounds));
    });
}

void BM_oneshot_roundtrip_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, oneshot_rounds, [&] { return run_asio(io, oneshot_asio(oneshot_rounds)); });
}

// ---- both sides written as asio::awaitable, through the async_* forms

asio::awaitable<void> produce_bridge(asyncpat::sender<std::uint64_t> tx, int n) {
    for (int i = 0; i < n; ++i)
        co_await tx.async_send(static_cast<std::uint64_t>(i), asio::use_awaitable);
}

asio::awaitable<std::uint64_t> spsc_bridge_asyncpat(int n) {
    auto ex = co_await asio::this_coro::executor;
    auto [tx, rx] = asyncpat::make_channel<std::uint64_t>(1024);
    asio::co_spawn(ex, produce_bridge(std::move(tx), n), asio::detached);
    std::uint64_t sum = 0;
    while (auto v = co_await rx.async_receive(asio::use_awaitable)) sum += *v;
    co_return sum;
}

void BM_channel_spsc_awaitable_bridge_asyncpat(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, bridge_messages,
            [&] { return run_asio(io, spsc_bridge_asyncpat(bridge_messages)); });
}

void BM_channel_spsc_awaitable_bridge_asio(benchmark::State& state) {
    asio::io_context io(1);
    measure(state, bridge_messages, [&] { return run_asio(io, spsc_asio(bridge_messages)); });
}

}  // namespace

// One-thread workloads first: they run in a process that has not started a thread yet, as a
// single-threaded Asio program is (asyncpat's lock-free paths and libstdc++'s shared_ptr then
// skip atomic operations, see bench_support.hpp). The two-thread rows start threads, and the
// process stays multi-threaded: the `_threaded` rows at the end measure the one-thread workloads
// of the thread-safe channel and oneshot (and their peers) again in that regime.
BENCHMARK(BM_channel_spsc_1thread_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_spsc_1thread_asyncpat_local)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_spsc_1thread_asio)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_pingpong_1thread_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_pingpong_1thread_asyncpat_local)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_pingpong_1thread_asio)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_pingpong_1thread_floor)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_oneshot_roundtrip_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_oneshot_roundtrip_asyncpat_local)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_oneshot_roundtrip_asio)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_spsc_awaitable_bridge_asyncpat)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_spsc_awaitable_bridge_asio)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_channel_spsc_2threads_asyncpat)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_channel_spsc_2threads_asio)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_channel_spsc_2threads_mutex_queue)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_channel_mpsc_4producers_2threads_asyncpat)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_channel_mpsc_4producers_2threads_asio)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_channel_spsc_2threads_busy_producer_asyncpat)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_channel_spsc_2threads_busy_producer_asio)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(after_a_thread_started<BM_channel_spsc_1thread_asyncpat>)
    ->Name("BM_channel_spsc_1thread_asyncpat_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_channel_spsc_1thread_asio>)
    ->Name("BM_channel_spsc_1thread_asio_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_channel_pingpong_1thread_asyncpat>)
    ->Name("BM_channel_pingpong_1thread_asyncpat_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_channel_pingpong_1thread_asio>)
    ->Name("BM_channel_pingpong_1thread_asio_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_oneshot_roundtrip_asyncpat>)
    ->Name("BM_oneshot_roundtrip_asyncpat_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_oneshot_roundtrip_asio>)
    ->Name("BM_oneshot_roundtrip_asio_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_channel_spsc_awaitable_bridge_asyncpat>)
    ->Name("BM_channel_spsc_awaitable_bridge_asyncpat_threaded")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(after_a_thread_started<BM_channel_spsc_awaitable_bridge_asio>)
    ->Name("BM_channel_spsc_awaitable_bridge_asio_threaded")
    ->Unit(benchmark::kMillisecond);
