// asyncpat: stream adapters, composed with `|`.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_STREAM_ADAPTERS_HPP
#define ASYNCPAT_STREAM_ADAPTERS_HPP

#include <asyncpat/spawn.hpp>
#include <asyncpat/stream/async_stream.hpp>
#include <asyncpat/stream/generator.hpp>
#include <asyncpat/task.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

namespace asyncpat {

namespace detail {

// A generator over any stream: how adapters that need the push protocol consume a stream that
// does not offer it (a channel receiver), at the price of one frame per adapter chain.
template <async_stream S>
generator<stream_value_t<S>> pushing_from(S stream) {
    while (std::optional<stream_value_t<S>> item = co_await stream.next())
        co_yield std::move(*item);
}

template <async_stream S>
auto as_pushing(S stream) {
    if constexpr (pushing_stream<S>)
        return stream;
    else
        return pushing_from(std::move(stream));
}

// ---- Synchronous adapters: stages of the push protocol
//
// A stage sits between a stream and a sink: push(item, sink) passes what it makes of the item to
// the sink (or nothing), and returns the sink's answer or its own (more: skip this item; end: the
// stream ends here). exhausted() says that the stage will never pass anything again.

// The sink a stage hands to the stream it wraps: the stage in front of the consumer's sink.
template <typename Stage, typename Sink>
struct staged_sink {
    Stage* stage;
    Sink sink;
    template <typename Item>
    offer_result offer(Item&& item) {
        return stage->push(std::forward<Item>(item), sink);
    }
    bool exhausted() const noexcept { return stage->exhausted() || sink.exhausted(); }
};

template <typename Inner, typename Stage>
class stage_stream {
public:
    using value_type = typename Stage::template output<stream_value_t<Inner>>;
    using pushes_items = void;

    stage_stream(Inner inner, Stage stage) : inner_(std::move(inner)), stage_(std::move(stage)) {}

    [[nodiscard]] pull_next_awaiter<stage_stream> next() {
        return pull_next_awaiter<stage_stream>{*this};
    }
    template <typename Sink>
    [[nodiscard]] auto pull(Sink sink) {
        return inner_.pull(staged_sink<Stage, Sink>{&stage_, std::move(sink)});
    }

private:
    Inner inner_;
    Stage stage_;
};

// What `stream | adapter` calls for a stage adapter.
template <typename Stage>
struct stage_adapter {
    Stage stage;

    template <async_stream S>
    friend auto operator|(S stream, stage_adapter adapter) {
        auto inner = as_pushing(std::move(stream));
        return stage_stream<decltype(inner), Stage>{std::move(inner), std::move(adapter.stage)};
    }
};

template <typename F>
struct map_stage {
    F function;
    template <typename T>
    using output = std::remove_cvref_t<std::invoke_result_t<F&, T&&>>;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        return sink.offer(std::invoke(function, std::forward<T>(item)));
    }
    bool exhausted() const noexcept { return false; }
};

template <typename P>
struct filter_stage {
    P predicate;
    template <typename T>
    using output = T;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        if (!std::invoke(predicate, std::as_const(item))) return offer_result::more;
        return sink.offer(std::forward<T>(item));
    }
    bool exhausted() const noexcept { return false; }
};

template <typename F>
struct filter_map_stage {
    F function;
    template <typename T>
    using output = typename std::remove_cvref_t<std::invoke_result_t<F&, T&&>>::value_type;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        auto mapped = std::invoke(function, std::forward<T>(item));
        if (!mapped) return offer_result::more;
        return sink.offer(std::move(*mapped));
    }
    bool exhausted() const noexcept { return false; }
};

template <typename F>
struct inspect_stage {
    F function;
    template <typename T>
    using output = T;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        std::invoke(function, std::as_const(item));
        return sink.offer(std::forward<T>(item));
    }
    bool exhausted() const noexcept { return false; }
};

struct take_stage {
    std::size_t remaining;
    template <typename T>
    using output = T;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        --remaining;
        offer_result const result = sink.offer(std::forward<T>(item));
        // The n-th item ends a pull that asked for more (a sink consuming everything).
        return remaining == 0 && result == offer_result::more ? offer_result::end : result;
    }
    bool exhausted() const noexcept { return remaining == 0; }
};

template <typename P>
struct take_while_stage {
    P predicate;
    bool done = false;
    template <typename T>
    using output = T;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        if (!std::invoke(predicate, std::as_const(item))) {
            done = true;
            return offer_result::end;
        }
        return sink.offer(std::forward<T>(item));
    }
    bool exhausted() const noexcept { return done; }
};

struct skip_stage {
    std::size_t remaining;
    template <typename T>
    using output = T;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        if (remaining != 0) {
            --remaining;
            return offer_result::more;
        }
        return sink.offer(std::forward<T>(item));
    }
    bool exhausted() const noexcept { return false; }
};

template <typename P>
struct skip_while_stage {
    P predicate;
    bool skipping = true;
    template <typename T>
    using output = T;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        if (skipping && std::invoke(predicate, std::as_const(item))) return offer_result::more;
        skipping = false;
        return sink.offer(std::forward<T>(item));
    }
    bool exhausted() const noexcept { return false; }
};

struct enumerate_stage {
    std::size_t index = 0;
    template <typename T>
    using output = std::pair<std::size_t, T>;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        return sink.offer(
            std::pair<std::size_t, std::remove_cvref_t<T>>(index++, std::forward<T>(item)));
    }
    bool exhausted() const noexcept { return false; }
};

template <typename State, typename F>
struct scan_stage {
    State state;
    F function;
    bool done = false;
    template <typename T>
    using output = typename std::remove_cvref_t<std::invoke_result_t<F&, State&, T&&>>::value_type;
    template <typename T, typename Sink>
    offer_result push(T&& item, Sink& sink) {
        auto next = std::invoke(function, state, std::forward<T>(item));
        if (!next) {
            done = true;
            return offer_result::end;
        }
        return sink.offer(std::move(*next));
    }
    bool exhausted() const noexcept { return done; }
};

// ---- Asynchronous adapters: generators over the stream they adapt, one frame per adapter.

template <typename Make>
struct generator_adapter {
    Make make;  // make(stream) returns the adapted stream

    template <async_stream S>
    friend auto operator|(S stream, generator_adapter adapter) {
        return std::move(adapter.make)(std::move(stream));
    }
};
template <typename Make>
generator_adapter(Make) -> generator_adapter<Make>;

template <async_stream S, typename F>
auto then_generator(S stream, F function)
    -> generator<await_result_t<std::invoke_result_t<F&, stream_value_t<S>&&>>> {
    while (std::optional<stream_value_t<S>> item = co_await stream.next())
        co_yield co_await std::invoke(function, std::move(*item));
}

// chunks(n) is a stream of its own, not a generator, so that the items it has gathered survive
// a cancelled pull: the pull rethrows the cancellation, the items stay, and the next pull goes
// on gathering (so the pull is cancel-safe when the stream below is, like a channel receiver).
// Any other error ends the stream: the items that came before it are delivered first, as a
// shorter chunk, and the error with the next pull.
template <async_stream S>
class chunks_stream {
public:
    using value_type = std::vector<stream_value_t<S>>;

    chunks_stream(S stream, std::size_t size) : stream_(std::move(stream)), size_(size) {}

    // (The pull refers to this stream: it must not move while a pull runs, as for any stream.)
    [[nodiscard]] task<std::optional<value_type>> next() { return pull(*this); }

private:
    static task<std::optional<value_type>> pull(chunks_stream& self) {
        if (self.error_) std::rethrow_exception(std::exchange(self.error_, nullptr));
        while (!self.ended_ && self.chunk_.size() < self.size_) {
            std::optional<stream_value_t<S>> item;
            try {
                item = co_await self.stream_.next();
            } catch (...) {
                if (is_cancellation(std::current_exception())) throw;  // the items stay
                self.fail(std::current_exception());
                if (self.chunk_.empty()) throw;
            }
            if (!item) {
                self.ended_ = true;
                break;
            }
            try {
                if (self.chunk_.empty()) self.chunk_.reserve(self.size_);
                self.chunk_.push_back(std::move(*item));
            } catch (...) {  // out of memory, or the item's move threw: the item is lost
                self.fail(std::current_exception());
                if (self.chunk_.empty()) throw;
            }
        }
        if (self.chunk_.empty()) co_return std::nullopt;
        co_return std::exchange(self.chunk_, {});
    }

    // An error ends the stream; the items gathered before it come first (the caller delivers
    // them, or rethrows at once when there are none).
    void fail(std::exception_ptr error) noexcept {
        ended_ = true;
        if (!chunk_.empty()) error_ = std::move(error);
    }

    S stream_;
    std::size_t size_;
    value_type chunk_;  // gathered, not yet delivered
    std::exception_ptr error_;
    bool ended_ = false;
};

template <async_stream S>
    requires async_stream<stream_value_t<S>>
generator<stream_value_t<stream_value_t<S>>> flatten_generator(S outer) {
    while (std::optional<stream_value_t<S>> inner = co_await outer.next()) {
        while (std::optional<stream_value_t<stream_value_t<S>>> item = co_await inner->next())
            co_yield std::move(*item);
    }
}

template <async_stream First, async_stream Second>
generator<stream_value_t<First>> chain_generator(First first, Second second) {
    while (std::optional<stream_value_t<First>> item = co_await first.next())
        co_yield std::move(*item);
    while (std::optional<stream_value_t<Second>> item = co_await second.next())
        co_yield stream_value_t<First>(std::move(*item));
}

template <async_stream First, async_stream Second>
generator<std::pair<stream_value_t<First>, stream_value_t<Second>>> zip_generator(First first,
                                                                                  Second second) {
    for (;;) {
        std::optional<stream_value_t<First>> a = co_await first.next();
        if (!a) co_return;
        std::optional<stream_value_t<Second>> b = co_await second.next();
        if (!b) co_return;
        co_yield std::pair<stream_value_t<First>, stream_value_t<Second>>(std::move(*a),
                                                                          std::move(*b));
    }
}

// The adapters' callables may be moved into the stages and generators they make; a function
// object that is not copyable is fine.
template <typename F>
using stored_t = std::decay_t<F>;

// The adapter of a stage that holds one callable.
template <template <typename> class Stage, typename F>
auto stage_with(F&& function) {
    return stage_adapter<Stage<stored_t<F>>>{{std::forward<F>(function)}};
}

}  // namespace detail

// ---- Synchronous adapters (fused: no frame and no switch per item over a generator)

/// `s | map(f)`: each item `x` becomes `f(std::move(x))`.
template <typename F>
auto map(F&& function) {
    return detail::stage_with<detail::map_stage>(std::forward<F>(function));
}

/// `s | filter(p)`: the items for which `p(item)` (given a const reference) is true.
template <typename P>
auto filter(P&& predicate) {
    return detail::stage_with<detail::filter_stage>(std::forward<P>(predicate));
}

/// `s | filter_map(f)`: `f(std::move(x))` returns a `std::optional<U>`; the engaged ones, as `U`.
template <typename F>
auto filter_map(F&& function) {
    return detail::stage_with<detail::filter_map_stage>(std::forward<F>(function));
}

/// `s | inspect(f)`: calls `f(item)` (a const reference) on each item and passes it on.
template <typename F>
auto inspect(F&& function) {
    return detail::stage_with<detail::inspect_stage>(std::forward<F>(function));
}

/// `s | take(n)`: the first `n` items; the stream below is not pulled again after the n-th.
inline auto take(std::size_t n) {
    return detail::stage_adapter<detail::take_stage>{{n}};
}

/// `s | take_while(p)`: items while `p(item)` holds; the first item that fails ends the stream
/// (it is dropped).
template <typename P>
auto take_while(P&& predicate) {
    return detail::stage_with<detail::take_while_stage>(std::forward<P>(predicate));
}

/// `s | skip(n)`: all but the first `n` items.
inline auto skip(std::size_t n) {
    return detail::stage_adapter<detail::skip_stage>{{n}};
}

/// `s | skip_while(p)`: drops items while `p(item)` holds, then passes everything.
template <typename P>
auto skip_while(P&& predicate) {
    return detail::stage_with<detail::skip_while_stage>(std::forward<P>(predicate));
}

/// `s | enumerate()`: `std::pair<std::size_t, T>{index, item}`, indices from 0.
inline auto enumerate() {
    return detail::stage_adapter<detail::enumerate_stage>{{}};
}

/// `s | scan(state, f)`: `f(state&, std::move(x))` returns `std::optional<U>`; each engaged
/// result is an item, and the first `std::nullopt` ends the stream. `state` lives in the adapter.
template <typename State, typename F>
auto scan(State state, F&& function) {
    return detail::stage_adapter<detail::scan_stage<State, detail::stored_t<F>>>{
        {std::move(state), std::forward<F>(function)}};
}

// ---- Asynchronous adapters (a generator frame per adapter, created once)

/// `s | then(f)`: `f(std::move(x))` returns an awaitable (a `task<U>`, ...); the items are the
/// results, in order, one awaited at a time. (`buffered(n)` awaits several at once.)
template <typename F>
auto then(F&& function) {
    return detail::generator_adapter{[function = detail::stored_t<F>(std::forward<F>(
                                          function))]<async_stream S>(S stream) mutable {
        return detail::then_generator(std::move(stream), std::move(function));
    }};
}

/// `s | chunks(n)`: `std::vector<T>`s of `n` items, the last one shorter if the stream ends
/// inside it. Throws `std::invalid_argument` for 0. An error of `s` ends the stream: the items
/// before it come first, as a shorter chunk, then the error. A cancelled pull throws the
/// cancellation and keeps the items gathered so far for the next pull: cancel-safe when `s` is
/// (a channel receiver). Each pull runs as a task (its frame from the per-thread cache).
inline auto chunks(std::size_t size) {
    if (size == 0) throw std::invalid_argument("asyncpat::chunks: the size must be at least 1");
    return detail::generator_adapter{[size]<async_stream S>(S stream) {
        return detail::chunks_stream<S>(std::move(stream), size);
    }};
}

/// `s | flatten()`: for a stream of streams, the items of each inner stream in turn.
inline auto flatten() {
    return detail::generator_adapter{
        []<async_stream S>(S stream) { return detail::flatten_generator(std::move(stream)); }};
}

/// `s | chain(other)`: the items of `s`, then those of `other` (converted to `s`'s type).
template <async_stream Other>
auto chain(Other other) {
    return detail::generator_adapter{[other = std::move(other)]<async_stream S>(S stream) mutable {
        return detail::chain_generator(std::move(stream), std::move(other));
    }};
}

/// `s | zip(other)`: pairs of one item of each, ending with the shorter stream.
template <async_stream Other>
auto zip(Other other) {
    return detail::generator_adapter{[other = std::move(other)]<async_stream S>(S stream) mutable {
        return detail::zip_generator(std::move(stream), std::move(other));
    }};
}

}  // namespace asyncpat

#endif  // ASYNCPAT_STREAM_ADAPTERS_HPP
