// Test support: counts global operator new calls. Include in exactly one translation unit of a
// test executable (it replaces the global allocation functions).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TESTS_SUPPORT_ALLOC_COUNTER_HPP
#define ASYNCPAT_TESTS_SUPPORT_ALLOC_COUNTER_HPP

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace asyncpat_test {
inline std::atomic<long> allocations{0};
inline long allocation_count() noexcept {
    return allocations.load(std::memory_order_relaxed);
}
}  // namespace asyncpat_test

// Every replaceable form is replaced, so no allocation escapes the count and ASan sees matching
// pairs.
namespace asyncpat_test::detail {
inline void* counted_alloc(std::size_t size, std::size_t alignment) noexcept {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (size == 0) size = 1;
    if (alignment <= alignof(std::max_align_t)) return std::malloc(size);
    return std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}
inline void* counted_alloc_or_throw(std::size_t size, std::size_t alignment) {
    if (void* p = counted_alloc(size, alignment)) return p;
    throw std::bad_alloc();
}
}  // namespace asyncpat_test::detail

// clang-format off
void* operator new(std::size_t n) { return asyncpat_test::detail::counted_alloc_or_throw(n, 0); }
void* operator new[](std::size_t n) { return asyncpat_test::detail::counted_alloc_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return asyncpat_test::detail::counted_alloc_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return asyncpat_test::detail::counted_alloc_or_throw(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return asyncpat_test::detail::counted_alloc(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return asyncpat_test::detail::counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return asyncpat_test::detail::counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return asyncpat_test::detail::counted_alloc(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
// clang-format on

#endif
