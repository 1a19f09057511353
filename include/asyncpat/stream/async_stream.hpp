// asyncpat: the async_stream concept, and the push protocol that fuses synchronous adapters.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_STREAM_ASYNC_STREAM_HPP
#define ASYNCPAT_STREAM_ASYNC_STREAM_HPP

#include <concepts>
#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace asyncpat {

namespace detail {

// The awaiter that `co_await a` uses: a's operator co_await (member or free), or `a` itself.
template <typename Awaitable>
decltype(auto) get_awaiter(Awaitable&& a) {
    if constexpr (requires { std::forward<Awaitable>(a).operator co_await(); })
        return std::forward<Awaitable>(a).operator co_await();
    else if constexpr (requires { operator co_await(std::forward<Awaitable>(a)); })
        return operator co_await(std::forward<Awaitable>(a));
    else
        return std::forward<Awaitable>(a);
}

// The type a `co_await` of an Awaitable yields.
template <typename Awaitable>
using await_result_t = decltype(get_awaiter(std::declval<Awaitable>()).await_resume());

}  // namespace detail

/// A source of values that arrive asynchronously, one `co_await s.next()` at a time.
///
/// | Expression | Type | Semantics |
/// |---|---|---|
/// | `S::value_type` | an object type | the type of the items |
/// | `s.next()` | an awaitable whose `co_await` yields `std::optional<S::value_type>` | the next
/// item, owned by the caller; `std::nullopt` at the end |
///
/// Further requirements, not checked by the compiler:
/// - **Owned items**: an item is a value the consumer owns; it never refers into a buffer the
///   stream reuses (a stream that fills a buffer hands out a copy, a `bytes` snapshot, or moves
///   the buffer out).
/// - **Movable**: a stream is move constructible (adapters and sinks take it by value); it need
///   not be assignable.
/// - **Errors** are exceptions thrown from the `co_await` of `next()`; after an error the stream
///   is at its end.
/// - **Fused**: once `next()` yielded `std::nullopt` (or threw), every later `next()` yields
///   `std::nullopt`.
/// - **One consumer at a time**: `next()` is not awaited again before the previous `next()`
///   completed. Streams are movable objects that own their state; destroying one at any point
///   between items releases everything it holds.
///
/// Models in asyncpat: `generator<T>`, channel receivers, the sources in `stream/sources.hpp` and
/// every adapter in `stream/adapters.hpp`.
template <typename S>
concept async_stream =
    std::move_constructible<S> && std::is_object_v<typename S::value_type> && requires(S& s) {
        s.next();
        requires std::same_as<detail::await_result_t<decltype(s.next())>,
                              std::optional<typename S::value_type>>;
    };

/// The item type of a stream.
template <async_stream S>
using stream_value_t = typename S::value_type;

namespace detail {

// ---- The push protocol
//
// A consumer may pull with a *sink* instead of next(): `co_await s.pull(sink)` makes the stream
// offer items to `sink.offer(item)` until the sink takes one (taken) or ends the pull (end); a
// sink that answers `more` asks for the next item at once, so a sink can consume a whole stream
// in one pull (fold, for_each, collect). The co_await yields true if an item was taken, false
// at the end of the stream (or of the pull). A sink also answers exhausted(): true when no item
// could be taken any more (a take(n) that took n), so the stream is not even resumed.
//
// A generator offers each co_yield to the sink right there, in its own frame: the synchronous
// adapters (map, filter, take ...) are stages composed into the sink, so a pipeline of them
// costs no coroutine switch and no frame per item, and a sink that consumes everything costs no
// switch at all.
enum class offer_result : unsigned char { more, taken, end };

template <typename Sink, typename T>
concept sink_for = requires(Sink& sink, T&& item, const Sink& csink) {
    { sink.offer(std::forward<T>(item)) } -> std::same_as<offer_result>;
    { csink.exhausted() } -> std::same_as<bool>;
};

// A stream that implements the push protocol for any sink of its items.
template <typename S>
concept pushing_stream = async_stream<S> && requires { typename S::pushes_items; };

// The sink behind next(): takes one item into an optional.
template <typename T>
struct slot_sink {
    std::optional<T>* slot;
    offer_result offer(T&& item) {
        slot->emplace(std::move(item));
        return offer_result::taken;
    }
    bool exhausted() const noexcept { return false; }
};

// next() for a pushing stream: a pull into its own slot. Neither copyable nor movable (the
// pull refers to the slot), which guaranteed copy elision allows to return.
template <typename Stream>
class pull_next_awaiter {
    using value_type = typename Stream::value_type;

public:
    explicit pull_next_awaiter(Stream& stream)
        : pull_(stream.pull(slot_sink<value_type>{&slot_})) {}
    pull_next_awaiter(const pull_next_awaiter&) = delete;
    pull_next_awaiter& operator=(const pull_next_awaiter&) = delete;

    bool await_ready() { return pull_.await_ready(); }
    template <typename Promise>
    decltype(auto) await_suspend(std::coroutine_handle<Promise> caller) {
        return pull_.await_suspend(caller);
    }
    std::optional<value_type> await_resume() {
        pull_.await_resume();
        return std::move(slot_);
    }

private:
    std::optional<value_type> slot_;  // declared first: pull_ refers to it
    decltype(std::declval<Stream&>().pull(slot_sink<value_type>{})) pull_;
};

// ---- Synchronous sources
//
// A stream whose items are computed on the spot by `produce()` (std::nullopt at the end): a
// range, a counter, a repeated call. Its pull runs entirely in await_ready, without suspending.
template <typename Producer>
class sync_stream {
public:
    using value_type = typename std::invoke_result_t<Producer&>::value_type;
    using pushes_items = void;

    explicit sync_stream(Producer producer) : producer_(std::move(producer)) {}

    template <typename Sink>
    class pull_awaiter {
    public:
        pull_awaiter(sync_stream& stream, Sink sink) : stream_(&stream), sink_(std::move(sink)) {}
        pull_awaiter(const pull_awaiter&) = delete;
        pull_awaiter& operator=(const pull_awaiter&) = delete;

        bool await_ready() {
            while (!stream_->ended_ && !sink_.exhausted()) {
                try {
                    std::optional<value_type> item = stream_->producer_();
                    if (!item) {
                        stream_->ended_ = true;
                        break;
                    }
                    switch (sink_.offer(std::move(*item))) {
                        case offer_result::more: continue;
                        case offer_result::taken: taken_ = true; return true;
                        case offer_result::end: return true;
                    }
                } catch (...) {
                    stream_->ended_ = true;  // an error ends the stream
                    throw;
                }
            }
            return true;
        }
        void await_suspend(std::coroutine_handle<>) const noexcept {}  // never called
        bool await_resume() const noexcept { return taken_; }

    private:
        sync_stream* stream_;
        Sink sink_;
        bool taken_ = false;
    };

    template <typename Sink>
    [[nodiscard]] pull_awaiter<Sink> pull(Sink sink) {
        return pull_awaiter<Sink>{*this, std::move(sink)};
    }
    [[nodiscard]] pull_next_awaiter<sync_stream> next() {
        return pull_next_awaiter<sync_stream>{*this};
    }

private:
    Producer producer_;
    bool ended_ = false;
};

}  // namespace detail
}  // namespace asyncpat

#endif  // ASYNCPAT_STREAM_ASYNC_STREAM_HPP
