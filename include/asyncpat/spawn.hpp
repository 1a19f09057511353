// asyncpat: spawn, join_handle, async_run (tasks driven by any completion token), sync_wait.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_SPAWN_HPP
#define ASYNCPAT_SPAWN_HPP

#include <asyncpat/task.hpp>

#include <asyncpat/detail/asio.hpp>

#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

namespace asyncpat {

/// Called with the exception of a task that nobody will join (detached, or whose join handle
/// was dropped). Cancellation (`operation_aborted`) is not reported.
using unhandled_exception_handler = std::function<void(std::exception_ptr)>;

namespace detail {
struct unhandled_exception_registry {
    std::mutex mutex;
    unhandled_exception_handler handler;

    static unhandled_exception_registry& instance() {
        static unhandled_exception_registry registry;
        return registry;
    }
};

// C stdio, not fmt::print: this must not throw, and fmt::print throws when stderr cannot be
// written (closed, or a full disk); a failed report is dropped.
inline void print_unhandled_exception(std::exception_ptr error) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "asyncpat: a detached task ended with an exception: %s\n", e.what());
    } catch (...) {
        std::fputs("asyncpat: a detached task ended with a non-standard exception\n", stderr);
    }
}

inline bool is_cancellation(const std::exception_ptr& error) noexcept {
    try {
        std::rethrow_exception(error);
    } catch (const std::system_error& e) {
        return e.code() == asio::error::operation_aborted;
    } catch (...) {
        return false;
    }
}

// Never throws into the caller (an executor or a destructor): a throwing handler is reported
// with the default printer.
inline void report_unhandled_exception(std::exception_ptr error) noexcept {
    if (is_cancellation(error)) return;
    try {
        unhandled_exception_handler handler;
        {
            auto& registry = unhandled_exception_registry::instance();
            std::lock_guard<std::mutex> lock(registry.mutex);
            handler = registry.handler;  // a copy may allocate, and throw
        }
        if (!handler) return print_unhandled_exception(error);
        handler(error);
    } catch (...) {
        print_unhandled_exception(std::current_exception());
    }
}
}  // namespace detail

/// Sets the handler for exceptions of detached tasks and returns the previous one. An empty
/// handler restores the default, which prints one line to stderr.
/// @par Thread safety
/// May be called from any thread; a handler already running finishes with the old value.
inline unhandled_exception_handler set_unhandled_exception_handler(
    unhandled_exception_handler handler) {
    auto& registry = detail::unhandled_exception_registry::instance();
    std::lock_guard<std::mutex> lock(registry.mutex);
    return std::exchange(registry.handler, std::move(handler));
}

namespace detail {

template <typename Executor>
any_executor to_executor(Executor&& ex) {
    if constexpr (std::is_convertible_v<std::remove_reference_t<Executor>&,
                                        asio::execution_context&>)
        return ex.get_executor();
    else
        return any_executor(std::forward<Executor>(ex));
}

// The executor to build a task context from, without an intermediate any_executor: a context's
// own executor, or a reference to the caller's executor (copied once, into the context).
template <typename Executor>
decltype(auto) executor_arg(Executor& ex) {
    if constexpr (std::is_convertible_v<Executor&, asio::execution_context&>)
        return ex.get_executor();
    else
        return static_cast<const Executor&>(ex);
}

template <typename E>
concept executor_or_context =
    std::is_convertible_v<std::remove_reference_t<E>&, asio::execution_context&> ||
    std::is_constructible_v<any_executor, E>;

// A root that owns the outermost task of a tree and the tree's context. Subclasses decide what
// completion means (join handle, handler, group, combinator) in on_complete().
//
// When the task finishes, its outcome moves into the root and its frame is destroyed at once:
// the frame's parameters (a channel sender, a socket ...) must not live on until someone reads
// the result (tokio drops a finished future the same way). This happens inside the final
// await_suspend, which touches nothing after calling complete().
template <typename T>
class task_root : public root_base, public cache_allocated {
public:
    task_context& context() noexcept { return context_; }

    std::coroutine_handle<> complete() noexcept final {
        result_.take_from(task_.handle().promise().outcome());
        context_.disarm_if_armed();
        task_ = task<T>{};
        context_.release_work();
        return on_complete();
    }

protected:
    template <typename Executor>
    task_root(Executor&& ex, std::uint32_t refs)
        : root_base(refs), context_(std::forward<Executor>(ex), this) {}
    ~task_root() = default;

    virtual std::coroutine_handle<> on_complete() noexcept = 0;

    result<T>& outcome() noexcept { return result_; }

    // Binds the task as the outermost task of this tree and schedules its start: through this
    // thread's ready slot when the caller runs a handler of the same io_context (see
    // detail::start_here), otherwise by posting.
    void start(task<T> work) {
        bind(std::move(work));
        if (!start_here(task_.handle(), context_)) context_.post(starter{this});
    }

    // Starts the task now, on the calling thread (which must run the tree's executor).
    void start_inline(task<T> work) {
        bind(std::move(work));
        run();
    }

    // Destroys the task's frame (finished, suspended, or never started), first dropping any
    // cancellation handler a suspended operation of the tree left behind, and gives back the
    // tree's unit of work (abandonment happens while the executor exists: at its shutdown, or
    // when a resumption could not be queued).
    void destroy_task() noexcept {
        if (task_) context_.disarm();
        task_ = task<T>{};
        context_.release_work();
    }

private:
    void bind(task<T> work) {
        task_ = std::move(work);
        task_.handle().promise().bind(nullptr, &context_);
    }

    // (A tree cancelled before its start completes with the cancellation without running the
    // body: see task_promise_base::initial_awaiter.)
    void run() { detail::run_handler(task_.handle(), context_); }

    struct starter {
        task_root* root;
        explicit starter(task_root* r) noexcept : root(r) {}
        starter(starter&& other) noexcept : root(std::exchange(other.root, nullptr)) {}
        starter& operator=(starter&&) = delete;
        ~starter() {
            if (root) root->abandon();
        }
        void operator()() { std::exchange(root, nullptr)->run(); }
    };

    task_context context_;
    task<T> task_;
    result<T> result_;
};

// The state shared by a spawned task and its join handle. One reference belongs to the running
// task, one to the handle.
//
// `waiter_` is the join protocol: no_waiter, finished, or the address of the join awaiter that
// waits. The awaiter installs itself with a CAS from no_waiter; completion exchanges in
// finished and wakes whoever it found. A cancelled join removes itself with a CAS back to
// no_waiter, so exactly one of (completion, cancellation) resumes the awaiter.
template <typename T>
class join_state : public task_root<T> {
public:
    static constexpr std::uintptr_t no_waiter = 0;
    static constexpr std::uintptr_t finished = 1;

    struct waiter {
        std::coroutine_handle<> handle;
        task_context* context;
    };

    bool is_finished() const noexcept {
        return waiter_.load(std::memory_order_acquire) == finished;
    }

    enum class wait_result { waiting, finished, busy };

    // Registers `w` as the one waiter, unless the task already finished or another coroutine
    // already waits.
    wait_result add_waiter(waiter* w) noexcept {
        std::uintptr_t expected = no_waiter;
        if (waiter_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(w),
                                            std::memory_order_acq_rel, std::memory_order_acquire))
            return wait_result::waiting;
        return expected == finished ? wait_result::finished : wait_result::busy;
    }
    // Returns true if `w` stopped waiting before the task finished.
    bool remove_waiter(waiter* w) noexcept {
        auto expected = reinterpret_cast<std::uintptr_t>(w);
        return waiter_.compare_exchange_strong(expected, no_waiter, std::memory_order_acq_rel,
                                               std::memory_order_acquire);
    }

    // Nobody will take the outcome, and nobody wants it reported: set by its only taker (the
    // handle) before it lets go, so the last release orders it before report_if_unobserved.
    void discard_outcome() noexcept { taken_ = true; }

    // Takes the outcome (once); rethrows the task's exception.
    T take() {
        if (taken_) throw std::system_error(make_error_code(errc::already_joined));
        taken_ = true;
        if (abandoned_) throw std::system_error(make_error_code(errc::abandoned));
        return this->outcome().get();
    }

    std::coroutine_handle<> on_complete() noexcept override {
        finished_running();
        // The handle was dropped (detached) and no cancellation is in flight: nobody can wait for
        // or look at the result, and nobody can appear (only the handle hands out references).
        // No atomic step needed.
        if (this->is_sole_owner()) {
            this->destroy();
            return std::noop_coroutine();
        }
        std::coroutine_handle<> next = std::noop_coroutine();
        std::uintptr_t const w = waiter_.exchange(finished, std::memory_order_acq_rel);
        if (w != no_waiter) {
            auto* joiner = reinterpret_cast<waiter*>(w);
            next = resume_on(joiner->handle, *joiner->context);
        }
        this->release();
        return next;
    }

    void abandon() noexcept override {
        this->destroy_task();
        finished_running();
        abandoned_ = true;
        std::uintptr_t const w = waiter_.exchange(finished, std::memory_order_acq_rel);
        if (w != no_waiter) {
            auto* joiner = reinterpret_cast<waiter*>(w);
            post_resume(joiner->handle, *joiner->context);
        }
        this->release();
    }

protected:
    using task_root<T>::task_root;
    ~join_state() = default;

    // The task will not run again: what only it used can go now (not when the handle goes).
    virtual void finished_running() noexcept {}

    // Reports an exception nobody joined; runs when the last reference goes.
    void report_if_unobserved() noexcept {
        if (taken_ || abandoned_) return;
        auto& out = this->outcome();
        if (out.has_exception()) report_unhandled_exception(out.exception());
    }

private:
    std::atomic<std::uintptr_t> waiter_{no_waiter};
    bool taken_ = false;
    bool abandoned_ = false;
};

// The root of a detached spawn: nobody joins the task and nobody can cancel its tree, so the
// running task holds the only reference, and its completion frees the state at once (no join
// protocol, no reference count to look at). An exception the task ended with is reported then.
template <typename T>
class detached_root : public task_root<T> {
public:
    std::coroutine_handle<> on_complete() noexcept final {
        if (this->outcome().has_exception())
            report_unhandled_exception(this->outcome().exception());
        this->destroy();
        return std::noop_coroutine();
    }

    void abandon() noexcept final {
        this->destroy_task();
        this->destroy();
    }

protected:
    template <typename Executor>
    detached_root(Executor&& ex, std::uint32_t refs) : task_root<T>(std::forward<Executor>(ex), 1) {
        assert(refs == 1 && "a detached spawn has one reference, the running task's");
        (void)refs;
        this->context().set_uncancellable();  // no handle: nobody can cancel it
    }
    ~detached_root() = default;

    // Never called: the state goes as the task finishes, and with it what a join state frees
    // early (see join_state::finished_running).
    virtual void finished_running() noexcept {}
    // Nothing is left unobserved when the state goes: on_complete reported it.
    void report_if_unobserved() noexcept {}
};

// The root of a spawn: a join state (refs 2: the running task's and the join handle's) or a
// detached root (refs 1).
template <typename T, bool Detached>
using spawn_root = std::conditional_t<Detached, detached_root<T>, join_state<T>>;

// A spawned task together with the callable and arguments it was made from, which live here
// (not on the spawner's stack) for as long as the task can run.
template <typename T, typename Root, typename Function, typename... Args>
class spawn_state final : public Root {
public:
    // refs: 2 with a join handle, 1 for a detached spawn (only the running task's).
    template <typename Executor, typename F, typename... A>
    spawn_state(std::uint32_t refs, Executor&& ex, F&& function, A&&... args)
        : Root(std::forward<Executor>(ex), refs),
          callable_(std::in_place, std::forward<F>(function),
                    std::tuple<Args...>(std::forward<A>(args)...)) {}

    // Calls the callable (which may throw: then nothing was started) and posts the start (which
    // may throw out of memory: then the start handler already abandoned the state).
    void launch() {
        task<T> work;
        try {
            work = std::apply(
                [this](auto&&... args) -> task<T> {
                    return std::invoke(callable_->function, std::forward<decltype(args)>(args)...);
                },
                std::move(callable_->args));
            check_startable(work, "spawn");
        } catch (...) {
            this->abandon();  // drops the execution reference; the handle's goes with the throw
            throw;
        }
        this->start(std::move(work));
    }

private:
    struct callable {
        Function function;
        std::tuple<Args...> args;
    };

    // The frame has finished (only its promise is left) or was destroyed: nothing refers to the
    // callable any more.
    void finished_running() noexcept override { callable_.reset(); }

    void destroy() noexcept override {
        this->report_if_unobserved();
        delete this;
    }

    std::optional<callable> callable_;
};

template <typename T, typename Root>
class spawned_task_state final : public Root {
public:
    template <typename Executor>
    spawned_task_state(std::uint32_t refs, Executor&& ex)
        : Root(std::forward<Executor>(ex), refs) {}
    void launch(task<T> work) { this->start(std::move(work)); }

private:
    void destroy() noexcept override {
        this->report_if_unobserved();
        delete this;
    }
};

}  // namespace detail

template <typename T>
class join_handle;

template <typename Executor, typename T, typename CompletionToken>
auto async_run(Executor&& ex, task<T> work, CompletionToken&& token);

namespace detail {
template <typename T>
task<T> join_task(join_handle<T> handle);
}  // namespace detail

/// The owner's view of a spawned task: await it for the result, abort it, or detach it.
///
/// Dropping a join handle detaches the task (as in tokio): it keeps running, and an exception it
/// ends with goes to the unhandled exception handler.
///
/// @par Thread safety
/// One join handle is used by one thread at a time; the task may run anywhere.
template <typename T>
class [[nodiscard]] join_handle {
public:
    join_handle() noexcept = default;
    join_handle(join_handle&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    join_handle& operator=(join_handle&& other) noexcept {
        if (this != &other) {
            detach();
            state_ = std::exchange(other.state_, nullptr);
        }
        return *this;
    }
    ~join_handle() { detach(); }

    /// True while the handle refers to a task (not moved from, not detached).
    bool valid() const noexcept { return state_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }

    /// True once the task has finished (or was abandoned).
    bool is_finished() const noexcept { return state_ && state_->is_finished(); }

    /// Requests cancellation of the task: the operation it awaits is cancelled (emitted on the
    /// task's executor), and the task ends with `operation_aborted` unless it handles the error.
    /// A task not yet started never runs. Does nothing once the task has finished.
    /// @par Thread safety
    /// May be called from any thread, not only the task's executor's; like every use of the
    /// handle, by one thread at a time (not while another thread detaches or destroys it).
    void abort() {
        if (state_ && !state_->is_finished()) state_->context().request_cancel();
    }

    /// Lets the task run on without an owner; its exception (if any) goes to the unhandled
    /// exception handler.
    void detach() noexcept {
        if (state_) std::exchange(state_, nullptr)->release();
    }

    /// @cond internal
    // For work whose result nobody wants any more (a stream adapter dropped early): aborts the
    // task if it still runs and lets go of it; its outcome, an exception included, is dropped
    // rather than reported as unhandled.
    void abort_and_discard() noexcept {
        if (!state_) return;
        state_->discard_outcome();
        try {
            abort();
        } catch (...) {  // out of memory dispatching the cancellation: the task runs on
        }
        detach();
    }
    /// @endcond

    /// The executor the task runs on.
    any_executor get_executor() const {
        if (!state_) throw std::logic_error("asyncpat: get_executor on an empty join_handle");
        return state_->context().get_executor();
    }

    class awaiter {
    public:
        explicit awaiter(detail::join_state<T>* state) noexcept : state_(state) {}

        bool await_ready() const {
            if (!state_) throw std::logic_error("asyncpat: co_await on an empty join_handle");
            return state_->is_finished();
        }

        template <typename Promise>
        bool await_suspend(std::coroutine_handle<Promise> caller) {
            static_assert(detail::context_promise<Promise>,
                          "join_handle can only be awaited inside asyncpat coroutines; "
                          "use std::move(handle).async_join(token) elsewhere");
            detail::task_context& context = *caller.promise().context();
            waiter_ = {caller, &context};
            // Registering and installing the cancellation handler happen under the slot lock, so
            // a completion on another thread cannot resume (and clear the slot of) this
            // coroutine before the handler is in place, and no emit falls in between.
            std::lock_guard<detail::spin_lock> guard(context.slot_lock());
            if (context.cancel_requested()) {
                cancelled_ = true;
                return false;
            }
            switch (state_->add_waiter(&waiter_)) {
                case detail::join_state<T>::wait_result::waiting:
                    context.set_hook(&cancel_join, this);
                    return true;
                case detail::join_state<T>::wait_result::busy: busy_ = true; return false;
                case detail::join_state<T>::wait_result::finished: break;
            }
            return false;
        }

        T await_resume() {
            if (waiter_.context) waiter_.context->clear_hook();
            if (cancelled_) throw std::system_error(asio::error::operation_aborted);
            if (busy_) throw std::system_error(make_error_code(errc::already_waiting));
            return state_->take();
        }

    private:
        // Cancelling the *join* leaves the task running (the handle can be awaited again).
        static void cancel_join(void* object, asio::cancellation_type) {
            auto* self = static_cast<awaiter*>(object);
            if (self->state_->remove_waiter(&self->waiter_)) {
                self->cancelled_ = true;
                detail::post_resume(self->waiter_.handle, *self->waiter_.context);
            }
        }

        detail::join_state<T>* state_;
        typename detail::join_state<T>::waiter waiter_{};
        bool cancelled_ = false;
        bool busy_ = false;
    };

    /// Waits for the task and returns its result or rethrows its exception. A second await
    /// after the result was taken throws `errc::already_joined`; a second coroutine awaiting
    /// while one already waits gets `errc::already_waiting`; a task destroyed at executor
    /// shutdown gives `errc::abandoned`; an aborted task gives `operation_aborted`.
    /// @par Cancellation
    /// Cancelling the awaiting task stops the wait (`operation_aborted`) without touching the
    /// joined task.
    ///
    /// When the joined task runs on another executor, the awaiting task's executor (its
    /// execution context) must outlive the wait, as for any Asio operation: the resumption is
    /// posted there when the joined task finishes.
    awaiter operator co_await() & noexcept { return awaiter{state_}; }
    awaiter operator co_await() && noexcept { return awaiter{state_}; }

    /// Waits for the task through any Asio completion token (`asio::use_awaitable`, a callback,
    /// `asio::use_future` ...), consuming the handle. Completion signature as for `async_run`:
    /// `void(std::exception_ptr, T)`, or `void(std::exception_ptr)` for `T = void`.
    /// @par Cancellation
    /// A cancellation emitted on the token's slot stops the wait (`operation_aborted`) and,
    /// since the handle is consumed, leaves the task running detached.
    template <typename CompletionToken>
    auto async_join(CompletionToken&& token) && {
        any_executor ex = get_executor();
        return async_run(ex, detail::join_task<T>(std::move(*this)),
                         std::forward<CompletionToken>(token));
    }

    /// @cond internal
    explicit join_handle(detail::join_state<T>* state) noexcept : state_(state) {}
    /// @endcond

private:
    detail::join_state<T>* state_ = nullptr;
};

namespace detail {
template <typename T>
task<T> join_task(join_handle<T> handle) {
    co_return co_await handle;
}

template <typename F, typename... Args>
struct spawn_result {
    using task_type = std::invoke_result_t<std::decay_t<F>&, std::decay_t<Args>&&...>;
    static_assert(is_task<task_type>::value,
                  "asyncpat::spawn: the callable must return asyncpat::task<T>");
    using type = typename task_type::value_type;
};

// Makes the spawned state (a join state with two references, the running task's and the join
// handle's; or, Detached, a detached root with one) and launches the task. `adopt` takes the
// state before the launch, so that the handle's reference is dropped if the launch throws.
template <bool Detached, typename Executor, typename F, typename... Args, typename Adopt>
void launch_spawned(Adopt&& adopt, Executor&& ex, F&& function, Args&&... args) {
    static_assert(detail::executor_or_context<Executor>,
                  "asyncpat::spawn: the first argument must be an executor or an io_context");
    constexpr std::uint32_t refs = Detached ? 1 : 2;
    if constexpr (detail::is_task<std::decay_t<F>>::value) {
        static_assert(sizeof...(Args) == 0, "asyncpat::spawn(executor, task) takes no arguments");
        using T = typename std::decay_t<F>::value_type;
        detail::check_startable(function, "spawn");
        auto* state = new detail::spawned_task_state<T, spawn_root<T, Detached>>(
            refs, detail::executor_arg(ex));
        adopt(state);
        state->launch(std::forward<F>(function));
    } else {
        using T = typename detail::spawn_result<F, Args...>::type;
        using state_type =
            detail::spawn_state<T, spawn_root<T, Detached>, std::decay_t<F>, std::decay_t<Args>...>;
        auto* state = new state_type(refs, detail::executor_arg(ex), std::forward<F>(function),
                                     std::forward<Args>(args)...);
        adopt(state);
        state->launch();
    }
}

template <typename F, typename... Args>
struct spawned_value {
    using type = typename spawn_result<F, Args...>::type;
};
template <typename T>
struct spawned_value<task<T>> {
    using type = T;
};
}  // namespace detail

/// Runs a task concurrently on `ex` (an executor or an execution context such as an
/// `io_context`) and returns its `join_handle`.
///
/// `spawn(ex, function, args...)` moves the callable and the arguments into the spawned state
/// and calls `function(std::move(args)...)` from there, so a capturing lambda and its captures
/// live as long as the task (the C++ counterpart of tokio's `'static` rule). The call happens
/// inside `spawn` (it only creates the lazy task, and its exceptions propagate out of `spawn`);
/// the task's body starts later, through `asio::post` on `ex`, never inside `spawn`.
/// `spawn(ex, task)` runs an existing task.
///
/// @par Thread safety
/// May be called from any thread.
template <typename Executor, typename F, typename... Args>
auto spawn(Executor&& ex, F&& function, Args&&... args) {
    using T = typename detail::spawned_value<std::decay_t<F>, std::decay_t<Args>...>::type;
    join_handle<T> handle;  // owns the handle's reference, also if the launch throws
    detail::launch_spawned<false>(
        [&handle](detail::join_state<T>* state) noexcept { handle = join_handle<T>{state}; },
        std::forward<Executor>(ex), std::forward<F>(function), std::forward<Args>(args)...);
    return handle;
}

/// Runs a task concurrently on `ex` with nobody to join it: `spawn(...)` followed by
/// `.detach()`, without the handle (tokio's `spawn` with the handle dropped, Asio's `co_spawn`
/// with `detached`). Saves the handle's reference, one atomic operation. An exception the task
/// ends with goes to the unhandled exception handler (Asio's `detached` drops it).
///
/// @par Thread safety
/// May be called from any thread.
template <typename Executor, typename F, typename... Args>
void spawn_detached(Executor&& ex, F&& function, Args&&... args) {
    detail::launch_spawned<true>([](auto*) noexcept {}, std::forward<Executor>(ex),
                                 std::forward<F>(function), std::forward<Args>(args)...);
}

// ------------------------------------------------------------------------------------------------
// async_run: a task driven by any Asio completion token.

namespace detail {

template <typename T>
struct run_signature {
    using type = void(std::exception_ptr, T);
};
template <>
struct run_signature<void> {
    using type = void(std::exception_ptr);
};

template <typename T, typename Handler>
class run_state final : public task_root<T> {
public:
    using handler_executor = asio::associated_executor_t<Handler, any_executor>;

    run_state(any_executor ex, Handler&& handler)
        : task_root<T>(ex, 1),
          handler_(std::move(handler)),
          work_(asio::get_associated_executor(handler_, ex)),
          slot_(asio::get_associated_cancellation_slot(handler_)) {
        if (slot_.is_connected())
            slot_.template emplace<forward_cancel>(this);
        else
            this->context().set_uncancellable();  // nothing can reach request_cancel
    }

    void launch(task<T> work) { this->start(std::move(work)); }

    // The task finished, on its executor. The handler runs on its own associated executor, where
    // the cancellation slot it lent us is also cleared (Asio's rule: a slot belongs to the
    // handler's executor). Posted, never dispatched inline: the handler may throw (a strand runs
    // a dispatched handler inline, without catching), and this path is noexcept.
    std::coroutine_handle<> on_complete() noexcept override {
        auto& out = this->outcome();
        if (out.has_exception()) {
            error_ = out.exception();
        } else if constexpr (!std::is_void_v<T>) {
            try {
                value_.emplace(out.get());
            } catch (...) {
                error_ = std::current_exception();
            }
        }
        this->destroy_task();
        try {
            asio::post(work_.get_executor(), finisher{this});
        } catch (...) {  // out of memory queueing it: the finisher's destructor dropped us
        }
        return std::noop_coroutine();
    }

    void abandon() noexcept override {
        // At executor shutdown: the handler is destroyed without being invoked.
        this->destroy_task();
        clear_slot();
        this->release();
    }

private:
    void destroy() noexcept override { delete this; }

    void clear_slot() noexcept {
        if (slot_.is_connected()) slot_.clear();
    }

    // Runs on the handler's executor: clears the slot, frees the state, then invokes the
    // handler. Destroyed without running (that executor shut down), it frees the state and
    // drops the handler.
    struct finisher {
        run_state* self;
        explicit finisher(run_state* s) noexcept : self(s) {}
        finisher(finisher&& other) noexcept : self(std::exchange(other.self, nullptr)) {}
        finisher& operator=(finisher&&) = delete;
        ~finisher() {
            if (self) {
                self->clear_slot();
                self->release();
            }
        }
        void operator()() {
            run_state* s = std::exchange(self, nullptr);
            s->clear_slot();
            auto work = std::move(s->work_);  // outstanding until the handler returned
            Handler handler(std::move(s->handler_));
            std::exception_ptr error = std::move(s->error_);
            if constexpr (std::is_void_v<T>) {
                s->release();  // deallocate before the upcall
                std::move(handler)(std::move(error));
            } else {
                T value = s->value_ ? std::move(*s->value_) : T{};
                s->release();
                std::move(handler)(std::move(error), std::move(value));
            }
        }
    };

    // Lives in the handler's slot until the finisher runs (or the state is abandoned); the state
    // is alive all that time.
    struct forward_cancel {
        run_state* self;
        explicit forward_cancel(run_state* s) noexcept : self(s) {}
        void operator()(asio::cancellation_type type) { self->context().request_cancel(type); }
    };

    Handler handler_;
    asio::executor_work_guard<handler_executor> work_;
    asio::cancellation_slot slot_;
    std::exception_ptr error_;
    std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value_;
};

template <typename T>
struct initiate_run {
    any_executor executor;
    template <typename Handler>
    void operator()(Handler&& handler, task<T> work) const {
        check_startable(work, "async_run");
        auto* state =
            new run_state<T, std::decay_t<Handler>>(executor, std::forward<Handler>(handler));
        state->launch(std::move(work));
    }
};

}  // namespace detail

/// Runs a task on `ex` and reports its outcome through any Asio completion token: the bridge
/// from asyncpat to `asio::awaitable` (`asio::use_awaitable`), callbacks, `asio::use_future` ...
///
/// @par Completion signature
/// `void(std::exception_ptr, T)` (`void(std::exception_ptr)` for `task<void>`), like
/// `asio::co_spawn`. On an exception, the `T` passed is value-initialised.
///
/// @par Cancellation
/// If the token's handler has a connected cancellation slot, a cancellation emitted on it
/// cancels the task (as `join_handle::abort` does), with the same type. Emit it on the task's
/// executor, as for any Asio operation.
template <typename Executor, typename T, typename CompletionToken>
auto async_run(Executor&& ex, task<T> work, CompletionToken&& token) {
    static_assert(std::is_void_v<T> || std::is_default_constructible_v<T>,
                  "asyncpat::async_run: the result type must be default constructible, because "
                  "the completion passes one when the task ends with an exception");
    return asio::async_initiate<CompletionToken, typename detail::run_signature<T>::type>(
        detail::initiate_run<T>{detail::to_executor(ex)}, token, std::move(work));
}

// ------------------------------------------------------------------------------------------------
// sync_wait

namespace detail {
// The outcome of a sync_wait. Shared with the completion handler, so that a task that outlives
// a sync_wait that gave up (stopped io_context) writes into live memory.
template <typename T>
struct sync_wait_state {
    std::mutex mutex;
    std::condition_variable changed;
    result<T> out;
    bool done = false;
    bool abandoned = false;
    // Set (after done or abandoned, under the mutex) for a thread that runs the io_context
    // and only looks, without the lock.
    std::atomic<bool> ended{false};
};

// Records the outcome and wakes the waiter (if it blocks). Destroyed without being invoked (the
// task was abandoned at executor shutdown), it reports that instead, so no waiter hangs.
template <typename T>
class sync_wait_handler {
public:
    explicit sync_wait_handler(std::shared_ptr<sync_wait_state<T>> state) noexcept
        : state_(std::move(state)) {}
    sync_wait_handler(sync_wait_handler&&) noexcept = default;
    sync_wait_handler& operator=(sync_wait_handler&&) = delete;
    ~sync_wait_handler() {
        if (!state_) return;
        std::lock_guard<std::mutex> lock(state_->mutex);
        state_->abandoned = true;
        state_->ended.store(true, std::memory_order_release);
        state_->changed.notify_all();
    }

    template <typename... V>
    void operator()(std::exception_ptr error, V&&... value) {
        auto state = std::move(state_);
        // Notify under the lock: the waiter may return (and drop its reference) as soon as it
        // sees `done`.
        std::lock_guard<std::mutex> lock(state->mutex);
        if (error)
            state->out.set_exception(std::move(error));
        else
            state->out.set_value(std::forward<V>(value)...);
        state->done = true;
        state->ended.store(true, std::memory_order_release);
        state->changed.notify_all();
    }

private:
    std::shared_ptr<sync_wait_state<T>> state_;
};
}  // namespace detail

/// Runs `work` on `io` until it completes, from the calling thread (which runs `io`'s
/// handlers meanwhile), and returns its result or rethrows its exception. For `main` and tests.
///
/// Other work on `io` runs too, and what is left when the task completes stays queued.
/// Throws `std::system_error(errc::abandoned)` if `io` is stopped or runs out of work before the
/// task completes.
template <typename T>
T sync_wait(asio::io_context& io, task<T> work) {
    auto state = std::make_shared<detail::sync_wait_state<T>>();
    async_run(io.get_executor(), std::move(work), detail::sync_wait_handler<T>(state));
    if (io.stopped()) io.restart();
    // Other threads may run `io` too, and then the completion may run on one of them while
    // this thread waits for a handler that never comes: wait with a timeout, and look again.
    while (!state->ended.load(std::memory_order_acquire)) {
        if (io.run_one_for(std::chrono::milliseconds(1)) == 0 && io.stopped()) break;
    }
    std::lock_guard<std::mutex> lock(state->mutex);
    if (!state->done) throw std::system_error(make_error_code(errc::abandoned));
    return state->out.get();
}

/// Runs `work` to completion on a fresh single-threaded `io_context`.
template <typename T>
T sync_wait(task<T> work) {
    asio::io_context io(1);
    return sync_wait(io, std::move(work));
}

/// Runs `work` on `ex`, which other threads run (a `thread_pool`, a strand of a running
/// `io_context` ...), and blocks the calling thread until it completes. Calling it from a thread
/// that `ex` needs in order to make progress deadlocks.
template <typename Executor, typename T>
    requires(!std::is_convertible_v<Executor&, asio::io_context&>)
T sync_wait(Executor&& ex, task<T> work) {
    auto state = std::make_shared<detail::sync_wait_state<T>>();
    async_run(std::forward<Executor>(ex), std::move(work), detail::sync_wait_handler<T>(state));
    std::unique_lock<std::mutex> lock(state->mutex);
    state->changed.wait(lock, [&] { return state->done || state->abandoned; });
    if (!state->done) throw std::system_error(make_error_code(errc::abandoned));
    return state->out.get();
}

}  // namespace asyncpat

#endif  // ASYNCPAT_SPAWN_HPP
