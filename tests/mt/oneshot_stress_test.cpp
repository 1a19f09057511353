// Multi-threaded stress of the oneshot channel: senders on one io_context, receivers on another,
// receives racing timeouts and senders that sometimes go away without sending. Run under TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/combinators.hpp>
#include <asyncpat/oneshot.hpp>
#include <asyncpat/spawn.hpp>

#include "../support/catch.hpp"

#include <asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <system_error>
#include <thread>

using asyncpat::task;

namespace {
constexpr int rounds = 5000;

// Catch's assertions are not thread-safe: the threads count outcomes here instead.
std::atomic<int> received{0};
std::atomic<int> broken{0};
std::atomic<int> unexpected{0};

task<void> send_later(asyncpat::oneshot_sender<int> tx, int value) {
    for (int i = 0; i < value % 3; ++i) co_await asyncpat::this_task::yield();
    if (value % 5 != 0) (void)tx.send(int{value});  // every fifth sender goes without sending
}

task<std::optional<int>> receive_one(asyncpat::oneshot_receiver<int>& rx) {
    co_return co_await rx;
}

task<void> receive(asyncpat::oneshot_receiver<int> rx, int value) {
    for (;;) {
        try {
            std::optional<int> got;
            if (value % 2 == 0)
                got = co_await asyncpat::timeout(std::chrono::microseconds(value % 20),
                                                 receive_one(rx));
            else
                got = co_await rx;
            if (got == value)
                received.fetch_add(1);
            else
                unexpected.fetch_add(1);
            co_return;
        } catch (const std::system_error& e) {
            if (e.code() == asyncpat::errc::broken_promise) {
                broken.fetch_add(1);
                co_return;
            }
            // timed out: the receive took nothing; try again
        }
    }
}
}  // namespace

TEST_CASE("oneshot across two io_contexts: each value received once or reported broken",
          "[mt][oneshot]") {
    asio::io_context sender_io(1), receiver_io(1);
    for (int i = 0; i < rounds; ++i) {
        auto [tx, rx] = asyncpat::make_oneshot<int>();
        asyncpat::spawn(sender_io, send_later(std::move(tx), i)).detach();
        asyncpat::spawn(receiver_io, receive(std::move(rx), i)).detach();
    }
    std::thread other([&] { sender_io.run(); });
    receiver_io.run();
    other.join();
    CHECK(unexpected.load() == 0);
    CHECK(broken.load() == rounds / 5);
    CHECK(received.load() + broken.load() == rounds);
}
