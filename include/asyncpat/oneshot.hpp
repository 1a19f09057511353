// asyncpat: oneshot channels, one value from one sender to one receiver.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_ONESHOT_HPP
#define ASYNCPAT_ONESHOT_HPP

#include <asyncpat/channel.hpp>
#include <asyncpat/error.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include <asyncpat/detail/asio.hpp>
#include <asyncpat/detail/frame_allocator.hpp>
#include <asyncpat/detail/single_threaded.hpp>
#include <asyncpat/detail/task_context.hpp>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

namespace asyncpat {

template <typename T, typename Kind = channel_kind::concurrent>
class oneshot_sender;
template <typename T, typename Kind = channel_kind::concurrent>
class oneshot_receiver;

namespace detail {

// The shared state of a oneshot of kind `Kind` (its `type`): oneshot_state below, or
// local_oneshot_state (local_channel.hpp).
template <typename T, typename Kind>
struct oneshot_state_of;

// The bits of a oneshot's state word (both kinds).
struct oneshot_flags {
    static constexpr std::uint32_t value_set = 1;
    static constexpr std::uint32_t receiver_waiting = 2;
    static constexpr std::uint32_t sender_gone = 4;
    static constexpr std::uint32_t receiver_gone = 8;
};

// What both kinds of oneshot state hold besides their state word: the value's storage, the
// parked receiver, and the receiver's own `taken_` flag. Allocated from the
// per-thread frame cache: no malloc in steady state.
template <typename T>
class oneshot_slot : public cache_allocated {
    static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                  "asyncpat oneshot values must be nothrow move constructible and nothrow "
                  "destructible");

public:
    oneshot_slot(const oneshot_slot&) = delete;
    oneshot_slot& operator=(const oneshot_slot&) = delete;

    void wake_receiver() noexcept { wake(waiter_handle_, *waiter_context_); }

    // Takes the value; only after value_set was seen, once. Only the receiver calls this (and
    // is_taken): `taken_` needs no atomic step, and whoever frees the state sees it through
    // the receiver's last step on the state word.
    T take() noexcept {
        T value(std::move(*slot()));
        slot()->~T();
        taken_ = true;
        return value;
    }
    bool is_taken() const noexcept { return taken_; }

    // Parking a receive is two steps: prepare_park makes the tree hold its unit of work
    // (task_context::hold_work; may throw: nothing changed then) and records the receiver, and
    // the state's park_prepared parks unless the outcome is known already.
    void prepare_park(std::coroutine_handle<> handle, task_context* context) {
        context->hold_work();
        waiter_handle_ = handle;
        waiter_context_ = context;
    }

protected:
    oneshot_slot() = default;
    ~oneshot_slot() = default;

    void put(T& value) noexcept { new (storage_) T(std::move(value)); }
    // The receiver went after put(): the value goes back into `value`, as if never sent.
    void hand_back(T& value) noexcept {
        std::destroy_at(&value);
        std::construct_at(&value, std::move(*slot()));
        slot()->~T();
        taken_ = true;  // (so that destroy_value does not destroy it again)
    }
    // For the destructor of the derived state, given its final word.
    void destroy_value(std::uint32_t word) noexcept {
        if ((word & oneshot_flags::value_set) && !taken_) slot()->~T();
    }

private:
    T* slot() noexcept { return std::launder(reinterpret_cast<T*>(storage_)); }

    bool taken_ = false;
    alignas(T) unsigned char storage_[sizeof(T)];
    std::coroutine_handle<> waiter_handle_;
    task_context* waiter_context_ = nullptr;
};

// The state shared by one oneshot sender and its receiver. All coordination goes through one
// atomic word: whoever clears `receiver_waiting` (the send, the sender's destruction, or the
// receive's cancellation) owns the wake-up of the parked receiver, so it happens exactly once.
// The value is written before `value_set` is published (release) and read after it is seen
// (acquire).
template <typename T>
class oneshot_state : public oneshot_slot<T>, public oneshot_flags {
public:
    // Any thread may use either half; a receive's cancellation hook takes the task's lock.
    static constexpr bool serial_hook = false;
    void check_thread() const noexcept {}

    oneshot_state() = default;
    ~oneshot_state() { this->destroy_value(state_.load(std::memory_order_acquire)); }

    std::uint32_t load() const noexcept { return state_.load(std::memory_order_acquire); }

    // Sends `value` and lets go of the state, in one atomic step: moves from `value` only on
    // success; false if the receiver is gone (then `value` is as it was, and the state freed).
    bool send_and_drop(T& value) noexcept {
        std::uint32_t s = state_.load(std::memory_order_acquire);
        if (s & receiver_gone) {
            delete this;  // the receiver went, and so do we: nobody else refers to the state
            return false;
        }
        this->put(value);
        while (!detail::compare_exchange_weak(
            state_, s, (s | value_set | sender_gone) & ~receiver_waiting, std::memory_order_acq_rel,
            std::memory_order_acquire)) {
        }
        if (s & receiver_gone) {
            this->hand_back(value);  // the receiver went meanwhile, as if nothing was sent
            delete this;
            return false;
        }
        // The receiver may run (and free the state) from here on, unless it is parked: then
        // it is ours to wake.
        if (s & receiver_waiting) this->wake_receiver();
        return true;
    }

    // The sender handle goes (without having sent, or after). Returns true if it was the last
    // owner.
    bool drop_sender() noexcept {
        std::uint32_t s = state_.load(std::memory_order_relaxed);
        while (!detail::compare_exchange_weak(state_, s, (s | sender_gone) & ~receiver_waiting,
                                              std::memory_order_acq_rel,
                                              std::memory_order_acquire)) {
        }
        if (s & receiver_waiting) this->wake_receiver();
        return (s & receiver_gone) != 0;
    }

    bool drop_receiver() noexcept {
        // Once the sender is gone it never touches the state again: no atomic step needed.
        if (state_.load(std::memory_order_acquire) & sender_gone) return true;
        std::uint32_t const s =
            detail::fetch_or(state_, std::uint32_t{receiver_gone}, std::memory_order_acq_rel);
        return (s & sender_gone) != 0;
    }

    // Parks the receiver (after prepare_park) unless the outcome is known already. True: parked.
    bool park_prepared() noexcept {
        std::uint32_t s =
            detail::fetch_or(state_, std::uint32_t{receiver_waiting}, std::memory_order_acq_rel);
        if ((s & (value_set | sender_gone)) == 0) return true;
        // The outcome is known already: withdraw, unless the sender's destruction (or a
        // cancellation) cleared our flag meanwhile; then it owns our wake-up and we are parked.
        s |= receiver_waiting;
        do {
            if (!(s & receiver_waiting)) return true;
        } while (!state_.compare_exchange_weak(s, s & ~receiver_waiting, std::memory_order_acq_rel,
                                               std::memory_order_acquire));
        return false;
    }

    // The parked receive is cancelled: true if it was still parked (then it is woken here).
    bool cancel() noexcept {
        std::uint32_t s = state_.load(std::memory_order_relaxed);
        do {
            if (!(s & receiver_waiting)) return false;
        } while (!state_.compare_exchange_weak(s, s & ~receiver_waiting, std::memory_order_acq_rel,
                                               std::memory_order_acquire));
        return true;
    }

private:
    std::atomic<std::uint32_t> state_{0};
};

template <typename T>
struct oneshot_state_of<T, channel_kind::concurrent> {
    using type = oneshot_state<T>;
};

}  // namespace detail

/// The sending half of a oneshot channel: sends one value. Move-only. Destroying it without
/// sending tells the receiver (`errc::broken_promise`).
///
/// @par Thread safety
/// The sender and the receiver may be used on different threads at once; each handle is used
/// by one thread at a time.
template <typename T, typename Kind>
class oneshot_sender {
    using state_type = typename detail::oneshot_state_of<T, Kind>::type;

public:
    oneshot_sender() noexcept = default;
    oneshot_sender(oneshot_sender&& other) noexcept
        : state_(std::exchange(other.state_, nullptr)) {}
    oneshot_sender& operator=(oneshot_sender&& other) noexcept {
        if (this != &other) {
            reset();
            state_ = std::exchange(other.state_, nullptr);
        }
        return *this;
    }
    ~oneshot_sender() { reset(); }

    /// Sends `value` and uses up the sender. Never waits. Moves from `value` only on success;
    /// returns `errc::channel_closed` (value untouched) if the receiver is gone. Throws
    /// `std::logic_error` on an empty (moved-from or used) sender.
    std::error_code send(T&& value) {
        if (!state_) [[unlikely]]
            throw_empty();
        state_->check_thread();
        bool const sent = std::exchange(state_, nullptr)->send_and_drop(value);
        return sent ? detail::no_error() : make_error_code(errc::channel_closed);
    }

    /// True once the receiver is gone (a send would fail).
    bool is_closed() const noexcept {
        return !state_ || (state_->load() & state_type::receiver_gone) != 0;
    }

    /// @cond internal
    explicit oneshot_sender(state_type* state) noexcept : state_(state) {}
    /// @endcond

private:
    [[noreturn, gnu::cold, gnu::noinline]] static void throw_empty() {
        throw std::logic_error("asyncpat: send on an empty oneshot_sender");
    }
    // Inline for the usual case, a handle already moved from or used (send() lets go at once).
    void reset() noexcept {
        if (state_ != nullptr) drop_state();
    }
    [[gnu::noinline]] void drop_state() noexcept {
        auto* const state = std::exchange(state_, nullptr);
        if (state->drop_sender()) delete state;
    }

    state_type* state_ = nullptr;
};

/// The receiving half of a oneshot channel. Move-only. `co_await rx` (or `co_await
/// rx.receive()`) waits for the value.
///
/// @par Thread safety
/// As for `oneshot_sender`.
template <typename T, typename Kind>
class oneshot_receiver {
    using state_type = typename detail::oneshot_state_of<T, Kind>::type;

public:
    oneshot_receiver() noexcept = default;
    oneshot_receiver(oneshot_receiver&& other) noexcept
        : state_(std::exchange(other.state_, nullptr)) {}
    oneshot_receiver& operator=(oneshot_receiver&& other) noexcept {
        if (this != &other) {
            reset();
            state_ = std::exchange(other.state_, nullptr);
        }
        return *this;
    }
    ~oneshot_receiver() { reset(); }

    class receive_awaiter;

    /// Waits for the value. Throws `std::system_error` with `errc::broken_promise` if the sender
    /// was destroyed without sending, `std::logic_error` if the value was already received.
    /// @par Cancellation
    /// Cancel-safe: a cancelled receive (`operation_aborted`) takes nothing; the value stays
    /// for a later receive.
    [[nodiscard]] receive_awaiter receive() { return receive_awaiter{checked()}; }
    receive_awaiter operator co_await() { return receive(); }

    /// `receive` for any Asio completion token.
    /// @par Completion signature
    /// `void(std::exception_ptr, std::optional<T>)`: the value, or an exception as for
    /// `receive` (and an empty optional).
    /// @par Cancellation
    /// A cancellation emitted on the token's slot cancels the receive, with `receive`'s cancel
    /// safety. The receiver must outlive the operation.
    template <typename CompletionToken>
    auto async_receive(CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::exception_ptr, std::optional<T>)>(
            initiate_receive{checked()}, token);
    }

    /// The value if it has arrived (once); otherwise `std::nullopt` with `ec` set to
    /// `errc::channel_empty` (not yet), `errc::broken_promise` (never) or
    /// `errc::channel_closed` (already received).
    std::optional<T> try_receive(std::error_code& ec) {
        using state = state_type;
        std::uint32_t const s = checked()->load();
        ec = {};
        if (state_->is_taken()) {
            ec = make_error_code(errc::channel_closed);
        } else if (s & state::value_set) {
            return state_->take();
        } else {
            ec = make_error_code((s & state::sender_gone) ? errc::broken_promise
                                                          : errc::channel_empty);
        }
        return std::nullopt;
    }

    /// True once the value arrived or the sender is gone (a receive would not wait).
    bool is_ready() const noexcept {
        using state = state_type;
        return state_ && (state_->load() & (state::value_set | state::sender_gone)) != 0;
    }

    /// @cond internal
    explicit oneshot_receiver(state_type* state) noexcept : state_(state) {}
    /// @endcond

private:
    state_type* checked() const {
        if (!state_) throw std::logic_error("asyncpat: use of an empty oneshot_receiver");
        state_->check_thread();
        return state_;
    }

    // Inline for a handle already moved from; the release out of line.
    void reset() noexcept {
        if (state_ != nullptr) drop_state();
    }
    [[gnu::noinline]] void drop_state() noexcept {
        auto* const state = std::exchange(state_, nullptr);
        if (state->drop_receiver()) delete state;
    }

    // Runs on the completion handler's executor: a local oneshot checks that it is its thread.
    static task<std::optional<T>> receive_task(state_type* state) {
        state->check_thread();
        co_return co_await receive_awaiter{state};
    }

    struct initiate_receive {
        state_type* state;
        template <typename Handler>
        void operator()(Handler&& handler) const {
            any_executor ex = asio::get_associated_executor(handler, asio::system_executor());
            async_run(ex, receive_task(state), std::forward<Handler>(handler));
        }
    };

    state_type* state_ = nullptr;
};

template <typename T, typename Kind>
class oneshot_receiver<T, Kind>::receive_awaiter {
public:
    explicit receive_awaiter(state_type* state) noexcept : state_(state) {}
    receive_awaiter(const receive_awaiter&) = delete;
    receive_awaiter& operator=(const receive_awaiter&) = delete;
    ~receive_awaiter() {
        // Destroyed while parked (the frame is destroyed at executor shutdown): unpark.
        if (parked_) state_->cancel();
    }

    bool await_ready() const noexcept {
        return (state_->load() & (state_type::value_set | state_type::sender_gone)) != 0;
    }

    template <typename Promise>
    [[gnu::always_inline]] std::coroutine_handle<> await_suspend(
        std::coroutine_handle<Promise> caller) {
        static_assert(detail::context_promise<Promise>,
                      "oneshot receives can only be awaited inside asyncpat coroutines");
        detail::task_context* context = caller.promise().context();
        state_->prepare_park(caller, context);  // may throw: nothing armed yet
        bool parked = false;
        {
            // The hook is armed and the receiver parked in one step under the task's hook lock,
            // which a cancellation's emission holds too: the emission sees either no hook (and
            // then the cancellation is seen here) or a parked receiver that its hook unparks.
            // A tree that nobody can cancel takes no lock and arms no hook (armed_context).
            detail::hook_scope<state_type::serial_hook> scope(context);
            if (context->cancel_requested()) {
                cancelled_ = true;
            } else {
                armed_ = detail::armed_context(context);
                if (armed_) context->set_hook(&on_cancel, this);
                parked_ = true;
                parked = state_->park_prepared();
            }
        }
        // Once parked, another thread may resume this coroutine: touch nothing after true.
        if (parked) return detail::next_ready();
        parked_ = false;
        return detail::transfer_to(caller);
    }

    T await_resume() {
        parked_ = false;
        if (armed_) detail::disarm_hook<state_type::serial_hook>(armed_);
        if ((state_->load() & state_type::value_set) && !state_->is_taken()) [[likely]]
            return state_->take();
        fail();
    }

private:
    // No value to return: taken already, cancelled, or the sender went without sending.
    [[noreturn, gnu::cold, gnu::noinline]] void fail() const {
        if (state_->is_taken()) throw std::logic_error("asyncpat: oneshot value already received");
        if (cancelled_) throw std::system_error(asio::error::operation_aborted);
        throw std::system_error(make_error_code(errc::broken_promise));
    }

    static void on_cancel(void* self, asio::cancellation_type) {
        auto* a = static_cast<receive_awaiter*>(self);
        if (a->state_->cancel()) {
            a->cancelled_ = true;
            a->state_->wake_receiver();
        }
    }

    state_type* state_;
    detail::task_context* armed_ = nullptr;
    bool parked_ = false;
    bool cancelled_ = false;
};

/// Creates a oneshot channel: `auto [tx, rx] = asyncpat::make_oneshot<int>();`
template <typename T>
std::pair<oneshot_sender<T>, oneshot_receiver<T>> make_oneshot() {
    auto* state = new detail::oneshot_state<T>();
    return {oneshot_sender<T>{state}, oneshot_receiver<T>{state}};
}

}  // namespace asyncpat

#endif  // ASYNCPAT_ONESHOT_HPP
