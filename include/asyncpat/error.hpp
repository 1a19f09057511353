// asyncpat: error codes and their std::error_category.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_ERROR_HPP
#define ASYNCPAT_ERROR_HPP

#include <string>
#include <system_error>
#include <type_traits>

namespace asyncpat {

/// Error conditions reported by asyncpat.
///
/// asyncpat coroutines report them as `std::system_error`; `try_*` operations and completion-token
/// forms report them as `std::error_code`. Cancellation is reported with Asio's
/// `asio::error::operation_aborted`, never with a value from this enum.
enum class errc {
    channel_closed = 1,  ///< The channel is closed (no receiver left, or closed explicitly).
    channel_full,        ///< A non-waiting send found no room.
    channel_empty,       ///< A non-waiting receive found nothing.
    broken_promise,      ///< A oneshot sender was destroyed without sending.
    stale_handle,        ///< A handle refers to a slot that has been reused or released.
    arena_full,          ///< No free slot in a message arena.
    message_too_large,   ///< A message exceeds the arena's slot size.
    frame_too_large,     ///< A frame header announced more bytes than the configured maximum.
    truncated_frame,     ///< The byte stream ended in the middle of a frame.
    timed_out,           ///< `timeout()` expired before the operation completed.
    abandoned,           ///< A task can no longer complete (its executor shut down or stopped).
    already_joined,      ///< The result of a join handle was already taken.
    already_waiting,     ///< Another coroutine is already waiting on this object.
};

namespace detail {
class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "asyncpat"; }

    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
            case errc::channel_closed: return "channel closed";
            case errc::channel_full: return "channel full";
            case errc::channel_empty: return "channel empty";
            case errc::broken_promise: return "sender destroyed without sending a value";
            case errc::stale_handle: return "stale handle: the slot was released or reused";
            case errc::arena_full: return "arena full";
            case errc::message_too_large: return "message larger than the arena's slot size";
            case errc::frame_too_large: return "frame larger than the configured maximum";
            case errc::truncated_frame: return "stream ended in the middle of a frame";
            case errc::timed_out: return "operation timed out";
            case errc::abandoned:
                return "the task can no longer complete (its executor was shut down or stopped)";
            case errc::already_joined: return "join handle result already taken";
            case errc::already_waiting: return "another coroutine is already waiting";
        }
        return "unknown asyncpat error";
    }
};

// "No error", for operations that succeed on a hot path: a value-initialised std::error_code
// calls std::system_category(), a function in libstdc++'s shared library, every time.
inline std::error_code no_error() noexcept {
    static const std::error_code none;
    return none;
}
}  // namespace detail

/// The category of asyncpat's error codes (name "asyncpat").
inline const std::error_category& error_category() noexcept {
    static const detail::error_category_impl category;
    return category;
}

/// Makes a `std::error_code` from an `asyncpat::errc`.
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

}  // namespace asyncpat

template <>
struct std::is_error_code_enum<asyncpat::errc> : std::true_type {};

#endif  // ASYNCPAT_ERROR_HPP
