// asyncpat: streams and time: interval, timeout (per item), throttle.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_STREAM_TIME_HPP
#define ASYNCPAT_STREAM_TIME_HPP

#include <asyncpat/combinators.hpp>
#include <asyncpat/stream/adapters.hpp>
#include <asyncpat/stream/async_stream.hpp>
#include <asyncpat/stream/generator.hpp>
#include <asyncpat/task.hpp>

#include <asyncpat/detail/asio.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace asyncpat {

namespace detail {

template <typename Timer>
generator<typename Timer::time_point> interval_generator(any_executor ex,
                                                         typename Timer::duration period) {
    Timer timer(ex);
    typename Timer::time_point next = Timer::clock_type::now();
    for (;;) {
        if (Timer::clock_type::now() < next) {
            timer.expires_at(next);
            co_await timer.async_wait(use_task);
        }
        co_yield typename Timer::time_point(next);
        next += period;
    }
}

template <typename Timer>
void check_period(typename Timer::duration period, char const* what) {
    if (period <= Timer::duration::zero())
        throw std::invalid_argument(std::string("asyncpat::") + what +
                                    ": the duration must be positive");
}

template <async_stream S>
task<std::optional<stream_value_t<S>>> next_of(S& stream) {
    co_return co_await stream.next();
}

template <typename Timer, async_stream S>
generator<stream_value_t<S>> timeout_generator(S stream, typename Timer::duration limit) {
    for (;;) {
        std::optional<stream_value_t<S>> item =
            co_await asyncpat::timeout<Timer>(limit, next_of(stream));
        if (!item) co_return;
        co_yield std::move(*item);
    }
}

template <typename Timer, async_stream S>
generator<stream_value_t<S>> throttle_generator(S stream, typename Timer::duration gap) {
    Timer timer(co_await this_task::executor);
    std::optional<typename Timer::time_point> next_allowed;
    while (std::optional<stream_value_t<S>> item = co_await stream.next()) {
        if (next_allowed && Timer::clock_type::now() < *next_allowed) {
            timer.expires_at(*next_allowed);
            co_await timer.async_wait(use_task);
        }
        next_allowed = Timer::clock_type::now() + gap;
        co_yield std::move(*item);
    }
}

}  // namespace detail

/// A stream of ticks: the first at once, then one every `period`, on `ex`, each yielding the
/// time it was due (`Timer::time_point`). Ticks are due at start + k·period; a consumer that
/// falls behind gets the missed ticks at once, one per pull (tokio's burst behaviour). Without
/// end (limit it with `take` or `take_while`). `Timer` is `asio::steady_timer` unless another
/// clock is wanted. Throws `std::invalid_argument` for a period that is not positive.
template <typename Timer = asio::steady_timer, typename Executor, typename Rep, typename Period>
generator<typename Timer::time_point> interval(Executor&& ex,
                                               std::chrono::duration<Rep, Period> period) {
    auto const p = std::chrono::duration_cast<typename Timer::duration>(period);
    detail::check_period<Timer>(p, "interval");
    return detail::interval_generator<Timer>(any_executor(std::forward<Executor>(ex)), p);
}

/// `s | timeout(d)`: each item must arrive within `d` of its pull; if it does not, the pull is
/// cancelled and the stream fails with `std::system_error(errc::timed_out)` (then ends). An item
/// that arrived as the deadline passed is delivered, never dropped, when the stream below is
/// cancel-safe (a channel receiver; a generator's cancellation ends it). Each pull runs the
/// stream's `next()` in a task beside a timer (frames from the per-thread cache).
template <typename Timer = asio::steady_timer, typename Rep, typename Period>
auto timeout(std::chrono::duration<Rep, Period> limit) {
    auto const d = std::chrono::duration_cast<typename Timer::duration>(limit);
    detail::check_period<Timer>(d, "timeout");
    return detail::generator_adapter{[d]<async_stream S>(S stream) {
        return detail::timeout_generator<Timer>(std::move(stream), d);
    }};
}

/// `s | throttle(d)`: passes items on with at least `d` between two of them (measured from the
/// moment an item is yielded); a faster stream is held back, nothing is dropped.
template <typename Timer = asio::steady_timer, typename Rep, typename Period>
auto throttle(std::chrono::duration<Rep, Period> gap) {
    auto const d = std::chrono::duration_cast<typename Timer::duration>(gap);
    detail::check_period<Timer>(d, "throttle");
    return detail::generator_adapter{[d]<async_stream S>(S stream) {
        return detail::throttle_generator<Timer>(std::move(stream), d);
    }};
}

}  // namespace asyncpat

#endif  // ASYNCPAT_STREAM_TIME_HPP
