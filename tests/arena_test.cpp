// Tests of message_arena: allocation, references, generations, waiting, counters, memory.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/arena.hpp>

#include <asyncpat/combinators.hpp>
#include <asyncpat/spawn.hpp>

#include "support/alloc_counter.hpp"
#include "support/catch.hpp"
#include "support/failing_work_executor.hpp"
#include "support/runner.hpp"

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
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

TEST_CASE("a view of a message is never turned into a writable buffer", "[arena]") {
    // Weak refs may upgrade at any moment, so even the last view does not own the bytes.
    message_arena arena(2, 16);
    message_ref m = arena.try_alloc("immutable");
    asyncpat::weak_message_ref const weak = m.weak();
    asyncpat::bytes view = m.data();
    m = message_ref();
    CHECK_FALSE(view.is_unique());
    CHECK_FALSE(std::move(view).try_into_mut());
    CHECK(view == std::string_view("immutable"));  // left as it was
    CHECK(arena.lock(weak).as_string_view() == "immutable");
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

TEST_CASE("the last ref of a slot no weak ref was made for frees it; a forged weak ref is refused",
          "[arena]") {
    // A release by the holder of every remaining reference takes no atomic read-modify-write
    // unless a weak ref to the slot was ever made; lock() therefore refuses a weak ref that
    // message_ref::weak() did not make, since it could race with such a release.
    message_arena arena(2, 16);
    message_ref const marker = arena.try_alloc("marker");  // (its weak ref gives the arena id)
    std::uint32_t const arena_id = marker.weak().arena_id();
    {
        message_ref only = arena.try_alloc("alone");
        asyncpat::weak_message_ref const forged(arena_id, only.index(), only.generation());
        CHECK_FALSE(arena.lock(forged));  // no weak ref was made for this slot
        message_ref copy = only;
        asyncpat::bytes view = copy.data();
        only = message_ref();
        copy = message_ref();
        CHECK(arena.live_slots() == 2);  // the view holds it
        CHECK(view.as_string_view() == "alone");
        view = asyncpat::bytes();
        CHECK(arena.live_slots() == 1);
    }
    message_ref next = arena.try_alloc("next");  // the slot came back once
    REQUIRE(next);
    CHECK_FALSE(arena.try_alloc("more"));
    asyncpat::weak_message_ref const weak = next.weak();  // from now on, weak refs upgrade
    message_ref upgraded = arena.lock(weak);
    CHECK(upgraded.as_string_view() == "next");
    next = message_ref();
    CHECK(arena.live_slots() == 2);
    upgraded = message_ref();
    CHECK(arena.live_slots() == 1);
    CHECK_FALSE(arena.lock(weak));
    message_ref again = arena.try_alloc("again");
    REQUIRE(again);  // and the slot is free exactly once
    CHECK_FALSE(arena.try_alloc("more"));
}

namespace {
std::string text_of(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
}  // namespace

TEST_CASE("a read section reads through weak refs; a message freed meanwhile stays intact",
          "[arena][read_section]") {
    message_arena arena(1, 16);
    message_ref message = arena.try_alloc("hello");
    asyncpat::weak_message_ref const weak = message.weak();
    {
        asyncpat::arena_read_section section = arena.read_section();
        REQUIRE(section.is_open());
        std::optional<std::span<const std::byte>> got = section.get(weak);
        REQUIRE(got);
        CHECK(text_of(*got) == "hello");
        message = message_ref();                // the last reference goes while the section is open
        CHECK_FALSE(section.get(weak));         // freed: later gets fail...
        CHECK(text_of(*got) == "hello");        // ...but what was read stays intact
        CHECK_FALSE(arena.try_alloc("other"));  // the slot is not reused yet
        CHECK(arena.live_slots() == 0);         // (it holds no message)
        CHECK_FALSE(arena.read_section().get(weak));  // nor does a nested section find it
    }
    message_ref other = arena.try_alloc("other");  // the section closed: the slot is back
    REQUIRE(other);
    CHECK(other.index() == weak.index());
    asyncpat::arena_read_section section = arena.read_section();
    CHECK_FALSE(section.get(weak));  // stale: never reads "other"
    CHECK(text_of(*section.get(other.weak())) == "other");
    CHECK_FALSE(section.get(asyncpat::weak_message_ref()));
    CHECK_FALSE(section.get(asyncpat::weak_message_ref(weak.arena_id(), 7, 1)));  // out of range
    CHECK_FALSE(section.get(asyncpat::weak_message_ref(weak.arena_id(), 0, 2)));  // even: free
}

static_assert(sizeof(asyncpat::weak_message_ref) == 16, "the arena id takes the padding");

TEST_CASE("a weak ref handed to another arena is refused, even where index and generation match",
          "[arena]") {
    message_arena mine(4, 16);
    message_arena theirs(4, 16);
    message_ref const own = mine.try_alloc("mine");
    message_ref const foreign = theirs.try_alloc("theirs");
    // Both are slot 0, generation 1: only the arena id tells them apart.
    REQUIRE(own.index() == foreign.index());
    REQUIRE(own.generation() == foreign.generation());
    CHECK(own.weak().arena_id() != foreign.weak().arena_id());
    CHECK_FALSE(mine.lock(foreign.weak()));
    CHECK_FALSE(mine.read_section().get(foreign.weak()));
    CHECK(mine.lock(own.weak()).as_string_view() == "mine");
    CHECK(text_of(*theirs.read_section().get(foreign.weak())) == "theirs");
}

TEST_CASE("overlapping read sections hold freed slots until the last one closes",
          "[arena][read_section]") {
    message_arena arena(2, 16);
    message_ref a = arena.try_alloc("a");
    message_ref b = arena.try_alloc("b");
    auto first = std::make_optional(arena.read_section());
    auto second = arena.read_section();
    a = message_ref();
    first.reset();  // one still open
    CHECK_FALSE(arena.try_alloc("c"));
    auto moved = std::move(second);  // moving keeps it open
    CHECK_FALSE(second.is_open());
    CHECK_FALSE(second.get(b.weak()));  // a moved-from section reads nothing
    CHECK(moved.get(b.weak()));
    b = message_ref();
    CHECK_FALSE(arena.try_alloc("c"));
    moved.close();
    moved.close();  // closing twice is harmless
    CHECK_FALSE(moved.get(b.weak()));
    message_ref c = arena.try_alloc("c");
    message_ref d = arena.try_alloc("d");
    CHECK((c && d));  // both slots came back
    CHECK(arena.allocation_failures() == 2);
}

TEST_CASE("a waiting alloc gets a slot released under a read section when it closes",
          "[arena][read_section]") {
    auto body = []() -> task<std::string> {
        message_arena arena(1, 16);
        message_ref held = arena.try_alloc("held");
        auto waiting = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](message_arena& a) -> task<std::string> {
                message_ref m = co_await a.alloc(std::string_view("next"));
                co_return std::string(m.as_string_view());
            },
            std::ref(arena));
        co_await asyncpat::this_task::yield();
        std::string log;
        {
            asyncpat::arena_read_section section = arena.read_section();
            auto const read = section.get(held.weak());
            held = message_ref();  // would go to the waiting alloc, but the section reads it
            co_await asyncpat::this_task::yield();
            co_await asyncpat::this_task::yield();
            log += waiting.is_finished() ? "reused;" : "deferred;";
            log += text_of(*read) + ";";
        }
        log += co_await waiting;
        co_return log;
    };
    CHECK(run(body()) == "deferred;held;next");
}

TEST_CASE("a read section keeps the arena's memory past the arena object",
          "[arena][read_section]") {
    auto arena = std::make_unique<message_arena>(2, 16);
    message_ref message = arena->try_alloc("kept");
    asyncpat::weak_message_ref const weak = message.weak();
    asyncpat::arena_read_section section = arena->read_section();
    std::span<const std::byte> const read = *section.get(weak);
    arena.reset();
    message = message_ref();  // the slot retires, but the section still reads it
    CHECK(text_of(read) == "kept");
    CHECK_FALSE(section.get(weak));
    section.close();  // now the memory goes (ASan and LSan check)
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

namespace {
// An alloc that cannot park (taking the executor's work unit throws), in a task of its own so
// that its frame is gone when the exception has arrived.
task<void> alloc_failing_to_park(message_arena& arena, bool& fail_next_work) {
    fail_next_work = true;
    (void)co_await arena.alloc(std::string_view("never"));
}

struct arena_park_outcome {
    int failures = 0;
    std::string reused;
    bool waiting = false;
};

task<void> arena_park_fails(message_arena& arena, arena_park_outcome& out,
                            std::shared_ptr<bool> fail_next_work) {
    message_ref held = arena.try_alloc("held");  // the only slot
    try {
        co_await alloc_failing_to_park(arena, *fail_next_work);
    } catch (std::bad_alloc const&) {
        ++out.failures;
    }
    // The failed alloc is not waiting: the released slot goes back to the arena.
    held = message_ref();
    message_ref again = arena.try_alloc("again");
    out.reused = std::string(again.as_string_view());
    // Aborted while waiting here: only the timer may see the cancellation.
    asio::steady_timer timer(co_await asyncpat::this_task::executor, 1h);
    out.waiting = true;
    co_await timer.async_wait(asyncpat::use_task);
}
}  // namespace

TEST_CASE("an alloc that fails to park (out of memory) leaves nothing behind", "[arena]") {
    asio::io_context io(1);
    auto fail_next_work = std::make_shared<bool>(false);
    asyncpat_test::failing_work_executor ex(io.get_executor(), fail_next_work);
    message_arena arena(1, 16);
    arena_park_outcome out;
    auto handle = asyncpat::spawn(ex, arena_park_fails(arena, out, fail_next_work));
    io.poll();
    REQUIRE(out.waiting);
    handle.abort();
    auto join = [](asyncpat::join_handle<void> h) -> task<void> { co_await h; };
    CHECK_THROWS_AS(asyncpat::sync_wait(io, join(std::move(handle))), std::system_error);
    CHECK(out.failures == 1);
    CHECK(out.reused == "again");
    CHECK(arena.live_slots() == 0);
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

TEST_CASE("the high watermark is the most slots in use at once", "[arena]") {
    message_arena arena(8, 8);
    CHECK(arena.high_watermark() == 0);
    {
        std::vector<message_ref> held;
        for (int i = 0; i < 3; ++i) held.push_back(arena.try_alloc("x"));
        CHECK(arena.high_watermark() == 3);
        held.resize(1);  // two go back
        held.push_back(arena.try_alloc("y"));
        held.push_back(arena.try_alloc("z"));
        CHECK(arena.live_slots() == 3);
        CHECK(arena.high_watermark() == 3);  // reused slots, no new peak
        held.push_back(arena.try_alloc("w"));
        CHECK(arena.high_watermark() == 4);
    }
    CHECK(arena.live_slots() == 0);
    CHECK(arena.high_watermark() == 4);
}

TEST_CASE("waiting allocs get freed slots in order; try_alloc does not pass them", "[arena]") {
    auto body = []() -> task<std::string> {
        message_arena arena(1, 16);
        message_ref held = arena.try_alloc("held");
        auto ex = co_await asyncpat::this_task::executor;
        auto wait_for_slot = [](message_arena& a, std::string name) -> task<std::string> {
            message_ref m = co_await a.alloc(std::string_view(name));
            std::string got(m.as_string_view());
            co_await asyncpat::this_task::yield();  // hold it a moment
            co_return got;
        };
        auto first = asyncpat::spawn(ex, wait_for_slot, std::ref(arena), std::string("first"));
        co_await asyncpat::this_task::yield();
        auto second = asyncpat::spawn(ex, wait_for_slot, std::ref(arena), std::string("second"));
        co_await asyncpat::this_task::yield();
        held = message_ref();  // goes to `first`
        std::string log = arena.try_alloc("barger") ? "barged;" : "no barging;";
        log += co_await first;
        log += ";" + co_await second;
        log += ";" + std::to_string(arena.live_slots());
        log += ";" + std::to_string(arena.allocation_failures());
        co_return log;
    };
    CHECK(run(body()) == "no barging;first;second;0;1");
}

TEST_CASE("destroying the arena fails its waiting allocs; their messages stay readable",
          "[arena]") {
    auto body = []() -> task<std::string> {
        auto arena = std::make_unique<message_arena>(1, 16);
        message_ref held = arena->try_alloc("held");
        auto waiting = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](message_arena& a) -> task<message_ref> {
                co_return co_await a.alloc(std::string_view("never"));
            },
            std::ref(*arena));
        co_await asyncpat::this_task::yield();
        task<message_ref> not_started = arena->alloc(std::string_view("later"));
        arena.reset();  // the waiting alloc fails; the held message lives on
        std::string log;
        try {
            (void)co_await waiting;
        } catch (const std::system_error& e) {
            log += e.code() == asyncpat::errc::channel_closed ? "closed;" : "other;";
        }
        try {
            (void)co_await std::move(not_started);  // created before, started after
        } catch (const std::system_error& e) {
            log += e.code() == asyncpat::errc::channel_closed ? "closed;" : "other;";
        }
        log += std::string(held.as_string_view());
        co_return log;  // `held` goes last, and with it the arena's memory (ASan checks)
    };
    CHECK(run(body()) == "closed;closed;held");
}

TEST_CASE("a slot freed while its waiter is cancelled goes to the next alloc", "[arena]") {
    // The release and the cancellation race: whichever wins, the slot is not lost.
    auto body = []() -> task<int> {
        message_arena arena(1, 16);
        auto ex = co_await asyncpat::this_task::executor;
        int served = 0;
        for (int trial = 0; trial < 2000; ++trial) {
            message_ref held = arena.try_alloc("held");
            auto waiter = asyncpat::spawn(
                ex,
                [](message_arena& a) -> task<void> {
                    message_ref m = co_await a.alloc(std::string_view("w"));
                },
                std::ref(arena));
            for (int i = 0; i < trial % 3; ++i) co_await asyncpat::this_task::yield();
            if (trial % 2 == 0) {
                held = message_ref();
                waiter.abort();
            } else {
                waiter.abort();
                held = message_ref();
            }
            try {
                co_await waiter;
                ++served;
            } catch (const std::system_error&) {
            }
            if (!arena.try_alloc("next")) co_return -1;  // the slot was lost
        }
        co_return served;
    };
    int const served = run(body());
    CHECK(served > 0);     // released first: the waiter got the slot
    CHECK(served < 2000);  // aborted first: it left, and the slot went back
}

TEST_CASE("try_alloc sees slots freed after a waiter was served but before it ran", "[arena]") {
    auto body = []() -> task<std::string> {
        message_arena arena(2, 16);
        message_ref a = arena.try_alloc("a");
        message_ref b = arena.try_alloc("b");
        auto waiter = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](message_arena& r) -> task<void> {
                message_ref m = co_await r.alloc(std::string_view("w"));
            },
            std::ref(arena));
        co_await asyncpat::this_task::yield();  // it parks
        a = message_ref();                      // handed to the waiter, which has not run yet
        b = message_ref();                      // nobody waits now: back on the stack
        std::string log = arena.try_alloc("c") ? "found;" : "hidden;";
        co_await waiter;
        log += std::to_string(arena.live_slots());
        co_return log;
    };
    CHECK(run(body()) == "found;0");
}

TEST_CASE("a slot handed to an alloc whose executor is destroyed comes back", "[arena]") {
    message_arena arena(1, 16);
    message_ref held = arena.try_alloc("held");
    {
        asio::io_context io(1);
        asyncpat::spawn(
            io,
            [](message_arena& a) -> task<void> {
                message_ref m = co_await a.alloc(std::string_view("never"));
            },
            std::ref(arena))
            .detach();
        io.run_for(5ms);       // it parks
        held = message_ref();  // handed over; the wake-up is posted to `io`, which never runs it
    }  // `io` goes, and the alloc's frame with it: the slot comes back
    CHECK(arena.live_slots() == 0);
    message_ref again = arena.try_alloc("again");
    CHECK(static_cast<bool>(again));
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
