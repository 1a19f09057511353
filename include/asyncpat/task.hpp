// asyncpat: task<T>, the coroutine type every asyncpat operation runs in; use_task; this_task.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TASK_HPP
#define ASYNCPAT_TASK_HPP

#include <asyncpat/error.hpp>

#include <asyncpat/detail/asio.hpp>
#include <asyncpat/detail/frame_allocator.hpp>
#include <asyncpat/detail/result.hpp>
#include <asyncpat/detail/task_context.hpp>

#include <atomic>
#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace asyncpat {

/// The executor type tasks run on.
using any_executor = asio::any_io_executor;

template <typename T = void>
class task;

namespace detail {

// What all task promises share: the frame allocator, the awaiting coroutine (or none, for the
// outermost task of a tree, whose root is told instead), and the tree's context.
//
// The frame is owned by whoever awaits the task (the task object in the awaiting frame) or by
// the root. A nested task's frame is destroyed by its owner after the awaiter resumed; the
// outermost task's frame may be destroyed by its root inside complete(), i.e. inside the final
// await_suspend (the pattern of GCC PR 121961; checked clean with g++ 12 under ASan).
class task_promise_base : public frame_allocated {
public:
    // Every task starts suspended. When the outermost task of a tree starts (a root resumes it:
    // posted, inline, or from this thread's ready slot) after its tree was cancelled, it fails
    // with operation_aborted before its body runs: the exception goes to unhandled_exception(),
    // as the language specifies for an initial await_resume, and the task completes with it.
    // (One check at the start, instead of one at every hand-off through the ready slot.)
    struct initial_awaiter {
        task_promise_base& promise;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        void await_resume() const {
            if (!promise.continuation_ && promise.context_->cancel_requested()) [[unlikely]]
                throw_cancelled_before_start();
        }
    };
    initial_awaiter initial_suspend() noexcept { return {*this}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <typename Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            task_promise_base& promise = self.promise();
            if (promise.continuation_) return transfer_to(promise.continuation_);
            // The outermost task: its root may destroy this frame inside complete(), so nothing
            // here may touch the frame after the call. When the completion resumes nobody, the
            // task this thread's ready slot holds runs next (as after any other suspension),
            // not the scheduler's next handler. (A noop_coroutine() that stands for a transfer
            // the trampoline deferred is not "nobody": see transfer_deferred.)
            std::coroutine_handle<> const next = promise.context_->root().complete();
            if (next == std::noop_coroutine() && !transfer_deferred()) return next_ready();
            return next;
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }

    task_context* context() const noexcept { return context_; }

    // Binds this (not yet started) task to the awaiting coroutine (or none) and its context.
    void bind(std::coroutine_handle<> continuation, task_context* context) noexcept {
        continuation_ = continuation;
        context_ = context;
    }

private:
    [[noreturn, gnu::cold, gnu::noinline]] static void throw_cancelled_before_start() {
        throw std::system_error(asio::error::operation_aborted);
    }

    std::coroutine_handle<> continuation_;
    task_context* context_ = nullptr;
};

template <typename T>
class task_promise final : public task_promise_base {
    // The frame holds the result; frames are 64-byte aligned (see frame_allocated).
    static_assert(alignof(std::conditional_t<std::is_reference_v<T>, void*, T>) <= 64,
                  "asyncpat::task<T>: a T aligned beyond 64 bytes is not supported (the "
                  "coroutine frame is 64-byte aligned); return it in a std::unique_ptr");

public:
    task<T> get_return_object() noexcept;
    void unhandled_exception() noexcept { result_.set_exception(std::current_exception()); }
    template <typename U = T>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& value) {
        result_.set_value(std::forward<U>(value));
    }
    result<T>& outcome() noexcept { return result_; }

private:
    result<T> result_;
};

template <>
class task_promise<void> final : public task_promise_base {
public:
    task<void> get_return_object() noexcept;
    void unhandled_exception() noexcept { result_.set_exception(std::current_exception()); }
    void return_void() noexcept { result_.set_value(); }
    result<void>& outcome() noexcept { return result_; }

private:
    result<void> result_;
};

}  // namespace detail

/// A lazy coroutine producing a `T` (or nothing, for `task<void>`).
///
/// A task does nothing until it is awaited (`co_await std::move(t)`) or handed to `spawn`,
/// `sync_wait`, `async_run` or a combinator. Awaiting transfers control to it directly
/// (symmetric transfer: no scheduler round trip, constant stack depth), and its result or
/// exception comes back at the `co_await`. Frames come from a per-thread recycling allocator.
///
/// A task runs on the executor of whoever awaits or spawns it; every asyncpat operation and
/// every Asio operation awaited with `use_task` resumes it there, even when the operation
/// completes on another thread.
///
/// @par Thread safety
/// A task object is not shared: move it to where it is awaited. Different tasks may run on
/// different threads.
///
/// @par Cancellation
/// A task is cancelled through its tree (see `join_handle::abort`, `task_group`, `race`,
/// `timeout`, or the cancellation slot of an `async_run` token); the operation it awaits is then
/// cancelled, and it completes with `std::system_error(asio::error::operation_aborted)` unless it
/// handles that error.
template <typename T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using value_type = T;
    using handle_type = std::coroutine_handle<promise_type>;

    task() noexcept = default;
    task(task&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          awaited_(std::exchange(other.awaited_, false)) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
            awaited_ = std::exchange(other.awaited_, false);
        }
        return *this;
    }
    ~task() { reset(); }

    /// True when the task holds a coroutine (it was not moved from).
    bool valid() const noexcept { return static_cast<bool>(handle_); }
    explicit operator bool() const noexcept { return valid(); }

    // Owns nothing (the task object, owner of the frame, stays in the awaiting frame), so that
    // awaiter copies GCC may create or destroy around a co_await cannot free the frame. (GCC 12
    // even evaluates a co_await in the short-circuited operand of a loop condition: see
    // docs/compilers.md.)
    class awaiter {
    public:
        awaiter(handle_type handle, bool awaited_before) noexcept
            : handle_(awaited_before ? handle_type{} : handle) {}
        bool await_ready() const {
            if (!handle_) [[unlikely]]
                throw std::logic_error(
                    "asyncpat: co_await on an empty task (moved from, or already awaited)");
            return false;
        }
        template <typename Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> caller) noexcept {
            static_assert(detail::context_promise<Promise>,
                          "asyncpat::task can only be awaited inside asyncpat coroutines; "
                          "from asio::awaitable use asyncpat::async_run(executor, task, token)");
            handle_.promise().bind(caller, caller.promise().context());
            return detail::transfer_to(handle_);
        }
        T await_resume() { return handle_.promise().outcome().get(); }

    private:
        handle_type handle_;
    };

    /// Starts the task and waits for it. The task must be an rvalue: `co_await std::move(t)`.
    /// The frame stays owned by this object until it is destroyed; a second await is an error
    /// (`std::logic_error`), as is awaiting a moved-from task.
    awaiter operator co_await() && noexcept {
        return awaiter{handle_, std::exchange(awaited_, true)};
    }

    /// @cond internal
    // Holds a frame that was never awaited: something may start it (spawn, async_run ...).
    bool startable() const noexcept { return handle_ && !awaited_; }
    handle_type handle() const noexcept { return handle_; }
    handle_type release() noexcept { return std::exchange(handle_, nullptr); }
    /// @endcond

private:
    friend class detail::task_promise<T>;
    explicit task(handle_type handle) noexcept : handle_(handle) {}
    void reset() noexcept {
        if (handle_) std::exchange(handle_, nullptr).destroy();
    }

    handle_type handle_;
    bool awaited_ = false;  // the frame stays owned here after the await, until destruction
};

namespace detail {
// A task handed to spawn, async_run, sync_wait, a combinator or a group must hold a frame that
// never ran: an empty one (moved from) or one already awaited is the caller's logic error.
[[noreturn, gnu::cold, gnu::noinline]] inline void throw_not_startable(char const* where) {
    throw std::logic_error(std::string("asyncpat: ") + where +
                           " of an empty task (moved from, or already awaited)");
}
template <typename T>
[[gnu::always_inline]] inline void check_startable(const task<T>& work, char const* where) {
    if (!work.startable()) [[unlikely]]
        throw_not_startable(where);
}

template <typename T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<task_promise>::from_promise(*this)};
}

template <typename T>
struct is_task : std::false_type {};
template <typename T>
struct is_task<task<T>> : std::true_type {};

// Awaiters that only look at the awaiting coroutine's context and never suspend.
template <typename Derived>
struct context_query {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    bool await_suspend(std::coroutine_handle<Promise> caller) noexcept {
        static_assert(context_promise<Promise>,
                      "this_task queries work only inside asyncpat coroutines");
        context_ = caller.promise().context();
        return false;
    }

protected:
    task_context* context_ = nullptr;
};
}  // namespace detail

/// Queries about the running task, for use with `co_await` inside asyncpat coroutines.
namespace this_task {

/// `co_await this_task::executor` yields the executor the task runs on.
struct executor_t {
    struct awaiter : detail::context_query<awaiter> {
        any_executor await_resume() const noexcept { return context_->get_executor(); }
    };
    awaiter operator co_await() const noexcept { return {}; }
};
inline constexpr executor_t executor{};

/// `co_await this_task::cancellation_requested` yields true once the task has been cancelled.
struct cancellation_requested_t {
    struct awaiter : detail::context_query<awaiter> {
        bool await_resume() const noexcept { return context_->cancel_requested(); }
    };
    awaiter operator co_await() const noexcept { return {}; }
};
inline constexpr cancellation_requested_t cancellation_requested{};

/// `co_await this_task::throw_if_cancelled()` throws
/// `std::system_error(asio::error::operation_aborted)` if the task has been cancelled.
struct [[nodiscard]] throw_if_cancelled {
    struct awaiter : detail::context_query<awaiter> {
        void await_resume() const {
            if (context_->cancel_requested())
                throw std::system_error(asio::error::operation_aborted);
        }
    };
    awaiter operator co_await() const noexcept { return {}; }
};

/// `co_await this_task::yield()` lets the executor run other handlers, then resumes the task on
/// its executor. Throws `std::system_error(asio::error::operation_aborted)` if the task was
/// cancelled before or while yielding.
struct [[nodiscard]] yield {
    struct awaiter {
        bool await_ready() const noexcept { return false; }
        template <typename Promise>
        void await_suspend(std::coroutine_handle<Promise> caller) {
            static_assert(detail::context_promise<Promise>,
                          "this_task::yield works only inside asyncpat coroutines");
            context_ = caller.promise().context();
            detail::post_resume(caller, *context_);
        }
        void await_resume() const {
            if (context_->cancel_requested())
                throw std::system_error(asio::error::operation_aborted);
        }
        detail::task_context* context_ = nullptr;
    };
    awaiter operator co_await() const noexcept { return {}; }
};

}  // namespace this_task

// ------------------------------------------------------------------------------------------------
// use_task: any Asio asynchronous operation, awaited inside a task.

/// Completion token that makes an Asio asynchronous operation awaitable inside an asyncpat task:
/// `std::size_t n = co_await socket.async_read_some(buffer, asyncpat::use_task);`
///
/// An error code as the first completion argument is thrown as `std::system_error`; use
/// `use_task[ec]` to receive it in `ec` instead. The remaining arguments are the result: nothing,
/// one value, or a `std::tuple` of several. `asio::experimental::as_tuple(use_task)` (Asio 1.22;
/// `asio::as_tuple` from 1.23) works too and yields the whole argument list as a tuple.
///
/// The operation's handler has the task's executor as its associated executor (so it completes
/// there) and the task's cancellation slot (so cancelling the task cancels the operation).
/// The operation state lives in the awaiting coroutine's frame.
struct use_task_t {
    /// Errors of the operation go to `ec` (cleared on success) instead of being thrown.
    struct redirect_error_t {
        std::error_code* error;
    };
    constexpr redirect_error_t operator[](std::error_code& ec) const noexcept { return {&ec}; }
};

/// The `use_task` completion token.
inline constexpr use_task_t use_task{};

namespace detail {

template <typename Signature>
struct completion_args;
template <typename... Args>
struct completion_args<void(Args...)> {
    using stored = std::tuple<std::decay_t<Args>...>;
};

template <typename... Args>
struct first_arg {
    using type = void;
};
template <typename First, typename... Rest>
struct first_arg<First, Rest...> {
    using type = std::decay_t<First>;
};

// The value a use_task await yields, from a completion signature's arguments minus a leading
// error_code or exception_ptr.
template <typename... Values>
struct await_value {
    using type = std::tuple<Values...>;
};
template <>
struct await_value<> {
    using type = void;
};
template <typename Value>
struct await_value<Value> {
    using type = Value;
};

template <typename Signature>
struct use_task_signature;
template <typename... Args>
struct use_task_signature<void(Args...)> {
    using first = typename first_arg<Args...>::type;
    static constexpr bool has_error_code = std::is_same_v<first, std::error_code>;
    static constexpr bool has_exception = std::is_same_v<first, std::exception_ptr>;
    static constexpr std::size_t value_offset = (has_error_code || has_exception) ? 1 : 0;
    using stored = std::tuple<std::decay_t<Args>...>;

    template <std::size_t... I>
    static auto value_type_of(std::index_sequence<I...>)
        -> await_value<std::tuple_element_t<I + value_offset, stored>...>;
    using value_type = typename decltype(value_type_of(
        std::make_index_sequence<sizeof...(Args) - value_offset>{}))::type;
};

// The awaiter that use_task's async_result returns. It holds the initiation and its arguments
// until the awaiting coroutine suspends, then starts the operation with a handler pointing back
// here; the result is stored in this object, inside the awaiting frame.
//
// `state_` resolves the race between the initiation returning and the handler running (inline
// from the initiation, or at once on another thread): whoever comes second resumes the
// coroutine (the handler) or continues without suspending (await_suspend).
template <typename Signature, typename Initiation, typename... InitArgs>
class use_task_operation {
    using traits = use_task_signature<Signature>;

public:
    using value_type = typename traits::value_type;

    template <typename Init, typename... Args>
    use_task_operation(std::error_code* redirect, Init&& initiation, Args&&... args)
        : redirect_(redirect),
          initiation_(std::forward<Init>(initiation)),
          args_(std::forward<Args>(args)...) {}

    use_task_operation(use_task_operation&&) = default;
    use_task_operation& operator=(use_task_operation&&) = delete;

    class handler {
    public:
        explicit handler(use_task_operation* op) noexcept : op_(op), context_(op->context_) {}
        handler(handler&& other) noexcept
            : op_(std::exchange(other.op_, nullptr)), context_(other.context_) {}
        handler& operator=(handler&&) = delete;
        ~handler() {
            if (op_ && op_->state_.exchange(dropped, std::memory_order_acq_rel) == suspended) {
                context_->disarm();  // the operation's slot handler must not outlive it
                context_->root().abandon();
            }
        }

        template <typename... Args>
        void operator()(Args&&... args) {
            use_task_operation* op = std::exchange(op_, nullptr);
            op->result_.emplace(std::forward<Args>(args)...);
            if (op->state_.exchange(completed, std::memory_order_acq_rel) == suspended) {
                op->context_->clear_slot();
                detail::resume(op->caller_);
            }
        }

        using executor_type = any_executor;
        executor_type get_executor() const noexcept { return context_->get_executor(); }
        using cancellation_slot_type = asio::cancellation_slot;
        cancellation_slot_type get_cancellation_slot() const noexcept { return context_->slot(); }

    private:
        use_task_operation* op_;
        task_context* context_;
    };

    bool await_ready() const noexcept { return false; }

    template <typename Promise>
    bool await_suspend(std::coroutine_handle<Promise> caller) {
        static_assert(context_promise<Promise>,
                      "asyncpat::use_task works only inside asyncpat coroutines");
        caller_ = caller;
        context_ = caller.promise().context();
        {
            std::lock_guard<spin_lock> guard(context_->slot_lock());
            if (context_->cancel_requested()) {
                aborted_ = true;
                return false;
            }
            std::apply(
                [this](auto&&... args) {
                    std::move(initiation_)(handler{this}, std::forward<decltype(args)>(args)...);
                },
                std::move(args_));
        }
        unsigned expected = initiating;
        if (state_.compare_exchange_strong(expected, suspended, std::memory_order_acq_rel))
            return true;
        // Completed (or dropped) before we could suspend: continue at once.
        context_->clear_slot();
        return false;
    }

    value_type await_resume() {
        if (aborted_) return fail(asio::error::operation_aborted);
        if (!result_) return fail(make_error_code(errc::abandoned));
        auto& values = *result_;
        if constexpr (traits::has_exception) {
            if (std::get<0>(values)) std::rethrow_exception(std::get<0>(values));
        } else if constexpr (traits::has_error_code) {
            std::error_code const ec = std::get<0>(values);
            if (redirect_) {
                *redirect_ = ec;
            } else if (ec) {
                throw std::system_error(ec);
            }
        }
        return extract(std::make_index_sequence<std::tuple_size_v<typename traits::stored> -
                                                traits::value_offset>{});
    }

private:
    static constexpr unsigned initiating = 0, suspended = 1, completed = 2, dropped = 3;

    template <std::size_t... I>
    value_type extract(std::index_sequence<I...>) {
        if constexpr (std::is_void_v<value_type>)
            return;
        else if constexpr (sizeof...(I) == 1)
            return std::move(std::get<traits::value_offset>(*result_));
        else
            return value_type{std::move(std::get<I + traits::value_offset>(*result_))...};
    }

    value_type fail(std::error_code ec) {
        if constexpr (traits::has_error_code) {
            // A value that cannot be made up (a socket from async_accept) cannot be returned
            // with the error, so then the error is thrown even with use_task[ec].
            if constexpr (std::is_void_v<value_type>) {
                if (redirect_) {
                    *redirect_ = ec;
                    return;
                }
            } else if constexpr (std::is_default_constructible_v<value_type>) {
                if (redirect_) {
                    *redirect_ = ec;
                    return value_type{};
                }
            }
        }
        throw std::system_error(ec);
    }

    std::error_code* redirect_;
    Initiation initiation_;
    std::tuple<InitArgs...> args_;
    std::optional<typename traits::stored> result_;
    std::coroutine_handle<> caller_;
    task_context* context_ = nullptr;
    std::atomic<unsigned> state_{initiating};
    bool aborted_ = false;
};

}  // namespace detail
}  // namespace asyncpat

template <typename Signature>
class asio::async_result<asyncpat::use_task_t, Signature> {
public:
    template <typename Initiation, typename RawToken, typename... Args>
    static auto initiate(Initiation&& initiation, RawToken&&, Args&&... args) {
        return asyncpat::detail::use_task_operation<Signature, std::decay_t<Initiation>,
                                                    std::decay_t<Args>...>(
            nullptr, std::forward<Initiation>(initiation), std::forward<Args>(args)...);
    }
};

template <typename Signature>
class asio::async_result<asyncpat::use_task_t::redirect_error_t, Signature> {
public:
    template <typename Initiation, typename RawToken, typename... Args>
    static auto initiate(Initiation&& initiation, RawToken&& token, Args&&... args) {
        return asyncpat::detail::use_task_operation<Signature, std::decay_t<Initiation>,
                                                    std::decay_t<Args>...>(
            token.error, std::forward<Initiation>(initiation), std::forward<Args>(args)...);
    }
};

// spawn, join_handle, async_run and sync_wait belong to the task API; they live in their own
// header for readability.
#include <asyncpat/spawn.hpp>

#endif  // ASYNCPAT_TASK_HPP
