// asyncpat example: a blocking call inside async code stalls the executor; spawn_blocking does not.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// The pitfall: "a blocking call inside async code stalls the executor".
//
// Tasks share the threads of their executor. A task gives its thread back only at a `co_await`
// that suspends. A call that blocks (`std::this_thread::sleep_for`, a synchronous file or
// database call, a long computation) keeps the thread for its whole duration, and on a
// single-threaded io_context nothing else runs meanwhile: timers fire late, sockets are not
// served, other tasks wait. The compiler cannot see the problem and nothing fails; the program
// just gets slow and jittery.
//
// The fix is `co_await asyncpat::spawn_blocking(function, args...)`: the function runs on a
// separate thread pool (asyncpat::blocking_pool), the task waits without holding the executor,
// and it resumes on its own executor, on the io_context's thread, with the result.
//
// This program measures it. A ticker task wants to tick every 10 ms for 200 ms. Beside it, on
// the same single-threaded io_context, another task makes a 150 ms blocking call: first inline,
// then through spawn_blocking. The figures depend on the machine's load, so they are printed,
// not checked.

#include <asyncpat.hpp>

#include <asio/io_context.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::task;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto tick_period = 10ms;
constexpr auto ticker_runs_for = 200ms;
constexpr auto blocking_call_takes = 150ms;

// When each tick happened.
task<std::vector<clock_type::time_point>> ticker() {
    std::vector<clock_type::time_point> ticks;
    auto const start = clock_type::now();
    while (clock_type::now() - start < ticker_runs_for) {
        co_await asyncpat::sleep_for(tick_period);
        ticks.push_back(clock_type::now());
    }
    co_return ticks;
}

// When the blocking call began and ended.
struct call_window {
    clock_type::time_point begin;
    clock_type::time_point end;
    bool resumed_on_io_thread = true;
};

void slow_call(std::chrono::milliseconds duration) {
    std::this_thread::sleep_for(duration);  // stands for any blocking work
}

// The pitfall: the call runs on the executor's only thread, and holds it.
task<call_window> call_inline() {
    call_window window;
    window.begin = clock_type::now();
    slow_call(blocking_call_takes);
    window.end = clock_type::now();
    co_return window;
}

// The fix: the call runs on the blocking pool; this task waits without holding the thread and
// resumes on its own executor afterwards.
task<call_window> call_through_spawn_blocking() {
    auto const io_thread = std::this_thread::get_id();
    call_window window;
    window.begin = clock_type::now();
    co_await asyncpat::spawn_blocking(slow_call, blocking_call_takes);
    window.end = clock_type::now();
    window.resumed_on_io_thread = std::this_thread::get_id() == io_thread;
    co_return window;
}

struct measurement {
    std::size_t ticks = 0;
    std::size_t ticks_during_call = 0;
    double longest_gap_ms = 0;
    bool resumed_on_io_thread = true;
};

double to_ms(clock_type::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

// Runs the ticker and `call` side by side on the awaiting task's executor (when_all starts both
// there) and measures the ticker.
task<measurement> measure(task<call_window> call) {
    auto const start = clock_type::now();
    auto [ticks, window] = co_await asyncpat::when_all(ticker(), std::move(call));
    measurement m;
    m.ticks = ticks.size();
    m.resumed_on_io_thread = window.resumed_on_io_thread;
    auto previous = start;
    for (auto const tick : ticks) {
        m.longest_gap_ms = std::max(m.longest_gap_ms, to_ms(tick - previous));
        previous = tick;
        if (tick >= window.begin && tick <= window.end) ++m.ticks_during_call;
    }
    co_return m;
}

void print_row(char const* label, const measurement& m) {
    fmt::print("  {:<18} {:>6} {:>17} {:>13.1f} ms\n", label, m.ticks, m.ticks_during_call,
               m.longest_gap_ms);
}

task<void> tour() {
    fmt::print(
        "A ticker wants a tick every {} ms for {} ms; beside it, on the same\n"
        "single-threaded io_context, a task makes a {} ms blocking call.\n\n",
        tick_period.count(), ticker_runs_for.count(), blocking_call_takes.count());

    measurement const inline_call = co_await measure(call_inline());
    measurement const offloaded = co_await measure(call_through_spawn_blocking());

    fmt::print("  {:<18} {:>6} {:>17} {:>16}\n", "the blocking call", "ticks", "during the call",
               "longest gap");
    print_row("made inline", inline_call);
    print_row("in spawn_blocking", offloaded);

    fmt::print(
        "\nInline, the call held the io_context's only thread: the ticker's timer fired\n"
        "only after the call returned. Through spawn_blocking the call ran on a pool\n"
        "thread and the ticker kept its rhythm; the task then resumed on the io_context's\n"
        "thread: {}.\n",
        offloaded.resumed_on_io_thread ? "yes" : "no");
}

}  // namespace

int main() {
    try {
        asio::io_context io(1);  // one thread: the one that calls sync_wait
        asyncpat::sync_wait(io, tour());
    } catch (const std::exception& e) {
        fmt::print(stderr, "blocking_in_async: {}\n", e.what());
        return 1;
    }
}
