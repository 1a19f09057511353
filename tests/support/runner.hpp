// Test support: run a task on a fresh io_context and check nothing is left behind.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TESTS_SUPPORT_RUNNER_HPP
#define ASYNCPAT_TESTS_SUPPORT_RUNNER_HPP

#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include <asio/io_context.hpp>

#include <stdexcept>
#include <utility>

namespace asyncpat_test {

/// Runs `work` to completion on a fresh single-threaded io_context, then drains the context and
/// throws if any work is still outstanding (a leaked timer, a task left suspended ...).
template <typename T>
T run(asyncpat::task<T> work) {
    asio::io_context io(1);
    if constexpr (std::is_void_v<T>) {
        asyncpat::sync_wait(io, std::move(work));
        io.restart();
        io.poll();
        if (!io.stopped()) throw std::logic_error("run: work left behind on the io_context");
    } else {
        T value = asyncpat::sync_wait(io, std::move(work));
        io.restart();
        io.poll();
        if (!io.stopped()) throw std::logic_error("run: work left behind on the io_context");
        return value;
    }
}

/// Runs `io` until the task behind `handle` has finished; returns its result (or rethrows its
/// exception: `operation_aborted` for an aborted task).
template <typename T>
T join_on(asio::io_context& io, asyncpat::join_handle<T>& handle) {
    auto join = [](asyncpat::join_handle<T>& h) -> asyncpat::task<T> { co_return co_await h; };
    return asyncpat::sync_wait(io, join(handle));
}

}  // namespace asyncpat_test

#endif
