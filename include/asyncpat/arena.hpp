// asyncpat: message_arena, fixed slots for messages, with generation-checked refcounted handles.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_ARENA_HPP
#define ASYNCPAT_ARENA_HPP

#include <asyncpat/bytes.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/error.hpp>
#include <asyncpat/task.hpp>

#include <asyncpat/detail/single_threaded.hpp>
#include <asyncpat/detail/task_context.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace asyncpat {

class message_arena;
class message_ref;
class weak_message_ref;

namespace detail {

class arena_state;

// One slot: a window of the arena's memory, and the storage that `bytes` views and message_refs
// count (one reference count for both). When the count reaches zero the slot goes back to the
// free stack, and its generation moves on.
//
// generation: odd while the slot holds a message, even while it is free (slotmap's rule). It is
// 64 bits wide, so it cannot wrap in practice (2^63 reuses of one slot). It is written with
// release order after the message, and a weak ref's upgrade reads it with acquire order before
// and after taking a reference: an upgrade that sees its own generation twice around a successful
// reference increment holds the message it was made for.
class arena_slot final : public bytes_storage {
public:
    arena_slot() noexcept : bytes_storage(&on_last_release, nullptr, 0) { mark_revivable(); }

    void place(arena_state* arena, std::uint32_t index, std::byte* memory,
               std::size_t capacity) noexcept {
        arena_ = arena;
        index_ = index;
        set_buffer(memory, capacity);
    }

    std::uint32_t index() const noexcept { return index_; }
    arena_state* arena() const noexcept { return arena_; }
    std::uint64_t generation() const noexcept {
        return generation_.load(std::memory_order_acquire);
    }
    std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

    // Fills a free slot (owned by the caller) and publishes it: one reference, odd generation.
    void fill(std::span<const std::byte> data) noexcept {
        if (!data.empty()) std::memcpy(buffer(), data.data(), data.size());
        size_.store(data.size(), std::memory_order_relaxed);  // (atomic: live_bytes reads it)
        reset_refs();
        generation_.store(generation_.load(std::memory_order_relaxed) + 1,  // odd
                          std::memory_order_release);
    }

    // Called once the last reference went: the slot is free (even generation).
    void end_generation() noexcept {
        generation_.store(generation_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_release);
    }

    // The free stack's link: the index + 1 of the slot below this one (0: none). Atomic because
    // a pop may read it from a slot that another thread has just popped (that pop then fails).
    std::uint32_t next_free() const noexcept { return next_free_.load(std::memory_order_relaxed); }
    void set_next_free(std::uint32_t next) noexcept {
        next_free_.store(next, std::memory_order_relaxed);
    }

private:
    static void on_last_release(bytes_storage* storage) noexcept;

    arena_state* arena_ = nullptr;
    std::uint32_t index_ = 0;
    std::atomic<std::uint32_t> next_free_{0};
    std::atomic<std::size_t> size_{0};
    std::atomic<std::uint64_t> generation_{0};
};

// A list of free slots linked through their next_free links (index + 1; 0 ends it), with its
// last slot, so that two lists splice in constant time. Not synchronized: used under a lock or
// locally.
struct slot_list {
    std::uint32_t first = 0;
    std::uint32_t last = 0;

    bool empty() const noexcept { return first == 0; }
    void push(std::uint32_t index, arena_slot* slots) noexcept {
        slots[index].set_next_free(first);
        if (first == 0) last = index + 1u;
        first = index + 1u;
    }
    void splice(slot_list& other, arena_slot* slots) noexcept {
        if (other.empty()) return;
        slots[other.last - 1].set_next_free(first);
        if (first == 0) last = other.last;
        first = other.first;
        other = slot_list();
    }
};

// A waiting alloc, parked in the arena's list until a released slot is handed to it: a channel
// receive waiter whose value is the slot's index.
struct arena_waiter : channel_receive_waiter<std::uint32_t> {
    bool closed = false;  // the arena object went
};

// The shared state: slot memory and metadata, allocated once; the free slots; the allocs that
// wait; the counters.
//
// The free slots form a lock-free LIFO stack (Treiber's) linked through the slots, with the
// whole head in one 64-bit word:
//   bits 0-31   the top slot's index + 1 (0: empty)
//   bit 32      waiters: allocs are parked in `waiters_`. Set (under lock_) only by a CAS that
//               finds the stack empty, cleared (under lock_) when the list empties; while it
//               is set no push succeeds, so a releasing thread hands its slot to the first
//               waiter instead (under lock_). Setting the bit and seeing the stack empty are one
//               atomic step, and so are pushing and seeing the bit: no wake-up is lost.
//   bit 33      closed: the arena object is gone. No push or pop succeeds after that.
//   bit 34      readers: read sections are open (see below). While it is set no push succeeds
//               and no slot is handed to a waiter: a released slot is deferred instead.
//   bits 35-63  a tag that every push and pop advances, so that a pop that read the top and the
//   slot
//               below it fails if the stack changed in between (ABA). A pop preempted between
//               its two reads for exactly 2^29 changes (seconds of saturated traffic) could
//               still be fooled; slotmap accepts a similar bound for its versions.
// Allocation pops (one CAS), the last release of a message pushes (one CAS): the steady state
// costs those two and the slot's reference count, and no lock.
//
// Lifetime: `owners_` counts the arena object and each alloc task; when the arena object goes,
// every slot that is not free at that moment becomes an owner too, and retires (instead of
// being pushed) when its last reference goes. The state is freed when the count reaches zero.
// So messages outlive the arena object, and while the arena lives a message costs the state no
// atomic operation.
//
// The high watermark is exact for free: a stack pushes freed slots on top of the never used
// ones (which start in index order), so a never used slot k is popped only while slots 0..k-1
// are all taken (holding a message, or deferred for a read section). The most slots taken at
// once is therefore the highest index ever popped, plus one.
//
// Read sections (arena_read_section) read messages through weak refs with no atomic operation
// per read: a slot released while a section that may have read its message is open is not
// reused until that section closes, so a message whose generation a section saw stays intact
// until it closes.
//
// The first section to open (when none is) sets the readers bit in the head word, under
// readers_lock_, and the last to close clears it. A release decides between reuse and deferral
// by an atomic read-modify-write of the head word (the push's CAS, or touch_head before a
// hand-off to a waiter): if it saw the bit clear, a section that opens later sets the bit after
// it in the word's modification order, so it synchronizes with the release, sees the slot's
// even generation, and its get fails. If it saw the bit set, the slot is deferred.
//
// Deferred slots wait by phase, so that sections that keep overlapping cannot hold them back
// forever (as one count of open sections would: it might never reach zero). `sections_` holds a
// phase bit and one count of open sections per phase; a section opens in the current phase (one
// CAS of the word, so the count it raises is the current phase's) and closes in that one. A slot
// deferred in phase p (under readers_lock_, after a read-modify-write of `sections_`) goes to
// deferred_[p]. The phase flips to !p once no section of !p is open and nothing deferred waits in
// !p; after the flip new sections count in !p, and the slots of deferred_[p] are returned as soon
// as the count of p reaches zero: every section that could have seen their messages was then
// open in p, or in !p before the previous flip, and has closed. Flips and returns happen under
// readers_lock_, by a release that defers or by a section whose phase count reaches zero.
class arena_state {
public:
    arena_state(std::size_t slots, std::size_t max_bytes)
        : id_(next_id()),
          slot_count_(slots),
          max_bytes_(max_bytes),
          memory_(new std::byte[slots * max_bytes]),
          slots_(new arena_slot[slots]) {
        for (std::size_t i = 0; i < slots; ++i) {
            slots_[i].place(this, static_cast<std::uint32_t>(i), memory_.get() + i * max_bytes,
                            max_bytes);
            // Slot i lies on slot i + 1 (link i + 2); the last one on nothing.
            slots_[i].set_next_free(i + 1 < slots ? static_cast<std::uint32_t>(i + 2) : 0);
        }
        head_.store(1, std::memory_order_release);  // slot 0 on top
    }
    arena_state(const arena_state&) = delete;
    arena_state& operator=(const arena_state&) = delete;

    void add_owner() noexcept { owners_.fetch_add(1, std::memory_order_relaxed); }
    void drop_owner() noexcept { drop_owners(1); }

    // Tells this arena's weak refs from another's: ids count arenas created in the process, so
    // they repeat only after 2^32 arenas.
    std::uint32_t id() const noexcept { return id_; }
    std::size_t slot_count() const noexcept { return slot_count_; }
    std::size_t max_bytes() const noexcept { return max_bytes_; }
    arena_slot& slot(std::uint32_t index) noexcept { return slots_[index]; }

    void check_size(std::size_t size) const {
        if (size > max_bytes_) [[unlikely]]
            throw_too_large(size, max_bytes_);
    }
    [[noreturn, gnu::cold, gnu::noinline]] static void throw_too_large(std::size_t size,
                                                                       std::size_t max) {
        throw std::length_error("asyncpat::message_arena: a message of " + std::to_string(size) +
                                " bytes exceeds the slot size of " + std::to_string(max));
    }
    [[noreturn, gnu::cold, gnu::noinline]] static void throw_closed() {
        throw std::system_error(make_error_code(errc::channel_closed),
                                "asyncpat::message_arena: the arena was destroyed");
    }

    // A free slot filled with `data`, or none (no free slot; allocs may be waiting for one).
    arena_slot* try_take(std::span<const std::byte> data) {
        check_size(data.size());
        std::optional<std::uint32_t> index = try_pop();
        if (!index) [[unlikely]] {
            failures_.fetch_add(1, std::memory_order_relaxed);
            return nullptr;
        }
        return &occupy(*index, data);
    }

    arena_slot& occupy(std::uint32_t index, std::span<const std::byte> data) noexcept {
        arena_slot& s = slots_[index];
        s.fill(data);
        std::uint32_t const used = index + 1;
        std::uint32_t seen = used_.load(std::memory_order_relaxed);
        while (used > seen && !used_.compare_exchange_weak(seen, used, std::memory_order_relaxed)) {
        }
        return s;
    }

    std::optional<std::uint32_t> try_pop() noexcept {
        std::uint64_t h = head_.load(std::memory_order_acquire);
        for (;;) {
            std::uint64_t const top = h & top_mask;
            if (top == 0 || (h & closed_bit) != 0) return std::nullopt;
            auto const index = static_cast<std::uint32_t>(top - 1);
            std::uint64_t const next = slots_[index].next_free();  // the CAS validates it
            if (detail::compare_exchange_weak(head_, h, ((h & ~top_mask) + tag_one) | next,
                                              std::memory_order_acquire, std::memory_order_acquire))
                return index;
        }
    }

    // The last reference to an occupied slot went: it becomes free (even generation).
    void give_back(arena_slot& s) noexcept {
        s.end_generation();
        return_slot(s.index());
    }

    // ---- read sections

    // Opens a section; returns its phase (0 or 1), to close it with.
    unsigned open_read_section() noexcept {
        std::uint64_t w = sections_.load(std::memory_order_relaxed);
        while ((w & all_sections) != 0) {
            unsigned const phase = phase_of(w);
            if (sections_.compare_exchange_weak(w, w + one_section(phase),
                                                std::memory_order_acquire,
                                                std::memory_order_relaxed))
                return phase;
        }
        std::lock_guard<spin_lock> guard(readers_lock_);  // none open: the bit may be clear
        w = sections_.load(std::memory_order_relaxed);
        unsigned const phase = phase_of(w);  // (it changes only under readers_lock_)
        if ((w & all_sections) == 0) {
            if (!sections_own_state_) {  // (the last to close may not have locked yet)
                sections_own_state_ = true;
                add_owner();  // the open sections keep the memory alive, together
            }
            head_.fetch_or(readers_bit, std::memory_order_seq_cst);
        }
        sections_.fetch_add(one_section(phase), std::memory_order_acq_rel);
        return phase;
    }

    void close_read_section(unsigned phase) noexcept {
        // Only a decrement that leaves others open in this phase goes without the lock: one that
        // would take the phase's count to zero is done under it, so the state (which the open
        // sections keep alive) cannot be freed by another closer before this one has locked.
        std::uint64_t w = sections_.load(std::memory_order_relaxed);
        while (count_of(w, phase) > 1)
            if (sections_.compare_exchange_weak(w, w - one_section(phase),
                                                std::memory_order_acq_rel,
                                                std::memory_order_relaxed))
                return;
        slot_list ready;
        bool last = false;
        {
            std::lock_guard<spin_lock> guard(readers_lock_);
            sections_.fetch_sub(one_section(phase), std::memory_order_acq_rel);
            if ((sections_.load(std::memory_order_acquire) & all_sections) == 0) {
                // None open, and none opens without readers_lock_: everything deferred is free.
                // (Several closers may find none open; the first one ends the sections' hold.)
                last = std::exchange(sections_own_state_, false);
                head_.fetch_and(~readers_bit, std::memory_order_seq_cst);
                ready.splice(deferred_[0], slots_.get());
                ready.splice(deferred_[1], slots_.get());
            } else {
                advance_locked(ready);
            }
        }
        return_list(ready);
        if (last) drop_owner();
    }

    std::optional<std::span<const std::byte>> read(std::uint32_t arena, std::uint32_t index,
                                                   std::uint64_t generation) const noexcept {
        // (Messages have odd generations: an even one would match a free slot.)
        if (arena != id_ || index >= slot_count_ || (generation & 1) == 0) return std::nullopt;
        arena_slot const& s = slots_[index];
        if (s.generation() != generation) return std::nullopt;
        return std::span<const std::byte>(s.buffer(), s.size());
    }

    // ---- waiting allocs (the slow path; the caller owns the state meanwhile)

    // Parks `w` (its tree holding its unit of work already) unless a slot is free after all (taken
    // into w.value), the task is cancelled (w.cancelled), or the arena is closed (w.closed). True:
    // parked, and it will be woken exactly once, by whoever unlinks it.
    bool take_or_park(arena_waiter& w, task_context* context) noexcept {
        std::lock_guard<spin_lock> guard(lock_);
        if (closed_) {
            w.closed = true;
            return false;
        }
        std::uint64_t word = head_.load(std::memory_order_acquire);
        for (;;) {
            if ((word & top_mask) != 0) {
                if (std::optional<std::uint32_t> index = try_pop()) {
                    w.value = index;
                    return false;
                }
                word = head_.load(std::memory_order_acquire);
            } else if (context->cancel_requested()) {
                w.cancelled = true;  // (checked under lock_, which the hook takes too)
                return false;
            } else if ((word & waiters_bit) != 0 ||
                       head_.compare_exchange_weak(word, (word + tag_one) | waiters_bit,
                                                   std::memory_order_acq_rel,
                                                   std::memory_order_acquire)) {
                break;
            }
        }
        waiters_.push_back(&w);
        return true;
    }

    // A parked alloc's task is cancelled: true if it was still parked (then the caller wakes
    // it); false if a slot was handed to it first.
    bool cancel_wait(arena_waiter& w) noexcept {
        std::lock_guard<spin_lock> guard(lock_);
        if (!w.linked) return false;
        unlink_locked(w);
        w.cancelled = true;
        return true;
    }

    // A parked alloc's frame is destroyed without resuming (executor shutdown): it leaves the
    // list, and a slot handed to it meanwhile goes back.
    void abandon_wait(arena_waiter& w) noexcept {
        {
            std::lock_guard<spin_lock> guard(lock_);
            if (w.linked) {
                unlink_locked(w);
                return;
            }
        }
        if (w.value) return_slot(*w.value);
    }

    // ---- the arena object goes

    // Every slot that is not free now becomes an owner, until its last reference goes; waiting
    // allocs end with an error.
    void close() noexcept {
        owners_.fetch_add(slot_count_, std::memory_order_relaxed);
        std::size_t retired = 0;
        {
            wake_list closed_waiters;  // woken after unlocking
            std::lock_guard<spin_lock> guard(lock_);
            closed_ = true;
            std::uint64_t const h = head_.exchange(closed_bit, std::memory_order_acq_rel);
            for (std::uint64_t link = h & top_mask; link != 0; link = slots_[link - 1].next_free())
                ++retired;
            while (arena_waiter* w = waiters_.pop_front()) {
                w->closed = true;
                closed_waiters.push(w);
            }
        }
        drop_owners(retired + 1);  // the free slots and the arena object
    }

    // ---- counters

    // Snapshots, by a scan of the slots: the allocation path pays nothing for them.
    std::size_t live() const noexcept {
        std::size_t n = 0;
        for (std::size_t i = 0; i < slot_count_; ++i) n += slots_[i].generation() & 1;
        return n;
    }
    std::size_t live_bytes() const noexcept {
        std::size_t total = 0;
        for (std::size_t i = 0; i < slot_count_; ++i)
            if (slots_[i].generation() & 1) total += slots_[i].size();
        return total;
    }
    std::size_t high_watermark() const noexcept { return used_.load(std::memory_order_relaxed); }
    std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

private:
    static constexpr std::uint64_t top_mask = 0xFFFF'FFFFu;
    static constexpr std::uint64_t waiters_bit = std::uint64_t{1} << 32;
    static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 33;
    static constexpr std::uint64_t readers_bit = std::uint64_t{1} << 34;
    static constexpr std::uint64_t tag_one = std::uint64_t{1} << 35;

    // sections_: bits 0-30 the sections open in phase 0, bits 32-62 those in phase 1, bit 63 the
    // current phase. (2^31 sections open at once would overflow a count: 32 GiB of sections.)
    static constexpr std::uint64_t phase_bit = std::uint64_t{1} << 63;
    static constexpr std::uint64_t all_sections = 0x7FFF'FFFF'7FFF'FFFFu;
    static constexpr unsigned phase_of(std::uint64_t w) noexcept {
        return static_cast<unsigned>(w >> 63);
    }
    static constexpr std::uint64_t one_section(unsigned phase) noexcept {
        return std::uint64_t{1} << (32 * phase);
    }
    static constexpr std::uint64_t count_of(std::uint64_t w, unsigned phase) noexcept {
        return (w >> (32 * phase)) & 0x7FFF'FFFFu;
    }

    // A free slot goes back on the stack, or to the first waiting alloc, or retires (the arena
    // object is gone), or waits for the open read sections to close (unless it comes from the
    // deferred list, emptied when no section was open: then sections opened since cannot have
    // seen its message).
    template <bool HonourReaders = true>
    void return_slot(std::uint32_t index) noexcept {
        constexpr std::uint64_t stop =
            closed_bit | waiters_bit | (HonourReaders ? readers_bit : std::uint64_t{0});
        for (;;) {
            // Acquire: a closed word orders close()'s owner increment before our decrement.
            std::uint64_t h = head_.load(std::memory_order_acquire);
            for (;;) {
                if ((h & stop) != 0) break;
                slots_[index].set_next_free(static_cast<std::uint32_t>(h & top_mask));
                if (detail::compare_exchange_weak(
                        head_, h, ((h & ~top_mask) + tag_one) | (index + 1u),
                        std::memory_order_release, std::memory_order_acquire))
                    return;  // the state may be gone now: touch nothing
            }
            if ((h & closed_bit) != 0) {
                drop_owner();
                return;
            }
            if (HonourReaders && (h & readers_bit) != 0) {
                defer(index);
                return;
            }
            if (hand_to_waiter<HonourReaders>(index)) return;
            // The waiters left meanwhile (and cleared the bit): push again.
        }
    }

    // True if the slot went to a waiting alloc (or retired: closed meanwhile, or was deferred:
    // a read section opened meanwhile); false if no alloc waits any more.
    template <bool HonourReaders>
    bool hand_to_waiter(std::uint32_t index) noexcept {
        arena_waiter* w = nullptr;
        bool read_sections_open = false;
        {
            std::lock_guard<spin_lock> guard(lock_);
            if (!closed_) {
                if (waiters_.empty()) return false;
                // A hand-off reuses the slot: decide by a read-modify-write, as a push does.
                read_sections_open = HonourReaders && (touch_head() & readers_bit) != 0;
                if (!read_sections_open) {
                    w = waiters_.pop_front();
                    w->value = index;
                    if (waiters_.empty()) clear_waiters_bit_locked();
                }
            }
        }
        if (read_sections_open) {
            defer(index);  // (outside lock_: it may return slots to waiters itself)
        } else if (w == nullptr) {
            drop_owner();  // closed meanwhile: the slot retires
        } else {
            w->wake();  // the slot is taken, so the state lives on
        }
        return true;
    }

    // An atomic read-modify-write of the head word that changes only its tag: the value it
    // returns is ordered with the sections' opening and closing (see the class comment).
    std::uint64_t touch_head() noexcept {
        std::uint64_t h = head_.load(std::memory_order_relaxed);
        while (!head_.compare_exchange_weak(h, h + tag_one, std::memory_order_seq_cst,
                                            std::memory_order_relaxed)) {
        }
        return h;
    }

    // A released slot while read sections are open: it waits in its phase's list, unless no
    // section is open any more (then none that opens from now on can see its message).
    void defer(std::uint32_t index) noexcept {
        add_owner();  // once listed, the slot may be returned and retired by another thread
        slot_list ready;
        {
            std::lock_guard<spin_lock> guard(readers_lock_);
            std::uint64_t const w = touch_sections();
            if ((w & all_sections) == 0) {
                ready.push(index, slots_.get());
            } else {
                deferred_[phase_of(w)].push(index, slots_.get());
                advance_locked(ready);
            }
        }
        return_list(ready);
        drop_owner();
    }

    // Under readers_lock_: returns the previous phase's slots once its sections have closed, and
    // flips the phase when the current one has slots waiting and the previous one is done.
    void advance_locked(slot_list& ready) noexcept {
        std::uint64_t const w = sections_.load(std::memory_order_acquire);
        unsigned const current = phase_of(w);
        unsigned const previous = current ^ 1u;
        if (count_of(w, previous) != 0) return;
        ready.splice(deferred_[previous], slots_.get());
        if (deferred_[current].empty()) return;
        // Flip: new sections count in `previous` from now on; the slots deferred in `current`
        // wait for the sections counted there.
        std::uint64_t const before = sections_.fetch_xor(phase_bit, std::memory_order_seq_cst);
        if (count_of(before, current) == 0) ready.splice(deferred_[current], slots_.get());
    }

    // An atomic read-modify-write of `sections_` that changes nothing: a section that opens
    // after it (in that word's modification order) synchronizes with it.
    std::uint64_t touch_sections() noexcept {
        std::uint64_t w = sections_.load(std::memory_order_relaxed);
        while (!sections_.compare_exchange_weak(w, w, std::memory_order_seq_cst,
                                                std::memory_order_relaxed)) {
        }
        return w;
    }

    // Slots that no open section can have read: to the stack, to waiters, or retired.
    void return_list(slot_list& list) noexcept {
        std::uint32_t link = list.first;
        list = slot_list();
        while (link != 0) {
            std::uint32_t const index = link - 1;
            link = slots_[index].next_free();  // read before the slot is pushed again
            return_slot<false>(index);
        }
    }

    void unlink_locked(arena_waiter& w) noexcept {
        waiters_.erase(&w);
        if (waiters_.empty()) clear_waiters_bit_locked();
    }

    void clear_waiters_bit_locked() noexcept {
        std::uint64_t h = head_.load(std::memory_order_relaxed);
        while (!head_.compare_exchange_weak(h, (h + tag_one) & ~waiters_bit,
                                            std::memory_order_acq_rel, std::memory_order_relaxed)) {
        }
    }

    void drop_owners(std::size_t n) noexcept {
        if (owners_.fetch_sub(n, std::memory_order_acq_rel) == n) delete this;
    }

    static std::uint32_t next_id() noexcept {
        static std::atomic<std::uint32_t> count{0};
        std::uint32_t id = count.fetch_add(1, std::memory_order_relaxed) + 1;
        if (id == 0) id = count.fetch_add(1, std::memory_order_relaxed) + 1;  // 0: no arena
        return id;
    }

    alignas(64) std::atomic<std::uint64_t> head_{0};
    alignas(64) std::uint32_t const id_;
    std::size_t const slot_count_;
    std::size_t const max_bytes_;
    std::unique_ptr<std::byte[]> memory_;
    std::unique_ptr<arena_slot[]> slots_;
    std::atomic<std::size_t> owners_{1};  // the arena object (see close)
    std::atomic<std::uint32_t> used_{0};  // the highest index ever popped, plus one
    std::atomic<std::uint64_t> failures_{0};
    spin_lock lock_;                     // the waiting allocs, and close
    waiter_list<arena_waiter> waiters_;  // under lock_, in the order they parked
    bool closed_ = false;                // under lock_
    // Read sections (see the class comment): the phase and the open counts, and the slots
    // deferred in each phase (under readers_lock_).
    alignas(64) std::atomic<std::uint64_t> sections_{0};
    spin_lock readers_lock_;
    slot_list deferred_[2];
    bool sections_own_state_ = false;  // the open sections' owner reference (under the lock)
};

// co_await: a free slot's index, waiting for one while every slot is taken. Throws
// operation_aborted if the task is cancelled while it waits (no slot is held then), and
// channel_closed if the arena object goes first.
class arena_slot_awaiter {
public:
    explicit arena_slot_awaiter(arena_state* state) noexcept : state_(state) {}
    arena_slot_awaiter(const arena_slot_awaiter&) = delete;
    arena_slot_awaiter& operator=(const arena_slot_awaiter&) = delete;
    ~arena_slot_awaiter() {
        if (parked_) state_->abandon_wait(waiter_);
    }

    bool await_ready() noexcept {
        waiter_.value = state_->try_pop();
        return waiter_.value.has_value();
    }

    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> caller) {
        static_assert(context_promise<Promise>,
                      "message_arena::alloc can only be awaited inside asyncpat coroutines");
        task_context* context = caller.promise().context();
        context->hold_work();  // the tree's unit of work; may throw: nothing is armed yet
        waiter_.park(caller, context);
        if (!arm_cancellation(context, &on_cancel, this)) {
            waiter_.cancelled = true;
            return transfer_to(caller);
        }
        armed_ = armed_context(context);
        parked_ = true;
        // Once parked, another thread may resume this coroutine: touch nothing after true.
        if (state_->take_or_park(waiter_, context)) return next_ready();
        parked_ = false;
        return transfer_to(caller);
    }

    std::uint32_t await_resume() {
        parked_ = false;
        if (armed_) clear_cancellation_hook(armed_);
        if (waiter_.value) return *waiter_.value;
        if (waiter_.cancelled) throw_operation_aborted();
        arena_state::throw_closed();
    }

private:
    static void on_cancel(void* self, asio::cancellation_type) {
        auto* a = static_cast<arena_slot_awaiter*>(self);
        if (a->state_->cancel_wait(a->waiter_)) a->waiter_.wake();
    }

    arena_state* state_;
    arena_waiter waiter_;
    task_context* armed_ = nullptr;
    bool parked_ = false;  // set before parking, cleared on resumption
};

}  // namespace detail

/// A shared reference to a message in a `message_arena`: the slot's index and generation, and
/// one reference to the slot. Copying adds a reference (one atomic increment); the slot is freed
/// when the last `message_ref` and the last `bytes` view taken from it are gone.
///
/// @par Thread safety
/// A `message_ref` may be copied and sent to other tasks and threads; distinct copies may be
/// used at once. The message is immutable: reading it needs no lock.
class message_ref {
public:
    message_ref() noexcept = default;
    message_ref(const message_ref& other) noexcept
        : slot_(other.slot_), generation_(other.generation_) {
        if (slot_) slot_->add_ref();
    }
    message_ref(message_ref&& other) noexcept
        : slot_(std::exchange(other.slot_, nullptr)), generation_(other.generation_) {}
    message_ref& operator=(message_ref other) noexcept {
        std::swap(slot_, other.slot_);
        std::swap(generation_, other.generation_);
        return *this;
    }
    ~message_ref() {
        if (slot_) slot_->release_refs_maybe_last(1);
    }

    explicit operator bool() const noexcept { return slot_ != nullptr; }

    /// The message's bytes, valid while this reference lives.
    std::span<const std::byte> span() const noexcept {
        if (!slot_) return {};
        return {slot_->buffer(), slot_->size()};
    }
    std::string_view as_string_view() const noexcept {
        auto s = span();
        return {reinterpret_cast<const char*>(s.data()), s.size()};
    }
    std::size_t size() const noexcept { return slot_ ? slot_->size() : 0; }

    /// A zero-copy `bytes` view of the message, which keeps the slot alive by itself.
    bytes data() const noexcept {
        if (!slot_) return {};
        slot_->add_ref();
        return detail::bytes_access::adopt(slot_->buffer(), slot_->size(), slot_);
    }

    /// The slot index and the generation that identify this message in its arena.
    std::uint32_t index() const noexcept { return slot_ ? slot_->index() : 0; }
    std::uint64_t generation() const noexcept { return generation_; }

    /// A handle that does not keep the message alive (see `message_arena::lock`).
    weak_message_ref weak() const noexcept;

    /// @cond internal
    message_ref(detail::arena_slot* slot, std::uint64_t generation) noexcept
        : slot_(slot), generation_(generation) {}
    /// @endcond

private:
    detail::arena_slot* slot_ = nullptr;
    std::uint64_t generation_ = 0;
};

/// An arena's id, an index and a generation, without ownership: it does not keep the message
/// alive. Upgrade it with `message_arena::lock` (or read it in a read section); a weak ref whose
/// message was freed (even if the slot holds another message by now) is detected, never read,
/// and so is a weak ref handed to another arena than its own. (Arena ids count the arenas
/// created in the process: they repeat after 2^32 of them.)
class weak_message_ref {
public:
    weak_message_ref() noexcept = default;
    std::uint32_t arena_id() const noexcept { return arena_id_; }
    std::uint32_t index() const noexcept { return index_; }
    std::uint64_t generation() const noexcept { return generation_; }

    /// @cond internal
    weak_message_ref(std::uint32_t arena_id, std::uint32_t index, std::uint64_t generation) noexcept
        : arena_id_(arena_id), index_(index), generation_(generation) {}
    /// @endcond

private:
    std::uint32_t arena_id_ = 0;  // 0: refers to nothing (arena ids start at 1)
    std::uint32_t index_ = 0;
    std::uint64_t generation_ = 0;  // 0: refers to nothing (generations of messages are odd)
};

/// An open read section of a `message_arena`: reads messages through `weak_message_ref`s
/// without taking a reference, so a read costs no atomic operation (a generation check).
///
/// A slot released while a section that may have read its message is open is not reused until
/// that section closes: a message that `get` found stays intact until the section closes, even
/// if its last reference goes meanwhile. Opening and closing cost one atomic read-modify-write
/// each (more, and a spin lock, for the first section to open, for the last to close, and while
/// released slots wait).
///
/// Keep sections short: a released slot waits for the sections open when it was released (at
/// most two rounds of them: sections that keep overlapping do not hold it back for ever, but one
/// that stays open does). While slots wait, `try_alloc` may fail and `alloc` wait, as for a full
/// arena.
///
/// @par Thread safety
/// A section may be used and closed on any thread (also across `co_await`, with the caveat
/// above); one section object is not for concurrent use while it is being moved or closed.
/// Any number of sections, on any threads, may be open at once.
class arena_read_section {
public:
    arena_read_section() noexcept = default;
    arena_read_section(arena_read_section&& other) noexcept
        : state_(std::exchange(other.state_, nullptr)), phase_(other.phase_) {}
    arena_read_section& operator=(arena_read_section&& other) noexcept {
        if (this != &other) {
            close();
            state_ = std::exchange(other.state_, nullptr);
            phase_ = other.phase_;
        }
        return *this;
    }
    ~arena_read_section() { close(); }

    /// The bytes of the message `weak` refers to, valid until this section closes; `nullopt` if
    /// that message was freed before this call (its slot may hold another one by now), if
    /// `weak` is empty, or if the section is closed.
    std::optional<std::span<const std::byte>> get(const weak_message_ref& weak) const noexcept {
        if (!state_) return std::nullopt;
        return state_->read(weak.arena_id(), weak.index(), weak.generation());
    }

    bool is_open() const noexcept { return state_ != nullptr; }
    explicit operator bool() const noexcept { return is_open(); }

    /// Ends the section early (the destructor does it otherwise). Spans from `get` are invalid
    /// from here on.
    void close() noexcept {
        if (state_) std::exchange(state_, nullptr)->close_read_section(phase_);
    }

    /// @cond internal
    explicit arena_read_section(detail::arena_state* state) noexcept
        : state_(state), phase_(state->open_read_section()) {}
    /// @endcond

private:
    detail::arena_state* state_ = nullptr;
    unsigned phase_ = 0;  // the phase the section counts in
};

inline weak_message_ref message_ref::weak() const noexcept {
    if (!slot_) return weak_message_ref();
    // Before the handle exists (see bytes_storage::release_refs_maybe_last).
    slot_->note_weak_reference();
    return weak_message_ref(slot_->arena()->id(), slot_->index(), generation_);
}

/// A fixed number of slots for messages of up to `max_message_bytes`, allocated once. Messages
/// are referred to by `message_ref`s (index + generation + shared ownership); a slot is reused
/// when its last reference goes, so the arena's memory stays flat however many messages pass.
///
/// @par Thread safety
/// Every member function may be called from any thread at once. Allocation pops a lock-free
/// stack of free slots (one CAS); the last release of a message pushes it back (one CAS, after
/// the slot's reference count); reading a message takes no atomic operation. `alloc` takes a
/// lock only when no slot is free.
///
/// @par Lifetime
/// Messages outlive the arena object: the memory is freed when the arena and every reference to
/// its messages are gone. Waiting `alloc`s fail with `errc::channel_closed` when the arena object
/// is destroyed.
class message_arena {
public:
    /// Throws `std::invalid_argument` for 0 slots, 0 bytes, or more than 2^32 - 1 slots.
    message_arena(std::size_t slots, std::size_t max_message_bytes)
        : state_(make_state(slots, max_message_bytes)) {}
    message_arena(const message_arena&) = delete;
    message_arena& operator=(const message_arena&) = delete;
    ~message_arena() { state_->close(); }

    /// Copies `data` into a free slot: a reference to the message, or an empty `message_ref` when
    /// every slot is in use (counted in `allocation_failures()`). Throws `std::length_error` if
    /// `data` is larger than a slot.
    message_ref try_alloc(std::span<const std::byte> data) {
        detail::arena_slot* slot = state_->try_take(data);
        return slot ? message_ref(slot, slot->generation()) : message_ref();
    }
    message_ref try_alloc(std::string_view text) { return try_alloc(as_bytes(text)); }

    /// Copies `data` into a slot, waiting for one to be freed while every slot is in use
    /// (backpressure). Waiting allocs get freed slots in the order they began to wait, and
    /// `try_alloc` does not take a slot past them. `data` must stay valid until the await
    /// completes. Throws `std::system_error` with `errc::channel_closed` if the arena object is
    /// destroyed before a slot was found.
    /// @par Cancellation
    /// Cancel-safe: a cancelled wait (`operation_aborted`) holds no slot.
    task<message_ref> alloc(std::span<const std::byte> data) {
        state_owner owner(state_);  // taken now: the task may start after the arena is gone
        return alloc_task(std::move(owner), data);
    }
    task<message_ref> alloc(std::string_view text) { return alloc(as_bytes(text)); }

    /// The message `weak` refers to, if it is still the one in its slot; otherwise an empty
    /// `message_ref` (the message was freed, its slot may hold another message by now; or `weak`
    /// is empty, or comes from another arena).
    message_ref lock(const weak_message_ref& weak) const noexcept {
        if (weak.arena_id() != state_->id() || weak.index() >= state_->slot_count() ||
            (weak.generation() & 1) == 0)
            return {};
        detail::arena_slot& slot = state_->slot(weak.index());
        if (slot.generation() != weak.generation()) return {};
        // No weak ref to this slot was ever made: `weak` was forged from numbers (or passed to
        // this thread without ordering, as through a relaxed atomic), and upgrading it could
        // race with a release that takes no read-modify-write (see
        // bytes_storage::release_refs_maybe_last). A weak ref passed between threads the usual
        // ways (a channel, a lock, a release/acquire pair) arrives after its flag was set.
        if (!slot.weakly_referenced()) return {};
        if (!slot.try_add_ref()) return {};            // being freed
        if (slot.generation() != weak.generation()) {  // freed and reused meanwhile
            slot.release();
            return {};
        }
        return message_ref(&slot, weak.generation());
    }

    /// Opens a read section: `section.get(weak)` then reads messages with no atomic operation
    /// per read. See `arena_read_section` (keep it short: freed slots wait for it to close).
    /// The section keeps the arena's memory alive, also past the arena object.
    arena_read_section read_section() const noexcept { return arena_read_section(state_); }

    std::size_t slots() const noexcept { return state_->slot_count(); }
    std::size_t max_message_bytes() const noexcept { return state_->max_bytes(); }
    /// Slots holding a message, and the bytes of those messages: snapshots taken by a scan of
    /// the slots (O(slots)), so that allocation and release pay nothing for them.
    std::size_t live_slots() const noexcept { return state_->live(); }
    std::size_t live_bytes() const noexcept { return state_->live_bytes(); }
    /// The most slots ever in use at once.
    std::size_t high_watermark() const noexcept { return state_->high_watermark(); }
    /// `try_alloc` calls that found no free slot.
    std::uint64_t allocation_failures() const noexcept { return state_->failures(); }

private:
    static std::span<const std::byte> as_bytes(std::string_view text) noexcept {
        return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
    }

    static detail::arena_state* make_state(std::size_t slots, std::size_t max_bytes) {
        if (slots == 0 || max_bytes == 0)
            throw std::invalid_argument(
                "asyncpat::message_arena: the slot count and the slot size must be at least 1");
        if (slots > 0xFFFF'FFFFu)
            throw std::invalid_argument("asyncpat::message_arena: at most 2^32 - 1 slots");
        if (max_bytes > std::numeric_limits<std::size_t>::max() / slots)
            throw std::length_error("asyncpat::message_arena: slots * max_message_bytes overflows");
        return new detail::arena_state(slots, max_bytes);
    }

    // One owner reference to the state, for a task that may run after the arena object went.
    class state_owner {
    public:
        explicit state_owner(detail::arena_state* state) noexcept : state_(state) {
            state_->add_owner();
        }
        state_owner(state_owner&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
        state_owner& operator=(state_owner&&) = delete;
        ~state_owner() {
            if (state_) state_->drop_owner();
        }
        detail::arena_state* operator->() const noexcept { return state_; }
        detail::arena_state* get() const noexcept { return state_; }

    private:
        detail::arena_state* state_;
    };

    static task<message_ref> alloc_task(state_owner state, std::span<const std::byte> data) {
        state->check_size(data.size());
        std::uint32_t const index = co_await detail::arena_slot_awaiter(state.get());
        detail::arena_slot& slot = state->occupy(index, data);
        co_return message_ref(&slot, slot.generation());
    }

    detail::arena_state* state_;
};

namespace detail {
inline void arena_slot::on_last_release(bytes_storage* storage) noexcept {
    auto* slot = static_cast<arena_slot*>(storage);
    slot->arena_->give_back(*slot);
}
}  // namespace detail

}  // namespace asyncpat

#endif  // ASYNCPAT_ARENA_HPP
