// asyncpat: the one place that includes Asio; version floor and compatibility aliases.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_DETAIL_ASIO_HPP
#define ASYNCPAT_DETAIL_ASIO_HPP

// Asio 1.22 does not detect coroutine support under clang with libstdc++; the CMake target
// asio::asio defines ASIO_HAS_CO_AWAIT and ASIO_HAS_STD_COROUTINE for clang (see
// cmake/asyncpatAsio.cmake). Users who bypass CMake must define them the same way.
#include <asio/any_io_executor.hpp>
#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/dispatch.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/system_executor.hpp>
#include <asio/thread_pool.hpp>
#include <asio/version.hpp>

#include <type_traits>

#if ASIO_VERSION < 102200
#error "asyncpat needs standalone Asio 1.22 or newer"
#endif

#if defined(ASIO_HAS_CO_AWAIT)
#include <asio/awaitable.hpp>
#include <asio/use_awaitable.hpp>
#endif

#if ASIO_VERSION >= 102300
#include <asio/as_tuple.hpp>
#else
#include <asio/experimental/as_tuple.hpp>
#endif

namespace asyncpat::detail::net {
#if ASIO_VERSION >= 102300
using asio::as_tuple;
#else
using asio::experimental::as_tuple;
#endif
}  // namespace asyncpat::detail::net

namespace asyncpat::detail {
// Recognises asio::use_awaitable (any executor), for the async_* forms that return an
// asio::awaitable with a fast path instead of initiating an asynchronous operation.
template <typename Token>
struct use_awaitable_token : std::false_type {};
#if defined(ASIO_HAS_CO_AWAIT)
template <typename Executor>
struct use_awaitable_token<asio::use_awaitable_t<Executor>> : std::true_type {
    using executor_type = Executor;
};
#endif
template <typename Token>
inline constexpr bool is_use_awaitable = use_awaitable_token<std::decay_t<Token>>::value;
}  // namespace asyncpat::detail

#endif  // ASYNCPAT_DETAIL_ASIO_HPP
