// asyncpat: bounded MPMC channels with backpressure, cancel-safe operations and permits.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_CHANNEL_HPP
#define ASYNCPAT_CHANNEL_HPP

#include <asyncpat/error.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include <asyncpat/detail/asio.hpp>
#include <asyncpat/detail/task_context.hpp>

#include <algorithm>
#include <atomic>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace asyncpat {

/// Thrown by `co_await sender::send(value)` when the value could not be sent: the channel is
/// closed (`errc::channel_closed`) or the send was cancelled (`asio::error::operation_aborted`).
/// The value is handed back, never dropped.
template <typename T>
class send_error : public std::system_error {
public:
    send_error(std::error_code ec, T value) : std::system_error(ec), value_(std::move(value)) {}

    /// The value that was not sent.
    T& value() noexcept { return value_; }
    const T& value() const noexcept { return value_; }

private:
    T value_;
};

template <typename T>
class sender;
template <typename T>
class receiver;
template <typename T>
class permit;

namespace detail {

// A parked operation's way back: its coroutine, its tree's context, and one unit of outstanding
// work on that executor while it is parked (so an io_context does not run out of work while a
// receive waits for a sender on another thread). The work travels with the resumption.
struct channel_waiter {
    std::coroutine_handle<> handle;
    task_context* context = nullptr;
    channel_waiter* next = nullptr;
    channel_waiter* prev = nullptr;
    channel_waiter* ready_next = nullptr;  // the list of waiters to wake after unlocking
    std::optional<asio::executor_work_guard<any_executor>> work;
    bool linked = false;

    void park(std::coroutine_handle<> h, task_context* c) {
        handle = h;
        context = c;
        work.emplace(c->get_executor());
    }

    struct resumption {
        resume_handler resume;
        asio::executor_work_guard<any_executor> work;
        void operator()() { resume(); }
    };

    // Posts the resumption; after this the waiter's frame may be gone at any moment.
    void wake() noexcept {
        task_context* c = context;
        try {
            c->post(resumption{resume_handler{handle, c}, std::move(*work)});
        } catch (...) {  // out of memory: the coroutine can never resume
            c->root().abandon();
        }
    }
};

// A FIFO of parked waiters, linked through the waiters themselves (no allocation).
template <typename Waiter>
class waiter_list {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    Waiter* front() const noexcept { return head_; }

    void push_back(Waiter* w) noexcept {
        w->next = nullptr;
        w->prev = tail_;
        if (tail_)
            tail_->next = w;
        else
            head_ = w;
        tail_ = w;
        w->linked = true;
    }
    Waiter* pop_front() noexcept {
        Waiter* w = head_;
        if (w) erase(w);
        return w;
    }
    void erase(Waiter* w) noexcept {
        if (w->prev)
            w->prev->next = w->next;
        else
            head_ = static_cast<Waiter*>(w->next);
        if (w->next)
            w->next->prev = w->prev;
        else
            tail_ = static_cast<Waiter*>(w->prev);
        w->next = w->prev = nullptr;
        w->linked = false;
    }

private:
    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
};

// A ring of `capacity` slots holding constructed Ts between head and head + size.
template <typename T>
class ring {
public:
    explicit ring(std::size_t capacity)
        : slots_(static_cast<storage*>(::operator new(sizeof(storage) * capacity))),
          capacity_(capacity) {}
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;
    ~ring() {
        clear();
        ::operator delete(slots_);
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    template <typename U>
    void push(U&& value) {
        std::size_t const index = (head_ + size_) % capacity_;
        new (&slots_[index]) T(std::forward<U>(value));
        ++size_;
    }
    T pop() {
        T* slot = std::launder(reinterpret_cast<T*>(&slots_[head_]));
        T value(std::move(*slot));
        slot->~T();
        head_ = (head_ + 1) % capacity_;
        --size_;
        return value;
    }
    void clear() noexcept {
        while (size_ != 0) {
            std::launder(reinterpret_cast<T*>(&slots_[head_]))->~T();
            head_ = (head_ + 1) % capacity_;
            --size_;
        }
    }

private:
    struct storage {
        alignas(T) unsigned char bytes[sizeof(T)];
    };
    storage* slots_;
    std::size_t capacity_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

// The shared state of one channel.
//
// Invariants (under mutex_):
// - queued + reserved <= capacity, where queued = buffer_.size() and reserved counts permits
//   handed out and not yet used or dropped;
// - receivers_waiting is non-empty only when nothing is queued;
// - senders_waiting is non-empty only when there is no room (queued + reserved == capacity);
// - a waiter is completed (value handed over, or failed) exactly once, by whoever unlinks it:
//   the peer that serves it, close(), or its cancellation hook. Only the one that unlinked it
//   wakes it, and only after unlocking.
template <typename T>
class channel_state {
public:
    struct receive_waiter : channel_waiter {
        std::optional<T> value;  // handed over by a sender; empty: closed and drained
        bool cancelled = false;
    };
    // A waiting send (carries its value) or reserve (carries none).
    struct send_waiter : channel_waiter {
        T* value = nullptr;  // the value to send, in the waiting frame; null for reserve()
        std::error_code error;
        bool done = false;
    };

    explicit channel_state(std::size_t capacity) : buffer_(capacity), capacity_(capacity) {}

    std::size_t capacity() const noexcept { return capacity_; }

    // ---- handles

    void add_sender() noexcept { senders_.fetch_add(1, std::memory_order_relaxed); }
    void add_receiver() noexcept { receivers_.fetch_add(1, std::memory_order_relaxed); }
    void drop_sender() {
        if (senders_.fetch_sub(1, std::memory_order_acq_rel) == 1) close();
    }
    void drop_receiver() {
        if (receivers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            // Nobody can receive any more: queued values are destroyed, and every pending and
            // later send fails with its value handed back.
            std::unique_lock<std::mutex> lock(mutex_);
            no_receivers_ = true;
            buffer_.clear();
            close_locked(lock);
        }
    }

    // ---- close

    void close() {
        std::unique_lock<std::mutex> lock(mutex_);
        close_locked(lock);
    }

    bool is_closed() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return closed_;
    }
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return buffer_.size();
    }

    std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }
    std::uint64_t received() const noexcept { return received_.load(std::memory_order_relaxed); }
    std::size_t high_watermark() const noexcept {
        return high_watermark_.load(std::memory_order_relaxed);
    }

    // ---- sending

    // Sends `value` (moved from only on success). Wakes the receiver it hands the value to.
    std::error_code try_send(T& value) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (closed_) return make_error_code(errc::channel_closed);
        if (!has_room()) return make_error_code(errc::channel_full);
        deliver_locked(lock, value);
        return {};
    }

    // Tries at once, else parks `w`. Returns true if `w` parked (it will be woken).
    bool send_or_park(send_waiter& w, std::coroutine_handle<> h, task_context* context) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (closed_) {
            w.error = make_error_code(errc::channel_closed);
            w.done = true;
            return false;
        }
        if (has_room()) {
            if (w.value)
                deliver_locked(lock, *w.value);
            else
                ++reserved_;
            w.done = true;
            return false;
        }
        if (context->cancel_requested()) {
            w.error = asio::error::operation_aborted;
            w.done = true;
            return false;
        }
        w.park(h, context);
        senders_waiting_.push_back(&w);
        return true;
    }

    std::error_code try_reserve() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_) return make_error_code(errc::channel_closed);
        if (!has_room()) return make_error_code(errc::channel_full);
        ++reserved_;
        return {};
    }

    // Uses a reserved slot (a permit) for `value`.
    void send_reserved(T&& value) {
        std::unique_lock<std::mutex> lock(mutex_);
        --reserved_;
        if (no_receivers_) {
            // Nobody can ever receive it; the permit's value goes like the queued ones did.
            wake_senders_for_room_locked(lock);
            return;
        }
        deliver_locked(lock, value);
    }

    // A permit was dropped unused: its slot is free again.
    void release_reserved() {
        std::unique_lock<std::mutex> lock(mutex_);
        --reserved_;
        wake_senders_for_room_locked(lock);
    }

    // A parked send or reserve was cancelled: true if it was still waiting (now removed).
    bool cancel(send_waiter& w) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!w.linked) return false;
        senders_waiting_.erase(&w);
        w.error = asio::error::operation_aborted;
        w.done = true;
        return true;
    }

    // ---- receiving

    std::optional<T> try_receive(std::error_code& ec) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!buffer_.empty()) {
            ec = {};
            return take_locked(lock);
        }
        ec = make_error_code(closed_ ? errc::channel_closed : errc::channel_empty);
        return std::nullopt;
    }

    // Takes up to `max` queued values into `out`; 0 when nothing is queued.
    template <typename Container>
    std::size_t try_receive_many(Container& out, std::size_t max) {
        std::unique_lock<std::mutex> lock(mutex_);
        return take_many_locked(lock, out, max);
    }

    // Takes a value at once, reports the end, or parks `w`. True if parked.
    bool receive_or_park(receive_waiter& w, std::coroutine_handle<> h, task_context* context) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!buffer_.empty()) {
            w.value.emplace(take_locked(lock));
            return false;
        }
        if (closed_) return false;  // closed and drained: nullopt
        if (context->cancel_requested()) {
            w.cancelled = true;
            return false;
        }
        w.park(h, context);
        receivers_waiting_.push_back(&w);
        return true;
    }

    // receive_many's wait: like receive_or_park, but takes up to `max` values at once.
    template <typename Container>
    bool receive_many_or_park(receive_waiter& w, Container& out, std::size_t max,
                              std::size_t& taken, std::coroutine_handle<> h,
                              task_context* context) {
        std::unique_lock<std::mutex> lock(mutex_);
        taken = take_many_locked(lock, out, max);
        if (taken != 0 || closed_) return false;
        if (context->cancel_requested()) {
            w.cancelled = true;
            return false;
        }
        w.park(h, context);
        receivers_waiting_.push_back(&w);
        return true;
    }

    // A parked receive was cancelled: true if it was still waiting (now removed). A receive
    // that was already handed a value keeps it: the cancellation came too late to lose it.
    bool cancel(receive_waiter& w) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!w.linked) return false;
        receivers_waiting_.erase(&w);
        w.cancelled = true;
        return true;
    }

private:
    bool has_room() const noexcept { return buffer_.size() + reserved_ < capacity_; }

    void note_sent() noexcept {
        sent_.fetch_add(1, std::memory_order_relaxed);
        std::size_t const queued = buffer_.size();
        if (queued > high_watermark_.load(std::memory_order_relaxed))
            high_watermark_.store(queued, std::memory_order_relaxed);
    }

    // Hands `value` to the first waiting receiver, or queues it. Unlocks `lock`.
    void deliver_locked(std::unique_lock<std::mutex>& lock, T& value) {
        if (receive_waiter* r = receivers_waiting_.pop_front()) {
            r->value.emplace(std::move(value));
            sent_.fetch_add(1, std::memory_order_relaxed);
            received_.fetch_add(1, std::memory_order_relaxed);
            lock.unlock();
            r->wake();
            return;
        }
        buffer_.push(std::move(value));
        note_sent();
        lock.unlock();
    }

    // Takes the oldest value; room was made, so the first waiting sender (or reserve) moves in.
    T take_locked(std::unique_lock<std::mutex>& lock) {
        T value = buffer_.pop();
        received_.fetch_add(1, std::memory_order_relaxed);
        wake_senders_for_room_locked(lock);
        return value;
    }

    template <typename Container>
    std::size_t take_many_locked(std::unique_lock<std::mutex>& lock, Container& out,
                                 std::size_t max) {
        std::size_t taken = 0;
        while (taken < max && !buffer_.empty()) {
            out.push_back(buffer_.pop());
            ++taken;
        }
        received_.fetch_add(taken, std::memory_order_relaxed);
        if (taken != 0) wake_senders_for_room_locked(lock);
        return taken;
    }

    // While there is room, completes waiting senders (their values go into the buffer) and
    // reserves (they get a slot). Unlocks `lock` and wakes them.
    void wake_senders_for_room_locked(std::unique_lock<std::mutex>& lock) {
        ready_list ready;
        while (has_room() && !senders_waiting_.empty()) {
            send_waiter* s = senders_waiting_.pop_front();
            if (s->value) {
                buffer_.push(std::move(*s->value));
                note_sent();
            } else {
                ++reserved_;
            }
            s->done = true;
            ready.push(s);
        }
        lock.unlock();
        ready.wake_all();
    }

    void close_locked(std::unique_lock<std::mutex>& lock) {
        closed_ = true;
        ready_list ready;
        while (send_waiter* s = senders_waiting_.pop_front()) {
            s->error = make_error_code(errc::channel_closed);
            s->done = true;
            ready.push(s);
        }
        // Receivers wait only when nothing is queued: with the channel closed, they see the end.
        while (receive_waiter* r = receivers_waiting_.pop_front()) ready.push(r);
        lock.unlock();
        ready.wake_all();
    }

    // Waiters unlinked (and completed) under the lock, to be woken after unlocking. Linked
    // through their own `ready_next`, not the queue links: a cancellation hook may look at the
    // queue links (under the lock) while this list is walked (without it).
    struct ready_list {
        channel_waiter* head = nullptr;
        void push(channel_waiter* w) noexcept {
            w->ready_next = head;
            head = w;
        }
        void wake_all() noexcept {
            while (channel_waiter* w = head) {
                head = w->ready_next;  // read before waking: after wake() w may be gone
                w->wake();
            }
        }
    };

    mutable std::mutex mutex_;
    ring<T> buffer_;
    std::size_t capacity_;
    std::size_t reserved_ = 0;
    waiter_list<send_waiter> senders_waiting_;
    waiter_list<receive_waiter> receivers_waiting_;
    bool closed_ = false;
    bool no_receivers_ = false;
    std::atomic<std::size_t> senders_{0};
    std::atomic<std::size_t> receivers_{0};
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> received_{0};
    std::atomic<std::size_t> high_watermark_{0};
};

// Installs `hook` as the awaiting task's cancellation hook unless it is cancelled already.
// Returns false if it was.
inline bool arm_cancellation(task_context* context, task_context::hook_function hook,
                             void* awaiter) {
    std::lock_guard<spin_lock> guard(context->slot_lock());
    if (context->cancel_requested()) return false;
    context->set_hook(hook, awaiter);
    return true;
}

// The protocol every channel awaiter follows. It installs the awaiting task's cancellation
// hook (or finds the task cancelled already), parks through Derived::start (which tries the
// operation under the channel lock and parks only if it must), and on resumption removes the
// hook. A waiter whose frame is destroyed while parked (executor shutdown) leaves the queue.
//
// Derived provides `bool start(std::coroutine_handle<>, task_context*)` (true: parked) and
// `void cancelled_early()`, and calls finish() first thing in await_resume.
template <typename Derived, typename T, typename Waiter>
class channel_awaiter {
public:
    channel_awaiter(const channel_awaiter&) = delete;
    channel_awaiter& operator=(const channel_awaiter&) = delete;
    // `parked_` is set before publishing and cleared on resumption, so it is only true here
    // when the frame is destroyed while parked.
    ~channel_awaiter() {
        if (parked_) state_->cancel(waiter_);
    }

    bool await_ready() const noexcept { return false; }

    template <typename Promise>
    bool await_suspend(std::coroutine_handle<Promise> caller) {
        static_assert(context_promise<Promise>,
                      "channel operations can only be awaited inside asyncpat coroutines");
        task_context* context = caller.promise().context();
        if (!arm_cancellation(context, &on_cancel, this)) {
            static_cast<Derived*>(this)->cancelled_early();
            return false;
        }
        armed_ = context;
        parked_ = true;
        // Once parked, another thread may resume this coroutine: touch nothing after true.
        if (static_cast<Derived*>(this)->start(caller, context)) return true;
        parked_ = false;
        return false;
    }

protected:
    explicit channel_awaiter(std::shared_ptr<channel_state<T>> state) noexcept
        : state_(std::move(state)) {}

    void finish() noexcept {
        parked_ = false;
        if (armed_) armed_->clear_hook();
    }

    std::shared_ptr<channel_state<T>> state_;
    Waiter waiter_;

private:
    static void on_cancel(void* self, asio::cancellation_type) {
        auto* a = static_cast<channel_awaiter*>(self);
        if (a->state_->cancel(a->waiter_)) a->waiter_.wake();
    }

    task_context* armed_ = nullptr;
    bool parked_ = false;
};

}  // namespace detail

/// Reserved room in a channel: `send(value)` then cannot fail or wait. Dropping a permit unused
/// frees its slot. Move-only.
///
/// @par Thread safety
/// A permit is used by one thread at a time.
template <typename T>
class [[nodiscard]] permit {
public:
    permit() noexcept = default;
    permit(permit&& other) noexcept : state_(std::move(other.state_)) {}
    permit& operator=(permit&& other) noexcept {
        if (this != &other) {
            reset();
            state_ = std::move(other.state_);
        }
        return *this;
    }
    ~permit() { reset(); }

    /// True while the permit holds a slot.
    explicit operator bool() const noexcept { return static_cast<bool>(state_); }

    /// Sends `value` into the reserved slot (or straight to a waiting receiver); the permit is
    /// used up. If every receiver has gone meanwhile, the value is destroyed. Throws
    /// `std::logic_error` on an empty permit.
    void send(T value) {
        if (!state_) throw std::logic_error("asyncpat: send on an empty permit");
        auto state = std::move(state_);
        state->send_reserved(std::move(value));
    }

    /// @cond internal
    explicit permit(std::shared_ptr<detail::channel_state<T>> state) noexcept
        : state_(std::move(state)) {}
    /// @endcond

private:
    void reset() noexcept {
        if (auto state = std::move(state_)) {
            try {
                state->release_reserved();
            } catch (...) {  // std::mutex::lock failed: the slot stays reserved
            }
        }
    }

    std::shared_ptr<detail::channel_state<T>> state_;
};

/// The sending side of a channel. Copying a sender adds a sender; the channel closes when the
/// last sender is destroyed (or `close()` is called).
///
/// @par Thread safety
/// Distinct senders (and receivers) of one channel may be used from any threads at once. One
/// sender object is used by one thread at a time.
template <typename T>
class sender {
public:
    sender() noexcept = default;
    sender(const sender& other) noexcept : state_(other.state_) {
        if (state_) state_->add_sender();
    }
    sender(sender&& other) noexcept : state_(std::move(other.state_)) {}
    sender& operator=(sender other) noexcept {
        std::swap(state_, other.state_);
        return *this;
    }
    ~sender() {
        if (state_) state_->drop_sender();
    }

    class send_awaiter;
    class reserve_awaiter;

    /// Sends `value`, waiting for room while the channel is full (backpressure).
    /// Throws `send_error<T>` (with the value) if the channel is or becomes closed
    /// (`errc::channel_closed`), or if the send is cancelled (`operation_aborted`).
    /// @par Cancellation
    /// Cancel-safe: a cancelled send has not enqueued its value; the value is handed back in the
    /// `send_error`. A send that completed before the cancellation arrived stays sent.
    [[nodiscard]] send_awaiter send(T value) { return send_awaiter{checked(), std::move(value)}; }

    /// Waits for room and reserves it: the returned permit's `send` cannot fail or wait.
    /// Throws `std::system_error` with `errc::channel_closed` or `operation_aborted`.
    /// @par Cancellation
    /// Cancel-safe: a cancelled reserve holds no slot.
    [[nodiscard]] reserve_awaiter reserve() { return reserve_awaiter{checked()}; }

    /// `send` for any Asio completion token (`asio::use_awaitable`, a callback,
    /// `asio::use_future` ...).
    /// @par Completion signature
    /// `void(std::exception_ptr)`: null on success, else a `send_error<T>` holding the value.
    /// @par Cancellation
    /// A cancellation emitted on the token's slot cancels the send with `send`'s cancel safety.
    /// The operation runs as a task on the handler's associated executor.
    template <typename CompletionToken>
    auto async_send(T value, CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
            initiate_send{checked()}, token, std::move(value));
    }

    /// Sends `value` if there is room now. Moves from `value` only on success; otherwise returns
    /// `errc::channel_full` or `errc::channel_closed` and leaves `value` as it was.
    std::error_code try_send(T&& value) { return checked()->try_send(value); }

    /// Reserves room if there is some now; an empty permit otherwise, with `ec` set to
    /// `errc::channel_full` or `errc::channel_closed`.
    permit<T> try_reserve(std::error_code& ec) {
        ec = checked()->try_reserve();
        return ec ? permit<T>{} : permit<T>{state_};
    }

    /// Closes the channel: pending and later sends fail; receivers drain what is queued, then
    /// see the end. Idempotent.
    void close() { checked()->close(); }

    bool is_closed() const { return checked()->is_closed(); }
    std::size_t size() const { return checked()->size(); }
    std::size_t capacity() const { return checked()->capacity(); }

    /// @cond internal
    explicit sender(std::shared_ptr<detail::channel_state<T>> state) noexcept
        : state_(std::move(state)) {
        state_->add_sender();
    }
    /// @endcond

private:
    const std::shared_ptr<detail::channel_state<T>>& checked() const {
        if (!state_) throw std::logic_error("asyncpat: use of an empty sender");
        return state_;
    }

    static task<void> send_task(std::shared_ptr<detail::channel_state<T>> state, T value) {
        co_await send_awaiter{std::move(state), std::move(value)};
    }

    struct initiate_send {
        std::shared_ptr<detail::channel_state<T>> state;
        template <typename Handler>
        void operator()(Handler&& handler, T value) const {
            any_executor ex = asio::get_associated_executor(handler, asio::system_executor());
            async_run(ex, send_task(state, std::move(value)), std::forward<Handler>(handler));
        }
    };

    std::shared_ptr<detail::channel_state<T>> state_;
};

template <typename T>
class sender<T>::send_awaiter
    : public detail::channel_awaiter<send_awaiter, T,
                                     typename detail::channel_state<T>::send_waiter> {
public:
    send_awaiter(std::shared_ptr<detail::channel_state<T>> state, T value)
        : send_awaiter::channel_awaiter(std::move(state)), value_(std::move(value)) {}

    void await_resume() {
        this->finish();
        if (this->waiter_.error) throw send_error<T>(this->waiter_.error, std::move(value_));
    }

private:
    friend class send_awaiter::channel_awaiter;
    bool start(std::coroutine_handle<> caller, detail::task_context* context) {
        this->waiter_.value = &value_;
        return this->state_->send_or_park(this->waiter_, caller, context);
    }
    void cancelled_early() noexcept {
        this->waiter_.error = asio::error::operation_aborted;
        this->waiter_.done = true;
    }

    T value_;
};

template <typename T>
class sender<T>::reserve_awaiter
    : public detail::channel_awaiter<reserve_awaiter, T,
                                     typename detail::channel_state<T>::send_waiter> {
public:
    explicit reserve_awaiter(std::shared_ptr<detail::channel_state<T>> state)
        : reserve_awaiter::channel_awaiter(std::move(state)) {}

    permit<T> await_resume() {
        this->finish();
        if (this->waiter_.error) throw std::system_error(this->waiter_.error);
        return permit<T>{std::move(this->state_)};
    }

private:
    friend class reserve_awaiter::channel_awaiter;
    bool start(std::coroutine_handle<> caller, detail::task_context* context) {
        return this->state_->send_or_park(this->waiter_, caller, context);
    }
    void cancelled_early() noexcept {
        this->waiter_.error = asio::error::operation_aborted;
        this->waiter_.done = true;
    }
};

/// The receiving side of a channel. Copying a receiver adds a receiver (MPMC: each value goes
/// to one receiver). When the last receiver is destroyed, queued values are destroyed and every
/// pending and later send fails with its value handed back.
///
/// @par Thread safety
/// As for `sender`.
template <typename T>
class receiver {
public:
    receiver() noexcept = default;
    receiver(const receiver& other) noexcept : state_(other.state_) {
        if (state_) state_->add_receiver();
    }
    receiver(receiver&& other) noexcept : state_(std::move(other.state_)) {}
    receiver& operator=(receiver other) noexcept {
        std::swap(state_, other.state_);
        return *this;
    }
    ~receiver() {
        if (state_) state_->drop_receiver();
    }

    class receive_awaiter;
    template <typename Container>
    class receive_many_awaiter;

    /// Receives the oldest value, waiting while the channel is empty; `std::nullopt` once the
    /// channel is closed and drained.
    /// @par Cancellation
    /// Cancel-safe: a cancelled receive has taken no value (`operation_aborted` is thrown). A
    /// receive that was handed a value before the cancellation arrived returns the value.
    [[nodiscard]] receive_awaiter receive() { return receive_awaiter{checked()}; }

    /// Receives what is queued, up to `max` values, into `out` (with `push_back`), waiting while
    /// the channel is empty; returns how many were taken, 0 once the channel is closed and
    /// drained. Cancellation as for `receive`.
    template <typename Container>
    [[nodiscard]] receive_many_awaiter<Container> receive_many(Container& out, std::size_t max) {
        return receive_many_awaiter<Container>{checked(), out, max};
    }

    /// `receive` for any Asio completion token.
    /// @par Completion signature
    /// `void(std::exception_ptr, std::optional<T>)`: the value, or `std::nullopt` once the channel
    /// is closed and drained; the exception is `operation_aborted` after a cancellation.
    /// @par Cancellation
    /// A cancellation emitted on the token's slot cancels the receive with `receive`'s cancel
    /// safety: a cancelled receive has taken nothing; one that was handed a value completes with
    /// it. (Asio's `||` operator then drops the result of the branch that lost; to keep every
    /// value, race with `asyncpat::timeout` or inspect every result of a parallel group.)
    template <typename CompletionToken>
    auto async_receive(CompletionToken&& token) {
        return asio::async_initiate<CompletionToken, void(std::exception_ptr, std::optional<T>)>(
            initiate_receive{checked()}, token);
    }

    /// Takes the oldest value if one is queued; otherwise `std::nullopt`, with `ec` set to
    /// `errc::channel_empty` or `errc::channel_closed`.
    std::optional<T> try_receive(std::error_code& ec) { return checked()->try_receive(ec); }
    std::optional<T> try_receive() {
        std::error_code ec;
        return try_receive(ec);
    }

    /// Closes the channel (senders fail from now on; what is queued can still be received).
    void close() { checked()->close(); }

    bool is_closed() const { return checked()->is_closed(); }
    std::size_t size() const { return checked()->size(); }
    std::size_t capacity() const { return checked()->capacity(); }
    /// Values sent and received so far, and the most ever queued at once.
    std::uint64_t sent_count() const { return checked()->sent(); }
    std::uint64_t received_count() const { return checked()->received(); }
    std::size_t high_watermark() const { return checked()->high_watermark(); }

    /// @cond internal
    explicit receiver(std::shared_ptr<detail::channel_state<T>> state) noexcept
        : state_(std::move(state)) {
        state_->add_receiver();
    }
    /// @endcond

private:
    const std::shared_ptr<detail::channel_state<T>>& checked() const {
        if (!state_) throw std::logic_error("asyncpat: use of an empty receiver");
        return state_;
    }

    static task<std::optional<T>> receive_task(std::shared_ptr<detail::channel_state<T>> state) {
        co_return co_await receive_awaiter{std::move(state)};
    }

    struct initiate_receive {
        std::shared_ptr<detail::channel_state<T>> state;
        template <typename Handler>
        void operator()(Handler&& handler) const {
            any_executor ex = asio::get_associated_executor(handler, asio::system_executor());
            async_run(ex, receive_task(state), std::forward<Handler>(handler));
        }
    };

    std::shared_ptr<detail::channel_state<T>> state_;
};

template <typename T>
class receiver<T>::receive_awaiter
    : public detail::channel_awaiter<receive_awaiter, T,
                                     typename detail::channel_state<T>::receive_waiter> {
public:
    explicit receive_awaiter(std::shared_ptr<detail::channel_state<T>> state)
        : receive_awaiter::channel_awaiter(std::move(state)) {}

    std::optional<T> await_resume() {
        this->finish();
        if (this->waiter_.value) return std::move(this->waiter_.value);
        if (this->waiter_.cancelled) throw std::system_error(asio::error::operation_aborted);
        return std::nullopt;
    }

private:
    friend class receive_awaiter::channel_awaiter;
    bool start(std::coroutine_handle<> caller, detail::task_context* context) {
        return this->state_->receive_or_park(this->waiter_, caller, context);
    }
    void cancelled_early() noexcept { this->waiter_.cancelled = true; }
};

template <typename T>
template <typename Container>
class receiver<T>::receive_many_awaiter
    : public detail::channel_awaiter<receive_many_awaiter<Container>, T,
                                     typename detail::channel_state<T>::receive_waiter> {
public:
    receive_many_awaiter(std::shared_ptr<detail::channel_state<T>> state, Container& out,
                         std::size_t max)
        : receive_many_awaiter::channel_awaiter(std::move(state)), out_(&out), max_(max) {}

    bool await_ready() const noexcept { return max_ == 0; }

    std::size_t await_resume() {
        this->finish();
        if (this->waiter_.value) {
            // Woken with one value handed over; take what else is queued now.
            out_->push_back(std::move(*this->waiter_.value));
            return 1 + this->state_->try_receive_many(*out_, max_ - 1);
        }
        if (this->waiter_.cancelled) throw std::system_error(asio::error::operation_aborted);
        return taken_;
    }

private:
    friend class receive_many_awaiter::channel_awaiter;
    bool start(std::coroutine_handle<> caller, detail::task_context* context) {
        return this->state_->receive_many_or_park(this->waiter_, *out_, max_, taken_, caller,
                                                  context);
    }
    void cancelled_early() noexcept { this->waiter_.cancelled = true; }

    Container* out_;
    std::size_t max_;
    std::size_t taken_ = 0;
};

/// Creates a bounded channel for `capacity` values (at least 1) and returns its first sender and
/// receiver: `auto [tx, rx] = asyncpat::make_channel<int>(64);`
/// Throws `std::invalid_argument` for a capacity of 0.
template <typename T>
std::pair<sender<T>, receiver<T>> make_channel(std::size_t capacity) {
    if (capacity == 0)
        throw std::invalid_argument("asyncpat::make_channel: the capacity must be at least 1");
    auto state = std::make_shared<detail::channel_state<T>>(capacity);
    return {sender<T>{state}, receiver<T>{state}};
}

}  // namespace asyncpat

#endif  // ASYNCPAT_CHANNEL_HPP
