// asyncpat: task_group, a dynamic set of spawned tasks awaited together (tokio's JoinSet).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TASK_GROUP_HPP
#define ASYNCPAT_TASK_GROUP_HPP

#include <asyncpat/error.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include <asyncpat/detail/asio.hpp>
#include <asyncpat/detail/intrusive_list.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace asyncpat {

/// Thrown by `task_group::join_all` when tasks of the group failed; holds every exception.
class task_group_error : public std::runtime_error {
public:
    explicit task_group_error(std::vector<std::exception_ptr> errors)
        : std::runtime_error(describe(errors)), errors_(std::move(errors)) {}

    /// The exceptions, in the order the tasks finished.
    const std::vector<std::exception_ptr>& errors() const noexcept { return errors_; }

private:
    static std::string describe(const std::vector<std::exception_ptr>& errors) {
        std::string text = std::to_string(errors.size()) +
                           (errors.size() == 1 ? " task" : " tasks") + " of the group failed";
        if (!errors.empty()) {
            try {
                std::rethrow_exception(errors.front());
            } catch (const std::exception& e) {
                text += "; first: ";
                text += e.what();
            } catch (...) {
                text += "; first: a non-standard exception";
            }
        }
        return text;
    }

    std::vector<std::exception_ptr> errors_;
};

namespace detail {

template <typename T>
class group_state;

// One task of a group. The group state owns it from spawn until its outcome is collected (or
// the group is gone); it links itself into the running list and moves to the finished queue
// (or straight to a waiting `next`) when it ends.
template <typename T>
class group_member final : public task_root<T> {
public:
    group_member(any_executor ex, std::shared_ptr<group_state<T>> group)
        : task_root<T>(std::move(ex), 1), group_(std::move(group)) {}

    void launch(task<T> work) { this->start(std::move(work)); }

    std::coroutine_handle<> on_complete() noexcept override { return group_->member_done(this); }
    void abandon() noexcept override {
        this->destroy_task();
        abandoned_ = true;
        group_->member_done(this).resume();  // the waiter, if any, was posted
    }

    bool abandoned() const noexcept { return abandoned_; }
    result<T>& outcome() noexcept { return task_root<T>::outcome(); }

    // Reports an exception nobody will collect (the group is gone).
    void report_uncollected() noexcept {
        if (!abandoned_ && this->outcome().has_exception())
            report_unhandled_exception(this->outcome().exception());
    }

    // Links of the running list, then of the finished queue; guarded by the group's mutex.
    group_member* next = nullptr;
    group_member* prev = nullptr;
    bool linked = false;

private:
    void destroy() noexcept override { delete this; }

    std::shared_ptr<group_state<T>> group_;
    bool abandoned_ = false;
};

template <typename T>
using member_ptr = counted_ptr<group_member<T>>;

// What a group's tasks and its owner share. Everything is guarded by `mutex_`.
template <typename T>
class group_state {
public:
    // The one coroutine waiting in `next()`.
    struct waiter {
        std::coroutine_handle<> handle;
        task_context* context;
        group_member<T>* taken = nullptr;  // handed over by the member that finished
        bool cancelled = false;
    };

    explicit group_state(any_executor ex) : executor_(std::move(ex)) {}

    const any_executor& executor() const noexcept { return executor_; }

    void add_running(group_member<T>* member) {
        std::lock_guard<std::mutex> lock(mutex_);
        running_.push_back(member);
    }

    std::coroutine_handle<> member_done(group_member<T>* member) noexcept {
        std::unique_lock<std::mutex> lock(mutex_);
        running_.erase(member);
        if (closed_) {
            bool const report = !discard_uncollected_;
            lock.unlock();
            if (report) member->report_uncollected();
            member->release();
            return std::noop_coroutine();
        }
        if (waiter* w = std::exchange(waiting_, nullptr)) {
            w->taken = member;
            lock.unlock();
            if (member->abandoned()) {
                post_resume(w->handle, *w->context);
                return std::noop_coroutine();
            }
            return resume_on(w->handle, *w->context);
        }
        finished_.push_back(member);  // intrusive: cannot fail, unlike a container's push
        return std::noop_coroutine();
    }

    enum class poll_result { taken, empty, waiting, busy };

    // Takes a finished member, or registers `w` as the waiter.
    poll_result poll(waiter& w, bool interruptible) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_) {  // the owner is gone (a wait resumed after close): nothing will come
            w.cancelled = true;
            return poll_result::taken;
        }
        if (group_member<T>* first = finished_.pop_front()) {
            w.taken = first;
            return poll_result::taken;
        }
        if (running_.empty()) return poll_result::empty;
        if (waiting_) return poll_result::busy;
        if (interruptible && w.context->cancel_requested()) {
            w.cancelled = true;
            return poll_result::taken;
        }
        waiting_ = &w;
        return poll_result::waiting;
    }

    // Cancels the wait of `w` if it still waits; true if it did.
    bool cancel_wait(waiter& w) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (waiting_ != &w) return false;
        waiting_ = nullptr;
        w.cancelled = true;
        return true;
    }

    // Cancellation runs outside the mutex: request_cancel may emit inline, and a member's
    // handler may need this same mutex (a member awaiting next() on its own group).
    void cancel_running(asio::cancellation_type type) {
        for (group_member<T>* m : running_members()) {
            try {
                m->context().request_cancel(type);
            } catch (...) {  // could not post the emit: that task runs to its end
            }
            m->release();
        }
    }

    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return running_.size() + finished_.size();
    }

    // The owner is gone: cancel what runs, drop what finished (reporting exceptions), and end
    // the wait of a coroutine still parked in next() with operation_aborted.
    void close() noexcept {
        intrusive_list<group_member<T>> finished;
        waiter* parked = nullptr;
        bool report = true;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            closed_ = true;
            report = !discard_uncollected_;
            std::swap(finished, finished_);
            parked = std::exchange(waiting_, nullptr);
            if (parked) parked->cancelled = true;
        }
        if (parked) {
            // Its cancellation hook points into this state, which may go before the coroutine
            // runs again: remove it first (waits for an emit in progress).
            parked->context->clear_hook();
            post_resume(parked->handle, *parked->context);
        }
        try {
            cancel_running(asio::cancellation_type::terminal);
        } catch (...) {  // out of memory listing them: the running tasks finish on their own
        }
        while (group_member<T>* m = finished.pop_front()) {
            if (report) m->report_uncollected();
            m->release();
        }
    }

    bool closed() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return closed_;
    }

    // Outcomes nobody collected before close() are dropped instead of reported.
    void discard_uncollected() noexcept {
        std::lock_guard<std::mutex> lock(mutex_);
        discard_uncollected_ = true;
    }

private:
    // The running members, each with a reference added so it stays alive after the unlock.
    std::vector<group_member<T>*> running_members() {
        std::vector<group_member<T>*> members;
        std::lock_guard<std::mutex> lock(mutex_);
        members.reserve(running_.size());
        for (group_member<T>* m = running_.front(); m; m = m->next) {
            m->add_ref();
            members.push_back(m);
        }
        return members;
    }

    mutable std::mutex mutex_;
    any_executor executor_;
    intrusive_list<group_member<T>> running_;   // in the order they were spawned
    intrusive_list<group_member<T>> finished_;  // finished, not collected, in that order
    waiter* waiting_ = nullptr;
    bool closed_ = false;
    bool discard_uncollected_ = false;
};

}  // namespace detail

/// A set of tasks spawned on one executor and awaited together, in the order they finish
/// (tokio's `JoinSet`). `T` is the result type of every task.
///
/// @par Thread safety
/// `spawn`, `cancel`, `size` and `empty` may be called from any thread. At most one coroutine
/// at a time awaits `next()` or `join_all()`; a second gets `errc::already_waiting`.
///
/// @par Cancellation
/// `cancel()` and the destructor cancel every task still running. After the destructor, the
/// tasks finish in the background; exceptions other than cancellation that nobody collected go
/// to the unhandled exception handler (never lost silently).
template <typename T = void>
class task_group {
public:
    /// What `next()` yields: `std::optional<T>`, or `bool` for `task_group<void>`.
    using next_type = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;
    /// What `join_all()` yields: `std::vector<T>`, or nothing for `task_group<void>`.
    using all_type = std::conditional_t<std::is_void_v<T>, void, std::vector<T>>;

    /// Creates an empty group whose tasks run on `ex` (an executor or an execution context).
    template <typename Executor>
        requires detail::executor_or_context<Executor>
    explicit task_group(Executor&& ex)
        : state_(std::make_shared<detail::group_state<T>>(detail::to_executor(ex))) {}

    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;

    /// Cancels the tasks still running and drops the ones not collected (their exceptions go to
    /// the unhandled exception handler). A coroutine still waiting in `next()` or `join_all()`
    /// is resumed with `operation_aborted`; destroying a group that is in use is a logic error
    /// of the owner, but it does not leave that coroutine hanging.
    ~task_group() { state_->close(); }

    /// Spawns `function(args...)` (which returns `task<T>`) into the group; the callable and the
    /// arguments live with the task, as for `asyncpat::spawn`. The task starts by a post.
    template <typename F, typename... Args>
    void spawn(F&& function, Args&&... args) {
        start(make_task(std::forward<F>(function), std::forward<Args>(args)...));
    }

    /// Spawns an existing task into the group.
    void spawn(task<T> work) { start(std::move(work)); }

    /// Tasks spawned and not yet collected (running or finished).
    std::size_t size() const { return state_->size(); }
    bool empty() const { return size() == 0; }

    /// Requests cancellation of every running task (they end with `operation_aborted` unless they
    /// handle it; their outcome is still collected by `next`).
    void cancel(asio::cancellation_type type = asio::cancellation_type::terminal) {
        state_->cancel_running(type);
    }

    /// @cond internal
    // For a group whose results nobody wants once its owner goes (a stream adapter dropped
    // early): exceptions of tasks not collected by then are dropped, not reported.
    void discard_uncollected() noexcept { state_->discard_uncollected(); }
    /// @endcond

    class next_awaiter {
    public:
        next_awaiter(detail::group_state<T>* state, bool interruptible) noexcept
            : state_(state), interruptible_(interruptible) {}

        next_awaiter(const next_awaiter&) = delete;
        next_awaiter& operator=(const next_awaiter&) = delete;
        // A member handed over to a wait that never resumed (its frame was destroyed at
        // executor shutdown) is released here, not leaked.
        ~next_awaiter() {
            if (waiter_.taken) waiter_.taken->release();
        }

        bool await_ready() const noexcept { return false; }

        template <typename Promise>
        bool await_suspend(std::coroutine_handle<Promise> caller) {
            static_assert(detail::context_promise<Promise>,
                          "task_group::next can only be awaited inside asyncpat coroutines");
            waiter_.handle = caller;
            waiter_.context = caller.promise().context();
            if (interruptible_) {
                std::lock_guard<detail::spin_lock> guard(waiter_.context->slot_lock());
                waiter_.context->set_hook(&cancel_wait, this);
                installed_ = true;
            }
            // Once poll() has published the waiter, another thread may resume this coroutine
            // (and destroy this frame): nothing here may touch *this after a `waiting` answer.
            outcome_ = poll_result::waiting;
            poll_result const outcome = state_->poll(waiter_, interruptible_);
            if (outcome == poll_result::waiting) return true;
            outcome_ = outcome;
            return false;
        }

        /// The member that finished (owned), or null when the group is empty. Throws
        /// operation_aborted if the wait was cancelled, errc::already_waiting if another
        /// coroutine waits.
        detail::member_ptr<T> await_resume() {
            if (installed_) waiter_.context->clear_hook();
            if (waiter_.cancelled) throw std::system_error(asio::error::operation_aborted);
            if (outcome_ == poll_result::busy)
                throw std::system_error(make_error_code(errc::already_waiting));
            return detail::member_ptr<T>(std::exchange(waiter_.taken, nullptr));
        }

    private:
        using poll_result = typename detail::group_state<T>::poll_result;

        static void cancel_wait(void* object, asio::cancellation_type) {
            auto* self = static_cast<next_awaiter*>(object);
            if (self->state_->cancel_wait(self->waiter_))
                detail::post_resume(self->waiter_.handle, *self->waiter_.context);
        }

        detail::group_state<T>* state_;
        bool interruptible_;
        bool installed_ = false;
        typename detail::group_state<T>::waiter waiter_{};
        poll_result outcome_ = poll_result::empty;
    };

    /// Waits for the next task to finish and yields its result (`std::nullopt` / `false` when
    /// the group is empty); rethrows the exception the task ended with (the task is collected
    /// either way, and the group goes on with the others).
    /// @par Cancellation
    /// Cancelling the awaiting task stops the wait with `operation_aborted`; no outcome is lost
    /// (the tasks keep running and stay in the group).
    [[nodiscard]] task<next_type> next() {
        detail::member_ptr<T> member = co_await next_awaiter{state_.get(), true};
        co_return take(member);
    }

    /// Waits for every task (including ones spawned meanwhile) and yields the results in the
    /// order the tasks finished. If any failed, throws `task_group_error` with all exceptions,
    /// after all tasks ended.
    /// @par Cancellation
    /// Cancelling the awaiting task cancels every task in the group, waits for all of them to
    /// end, then throws `operation_aborted`; exceptions other than cancellation collected
    /// meanwhile go to the unhandled exception handler.
    [[nodiscard]] task<all_type> join_all() {
        // Its own reference: the group object may be destroyed while this waits (its owner's
        // logic error, but then this ends with operation_aborted rather than touching it).
        std::shared_ptr<detail::group_state<T>> const state = state_;
        [[maybe_unused]] std::conditional_t<std::is_void_v<T>, char, std::vector<T>> values{};
        std::vector<std::exception_ptr> errors;
        bool interruptible = true;
        bool cancelled = false;
        for (;;) {
            detail::member_ptr<T> member;
            try {
                member = co_await next_awaiter{state.get(), interruptible};
            } catch (const std::system_error& e) {
                if (e.code() != asio::error::operation_aborted) throw;
                if (state->closed()) {  // the group is gone; its tasks were cancelled
                    for (auto& error : errors) detail::report_unhandled_exception(error);
                    throw;
                }
                cancelled = true;
                interruptible = false;
                state->cancel_running(asio::cancellation_type::terminal);
                continue;
            }
            if (!member) break;
            try {
                if constexpr (std::is_void_v<T>)
                    take(member);
                else
                    values.push_back(*take(member));
            } catch (...) {
                errors.push_back(std::current_exception());
            }
        }
        if (cancelled) {
            // The caller gets the cancellation; failures collected meanwhile are not lost.
            for (auto& error : errors) detail::report_unhandled_exception(error);
            throw std::system_error(asio::error::operation_aborted);
        }
        if (!errors.empty()) throw task_group_error(std::move(errors));
        if constexpr (std::is_void_v<T>)
            co_return;
        else
            co_return values;
    }

private:
    template <typename F, typename... Args>
    static task<T> make_task(F&& function, Args&&... args) {
        using R = typename detail::spawn_result<F, Args...>::type;
        static_assert(std::is_same_v<R, T>,
                      "task_group<T>::spawn: the callable must return task<T>");
        return run_owned(std::decay_t<F>(std::forward<F>(function)),
                         std::decay_t<Args>(std::forward<Args>(args))...);
    }

    // A frame that owns the callable and the arguments while the task runs.
    template <typename F, typename... Args>
    static task<T> run_owned(F function, Args... args) {
        co_return co_await std::invoke(function, std::move(args)...);
    }

    void start(task<T> work) {
        detail::check_startable(work, "task_group::spawn");
        auto* member = new detail::group_member<T>(state_->executor(), state_);
        state_->add_running(member);
        member->launch(std::move(work));
    }

    static next_type take(detail::member_ptr<T>& member) {
        if (!member) return next_type{};
        if (member->abandoned()) throw std::system_error(make_error_code(errc::abandoned));
        if constexpr (std::is_void_v<T>) {
            member->outcome().get();
            return true;
        } else {
            return next_type{member->outcome().get()};
        }
    }

    std::shared_ptr<detail::group_state<T>> state_;
};

}  // namespace asyncpat

#endif  // ASYNCPAT_TASK_GROUP_HPP
