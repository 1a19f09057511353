// asyncpat internals: atomic updates that are plain loads and stores while the process has never
// started a second thread (see ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH in config.hpp).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_DETAIL_SINGLE_THREADED_HPP
#define ASYNCPAT_DETAIL_SINGLE_THREADED_HPP

#include <asyncpat/config.hpp>

#include <atomic>
#include <type_traits>

#if ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH
#include <sys/single_threaded.h>
#endif

namespace asyncpat::detail {

// True while the process has only ever had one thread; then no other thread can see a plain
// update, and starting the first one orders every earlier update before that thread's first
// step.
inline bool process_is_single_threaded() noexcept {
#if ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH
    return __libc_single_threaded != 0;
#else
    return false;
#endif
}

// compare_exchange_weak, as a load and a store while the process is single-threaded (it then
// never fails spuriously).
template <typename T>
bool compare_exchange_weak(std::atomic<T>& word, T& expected, T desired, std::memory_order success,
                           std::memory_order failure) noexcept {
    static_assert(std::is_integral_v<T>, "compares values, as a CAS of an integer word does");
    if (process_is_single_threaded()) {
        T const current = word.load(std::memory_order_relaxed);
        if (current != expected) {
            expected = current;
            return false;
        }
        word.store(desired, std::memory_order_relaxed);
        return true;
    }
    return word.compare_exchange_weak(expected, desired, success, failure);
}

// fetch_add, fetch_sub, fetch_or and exchange, likewise: each returns the previous value.
template <typename T>
T fetch_add(std::atomic<T>& word, T n, std::memory_order order) noexcept {
    if (process_is_single_threaded()) {
        T const current = word.load(std::memory_order_relaxed);
        word.store(current + n, std::memory_order_relaxed);
        return current;
    }
    return word.fetch_add(n, order);
}
template <typename T>
T fetch_sub(std::atomic<T>& word, T n, std::memory_order order) noexcept {
    if (process_is_single_threaded()) {
        T const current = word.load(std::memory_order_relaxed);
        word.store(current - n, std::memory_order_relaxed);
        return current;
    }
    return word.fetch_sub(n, order);
}
template <typename T>
T fetch_or(std::atomic<T>& word, T bits, std::memory_order order) noexcept {
    if (process_is_single_threaded()) {
        T const current = word.load(std::memory_order_relaxed);
        word.store(current | bits, std::memory_order_relaxed);
        return current;
    }
    return word.fetch_or(bits, order);
}
template <typename T>
T exchange(std::atomic<T>& word, T desired, std::memory_order order) noexcept {
    if (process_is_single_threaded()) {
        T const current = word.load(std::memory_order_relaxed);
        word.store(desired, std::memory_order_relaxed);
        return current;
    }
    return word.exchange(desired, order);
}

}  // namespace asyncpat::detail

#endif  // ASYNCPAT_DETAIL_SINGLE_THREADED_HPP
