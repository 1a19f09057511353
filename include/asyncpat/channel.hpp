// asyncpat: bounded MPMC channels with backpressure, cancel-safe operations and permits.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_CHANNEL_HPP
#define ASYNCPAT_CHANNEL_HPP

#include <asyncpat/error.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include <asyncpat/detail/asio.hpp>
#include <asyncpat/detail/intrusive_list.hpp>
#include <asyncpat/detail/single_threaded.hpp>
#include <asyncpat/detail/task_context.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
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

/// Channel kinds, the second template argument of `sender`, `receiver` and `permit`.
namespace channel_kind {
/// The default: handles may be used from any thread (`make_channel`).
struct concurrent {};
/// Every handle of the channel is used on one thread (`make_local_channel`, local_channel.hpp).
struct local;
}  // namespace channel_kind

namespace detail {
// The shared state of a channel of kind `Kind` (its `type`).
template <typename T, typename Kind>
struct channel_state_of;
// The awaiters of `send()` and `receive()` for a channel of kind `Kind` (their `type`): the
// generic ones (`Generic`, see channel_awaiter) unless the kind brings its own, as the local kind
// does (local_channel.hpp).
template <typename T, typename Kind, typename Generic>
struct send_awaiter_of {
    using type = Generic;
};
template <typename T, typename Kind, typename Generic>
struct receive_awaiter_of {
    using type = Generic;
};
}  // namespace detail

template <typename T, typename Kind = channel_kind::concurrent>
class sender;
template <typename T, typename Kind = channel_kind::concurrent>
class receiver;
template <typename T, typename Kind = channel_kind::concurrent>
class permit;

namespace detail {

// A parked operation's way back: its coroutine and its tree's context. (Parking makes the tree
// hold a unit of work on its executor, task_context::hold_work, so an io_context does not run
// out of work while a receive waits for a sender on another thread.)
struct channel_waiter {
    // User-provided, so that value-initialisation (optional::emplace()) does not zero the whole
    // object first: a parking operation pays only for the members below.
    channel_waiter() noexcept {}

    std::coroutine_handle<> handle;
    task_context* context = nullptr;
    channel_waiter* next = nullptr;
    channel_waiter* prev = nullptr;
    channel_waiter* ready_next = nullptr;  // the list of waiters to wake after unlocking
    bool linked = false;

    void park(std::coroutine_handle<> h, task_context* c) noexcept {
        handle = h;
        context = c;
    }

    // Resumes the waiter; after this its frame may be gone at any moment.
    void wake() noexcept { detail::wake(handle, *context); }
};

// Why a send or reserve failed (kept as a byte in the waiter, not a std::error_code, whose
// construction calls into the runtime on every operation).
enum class send_failure : unsigned char { none, closed, cancelled };
inline std::error_code make_error_code(send_failure failure) noexcept {
    switch (failure) {
        case send_failure::none: break;
        case send_failure::closed: return asyncpat::make_error_code(errc::channel_closed);
        case send_failure::cancelled: return asio::error::operation_aborted;
    }
    return {};
}

// Kept out of line so that the operations around them inline: the rare failures, and the
// locked removal of a cancellation hook (a wait that parked).
[[noreturn, gnu::cold, gnu::noinline]] inline void throw_empty_handle(char const* message) {
    throw std::logic_error(message);
}
[[noreturn, gnu::cold, gnu::noinline]] inline void throw_operation_aborted() {
    throw std::system_error(asio::error::operation_aborted);
}
[[noreturn, gnu::cold, gnu::noinline]] inline void throw_send_failure(send_failure failure) {
    throw std::system_error(make_error_code(failure));
}
[[gnu::noinline]] inline void clear_cancellation_hook(task_context* context) noexcept {
    context->clear_hook();
}

// What both kinds of channel state (channel_state, local_channel_state) park and report.
template <typename T>
struct channel_receive_waiter : channel_waiter {
    channel_receive_waiter() noexcept {}  // (see channel_waiter())
    std::optional<T> value;               // handed over by a sender, or taken at once
    bool cancelled = false;
};
// A waiting send (carries its value) or reserve (carries none).
template <typename T>
struct channel_send_waiter : channel_waiter {
    channel_send_waiter() noexcept {}  // (see channel_waiter())
    T* value = nullptr;  // the value to send, in the waiting frame; null for reserve()
    send_failure error = send_failure::none;
};
// The outcome of a send that does not wait.
enum class channel_try_result { sent, closed, full };
// The outcome of a pop. value_and_room_wanted: a sender is parked, call made_room() (only the
// concurrent state says so; the local one admits parked senders inside pop()).
enum class channel_popped { empty, value, value_and_room_wanted };

// A FIFO of parked waiters, linked through the waiters themselves (no allocation).
template <typename Waiter>
using waiter_list = intrusive_list<Waiter, false>;

// Waiters unlinked (and completed) under the lock, to be woken after unlocking. Linked through
// their own `ready_next`, not the queue links: a cancellation hook may look at the queue links
// (under the lock) while this list is walked (without it).
struct wake_list {
    channel_waiter* head = nullptr;
    wake_list() = default;
    wake_list(const wake_list&) = delete;
    wake_list& operator=(const wake_list&) = delete;
    ~wake_list() {
        while (channel_waiter* w = head) {
            head = w->ready_next;  // read before waking: after wake() w may be gone
            w->wake();
        }
    }
    void push(channel_waiter* w) noexcept {
        w->ready_next = head;
        head = w;
    }
};

// The shared state of one channel.
//
// The buffer is a ring of `capacity` cells, each with a stamp (Vyukov's bounded queue, with
// crossbeam's lap encoding so that any capacity works without a division). A stamp is
// lap * one_lap + index. A cell whose stamp equals the tail stamp is free for that lap; a
// producer claims it by advancing `tail_` with a CAS, writes the value, and publishes it by
// storing stamp + 1. A consumer claims a published cell by advancing `head_` with a CAS, moves
// the value out, and frees the cell for the next lap by storing stamp + one_lap. So a send or a
// receive that need not wait costs one CAS and touches no lock.
//
// Everything else runs under `lock_`: parking, hand-off to a parked receiver, permits, close.
// The fast paths learn that they must take the slow path from flag bits kept in the same word
// they CAS, so a flag set by a parking operation and a claim by a fast operation are ordered by
// that word's modification order, and no wake-up is lost:
// - tail_ = tail stamp << 2 | receivers_waiting | senders_slow
//   receivers_waiting: a receiver is parked (set only while the ring is empty; producers then
//   hand values to parked receivers directly, under the lock).
//   senders_slow: producers must take the lock: the channel is closed, permits are out (their
//   room is only counted under the lock), or senders are parked (no barging past them).
// - head_ = head stamp << 1 | senders_waiting
//   senders_waiting: a send or reserve is parked for room; a consumer that frees a cell takes
//   the lock afterwards and moves parked senders in.
//
// Invariants (under lock_): room = capacity - queued - reserved >= 0, where queued counts
// claimed cells (tail position - head position); parked senders exist only while room == 0;
// parked receivers exist only while queued == 0; a waiter is completed exactly once, by whoever
// unlinks it (the peer that serves it, close(), or its cancellation hook), which also wakes it
// after unlocking.
template <typename T>
class channel_state {
    static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_destructible_v<T>,
                  "asyncpat channels need element types that are nothrow move constructible and "
                  "nothrow destructible (values move through a lock-free ring)");

public:
    using receive_waiter = channel_receive_waiter<T>;
    using send_waiter = channel_send_waiter<T>;
    using try_result = channel_try_result;
    using popped = channel_popped;

    explicit channel_state(std::size_t capacity)
        : capacity_(capacity),
          one_lap_(std::bit_ceil(static_cast<std::uint64_t>(capacity) + 1)),
          lap_shift_(static_cast<unsigned>(std::countr_zero(one_lap_))),
          cells_(new cell[capacity]) {
        for (std::size_t i = 0; i < capacity; ++i)
            cells_[i].stamp.store(i, std::memory_order_relaxed);
    }
    channel_state(const channel_state&) = delete;
    channel_state& operator=(const channel_state&) = delete;
    ~channel_state() {
        std::optional<T> value;
        while (pop(value) != popped::empty) value.reset();
    }

    std::size_t capacity() const noexcept { return capacity_; }
    // Any thread may use a concurrent channel, and cancel a task that waits for it.
    void check_thread() const noexcept {}
    static constexpr bool serial_hook = false;

    // ---- handles

    void add_sender() noexcept { senders_.fetch_add(1, std::memory_order_relaxed); }
    void add_receiver() noexcept { receivers_.fetch_add(1, std::memory_order_relaxed); }
    void drop_sender() noexcept {
        if (senders_.fetch_sub(1, std::memory_order_acq_rel) == 1) close();
    }
    void drop_receiver() noexcept {
        if (receivers_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        // Nobody can receive any more: every pending and later send fails with its value
        // handed back, and what is queued is destroyed (outside the lock: a value's destructor
        // may use this channel).
        {
            wake_list ready;
            std::lock_guard<spin_lock> guard(lock_);
            no_receivers_ = true;
            close_locked(ready);
        }
        std::optional<T> value;
        while (pop_settled(value)) value.reset();
    }

    // ---- close and observers

    void close() noexcept {
        wake_list ready;
        std::lock_guard<spin_lock> guard(lock_);
        close_locked(ready);
    }

    bool is_closed() const noexcept { return closed_.load(std::memory_order_acquire); }
    std::size_t size() const noexcept {
        std::uint64_t const head = position(head_.load(std::memory_order_acquire) >> 1);
        std::uint64_t const tail = position(tail_.load(std::memory_order_acquire) >> 2);
        return tail > head ? static_cast<std::size_t>(tail - head) : 0;
    }
    std::uint64_t sent() const noexcept {
        return position(tail_.load(std::memory_order_acquire) >> 2) +
               handed_over_.load(std::memory_order_relaxed);
    }
    std::uint64_t received() const noexcept {
        return position(head_.load(std::memory_order_acquire) >> 1) +
               handed_over_.load(std::memory_order_relaxed);
    }
    std::size_t high_watermark() const noexcept {
        return static_cast<std::size_t>(high_watermark_.load(std::memory_order_relaxed));
    }

    // ---- sending

    // The fast path: queues `value` (moving from it) if that needs no lock. False: nothing
    // happened, take the slow path.
    bool push_fast(T& value) noexcept {
        std::uint64_t word = tail_.load(std::memory_order_relaxed);
        for (;;) {
            if (word & tail_flags) return false;
            std::uint64_t const stamp = word >> 2;
            cell& c = cells_[stamp & index_mask()];
            std::uint64_t const cell_stamp = c.stamp.load(std::memory_order_acquire);
            if (cell_stamp == stamp) {
                if (detail::compare_exchange_weak(tail_, word, next_stamp(stamp) << 2,
                                                  std::memory_order_acq_rel,
                                                  std::memory_order_relaxed)) {
                    publish(c, stamp, value);
                    return true;
                }
            } else if (cell_stamp + one_lap_ == stamp + 1) {
                return false;  // full (or a receive is still moving the value out)
            } else {
                word = tail_.load(std::memory_order_relaxed);
            }
        }
    }

    // Sends `value` (moved from only on success) without waiting: none, closed, or full.
    try_result try_send(T& value) noexcept {
        if (push_fast(value)) return try_result::sent;
        wake_list ready;
        std::lock_guard<spin_lock> guard(lock_);
        if (closed_.load(std::memory_order_relaxed)) return try_result::closed;
        if (senders_waiting_.empty() && deliver_locked(value, ready)) return try_result::sent;
        return try_result::full;
    }

    // A send or reserve that found the channel full, before it arms its cancellation hook and
    // parks: if the last receive that parked or moved parked senders in ran on another thread,
    // spins until the receivers have freed a batch of cells (half the capacity, at most 256) or
    // ASYNCPAT_CHANNEL_SEND_SPIN_MICROSECONDS have passed. True: there may be room now (or the
    // channel was closed meanwhile): try once more, then park; false: park. The room is read
    // without the lock and does not count permits, so a caller must not loop on true: it may
    // stay true while permits hold every free cell.
    //
    // Why: once the sender is the faster end, a parked sender is woken for every few values the
    // receiver takes (each wake a post to the sender's executor, and often a futex wake of its
    // sleeping thread, paid by the receiving thread), and the sender refills the few free cells
    // and parks again. Waiting for a batch instead lets the receiver run on through a full ring
    // while the sender waits without being woken (measured: the two-thread rows of
    // channel_bench about twice as fast, docs/benchmarks.md).
    //
    // It does not spin (parks at once, as with spinning off) when:
    // - the receiver ran on this thread, which cannot receive while it spins;
    // - the sender's task does not run in a handler of its own io_context (a thread pool, a
    //   strand, sync_wait), or a woken task waits in this thread's ready slot, or the thread's
    //   hand-off budget is spent: each successful spin counts as a hand-off, so a sender that
    //   keeps finding the channel full still lets the io_context run its other handlers at
    //   least once per ASYNCPAT_HANDOFF_BUDGET spins, as a parked sender would;
    // - the task is cancelled (also checked while spinning: it then parks, and fails there);
    // - a spin of this channel timed out recently (the receiver is slow or has stopped): after a
    //   timeout, the next 64 sends or reserves of the channel that find it full do not spin.
    bool wait_for_room(task_context& context) noexcept {
        if constexpr (ASYNCPAT_CHANNEL_SEND_SPIN_MICROSECONDS <= 0) {
            (void)context;
            return false;
        } else {
            if (approximate_room() != 0) return true;  // (a reserve comes here first)
            ready_queue& queue = local_ready();
            void const* const receiver = receiving_thread_.load(std::memory_order_relaxed);
            if (receiver == nullptr || receiver == &queue) return false;
            if (!ready_slot_accepts(queue, context) || context.cancel_requested()) return false;
            if (sends_without_spin_.load(std::memory_order_relaxed) > 0) {
                // (Racing senders may take it below zero: that only ends the run sooner.)
                sends_without_spin_.fetch_sub(1, std::memory_order_relaxed);
                return false;
            }
            std::uint64_t const wanted = std::min<std::uint64_t>((capacity_ + 1) / 2, 256);
            auto const deadline =
                std::chrono::steady_clock::now() +
                std::chrono::microseconds(ASYNCPAT_CHANNEL_SEND_SPIN_MICROSECONDS);
            for (;;) {
                for (int i = 0; i < 8; ++i) cpu_pause();
                std::uint64_t const room = approximate_room();
                if (room >= wanted || closed_.load(std::memory_order_relaxed)) {
                    ++queue.handoffs;
                    return true;
                }
                if (context.cancel_requested()) return false;
                if (std::chrono::steady_clock::now() >= deadline) {
                    sends_without_spin_.store(64, std::memory_order_relaxed);
                    return false;  // (a send that finds a cell now may still take it: start())
                }
            }
        }
    }

    // The slow path of send and reserve: completes `w` at once if it can (true), otherwise
    // parks it (false; it will be woken).
    bool send_or_park(send_waiter& w, std::coroutine_handle<> h, task_context* context) noexcept {
        wake_list ready;
        std::lock_guard<spin_lock> guard(lock_);
        if (closed_.load(std::memory_order_relaxed)) {
            w.error = send_failure::closed;
            return true;
        }
        if (senders_waiting_.empty()) {
            // Nobody is ahead of us: park only if there is no room. A send first just tries
            // (a hand-off to a parked receiver needs nothing more); then producers are held on
            // the slow path, so that no room appears unseen while we decide to park.
            if (w.value && deliver_locked(*w.value, ready)) return true;
            set_tail_flag(senders_slow);
            for (;;) {
                if (w.value ? deliver_locked(*w.value, ready) : reserve_locked()) {
                    update_senders_slow_locked();
                    return true;
                }
                // No room. Tell consumers that a sender waits, unless a receive freed a cell
                // since we looked (then retry).
                std::uint64_t head = head_.load(std::memory_order_acquire);
                if (room_locked(head) != 0) continue;
                if ((head & senders_waiting_flag) == 0 &&
                    !head_.compare_exchange_strong(head, head | senders_waiting_flag,
                                                   std::memory_order_acq_rel)) {
                    continue;
                }
                break;
            }
        }
        if (context->cancel_requested()) {
            w.error = send_failure::cancelled;
            update_waiting_flags_locked();
            return true;
        }
        w.park(h, context);
        senders_waiting_.push_back(&w);
        return false;
    }

    std::error_code try_reserve() noexcept {
        std::lock_guard<spin_lock> guard(lock_);
        if (closed_.load(std::memory_order_relaxed)) return make_error_code(errc::channel_closed);
        if (senders_waiting_.empty()) {
            set_tail_flag(senders_slow);
            if (reserve_locked()) return {};
            update_senders_slow_locked();
        }
        return make_error_code(errc::channel_full);
    }

    // Uses a reserved slot (a permit) for `value`.
    void send_reserved(T& value) noexcept {
        wake_list ready;
        std::lock_guard<spin_lock> guard(lock_);
        --reserved_;
        // A reserved slot always has room; if every receiver has gone, the value is dropped
        // with the rest (the receiving side is gone, as for queued values).
        if (!no_receivers_) deliver_locked(value, ready);
        // If the value went straight to a parked receiver, the slot is free for parked senders.
        admit_senders_locked(ready);
        end_receivers_if_done_locked(ready);
    }

    // A permit was dropped unused: its slot is free again.
    void release_reserved() noexcept {
        wake_list ready;
        std::lock_guard<spin_lock> guard(lock_);
        --reserved_;
        admit_senders_locked(ready);
        end_receivers_if_done_locked(ready);
    }

    // A parked operation whose frame goes without its wait ending: as cancel().
    template <typename Waiter>
    bool leave(Waiter& w) noexcept {
        return cancel(w);
    }

    // A parked send or reserve was cancelled: true if it was still waiting (now removed).
    bool cancel(send_waiter& w) noexcept {
        std::lock_guard<spin_lock> guard(lock_);
        if (!w.linked) return false;
        senders_waiting_.erase(&w);
        w.error = send_failure::cancelled;
        update_waiting_flags_locked();
        return true;
    }

    // ---- receiving

    // The fast path: moves the oldest published value into `out` if there is one.
    // value_and_room_wanted: a sender is parked, call made_room().
    popped pop(std::optional<T>& out) noexcept {
        std::uint64_t word = head_.load(std::memory_order_relaxed);
        for (;;) {
            std::uint64_t const stamp = word >> 1;
            cell& c = cells_[stamp & index_mask()];
            std::uint64_t const cell_stamp = c.stamp.load(std::memory_order_acquire);
            if (cell_stamp == stamp + 1) {
                if (detail::compare_exchange_weak(
                        head_, word, (next_stamp(stamp) << 1) | (word & senders_waiting_flag),
                        std::memory_order_acq_rel, std::memory_order_relaxed)) {
                    T* slot = c.get();
                    out.emplace(std::move(*slot));
                    slot->~T();
                    c.stamp.store(stamp + one_lap_, std::memory_order_release);
                    // After the cell is free: a sender that reaches it meanwhile need not wait.
                    prefetch_for_consumer(stamp);
                    return (word & senders_waiting_flag) ? popped::value_and_room_wanted
                                                         : popped::value;
                }
            } else if (cell_stamp == stamp) {
                return popped::empty;  // empty, or a send is still writing
            } else {
                word = head_.load(std::memory_order_relaxed);
            }
        }
    }

    // A receive freed a cell while senders were parked: move them in.
    void made_room() noexcept {
        wake_list ready;
        std::lock_guard<spin_lock> guard(lock_);
        note_receiving_thread();
        admit_senders_locked(ready);
    }

    // Takes a value at once if one is queued (true), and if not, either finishes `w` (true:
    // closed and drained, or cancelled) or parks it (false).
    bool receive_or_park(receive_waiter& w, std::coroutine_handle<> h,
                         task_context* context) noexcept {
        wake_list ready;
        std::lock_guard<spin_lock> guard(lock_);
        backoff wait;
        for (;;) {
            if (popped const p = pop(w.value); p != popped::empty) {
                if (p == popped::value_and_room_wanted) admit_senders_locked(ready);
                return true;
            }
            std::uint64_t tail = tail_.load(std::memory_order_acquire);
            std::uint64_t const head = head_.load(std::memory_order_acquire);
            if ((tail >> 2) != (head >> 1)) {  // a send is writing its cell: it will not be long
                wait();
                continue;
            }
            // Closed and drained, and no permit can still send: the end.
            if (closed_.load(std::memory_order_relaxed) && reserved_ == 0) return true;
            if (context->cancel_requested()) {
                w.cancelled = true;
                return true;
            }
            if ((tail & receivers_waiting_flag) == 0 &&
                !tail_.compare_exchange_strong(tail, tail | receivers_waiting_flag,
                                               std::memory_order_acq_rel)) {
                continue;  // a send claimed a cell meanwhile
            }
            note_receiving_thread();
            w.park(h, context);
            receivers_waiting_.push_back(&w);
            return false;
        }
    }

    std::optional<T> try_receive(std::error_code& ec) noexcept {
        std::optional<T> value;
        if (popped const p = pop(value); p != popped::empty) {
            if (p == popped::value_and_room_wanted) made_room();
            ec = {};
            return value;
        }
        // Closed is only reported once nothing is queued or being written, and no permit is out.
        bool ended = false;
        if (closed_.load(std::memory_order_acquire)) {
            std::lock_guard<spin_lock> guard(lock_);
            ended = reserved_ == 0 && (tail_.load(std::memory_order_acquire) >> 2) ==
                                          (head_.load(std::memory_order_acquire) >> 1);
        }
        ec = make_error_code(ended ? errc::channel_closed : errc::channel_empty);
        return std::nullopt;
    }

    // Takes up to `max` queued values into `out`; 0 when nothing is queued.
    template <typename Container>
    std::size_t try_receive_many(Container& out, std::size_t max) {
        std::size_t taken = 0;
        bool room_wanted = false;
        std::optional<T> value;
        while (taken < max) {
            popped const p = pop(value);
            if (p == popped::empty) break;
            room_wanted |= p == popped::value_and_room_wanted;
            try {
                out.push_back(std::move(*value));
            } catch (...) {  // the container could not take it: the value is destroyed
                if (room_wanted) made_room();
                throw;
            }
            value.reset();
            ++taken;
        }
        if (room_wanted) made_room();
        return taken;
    }

    // A parked receive was cancelled: true if it was still waiting (now removed). A receive
    // that was already handed a value keeps it: the cancellation came too late to lose it.
    bool cancel(receive_waiter& w) noexcept {
        std::lock_guard<spin_lock> guard(lock_);
        if (!w.linked) return false;
        receivers_waiting_.erase(&w);
        w.cancelled = true;
        update_waiting_flags_locked();
        return true;
    }

private:
    // A cell per cache line (as rigtorp's MPMCQueue does): a receiver reading one cell and a
    // sender writing the next then do not pass a line back and forth. This costs 64 bytes per
    // slot (more for values over 56 bytes), and measured 10-20% on the two-thread benchmarks.
    struct alignas(64) cell {
        std::atomic<std::uint64_t> stamp;
        alignas(T) unsigned char storage[sizeof(T)];
        T* get() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
    };

    static constexpr std::uint64_t receivers_waiting_flag = 1;
    static constexpr std::uint64_t senders_slow = 2;
    static constexpr std::uint64_t tail_flags = receivers_waiting_flag | senders_slow;
    static constexpr std::uint64_t senders_waiting_flag = 1;

    std::uint64_t index_mask() const noexcept { return one_lap_ - 1; }

    // Cross-thread throughput is bounded by cache-line transfers: a send reads its cell's stamp
    // (last written by the receive that freed it) and a receive reads its cell (written by the
    // send), each a transfer from the other core, and the CAS after each read limits how far
    // the CPU runs ahead to the next. So both ends ask for the line of the cell
    // `prefetch_distance` places ahead, for writing, while there is time. Only for cells the
    // other end has (nearly) finished with: a send prefetches a cell whose previous value a
    // receive has claimed (from a cached head position), a receive one that a send has claimed
    // (from a cached tail position). The other end may still be moving that value out or in,
    // but 16 places behind that is rare, and a prefetch is only a hint. When a cached position
    // says no, it is read again once in 16 operations. A receive reads the tail only once in 256
    // if the last reading found the senders too close for prefetching to pay: reading the tail
    // takes the senders' line away from them, and when a receiver keeps the ring almost empty
    // the sender is the slower end (measured: without this, a receiver a little faster than its
    // sender made the pair ~25% slower). The mirror case, a sender reading the head of an almost
    // full ring, measured no difference either way (that sender mostly waits parked). On the
    // two-thread benchmarks this made spsc and mpsc about three times faster; one-thread
    // workloads do not move. See docs/channel.md, "How it works".
    static constexpr std::uint64_t prefetch_distance = 16;
    static constexpr std::uint64_t refresh_soon = 15;  // masks of the position
    static constexpr std::uint64_t refresh_later = 255;

    void prefetch_cell(std::uint64_t stamp) const noexcept {
        std::uint64_t index = (stamp & index_mask()) + prefetch_distance;
        if (index >= capacity_) index -= capacity_;
        if (index >= capacity_) return;  // a channel of fewer cells than the distance
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(&cells_[index], 1, 3);
#endif
    }

    // `here`: the position of `stamp`; `head`: cached_head_ as the caller read it.
    void prefetch_for_producer(std::uint64_t stamp, std::uint64_t here,
                               std::uint64_t head) noexcept {
        if (here + prefetch_distance < head + capacity_) {
            prefetch_cell(stamp);
        } else if ((here & refresh_soon) == 0) {
            cached_head_.store(position(head_.load(std::memory_order_acquire) >> 1),
                               std::memory_order_relaxed);
        }
    }

    void prefetch_for_consumer(std::uint64_t stamp) noexcept {
        std::uint64_t const here = position(stamp);
        if (here + prefetch_distance < cached_tail_.load(std::memory_order_relaxed)) {
            prefetch_cell(stamp);
        } else if ((here & tail_refresh_mask_.load(std::memory_order_relaxed)) == 0) {
            std::uint64_t const tail = position(tail_.load(std::memory_order_relaxed) >> 2);
            cached_tail_.store(tail, std::memory_order_relaxed);
            tail_refresh_mask_.store(
                here + 2 * prefetch_distance < tail ? refresh_soon : refresh_later,
                std::memory_order_relaxed);
        }
    }
    std::uint64_t next_stamp(std::uint64_t stamp) const noexcept {
        std::uint64_t const index = stamp & index_mask();
        return index + 1 < capacity_ ? stamp + 1 : (stamp & ~index_mask()) + one_lap_;
    }
    // Values that passed through this end before `stamp`.
    std::uint64_t position(std::uint64_t stamp) const noexcept {
        return (stamp >> lap_shift_) * capacity_ + (stamp & index_mask());
    }

    void publish(cell& c, std::uint64_t stamp, T& value) noexcept {
        new (c.storage) T(std::move(value));
        c.stamp.store(stamp + 1, std::memory_order_release);
        std::uint64_t const here = position(stamp);
        std::uint64_t const head = cached_head_.load(std::memory_order_relaxed);
        prefetch_for_producer(stamp, here, head);
        note_queue_length(here + 1, head);
    }

    // Keeps the high watermark exact without reading the consumers' cache line on every send:
    // the queue length is at most `end` minus a stale head position (`head`, cached_head_ as
    // publish read it), so the real head is read only when that bound exceeds the watermark.
    void note_queue_length(std::uint64_t end, std::uint64_t head) noexcept {
        std::uint64_t seen = high_watermark_.load(std::memory_order_relaxed);
        if (end <= head || end - head <= seen) return;
        head = position(head_.load(std::memory_order_acquire) >> 1);
        cached_head_.store(head, std::memory_order_relaxed);
        if (end <= head) return;
        std::uint64_t const queued = end - head;
        while (queued > seen &&
               !high_watermark_.compare_exchange_weak(seen, queued, std::memory_order_relaxed)) {
        }
    }

    void set_tail_flag(std::uint64_t flag) noexcept {
        if ((tail_.load(std::memory_order_relaxed) & flag) == 0)
            tail_.fetch_or(flag, std::memory_order_acq_rel);
    }
    void clear_tail_flag(std::uint64_t flag) noexcept {
        if (tail_.load(std::memory_order_relaxed) & flag)
            tail_.fetch_and(~flag, std::memory_order_acq_rel);
    }

    // Free room for new values, given the head word; with senders_slow set (under the lock),
    // nothing else adds values meanwhile.
    std::size_t room_locked(std::uint64_t head) const noexcept {
        std::uint64_t const queued =
            position(tail_.load(std::memory_order_acquire) >> 2) - position(head >> 1);
        std::uint64_t const used = queued + reserved_;
        return used >= capacity_ ? 0 : static_cast<std::size_t>(capacity_ - used);
    }

    bool reserve_locked() noexcept {
        if (room_locked(head_.load(std::memory_order_acquire)) == 0) return false;
        ++reserved_;
        return true;
    }

    // Hands `value` to the first parked receiver, or queues it if there is room (false if
    // there is none). Under the lock; producers on the fast path may still be claiming cells
    // unless senders_slow is set.
    bool deliver_locked(T& value, wake_list& ready) noexcept {
        if (receive_waiter* r = receivers_waiting_.pop_front()) {
            r->value.emplace(std::move(value));
            // Only written under the lock: no read-modify-write needed.
            handed_over_.store(handed_over_.load(std::memory_order_relaxed) + 1,
                               std::memory_order_relaxed);
            ready.push(r);
            return true;
        }
        // receivers_waiting is cleared lazily, here, when a value has to be queued: a receiver
        // that parks again soon (ping-pong) then finds it still set.
        clear_tail_flag(receivers_waiting_flag);
        std::uint64_t word = tail_.load(std::memory_order_acquire);
        backoff wait;
        for (;;) {
            std::uint64_t const stamp = word >> 2;
            if (room_locked(head_.load(std::memory_order_acquire)) == 0) return false;
            cell& c = cells_[stamp & index_mask()];
            std::uint64_t const cell_stamp = c.stamp.load(std::memory_order_acquire);
            if (cell_stamp == stamp) {
                if (tail_.compare_exchange_weak(
                        word, (next_stamp(stamp) << 2) | (word & tail_flags),
                        std::memory_order_acq_rel, std::memory_order_relaxed)) {
                    publish(c, stamp, value);
                    return true;
                }
            } else if (cell_stamp + one_lap_ == stamp + 1) {
                // There is room, but a receive is still moving the value out of this cell.
                wait();
                word = tail_.load(std::memory_order_acquire);
            } else {
                word = tail_.load(std::memory_order_acquire);
            }
        }
    }

    // Free cells, from the positions alone (no lock: permits not counted). A tail read behind
    // the head (the loads are not ordered) reads as no room.
    std::uint64_t approximate_room() const noexcept {
        std::uint64_t const head = position(head_.load(std::memory_order_relaxed) >> 1);
        std::uint64_t const queued = position(tail_.load(std::memory_order_relaxed) >> 2) - head;
        return queued < capacity_ ? capacity_ - queued : 0;
    }

    // Records the receiving thread for wait_for_room (cheap: receives come here only to park or
    // to move parked senders in).
    void note_receiving_thread() noexcept {
        receiving_thread_.store(&local_ready(), std::memory_order_relaxed);
    }

    // Room was made: parked senders move in (or get their reservation) in order while there
    // is room.
    void admit_senders_locked(wake_list& ready) noexcept {
        while (send_waiter* s = senders_waiting_.front()) {
            if (s->value ? !deliver_locked(*s->value, ready) : !reserve_locked()) break;
            senders_waiting_.pop_front();
            ready.push(s);
        }
        update_waiting_flags_locked();
    }

    void update_senders_slow_locked() noexcept {
        if (!closed_.load(std::memory_order_relaxed) && reserved_ == 0 && senders_waiting_.empty())
            clear_tail_flag(senders_slow);
    }

    void update_waiting_flags_locked() noexcept {
        if (senders_waiting_.empty() && (head_.load(std::memory_order_relaxed) & 1))
            head_.fetch_and(~senders_waiting_flag, std::memory_order_acq_rel);
        update_senders_slow_locked();
    }

    void close_locked(wake_list& ready) noexcept {
        closed_.store(true, std::memory_order_release);
        set_tail_flag(senders_slow);
        while (send_waiter* s = senders_waiting_.pop_front()) {
            s->error = send_failure::closed;
            ready.push(s);
        }
        end_receivers_if_done_locked(ready);
        update_waiting_flags_locked();
    }

    // Receivers wait only when nothing is queued: once the channel is closed and no permit can
    // still send, they see the end.
    void end_receivers_if_done_locked(wake_list& ready) noexcept {
        if (!closed_.load(std::memory_order_relaxed) || reserved_ != 0) return;
        while (receive_waiter* r = receivers_waiting_.pop_front()) ready.push(r);
    }

    // pop() for the drain after the last receiver went: waits out sends still writing.
    bool pop_settled(std::optional<T>& out) noexcept {
        backoff wait;
        for (;;) {
            if (pop(out) != popped::empty) return true;
            if ((tail_.load(std::memory_order_acquire) >> 2) ==
                (head_.load(std::memory_order_acquire) >> 1))
                return false;
            wait();
        }
    }

    // Producer side and consumer side on their own cache lines.
    alignas(64) std::atomic<std::uint64_t> tail_{0};
    std::atomic<std::uint64_t> cached_head_{0};     // a recent head position (see publish)
    std::atomic<std::uint64_t> high_watermark_{0};  // the most values ever queued at once
    alignas(64) std::atomic<std::uint64_t> head_{0};
    std::atomic<std::uint64_t> cached_tail_{0};  // a recent tail position (see prefetch_cell)
    std::atomic<std::uint64_t> tail_refresh_mask_{refresh_soon};  // see prefetch_distance
    alignas(64) spin_lock lock_;
    std::size_t const capacity_;
    std::uint64_t const one_lap_;
    unsigned const lap_shift_;
    std::unique_ptr<cell[]> cells_;
    std::size_t reserved_ = 0;  // under lock_
    waiter_list<send_waiter> senders_waiting_;
    waiter_list<receive_waiter> receivers_waiting_;
    bool no_receivers_ = false;
    std::atomic<bool> closed_{false};
    // For wait_for_room: the thread (its ready queue's address) of the last receive that parked
    // or moved parked senders in, and how many more full-channel sends park without spinning.
    std::atomic<void const*> receiving_thread_{nullptr};
    std::atomic<int> sends_without_spin_{0};
    std::atomic<std::size_t> senders_{0};
    std::atomic<std::size_t> receivers_{0};
    std::atomic<std::uint64_t> handed_over_{0};  // values handed straight to parked receivers
};

template <typename T>
struct channel_state_of<T, channel_kind::concurrent> {
    using type = channel_state<T>;
};

// Installs `hook` as the awaiting task's cancellation hook unless it is cancelled already.
// Returns false if it was.
// A task that nobody can cancel (task_context::cancellable) arms no hook and takes no lock; its
// awaiter then records no armed context (see armed_context), so that it does not disarm either.
// (A local channel's own send and receive awaiters arm theirs anyway, without a lock: see
// local_channel.hpp.)
// That is safe only for an awaiter that, once its wait is published, touches neither the context
// nor itself again (the channel, oneshot and arena awaiters). The join awaiter may not skip the
// lock: it sets its hook after publishing its wait, under the lock, and relies on its resumer's
// clear_hook() waiting for that lock to keep the context alive until it is released.
inline bool arm_cancellation(task_context* context, task_context::hook_function hook,
                             void* awaiter) {
    if (!context->cancellable()) return true;
    std::lock_guard<spin_lock> guard(context->slot_lock());
    if (context->cancel_requested()) return false;
    context->set_hook(hook, awaiter);
    return true;
}

// The same for an awaiter of a single-thread object (a local channel or oneshot, whose state
// says serial_hook) when Serial: its task runs on a one-thread executor, where its cancellation
// is emitted too, so the hook needs no lock (see task_context::set_hook).
template <bool Serial>
bool arm_hook(task_context* context, task_context::hook_function hook, void* awaiter) {
    if constexpr (Serial) {
        if (!context->cancellable()) return true;  // (as in arm_cancellation)
        if (context->cancel_requested()) return false;
        context->set_hook(hook, awaiter);
        return true;
    } else {
        return arm_cancellation(context, hook, awaiter);
    }
}
// The context an awaiter that armed through arm_hook/arm_cancellation (or set its hook in a
// hook_scope) must disarm when its wait ends: none for a task that nobody can cancel.
inline task_context* armed_context(task_context* context) noexcept {
    return context->cancellable() ? context : nullptr;
}

// Holds the awaiting task's hook lock for a scope, unless Serial (see arm_hook) or the task
// cannot be cancelled: a hook set and a wait registered under it cannot interleave with a
// cancellation's emission, which holds it.
template <bool Serial>
class hook_scope {
public:
    explicit hook_scope(task_context* context) noexcept
        : lock_(!Serial && context->cancellable() ? &context->slot_lock() : nullptr) {
        if (lock_) lock_->lock();
    }
    hook_scope(const hook_scope&) = delete;
    hook_scope& operator=(const hook_scope&) = delete;
    ~hook_scope() {
        if (lock_) lock_->unlock();
    }

private:
    spin_lock* lock_;
};

// Removes the hook that arm_hook<Serial> installed, once the wait has ended.
template <bool Serial>
void disarm_hook(task_context* context) noexcept {
    if constexpr (Serial)
        context->clear_hook_serial();
    else
        clear_cancellation_hook(context);
}

// The protocol every channel awaiter follows. await_ready tries the operation on the lock-free
// fast path (Derived::try_now); only if that cannot complete it, await_suspend lets a send on
// a full channel wait a little for room first (Derived::complete_before_parking, optional: see
// channel_state::wait_for_room), installs the awaiting task's cancellation hook (or finds the
// task cancelled already), and calls
// Derived::start, which retries under the channel lock and parks only if it must. A parked
// task suspends by transferring to the task this thread's ready slot holds, if any. On
// resumption the hook is removed. A waiter whose frame is destroyed while parked (executor
// shutdown) leaves the queue.
//
// Derived provides `bool try_now() noexcept`, `bool start(std::coroutine_handle<>,
// task_context*) noexcept` (true: parked) and `void cancelled_early()`, may provide `bool
// complete_before_parking(task_context&) noexcept` (true: done without parking), and calls
// finish() first thing in await_resume.
//
// The awaiter refers to the channel through the handle that created it (as tokio's futures
// borrow theirs): the handle must outlive the co_await, which it does when the operation is
// awaited in the expression that creates it, `co_await tx.send(v)`.
template <typename Derived, typename State, typename Waiter>
class channel_awaiter {
public:
    channel_awaiter(const channel_awaiter&) = delete;
    channel_awaiter& operator=(const channel_awaiter&) = delete;
    // `parked_` is set before publishing and cleared on resumption, so it is only true here
    // when the frame is destroyed while parked, or after the wait completed but before the task
    // ran again (its resumption was dropped: executor shutdown). Then a still queued waiter
    // leaves the queue, and a reservation granted meanwhile gives its slot back (nobody will
    // make a permit of it). A value handed to such a receive goes with its frame, as a
    // shutdown drops queued handlers.
    ~channel_awaiter() {
        if (parked_) [[unlikely]]
            leave_while_parked();
    }

    bool await_ready() { return static_cast<Derived*>(this)->try_now(); }

    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> caller) {
        static_assert(context_promise<Promise>,
                      "channel operations can only be awaited inside asyncpat coroutines");
        task_context* context = caller.promise().context();
        // The tree's unit of work, for while it may be parked: may throw (out of memory making
        // a work-tracking executor), before anything is armed or parked.
        context->hold_work();
        waiter();  // before the hook, which may use it
        if constexpr (requires(Derived& d) { d.complete_before_parking(*context); }) {
            if (static_cast<Derived*>(this)->complete_before_parking(*context))
                return transfer_to(caller);
        }
        if (!arm_hook<State::serial_hook>(context, &on_cancel, this)) {
            static_cast<Derived*>(this)->cancelled_early();
            return transfer_to(caller);
        }
        armed_ = armed_context(context);
        parked_ = true;
        // Once parked, another thread may resume this coroutine: touch nothing after true.
        if (static_cast<Derived*>(this)->start(caller, context)) return next_ready();
        parked_ = false;
        return transfer_to(caller);
    }

protected:
    explicit channel_awaiter(State* state) noexcept : state_(state) {}

    void finish() noexcept {
        parked_ = false;
        if (armed_) disarm_hook<State::serial_hook>(armed_);
    }

    // The parking record, made only by an operation that did not complete at once: the fast
    // path neither initialises nor destroys it. Empty in await_resume means the fast path ran.
    Waiter& waiter() noexcept {
        if (!waiter_) waiter_.emplace();
        return *waiter_;
    }

    State* state_;
    std::optional<Waiter> waiter_;

private:
    [[gnu::cold, gnu::noinline]] void leave_while_parked() noexcept {
        if (state_->leave(*waiter_)) return;
        if constexpr (std::is_same_v<Waiter, typename State::send_waiter>) {
            if (waiter_->value == nullptr && waiter_->error == send_failure::none)
                state_->release_reserved();
        }
    }

    static void on_cancel(void* self, asio::cancellation_type) {
        auto* a = static_cast<channel_awaiter*>(self);
        if (a->state_->cancel(*a->waiter_)) a->waiter_->wake();
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
template <typename T, typename Kind>
class [[nodiscard]] permit {
    using state_type = typename detail::channel_state_of<T, Kind>::type;

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
        if (!state_) detail::throw_empty_handle("asyncpat: send on an empty permit");
        state_->check_thread();
        auto state = std::move(state_);
        state->send_reserved(value);
    }

    /// @cond internal
    explicit permit(std::shared_ptr<state_type> state) noexcept : state_(std::move(state)) {}
    /// @endcond

private:
    void reset() noexcept {
        if (auto state = std::move(state_)) state->release_reserved();
    }

    std::shared_ptr<state_type> state_;
};

/// The sending side of a channel. Copying a sender adds a sender; the channel closes when the
/// last sender is destroyed (or `close()` is called).
///
/// @par Thread safety
/// Distinct senders (and receivers) of one channel may be used from any threads at once. One
/// sender object is used by one thread at a time.
template <typename T, typename Kind>
class sender {
    using state_type = typename detail::channel_state_of<T, Kind>::type;

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

    class generic_send_awaiter;
    /// What `send()` returns: an awaitable whose `co_await` completes the send.
    using send_awaiter = typename detail::send_awaiter_of<T, Kind, generic_send_awaiter>::type;
    class reserve_awaiter;

    /// Sends `value`, waiting for room while the channel is full (backpressure).
    /// Throws `send_error<T>` (with the value) if the channel is or becomes closed
    /// (`errc::channel_closed`), or if the send is cancelled (`operation_aborted`).
    /// @par Cancellation
    /// Cancel-safe: a cancelled send has not enqueued its value; the value is handed back in the
    /// `send_error`. A send that completed before the cancellation arrived stays sent.
    [[nodiscard]] send_awaiter send(T value) {
        return send_awaiter{checked().get(), std::move(value)};
    }

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
    /// The operation runs as a task on the handler's associated executor. With
    /// `asio::use_awaitable`, a send that finds room (or a parked receiver) completes inside the
    /// returned `asio::awaitable` without initiating an operation (no post, no handler).
    template <typename CompletionToken>
    auto async_send(T value, CompletionToken&& token) {
        if constexpr (detail::is_use_awaitable<CompletionToken>) {
            using executor =
                typename detail::use_awaitable_token<std::decay_t<CompletionToken>>::executor_type;
            return send_awaitable<executor>(checked(), std::move(value));
        } else {
            return asio::async_initiate<CompletionToken, void(std::exception_ptr)>(
                initiate_send{checked()}, token, std::move(value));
        }
    }

    /// Sends `value` if there is room now. Moves from `value` only on success; otherwise returns
    /// `errc::channel_full` or `errc::channel_closed` and leaves `value` as it was.
    std::error_code try_send(T&& value) {
        using try_result = typename state_type::try_result;
        switch (checked()->try_send(value)) {
            case try_result::sent: break;
            case try_result::closed: return make_error_code(errc::channel_closed);
            case try_result::full: return make_error_code(errc::channel_full);
        }
        return detail::no_error();
    }

    /// Reserves room if there is some now; an empty permit otherwise, with `ec` set to
    /// `errc::channel_full` or `errc::channel_closed`.
    permit<T, Kind> try_reserve(std::error_code& ec) {
        ec = checked()->try_reserve();
        return ec ? permit<T, Kind>{} : permit<T, Kind>{state_};
    }

    /// Closes the channel: pending and later sends fail; receivers drain what is queued, then
    /// see the end. Idempotent.
    void close() { checked()->close(); }

    bool is_closed() const { return checked()->is_closed(); }
    std::size_t size() const { return checked()->size(); }
    std::size_t capacity() const { return checked()->capacity(); }

    /// @cond internal
    explicit sender(std::shared_ptr<state_type> state) noexcept : state_(std::move(state)) {
        state_->add_sender();
    }
    /// @endcond

private:
    const std::shared_ptr<state_type>& checked() const {
        if (!state_) [[unlikely]]
            detail::throw_empty_handle("asyncpat: use of an empty sender");
        state_->check_thread();
        return state_;
    }

    // Runs on the completion handler's executor: a local channel checks that it is its thread
    // (a callback's default executor is the system pool's), as every handle operation does.
    static task<void> send_task(std::shared_ptr<state_type> state, T value) {
        state->check_thread();
        co_await send_awaiter{state.get(), std::move(value)};
    }

    struct initiate_send {
        std::shared_ptr<state_type> state;
        template <typename Handler>
        void operator()(Handler&& handler, T value) const {
            any_executor ex = asio::get_associated_executor(handler, asio::system_executor());
            async_run(ex, send_task(state, std::move(value)), std::forward<Handler>(handler));
        }
    };

#if defined(ASIO_HAS_CO_AWAIT)
    template <typename Executor>
    static asio::awaitable<void, Executor> send_awaitable(std::shared_ptr<state_type> state,
                                                          T value) {
        using try_result = typename state_type::try_result;
        asio::use_awaitable_t<Executor> token;
#if ASYNCPAT_WORKAROUND_GCC_AWAITABLE_PARAMETER  // see config.hpp
        try_result const result = state->try_send(value);
        if (result == try_result::sent) co_return;
        if (result == try_result::closed)
            throw send_error<T>(make_error_code(errc::channel_closed), std::move(value));
        initiate_send initiation{state};
#else
        switch (state->try_send(value)) {
            case try_result::sent: co_return;
            case try_result::closed:
                throw send_error<T>(make_error_code(errc::channel_closed), std::move(value));
            case try_result::full: break;
        }
        initiate_send initiation{std::move(state)};
#endif
        co_await asio::async_initiate<decltype(token), void(std::exception_ptr)>(
            std::move(initiation), token, std::move(value));
    }
#endif

    std::shared_ptr<state_type> state_;
};

template <typename T, typename Kind>
class sender<T, Kind>::generic_send_awaiter
    : public detail::channel_awaiter<generic_send_awaiter, typename sender<T, Kind>::state_type,
                                     typename state_type::send_waiter> {
public:
    generic_send_awaiter(state_type* state, T value)
        : generic_send_awaiter::channel_awaiter(state), value_(std::move(value)) {}

    void await_resume() {
        this->finish();
        if (this->waiter_ && this->waiter_->error != detail::send_failure::none) [[unlikely]]
            fail();
    }

private:
    [[noreturn, gnu::cold, gnu::noinline]] void fail() {
        throw send_error<T>(make_error_code(this->waiter_->error), std::move(value_));
    }

    friend class generic_send_awaiter::channel_awaiter;
    // Sends at once if there is room or a parked receiver (no cancellation hook needed then),
    // or fails at once if the channel is closed.
    bool try_now() noexcept {
        using try_result = typename state_type::try_result;
        switch (this->state_->try_send(value_)) {
            case try_result::sent: return true;
            case try_result::closed:
                this->waiter().error = detail::send_failure::closed;
                return true;
            case try_result::full: break;
        }
        return false;
    }
    // The channel is full: if its receiver runs on another thread, waits a little for room and
    // tries once more (see wait_for_room).
    bool complete_before_parking(detail::task_context& context) noexcept {
        if constexpr (requires { this->state_->wait_for_room(context); }) {
            return this->state_->wait_for_room(context) && try_now();
        } else {
            return false;
        }
    }
    bool start(std::coroutine_handle<> caller, detail::task_context* context) noexcept {
        this->waiter_->value = &value_;
        return !this->state_->send_or_park(*this->waiter_, caller, context);
    }
    void cancelled_early() noexcept { this->waiter_->error = detail::send_failure::cancelled; }

    T value_;
};

template <typename T, typename Kind>
class sender<T, Kind>::reserve_awaiter
    : public detail::channel_awaiter<reserve_awaiter, typename sender<T, Kind>::state_type,
                                     typename state_type::send_waiter> {
public:
    explicit reserve_awaiter(std::shared_ptr<state_type> state)
        : reserve_awaiter::channel_awaiter(state.get()), owner_(std::move(state)) {}

    permit<T, Kind> await_resume() {
        this->finish();
        if (this->waiter_->error != detail::send_failure::none)  // (reserve always waits)
            detail::throw_send_failure(this->waiter_->error);
        return permit<T, Kind>{std::move(owner_)};
    }

private:
    friend class reserve_awaiter::channel_awaiter;
    bool try_now() noexcept { return false; }  // (reserving takes the lock: start() does)
    // If the channel is full and its receiver runs on another thread, waits a little for room
    // before start() reserves or parks (see wait_for_room).
    bool complete_before_parking(detail::task_context& context) noexcept {
        if constexpr (requires { this->state_->wait_for_room(context); })
            (void)this->state_->wait_for_room(context);
        return false;
    }
    bool start(std::coroutine_handle<> caller, detail::task_context* context) noexcept {
        return !this->state_->send_or_park(*this->waiter_, caller, context);
    }
    void cancelled_early() noexcept { this->waiter_->error = detail::send_failure::cancelled; }

    std::shared_ptr<state_type> owner_;  // for the permit
};

/// The receiving side of a channel. Copying a receiver adds a receiver (MPMC: each value goes
/// to one receiver). When the last receiver is destroyed, queued values are destroyed and every
/// pending and later send fails with its value handed back.
///
/// @par Thread safety
/// As for `sender`.
template <typename T, typename Kind>
class receiver {
    using state_type = typename detail::channel_state_of<T, Kind>::type;

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

    class generic_receive_awaiter;
    /// What `receive()` returns: an awaitable whose `co_await` yields the value (or the end).
    using receive_awaiter =
        typename detail::receive_awaiter_of<T, Kind, generic_receive_awaiter>::type;
    template <typename Container>
    class receive_many_awaiter;

    /// The item type: a receiver is an `async_stream` of `T` (stream/async_stream.hpp).
    using value_type = T;

    /// Receives the oldest value, waiting while the channel is empty; `std::nullopt` once the
    /// channel is closed and drained.
    /// @par Cancellation
    /// Cancel-safe: a cancelled receive has taken no value (`operation_aborted` is thrown). A
    /// receive that was handed a value before the cancellation arrived returns the value.
    [[nodiscard]] receive_awaiter receive() { return receive_awaiter{checked().get()}; }

    /// The same as `receive()`: the `async_stream` operation. The end of the channel (closed
    /// and drained) is the end of the stream, and it stays there.
    [[nodiscard]] receive_awaiter next() { return receive(); }

    /// Receives what is queued, up to `max` values, into `out` (with `push_back`), waiting while
    /// the channel is empty; returns how many were taken, 0 once the channel is closed and
    /// drained. Cancellation as for `receive`.
    template <typename Container>
    [[nodiscard]] receive_many_awaiter<Container> receive_many(Container& out, std::size_t max) {
        return receive_many_awaiter<Container>{checked().get(), out, max};
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
    ///
    /// With `asio::use_awaitable`, a receive that finds a value (or the end) completes inside
    /// the returned `asio::awaitable` without initiating an operation.
    template <typename CompletionToken>
    auto async_receive(CompletionToken&& token) {
        if constexpr (detail::is_use_awaitable<CompletionToken>) {
            using executor =
                typename detail::use_awaitable_token<std::decay_t<CompletionToken>>::executor_type;
            return receive_awaitable<executor>(checked());
        } else {
            return asio::async_initiate<CompletionToken,
                                        void(std::exception_ptr, std::optional<T>)>(
                initiate_receive{checked()}, token);
        }
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
    explicit receiver(std::shared_ptr<state_type> state) noexcept : state_(std::move(state)) {
        state_->add_receiver();
    }
    /// @endcond

private:
    const std::shared_ptr<state_type>& checked() const {
        if (!state_) [[unlikely]]
            detail::throw_empty_handle("asyncpat: use of an empty receiver");
        state_->check_thread();
        return state_;
    }

    // Runs on the completion handler's executor (see sender::send_task).
    static task<std::optional<T>> receive_task(std::shared_ptr<state_type> state) {
        state->check_thread();
        co_return co_await receive_awaiter{state.get()};
    }

    struct initiate_receive {
        std::shared_ptr<state_type> state;
        template <typename Handler>
        void operator()(Handler&& handler) const {
            any_executor ex = asio::get_associated_executor(handler, asio::system_executor());
            async_run(ex, receive_task(state), std::forward<Handler>(handler));
        }
    };

#if defined(ASIO_HAS_CO_AWAIT)
    template <typename Executor>
    static asio::awaitable<std::optional<T>, Executor> receive_awaitable(
        std::shared_ptr<state_type> state) {
        std::error_code ec;
        if (std::optional<T> value = state->try_receive(ec)) co_return value;
        if (ec == errc::channel_closed) co_return std::nullopt;
        asio::use_awaitable_t<Executor> token;
#if ASYNCPAT_WORKAROUND_GCC_AWAITABLE_PARAMETER  // see config.hpp
        initiate_receive initiation{state};
#else
        initiate_receive initiation{std::move(state)};
#endif
        co_return co_await asio::async_initiate<decltype(token),
                                                void(std::exception_ptr, std::optional<T>)>(
            std::move(initiation), token);
    }
#endif

    std::shared_ptr<state_type> state_;
};

template <typename T, typename Kind>
class receiver<T, Kind>::generic_receive_awaiter
    : public detail::channel_awaiter<generic_receive_awaiter,
                                     typename receiver<T, Kind>::state_type,
                                     typename state_type::receive_waiter> {
public:
    explicit generic_receive_awaiter(state_type* state) noexcept
        : generic_receive_awaiter::channel_awaiter(state) {}

    std::optional<T> await_resume() {
        this->finish();
        if (!this->waiter_) return std::move(value_);  // taken at once
        if (this->waiter_->value) return std::move(this->waiter_->value);
        if (this->waiter_->cancelled) detail::throw_operation_aborted();
        return std::nullopt;
    }

private:
    friend class generic_receive_awaiter::channel_awaiter;
    bool try_now() noexcept {
        using popped = typename state_type::popped;
        popped const p = this->state_->pop(value_);
        if (p == popped::value_and_room_wanted) this->state_->made_room();
        return p != popped::empty;
    }
    bool start(std::coroutine_handle<> caller, detail::task_context* context) noexcept {
        return !this->state_->receive_or_park(*this->waiter_, caller, context);
    }
    void cancelled_early() noexcept { this->waiter_->cancelled = true; }

    std::optional<T> value_;  // what the fast path took
};

template <typename T, typename Kind>
template <typename Container>
class receiver<T, Kind>::receive_many_awaiter
    : public detail::channel_awaiter<receive_many_awaiter<Container>,
                                     typename receiver<T, Kind>::state_type,
                                     typename state_type::receive_waiter> {
public:
    receive_many_awaiter(state_type* state, Container& out, std::size_t max)
        : receive_many_awaiter::channel_awaiter(state), out_(&out), max_(max) {}

    std::size_t await_resume() {
        this->finish();
        if (!this->waiter_) return taken_;  // taken at once
        if (this->waiter_->value) {
            // Woken with one value handed over; take what else is queued now.
            out_->push_back(std::move(*this->waiter_->value));
            return 1 + this->state_->try_receive_many(*out_, max_ - 1);
        }
        if (this->waiter_->cancelled) detail::throw_operation_aborted();
        return taken_;
    }

private:
    friend class receive_many_awaiter::channel_awaiter;
    bool try_now() {
        if (max_ == 0) return true;
        taken_ = this->state_->try_receive_many(*out_, max_);
        return taken_ != 0;
    }
    bool start(std::coroutine_handle<> caller, detail::task_context* context) noexcept {
        return !this->state_->receive_or_park(*this->waiter_, caller, context);
    }
    void cancelled_early() noexcept { this->waiter_->cancelled = true; }

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
