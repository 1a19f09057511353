// asyncpat: configuration hooks and compiler workarounds.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_CONFIG_HPP
#define ASYNCPAT_CONFIG_HPP

#include <asyncpat/version.hpp>

/// Per-thread coroutine frame cache: the number of cached frames kept per size class.
/// Frames are recycled in 64-byte size classes up to `ASYNCPAT_FRAME_CACHE_MAX_BYTES`; larger
/// frames and frames beyond this count go straight to `operator new`/`operator delete`.
#ifndef ASYNCPAT_FRAME_CACHE_PER_CLASS
#define ASYNCPAT_FRAME_CACHE_PER_CLASS 64
#endif

/// The largest coroutine frame (in bytes) the per-thread frame cache recycles.
#ifndef ASYNCPAT_FRAME_CACHE_MAX_BYTES
#define ASYNCPAT_FRAME_CACHE_MAX_BYTES 2048
#endif

/// Number of threads of the default blocking pool used by `spawn_blocking`.
#ifndef ASYNCPAT_BLOCKING_POOL_THREADS
#define ASYNCPAT_BLOCKING_POOL_THREADS 8
#endif

/// Hand-off budget: how many tasks an Asio handler of an `io_context` may run one after another
/// through asyncpat's per-thread ready slot (a channel receiver woken by a sender on the same
/// thread runs next, by symmetric transfer, without a trip through the scheduler). After this
/// many, woken tasks are posted, so other handlers on the `io_context` are not starved. 128 is
/// tokio's cooperative budget (operations per task poll); 64 cost ping-pong about 7%.
#ifndef ASYNCPAT_HANDOFF_BUDGET
#define ASYNCPAT_HANDOFF_BUDGET 128
#endif

/// Sender spin: a send (or reserve) that finds a thread-safe channel full while its receiver
/// runs on another thread waits up to this many microseconds, spinning, for the receiver to free
/// a batch of cells (half the capacity, at most 256) before it parks. Parking costs the receiving
/// thread a wake of the sender's thread for every few values once the sender is the faster end;
/// the spin lets the two threads run in batches instead. Only a task running in a handler of its
/// own io_context spins, a successful spin counts against ASYNCPAT_HANDOFF_BUDGET, a cancelled
/// task does not spin, and after a spin that times out the channel's next 64 sends that find it
/// full park at once (so a receiver that has stopped costs its senders one spin per 64 waits
/// between them). 0 turns the spin off.
#ifndef ASYNCPAT_CHANNEL_SEND_SPIN_MICROSECONDS
#define ASYNCPAT_CHANNEL_SEND_SPIN_MICROSECONDS 50
#endif

/// No atomic instructions on the hot paths in a process that has never started a second thread
/// (glibc's `__libc_single_threaded`, the rule libstdc++ applies to `shared_ptr`): the counts of
/// `bytes` storages and `message_arena` slots, the arena's free-slot stack, the concurrent
/// channel's lock-free send and receive, a oneshot's state word, and the spin locks that guard
/// parking and cancellation are then updated with plain loads and stores (detail/
/// single_threaded.hpp). Once a thread has started, they are atomic
/// read-modify-writes again; the thread's start orders what came before. (Current glibc never
/// sets the flag back; a future one may, but only after the other threads are gone, through a
/// call that synchronises with them, which keeps this correct.)
/// Set to 0 to keep them atomic always, e.g. in a program that starts threads by other means
/// than `pthread_create`/`std::thread` (a raw `clone`) or updates these objects from a signal
/// handler. Defaults to 1 where the C library provides the flag, and is 0 elsewhere.
#ifndef ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH
#if defined(__has_include)
#if __has_include(<sys/single_threaded.h>)
#define ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH 1
#endif
#endif
#ifndef ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH
#define ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH 0
#endif
#endif

/// Workaround for GCC: symmetric transfer (returning a coroutine handle from `await_suspend`)
/// is not compiled as a guaranteed tail call by GCC (12 and 13 checked) without optimisation or
/// with AddressSanitizer, so a loop awaiting tasks that complete synchronously grows the stack
/// until it overflows (reported e.g. as jbaldwin/libcoro#273 and #277; clang emits a tail call).
/// When set, asyncpat routes every transfer through a per-thread trampoline loop instead:
/// constant stack depth on every compiler, at the cost of a thread-local access per transfer.
/// Defaults to 1 with GCC and 0 with clang.
#ifndef ASYNCPAT_WORKAROUND_GCC_SYMMETRIC_TRANSFER
#if defined(__GNUC__) && !defined(__clang__)
#define ASYNCPAT_WORKAROUND_GCC_SYMMETRIC_TRANSFER 1
#else
#define ASYNCPAT_WORKAROUND_GCC_SYMMETRIC_TRANSFER 0
#endif
#endif

/// Workaround for GCC 12: in the `asio::awaitable` fast path of `sender::async_send`, the natural
/// form (a `switch` whose cases `co_return` or throw, then `initiate_send{std::move(state)}` from
/// the by-value coroutine parameter) released the channel's shared state once too often under
/// g++ 12.2 (heap-use-after-free found by ASan in channel_test; the bug was not reduced further,
/// clang 19 is fine). When set, that coroutine and its receive twin use if-chains and copy the
/// parameter instead. Defaults to 1 with GCC and 0 with clang.
#ifndef ASYNCPAT_WORKAROUND_GCC_AWAITABLE_PARAMETER
#if defined(__GNUC__) && !defined(__clang__)
#define ASYNCPAT_WORKAROUND_GCC_AWAITABLE_PARAMETER 1
#else
#define ASYNCPAT_WORKAROUND_GCC_AWAITABLE_PARAMETER 0
#endif
#endif

#endif  // ASYNCPAT_CONFIG_HPP
