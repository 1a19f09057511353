// asyncpat: stream sources: ranges, sequences, single values, zero-copy byte chunks.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_STREAM_SOURCES_HPP
#define ASYNCPAT_STREAM_SOURCES_HPP

#include <asyncpat/bytes.hpp>
#include <asyncpat/stream/async_stream.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace asyncpat {

namespace detail {

// The range and a position in it. Moving the producer after the first item (a stream moved
// between pulls) re-derives the position from the count of items taken for forward ranges,
// since iterators into a moved container need not stay valid (std::array, short strings). An
// input-only range cannot be walked again, and its iterator may refer to the range itself
// (std::views::istream's does): it is kept on the heap, where it stays while the producer moves.
template <std::ranges::input_range R>
class range_producer {
public:
    // Items are values, never references or proxies into the range (std::vector<bool>).
    using item_type = std::ranges::range_value_t<R>;
    explicit range_producer(R range) : range_(make_storage(std::move(range))) {}
    range_producer(range_producer&& other) noexcept(std::is_nothrow_move_constructible_v<storage>)
        : range_(std::move(other.range_)), taken_(other.taken_) {
        rebase(other);
    }
    range_producer& operator=(range_producer&& other) noexcept(
        std::is_nothrow_move_assignable_v<storage>) {
        if (this != &other) {
            position_.reset();
            range_ = std::move(other.range_);
            taken_ = other.taken_;
            rebase(other);
        }
        return *this;
    }

    std::optional<item_type> operator()() {
        R& range = this->range();
        if (!position_) position_.emplace(std::ranges::begin(range));
        if (*position_ == std::ranges::end(range)) return std::nullopt;
        std::optional<item_type> item;
        if constexpr (moves_elements_out)
            item.emplace(std::move(**position_));  // a container owned here
        else
            item.emplace(**position_);  // a view: the elements are the caller's
        ++*position_;
        ++taken_;
        return item;
    }

private:
    // Elements may be moved out of a container the producer owns, never out of a view (a
    // span, a filter over the caller's vector ...), whose elements belong to the caller.
    static constexpr bool moves_elements_out =
        !std::ranges::view<R> && std::is_lvalue_reference_v<std::ranges::range_reference_t<R>>;
    static constexpr bool pinned = !std::ranges::forward_range<R>;
    using storage = std::conditional_t<pinned, std::unique_ptr<R>, R>;

    static storage make_storage(R&& range) {
        if constexpr (pinned)
            return std::make_unique<R>(std::move(range));
        else
            return std::move(range);
    }
    R& range() noexcept {
        if constexpr (pinned)
            return *range_;
        else
            return range_;
    }

    void rebase(range_producer& other) {
        if (!other.position_) return;
        if constexpr (pinned) {
            position_.emplace(std::move(*other.position_));  // the range did not move
        } else {
            position_.emplace(
                std::ranges::next(std::ranges::begin(range_),
                                  static_cast<std::ranges::range_difference_t<R>>(taken_)));
        }
        other.position_.reset();
    }

    storage range_;
    std::optional<std::ranges::iterator_t<R>> position_;
    std::size_t taken_ = 0;
};

// f runs when the next item is pulled, not ahead of it: a stream cut short by take(n) never
// calls f on the last item, and an exception from f comes after the items before it.
template <typename T, typename F>
struct iterate_producer {
    std::optional<T> current;
    F function;
    bool started = false;
    std::optional<T> operator()() {
        if (started)
            current.emplace(std::invoke(function, std::as_const(*current)));
        else
            started = true;
        return current;
    }
};

template <typename T>
struct once_producer {
    std::optional<T> value;
    std::optional<T> operator()() { return std::exchange(value, std::nullopt); }
};

template <typename T>
struct empty_producer {
    std::optional<T> operator()() const noexcept { return std::nullopt; }
};

template <typename F>
struct repeat_with_producer {
    F function;
    std::optional<std::remove_cvref_t<std::invoke_result_t<F&>>> operator()() {
        return std::invoke(function);
    }
};

struct bytes_chunk_producer {
    bytes rest;
    std::size_t size;
    std::optional<bytes> operator()() {
        if (rest.empty()) return std::nullopt;
        return rest.split_to(std::min(size, rest.size()));
    }
};

}  // namespace detail

/// The elements of `range` as values (`range_value_t`). A container is moved in (an rvalue) or
/// copied (an lvalue) and owned by the stream, and its elements are moved out as items. A view
/// (`std::span`, a filter over a vector ...) is kept by value and its elements are copied: the
/// data it refers to is the caller's, left intact, and must outlive the stream. An input-only
/// range (`std::views::istream`) is kept on the heap, so that the stream can move between pulls
/// while its iterator refers to the range. Synchronous: a pull never suspends.
template <std::ranges::input_range R>
auto from_range(R&& range) {
    using owned = std::remove_cvref_t<R>;
    return detail::sync_stream<detail::range_producer<owned>>{
        detail::range_producer<owned>{owned(std::forward<R>(range))}};
}

/// `seed`, `f(seed)`, `f(f(seed))` ... without end (limit it with `take`). Each `f` call
/// happens when its item is pulled.
template <typename T, typename F>
auto iterate(T seed, F&& function) {
    using producer = detail::iterate_producer<T, std::decay_t<F>>;
    return detail::sync_stream<producer>{producer{std::move(seed), std::forward<F>(function)}};
}

/// One item.
template <typename T>
auto once(T value) {
    return detail::sync_stream<detail::once_producer<T>>{
        detail::once_producer<T>{std::move(value)}};
}

/// No item.
template <typename T>
auto empty() {
    return detail::sync_stream<detail::empty_producer<T>>{detail::empty_producer<T>{}};
}

/// `f()`, `f()`, ... without end.
template <typename F>
auto repeat_with(F&& function) {
    using producer = detail::repeat_with_producer<std::decay_t<F>>;
    return detail::sync_stream<producer>{producer{std::forward<F>(function)}};
}

/// `payload` in zero-copy slices of `size` bytes (the last one shorter): each item is a `bytes`
/// sharing `payload`'s buffer. Throws `std::invalid_argument` for a size of 0.
inline auto chunks(bytes payload, std::size_t size) {
    if (size == 0) throw std::invalid_argument("asyncpat::chunks: the size must be at least 1");
    return detail::sync_stream<detail::bytes_chunk_producer>{
        detail::bytes_chunk_producer{std::move(payload), size}};
}

}  // namespace asyncpat

#endif  // ASYNCPAT_STREAM_SOURCES_HPP
