// asyncpat: message_arena, fixed slots for messages, with generation-checked refcounted handles.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_ARENA_HPP
#define ASYNCPAT_ARENA_HPP

#include <asyncpat/bytes.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/error.hpp>
#include <asyncpat/task.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
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
// free list, and its generation moves on.
//
// generation: odd while the slot holds a message, even while it is free (slotmap's rule). It is
// 64 bits wide, so it cannot wrap in practice (2^63 reuses of one slot). It is written with
// release order after the message, and a weak ref's upgrade reads it with acquire order before
// and after taking a reference: an upgrade that sees its own generation twice around a successful
// reference increment holds the message it was made for.
class arena_slot final : public bytes_storage {
public:
    arena_slot() noexcept : bytes_storage(&on_last_release, nullptr, 0) {}

    void place(arena_state* arena, std::uint32_t index, std::byte* memory,
               std::size_t capacity) noexcept {
        arena_ = arena;
        index_ = index;
        set_buffer(memory, capacity);
    }

    std::uint32_t index() const noexcept { return index_; }
    std::uint64_t generation() const noexcept {
        return generation_.load(std::memory_order_acquire);
    }
    std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

    // Fills a free slot (owned by the caller) and publishes it: one reference, odd generation.
    std::uint64_t fill(std::span<const std::byte> data) noexcept {
        if (!data.empty()) std::memcpy(buffer(), data.data(), data.size());
        size_.store(data.size(), std::memory_order_relaxed);  // (atomic: live_bytes reads it)
        reset_refs();
        std::uint64_t const g = generation_.load(std::memory_order_relaxed) + 1;  // odd
        generation_.store(g, std::memory_order_release);
        return g;
    }

    // Called once the last reference went: the slot is free (even generation).
    void end_generation(std::uint64_t generation) noexcept {
        generation_.store(generation + 1, std::memory_order_release);
    }

private:
    static void on_last_release(bytes_storage* storage) noexcept;

    arena_state* arena_ = nullptr;
    std::uint32_t index_ = 0;
    std::atomic<std::size_t> size_{0};
    std::atomic<std::uint64_t> generation_{0};
};

// The shared state: slot memory and metadata, allocated once; the free list, a channel of slot
// indices with room for all of them (so a release never waits, and a waiting alloc is a
// cancel-safe receive); and the counters. It lives while the arena or any message lives: one
// reference for the arena, one per occupied slot (so the reference count, minus the arena's,
// is the number of live slots).
class arena_state {
public:
    arena_state(std::size_t slots, std::size_t max_bytes)
        : slot_count_(slots),
          max_bytes_(max_bytes),
          memory_(new std::byte[slots * max_bytes]),
          slots_(new arena_slot[slots]) {
        auto [tx, rx] = make_channel<std::uint32_t>(slots);
        free_tx_ = std::move(tx);
        free_rx_ = std::move(rx);
        for (std::size_t i = 0; i < slots; ++i) {
            slots_[i].place(this, static_cast<std::uint32_t>(i), memory_.get() + i * max_bytes,
                            max_bytes);
            (void)free_tx_.try_send(static_cast<std::uint32_t>(i));
        }
    }

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    std::size_t slot_count() const noexcept { return slot_count_; }
    std::size_t max_bytes() const noexcept { return max_bytes_; }
    arena_slot& slot(std::uint32_t index) noexcept { return slots_[index]; }

    void check_size(std::size_t size) const {
        if (size > max_bytes_)
            throw std::length_error("asyncpat::message_arena: a message of " +
                                    std::to_string(size) + " bytes exceeds the slot size of " +
                                    std::to_string(max_bytes_));
    }

    // A free slot filled with `data`, or none (no free slot).
    arena_slot* try_take(std::span<const std::byte> data) {
        check_size(data.size());
        std::optional<std::uint32_t> index = free_rx_.try_receive();
        if (!index) {
            failures_.fetch_add(1, std::memory_order_relaxed);
            return nullptr;
        }
        return &occupy(*index, data);
    }

    arena_slot& occupy(std::uint32_t index, std::span<const std::byte> data) noexcept {
        arena_slot& s = slots_[index];
        s.fill(data);
        // One reference per occupied slot: the count is also the live-slot counter.
        std::size_t const live = refs_.fetch_add(1, std::memory_order_relaxed);
        std::size_t seen = high_watermark_.load(std::memory_order_relaxed);
        while (live > seen &&
               !high_watermark_.compare_exchange_weak(seen, live, std::memory_order_relaxed)) {
        }
        return s;
    }

    // The last reference to an occupied slot went: it becomes free (even generation), and its
    // index goes back to the free list (waking a waiting alloc, if any).
    void give_back(arena_slot& s, std::uint64_t generation) noexcept {
        s.end_generation(generation);
        (void)free_tx_.try_send(s.index());  // room for every index: never full
        release();
    }

    receiver<std::uint32_t>& free_list() noexcept { return free_rx_; }

    // (Called through the arena object, which holds one reference itself.)
    std::size_t live() const noexcept { return refs_.load(std::memory_order_relaxed) - 1; }
    // A snapshot: the sizes of the slots that hold a message (odd generation). Kept out of the
    // allocation path, which would otherwise pay two more atomic operations per message.
    std::size_t live_bytes() const noexcept {
        std::size_t total = 0;
        for (std::size_t i = 0; i < slot_count_; ++i)
            if (slots_[i].generation() & 1) total += slots_[i].size();
        return total;
    }
    std::size_t high_watermark() const noexcept {
        return high_watermark_.load(std::memory_order_relaxed);
    }
    std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::size_t> refs_{1};
    std::size_t const slot_count_;
    std::size_t const max_bytes_;
    std::unique_ptr<std::byte[]> memory_;
    std::unique_ptr<arena_slot[]> slots_;
    sender<std::uint32_t> free_tx_;
    receiver<std::uint32_t> free_rx_;
    std::atomic<std::size_t> high_watermark_{0};
    std::atomic<std::uint64_t> failures_{0};
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
        if (slot_) slot_->release();
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

/// An index and a generation, without ownership: it does not keep the message alive. Upgrade it
/// with `message_arena::lock`; a weak ref whose message was freed (even if the slot holds another
/// message by now) is detected, never read.
class weak_message_ref {
public:
    weak_message_ref() noexcept = default;
    std::uint32_t index() const noexcept { return index_; }
    std::uint64_t generation() const noexcept { return generation_; }

    /// @cond internal
    weak_message_ref(std::uint32_t index, std::uint64_t generation) noexcept
        : index_(index), generation_(generation) {}
    /// @endcond

private:
    std::uint32_t index_ = 0;
    std::uint64_t generation_ = 0;  // 0: refers to nothing (generations of messages are odd)
};

inline weak_message_ref message_ref::weak() const noexcept {
    return slot_ ? weak_message_ref(slot_->index(), generation_) : weak_message_ref();
}

/// A fixed number of slots for messages of up to `max_message_bytes`, allocated once. Messages
/// are referred to by `message_ref`s (index + generation + shared ownership); a slot is reused
/// when its last reference goes, so the arena's memory stays flat however many messages pass.
///
/// @par Thread safety
/// Every member function may be called from any thread at once. Allocation and release take one
/// atomic operation on the free list; reading a message takes none.
///
/// @par Lifetime
/// Messages outlive the arena object: the memory is freed when the arena and every reference to
/// its messages are gone.
class message_arena {
public:
    /// Throws `std::invalid_argument` for 0 slots, 0 bytes, or more than 2^32 - 1 slots.
    message_arena(std::size_t slots, std::size_t max_message_bytes)
        : state_(make_state(slots, max_message_bytes)) {}
    message_arena(const message_arena&) = delete;
    message_arena& operator=(const message_arena&) = delete;
    ~message_arena() { state_->release(); }

    /// Copies `data` into a free slot: a reference to the message, or an empty `message_ref` when
    /// every slot is in use (counted in `allocation_failures()`). Throws `std::length_error` if
    /// `data` is larger than a slot.
    message_ref try_alloc(std::span<const std::byte> data) {
        detail::arena_slot* slot = state_->try_take(data);
        return slot ? message_ref(slot, slot->generation()) : message_ref();
    }
    message_ref try_alloc(std::string_view text) { return try_alloc(as_bytes(text)); }

    /// Copies `data` into a slot, waiting for one to be freed while every slot is in use
    /// (backpressure). `data` must stay valid until the await completes.
    /// @par Cancellation
    /// Cancel-safe: a cancelled wait (`operation_aborted`) holds no slot.
    task<message_ref> alloc(std::span<const std::byte> data) { return alloc_task(state_, data); }
    task<message_ref> alloc(std::string_view text) { return alloc(as_bytes(text)); }

    /// The message `weak` refers to, if it is still the one in its slot; otherwise an empty
    /// `message_ref` (the message was freed; its slot may hold another message by now).
    message_ref lock(const weak_message_ref& weak) const noexcept {
        if (weak.generation() == 0 || weak.index() >= state_->slot_count()) return {};
        detail::arena_slot& slot = state_->slot(weak.index());
        if (slot.generation() != weak.generation()) return {};
        if (!slot.try_add_ref()) return {};            // being freed
        if (slot.generation() != weak.generation()) {  // freed and reused meanwhile
            slot.release();
            return {};
        }
        return message_ref(&slot, weak.generation());
    }

    std::size_t slots() const noexcept { return state_->slot_count(); }
    std::size_t max_message_bytes() const noexcept { return state_->max_bytes(); }
    /// Slots holding a message, and the bytes of those messages.
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

    // Holds a reference to the state while it waits, so that the arena object may go meanwhile.
    struct state_ref {
        detail::arena_state* state;
        explicit state_ref(detail::arena_state* s) noexcept : state(s) { state->add_ref(); }
        state_ref(const state_ref&) = delete;
        state_ref& operator=(const state_ref&) = delete;
        ~state_ref() { state->release(); }
    };

    static task<message_ref> alloc_task(detail::arena_state* state,
                                        std::span<const std::byte> data) {
        state_ref const keep(state);
        state->check_size(data.size());
        std::optional<std::uint32_t> index = state->free_list().try_receive();
        if (!index) index = co_await state->free_list().receive();
        // The free list closes only with the state, which `keep` holds open.
        detail::arena_slot& slot = state->occupy(*index, data);
        co_return message_ref(&slot, slot.generation());
    }

    detail::arena_state* state_;
};

namespace detail {
inline void arena_slot::on_last_release(bytes_storage* storage) noexcept {
    auto* slot = static_cast<arena_slot*>(storage);
    slot->arena_->give_back(*slot, slot->generation_.load(std::memory_order_relaxed));
}
}  // namespace detail

}  // namespace asyncpat

#endif  // ASYNCPAT_ARENA_HPP
