// Pattern: a bounded channel holds a fast producer to the pace of a slow consumer.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// An unbounded queue between a fast producer and a slow consumer grows until memory runs out.
// A bounded channel makes the producer wait (backpressure) once `capacity` values are queued.
// The tour shows:
//   1. send() waiting for room: the producer runs at the consumer's pace;
//   2. try_send() on a full channel: the value is handed back, not lost;
//   3. close and drain: the consumer receives everything queued, then sees the end;
//   4. a receive with a timeout: cancel-safe, a value is never lost to the timeout.
#include <asyncpat.hpp>

#include <fmt/core.h>

#include <chrono>
#include <string>
#include <utility>

using namespace std::chrono_literals;
using asyncpat::task;

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point start) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

// 1. The producer sends 8 values as fast as it can; the channel holds 2.
task<void> produce(asyncpat::sender<int> tx, clock_type::time_point start) {
    for (int i = 0; i < 8; ++i) {
        co_await tx.send(i);  // waits while 2 values are queued
        fmt::print("   {:6.1f} ms  sent {}\n", ms_since(start), i);
    }
    // The sender goes out of scope here: the channel closes, and the consumer drains it.
}

// The consumer takes 5 ms per value.
task<int> consume(asyncpat::receiver<int> rx, clock_type::time_point start) {
    int received = 0;
    while (auto value = co_await rx.receive()) {
        fmt::print("   {:6.1f} ms  received {}\n", ms_since(start), *value);
        ++received;
        co_await asyncpat::sleep_for(5ms);
    }
    fmt::print("   {:6.1f} ms  end of the channel after {} values\n", ms_since(start), received);
    co_return received;
}

task<void> backpressure() {
    fmt::print("1. send() waits for room: capacity 2, a consumer taking 5 ms per value\n");
    auto ex = co_await asyncpat::this_task::executor;
    auto [tx, rx] = asyncpat::make_channel<int>(2);
    auto const start = clock_type::now();
    auto producer = asyncpat::spawn(ex, produce(std::move(tx), start));
    int const received = co_await consume(std::move(rx), start);
    co_await producer;
    fmt::print("   the producer finished at the consumer's pace ({} values, {:.0f} ms)\n\n",
               received, ms_since(start));
}

task<void> try_send_when_full() {
    fmt::print("2. try_send() on a full channel hands the value back\n");
    auto [tx, rx] = asyncpat::make_channel<std::string>(1);
    std::string first = "first", second = "second";
    std::error_code ec = tx.try_send(std::move(first));
    fmt::print("   try_send(\"first\"):  {}\n", ec ? ec.message() : "sent");
    ec = tx.try_send(std::move(second));
    fmt::print("   try_send(\"second\"): {}; the value is still here: \"{}\"\n\n", ec.message(),
               second);
    (void)rx.try_receive();
    co_return;
}

task<void> close_and_drain() {
    fmt::print("3. close(): what is queued is still received, then the end\n");
    auto [tx, rx] = asyncpat::make_channel<int>(4);
    for (int i = 1; i <= 3; ++i) co_await tx.send(i * 10);
    tx.close();
    int late = 99;
    fmt::print("   try_send after close: {}\n", tx.try_send(std::move(late)).message());
    while (auto value = co_await rx.receive()) fmt::print("   drained {}\n", *value);
    fmt::print("   then receive() gives std::nullopt\n\n");
}

task<std::optional<int>> receive_one(asyncpat::receiver<int>& rx) {
    co_return co_await rx.receive();
}

// Owns its sender (a spawned task must not borrow the spawner's locals).
task<void> send_after(asyncpat::sender<int> tx, std::chrono::milliseconds delay, int value) {
    co_await asyncpat::sleep_for(delay);
    co_await tx.send(value);
}

task<void> receive_with_timeout() {
    fmt::print("4. a receive with a timeout is cancel-safe\n");
    auto [tx, rx] = asyncpat::make_channel<int>(1);
    // The value comes after the deadline: the receive is cancelled and takes nothing...
    auto late =
        asyncpat::spawn(co_await asyncpat::this_task::executor, send_after(std::move(tx), 20ms, 7));
    try {
        co_await asyncpat::timeout(5ms, receive_one(rx));
    } catch (const std::system_error& e) {
        fmt::print("   timeout(5 ms, receive): {}\n", e.code().message());
    }
    // ...so the value, sent later, goes to the next receive.
    auto value = co_await rx.receive();
    fmt::print("   the next receive gets it: {}\n", value.value_or(-1));
    co_await late;
}

task<void> tour() {
    co_await backpressure();
    co_await try_send_when_full();
    co_await close_and_drain();
    co_await receive_with_timeout();
}

}  // namespace

int main() {
    asyncpat::sync_wait(tour());
}
