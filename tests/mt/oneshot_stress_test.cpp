// Multi-threaded stress of the oneshot channel: senders on one io_context, receivers on another,
// receives racing timeouts and senders that sometimes go away without sending. Run under TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/combinators.hpp>
#include <asyncpat/oneshot.hpp>
#include <asyncpat/spawn.hpp>

#include "../support/catch.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>

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

namespace {
// 1 a value, 2 aborted, 3 something else (a broken promise).
std::atomic<int> abort_outcome{0};
std::atomic<bool> receiver_started{false};

task<void> receive_until_aborted(asyncpat::oneshot_receiver<int> rx) {
    receiver_started.store(true, std::memory_order_release);
    try {
        (void)co_await rx;
        abort_outcome = 1;
    } catch (const std::system_error& e) {
        abort_outcome = e.code() == asio::error::operation_aborted ? 2 : 3;
    }
}
}  // namespace

TEST_CASE("an abort racing a oneshot receive as it parks is never lost", "[mt][oneshot]") {
    // The abort is emitted on the io_context's other thread while the receive arms its hook and
    // parks: it must end the receive with operation_aborted while the sender still holds on
    // (a cancellation that came between the two steps used to leave it parked).
    asio::io_context io(2);
    auto guard = asio::make_work_guard(io);
    std::thread first([&io] { io.run(); });
    std::thread second([&io] { io.run(); });
    int stuck = 0;
    int aborted = 0;
    for (int round = 0; round < 2000 && stuck == 0; ++round) {
        abort_outcome = 0;
        receiver_started = false;
        auto [tx, rx] = asyncpat::make_oneshot<int>();
        std::atomic<asyncpat::join_handle<void>*> handle{nullptr};
        std::atomic<bool> aborter_running{false};
        std::atomic<bool> aborter_done{false};
        int const delay = round % 400;
        asio::post(io, [&, delay] {  // occupies one thread; the receive runs on the other
            aborter_running = true;
            while (!receiver_started.load(std::memory_order_acquire) || !handle.load()) {
            }
            std::atomic<int> spin{0};  // a delay that varies with the round
            while (spin.fetch_add(1, std::memory_order_relaxed) < delay) {
            }
            handle.load()->abort();
            aborter_done = true;
        });
        while (!aborter_running) std::this_thread::yield();
        auto h = asyncpat::spawn(io, receive_until_aborted(std::move(rx)));
        handle = &h;
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (abort_outcome.load() == 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::yield();
        if (abort_outcome.load() == 0) ++stuck;
        if (abort_outcome.load() == 2) ++aborted;
        tx = {};  // lets a stuck receive end (broken promise), so the round can finish
        while (abort_outcome.load() == 0) std::this_thread::yield();
        // The handle is the aborter's until its abort() returned: a receive that saw the request
        // may end (and this round go on) while abort() is still running on the other thread.
        while (!aborter_done) std::this_thread::yield();
        h.detach();
    }
    guard.reset();
    first.join();
    second.join();
    CHECK(stuck == 0);
    CHECK(aborted > 0);
}
