// asyncpat: bounded channels for tasks that all run on one thread, without atomics.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_LOCAL_CHANNEL_HPP
#define ASYNCPAT_LOCAL_CHANNEL_HPP

#include <asyncpat/channel.hpp>
#include <asyncpat/error.hpp>
#include <asyncpat/oneshot.hpp>

#include <asyncpat/detail/task_context.hpp>

#include <bit>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

namespace asyncpat {

/// A channel whose handles are all used on one thread: the tasks that send and receive run on
/// a single-threaded `io_context`. It has the API and the semantics of the concurrent channel
/// (close, permits, cancel safety, counters, `async_*` forms) without an atomic operation per
/// message.
struct channel_kind::local {};

namespace detail {

// A word per thread that names it to owning_thread: null until the thread first uses a local
// channel or oneshot, then the address of its ready queue (unique among the live threads).
inline void const*& this_thread_token() noexcept {
    static thread_local constinit void const* token = nullptr;
    return token;
}
inline constexpr char unclaimed_owner{};  // (its address marks an owning_thread not yet claimed)

// The thread a local channel or oneshot belongs to: the first one that uses one of its handles.
// A use from any other thread throws instead of racing. The check is one load of this thread's
// token and one comparison: an unclaimed owner is a marker that no token equals, and a thread
// without a token (null) matches no owner.
class owning_thread {
public:
    void check(char const* misuse) const {
        if (owner_ == this_thread_token()) [[likely]]
            return;
        claim(misuse);  // the first use (every new oneshot's): inline, not a cold call
    }

private:
    void claim(char const* misuse) const {
        void const*& token = this_thread_token();
        if (token == nullptr) token = &local_ready();
        if (owner_ == &unclaimed_owner) {
            owner_ = token;
            return;
        }
        if (owner_ != token) [[unlikely]]
            throw_misuse(misuse);
    }

    [[noreturn, gnu::cold, gnu::noinline]] static void throw_misuse(char const* misuse) {
        throw std::logic_error(misuse);
    }

    mutable void const* owner_ = &unclaimed_owner;
};

// The links of a local_waiter_queue: its nodes and its head.
struct local_waiter_links {
    local_waiter_links* next;
    local_waiter_links* prev;
};

// A parked operation of a local channel: its coroutine and its tree's context, as
// channel_waiter, but built for the local channel's own awaiters, which are their waiters
// (local_receive_awaiter, local_send_awaiter) and are made for every operation, including those
// that never park: only the link flag is set when it is made. (The unit of work a parked task
// needs is its tree's: task_context::hold_work. A frame destroyed while parked leaves the queue,
// local_channel_state::leave(); its cancellation hook is the owner's to drop: a tree's frames
// are destroyed only after task_context::disarm().)
struct local_waiter : local_waiter_links {
    local_waiter() noexcept {}  // (the rest is set by park() and the queue)
    local_waiter(const local_waiter&) = delete;
    local_waiter& operator=(const local_waiter&) = delete;

    void* handle_address;  // the parked coroutine (an address: a handle would be zeroed first)
    task_context* context;
    bool linked = false;

    [[gnu::always_inline]] void park(std::coroutine_handle<> h, task_context* c) noexcept {
        handle_address = h.address();
        context = c;
    }

    // For the local channel's own awaiters: makes the tree hold its unit of work (may throw:
    // nothing is armed or parked then) and installs `hook` as the task's cancellation hook,
    // unless the task is cancelled already (false). Without a lock (serial_hook), and whether
    // or not anyone can cancel the task: a hook that is never called costs less than asking.
    static bool prepare_to_park(task_context* c, task_context::hook_function hook, void* awaiter) {
        c->hold_work();
        if (c->cancel_requested()) return false;
        c->set_hook(hook, awaiter);
        return true;
    }

    // Resumes the waiter; after this its frame may be gone at any moment. Its task's
    // cancellation hook (this wait's, if armed) goes first: a local channel's awaiters arm it
    // without a lock (serial_hook) and leave the clearing to whoever wakes them, on this same
    // thread, before the task can run or arm another. Nothing here touches the waiter after
    // detail::wake: the wake may have destroyed the frame it lives in already (a resumption
    // that could not be queued abandons the tree).
    void wake() noexcept {
        context->clear_hook_serial();
        detail::wake(std::coroutine_handle<>::from_address(handle_address), *context);
    }
};
template <typename T>
struct local_receive_waiter : local_waiter {
    local_receive_waiter() noexcept {}  // (user-provided: emplace() then zeroes nothing else)
    std::optional<T> value;             // handed over by a sender, or taken at once
    bool cancelled = false;
};
// A waiting send (carries its value) or reserve (carries none).
template <typename T>
struct local_send_waiter : local_waiter {
    local_send_waiter() noexcept {}  // (as above)
    T* value = nullptr;              // the value to send, in the waiting frame; null for reserve()
    send_failure error = send_failure::none;
};

// The parked waiters of one side of a local channel, first come first served: a circular list
// through the waiters' links around a head inside the queue (so the queue never moves), which
// links and unlinks without a branch on emptiness.
template <typename Waiter>
class local_waiter_queue {
public:
    local_waiter_queue() noexcept : head_{&head_, &head_} {}
    local_waiter_queue(const local_waiter_queue&) = delete;
    local_waiter_queue& operator=(const local_waiter_queue&) = delete;

    bool empty() const noexcept { return head_.next == &head_; }
    Waiter* front() const noexcept { return empty() ? nullptr : static_cast<Waiter*>(head_.next); }
    void push_back(Waiter* w) noexcept {
        local_waiter_links* const last = head_.prev;
        w->next = &head_;
        w->prev = last;
        last->next = w;
        head_.prev = w;
        w->linked = true;
    }
    Waiter* pop_front() noexcept {
        local_waiter_links* const first = head_.next;
        if (first == &head_) return nullptr;
        head_.next = first->next;
        first->next->prev = &head_;
        auto* const w = static_cast<Waiter*>(first);
        w->linked = false;
        return w;
    }
    void erase(Waiter* w) noexcept {
        w->prev->next = w->next;
        w->next->prev = w->prev;
        w->linked = false;
    }

private:
    local_waiter_links head_;
};

// The shared state of a local channel: a ring of `capacity` values (its storage rounded up to
// a power of two) indexed by two plain counters, and the parked senders and receivers. The same
// rules as channel_state, without a lock, because one thread runs everything:
// room = capacity - queued - reserved >= 0; senders park only while room == 0 and receivers
// only while queued == 0; a parked waiter is completed and woken exactly once, by whoever
// unlinks it. Waking never resumes inline (ready slot or post, see detail::wake), so a waiter
// woken from inside an operation runs only after the operation returned.
template <typename T>
class local_channel_state {
    static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                  "asyncpat channels need element types that are nothrow move constructible and "
                  "nothrow destructible");

public:
    using receive_waiter = local_receive_waiter<T>;
    using send_waiter = local_send_waiter<T>;
    using try_result = channel_try_result;
    using popped = channel_popped;  // never value_and_room_wanted: pop() admits parked senders

    explicit local_channel_state(std::size_t capacity)
        : capacity_(capacity),
          mask_(std::bit_ceil(capacity) - 1),
          cells_(new cell[std::bit_ceil(capacity)]) {}
    local_channel_state(const local_channel_state&) = delete;
    local_channel_state& operator=(const local_channel_state&) = delete;
    ~local_channel_state() { destroy_queued(); }

    std::size_t capacity() const noexcept { return capacity_; }

    // The channel belongs to the first thread that uses one of its handles; a use from any
    // other thread throws instead of racing.
    // Its tasks run on that thread (on an executor that runs there alone), where the
    // cancellation of a task is emitted too: their cancellation hooks need no lock.
    static constexpr bool serial_hook = true;
    void check_thread() const {
        owner_.check(
            "asyncpat: a local channel was used from a thread other than the one that first used "
            "it; share channels between threads with make_channel");
    }

    // ---- handles

    void add_sender() noexcept { ++senders_; }
    void add_receiver() noexcept { ++receivers_; }
    void drop_sender() noexcept {
        if (--senders_ == 0) close();
    }
    void drop_receiver() noexcept {
        if (--receivers_ != 0) return;
        no_receivers_ = true;
        close();
        destroy_queued();
    }

    // ---- close and observers

    void close() noexcept {
        closed_ = true;
        sends_blocked_ = true;
        while (send_waiter* s = senders_waiting_.pop_front()) {
            s->error = send_failure::closed;
            s->wake();
        }
        end_receivers_if_done();
    }

    bool is_closed() const noexcept { return closed_; }
    std::size_t size() const noexcept { return static_cast<std::size_t>(tail_ - head_); }
    std::uint64_t sent() const noexcept { return tail_ + handed_over_; }
    std::uint64_t received() const noexcept { return head_ + handed_over_; }
    std::size_t high_watermark() const noexcept { return high_watermark_; }

    // ---- sending

    // Inline, hand-off to a parked receiver included: a send is a handful of loads and stores
    // in the sending coroutine.
    [[gnu::always_inline]] try_result try_send(T& value) noexcept {
        if (sends_blocked_) [[unlikely]]  // closed, or senders parked (no barging past them)
            return closed_ ? try_result::closed : try_result::full;
        return deliver(value) ? try_result::sent : try_result::full;
    }

    // Parks a send or reserve whose try (just now) found no room: senders are parked, or
    // nobody waits to receive and the ring is full.
    void park_sender(send_waiter& w) noexcept {
        senders_waiting_.push_back(&w);
        sends_blocked_ = true;
    }

    bool send_or_park(send_waiter& w, std::coroutine_handle<> h, task_context* context) noexcept {
        if (closed_) {
            w.error = send_failure::closed;
            return true;
        }
        if (senders_waiting_.empty() && (w.value ? deliver(*w.value) : reserve())) return true;
        if (context->cancel_requested()) {
            w.error = send_failure::cancelled;
            return true;
        }
        w.park(h, context);
        park_sender(w);
        return false;
    }

    std::error_code try_reserve() noexcept {
        if (closed_) return make_error_code(errc::channel_closed);
        if (senders_waiting_.empty() && reserve()) return {};
        return make_error_code(errc::channel_full);
    }

    void send_reserved(T& value) noexcept {
        --reserved_;
        // A reserved slot always has room. If every receiver has gone, the value is dropped
        // with the rest (by the permit's caller).
        if (!no_receivers_) deliver(value);
        admit_senders();
        end_receivers_if_done();
    }

    void release_reserved() noexcept {
        --reserved_;
        admit_senders();
        end_receivers_if_done();
    }

    bool cancel(send_waiter& w) noexcept {
        if (!w.linked) return false;
        senders_waiting_.erase(&w);
        update_sends_blocked();
        w.error = send_failure::cancelled;
        return true;
    }

    // A parked send, reserve or receive whose frame goes without its wait ending (see
    // local_waiter): it leaves the queue as a cancelled one does.
    bool leave(send_waiter& w) noexcept { return cancel(w); }
    bool leave(receive_waiter& w) noexcept { return cancel(w); }

    // ---- receiving

    popped pop(std::optional<T>& out) noexcept {
        if (head_ == tail_) return popped::empty;
        T* const slot = cells_[head_ & mask_].get();
        out.emplace(std::move(*slot));
        slot->~T();
        ++head_;
        if (sends_blocked_) admit_senders();  // (senders parked, or closed: then a no-op)
        return popped::value;
    }

    void made_room() noexcept { admit_senders(); }

    // Closed, drained, and no permit can still send: a receive ends.
    bool ended() const noexcept { return closed_ && reserved_ == 0; }

    // Parks a receive whose pop (just now) found nothing, on a channel that has not ended.
    void park_receiver(receive_waiter& w) noexcept { receivers_waiting_.push_back(&w); }

    // For the generic awaiter (receive_many): takes a value if one is queued now (an awaiter
    // adaptor may have acted since the awaiter's try), else ends, or parks.
    [[gnu::always_inline]] bool receive_or_park(receive_waiter& w, std::coroutine_handle<> h,
                                                task_context* context) noexcept {
        if (pop(w.value) != popped::empty) return true;
        if (closed_ && reserved_ == 0) return true;  // closed and drained: the end
        if (context->cancel_requested()) {
            w.cancelled = true;
            return true;
        }
        w.park(h, context);
        park_receiver(w);
        return false;
    }

    std::optional<T> try_receive(std::error_code& ec) noexcept {
        std::optional<T> value;
        if (pop(value) != popped::empty) {
            ec = {};
            return value;
        }
        ec =
            make_error_code(closed_ && reserved_ == 0 ? errc::channel_closed : errc::channel_empty);
        return value;
    }

    template <typename Container>
    std::size_t try_receive_many(Container& out, std::size_t max) {
        std::size_t taken = 0;
        std::optional<T> value;
        while (taken < max && pop(value) != popped::empty) {
            out.push_back(std::move(*value));  // if this throws, the value is destroyed
            value.reset();
            ++taken;
        }
        return taken;
    }

    bool cancel(receive_waiter& w) noexcept {
        if (!w.linked) return false;
        receivers_waiting_.erase(&w);
        w.cancelled = true;
        return true;
    }

private:
    struct cell {
        alignas(T) unsigned char storage[sizeof(T)];
        T* get() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
    };

    bool reserve() noexcept {
        if (queued_and_reserved() >= capacity_) return false;
        ++reserved_;
        return true;
    }

    std::size_t queued_and_reserved() const noexcept {
        return static_cast<std::size_t>(tail_ - head_) + reserved_;
    }

    // Hands `value` to the first parked receiver, or queues it if there is room (false if there
    // is none).
    [[gnu::always_inline]] bool deliver(T& value) noexcept {
        if (receive_waiter* r = receivers_waiting_.pop_front()) {
            r->value.emplace(std::move(value));
            ++handed_over_;
            r->wake();
            return true;
        }
        if (queued_and_reserved() >= capacity_) return false;
        queue(value);
        return true;
    }

    // Puts `value` in the next cell (there is room).
    [[gnu::always_inline]] void queue(T& value) noexcept {
        new (cells_[tail_ & mask_].storage) T(std::move(value));
        ++tail_;
        if (tail_ - head_ > high_watermark_)
            high_watermark_ = static_cast<std::size_t>(tail_ - head_);
    }

    void admit_senders() noexcept {
        while (send_waiter* s = senders_waiting_.front()) {
            if (s->value ? !deliver(*s->value) : !reserve()) break;
            senders_waiting_.pop_front();
            s->wake();
        }
        update_sends_blocked();
    }

    void update_sends_blocked() noexcept { sends_blocked_ = closed_ || !senders_waiting_.empty(); }

    void end_receivers_if_done() noexcept {
        if (!closed_ || reserved_ != 0) return;
        while (receive_waiter* r = receivers_waiting_.pop_front()) r->wake();
    }

    // Destroys what is queued; a value's destructor may use the channel (it is closed by then).
    void destroy_queued() noexcept {
        while (head_ != tail_) {
            T* const slot = cells_[head_ & mask_].get();
            ++head_;
            slot->~T();
        }
    }

    std::uint64_t head_ = 0;  // values taken out of the ring so far
    std::uint64_t tail_ = 0;  // values put into the ring so far
    std::size_t const capacity_;
    std::uint64_t const mask_;
    std::unique_ptr<cell[]> cells_;
    std::size_t reserved_ = 0;
    local_waiter_queue<send_waiter> senders_waiting_;
    local_waiter_queue<receive_waiter> receivers_waiting_;
    bool closed_ = false;
    bool sends_blocked_ = false;  // closed_ || !senders_waiting_.empty(), for try_send's one test
    bool no_receivers_ = false;
    std::size_t senders_ = 0;
    std::size_t receivers_ = 0;
    std::uint64_t handed_over_ = 0;  // values handed straight to parked receivers
    std::size_t high_watermark_ = 0;
    owning_thread owner_;  // the thread that uses the channel (check_thread)
};

template <typename T>
struct channel_state_of<T, channel_kind::local> {
    using type = local_channel_state<T>;
};

// The task context of the coroutine that awaits a local channel's operation.
template <typename Promise>
task_context* awaiting_context(std::coroutine_handle<Promise> caller) noexcept {
    static_assert(context_promise<Promise>,
                  "channel operations can only be awaited inside asyncpat coroutines");
    return caller.promise().context();
}

// The awaiters of a local channel's send() and receive(). They follow channel_awaiter's protocol
// (try at once, else arm the cancellation hook and park; transfer to the ready slot's task) and
// keep its guarantees, leaner, because one thread runs everything: each awaiter is its own
// waiter (no separate parking record), and a wait that did not complete in await_ready parks in
// await_suspend after one more try, without a lock (only an awaiter adaptor can run code in
// between; the try costs a few loads). Its cancellation hook needs no lock (serial_hook), and
// whoever wakes the wait clears it (local_waiter::wake), so that a wait that completes at once
// pays nothing for it. A frame destroyed while parked (executor shutdown) leaves the queue.

template <typename T>
class local_receive_awaiter : local_receive_waiter<T> {
    using state_type = local_channel_state<T>;

public:
    explicit local_receive_awaiter(state_type* state) noexcept : state_(state) {}
    local_receive_awaiter(const local_receive_awaiter&) = delete;
    local_receive_awaiter& operator=(const local_receive_awaiter&) = delete;
    ~local_receive_awaiter() {
        if (this->linked) [[unlikely]]
            state_->leave(*this);
    }

    bool await_ready() noexcept { return state_->pop(this->value) != channel_popped::empty; }

    template <typename Promise>
    [[gnu::always_inline]] std::coroutine_handle<> await_suspend(
        std::coroutine_handle<Promise> caller) {
        task_context* const caller_context = awaiting_context(caller);
        // Nothing ran since await_ready found the ring empty when the coroutine awaits this
        // directly; an awaiter adaptor may run code in between, so one more look (two loads).
        if (state_->pop(this->value) != channel_popped::empty) return transfer_to(caller);
        if (state_->ended()) return transfer_to(caller);  // closed and drained: the end
        if (!this->prepare_to_park(caller_context, &on_cancel, this)) {
            this->cancelled = true;
            return transfer_to(caller);
        }
        this->park(caller, caller_context);
        state_->park_receiver(*this);
        return next_ready();
    }

    // (The hook, if this wait armed one, was cleared by whoever woke it: local_waiter::wake.)
    std::optional<T> await_resume() {
        if (this->value) [[likely]]
            return std::move(this->value);
        if (this->cancelled) throw_operation_aborted();
        return std::nullopt;
    }

private:
    static void on_cancel(void* self, asio::cancellation_type) {
        auto* const a = static_cast<local_receive_awaiter*>(self);
        if (a->state_->cancel(*a)) a->wake();
    }

    state_type* state_;
};

template <typename T>
class local_send_awaiter : local_send_waiter<T> {
    using state_type = local_channel_state<T>;

public:
    local_send_awaiter(state_type* state, T to_send) : state_(state), value_(std::move(to_send)) {
        this->value = &value_;  // (what a parked send hands over)
    }
    local_send_awaiter(const local_send_awaiter&) = delete;
    local_send_awaiter& operator=(const local_send_awaiter&) = delete;
    ~local_send_awaiter() {
        if (this->linked) [[unlikely]]
            state_->leave(*this);
    }

    // Sends at once if there is room or a parked receiver, or fails at once if closed.
    [[gnu::always_inline]] bool await_ready() noexcept {
        switch (state_->try_send(value_)) {
            case channel_try_result::sent: return true;
            case channel_try_result::closed: this->error = send_failure::closed; return true;
            case channel_try_result::full: break;
        }
        return false;
    }

    template <typename Promise>
    [[gnu::always_inline]] std::coroutine_handle<> await_suspend(
        std::coroutine_handle<Promise> caller) {
        task_context* const caller_context = awaiting_context(caller);
        if (await_ready()) return transfer_to(caller);  // (as for a receive: one more look)
        if (!this->prepare_to_park(caller_context, &on_cancel, this)) {
            this->error = send_failure::cancelled;
            return transfer_to(caller);
        }
        this->park(caller, caller_context);
        state_->park_sender(*this);
        return next_ready();
    }

    void await_resume() {  // (the hook: as for the receive)
        if (this->error != send_failure::none) [[unlikely]]
            fail();
    }

private:
    [[noreturn, gnu::cold, gnu::noinline]] void fail() {
        throw send_error<T>(make_error_code(this->error), std::move(value_));
    }

    static void on_cancel(void* self, asio::cancellation_type) {
        auto* const a = static_cast<local_send_awaiter*>(self);
        if (a->state_->cancel(*a)) a->wake();
    }

    state_type* state_;
    T value_;
};

template <typename T, typename Generic>
struct send_awaiter_of<T, channel_kind::local, Generic> {
    using type = local_send_awaiter<T>;
};
template <typename T, typename Generic>
struct receive_awaiter_of<T, channel_kind::local, Generic> {
    using type = local_receive_awaiter<T>;
};

// The shared state of a local oneshot: oneshot_state's protocol (oneshot.hpp) with a plain word
// instead of an atomic one, for a sender and a receiver used on one thread. Waking never resumes
// inline (ready slot or post), so a woken receiver runs only after the send returned.
template <typename T>
class local_oneshot_state : public oneshot_slot<T>, public oneshot_flags {
public:
    static constexpr bool serial_hook = true;  // (see local_channel_state)
    void check_thread() const {
        owner_.check(
            "asyncpat: a local oneshot was used from a thread other than the one that first used "
            "it; share oneshots between threads with make_oneshot");
    }

    local_oneshot_state() = default;
    ~local_oneshot_state() { this->destroy_value(state_); }

    std::uint32_t load() const noexcept { return state_; }

    bool send_and_drop(T& value) noexcept {
        std::uint32_t const s = state_;
        if (s & receiver_gone) {
            delete this;  // the receiver went, and so do we
            return false;
        }
        this->put(value);
        state_ = (s | value_set | sender_gone) & ~receiver_waiting;
        if (s & receiver_waiting) this->wake_receiver();
        return true;
    }

    bool drop_sender() noexcept {
        std::uint32_t const s = state_;
        state_ = (s | sender_gone) & ~receiver_waiting;
        if (s & receiver_waiting) this->wake_receiver();
        return (s & receiver_gone) != 0;
    }

    bool drop_receiver() noexcept {
        std::uint32_t const s = state_;
        state_ = s | receiver_gone;
        return (s & sender_gone) != 0;
    }

    // As oneshot_state's (after oneshot_slot::prepare_park).
    bool park_prepared() noexcept {
        if (state_ & (value_set | sender_gone)) return false;  // the outcome is known already
        state_ |= receiver_waiting;
        return true;
    }

    bool cancel() noexcept {
        if (!(state_ & receiver_waiting)) return false;
        state_ &= ~receiver_waiting;
        return true;
    }

private:
    std::uint32_t state_ = 0;
    owning_thread owner_;
};

template <typename T>
struct oneshot_state_of<T, channel_kind::local> {
    using type = local_oneshot_state<T>;
};

}  // namespace detail

/// The handles of a local channel (see `make_local_channel`).
template <typename T>
using local_sender = sender<T, channel_kind::local>;
template <typename T>
using local_receiver = receiver<T, channel_kind::local>;
template <typename T>
using local_permit = permit<T, channel_kind::local>;

/// Creates a bounded channel for tasks that all run on one thread (a single-threaded
/// `io_context`): `auto [tx, rx] = asyncpat::make_local_channel<int>(64);`
///
/// Everything `make_channel` documents holds (backpressure, close and drain, permits, cancel
/// safety, `try_*`, `receive_many`, counters, `async_*` forms), at a fraction of the cost: no
/// atomic operation per message, no lock.
///
/// @par Thread safety
/// Not thread-safe. The channel belongs to the first thread that uses one of its handles
/// (creating it does not count); using a handle from another thread afterwards throws
/// `std::logic_error`. The tasks that await it run on that thread, on an executor that runs
/// its handlers there alone (a single-threaded `io_context`). Copy, destroy and hand over its
/// handles on that thread too (or before any use, or after every use there has ended); use
/// `make_channel` to share a channel between threads. Parked tasks are resumed on their own
/// executor, and may be cancelled from any thread, as with `make_channel`.
///
/// Throws `std::invalid_argument` for a capacity of 0.
template <typename T>
std::pair<local_sender<T>, local_receiver<T>> make_local_channel(std::size_t capacity) {
    if (capacity == 0)
        throw std::invalid_argument(
            "asyncpat::make_local_channel: the capacity must be at least 1");
    auto state = std::make_shared<detail::local_channel_state<T>>(capacity);
    return {local_sender<T>{state}, local_receiver<T>{state}};
}

/// The halves of a local oneshot (see `make_local_oneshot`).
template <typename T>
using local_oneshot_sender = oneshot_sender<T, channel_kind::local>;
template <typename T>
using local_oneshot_receiver = oneshot_receiver<T, channel_kind::local>;

/// Creates a oneshot channel whose halves are used on one thread:
/// `auto [tx, rx] = asyncpat::make_local_oneshot<int>();`
///
/// Everything `make_oneshot` documents holds (one value, broken promise, cancel-safe receive,
/// `try_receive`, `async_receive`), without an atomic operation or a lock.
///
/// @par Thread safety
/// As for `make_local_channel`: the oneshot belongs to the first thread that uses one of its
/// halves, and a use from another thread throws `std::logic_error`. The tasks that use it run on
/// that thread, on an executor that runs its handlers there alone. Destroy the halves on that
/// thread too (or before any use).
template <typename T>
std::pair<local_oneshot_sender<T>, local_oneshot_receiver<T>> make_local_oneshot() {
    auto* state = new detail::local_oneshot_state<T>();
    return {local_oneshot_sender<T>{state}, local_oneshot_receiver<T>{state}};
}

}  // namespace asyncpat

#endif  // ASYNCPAT_LOCAL_CHANNEL_HPP
