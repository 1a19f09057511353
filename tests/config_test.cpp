// Tests of the configuration switches that change behaviour at run time: reference counts without
// atomic instructions while the process has never started a second thread
// (ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH), then atomic ones, on the same objects.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/config.hpp>

#include <asyncpat/arena.hpp>
#include <asyncpat/bytes.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/oneshot.hpp>

#include "support/catch.hpp"

#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

std::string_view text(const asyncpat::bytes& b) {
    return b.as_string_view();
}

}  // namespace

// ctest runs every test case in a process of its own, so this one starts single-threaded (when
// the C library has the flag). Objects made before the first thread starts are used across it.
// (The arena's slower paths with plain updates, read sections, parked allocs and the arena
// destroyed under live messages, run in arena_test's thread-free test cases.)
TEST_CASE("counts are exact before and after the process starts its first thread",
          "[config][bytes][arena]") {
#if ASYNCPAT_SINGLE_THREADED_PROCESS_FAST_PATH
    // (Also under the sanitizers: TSan starts its helper thread with the program's first one.)
    CHECK(asyncpat::detail::process_is_single_threaded());
#endif
    asyncpat::message_arena arena(4, 32);

    // Phase 1: plain counts (if single-threaded). Views, clones, split parts and arena refs,
    // released in several orders.
    asyncpat::bytes kept;
    asyncpat::message_ref kept_ref;
    asyncpat::bytes kept_view;
    {
        asyncpat::bytes whole =
            asyncpat::bytes::copy_from(std::string_view("hello, single thread"));
        asyncpat::bytes part = whole.slice(0, 5);
        asyncpat::bytes copy = part;
        whole = asyncpat::bytes();
        CHECK(text(part) == "hello");
        CHECK(text(copy) == "hello");
        kept = copy.slice(1, 4);
        part = asyncpat::bytes();
        copy = asyncpat::bytes();
        CHECK(text(kept) == "ell");

        asyncpat::bytes_mut buffer = asyncpat::bytes_mut::with_capacity(64);
        std::vector<asyncpat::bytes> frames;
        for (int i = 0; i < 40; ++i) {  // more parts than one batch of spare references
            buffer.put_u64_le(static_cast<std::uint64_t>(i));
            frames.push_back(buffer.split_to(8).freeze());
            if (buffer.capacity() - buffer.size() < 8) buffer.reserve(64);
        }
        CHECK(frames.size() == 40);
        CHECK(frames[39].size() == 8);

        asyncpat::message_ref a = arena.try_alloc("first message");
        asyncpat::message_ref b = arena.try_alloc("second message");
        asyncpat::message_ref a2 = a;
        asyncpat::bytes view = a.data();
        asyncpat::weak_message_ref const weak = b.weak();
        asyncpat::message_ref b2 = arena.lock(weak);
        CHECK(b2.as_string_view() == "second message");
        a = asyncpat::message_ref();
        CHECK(arena.live_slots() == 2);
        a2 = asyncpat::message_ref();
        CHECK(arena.live_slots() == 2);  // the view holds the first
        CHECK(text(view) == "first message");
        view = asyncpat::bytes();
        CHECK(arena.live_slots() == 1);
        b = asyncpat::message_ref();
        b2 = asyncpat::message_ref();
        CHECK(arena.live_slots() == 0);
        CHECK_FALSE(arena.lock(weak));

        kept_ref = arena.try_alloc("kept across the thread start");
        kept_view = kept_ref.data();
        CHECK(arena.live_slots() == 1);
    }

    // Phase 2: a thread starts (the flag goes for good); it copies and drops what phase 1 made.
    std::string seen_bytes;
    std::string seen_ref;
    std::thread other([&] {
        asyncpat::bytes copy = kept;
        seen_bytes = std::string(text(copy));
        asyncpat::message_ref ref = kept_ref;
        seen_ref = std::string(ref.as_string_view());
    });
    other.join();
    CHECK_FALSE(asyncpat::detail::process_is_single_threaded());
    CHECK(seen_bytes == "ell");
    CHECK(seen_ref == "kept across the thread start");

    // Phase 3: atomic counts on the same objects: each goes exactly once.
    kept = asyncpat::bytes();
    kept_ref = asyncpat::message_ref();
    CHECK(arena.live_slots() == 1);  // the view holds it
    kept_view = asyncpat::bytes();
    CHECK(arena.live_slots() == 0);
    std::vector<asyncpat::message_ref> all;
    for (int i = 0; i < 4; ++i) all.push_back(arena.try_alloc("again"));
    for (const asyncpat::message_ref& m : all) CHECK(m);
    CHECK_FALSE(arena.try_alloc("one too many"));  // no slot was freed twice, none lost
}

TEST_CASE("a channel and a oneshot made before the first thread work across it",
          "[config][channel][oneshot]") {
    // Before the first thread: the channel's lock-free send and receive and the oneshot's state
    // word are plain updates (when the C library has the flag); after it, atomic ones on the
    // same objects, from both threads.
    auto [tx, rx] = asyncpat::make_channel<int>(4);
    auto [otx, orx] = asyncpat::make_oneshot<int>();
    CHECK_FALSE(tx.try_send(1));
    CHECK_FALSE(tx.try_send(2));
    std::error_code ec;
    CHECK(rx.try_receive(ec) == 1);
    CHECK_FALSE(otx.send(5));
    CHECK(rx.size() == 1);

    int received_there = 0;
    int oneshot_there = 0;
    std::error_code sent_there;
    std::thread other([&] {  // (no Catch2 assertion on this thread)
        std::error_code there;
        sent_there = tx.try_send(3);
        received_there = rx.try_receive(there).value_or(-1);
        oneshot_there = orx.try_receive(there).value_or(-1);
    });
    other.join();
    CHECK_FALSE(asyncpat::detail::process_is_single_threaded());
    CHECK_FALSE(sent_there);
    CHECK(received_there == 2);
    CHECK(oneshot_there == 5);
    CHECK(rx.try_receive(ec) == 3);
    CHECK(rx.try_receive(ec) == std::nullopt);
    CHECK(ec == asyncpat::errc::channel_empty);
    CHECK(rx.received_count() == 3);
}
