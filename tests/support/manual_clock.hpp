// Test support: a manual clock for Asio timers, and a runner that drives an io_context in
// virtual time, so that tests of timing behaviour neither sleep nor depend on the machine's speed.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TESTS_SUPPORT_MANUAL_CLOCK_HPP
#define ASYNCPAT_TESTS_SUPPORT_MANUAL_CLOCK_HPP

#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include "runner.hpp"

#include <asio/basic_waitable_timer.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <utility>

namespace asyncpat_test {

/// A clock that moves only when told to (advance). Process-wide: tests measure from now().
struct manual_clock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<manual_clock>;
    static constexpr bool is_steady = true;

    static time_point now() noexcept { return time_point(duration(ticks().load())); }
    static void advance(duration d) noexcept { ticks().fetch_add(d.count()); }

private:
    static std::atomic<rep>& ticks() noexcept {
        static std::atomic<rep> value{0};
        return value;
    }
};

/// Wait traits that never let the reactor sleep for a manual timer: it looks at the timers
/// every time it runs, and manual_clock::now() decides which expired.
struct manual_wait_traits {
    static manual_clock::duration to_wait_duration(const manual_clock::duration&) {
        return manual_clock::duration::zero();
    }
    static manual_clock::duration to_wait_duration(const manual_clock::time_point&) {
        return manual_clock::duration::zero();
    }
};

using manual_timer = asio::basic_waitable_timer<manual_clock, manual_wait_traits>;

/// Runs `work` on a fresh io_context in virtual time: runs everything that is ready, then
/// moves the manual clock by `step`, until the task finished (at most `max_steps` steps).
template <typename T>
T run_in_virtual_time(asyncpat::task<T> work,
                      manual_clock::duration step = std::chrono::milliseconds(1),
                      int max_steps = 100'000) {
    asio::io_context io(1);
    auto handle = asyncpat::spawn(io, std::move(work));
    for (int i = 0; !handle.is_finished(); ++i) {
        if (i == max_steps) throw std::logic_error("run_in_virtual_time: the task did not finish");
        io.restart();
        io.poll();
        if (!handle.is_finished()) manual_clock::advance(step);
    }
    return join_on(io, handle);
}

}  // namespace asyncpat_test

#endif
