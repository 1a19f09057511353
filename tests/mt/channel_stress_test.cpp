// Multi-threaded stress of the channel: 8 producers and 4 consumers on a 2-thread pool, random
// cancellations (timeouts) on both sides, and a close in the middle. Run under TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/channel.hpp>
#include <asyncpat/combinators.hpp>
#include <asyncpat/task_group.hpp>

#include "../support/catch.hpp"
#include "../support/runner.hpp"

#include <asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::task;

namespace {
constexpr int producers = 8;
constexpr int consumers = 4;
constexpr int per_producer = 2000;

// Catch's assertions are not thread-safe: the pool threads count mismatches here instead.
std::atomic<int> corrupted_hand_backs{0};

// Sends `value`; false if it came back (closed, or cancelled by the timeout).
task<bool> send_one(asyncpat::sender<int>& tx, int value) {
    try {
        co_await tx.send(value);
        co_return true;
    } catch (asyncpat::send_error<int>& e) {
        if (e.value() != value) corrupted_hand_backs.fetch_add(1);  // must come back intact
        co_return false;
    }
}

task<std::vector<int>> produce(asyncpat::sender<int> tx, int id, bool closes) {
    std::vector<int> sent;
    for (int k = 0; k < per_producer; ++k) {
        int const value = id * per_producer + k;
        // Every third send has a deadline that often expires while it waits for room.
        bool ok = false;
        if (k % 3 == 0) {
            try {
                ok = co_await asyncpat::timeout(std::chrono::microseconds(k % 50),
                                                send_one(tx, value));
            } catch (const std::system_error&) {
                ok = false;  // timed out: the send was cancelled and enqueued nothing
            }
        } else {
            ok = co_await send_one(tx, value);
        }
        if (ok) sent.push_back(value);
        if (closes && k == per_producer / 2) tx.close();
    }
    co_return sent;
}

task<std::optional<int>> receive_one(asyncpat::receiver<int>& rx) {
    co_return co_await rx.receive();
}

task<std::vector<int>> consume(asyncpat::receiver<int> rx, int id) {
    std::vector<int> got;
    for (int round = 0;; ++round) {
        std::optional<int> value;
        if ((round + id) % 4 == 0) {
            try {
                value = co_await asyncpat::timeout(std::chrono::microseconds(round % 30),
                                                   receive_one(rx));
            } catch (const std::system_error&) {
                continue;  // timed out: the receive was cancelled and took nothing
            }
        } else {
            value = co_await rx.receive();
        }
        if (!value) break;  // closed and drained
        got.push_back(*value);
    }
    co_return got;
}
}  // namespace

TEST_CASE("8 producers, 4 consumers, cancellations and a close: every value exactly once",
          "[mt][channel]") {
    asio::thread_pool pool(2);
    auto [tx, rx] = asyncpat::make_channel<int>(16);
    auto body = [](asio::thread_pool& p, asyncpat::sender<int> out,
                   asyncpat::receiver<int> in) -> task<bool> {
        asyncpat::task_group<std::vector<int>> sending(p);
        asyncpat::task_group<std::vector<int>> receiving(p);
        for (int id = 0; id < producers; ++id) sending.spawn(produce(out, id, id == 3));
        for (int id = 0; id < consumers; ++id) receiving.spawn(consume(in, id));
        {
            auto drop_sender = std::move(out);
        }  // the producers hold the remaining senders
        {
            auto drop_receiver = std::move(in);
        }
        std::vector<int> sent, received;
        for (auto& part : co_await sending.join_all())
            sent.insert(sent.end(), part.begin(), part.end());
        for (auto& part : co_await receiving.join_all())
            received.insert(received.end(), part.begin(), part.end());
        std::sort(sent.begin(), sent.end());
        std::sort(received.begin(), received.end());
        co_return !sent.empty() && sent == received;
    };
    bool const exactly_once =
        asyncpat::sync_wait(pool.get_executor(), body(pool, std::move(tx), std::move(rx)));
    pool.join();
    CHECK(exactly_once);
    CHECK(corrupted_hand_backs.load() == 0);
}

namespace {
// Producers on one single-threaded io_context, consumers on another: every wake-up crosses
// threads, and on each side the same-thread hand-off (ready slot) is exercised as well. Some
// producers use permits, one consumer uses receive_many.
task<std::vector<int>> produce_on(asyncpat::sender<int> tx, int id) {
    std::vector<int> sent;
    for (int k = 0; k < per_producer; ++k) {
        int const value = id * per_producer + k;
        if (id % 2 == 0 && k % 5 == 0) {
            auto slot = co_await tx.reserve();
            slot.send(int{value});
        } else {
            co_await tx.send(int{value});
        }
        sent.push_back(value);
    }
    co_return sent;
}

task<std::vector<int>> consume_on(asyncpat::receiver<int> rx, int id) {
    std::vector<int> got;
    if (id == 0) {
        while (co_await rx.receive_many(got, 8) != 0) {
        }
    } else {
        while (auto v = co_await rx.receive()) got.push_back(*v);
    }
    co_return got;
}
}  // namespace

TEST_CASE("producers and consumers on two io_contexts: every value exactly once", "[mt][channel]") {
    asio::io_context producer_io(1), consumer_io(1);
    auto [tx, rx] = asyncpat::make_channel<int>(7);
    std::vector<asyncpat::join_handle<std::vector<int>>> sending, receiving;
    for (int id = 0; id < producers; ++id)
        sending.push_back(asyncpat::spawn(producer_io, produce_on(tx, id)));
    for (int id = 0; id < consumers; ++id)
        receiving.push_back(asyncpat::spawn(consumer_io, consume_on(rx, id)));
    tx = {};
    rx = {};
    std::thread other([&] { consumer_io.run(); });
    producer_io.run();
    other.join();

    auto collect = [](std::vector<asyncpat::join_handle<std::vector<int>>>& handles,
                      asio::io_context& io) {
        std::vector<int> all;
        for (auto& h : handles) {
            std::move(h).async_join([&all](std::exception_ptr, std::vector<int> part) {
                all.insert(all.end(), part.begin(), part.end());
            });
        }
        io.restart();
        io.run();
        std::sort(all.begin(), all.end());
        return all;
    };
    std::vector<int> const sent = collect(sending, producer_io);
    std::vector<int> const received = collect(receiving, consumer_io);
    CHECK(sent.size() == static_cast<std::size_t>(producers * per_producer));
    CHECK(sent == received);
}

namespace {
// One sender on its own thread against a receiver on another that takes its values in phases:
// fast; slow (200 us a value: a send that finds the channel full waits for room, times out,
// parks, and the next sends that find it full park at once); busy (about 2 us of
// work a value: the sender is the faster end, and a send that finds the channel full waits for
// room without parking, see ASYNCPAT_CHANNEL_SEND_SPIN_MICROSECONDS); fast again; then a close
// while the sender waits for room. A fifth of the sends have a 20 us deadline, which often
// expires while they wait (spinning or parked): such a send enqueued nothing and is sent again.
// Every value arrives once, in order; the send that meets the close fails with its value.
constexpr int spin_values = 4000;

task<void> send_value(asyncpat::sender<int>& tx, int value) {
    co_await tx.send(int{value});
}

task<int> send_until_closed(asyncpat::sender<int> tx) {
    int sent = 0;
    for (int value = 0;; ++value) {
        for (;;) {  // until this value is sent
            try {
                if (value % 5 == 0)
                    co_await asyncpat::timeout(std::chrono::microseconds(20),
                                               send_value(tx, value));
                else
                    co_await tx.send(int{value});
                break;
            } catch (asyncpat::send_error<int>& e) {
                if (e.value() != value) corrupted_hand_backs.fetch_add(1);
                if (e.code() == asyncpat::errc::channel_closed) co_return sent;
            } catch (const std::system_error&) {  // timed out: enqueued nothing, send it again
            }
        }
        ++sent;
    }
}

void work_for(std::chrono::nanoseconds duration) {
    auto const end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
    }
}

// The number of values received, or -1 if one came out of order.
task<int> receive_in_phases(asyncpat::receiver<int> rx) {
    int received = 0;
    bool in_order = true;
    for (; received < spin_values; ++received) {
        if (received >= 1000 && received < 1100) co_await asyncpat::sleep_for(200us);  // slow
        if (received >= 2000 && received < 3000) work_for(2us);                        // busy
        std::optional<int> const value = co_await rx.receive();
        if (!value || *value != received) in_order = false;
    }
    rx.close();  // the sender is waiting for room (the channel is full) or about to
    // What was queued before the close is still delivered, in order.
    for (; auto value = co_await rx.receive(); ++received)
        if (*value != received) in_order = false;
    co_return in_order ? received : -1;
}
}  // namespace

TEST_CASE("a sender waiting for room on another thread: a fast, a slow, and a closing receiver",
          "[mt][channel]") {
    asio::io_context sender_io(1), receiver_io(1);
    auto [tx, rx] = asyncpat::make_channel<int>(16);
    auto receiving = asyncpat::spawn(receiver_io, receive_in_phases(std::move(rx)));
    auto sending = asyncpat::spawn(sender_io, send_until_closed(std::move(tx)));
    int received = 0;
    std::thread other([&] { received = asyncpat_test::join_on(receiver_io, receiving); });
    int const sent = asyncpat_test::join_on(sender_io, sending);
    other.join();
    CHECK(sent >= spin_values);
    CHECK(received == sent);  // (-1: out of order)
    CHECK(corrupted_hand_backs.load() == 0);
}
