// asyncpat: bytes and bytes_mut, reference-counted byte buffers shared and sliced without copying,
// usable directly as Asio buffers.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_BYTES_HPP
#define ASYNCPAT_BYTES_HPP

#include <asyncpat/config.hpp>

#include <asyncpat/detail/asio.hpp>
#include <asyncpat/detail/frame_allocator.hpp>
#include <asyncpat/detail/single_threaded.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace asyncpat {

class bytes;
class bytes_mut;

namespace detail {

// The owner of one byte buffer, shared by every bytes/bytes_mut that views part of it. The count
// is atomic, so views of one buffer may live on different threads; a view itself is a plain
// value. `buffer_`/`capacity_` describe the whole writable buffer: a bytes_mut that finds itself
// the only owner (count 1) may use all of it.
class bytes_storage {
public:
    // In a process that never started a second thread, the count is updated without a
    // read-modify-write (see ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH).
    void add_ref() noexcept { add_refs(1); }
    void add_refs(std::size_t n) noexcept {
        detail::fetch_add(refs_, n, std::memory_order_relaxed);
    }
    // acq_rel rather than release + fence: the same instruction on x86, and understood by TSan.
    void release() noexcept { release_refs(1); }
    void release_refs(std::size_t n) noexcept {
        if (detail::fetch_sub(refs_, n, std::memory_order_acq_rel) == n) destroy_(this);
    }
    // release_refs for a holder that is often the last one (a message_arena slot's
    // message_ref). When its `n` references are all that is left, no other view exists and none
    // can appear (only a holder makes one, or a weak upgrade, which needs a weak handle ever
    // made: see note_weak_reference), so they go without a read-modify-write, as libstdc++
    // releases a shared_ptr that has no weak_ptr. The acquire load pairs with the releases (all
    // read-modify-writes, by the reasoning below, except plain ones made before the process
    // started its first thread, which that start orders) of the references that went before, so
    // their reads happen before the storage is destroyed or reused, and so does any weak handle
    // one of their holders made: the flag is read again after the load. A flag set while the
    // storage held an earlier message (a recycled arena slot) is seen too: the last release of
    // that message saw it and decremented, and the slot then went through the free list (or to
    // a waiting alloc, or through a read section's deferred list) to the fill of the current
    // message, every step ordered by a lock or a release/acquire pair. (Not for every release:
    // a load of the count just after this thread's own read-modify-write of it, a clone dropped
    // at once, waits for that write to land, and costs more than the read-modify-write it
    // saves.)
    void release_refs_maybe_last(std::size_t n) noexcept {
        if (!weakly_referenced_.load(std::memory_order_relaxed) &&
            refs_.load(std::memory_order_acquire) == n &&
            !weakly_referenced_.load(std::memory_order_relaxed)) {
            refs_.store(0, std::memory_order_relaxed);
            destroy_(this);
            return;
        }
        release_refs(n);
    }
    // True when no other view exists, given that the caller holds `held` references (its own
    // and any it took ahead, see bytes_mut::spare_refs_). The acquire pairs with the release of
    // the views that went, so their last reads happen before the caller writes to the buffer.
    // Never for a storage that weak handles may revive (see mark_revivable).
    bool is_unique(std::size_t held = 1) const noexcept {
        return !revivable_ && refs_.load(std::memory_order_acquire) == held;
    }
    // Adds a reference unless the count already reached zero (the storage is being released):
    // weak_ptr::lock for storages that are recycled rather than freed (message_arena's slots).
    bool try_add_ref() noexcept {
        std::size_t n = refs_.load(std::memory_order_relaxed);
        while (n != 0) {
            if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_acquire,
                                            std::memory_order_relaxed))
                return true;
        }
        return false;
    }

    // For a revivable storage: a weak handle to it is being made, by a holder of a reference
    // (which releases it later, so that whoever releases the last reference sees this). Sticky:
    // from now on every release of this storage is a read-modify-write, because a weak handle
    // of any earlier use may still try to upgrade. (Release, and acquire in weakly_referenced:
    // an upgrade that sees the flag is ordered after the making of a handle, whatever way the
    // handle it was given travelled.)
    void note_weak_reference() noexcept {
        if (!weakly_referenced_.load(std::memory_order_relaxed))
            weakly_referenced_.store(true, std::memory_order_release);
    }
    // Whether a weak handle to this storage was ever made. False for a handle that claims to be
    // one: it was not made by note_weak_reference's caller (or reached this thread without being
    // ordered after its making), and must not be upgraded.
    bool weakly_referenced() const noexcept {
        return weakly_referenced_.load(std::memory_order_acquire);
    }

    std::byte* buffer() const noexcept { return buffer_; }
    std::size_t capacity() const noexcept { return capacity_; }

protected:
    using destroy_function = void (*)(bytes_storage*) noexcept;
    bytes_storage(destroy_function destroy, std::byte* buffer, std::size_t capacity) noexcept
        : destroy_(destroy), buffer_(buffer), capacity_(capacity) {}
    ~bytes_storage() = default;
    // For a recycled storage, taken out of its free list (nobody else refers to it): one
    // reference again.
    // Release: a weak upgrade (try_add_ref) that reads this count then also sees the previous
    // message's generation ended, which happened before the reuse (see message_arena::lock).
    void reset_refs() noexcept { refs_.store(1, std::memory_order_release); }
    // For storages whose count try_add_ref may raise at any time (a message_arena slot, which
    // weak refs upgrade): a count of 1 then does not mean that no other view can appear, so the
    // buffer is never handed out for writing (try_into_mut, bytes_mut::reserve).
    void mark_revivable() noexcept { revivable_ = true; }
    void set_buffer(std::byte* buffer, std::size_t capacity) noexcept {
        buffer_ = buffer;
        capacity_ = capacity;
    }
    bytes_storage(const bytes_storage&) = delete;
    bytes_storage& operator=(const bytes_storage&) = delete;

private:
    std::atomic<std::size_t> refs_{1};
    bool revivable_ = false;
    std::atomic<bool> weakly_referenced_{false};
    destroy_function destroy_;
    std::byte* buffer_;
    std::size_t capacity_;
};

// For other asyncpat types whose storages `bytes` may view (message_arena): makes a `bytes`
// that adopts one reference to `storage`.
struct bytes_access;

// A buffer allocated by asyncpat: header and bytes in one allocation (folly's createCombined).
// Small ones come from the per-thread block cache. Large ones are cache-line aligned, with the
// bytes one line after the header, so bulk copies and fills start on a line boundary.
class heap_storage final : public bytes_storage {
public:
    static heap_storage* create(std::size_t capacity) {
        if (capacity > std::numeric_limits<std::size_t>::max() - line)
            throw std::length_error("asyncpat::bytes_mut: capacity too large");
        if (cached(capacity)) {
            void* block = frame_cache::allocate(sizeof(heap_storage) + capacity);
            return ::new (block) heap_storage(capacity, sizeof(heap_storage));
        }
        void* block = ::operator new(line + capacity, std::align_val_t{line});
        return ::new (block) heap_storage(capacity, line);
    }

private:
    static constexpr std::size_t line = 64;
    static_assert(sizeof(bytes_storage) <= line);

    // Whether a buffer of `capacity` bytes is small enough for the block cache.
    static bool cached(std::size_t capacity) noexcept {
        return sizeof(heap_storage) + capacity <= ASYNCPAT_FRAME_CACHE_MAX_BYTES;
    }

    heap_storage(std::size_t capacity, std::size_t offset) noexcept
        : bytes_storage(&destroy, reinterpret_cast<std::byte*>(this) + offset, capacity) {}

    static void destroy(bytes_storage* base) noexcept {
        auto* self = static_cast<heap_storage*>(base);
        std::size_t const capacity = self->capacity();
        self->~heap_storage();
        if (cached(capacity))
            frame_cache::deallocate(self, sizeof(heap_storage) + capacity);
        else
            ::operator delete(self, line + capacity, std::align_val_t{line});
    }
};

// A container the buffer was adopted from (std::string, std::vector): its storage is used in
// place; the container is destroyed with the last view.
template <typename Container>
class owner_storage final : public bytes_storage, public cache_allocated {
public:
    static owner_storage* create(Container&& container) {
        return new owner_storage(std::move(container));
    }

private:
    explicit owner_storage(Container&& container) noexcept
        : bytes_storage(&destroy, nullptr, 0), container_(std::move(container)) {
        // The container's bytes are where they are after the move (for a short std::string,
        // inside container_).
        set_buffer(reinterpret_cast<std::byte*>(container_.data()), container_.size());
    }

    static void destroy(bytes_storage* base) noexcept { delete static_cast<owner_storage*>(base); }

    Container container_;
};

[[noreturn]] inline void throw_out_of_range(const char* operation, std::size_t begin,
                                            std::size_t end, std::size_t size) {
    throw std::out_of_range(std::string("asyncpat::") + operation + ": range [" +
                            std::to_string(begin) + ", " + std::to_string(end) +
                            ") out of bounds for size " + std::to_string(size));
}
[[noreturn]] inline void throw_index_out_of_range(const char* operation, std::size_t index,
                                                  std::size_t size) {
    throw std::out_of_range(std::string("asyncpat::") + operation + ": index " +
                            std::to_string(index) + " out of bounds for size " +
                            std::to_string(size));
}
[[noreturn]] inline void throw_past_end(const char* operation, std::size_t wanted,
                                        std::size_t remaining) {
    throw std::out_of_range(std::string("asyncpat::") + operation + ": needs " +
                            std::to_string(wanted) + " bytes, " + std::to_string(remaining) +
                            " remain");
}

template <typename Unsigned>
Unsigned load_big_endian(const std::byte* p) noexcept {
    Unsigned value = 0;
    for (std::size_t i = 0; i < sizeof(Unsigned); ++i)
        value = static_cast<Unsigned>((value << 8) | static_cast<Unsigned>(p[i]));
    return value;
}
template <typename Unsigned>
Unsigned load_little_endian(const std::byte* p) noexcept {
    Unsigned value = 0;
    for (std::size_t i = sizeof(Unsigned); i-- > 0;)
        value = static_cast<Unsigned>((value << 8) | static_cast<Unsigned>(p[i]));
    return value;
}
template <typename Unsigned>
void store_big_endian(std::byte* p, Unsigned value) noexcept {
    for (std::size_t i = sizeof(Unsigned); i-- > 0;) {
        p[i] = static_cast<std::byte>(value & 0xff);
        value = static_cast<Unsigned>(value >> 8);
    }
}
template <typename Unsigned>
void store_little_endian(std::byte* p, Unsigned value) noexcept {
    for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
        p[i] = static_cast<std::byte>(value & 0xff);
        value = static_cast<Unsigned>(value >> 8);
    }
}

inline std::strong_ordering compare_bytes(std::span<const std::byte> a,
                                          std::span<const std::byte> b) noexcept {
    std::size_t const common = std::min(a.size(), b.size());
    int const c = common == 0 ? 0 : std::memcmp(a.data(), b.data(), common);
    if (c != 0) return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
    return a.size() <=> b.size();
}
inline bool equal_bytes(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}
inline std::span<const std::byte> as_byte_span(std::string_view text) noexcept {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

}  // namespace detail

/// An immutable, shared view of bytes (Rust's `bytes::Bytes`).
///
/// Copying a `bytes` adds a reference to the buffer; `slice`, `split_to`, `split_off`,
/// `truncate` and `advance` only move the view. The buffer is freed with its last view, so a
/// small slice keeps its whole buffer alive (copy it with `copy_from` to let the buffer go).
/// Out-of-range arguments throw `std::out_of_range` naming the numbers.
///
/// A `bytes` converts to `asio::const_buffer`; a range of them (`std::vector<bytes>`,
/// `std::array<bytes, N>`) is an Asio ConstBufferSequence, so a gather write sends several
/// without copying.
///
/// @par Thread safety
/// Distinct `bytes` objects may be used on different threads at once, also when they share a
/// buffer (the count is atomic). One object may be read from several threads, and must not be
/// modified (assigned, sliced in place) while another thread uses it.
class bytes {
public:
    using value_type = std::byte;
    using size_type = std::size_t;
    using const_iterator = const std::byte*;
    using iterator = const_iterator;

    /// Empty; allocates nothing.
    bytes() noexcept = default;
    bytes(const bytes& other) noexcept
        : data_(other.data_), size_(other.size_), storage_(other.storage_) {
        if (storage_) storage_->add_ref();
    }
    bytes(bytes&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          storage_(std::exchange(other.storage_, nullptr)) {}
    bytes& operator=(const bytes& other) noexcept {
        bytes(other).swap(*this);
        return *this;
    }
    bytes& operator=(bytes&& other) noexcept {
        bytes(std::move(other)).swap(*this);
        return *this;
    }
    ~bytes() {
        if (storage_) storage_->release();
    }

    /// Adopts the string's buffer: no copy of the bytes (a string short enough to be stored
    /// inside the string object is the exception: it moves with the object). Allocates one small
    /// header, from the per-thread block cache.
    explicit bytes(std::string&& text) : bytes(adopt(std::move(text))) {}
    /// Adopts the vector's buffer without copying; allocates one small header.
    explicit bytes(std::vector<std::uint8_t>&& data) : bytes(adopt(std::move(data))) {}
    /// Adopts the vector's buffer without copying; allocates one small header.
    explicit bytes(std::vector<std::byte>&& data) : bytes(adopt(std::move(data))) {}

    /// A view of memory that outlives every use (a string literal, a static table). Allocates
    /// nothing; copies of it count no references.
    /// A temporary `std::string` is refused at compile time: it dies at the end of the call.
    template <typename S>
        requires std::is_same_v<S, std::string>
    static bytes from_static(S&& temporary) = delete;
    static bytes from_static(std::string_view text) noexcept {
        return from_static(detail::as_byte_span(text));
    }
    static bytes from_static(std::span<const std::byte> data) noexcept {
        return bytes(data.data(), data.size(), nullptr);
    }

    /// A new buffer holding a copy of `data` (one allocation; none when empty).
    static bytes copy_from(std::span<const std::byte> data);
    static bytes copy_from(std::string_view text) { return copy_from(detail::as_byte_span(text)); }
    static bytes copy_from(std::span<const std::uint8_t> data) {
        return copy_from(std::as_bytes(data));
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const std::byte* data() const noexcept { return data_; }
    const_iterator begin() const noexcept { return data_; }
    const_iterator end() const noexcept { return data_ + size_; }
    /// The byte at `index`; throws `std::out_of_range` past the end.
    std::byte operator[](std::size_t index) const {
        if (index >= size_) detail::throw_index_out_of_range("bytes::operator[]", index, size_);
        return data_[index];
    }
    std::span<const std::byte> as_span() const noexcept { return {data_, size_}; }
    std::string_view as_string_view() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }
    asio::const_buffer buffer() const noexcept { return asio::const_buffer(data_, size_); }
    operator asio::const_buffer() const noexcept { return buffer(); }

    /// The bytes [begin, end) of this view, sharing the buffer.
    bytes slice(std::size_t begin, std::size_t end) const {
        if (begin > end || end > size_)
            detail::throw_out_of_range("bytes::slice", begin, end, size_);
        if (begin == end) return bytes();
        return bytes(*this, begin, end - begin);
    }
    /// Removes the first `n` bytes from this view and returns them (sharing the buffer).
    bytes split_to(std::size_t n) {
        if (n > size_) detail::throw_out_of_range("bytes::split_to", 0, n, size_);
        bytes head = n == 0 ? bytes() : bytes(*this, 0, n);
        data_ += n;
        size_ -= n;
        return head;
    }
    /// Removes the bytes from `at` to the end from this view and returns them (sharing the
    /// buffer).
    bytes split_off(std::size_t at) {
        if (at > size_) detail::throw_out_of_range("bytes::split_off", at, size_, size_);
        bytes tail = at == size_ ? bytes() : bytes(*this, at, size_ - at);
        size_ = at;
        return tail;
    }
    /// Drops the first `n` bytes from the view.
    void advance(std::size_t n) {
        if (n > size_) detail::throw_out_of_range("bytes::advance", 0, n, size_);
        data_ += n;
        size_ -= n;
    }
    /// Keeps the first `n` bytes (no effect when `n >= size()`).
    void truncate(std::size_t n) noexcept { size_ = std::min(size_, n); }
    /// Makes this view empty and lets go of the buffer.
    void clear() noexcept { bytes().swap(*this); }

    /// True when this is the only view of its buffer (never for static or empty bytes).
    bool is_unique() const noexcept { return storage_ && storage_->is_unique(); }

    /// Turns this view into a `bytes_mut` without copying, if it is the only view of its buffer
    /// (`is_unique()`); this `bytes` is then empty. Otherwise returns `std::nullopt` and leaves
    /// this `bytes` as it was.
    std::optional<bytes_mut> try_into_mut() &&;

    void swap(bytes& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(storage_, other.storage_);
    }
    friend void swap(bytes& a, bytes& b) noexcept { a.swap(b); }

    friend bool operator==(const bytes& a, const bytes& b) noexcept {
        return detail::equal_bytes(a.as_span(), b.as_span());
    }
    friend std::strong_ordering operator<=>(const bytes& a, const bytes& b) noexcept {
        return detail::compare_bytes(a.as_span(), b.as_span());
    }
    friend bool operator==(const bytes& a, std::string_view b) noexcept {
        return detail::equal_bytes(a.as_span(), detail::as_byte_span(b));
    }
    friend std::strong_ordering operator<=>(const bytes& a, std::string_view b) noexcept {
        return detail::compare_bytes(a.as_span(), detail::as_byte_span(b));
    }

private:
    friend class bytes_mut;
    friend struct detail::bytes_access;

    bytes(const std::byte* data, std::size_t size, detail::bytes_storage* storage) noexcept
        : data_(data), size_(size), storage_(storage) {}
    // A sub-view of `whole`, adding a reference.
    bytes(const bytes& whole, std::size_t offset, std::size_t size) noexcept
        : data_(whole.data_ + offset), size_(size), storage_(whole.storage_) {
        if (storage_) storage_->add_ref();
    }

    template <typename Container>
    static bytes adopt(Container&& container) {
        if (container.empty()) return bytes();
        auto* storage = detail::owner_storage<Container>::create(std::move(container));
        return bytes(storage->buffer(), storage->capacity(), storage);
    }

    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    detail::bytes_storage* storage_ = nullptr;  // null: empty or static
};

namespace detail {
struct bytes_access {
    static bytes adopt(const std::byte* data, std::size_t size, bytes_storage* storage) noexcept {
        return bytes(data, size, storage);
    }
};
}  // namespace detail

/// A unique, growable byte buffer (Rust's `bytes::BytesMut`): build a message, then `freeze()`
/// it into `bytes` in O(1).
///
/// `split_to`/`split_off` divide it into two `bytes_mut` over disjoint parts of one buffer,
/// without copying. `reserve` reuses the buffer when every other view of it is gone (no
/// reallocation after the split parts were dropped). Use `asyncpat::dynamic_buffer(b)` to read
/// into it with Asio's dynamic-buffer operations (`asio::async_read`, `async_read_until`).
///
/// @par Thread safety
/// One `bytes_mut` is used by one thread at a time; parts split from it may be used on other
/// threads.
class bytes_mut {
public:
    using value_type = std::byte;
    using size_type = std::size_t;
    using iterator = std::byte*;
    using const_iterator = const std::byte*;

    /// Empty, with no buffer; allocates nothing.
    bytes_mut() noexcept = default;
    /// Empty, with room for `capacity` bytes (one allocation).
    static bytes_mut with_capacity(std::size_t capacity) {
        bytes_mut result;
        result.reserve(capacity);
        return result;
    }
    bytes_mut(bytes_mut&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)),
          size_(std::exchange(other.size_, 0)),
          capacity_(std::exchange(other.capacity_, 0)),
          storage_(std::exchange(other.storage_, nullptr)),
          spare_refs_(std::exchange(other.spare_refs_, 0)) {}
    bytes_mut& operator=(bytes_mut&& other) noexcept {
        bytes_mut(std::move(other)).swap(*this);
        return *this;
    }
    bytes_mut(const bytes_mut&) = delete;
    bytes_mut& operator=(const bytes_mut&) = delete;
    ~bytes_mut() {
        if (storage_) storage_->release_refs(1 + spare_refs_);
    }

    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    /// The bytes this object may hold without reallocating.
    std::size_t capacity() const noexcept { return capacity_; }
    std::byte* data() noexcept { return data_; }
    const std::byte* data() const noexcept { return data_; }
    iterator begin() noexcept { return data_; }
    iterator end() noexcept { return data_ + size_; }
    const_iterator begin() const noexcept { return data_; }
    const_iterator end() const noexcept { return data_ + size_; }
    std::byte& operator[](std::size_t index) {
        if (index >= size_) detail::throw_index_out_of_range("bytes_mut::operator[]", index, size_);
        return data_[index];
    }
    std::byte operator[](std::size_t index) const {
        if (index >= size_) detail::throw_index_out_of_range("bytes_mut::operator[]", index, size_);
        return data_[index];
    }
    std::span<std::byte> as_span() noexcept { return {data_, size_}; }
    std::span<const std::byte> as_span() const noexcept { return {data_, size_}; }
    std::string_view as_string_view() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }

    /// Makes room for at least `additional` more bytes. Reuses the buffer when this is its
    /// only view and it is large enough (moving the bytes to its start if they are no more
    /// than the space before them), otherwise moves to a new buffer of at least twice the size.
    void reserve(std::size_t additional) {
        if (capacity_ - size_ >= additional) return;
        if (additional > std::numeric_limits<std::size_t>::max() / 2 - size_)
            throw std::length_error("asyncpat::bytes_mut::reserve: size too large");
        std::size_t const needed = size_ + additional;
        if (storage_ && storage_->is_unique(1 + spare_refs_)) {
            // Every other view of the buffer is gone: all of it is ours.
            std::byte* const base = storage_->buffer();
            std::size_t const offset = static_cast<std::size_t>(data_ - base);
            std::size_t const total = storage_->capacity();
            if (total - offset >= needed) {
                capacity_ = total - offset;
                return;
            }
            if (total >= needed && offset >= size_) {
                if (size_ != 0) std::memmove(base, data_, size_);
                data_ = base;
                capacity_ = total;
                return;
            }
        }
        std::size_t const grown = std::max({needed, capacity_ * 2, min_allocation});
        detail::heap_storage* fresh = detail::heap_storage::create(grown);
        if (size_ != 0) std::memcpy(fresh->buffer(), data_, size_);
        if (storage_) storage_->release_refs(1 + std::exchange(spare_refs_, 0));
        storage_ = fresh;
        data_ = fresh->buffer();
        capacity_ = fresh->capacity();
    }

    /// Appends bytes (growing as needed). `more` may be a view of this buffer's own bytes.
    void extend(std::span<const std::byte> more) {
        if (more.empty()) return;
        std::byte const* source = more.data();
        if (size_ != 0 && source >= data_ && source < data_ + size_) {
            // Our own bytes: reserve may move them, so find them again by offset afterwards.
            std::size_t const offset = static_cast<std::size_t>(source - data_);
            reserve(more.size());
            source = data_ + offset;
        } else {
            reserve(more.size());
        }
        std::memmove(data_ + size_, source, more.size());
        size_ += more.size();
    }
    void extend(std::string_view text) { extend(detail::as_byte_span(text)); }
    void extend(std::span<const std::uint8_t> more) { extend(std::as_bytes(more)); }
    void put(const bytes& more) { extend(more.as_span()); }

    void put_u8(std::uint8_t v) { append_byte(static_cast<std::byte>(v)); }
    void put_i8(std::int8_t v) { put_u8(static_cast<std::uint8_t>(v)); }
    void put_u16_be(std::uint16_t v) { put_big<std::uint16_t>(v); }
    void put_u16_le(std::uint16_t v) { put_little<std::uint16_t>(v); }
    void put_u32_be(std::uint32_t v) { put_big<std::uint32_t>(v); }
    void put_u32_le(std::uint32_t v) { put_little<std::uint32_t>(v); }
    void put_u64_be(std::uint64_t v) { put_big<std::uint64_t>(v); }
    void put_u64_le(std::uint64_t v) { put_little<std::uint64_t>(v); }
    void put_i16_be(std::int16_t v) { put_u16_be(static_cast<std::uint16_t>(v)); }
    void put_i16_le(std::int16_t v) { put_u16_le(static_cast<std::uint16_t>(v)); }
    void put_i32_be(std::int32_t v) { put_u32_be(static_cast<std::uint32_t>(v)); }
    void put_i32_le(std::int32_t v) { put_u32_le(static_cast<std::uint32_t>(v)); }
    void put_i64_be(std::int64_t v) { put_u64_be(static_cast<std::uint64_t>(v)); }
    void put_i64_le(std::int64_t v) { put_u64_le(static_cast<std::uint64_t>(v)); }

    /// Sets the size to `n`; new bytes are `fill`.
    void resize(std::size_t n, std::byte fill = std::byte{0}) {
        if (n > size_) {
            reserve(n - size_);
            std::memset(data_ + size_, static_cast<int>(fill), n - size_);
        }
        size_ = n;
    }
    /// Keeps the first `n` bytes (no effect when `n >= size()`); the capacity stays.
    void truncate(std::size_t n) noexcept { size_ = std::min(size_, n); }
    /// Size 0; the capacity stays.
    void clear() noexcept { size_ = 0; }
    /// Drops the first `n` bytes.
    void advance(std::size_t n) {
        if (n > size_) detail::throw_out_of_range("bytes_mut::advance", 0, n, size_);
        data_ += n;
        size_ -= n;
        capacity_ -= n;
    }

    /// Removes the first `n` bytes and returns them as a `bytes_mut` over the same buffer (its
    /// capacity is `n`).
    bytes_mut split_to(std::size_t n) {
        if (n > size_) detail::throw_out_of_range("bytes_mut::split_to", 0, n, size_);
        bytes_mut head = share(0, n, n);
        data_ += n;
        size_ -= n;
        capacity_ -= n;
        return head;
    }
    /// Splits at `at` (up to the capacity): this keeps [0, at) with capacity `at`; the result
    /// holds the rest, with the remaining capacity.
    bytes_mut split_off(std::size_t at) {
        if (at > capacity_)
            throw std::out_of_range("asyncpat::bytes_mut::split_off: at " + std::to_string(at) +
                                    " is past the capacity " + std::to_string(capacity_));
        bytes_mut tail = share(at, size_ > at ? size_ - at : 0, capacity_ - at);
        size_ = std::min(size_, at);
        capacity_ = at;
        return tail;
    }
    /// Removes all the bytes and returns them (`split_to(size())`); the spare capacity stays here.
    bytes_mut split() { return split_to(size_); }

    /// Turns the bytes into an immutable `bytes`, in O(1); this object is then empty.
    bytes freeze() && noexcept {
        if (size_ == 0) {
            bytes_mut().swap(*this);
            return bytes();
        }
        // Our own reference goes to the result (never the last: the spare ones go first).
        if (spare_refs_ != 0) storage_->release_refs(std::exchange(spare_refs_, 0));
        bytes result(data_, size_, std::exchange(storage_, nullptr));
        data_ = nullptr;
        size_ = capacity_ = 0;
        return result;
    }

    void swap(bytes_mut& other) noexcept {
        std::swap(data_, other.data_);
        std::swap(size_, other.size_);
        std::swap(capacity_, other.capacity_);
        std::swap(storage_, other.storage_);
        std::swap(spare_refs_, other.spare_refs_);
    }
    friend void swap(bytes_mut& a, bytes_mut& b) noexcept { a.swap(b); }

    friend bool operator==(const bytes_mut& a, const bytes_mut& b) noexcept {
        return detail::equal_bytes(a.as_span(), b.as_span());
    }
    friend std::strong_ordering operator<=>(const bytes_mut& a, const bytes_mut& b) noexcept {
        return detail::compare_bytes(a.as_span(), b.as_span());
    }
    friend bool operator==(const bytes_mut& a, std::string_view b) noexcept {
        return detail::equal_bytes(a.as_span(), detail::as_byte_span(b));
    }

    /// @cond internal
    // Grows the size by `n` without initialising the new bytes (for dynamic_bytes_buffer, whose
    // users fill them at once and shrink away what they did not fill).
    void grow_uninitialised(std::size_t n) {
        reserve(n);
        size_ += n;
    }
    /// @endcond

private:
    friend class bytes;
    static constexpr std::size_t min_allocation = 64;
    static constexpr std::size_t refs_taken_ahead = 16;

    bytes_mut(std::byte* data, std::size_t size, std::size_t capacity,
              detail::bytes_storage* storage) noexcept
        : data_(data), size_(size), capacity_(capacity), storage_(storage) {}

    // A new view of the buffer takes one of the spare references, or, when none is left, adds
    // `refs_taken_ahead` at once and keeps the rest: a stream of split_to(n).freeze() (a framer,
    // a worker's snapshots) then pays one atomic add per 16 parts instead of one per part. The
    // spare references are given back with this object's own (destruction, reallocation, or
    // freeze), and counted in as ours by the uniqueness test of reserve().
    bytes_mut share(std::size_t offset, std::size_t size, std::size_t capacity) noexcept {
        if (!storage_) return bytes_mut();
        if (spare_refs_ == 0) {
            storage_->add_refs(refs_taken_ahead);
            spare_refs_ = refs_taken_ahead;
        }
        --spare_refs_;
        return bytes_mut(data_ + offset, size, capacity, storage_);
    }

    void append_byte(std::byte b) {
        if (size_ == capacity_) reserve(1);
        data_[size_++] = b;
    }
    template <typename Unsigned>
    void put_big(Unsigned v) {
        reserve(sizeof(Unsigned));
        detail::store_big_endian(data_ + size_, v);
        size_ += sizeof(Unsigned);
    }
    template <typename Unsigned>
    void put_little(Unsigned v) {
        reserve(sizeof(Unsigned));
        detail::store_little_endian(data_ + size_, v);
        size_ += sizeof(Unsigned);
    }

    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;  // bytes from data_ that belong to this view
    detail::bytes_storage* storage_ = nullptr;
    std::size_t spare_refs_ = 0;  // references to storage_ taken ahead for new views (share)
};

inline bytes bytes::copy_from(std::span<const std::byte> data) {
    if (data.empty()) return bytes();
    bytes_mut buffer;
    buffer.extend(data);
    return std::move(buffer).freeze();
}

inline std::optional<bytes_mut> bytes::try_into_mut() && {
    if (!is_unique()) return std::nullopt;
    // The buffer is writable memory the storage owns; unique, so no other view can read what is
    // written through the result.
    auto* const data = const_cast<std::byte*>(data_);
    std::size_t const capacity =
        storage_->capacity() - static_cast<std::size_t>(data - storage_->buffer());
    bytes_mut result(data, size_, capacity, std::exchange(storage_, nullptr));
    data_ = nullptr;
    size_ = 0;
    return result;
}

/// Reads typed values from the front of a `bytes` (Rust's `bytes::Buf` on `Bytes`, folly's
/// `io::Cursor`). `get_bytes` returns slices that share the buffer. Reading past the end throws
/// `std::out_of_range` and consumes nothing.
///
/// @par Thread safety
/// One cursor is used by one thread at a time.
class bytes_cursor {
public:
    bytes_cursor() noexcept = default;
    explicit bytes_cursor(bytes data) noexcept : data_(std::move(data)) {}

    std::size_t remaining() const noexcept { return data_.size(); }
    bool has_remaining() const noexcept { return !data_.empty(); }
    /// The unread bytes.
    std::span<const std::byte> chunk() const noexcept { return data_.as_span(); }
    /// The unread bytes as a `bytes` (sharing the buffer).
    const bytes& rest() const noexcept { return data_; }

    void advance(std::size_t n) {
        need("bytes_cursor::advance", n);
        data_.advance(n);
    }
    /// The next `n` bytes, sharing the buffer.
    bytes get_bytes(std::size_t n) {
        need("bytes_cursor::get_bytes", n);
        return data_.split_to(n);
    }
    /// Copies the next `out.size()` bytes into `out`.
    void copy_to(std::span<std::byte> out) {
        need("bytes_cursor::copy_to", out.size());
        if (!out.empty()) std::memcpy(out.data(), data_.data(), out.size());
        data_.advance(out.size());
    }

    std::uint8_t get_u8() { return get_big<std::uint8_t>("bytes_cursor::get_u8"); }
    std::int8_t get_i8() { return static_cast<std::int8_t>(get_u8()); }
    std::uint16_t get_u16_be() { return get_big<std::uint16_t>("bytes_cursor::get_u16_be"); }
    std::uint16_t get_u16_le() { return get_little<std::uint16_t>("bytes_cursor::get_u16_le"); }
    std::uint32_t get_u32_be() { return get_big<std::uint32_t>("bytes_cursor::get_u32_be"); }
    std::uint32_t get_u32_le() { return get_little<std::uint32_t>("bytes_cursor::get_u32_le"); }
    std::uint64_t get_u64_be() { return get_big<std::uint64_t>("bytes_cursor::get_u64_be"); }
    std::uint64_t get_u64_le() { return get_little<std::uint64_t>("bytes_cursor::get_u64_le"); }
    std::int16_t get_i16_be() { return static_cast<std::int16_t>(get_u16_be()); }
    std::int16_t get_i16_le() { return static_cast<std::int16_t>(get_u16_le()); }
    std::int32_t get_i32_be() { return static_cast<std::int32_t>(get_u32_be()); }
    std::int32_t get_i32_le() { return static_cast<std::int32_t>(get_u32_le()); }
    std::int64_t get_i64_be() { return static_cast<std::int64_t>(get_u64_be()); }
    std::int64_t get_i64_le() { return static_cast<std::int64_t>(get_u64_le()); }

private:
    void need(const char* operation, std::size_t n) const {
        if (n > data_.size()) detail::throw_past_end(operation, n, data_.size());
    }
    template <typename Unsigned>
    Unsigned get_big(const char* operation) {
        need(operation, sizeof(Unsigned));
        Unsigned const v = detail::load_big_endian<Unsigned>(data_.data());
        data_.advance(sizeof(Unsigned));
        return v;
    }
    template <typename Unsigned>
    Unsigned get_little(const char* operation) {
        need(operation, sizeof(Unsigned));
        Unsigned const v = detail::load_little_endian<Unsigned>(data_.data());
        data_.advance(sizeof(Unsigned));
        return v;
    }

    bytes data_;
};

/// An Asio DynamicBuffer (v2) over a `bytes_mut`, as `asio::dynamic_buffer` is over a
/// `std::string`: `asio::async_read(socket, asyncpat::dynamic_buffer(buf), ...)` reads straight
/// into `buf`. Copies refer to the same `bytes_mut`, which must outlive the operation. `grow`
/// throws `std::length_error` past `max_size()`.
///
/// @par Thread safety
/// As for its `bytes_mut`: one thread at a time, with no other use of that `bytes_mut` while an
/// Asio operation reads into it. Cancelling that operation leaves the bytes read so far.
class dynamic_bytes_buffer {
public:
    using const_buffers_type = asio::const_buffer;
    using mutable_buffers_type = asio::mutable_buffer;

    explicit dynamic_bytes_buffer(
        bytes_mut& target, std::size_t max_size = std::numeric_limits<std::size_t>::max()) noexcept
        : target_(&target), max_size_(max_size) {}

    std::size_t size() const noexcept { return std::min(target_->size(), max_size_); }
    std::size_t max_size() const noexcept { return max_size_; }
    std::size_t capacity() const noexcept { return std::min(target_->capacity(), max_size_); }

    mutable_buffers_type data(std::size_t pos, std::size_t n) noexcept {
        return asio::buffer(asio::mutable_buffer(target_->data(), size()) + pos, n);
    }
    const_buffers_type data(std::size_t pos, std::size_t n) const noexcept {
        return asio::buffer(asio::const_buffer(target_->data(), size()) + pos, n);
    }
    void grow(std::size_t n) {
        if (target_->size() > max_size_ || max_size_ - target_->size() < n)
            throw std::length_error("asyncpat::dynamic_bytes_buffer too long");
        target_->grow_uninitialised(n);
    }
    void shrink(std::size_t n) noexcept {
        target_->truncate(target_->size() - std::min(n, target_->size()));
    }
    void consume(std::size_t n) { target_->advance(std::min(n, target_->size())); }

private:
    bytes_mut* target_;
    std::size_t max_size_;
};

/// `asio::async_read(socket, asyncpat::dynamic_buffer(buf), ...)`: see dynamic_bytes_buffer.
inline dynamic_bytes_buffer dynamic_buffer(
    bytes_mut& target, std::size_t max_size = std::numeric_limits<std::size_t>::max()) noexcept {
    return dynamic_bytes_buffer(target, max_size);
}

namespace detail {
// Formats bytes as escaped text (`{}`, `{:s}`) or hex (`{:x}`, `{:X}`).
struct bytes_formatter {
    char presentation = 's';

    constexpr auto parse(fmt::format_parse_context& ctx) -> decltype(ctx.begin()) {
        auto it = ctx.begin();
        if (it != ctx.end() && (*it == 's' || *it == 'x' || *it == 'X')) presentation = *it++;
        if (it != ctx.end() && *it != '}')
            throw fmt::format_error("asyncpat::bytes: format spec must be empty, s, x or X");
        return it;
    }

    template <typename FormatContext>
    auto format(std::span<const std::byte> data, FormatContext& ctx) const -> decltype(ctx.out()) {
        auto out = ctx.out();
        const char* const digits = presentation == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        for (std::byte b : data) {
            auto const c = static_cast<unsigned char>(b);
            if (presentation != 's') {
                *out++ = digits[c >> 4];
                *out++ = digits[c & 0xf];
                continue;
            }
            switch (c) {
                case '\\':
                    *out++ = '\\';
                    *out++ = '\\';
                    continue;
                case '\n':
                    *out++ = '\\';
                    *out++ = 'n';
                    continue;
                case '\r':
                    *out++ = '\\';
                    *out++ = 'r';
                    continue;
                case '\t':
                    *out++ = '\\';
                    *out++ = 't';
                    continue;
                default: break;
            }
            if (c >= 0x20 && c < 0x7f) {
                *out++ = static_cast<char>(c);
            } else {
                *out++ = '\\';
                *out++ = 'x';
                *out++ = "0123456789abcdef"[c >> 4];
                *out++ = "0123456789abcdef"[c & 0xf];
            }
        }
        return out;
    }
};
}  // namespace detail

}  // namespace asyncpat

/// `fmt::format("{}", b)`: printable ASCII as is, `\\`, `\n`, `\r`, `\t`, other bytes as `\xNN`;
/// `{:x}` / `{:X}`: hex digits.
template <>
struct fmt::formatter<asyncpat::bytes> : asyncpat::detail::bytes_formatter {
    template <typename FormatContext>
    auto format(const asyncpat::bytes& b, FormatContext& ctx) const -> decltype(ctx.out()) {
        return bytes_formatter::format(b.as_span(), ctx);
    }
};
template <>
struct fmt::formatter<asyncpat::bytes_mut> : asyncpat::detail::bytes_formatter {
    template <typename FormatContext>
    auto format(const asyncpat::bytes_mut& b, FormatContext& ctx) const -> decltype(ctx.out()) {
        return bytes_formatter::format(b.as_span(), ctx);
    }
};

template <>
struct std::hash<asyncpat::bytes> {
    std::size_t operator()(const asyncpat::bytes& b) const noexcept {
        return std::hash<std::string_view>{}(b.as_string_view());
    }
};

#endif  // ASYNCPAT_BYTES_HPP
