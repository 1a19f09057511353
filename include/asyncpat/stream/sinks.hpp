// asyncpat: stream sinks: for_each, fold, collect, count, forward.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_STREAM_SINKS_HPP
#define ASYNCPAT_STREAM_SINKS_HPP

#include <asyncpat/channel.hpp>
#include <asyncpat/stream/async_stream.hpp>
#include <asyncpat/task.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace asyncpat {

namespace detail {

// A sink that consumes every item with `consume(item)`: one pull drains the stream.
template <typename Consume>
struct draining_sink {
    Consume* consume;
    template <typename T>
    offer_result offer(T&& item) {
        (*consume)(std::forward<T>(item));
        return offer_result::more;
    }
    bool exhausted() const noexcept { return false; }
};

// Calls `consume(item)` for every item: in one pull where the stream pushes (its items never
// leave the producer's frame through a suspension), else one next() at a time.
template <async_stream S, typename Consume>
task<void> drain(S& stream, Consume& consume) {
    if constexpr (pushing_stream<S>) {
        // Not `while (co_await stream.pull(...)) {}`: g++ 12.2 resumes that loop into a trap
        // (ud2) under ASan (docs/compilers.md, section 2b).
        bool more = true;
        while (more) more = co_await stream.pull(draining_sink<Consume>{&consume});
    } else {
        while (std::optional<stream_value_t<S>> item = co_await stream.next())
            consume(std::move(*item));
    }
}

template <typename R>
concept awaitable_result = requires(R&& r) { get_awaiter(std::forward<R>(r)).await_ready(); };

}  // namespace detail

/// Calls `f(item)` for every item, in order; completes at the end of the stream. If `f` returns
/// an awaitable (a `task`), each call is awaited before the next item is pulled
/// (`for_each_concurrent` runs several at once). An exception from the stream or from `f`
/// propagates, and the rest of the stream is not consumed.
template <async_stream S, typename F>
task<void> for_each(S stream, F f) {
    using result = std::invoke_result_t<F&, stream_value_t<S>&&>;
    if constexpr (detail::awaitable_result<result>) {
        while (std::optional<stream_value_t<S>> item = co_await stream.next())
            co_await std::invoke(f, std::move(*item));
    } else {
        auto consume = [&f](stream_value_t<S>&& item) { std::invoke(f, std::move(item)); };
        co_await detail::drain(stream, consume);
    }
}

/// Folds the stream: `acc = f(std::move(acc), item)` for every item, starting from `init`;
/// yields the final `acc`.
template <async_stream S, typename A, typename F>
task<A> fold(S stream, A init, F f) {
    auto consume = [&init, &f](stream_value_t<S>&& item) {
        init = std::invoke(f, std::move(init), std::move(item));
    };
    co_await detail::drain(stream, consume);
    co_return std::move(init);
}

/// Collects every item into a `Container` (with `push_back`, or `insert` for sets and maps).
template <typename Container, async_stream S>
task<Container> collect(S stream) {
    Container out;
    auto consume = [&out](stream_value_t<S>&& item) {
        if constexpr (requires { out.push_back(std::move(item)); })
            out.push_back(std::move(item));
        else
            out.insert(std::move(item));
    };
    co_await detail::drain(stream, consume);
    co_return out;
}

/// The number of items.
template <async_stream S>
task<std::size_t> count(S stream) {
    std::size_t n = 0;
    auto consume = [&n](stream_value_t<S>&&) { ++n; };
    co_await detail::drain(stream, consume);
    co_return n;
}

/// Sends every item into `tx`, waiting for room (the channel's backpressure holds the stream
/// back); yields how many were sent. Does not close the channel (dropping `tx` at the end does,
/// if it was the last sender). If the channel closes, the `send_error` holding the item that
/// could not be sent propagates.
template <async_stream S, typename T, typename Kind>
task<std::size_t> forward(S stream, sender<T, Kind> tx) {
    std::size_t sent = 0;
    while (std::optional<stream_value_t<S>> item = co_await stream.next()) {
        T value(std::move(*item));  // named: see docs/compilers.md, section 2c
        co_await tx.send(std::move(value));
        ++sent;
    }
    co_return sent;
}

}  // namespace asyncpat

#endif  // ASYNCPAT_STREAM_SINKS_HPP
