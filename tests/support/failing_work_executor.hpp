// Test support: an io_context executor whose outstanding-work tracking fails on demand, as
// taking a work unit may when memory runs out (a parked asyncpat operation takes one, and on an
// executor other than a plain io_context's that copies the executor, which may allocate).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TESTS_SUPPORT_FAILING_WORK_EXECUTOR_HPP
#define ASYNCPAT_TESTS_SUPPORT_FAILING_WORK_EXECUTOR_HPP

#include <asio/any_io_executor.hpp>
#include <asio/execution.hpp>
#include <asio/io_context.hpp>
#include <asio/prefer.hpp>
#include <asio/query.hpp>
#include <asio/require.hpp>

#include <memory>
#include <new>
#include <utility>

namespace asyncpat_test {

/// Runs handlers on an io_context (never inline). While `*fail_next_work` is true, the next
/// request for outstanding-work tracking throws `std::bad_alloc` (and resets the flag); while
/// `*fail_next_execute` is true (if given), so does the next `execute` (queueing a handler).
/// Single-threaded use only: the flags are plain bools.
class failing_work_executor {
public:
    failing_work_executor(asio::any_io_executor inner, std::shared_ptr<bool> fail_next_work,
                          std::shared_ptr<bool> fail_next_execute = nullptr)
        : inner_(asio::require(std::move(inner), asio::execution::blocking.never)),
          fail_next_work_(std::move(fail_next_work)),
          fail_next_execute_(std::move(fail_next_execute)) {}

    asio::execution_context& query(asio::execution::context_t) const noexcept {
        return asio::query(inner_, asio::execution::context);
    }
    static constexpr asio::execution::blocking_t query(asio::execution::blocking_t) noexcept {
        return asio::execution::blocking.never;
    }
    failing_work_executor require(asio::execution::blocking_t::never_t) const { return *this; }
    failing_work_executor require(asio::execution::outstanding_work_t::tracked_t) const {
        if (*fail_next_work_) {
            *fail_next_work_ = false;
            throw std::bad_alloc();
        }
        return failing_work_executor(
            asio::prefer(inner_, asio::execution::outstanding_work.tracked), fail_next_work_,
            fail_next_execute_);
    }
    failing_work_executor require(asio::execution::outstanding_work_t::untracked_t) const {
        return failing_work_executor(
            asio::prefer(inner_, asio::execution::outstanding_work.untracked), fail_next_work_,
            fail_next_execute_);
    }

    template <typename Function>
    void execute(Function&& f) const {
        if (fail_next_execute_ && *fail_next_execute_) {
            *fail_next_execute_ = false;
            throw std::bad_alloc();
        }
        inner_.execute(std::forward<Function>(f));
    }

    friend bool operator==(const failing_work_executor& a,
                           const failing_work_executor& b) noexcept {
        return a.inner_ == b.inner_ && a.fail_next_work_ == b.fail_next_work_ &&
               a.fail_next_execute_ == b.fail_next_execute_;
    }
    friend bool operator!=(const failing_work_executor& a,
                           const failing_work_executor& b) noexcept {
        return !(a == b);
    }

private:
    asio::any_io_executor inner_;
    std::shared_ptr<bool> fail_next_work_;
    std::shared_ptr<bool> fail_next_execute_;
};

}  // namespace asyncpat_test

#endif
