// Test support: small tasks shared by the tests (timed values, timed failures, cancellable
// waits).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TESTS_SUPPORT_TASKS_HPP
#define ASYNCPAT_TESTS_SUPPORT_TASKS_HPP

#include <asyncpat/combinators.hpp>
#include <asyncpat/task.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>

namespace asyncpat_test {

/// Yields `value` after `delay`.
inline asyncpat::task<int> value_after(std::chrono::milliseconds delay, int value) {
    co_await asyncpat::sleep_for(delay);
    co_return value;
}

/// Throws `std::runtime_error(message)` after `delay`.
inline asyncpat::task<int> fail_after(std::chrono::milliseconds delay,
                                      std::string message = "child failed") {
    co_await asyncpat::sleep_for(delay);
    throw std::runtime_error(message);
}

/// Waits an hour; counts in `*cancellations` when it ends by cancellation (then rethrows).
inline asyncpat::task<int> wait_long(int* cancellations) {
    try {
        co_await asyncpat::sleep_for(std::chrono::hours(1));
    } catch (const std::system_error& e) {
        if (e.code() == asio::error::operation_aborted) ++*cancellations;
        throw;
    }
    co_return 0;
}

}  // namespace asyncpat_test

#endif
