// Tests of message_arena: allocation, references, generations, waiting, counters, memory.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/arena.hpp>

#include <asyncpat/combinators.hpp>
#include <asyncpat/spawn.hpp>

#include "support/alloc_counter.hpp"
#include "support/catch.hpp"
#include "support/runner.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::message_arena;
using asyncpat::message_ref;
using asyncpat::task;
using asyncpat_test::run;

TEST_CASE("try_alloc copies the message in; refs share it; the slot is freed with the last",
          "[arena]") {
    message_arena arena(2, 16);
    message_ref a = arena.try_alloc("hello");
    REQUIRE(a);
    CHECK(a.as_string_view() == "hello");
    CHECK(arena.live_slots() == 1);
    CHECK(arena.live_bytes() == 5);
    {
        message_ref copy = a;
        asyncpat::bytes view = copy.data();
        CHECK(view == std::string_view("hello"));
        CHECK(view.data() == a.span().data());  // zero-copy
        a = message_ref();
        CHECK(arena.live_slots() == 1);  // the copy and the view keep it
        copy = message_ref();
        CHECK(arena.live_slots() == 1);  // the view alone keeps it
        CHECK(view == std::string_view("hello"));
    }
    CHECK(arena.live_slots() == 0);
    CHECK(arena.live_bytes() == 0);
    CHECK(arena.high_watermark() == 1);
}

TEST_CASE("a full arena says so; a too large message is a clear error", "[arena]") {
    message_arena arena(2, 8);
    message_ref a = arena.try_alloc("one");
    message_ref b = arena.try_alloc("two");
    message_ref c = arena.try_alloc("three");
    CHECK(a);
    CHECK(b);
    CHECK_FALSE(c);
    CHECK(arena.allocation_failures() == 1);
    CHECK_THROWS_AS(arena.try_alloc("nine byte"), std::length_error);
    CHECK_THROWS_AS(message_arena(0, 8), std::invalid_argument);
    CHECK_THROWS_AS(message_arena(8, 0), std::invalid_argument);
}

TEST_CASE("a stale weak ref is detected after its slot was reused", "[arena]") {
    message_arena arena(1, 16);
    message_ref first = arena.try_alloc("first");
    asyncpat::weak_message_ref weak = first.weak();
    CHECK(arena.lock(weak).as_string_view() == "first");  // alive: upgrades
    std::uint32_t const index = first.index();
    std::uint64_t const generation = first.generation();
    first = message_ref();
    CHECK_FALSE(arena.lock(weak));  // freed
    message_ref second = arena.try_alloc("second");
    CHECK(second.index() == index);            // the same slot...
    CHECK(second.generation() != generation);  // ...a new generation
    CHECK_FALSE(arena.lock(weak));             // never reads "second"
    CHECK(arena.lock(second.weak()).as_string_view() == "second");
    CHECK_FALSE(arena.lock(asyncpat::weak_message_ref()));
}

TEST_CASE("messages outlive the arena object", "[arena]") {
    message_ref kept;
    asyncpat::bytes view;
    {
        message_arena arena(4, 32);
        kept = arena.try_alloc("still here");
        view = kept.data();
    }
    CHECK(kept.as_string_view() == "still here");
    CHECK(view == std::string_view("still here"));
}

TEST_CASE("alloc waits for a free slot; a cancelled wait holds none", "[arena]") {
    auto body = []() -> task<std::string> {
        message_arena arena(1, 16);
        message_ref held = co_await arena.alloc(std::string_view("held"));
        // A waiting alloc, cancelled by a timeout: it must not take the slot afterwards.
        std::string log;
        try {
            (void)co_await asyncpat::timeout(1ms, arena.alloc(std::string_view("late")));
        } catch (const std::system_error&) {
            log += "timed out;";
        }
        // A waiting alloc that gets the slot when `held` goes.
        auto waiting = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](message_arena& a) -> task<std::string> {
                message_ref m = co_await a.alloc(std::string_view("next"));
                co_return std::string(m.as_string_view());
            },
            std::ref(arena));
        co_await asyncpat::this_task::yield();
        co_await asyncpat::this_task::yield();
        log += waiting.is_finished() ? "finished early;" : "waiting;";
        held = message_ref();
        log += co_await waiting;
        log += ";" + std::to_string(arena.live_slots());
        co_return log;
    };
    CHECK(run(body()) == "timed out;waiting;next;0");
}

namespace {
// The process's peak resident set (VmHWM) in KiB, or -1 where /proc is not there.
long peak_resident_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}
}  // namespace

TEST_CASE("ten million alloc/release cycles leave the footprint flat", "[arena][memory]") {
    message_arena arena(64, 256);
    std::vector<message_ref> window(64);
    std::string const payload(200, 'x');
    for (int i = 0; i < 1000; ++i)
        window[static_cast<std::size_t>(i % 32)] = arena.try_alloc(payload);
    long const peak_before = peak_resident_kib();
    long const before = asyncpat_test::allocation_count();
    for (int i = 0; i < 10'000'000; ++i) {
        window[static_cast<std::size_t>(i % 32)] = arena.try_alloc(payload);
    }
    long const used = asyncpat_test::allocation_count() - before;
    long const peak_after = peak_resident_kib();
    std::printf("arena_test: peak resident set %ld KiB before 10^7 cycles, %ld KiB after\n",
                peak_before, peak_after);
    CHECK(used == 0);  // no allocation at all
    // Flat: a leak of even 2 bytes per cycle would add 20 MB. (Sanitizer builds move the peak
    // by a megabyte or two by themselves: shadow memory, fake stacks.)
    if (peak_before >= 0) CHECK(peak_after - peak_before < 16 * 1024);
    CHECK(arena.live_slots() == 32);
    CHECK(arena.high_watermark() <= 33);
    CHECK(arena.allocation_failures() == 0);
}
