// asyncpat: concurrent stream adapters and sinks: buffered, buffer_unordered, merge,
// ready_chunks, for_each_concurrent.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_STREAM_CONCURRENT_HPP
#define ASYNCPAT_STREAM_CONCURRENT_HPP

#include <asyncpat/channel.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/stream/adapters.hpp>
#include <asyncpat/stream/async_stream.hpp>
#include <asyncpat/stream/generator.hpp>
#include <asyncpat/task.hpp>
#include <asyncpat/task_group.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace asyncpat {

namespace detail {

template <typename Awaitable>
task<await_result_t<Awaitable>> await_in_task(Awaitable awaitable) {
    co_return co_await std::move(awaitable);
}

// An item of a stream of work, as a task: a task as it is, any other awaitable awaited in one.
template <typename Item>
auto as_task(Item item) {
    if constexpr (is_task<Item>::value)
        return item;
    else
        return await_in_task(std::move(item));
}
template <typename Item>
using task_result_t = await_result_t<decltype(as_task(std::declval<Item>()))>;

template <typename Awaitable>
task<void> await_discarding_result(Awaitable awaitable) {
    (void)co_await std::move(awaitable);
}
template <typename Item>
task<void> as_void_task(Item item) {
    if constexpr (std::is_same_v<Item, task<void>>)
        return item;
    else
        return await_discarding_result(std::move(item));
}

inline void check_limit(std::size_t limit, char const* adapter) {
    if (limit == 0)
        throw std::invalid_argument(std::string("asyncpat::") + adapter +
                                    ": the limit must be at least 1");
}

// A spawned task that must not outlive the stream that spawned it (a feeder, an item's work):
// aborted, if still running, when this is destroyed, and its outcome (an exception included)
// dropped rather than reported as unhandled: nobody will read it.
template <typename R>
class owned_work {
public:
    explicit owned_work(join_handle<R> handle) noexcept : handle_(std::move(handle)) {}
    owned_work(owned_work&&) noexcept = default;
    owned_work& operator=(owned_work&&) = delete;
    ~owned_work() { handle_.abort_and_discard(); }
    join_handle<R>& handle() noexcept { return handle_; }

private:
    join_handle<R> handle_;
};

// ---- buffered and buffer_unordered
//
// A feeder task pulls the stream and spawns each item's work, at most `limit` items ahead of
// what the consumer has been given: it takes a slot (a token in a channel of `limit`) before each
// pull, and the consumer gives the slot back when it delivers that item's result. Meanwhile the
// consumer waits for results, not for the stream: buffered for the oldest task, buffer_unordered
// for whichever of its task group finishes first, and only for the feeder's next report when
// nothing is out. So a result is delivered as soon as it is ready (buffered: as soon as it and
// every result before it are), also while the stream waits for its next item: a consumer that
// feeds the stream from the results (a crawler) does not deadlock, as with Rust's `Buffered`.

// What the feeder reports: an item's task in `work` (buffered: the task itself;
// buffer_unordered: a token, the task went into the group), or (none) the stream's end or error.
// The consumer takes the reports as they come (buffered) or whenever it looks for results
// (buffer_unordered), so a channel of `limit + 1` holds them all and the feeder does not wait for
// room in practice.
template <typename Work>
struct feeder_report {
    std::optional<Work> work;
    std::exception_ptr error;
};

// Pulls `stream` while a slot is free, and hands each item to `launch`, which spawns its task and
// returns the report to send.
template <async_stream S, typename Work, typename Launch>
task<void> feed_work(S stream, sender<char> slots, sender<feeder_report<Work>> reports,
                     Launch launch) {
    std::exception_ptr error;
    try {
        for (;;) {
            char slot = 0;
            co_await slots.send(std::move(slot));  // waits while `limit` items are out
            std::optional<stream_value_t<S>> item = co_await stream.next();
            if (!item) break;
            // (A named report moved into send: see docs/compilers.md, section 2c.)
            feeder_report<Work> report = launch(std::move(*item));
            co_await reports.send(std::move(report));
        }
    } catch (...) {
        error = std::current_exception();
    }
    // The end, or the stream's error: sent, never dropped, since the consumer may be waiting for
    // it. (The feeder is cancelled, and this send fails, only once the consumer's stream is gone:
    // then nobody reads it.)
    feeder_report<Work> last{std::nullopt, std::move(error)};  // (the feeder keeps no copy)
    co_await reports.send(std::move(last));
}

// The channels of buffered and buffer_unordered are allocated up front: a larger limit (a huge
// one meant as "no bound") counts as this one.
inline constexpr std::size_t max_buffered_limit = std::size_t{1} << 16;

template <async_stream S>
generator<task_result_t<stream_value_t<S>>> buffered_generator(S stream, std::size_t limit) {
    using result_type = task_result_t<stream_value_t<S>>;
    using report = feeder_report<owned_work<result_type>>;
    limit = std::min(limit, max_buffered_limit);
    any_executor const ex = co_await this_task::executor;
    auto [reports_tx, reports] = make_channel<report>(limit + 1);
    auto [slots_tx, slots] = make_channel<char>(limit);
    auto launch = [ex](stream_value_t<S>&& item) {
        return report{owned_work<result_type>(spawn(ex, as_task(std::move(item)))), {}};
    };
    owned_work<void> const feeder(
        spawn(ex, feed_work<S, owned_work<result_type>>(std::move(stream), std::move(slots_tx),
                                                        std::move(reports_tx), std::move(launch))));
    // The reports come in the stream's order: the oldest task is the next one reported.
    while (std::optional<report> next = co_await reports.receive()) {
        if (!next->work) {
            if (next->error) std::rethrow_exception(next->error);
            co_return;
        }
        result_type value = co_await next->work->handle();  // rethrows the task's exception
        std::error_code ec;
        (void)slots.try_receive(ec);  // its slot goes back to the feeder
        co_yield std::move(value);
    }
}

template <async_stream S>
generator<task_result_t<stream_value_t<S>>> buffer_unordered_generator(S stream,
                                                                       std::size_t limit) {
    using result_type = task_result_t<stream_value_t<S>>;
    using report = feeder_report<char>;  // (a token: the task went into the group)
    limit = std::min(limit, max_buffered_limit);
    any_executor const ex = co_await this_task::executor;
    // Shared with the feeder, which spawns into it; cancelled when this stream goes (and
    // destroyed, cancelling any task spawned after that, when the feeder has gone too).
    auto group = std::make_shared<task_group<result_type>>(ex);
    group->discard_uncollected();  // dropped early, the stream's unread results are nobody's
    struct cancel_at_exit {
        task_group<result_type>& group;
        ~cancel_at_exit() {
            try {
                group.cancel();
            } catch (...) {  // out of memory dispatching a cancellation: that task runs on
            }
        }
    } const cancel_group{*group};
    auto [reports_tx, reports] = make_channel<report>(limit + 1);
    auto [slots_tx, slots] = make_channel<char>(limit);
    auto launch = [group](stream_value_t<S>&& item) {
        group->spawn(as_task(std::move(item)));
        return report{char{}, {}};
    };
    owned_work<void> const feeder(
        spawn(ex, feed_work<S, char>(std::move(stream), std::move(slots_tx), std::move(reports_tx),
                                     std::move(launch))));
    std::optional<report> last;  // the stream's end or error, once reported
    for (;;) {
        // Reports that came meanwhile (a task went into the group) matter only as wake-ups: take
        // them, so that the feeder never waits for room to report.
        while (!last) {
            std::optional<report> spawned = reports.try_receive();
            if (!spawned) break;
            if (!spawned->work) last.emplace(std::move(*spawned));
        }
        if (!group->empty()) {
            std::optional<result_type> value = co_await group->next();  // rethrows a failure
            if (value) {
                std::error_code ec;
                (void)slots.try_receive(ec);  // its slot goes back to the feeder
                co_yield std::move(*value);
            }
            continue;
        }
        if (last) {
            if (last->error) std::rethrow_exception(last->error);
            co_return;
        }
        std::optional<report> next = co_await reports.receive();  // nothing is out: wait
        if (!next) co_return;  // (not expected: the feeder reports its end before it goes)
        if (!next->work) last.emplace(std::move(*next));
    }
}

// What a feeder (merge, ready_chunks) reports: an item, an error, or (neither) the end of its
// stream.
template <typename T>
struct feed_event {
    std::optional<T> item;
    std::exception_ptr error;
};

// How far each feeder of a merge has got. A feeder that is two items ahead of the other (while
// the other is still running) yields to the executor after its send: otherwise a feeder woken
// through the ready slot could run many items before the other is even scheduled.
struct merge_balance {
    std::atomic<std::uint64_t> sent[2] = {0, 0};
    std::atomic<bool> ended[2] = {false, false};
};

// Pulls `stream` into `tx` (an item per event, then an event for the end or the error). With a
// balance, the feeder is side `side` of a merge.
template <async_stream S, typename T>
task<void> feed_into(S stream, sender<feed_event<T>> tx, std::shared_ptr<merge_balance> balance,
                     int side) {
    int const other = 1 - side;
    std::exception_ptr error;
    try {
        while (std::optional<stream_value_t<S>> item = co_await stream.next()) {
            // A named event, not a temporary in the co_await expression: g++ 12.2 relocates
            // such a temporary bitwise, leaving a short string pointing into the old place
            // (docs/compilers.md, section 2c).
            feed_event<T> event{T(std::move(*item)), nullptr};
            co_await tx.send(std::move(event));
            if (!balance) continue;
            std::uint64_t const mine = balance->sent[side].fetch_add(1, std::memory_order_relaxed);
            if (mine > balance->sent[other].load(std::memory_order_relaxed) &&
                !balance->ended[other].load(std::memory_order_relaxed))
                co_await this_task::yield();
        }
    } catch (send_error<feed_event<T>>&) {
        co_return;  // the merged stream is gone (or this feeder was aborted)
    } catch (...) {
        error = std::current_exception();
    }
    if (balance) balance->ended[side].store(true, std::memory_order_relaxed);
    try {
        feed_event<T> last{std::nullopt, error};
        co_await tx.send(std::move(last));
    } catch (send_error<feed_event<T>>&) {
        // the merged stream is gone: nobody is left to tell
    }
}

template <async_stream First, async_stream Second>
generator<stream_value_t<First>> merge_generator(First first, Second second) {
    using value_type = stream_value_t<First>;
    any_executor const ex = co_await this_task::executor;
    auto [tx, rx] = make_channel<feed_event<value_type>>(1);
    auto balance = std::make_shared<merge_balance>();
    owned_work<void> const first_feeder(
        spawn(ex, feed_into<First, value_type>(std::move(first), tx, balance, 0)));
    owned_work<void> const second_feeder(
        spawn(ex, feed_into<Second, value_type>(std::move(second), std::move(tx), balance, 1)));
    int running = 2;
    while (running > 0) {
        std::optional<feed_event<value_type>> event = co_await rx.receive();
        if (!event) co_return;
        if (event->error) std::rethrow_exception(event->error);
        if (!event->item) {
            --running;
            continue;
        }
        co_yield std::move(*event->item);
    }
}

template <typename S>
concept has_try_receive = requires(S& s) {
    { s.try_receive() } -> std::same_as<std::optional<stream_value_t<S>>>;
};

// ready_chunks over a stream that can say what is ready (a channel receiver).
template <async_stream S>
    requires has_try_receive<S>
generator<std::vector<stream_value_t<S>>> ready_chunks_generator(S stream, std::size_t limit) {
    while (std::optional<stream_value_t<S>> first = co_await stream.next()) {
        std::vector<stream_value_t<S>> chunk;
        chunk.push_back(std::move(*first));
        while (chunk.size() < limit) {
            std::optional<stream_value_t<S>> more = stream.try_receive();
            if (!more) break;
            chunk.push_back(std::move(*more));
        }
        co_yield std::move(chunk);
    }
}

// ready_chunks over any other stream: a feeder task pulls it into a channel of `limit` items
// meanwhile, and a chunk is what the channel holds.
template <async_stream S>
generator<std::vector<stream_value_t<S>>> ready_chunks_generator(S stream, std::size_t limit) {
    using value_type = stream_value_t<S>;
    auto [tx, rx] = make_channel<feed_event<value_type>>(limit);
    owned_work<void> const feeder(
        spawn(co_await this_task::executor,
              feed_into<S, value_type>(std::move(stream), std::move(tx), nullptr, 0)));
    bool ended = false;
    while (!ended) {
        std::optional<feed_event<value_type>> event = co_await rx.receive();
        if (!event) co_return;  // the feeder is gone
        std::vector<value_type> chunk;
        std::exception_ptr error;
        while (event) {
            if (event->error) {
                error = event->error;
                break;
            }
            if (!event->item) {
                ended = true;
                break;
            }
            chunk.push_back(std::move(*event->item));
            if (chunk.size() == limit) break;
            event = rx.try_receive();
        }
        // The items that came before an error are delivered first; the error comes with the
        // next pull.
        if (!chunk.empty()) co_yield std::move(chunk);
        if (error) std::rethrow_exception(error);
    }
}

}  // namespace detail

/// `s | ready_chunks(n)`: `std::vector`s of the items that are ready, up to `n`: waits for one
/// item, then adds what is available without waiting. Over a channel receiver that is what the
/// channel holds; over any other stream, a task pulls the stream into a channel of `n` items
/// while the consumer is busy (dropping the chunked stream aborts it). Throws
/// `std::invalid_argument` for 0.
inline auto ready_chunks(std::size_t limit) {
    detail::check_limit(limit, "ready_chunks");
    return detail::generator_adapter{[limit]<async_stream S>(S stream) {
        return detail::ready_chunks_generator(std::move(stream), limit);
    }};
}

/// `s | buffered(n)`: for a stream of tasks (or other awaitables), runs up to `n` of them at
/// once, each spawned on the consumer's executor, and yields their results in the stream's
/// order. A task pulls `s` (on the consumer's executor) while fewer than `n` items are out
/// (spawned, their result not yet yielded), so a result is yielded as soon as it and the ones
/// before it are ready, also while `s` waits for its next item: a consumer may feed `s` from the
/// results (a crawler) without deadlocking. A task's exception is rethrown in order, and an error
/// of `s` after the results of the items before it (the stream then ends). Dropping the stream
/// aborts the tasks still running and the pull of `s`. `s` moves into that task: it is destroyed
/// when the task has ended, on the executor, soon after the drop, so it must own what it uses
/// (as any spawned task must; `merge` and `ready_chunks` do the same). Cost: besides a spawn per
/// item, two channel round trips (a slot and a report); two channels of `n` and `n + 1` slots,
/// allocated up front, so an `n` above 65 536 counts as 65 536. Throws `std::invalid_argument`
/// for 0.
inline auto buffered(std::size_t limit) {
    detail::check_limit(limit, "buffered");
    return detail::generator_adapter{[limit]<async_stream S>(S stream) {
        return detail::buffered_generator(std::move(stream), limit);
    }};
}

/// `s | buffer_unordered(n)`: as `buffered(n)`, but yields each result as soon as its task
/// finishes (completion order), a task's exception too; the tasks run in a `task_group`.
inline auto buffer_unordered(std::size_t limit) {
    detail::check_limit(limit, "buffer_unordered");
    return detail::generator_adapter{[limit]<async_stream S>(S stream) {
        return detail::buffer_unordered_generator(std::move(stream), limit);
    }};
}

/// `s | merge(other)`: the items of both streams as they arrive. Each stream is pulled by its
/// own task on the consumer's executor (they run concurrently, and items cross through a
/// channel, so they may come from other threads); when both produce faster than the consumer
/// takes, neither gets more than about two items ahead of the other (a feeder that is ahead
/// yields to the executor), so neither is starved. An error of either ends the merged stream;
/// dropping it aborts both feeders. `other`'s items are converted to `s`'s item type.
template <async_stream Other>
auto merge(Other other) {
    return detail::generator_adapter{[other = std::move(other)]<async_stream S>(S stream) mutable {
        return detail::merge_generator(std::move(stream), std::move(other));
    }};
}

/// Calls `f(item)`, which returns a task (or another awaitable; its result is dropped), for
/// every item, with up to `limit` calls in flight at once (spawned on the caller's executor);
/// completes when every call has finished.
///
/// Errors: the first failure of a call is rethrown as itself (not wrapped). A failure is
/// noticed when a call slot is needed at the limit, or after the stream ended. When a call
/// failed, the stream threw, or the awaiting task was cancelled, the calls still running are
/// cancelled and awaited before the exception leaves: no call outlives `for_each_concurrent`
/// (later failures of those calls are dropped, as tokio drops the other futures; when the
/// caller was cancelled they go to the unhandled exception handler). Throws
/// `std::invalid_argument` for a limit of 0.
template <async_stream S, typename F>
task<void> for_each_concurrent(S stream, std::size_t limit, F f) {
    detail::check_limit(limit, "for_each_concurrent");
    task_group<void> group(co_await this_task::executor);
    std::exception_ptr failure;
    try {
        while (std::optional<stream_value_t<S>> item = co_await stream.next()) {
            if (group.size() >= limit) (void)co_await group.next();  // rethrows a failure
            group.spawn(detail::as_void_task(std::invoke(f, std::move(*item))));
        }
        for (;;) {
            bool const collected = co_await group.next();
            if (!collected) break;
        }
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        group.cancel();
        try {
            co_await group.join_all();  // waits for every call, even if this task is cancelled
        } catch (...) {                 // the calls' own outcomes: cancellation, or later failures
        }
        std::rethrow_exception(failure);
    }
}

}  // namespace asyncpat

#endif  // ASYNCPAT_STREAM_CONCURRENT_HPP
