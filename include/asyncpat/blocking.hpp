// asyncpat: spawn_blocking, blocking work on a separate thread pool.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_BLOCKING_HPP
#define ASYNCPAT_BLOCKING_HPP

#include <asyncpat/config.hpp>
#include <asyncpat/error.hpp>
#include <asyncpat/task.hpp>

#include <asyncpat/detail/asio.hpp>
#include <asyncpat/detail/result.hpp>
#include <asyncpat/detail/task_context.hpp>

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace asyncpat {

/// A pool of threads for blocking calls (file I/O, CPU-heavy work, legacy synchronous APIs), kept
/// apart from the executors that run tasks, so a blocking call never stalls them.
///
/// The destructor waits for the work already queued to finish.
class blocking_pool {
public:
    using executor_type = asio::thread_pool::executor_type;

    /// A pool of `threads` threads (at least one).
    explicit blocking_pool(std::size_t threads) : pool_(threads == 0 ? 1 : threads) {}
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;
    ~blocking_pool() { pool_.join(); }

    executor_type get_executor() noexcept { return pool_.get_executor(); }

    /// The pool `spawn_blocking` uses by default: `ASYNCPAT_BLOCKING_POOL_THREADS` threads,
    /// created on first use, joined at program exit (so a blocking call that never returns
    /// delays exit).
    static blocking_pool& global() {
        static blocking_pool pool(ASYNCPAT_BLOCKING_POOL_THREADS);
        return pool;
    }

private:
    asio::thread_pool pool_;
};

namespace detail {

// Awaiter for spawn_blocking. The function runs on a pool thread; the awaiting task holds one
// unit of outstanding work on its own executor meanwhile (so an io_context does not run out of
// work), and is resumed there by a post.
template <typename Function>
class blocking_awaiter {
public:
    using value_type = std::invoke_result_t<Function&>;

    blocking_awaiter(blocking_pool& pool, Function function)
        : pool_(&pool), function_(std::move(function)) {}
    blocking_awaiter(blocking_awaiter&&) = default;
    blocking_awaiter& operator=(blocking_awaiter&&) = delete;

    bool await_ready() const noexcept { return false; }

    template <typename Promise>
    bool await_suspend(std::coroutine_handle<Promise> caller) {
        static_assert(context_promise<Promise>,
                      "spawn_blocking can only be awaited inside asyncpat coroutines");
        caller_ = caller;
        context_ = caller.promise().context();
        if (context_->cancel_requested()) {
            aborted_ = true;
            return false;
        }
        work_.emplace(context_->get_executor());
        try {
            asio::post(pool_->get_executor(), job{this});
        } catch (...) {
            // Out of memory queueing the job: the job's destructor has already posted this
            // coroutine's resumption (with errc::abandoned); resuming it here too would run it
            // twice.
        }
        return true;
    }

    value_type await_resume() {
        if (aborted_) throw std::system_error(asio::error::operation_aborted);
        return result_.get();
    }

private:
    // Runs on a pool thread. If the pool is destroyed with the job still queued, the task is
    // resumed with errc::abandoned instead of being left waiting.
    struct job {
        blocking_awaiter* self;
        explicit job(blocking_awaiter* s) noexcept : self(s) {}
        job(job&& other) noexcept : self(std::exchange(other.self, nullptr)) {}
        job& operator=(job&&) = delete;
        ~job() {
            if (self) {
                self->result_.set_exception(
                    std::make_exception_ptr(std::system_error(make_error_code(errc::abandoned))));
                finish(std::exchange(self, nullptr));
            }
        }
        void operator()() {
            blocking_awaiter* s = std::exchange(self, nullptr);
            try {
                if constexpr (std::is_void_v<value_type>) {
                    std::invoke(s->function_);
                    s->result_.set_value();
                } else {
                    s->result_.set_value(std::invoke(s->function_));
                }
            } catch (...) {
                s->result_.set_exception(std::current_exception());
            }
            finish(s);
        }
        static void finish(blocking_awaiter* s) noexcept {
            // The work guard travels with the resumption and is released on the task's executor
            // after the task ran: released here, it could outlive a context that finished
            // meanwhile. Once posted, the task may run (and destroy *s) at any moment.
            try {
                s->context_->post(resume_with_work{resume_handler{s->caller_, s->context_},
                                                   std::move(*s->work_)});
            } catch (...) {  // the unrun resume_handler in it abandoned the tree
            }
        }
    };

    struct resume_with_work {
        resume_handler resume;
        asio::executor_work_guard<any_executor> work;
        void operator()() { resume(); }
    };

    blocking_pool* pool_;
    Function function_;
    result<value_type> result_;
    std::coroutine_handle<> caller_;
    task_context* context_ = nullptr;
    std::optional<asio::executor_work_guard<any_executor>> work_;
    bool aborted_ = false;
};

template <typename F, typename... Args>
auto bind_blocking(F&& function, Args&&... args) {
    return [bound_function = std::forward<F>(function),
            ... bound_args = std::forward<Args>(args)]() mutable -> decltype(auto) {
        return std::invoke(std::move(bound_function), std::move(bound_args)...);
    };
}

}  // namespace detail

/// Runs `function(args...)` on `pool` and resumes the awaiting task on its own executor with
/// the result, or rethrows the exception the function threw:
/// `auto digest = co_await asyncpat::spawn_blocking(pool, hash_file, path);`
///
/// The function and the arguments are moved into the awaiter, in the task's frame.
///
/// @par Thread safety
/// The function runs on a pool thread, concurrently with the executor's other work.
/// @par Cancellation
/// A running blocking call cannot be interrupted, and its await completes normally with the
/// call's result; the cancellation then takes effect at the task's next suspending operation.
/// A task already cancelled does not start the call (`operation_aborted`).
///
/// The task's executor (its execution context) must outlive the call, as for any Asio
/// operation: the resumption is posted there when the call returns.
template <typename F, typename... Args>
[[nodiscard]] auto spawn_blocking(blocking_pool& pool, F&& function, Args&&... args) {
    auto bound = detail::bind_blocking(std::forward<F>(function), std::forward<Args>(args)...);
    return detail::blocking_awaiter<decltype(bound)>(pool, std::move(bound));
}

/// `spawn_blocking` on `blocking_pool::global()`.
template <typename F, typename... Args>
    requires(!std::is_same_v<std::decay_t<F>, blocking_pool>)
[[nodiscard]] auto spawn_blocking(F&& function, Args&&... args) {
    return spawn_blocking(blocking_pool::global(), std::forward<F>(function),
                          std::forward<Args>(args)...);
}

}  // namespace asyncpat

#endif  // ASYNCPAT_BLOCKING_HPP
