// message_arena across threads: two producers allocate messages on a 2-thread pool and share the
// refs through a channel; two consumers read each back and release it. Every message must read
// exactly as written, and the arena must end empty. Run under TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/arena.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/combinators.hpp>
#include <asyncpat/oneshot.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/task_group.hpp>

#include "../support/catch.hpp"

#include <asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using asyncpat::task;

namespace {
constexpr int per_producer = 500'000;  // 10^6 messages in all

// A message that says who wrote it and when, with a checksum over both.
std::string make_message(int producer, int seq) {
    std::string text = std::to_string(producer) + ":" + std::to_string(seq) + ":";
    text += std::to_string((producer * 7919 + seq) % 1000003);
    text.resize(24 + static_cast<std::size_t>(seq % 40), '.');
    return text;
}

task<void> produce(asyncpat::message_arena& arena, asyncpat::sender<asyncpat::message_ref> out,
                   int id) {
    for (int seq = 0; seq < per_producer; ++seq) {
        std::string const text = make_message(id, seq);
        asyncpat::message_ref ref = co_await arena.alloc(std::string_view(text));
        co_await out.send(std::move(ref));
    }
}

// Counts what it read, and what did not read back as written (Catch is not thread-safe).
task<void> consume(asyncpat::receiver<asyncpat::message_ref> in, std::atomic<int>& read,
                   std::atomic<int>& corrupted) {
    while (auto ref = co_await in.receive()) {
        std::string_view const text = ref->as_string_view();
        int producer = 0, seq = 0;
        if (std::sscanf(std::string(text).c_str(), "%d:%d:", &producer, &seq) != 2 ||
            text != make_message(producer, seq))
            corrupted.fetch_add(1, std::memory_order_relaxed);
        read.fetch_add(1, std::memory_order_relaxed);
    }
}

task<void> body(asio::thread_pool& pool, asyncpat::message_arena& arena, std::atomic<int>& read,
                std::atomic<int>& corrupted) {
    asyncpat::task_group<void> group(pool);
    {
        auto [tx, rx] = asyncpat::make_channel<asyncpat::message_ref>(64);
        group.spawn(produce(arena, tx, 1));
        group.spawn(produce(arena, std::move(tx), 2));
        group.spawn(consume(rx, read, corrupted));
        group.spawn(consume(std::move(rx), read, corrupted));
    }
    co_await group.join_all();
}
}  // namespace

TEST_CASE("arena refs shared across threads read back intact, and the arena ends empty",
          "[mt][arena]") {
    asio::thread_pool pool(2);
    // Fewer slots than messages in flight (64 queued, and more in the tasks): allocs wait, and
    // releases hand slots to them.
    asyncpat::message_arena arena(16, 64);
    std::atomic<int> read{0}, corrupted{0};
    asyncpat::sync_wait(pool.get_executor(), body(pool, arena, read, corrupted));
    pool.join();
    CHECK(read.load() == 2 * per_producer);
    CHECK(corrupted.load() == 0);
    CHECK(arena.live_slots() == 0);
    CHECK(arena.live_bytes() == 0);
    CHECK(arena.high_watermark() == 16);  // every slot was needed
}

namespace {
// Allocates with a short timeout and holds each message for a moment: many allocs wait, and
// their cancellations race with releases on the other thread.
task<void> churn(asyncpat::message_arena& arena, int rounds, std::atomic<int>& served,
                 std::atomic<int>& timed_out) {
    for (int i = 0; i < rounds; ++i) {
        try {
            asyncpat::message_ref m = co_await asyncpat::timeout(
                std::chrono::microseconds(1 + i % 20), arena.alloc(std::string_view("churn")));
            served.fetch_add(1, std::memory_order_relaxed);
            co_await asyncpat::this_task::yield();
        } catch (const std::system_error&) {
            timed_out.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

// Allocates without a timeout: a lost wake-up would hang here (and the test time out).
task<void> patient(asyncpat::message_arena& arena, int rounds, std::atomic<int>& served) {
    for (int i = 0; i < rounds; ++i) {
        asyncpat::message_ref m = co_await arena.alloc(std::string_view("patient"));
        served.fetch_add(1, std::memory_order_relaxed);
        co_await asyncpat::this_task::yield();
    }
}
}  // namespace

TEST_CASE("cancelled waiting allocs lose no slot while releases race them", "[mt][arena]") {
    asio::thread_pool pool(2);
    asyncpat::message_arena arena(3, 16);
    std::atomic<int> served{0}, timed_out{0}, patient_served{0};
    auto body = [&]() -> task<void> {
        asyncpat::task_group<void> group(pool);
        for (int t = 0; t < 6; ++t) group.spawn(churn(arena, 2000, served, timed_out));
        for (int t = 0; t < 3; ++t) group.spawn(patient(arena, 2000, patient_served));
        co_await group.join_all();
    };
    asyncpat::sync_wait(pool.get_executor(), body());
    pool.join();
    CHECK(patient_served.load() == 3 * 2000);  // every patient alloc got a slot
    CHECK(timed_out.load() > 0);               // and some impatient ones were cancelled
    CHECK(served.load() > 0);
    CHECK(arena.live_slots() == 0);
    // Every slot is free again: none was stranded by a cancelled wait.
    std::vector<asyncpat::message_ref> all;
    for (int i = 0; i < 3; ++i) all.push_back(arena.try_alloc("again"));
    for (auto const& m : all) CHECK(static_cast<bool>(m));
}

TEST_CASE("an arena destroyed while allocs wait and messages live on other threads",
          "[mt][arena]") {
    int bad_trials = 0, trials_with_survivors = 0, trials_with_failed_allocs = 0;
    for (int trial = 0; trial < 200; ++trial) {
        asio::thread_pool pool(2);
        auto arena = std::make_unique<asyncpat::message_arena>(2, 16);
        std::atomic<int> closed{0}, sent{0};
        auto [tx, rx] = asyncpat::make_channel<asyncpat::message_ref>(4);
        auto [go_tx, go_rx] = asyncpat::make_oneshot<int>();
        // A holder on the pool keeps the messages until told that the arena is gone.
        auto holder = asyncpat::spawn(
            pool,
            [](asyncpat::receiver<asyncpat::message_ref> in,
               asyncpat::oneshot_receiver<int> go) -> task<int> {
                std::vector<asyncpat::message_ref> kept;
                while (auto m = co_await in.receive()) kept.push_back(std::move(*m));
                (void)co_await go;
                int intact = 0;
                for (auto const& m : kept) intact += m.as_string_view() == "m" ? 1 : 0;
                co_return intact;  // released here, after the arena went
            },
            std::move(rx), std::move(go_rx));
        std::vector<asyncpat::join_handle<void>> allocs;
        for (int w = 0; w < 3; ++w)
            allocs.push_back(asyncpat::spawn(
                pool,
                [](task<asyncpat::message_ref> alloc, asyncpat::sender<asyncpat::message_ref> out,
                   std::atomic<int>& sent_count, std::atomic<int>& closed_count) -> task<void> {
                    asyncpat::message_ref m;
                    try {
                        m = co_await std::move(alloc);
                    } catch (const std::system_error& e) {
                        if (e.code() == asyncpat::errc::channel_closed)
                            closed_count.fetch_add(1, std::memory_order_relaxed);
                        co_return;
                    }
                    co_await out.send(std::move(m));
                    sent_count.fetch_add(1, std::memory_order_relaxed);
                },
                arena->alloc(std::string_view("m")),  // made now; may start after the reset
                tx, std::ref(sent), std::ref(closed)));
        {
            auto drop = std::move(tx);
        }  // the alloc tasks hold the other senders
        std::this_thread::sleep_for(std::chrono::microseconds(trial % 7 * 10));
        arena.reset();  // waiting allocs fail; sent messages live on in the holder
        (void)go_tx.send(1);
        auto join_all = [](std::vector<asyncpat::join_handle<void>> handles,
                           asyncpat::join_handle<int> last) -> task<int> {
            for (auto& h : handles) co_await h;
            co_return co_await last;
        };
        int const intact = asyncpat::sync_wait(pool.get_executor(),
                                               join_all(std::move(allocs), std::move(holder)));
        pool.join();
        // Two slots: at most two allocs succeed, the others fail with channel_closed.
        if (sent.load() > 2 || sent.load() + closed.load() != 3 || intact != sent.load())
            ++bad_trials;
        if (sent.load() > 0) ++trials_with_survivors;
        if (closed.load() > 0) ++trials_with_failed_allocs;
    }
    CHECK(bad_trials == 0);
    CHECK(trials_with_survivors > 0);      // messages outlived the arena
    CHECK(trials_with_failed_allocs > 0);  // allocs waited when it went
}

TEST_CASE("lock never returns another message while slots are freed and reused", "[mt][arena]") {
    // One thread allocates numbered messages into 4 slots, publishes weak refs with their
    // numbers, and drops the oldest; another upgrades published weak refs and checks that
    // whatever it gets is the message the weak ref was made for.
    asyncpat::message_arena arena(4, 16);
    constexpr int messages = 200'000;
    struct published {
        asyncpat::weak_message_ref weak;
        int number = -1;
    };
    std::mutex mutex;
    std::vector<published> board(8);
    std::atomic<bool> done{false};
    std::atomic<long> upgraded{0}, stale{0}, wrong{0};
    std::thread reader([&] {
        std::size_t i = 0;
        // At least a full pass over the board after the writer is done (3 of its 8 entries are
        // live then): both outcomes are seen however the threads are scheduled.
        while (!done.load(std::memory_order_acquire) || i < 1000) {
            published entry;
            {
                std::lock_guard<std::mutex> guard(mutex);
                entry = board[i++ % board.size()];
            }
            if (entry.number < 0) continue;
            if (asyncpat::message_ref m = arena.lock(entry.weak)) {
                upgraded.fetch_add(1, std::memory_order_relaxed);
                if (m.as_string_view() != std::to_string(entry.number))
                    wrong.fetch_add(1, std::memory_order_relaxed);
            } else {
                stale.fetch_add(1, std::memory_order_relaxed);
            }
        }
    });
    std::vector<asyncpat::message_ref> live(3);
    for (int n = 0; n < messages; ++n) {
        std::string const text = std::to_string(n);
        asyncpat::message_ref m = arena.try_alloc(text);
        if (!m) continue;  // the reader holds a slot for a moment
        {
            std::lock_guard<std::mutex> guard(mutex);
            board[static_cast<std::size_t>(n) % board.size()] = {m.weak(), n};
        }
        live[static_cast<std::size_t>(n) % live.size()] = std::move(m);  // drops the oldest
    }
    done.store(true, std::memory_order_release);
    reader.join();
    CHECK(wrong.load() == 0);
    CHECK(upgraded.load() > 0);
    CHECK(stale.load() > 0);
}

TEST_CASE("last releases without a read-modify-write race lock and stale weak refs safely",
          "[mt][arena]") {
    // Slots with odd indexes get weak refs (so their releases decrement the count); the others
    // never do, so the last message_ref of each of their messages frees it with a plain store.
    // One thread allocates numbered messages, publishes weak refs to those in odd slots and
    // hands a copy of every other message in even slots to the reader; the reader upgrades
    // published weak refs, reads and drops the handed copies (often the last reference,
    // released on its thread while the writer allocates and releases), and tries weak refs
    // forged for even slots (refused: no weak ref was made for them). Every message read is the
    // one expected, and at the end every slot is free exactly once.
    asyncpat::message_arena arena(8, 16);
    constexpr int messages = 200'000;
    struct published {
        asyncpat::weak_message_ref weak;
        asyncpat::message_ref handed;
        int number = -1;
    };
    std::mutex mutex;
    std::vector<published> board(8);
    std::atomic<bool> done{false};
    std::atomic<std::uint32_t> arena_id{0};
    std::atomic<long> upgraded{0}, handed_read{0}, wrong{0}, forged_upgrades{0};
    std::thread reader([&] {
        std::size_t i = 0;
        while (!done.load(std::memory_order_acquire) || i < 1000) {
            published entry;
            {
                std::lock_guard<std::mutex> guard(mutex);
                published& at = board[i++ % board.size()];
                entry.weak = at.weak;
                entry.number = at.number;
                entry.handed = std::move(at.handed);
            }
            if (entry.number < 0) continue;
            if (entry.handed) {
                handed_read.fetch_add(1, std::memory_order_relaxed);
                if (entry.handed.as_string_view() != std::to_string(entry.number))
                    wrong.fetch_add(1, std::memory_order_relaxed);
                if (std::uint32_t const id = arena_id.load(std::memory_order_relaxed)) {
                    asyncpat::weak_message_ref const forged(id, entry.handed.index(),
                                                            entry.handed.generation());
                    if (arena.lock(forged)) forged_upgrades.fetch_add(1, std::memory_order_relaxed);
                }
                entry.handed = asyncpat::message_ref();  // often the last reference
            } else if (asyncpat::message_ref m = arena.lock(entry.weak)) {
                upgraded.fetch_add(1, std::memory_order_relaxed);
                if (m.as_string_view() != std::to_string(entry.number))
                    wrong.fetch_add(1, std::memory_order_relaxed);
            }
        }
    });
    std::vector<asyncpat::message_ref> live(3);
    for (int n = 0; n < messages; ++n) {
        std::string const text = std::to_string(n);
        asyncpat::message_ref m = arena.try_alloc(text);
        if (!m) continue;  // the reader holds slots for a moment
        if (m.index() % 2 == 1) {
            asyncpat::weak_message_ref const weak = m.weak();
            arena_id.store(weak.arena_id(), std::memory_order_relaxed);
            std::lock_guard<std::mutex> guard(mutex);
            board[static_cast<std::size_t>(n) % board.size()] = {weak, {}, n};
        } else if (n % 2 == 0) {
            std::lock_guard<std::mutex> guard(mutex);
            board[static_cast<std::size_t>(n) % board.size()] = {{}, m, n};
        }
        live[static_cast<std::size_t>(n) % live.size()] = std::move(m);  // drops the oldest
    }
    done.store(true, std::memory_order_release);
    reader.join();
    live.clear();
    board.clear();
    CHECK(wrong.load() == 0);
    CHECK(forged_upgrades.load() == 0);
    CHECK(upgraded.load() > 0);
    CHECK(handed_read.load() > 0);
    std::printf("plain-path race: %ld weak upgrades, %ld handed refs read\n", upgraded.load(),
                handed_read.load());
    CHECK(arena.live_slots() == 0);
    std::vector<asyncpat::message_ref> all;
    for (int k = 0; k < 8; ++k) all.push_back(arena.try_alloc("again"));
    for (const asyncpat::message_ref& m : all) CHECK(m);
    CHECK_FALSE(arena.try_alloc("one too many"));  // no slot was freed twice
}

TEST_CASE("read sections see no message change while slots are freed and reused",
          "[mt][arena][read_section]") {
    // One thread allocates numbered messages into 4 slots, publishes weak refs with their
    // numbers, and drops the oldest. Two threads open sections over and over (overlapping each
    // other), read up to 8 published messages in each, and check every one of them again just
    // before closing: a message read in a section must stay intact until it closes.
    asyncpat::message_arena arena(4, 16);
    constexpr int messages = 20'000;
    struct published {
        asyncpat::weak_message_ref weak;
        int number = -1;
    };
    std::mutex mutex;
    std::vector<published> board(8);
    std::atomic<bool> done{false};
    std::atomic<long> found{0}, stale{0}, wrong{0};
    auto reader = [&](std::size_t start) {
        std::size_t i = start;
        long passes = 0;
        while (!done.load(std::memory_order_acquire) || passes < 200) {
            ++passes;
            asyncpat::arena_read_section const section = arena.read_section();
            std::vector<std::pair<std::span<const std::byte>, int>> read;
            for (int k = 0; k < 8; ++k) {
                published entry;
                {
                    std::lock_guard<std::mutex> guard(mutex);
                    entry = board[i++ % board.size()];
                }
                if (entry.number < 0) continue;
                if (auto bytes = section.get(entry.weak)) {
                    read.emplace_back(*bytes, entry.number);
                    found.fetch_add(1, std::memory_order_relaxed);
                } else {
                    stale.fetch_add(1, std::memory_order_relaxed);
                }
            }
            for (auto const& [bytes, number] : read)
                if (std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()) !=
                    std::to_string(number))
                    wrong.fetch_add(1, std::memory_order_relaxed);
        }
    };
    std::thread first(reader, 0);
    std::thread second(reader, 3);
    std::vector<asyncpat::message_ref> live(3);
    long failed = 0;
    for (int n = 0; n < messages; ++n) {
        std::string const text = std::to_string(n);
        asyncpat::message_ref m = arena.try_alloc(text);
        while (!m) {  // the freed slot waits for the sections open when it was freed
            ++failed;
            std::this_thread::yield();
            m = arena.try_alloc(text);
        }
        {
            std::lock_guard<std::mutex> guard(mutex);
            board[static_cast<std::size_t>(n) % board.size()] = {m.weak(), n};
        }
        live[static_cast<std::size_t>(n) % live.size()] = std::move(m);  // drops the oldest
    }
    done.store(true, std::memory_order_release);
    first.join();
    second.join();
    CHECK(wrong.load() == 0);
    CHECK(found.load() > 0);
    CHECK(stale.load() > 0);
    std::printf("read sections: %ld read, %ld stale, %ld failed try_allocs\n", found.load(),
                stale.load(), failed);
    // No slot was lost on the way: once the messages go, all four can be taken.
    live.clear();
    CHECK(arena.live_slots() == 0);
    std::vector<asyncpat::message_ref> all;
    for (int k = 0; k < 4; ++k) all.push_back(arena.try_alloc("x"));
    for (auto const& m : all) CHECK(m);
}

TEST_CASE("allocs waiting behind read sections get every deferred slot",
          "[mt][arena][read_section]") {
    // A task waits in alloc for each of 100,000 messages (2 slots, one kept), while another
    // thread keeps opening sections that read the latest message: freed slots are deferred, then
    // returned by whichever side sees the last section close. A lost slot would hang here.
    asio::thread_pool pool(1);
    asyncpat::message_arena arena(2, 16);
    constexpr int messages = 100'000;
    std::mutex mutex;
    asyncpat::weak_message_ref latest;
    std::atomic<bool> done{false};
    std::atomic<long> found{0};
    std::thread reader([&] {
        while (!done.load(std::memory_order_acquire)) {
            asyncpat::weak_message_ref weak;
            {
                std::lock_guard<std::mutex> guard(mutex);
                weak = latest;
            }
            asyncpat::arena_read_section const section = arena.read_section();
            if (section.get(weak)) found.fetch_add(1, std::memory_order_relaxed);
        }
    });
    auto writer = [&]() -> task<int> {
        asyncpat::message_ref kept;
        int written = 0;
        for (int n = 0; n < messages; ++n) {
            std::string const text = std::to_string(n);
            asyncpat::message_ref m = co_await arena.alloc(std::string_view(text));
            {
                std::lock_guard<std::mutex> guard(mutex);
                latest = m.weak();
            }
            kept = std::move(m);
            ++written;
        }
        co_return written;
    };
    int const written = asyncpat::sync_wait(pool.get_executor(), writer());
    done.store(true, std::memory_order_release);
    reader.join();
    pool.join();
    CHECK(written == messages);
    CHECK(found.load() > 0);
    CHECK(arena.live_slots() == 0);
    CHECK(arena.try_alloc("a"));
}

TEST_CASE("sections of both phases closing on two threads after the arena went",
          "[mt][arena][read_section]") {
    // A slot deferred under a phase-0 section flips the phase; a phase-1 section opens; the
    // arena object goes; then both sections close at once on two threads. The one that closes
    // last frees the memory, and the other must not touch it after that (ASan checks).
    int trials_done = 0;
    for (int trial = 0; trial < 2000; ++trial) {
        auto arena = std::make_unique<asyncpat::message_arena>(2, 16);
        asyncpat::message_ref message = arena->try_alloc("m");
        asyncpat::arena_read_section first = arena->read_section();
        message = asyncpat::message_ref();  // deferred in phase 0; the phase flips
        asyncpat::arena_read_section second = arena->read_section();
        arena.reset();
        std::atomic<int> ready{0};
        std::thread other([&] {
            ready.fetch_add(1);
            while (ready.load() < 2) {
            }
            first.close();
        });
        ready.fetch_add(1);
        while (ready.load() < 2) {
        }
        second.close();
        other.join();
        ++trials_done;
    }
    CHECK(trials_done == 2000);
}
