// asyncpat: per-thread recycling allocator for coroutine frames.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_DETAIL_FRAME_ALLOCATOR_HPP
#define ASYNCPAT_DETAIL_FRAME_ALLOCATOR_HPP

#include <asyncpat/config.hpp>

#include <cstddef>
#include <new>

// Under AddressSanitizer a cached frame is poisoned (but for the free-list link in its first
// bytes), so a use of a frame after it was destroyed is still reported although the memory
// was not returned to the allocator.
#if defined(__SANITIZE_ADDRESS__)
#define ASYNCPAT_DETAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASYNCPAT_DETAIL_ASAN 1
#endif
#endif
#if defined(ASYNCPAT_DETAIL_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace asyncpat::detail {

// Why: a task frame is allocated on every call of a task function and freed when the awaiter is
// done with it. Asio's recycling allocator keeps two blocks per thread, so nested or concurrent
// frames fall back to malloc. Here every thread keeps a free list per 64-byte size class.
//
// Invariants:
// - A block is always `class_index(size) + 1` granules long, so any thread may cache a block freed
//   by another thread (a frame often dies on a different thread from the one that created it);
//   the memory itself always comes from and goes back to global operator new/delete, aligned to
//   a granule (64 bytes).
// - Each free list holds at most ASYNCPAT_FRAME_CACHE_PER_CLASS blocks; the rest are deleted.
// - The cache is emptied when its thread exits, so nothing leaks (LeakSanitizer stays quiet).
class frame_cache {
public:
    static constexpr std::size_t granule = 64;
    static constexpr std::size_t class_count = ASYNCPAT_FRAME_CACHE_MAX_BYTES / granule;
    // Every block is aligned to a granule: a frame or state whose alignment is at most 64 bytes
    // (an over-aligned result type, a cache-line-aligned member) is placed correctly.
    static constexpr std::align_val_t block_alignment{granule};

    // The fast paths are forced inline: they sit in every coroutine ramp and destroy function.
    [[gnu::always_inline]] static void* allocate(std::size_t size) {
        std::size_t const index = class_index(size);
        if (index < class_count) {
            // No registration check here: a list only has blocks once deallocate() registered
            // the drainer.
            lists& cache = state();
            if (free_block* block = cache.heads[index]) [[likely]] {
                cache.heads[index] = block->next;
                --cache.counts[index];
                unpoison(block, index);
                return block;
            }
            return ::operator new((index + 1) * granule, block_alignment);
        }
        return ::operator new(size, block_alignment);
    }

    [[gnu::always_inline]] static void deallocate(void* pointer, std::size_t size) noexcept {
        std::size_t const index = class_index(size);
        if (index < class_count) {
            lists& cache = state();
            if (cache.counts[index] < cache.limit) [[likely]] {
                auto* block = static_cast<free_block*>(pointer);
                block->next = cache.heads[index];
                cache.heads[index] = block;
                ++cache.counts[index];
                poison(block, index);
                return;
            }
            return deallocate_slow(pointer, index);
        }
        ::operator delete(pointer, size, block_alignment);
    }

private:
    struct free_block {
        free_block* next;
    };

    // Trivially constructible and destructible, so a thread_local of it needs no guard on access
    // and stays usable during thread exit. `limit` is 0 until the drainer below is registered and
    // again after it ran (then `registered` stays true), which sends every block straight back to
    // operator delete.
    struct lists {
        free_block* heads[class_count];
        unsigned counts[class_count];
        unsigned limit;
        bool registered;
    };

    // Empties the lists when the thread exits.
    struct drainer {
        drainer() = default;
        drainer(const drainer&) = delete;
        drainer& operator=(const drainer&) = delete;
        ~drainer() {
            lists& cache = state();
            cache.limit = 0;
            for (std::size_t index = 0; index < class_count; ++index) {
                while (free_block* block = cache.heads[index]) {
                    cache.heads[index] = block->next;
                    unpoison(block, index);
                    ::operator delete(block, (index + 1) * granule, block_alignment);
                }
                cache.counts[index] = 0;
            }
        }
    };

    static void poison([[maybe_unused]] free_block* block,
                       [[maybe_unused]] std::size_t index) noexcept {
#if defined(ASYNCPAT_DETAIL_ASAN)
        ASAN_POISON_MEMORY_REGION(reinterpret_cast<char*>(block) + sizeof(free_block),
                                  (index + 1) * granule - sizeof(free_block));
#endif
    }
    static void unpoison([[maybe_unused]] free_block* block,
                         [[maybe_unused]] std::size_t index) noexcept {
#if defined(ASYNCPAT_DETAIL_ASAN)
        ASAN_UNPOISON_MEMORY_REGION(block, (index + 1) * granule);
#endif
    }

    static constexpr std::size_t class_index(std::size_t size) noexcept {
        return (size - 1) / granule;
    }

    static lists& state() noexcept {
        static thread_local constinit lists cache{};
        return cache;
    }

    // The list is full, or this thread has not registered its drainer yet (limit 0).
    [[gnu::noinline]] static void deallocate_slow(void* pointer, std::size_t index) noexcept {
        lists& cache = state();
        if (!cache.registered) {
            cache.registered = true;
            static thread_local drainer drain;
            (void)drain;
            cache.limit = ASYNCPAT_FRAME_CACHE_PER_CLASS;
            return deallocate(pointer, (index + 1) * granule);
        }
        ::operator delete(pointer, (index + 1) * granule, block_alignment);
    }
};

// Gives a promise type its frames from the per-thread cache. Blocks are 64-byte aligned, and a
// frame needs no more: task<T> refuses a T aligned beyond 64 bytes. (No aligned overloads here:
// clang 19 picks a promise's aligned operator delete for an over-aligned frame and then calls
// it without the alignment argument.)
struct frame_allocated {
    static void* operator new(std::size_t size) { return frame_cache::allocate(size); }
    static void operator delete(void* pointer, std::size_t size) noexcept {
        frame_cache::deallocate(pointer, size);
    }
};

// Gives a class (a task's root, a shared state) its objects from the per-thread cache. An
// object aligned to at most 64 bytes is placed correctly in a cache block; one aligned beyond
// that gets its own aligned allocation.
struct cache_allocated : frame_allocated {
    using frame_allocated::operator new;
    using frame_allocated::operator delete;
    static void* operator new(std::size_t size, std::align_val_t alignment) {
        if (alignment <= frame_cache::block_alignment) return frame_cache::allocate(size);
        return ::operator new(size, alignment);
    }
    static void operator delete(void* pointer, std::size_t size,
                                std::align_val_t alignment) noexcept {
        if (alignment <= frame_cache::block_alignment)
            frame_cache::deallocate(pointer, size);
        else
            ::operator delete(pointer, size, alignment);
    }
};

}  // namespace asyncpat::detail

#undef ASYNCPAT_DETAIL_ASAN

#endif  // ASYNCPAT_DETAIL_FRAME_ALLOCATOR_HPP
