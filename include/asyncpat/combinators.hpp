// asyncpat: when_all, race, timeout and sleep_for for tasks.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_COMBINATORS_HPP
#define ASYNCPAT_COMBINATORS_HPP

#include <asyncpat/error.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include <asyncpat/detail/asio.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace asyncpat {

namespace detail {

template <typename T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// The bookkeeping shared by the children of one when_all or race: how many are still running,
// who won (race) or failed first (when_all), and the parent to resume when the last one ends.
//
// `pending_` starts at children + 1; the extra count belongs to the parent's await_suspend
// while it starts the children, so a child finishing synchronously never resumes a parent that
// has not suspended yet.
class child_join {
public:
    child_join(bool race, std::size_t count) : race_(race), contexts_(count) {}

    void prepare(std::coroutine_handle<> parent, task_context* parent_context) noexcept {
        parent_ = parent;
        parent_context_ = parent_context;
        pending_.store(contexts_.size() + 1, std::memory_order_relaxed);
    }
    void set_context(std::size_t index, task_context* context) noexcept {
        contexts_[index] = context;
    }

    // A child finished; returns the coroutine to transfer to.
    std::coroutine_handle<> child_done(std::size_t index, bool failed) noexcept {
        if (race_ || failed) {
            std::size_t expected = none;
            if (first_.compare_exchange_strong(expected, index, std::memory_order_acq_rel))
                cancel_children(index);
        }
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            return resume_on(parent_, *parent_context_);
        return std::noop_coroutine();
    }

    // A child was destroyed at executor shutdown: the parent is resumed (by a post, since this
    // runs in a destructor) to report errc::abandoned, or is itself abandoned with the executor.
    void child_abandoned() noexcept {
        abandoned_.store(true, std::memory_order_relaxed);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1)
            post_resume(parent_, *parent_context_);
    }

    // The parent's await_suspend is done starting children. True: all finished already.
    bool starting_done() noexcept { return pending_.fetch_sub(1, std::memory_order_acq_rel) == 1; }

    void cancel_children(std::size_t except, asio::cancellation_type type =
                                                 asio::cancellation_type::terminal) noexcept {
        for (std::size_t i = 0; i < contexts_.size(); ++i) {
            if (i != except && contexts_[i]) {
                try {
                    contexts_[i]->request_cancel(type);
                } catch (...) {  // out of memory posting the emit: the child just runs on
                }
            }
        }
    }

    std::size_t first() const noexcept { return first_.load(std::memory_order_acquire); }
    bool abandoned() const noexcept { return abandoned_.load(std::memory_order_relaxed); }

    static constexpr std::size_t none = static_cast<std::size_t>(-1);

private:
    bool race_;
    std::vector<task_context*> contexts_;
    std::atomic<std::size_t> pending_{0};
    std::atomic<std::size_t> first_{none};
    std::atomic<bool> abandoned_{false};
    std::coroutine_handle<> parent_;
    task_context* parent_context_ = nullptr;
};

// One child of a when_all or race: its own context (so it can be cancelled alone) on the
// parent's executor. Owned by the parent's awaiter, which releases it after all children ended.
template <typename T>
class child_root final : public task_root<T> {
public:
    child_root(any_executor ex, child_join* join, std::size_t index)
        : task_root<T>(std::move(ex), 1), join_(join), index_(index) {}

    void launch(task<T> work) { this->start_inline(std::move(work)); }

    bool failed() const noexcept { return abandoned_ || outcome_failed_; }
    value_or_monostate<T> take() {
        if (abandoned_) throw std::system_error(make_error_code(errc::abandoned));
        if constexpr (std::is_void_v<T>) {
            this->outcome().get();
            return {};
        } else {
            return this->outcome().get();
        }
    }
    std::exception_ptr exception() noexcept {
        if (abandoned_) return std::make_exception_ptr(std::system_error(errc::abandoned));
        return this->outcome().exception();
    }

    std::coroutine_handle<> on_complete() noexcept override {
        outcome_failed_ = this->outcome().has_exception();
        return join_->child_done(index_, outcome_failed_);
    }
    void abandon() noexcept override {
        this->destroy_task();
        abandoned_ = true;
        join_->child_abandoned();
    }

private:
    void destroy() noexcept override { delete this; }

    child_join* join_;
    std::size_t index_;
    bool outcome_failed_ = false;
    bool abandoned_ = false;
};

template <typename T>
using child_ptr = counted_ptr<child_root<T>>;

// Parent-side awaiter: starts every child inline on the parent's thread, forwards the parent's
// cancellation to all of them, and resumes the parent when the last one has finished. Derived
// (a fixed tuple of children, or a vector) creates the child roots and launches them.
template <typename Derived>
class children_awaiter_base {
public:
    bool await_ready() const noexcept { return false; }

    template <typename Promise>
    bool await_suspend(std::coroutine_handle<Promise> caller) {
        parent_context_ = caller.promise().context();
        join_.prepare(caller, parent_context_);
        static_cast<Derived*>(this)->create_children();
        {
            std::lock_guard<spin_lock> guard(parent_context_->slot_lock());
            if (parent_context_->cancel_requested()) {
                cancelled_early_ = true;  // the children were created but never start
                return false;
            }
            parent_context_->set_hook(&forward_cancel, &join_);
        }
        static_cast<Derived*>(this)->launch_children();
        return !join_.starting_done();
    }

    void await_resume() {
        parent_context_->clear_hook();
        if (cancelled_early_) throw std::system_error(asio::error::operation_aborted);
        if (join_.abandoned()) throw std::system_error(make_error_code(errc::abandoned));
    }

    child_join& join() noexcept { return join_; }

protected:
    children_awaiter_base(bool race, std::size_t count) : join_(race, count) {}

    template <typename T>
    child_ptr<T> make_child(std::size_t index) {
        child_ptr<T> child(new child_root<T>(parent_context_->get_executor(), &join_, index));
        join_.set_context(index, &child->context());
        return child;
    }

private:
    static void forward_cancel(void* join, asio::cancellation_type type) {
        static_cast<child_join*>(join)->cancel_children(child_join::none, type);
    }

    child_join join_;
    task_context* parent_context_ = nullptr;
    bool cancelled_early_ = false;
};

template <typename... Ts>
class children_awaiter : public children_awaiter_base<children_awaiter<Ts...>> {
public:
    children_awaiter(bool race, task<Ts>... work)
        : children_awaiter_base<children_awaiter>(race, sizeof...(Ts)), work_(std::move(work)...) {
        std::apply([](const auto&... w) { (check_startable(w, "when_all/race"), ...); }, work_);
    }

    template <std::size_t I>
    auto& child() noexcept {
        return std::get<I>(children_);
    }

    void create_children() { create(std::index_sequence_for<Ts...>{}); }
    void launch_children() { launch(std::index_sequence_for<Ts...>{}); }

private:
    template <std::size_t... I>
    void create(std::index_sequence<I...>) {
        ((std::get<I>(children_) = this->template make_child<Ts>(I)), ...);
    }
    template <std::size_t... I>
    void launch(std::index_sequence<I...>) {
        (std::get<I>(children_)->launch(std::move(std::get<I>(work_))), ...);
    }

    std::tuple<task<Ts>...> work_;
    std::tuple<child_ptr<Ts>...> children_;
};

template <typename T>
class children_vector_awaiter : public children_awaiter_base<children_vector_awaiter<T>> {
public:
    explicit children_vector_awaiter(std::vector<task<T>> work)
        : children_awaiter_base<children_vector_awaiter>(false, work.size()),
          work_(std::move(work)) {
        for (const task<T>& w : work_) check_startable(w, "when_all");
    }

    std::vector<child_ptr<T>>& children() noexcept { return children_; }

    void create_children() {
        children_.reserve(work_.size());
        for (std::size_t i = 0; i < work_.size(); ++i)
            children_.push_back(this->template make_child<T>(i));
    }
    void launch_children() {
        for (std::size_t i = 0; i < work_.size(); ++i) children_[i]->launch(std::move(work_[i]));
    }

private:
    std::vector<task<T>> work_;
    std::vector<child_ptr<T>> children_;
};

template <typename... Ts, std::size_t... I>
std::tuple<value_or_monostate<Ts>...> collect_all(children_awaiter<Ts...>& children,
                                                  std::index_sequence<I...>) {
    std::size_t const first = children.join().first();
    if (first != child_join::none) {
        std::exception_ptr error;
        ((I == first ? (void)(error = children.template child<I>()->exception()) : (void)0), ...);
        std::rethrow_exception(error);
    }
    return {children.template child<I>()->take()...};
}

template <typename Variant, std::size_t I, typename Child>
void take_winner(Variant& out, std::size_t winner, Child& child) {
    if (I == winner) out.template emplace<I>(child->take());
}

template <typename... Ts, std::size_t... I>
std::variant<value_or_monostate<Ts>...> collect_winner(children_awaiter<Ts...>& children,
                                                       std::index_sequence<I...>) {
    std::size_t const winner = children.join().first();
    std::variant<value_or_monostate<Ts>...> out;
    (take_winner<decltype(out), I>(out, winner, children.template child<I>()), ...);
    return out;
}

template <typename Timer, typename Duration>
task<void> sleep_for_impl(Duration duration) {
    // The deadline is taken when the task starts, not when sleep_for() is called.
    Timer timer(co_await this_task::executor, duration);
    co_await timer.async_wait(use_task);
}

}  // namespace detail

/// Runs all tasks concurrently on the awaiting task's executor and yields their results as a
/// tuple (`std::monostate` for `task<void>`).
///
/// The tasks start at once, in order, on the awaiting thread. If one ends with an exception,
/// the others are cancelled, and after all have ended the first exception is rethrown.
///
/// @par Cancellation
/// Cancelling the awaiting task cancels every child; the await completes when all have ended.
template <typename... Ts>
task<std::tuple<detail::value_or_monostate<Ts>...>> when_all(task<Ts>... work) {
    detail::children_awaiter<Ts...> children(false, std::move(work)...);
    co_await children;
    co_return detail::collect_all(children, std::index_sequence_for<Ts...>{});
}

/// Runs a dynamic number of tasks of one type concurrently; yields their results in the order
/// of `work` (or nothing, for `task<void>`). Errors and cancellation as for the variadic form.
template <typename T>
auto when_all(std::vector<task<T>> work) -> task<
    std::conditional_t<std::is_void_v<T>, void, std::vector<detail::value_or_monostate<T>>>> {
    detail::children_vector_awaiter<T> children(std::move(work));
    co_await children;
    std::size_t const first = children.join().first();
    if (first != detail::child_join::none)
        std::rethrow_exception(children.children()[first]->exception());
    if constexpr (std::is_void_v<T>) {
        co_return;
    } else {
        std::vector<T> out;
        out.reserve(children.children().size());
        for (auto& child : children.children()) out.push_back(child->take());
        co_return out;
    }
}

/// Runs the tasks concurrently; the first to finish wins. The others are cancelled, and when
/// all have ended the winner's result is returned as a variant (index = position of the winner)
/// or its exception is rethrown.
///
/// Results of losers that finished anyway are discarded: race only operations whose
/// cancellation loses nothing (timers, joins, cancel-safe receives) when every value matters.
///
/// @par Cancellation
/// Cancelling the awaiting task cancels every child.
template <typename... Ts>
task<std::variant<detail::value_or_monostate<Ts>...>> race(task<Ts>... work) {
    static_assert(sizeof...(Ts) >= 1, "race needs at least one task");
    detail::children_awaiter<Ts...> children(true, std::move(work)...);
    co_await children;
    co_return detail::collect_winner(children, std::index_sequence_for<Ts...>{});
}

/// Completes `duration` after it starts (is awaited), on the awaiting task's executor, with a
/// `Timer` (an `asio::basic_waitable_timer`; `asio::steady_timer` unless another clock is
/// wanted, such as a test's manual clock).
/// @par Cancellation
/// Cancelling the task ends the sleep with `operation_aborted`.
template <typename Timer = asio::steady_timer, typename Rep, typename Period>
task<void> sleep_for(std::chrono::duration<Rep, Period> duration) {
    return detail::sleep_for_impl<Timer>(
        std::chrono::duration_cast<typename Timer::duration>(duration));
}

/// Runs `work` with a deadline: its result, or `std::system_error(errc::timed_out)` if
/// `duration` passes first (the work is then cancelled and awaited before this returns).
///
/// Cancel-safe when `work` is: if the work produced its value at the moment the deadline passed
/// (a cancel-safe receive handed a value just before its cancellation), the value is returned,
/// never dropped.
///
/// The deadline is kept by a `Timer` (`asio::steady_timer` by default; see `sleep_for`).
template <typename Timer = asio::steady_timer, typename Rep, typename Period, typename T>
task<T> timeout(std::chrono::duration<Rep, Period> duration, task<T> work) {
    detail::children_awaiter<T, void> children(true, std::move(work), sleep_for<Timer>(duration));
    co_await children;
    auto& outcome = children.template child<0>();
    if (!outcome->failed()) {
        if constexpr (std::is_void_v<T>) {
            outcome->take();
            co_return;
        } else {
            co_return outcome->take();
        }
    }
    std::exception_ptr error = outcome->exception();
    bool const deadline_passed = !children.template child<1>()->failed();
    if (deadline_passed && detail::is_cancellation(error))
        throw std::system_error(make_error_code(errc::timed_out));
    std::rethrow_exception(error);  // the work's own failure, or the caller's cancellation
}

}  // namespace asyncpat

#endif  // ASYNCPAT_COMBINATORS_HPP
