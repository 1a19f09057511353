// asyncpat: generator<T>, an asynchronous generator coroutine (co_yield and co_await).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_STREAM_GENERATOR_HPP
#define ASYNCPAT_STREAM_GENERATOR_HPP

#include <asyncpat/stream/async_stream.hpp>

#include <asyncpat/detail/frame_allocator.hpp>
#include <asyncpat/detail/task_context.hpp>

#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace asyncpat {

template <typename T>
class generator;

namespace detail {

// How an item goes to the sink: a small trivially copyable item by value (in a register, not
// stored into the generator's frame and loaded back by the sink), any other by reference.
template <typename T>
inline constexpr bool passed_by_value =
    std::is_trivially_copyable_v<T> && std::is_move_constructible_v<T> && sizeof(T) <= 16;
template <typename T>
using sink_argument = std::conditional_t<passed_by_value<T>, T, T&&>;

// The generator's promise. The generator runs only while a consumer pulls, inside the
// consumer's task context (so whatever it awaits resumes it on the consumer's executor, and the
// consumer's cancellation reaches it). A pull installs the consumer, its context and a sink,
// and transfers to the generator; each co_yield offers the item to the sink in place, and the
// generator transfers back to the consumer only once the sink took an item or ended the pull.
template <typename T>
class generator_promise : public frame_allocated {
public:
    generator<T> get_return_object() noexcept;
    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(
            std::coroutine_handle<generator_promise> self) noexcept {
            return transfer_to(self.promise().consumer_);
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() noexcept { error_ = std::current_exception(); }

    // Suspends (back to the consumer) unless the sink asked for more.
    struct yield_awaiter {
        generator_promise* promise;
        bool resume_at_once;
        bool await_ready() const noexcept { return resume_at_once; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
            return transfer_to(promise->consumer_);
        }
        void await_resume() const noexcept {}
    };
    // (always_inline: Clang does not inline these into the coroutine body by itself, and the
    // call would be most of a fused pipeline's cost per item.)
    [[gnu::always_inline]] yield_awaiter yield_value(T&& item) noexcept {
        return {this, offer(std::move(item))};
    }
    [[gnu::always_inline]] yield_awaiter yield_value(const T& item)
        requires std::copy_constructible<T>
    {
        if constexpr (passed_by_value<T>) {
            return {this, offer(T(item))};
        } else {
            T copy(item);
            return {this, offer(std::move(copy))};
        }
    }

    // The consumer's context: what the body's co_awaits run in.
    task_context* context() const noexcept { return context_; }

private:
    template <typename>
    friend class asyncpat::generator;
    template <typename, typename>
    friend class generator_pull;

    // Offers one item to the installed sink. An exception from the sink (an adapter's function)
    // does not enter the generator's body: it goes to the consumer, and the generator is
    // finished (never resumed again).
    [[gnu::always_inline]] bool offer(T&& item) noexcept {
        try {
            offer_result const result = sink_(sink_object_, std::move(item));
            if (result == offer_result::more) return true;
            result_ = result;
        } catch (...) {
            error_ = std::current_exception();
            failed_ = true;
            result_ = offer_result::end;
        }
        return false;
    }

    std::coroutine_handle<> consumer_;
    task_context* context_ = nullptr;
    offer_result (*sink_)(void*, sink_argument<T>) = nullptr;
    void* sink_object_ = nullptr;
    std::exception_ptr error_;
    offer_result result_ = offer_result::end;
    bool failed_ = false;  // an adapter threw: the body stays suspended until destroyed
};

// One pull: see the push protocol in async_stream.hpp.
template <typename T, typename Sink>
class generator_pull {
    using handle_type = std::coroutine_handle<generator_promise<T>>;

public:
    generator_pull(handle_type handle, Sink sink) : handle_(handle), sink_(std::move(sink)) {}
    generator_pull(const generator_pull&) = delete;
    generator_pull& operator=(const generator_pull&) = delete;

    bool await_ready() const {
        if (!handle_) [[unlikely]]
            throw std::logic_error("asyncpat: pulling from an empty generator (moved from)");
        generator_promise<T> const& promise = handle_.promise();
        if (promise.consumer_) [[unlikely]]
            throw std::logic_error("asyncpat: a generator pulled again while a pull is running");
        return handle_.done() || promise.failed_ || sink_.exhausted();
    }

    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> consumer) noexcept {
        static_assert(context_promise<Promise>,
                      "asyncpat streams can only be awaited inside asyncpat coroutines");
        generator_promise<T>& promise = handle_.promise();
        promise.consumer_ = consumer;
        promise.context_ = consumer.promise().context();
        promise.sink_ = &offer_to;
        promise.sink_object_ = &sink_;
        resumed_ = true;
        return transfer_to(handle_);
    }

    // True if the sink took an item; false at the end. Rethrows the generator's exception.
    bool await_resume() {
        if (!resumed_) return false;
        generator_promise<T>& promise = handle_.promise();
        promise.consumer_ = nullptr;
        if (promise.error_) std::rethrow_exception(std::exchange(promise.error_, nullptr));
        return !handle_.done() && promise.result_ == offer_result::taken;
    }

private:
    static offer_result offer_to(void* sink, sink_argument<T> item) {
        return static_cast<Sink*>(sink)->offer(std::move(item));
    }

    handle_type handle_;
    Sink sink_;
    bool resumed_ = false;
};

}  // namespace detail

/// An asynchronous generator: a coroutine that produces a stream of `T` with `co_yield`, and
/// may `co_await` between items (channels, tasks, timers, Asio operations with `use_task`).
///
/// ```
/// asyncpat::generator<int> numbers(asyncpat::receiver<int> rx) {
///     while (auto v = co_await rx.receive()) co_yield *v * 2;
/// }
/// ```
///
/// Lazy: the body runs only while the consumer awaits `next()` (or a sink pulls), from its
/// start or last `co_yield` to its next `co_yield`. Control passes between consumer and
/// generator by symmetric transfer, the item is moved straight into the consumer's result (or
/// into the adapters and sink that consume it, inside the generator's frame: see
/// `stream/adapters.hpp`), and nothing is allocated per item. `co_yield` of an lvalue copies it.
///
/// The body runs in the consumer's task: it resumes on the consumer's executor, and cancelling
/// the consumer cancels what the body awaits. An exception that leaves the body, or an exception
/// thrown by an adapter's function, is rethrown by the consumer's `co_await`, after which the
/// stream is at its end.
///
/// @par Thread safety
/// A generator is used by one consumer at a time (a second pull while one runs throws
/// `std::logic_error`); it may be moved to, and consumed on, another thread between pulls.
///
/// @par Destruction
/// Destroying the generator destroys its frame wherever it is suspended, running the
/// destructors of its locals once.
template <typename T>
class [[nodiscard]] generator {
    static_assert(std::is_object_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T>,
                  "generator<T> yields owned values: T is a non-const object type");

public:
    using value_type = T;
    using promise_type = detail::generator_promise<T>;
    using pushes_items = void;

    generator() noexcept = default;
    generator(generator&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
    generator& operator=(generator&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }
    ~generator() { reset(); }

    /// Awaits the next item: `std::optional<T>`, `std::nullopt` at the end.
    [[nodiscard]] detail::pull_next_awaiter<generator> next() {
        return detail::pull_next_awaiter<generator>{*this};
    }

    /// @cond internal
    template <typename Sink>
    [[nodiscard]] detail::generator_pull<T, Sink> pull(Sink sink) {
        return detail::generator_pull<T, Sink>{handle_, std::move(sink)};
    }
    /// @endcond

private:
    friend class detail::generator_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    explicit generator(handle_type handle) noexcept : handle_(handle) {}
    void reset() noexcept {
        if (handle_) std::exchange(handle_, nullptr).destroy();
    }

    handle_type handle_;
};

namespace detail {
template <typename T>
generator<T> generator_promise<T>::get_return_object() noexcept {
    return generator<T>{std::coroutine_handle<generator_promise>::from_promise(*this)};
}
}  // namespace detail

}  // namespace asyncpat

#endif  // ASYNCPAT_STREAM_GENERATOR_HPP
