// Tests of streams: the concept, generators, sources, adapters and sinks.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/stream.hpp>

#include <asyncpat/channel.hpp>
#include <asyncpat/combinators.hpp>
#include <asyncpat/local_channel.hpp>
#include <asyncpat/spawn.hpp>

#include "support/alloc_counter.hpp"
#include "support/catch.hpp"
#include "support/lifetime.hpp"
#include "support/manual_clock.hpp"
#include "support/runner.hpp"

#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::generator;
using asyncpat::task;
using asyncpat_test::run;

namespace {

// ---- the concept: an archetype and near-misses

struct archetype_stream {
    using value_type = int;
    struct awaiter {
        bool await_ready() const noexcept { return true; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        std::optional<int> await_resume() const noexcept { return std::nullopt; }
    };
    awaiter next() { return {}; }
};
struct no_value_type {
    archetype_stream::awaiter next() { return {}; }
};
struct next_not_optional {
    using value_type = int;
    struct awaiter {
        bool await_ready() const noexcept { return true; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        int await_resume() const noexcept { return 0; }
    };
    awaiter next() { return {}; }
};
struct optional_of_other_type {
    using value_type = long;
    archetype_stream::awaiter next() { return {}; }
};
struct not_movable {
    using value_type = int;
    not_movable() = default;
    not_movable(not_movable&&) = delete;
    archetype_stream::awaiter next() { return {}; }
};

static_assert(asyncpat::async_stream<archetype_stream>);
static_assert(!asyncpat::async_stream<no_value_type>);
static_assert(!asyncpat::async_stream<next_not_optional>);
static_assert(!asyncpat::async_stream<optional_of_other_type>);
static_assert(!asyncpat::async_stream<not_movable>);
static_assert(asyncpat::async_stream<generator<std::string>>);
static_assert(asyncpat::async_stream<asyncpat::receiver<int>>);
static_assert(asyncpat::async_stream<asyncpat::local_receiver<int>>);
static_assert(!asyncpat::async_stream<asyncpat::sender<int>>);

generator<int> count_to(int n) {
    for (int i = 0; i < n; ++i) co_yield i;
}

template <typename S>
task<std::vector<typename S::value_type>> drain_by_next(S stream) {
    std::vector<typename S::value_type> out;
    while (auto item = co_await stream.next()) out.push_back(std::move(*item));
    co_return out;
}

}  // namespace

TEST_CASE("a generator yields its items in order, then ends and stays ended", "[stream]") {
    auto body = []() -> task<int> {
        auto g = count_to(3);
        int score = 0;
        for (int expected = 0; expected < 3; ++expected) {
            std::optional<int> const item = co_await g.next();
            if (item == expected) ++score;
        }
        std::optional<int> const end = co_await g.next();
        std::optional<int> const still_end = co_await g.next();
        if (!end && !still_end) ++score;
        co_return score;
    };
    CHECK(run(body()) == 4);
}

TEST_CASE("an archetype stream is consumed by the sinks", "[stream]") {
    CHECK(run(asyncpat::count(archetype_stream{})) == 0);
}

TEST_CASE("synchronous adapters compose over a generator", "[stream][adapters]") {
    auto pipeline = count_to(20) | asyncpat::map([](int x) { return x * 3; }) |
                    asyncpat::filter([](int x) { return x % 2 == 0; }) | asyncpat::skip(1) |
                    asyncpat::take(4) | asyncpat::enumerate();
    auto got = run(drain_by_next(std::move(pipeline)));
    std::vector<std::pair<std::size_t, int>> const expected{{0, 6}, {1, 12}, {2, 18}, {3, 24}};
    CHECK(got == expected);
}

TEST_CASE("sinks: fold, collect, count, for_each", "[stream][sinks]") {
    CHECK(run(asyncpat::fold(count_to(5), 0, [](int acc, int x) { return acc + x; })) == 10);
    CHECK(run(asyncpat::collect<std::vector<int>>(count_to(4))) == std::vector<int>{0, 1, 2, 3});
    CHECK(run(asyncpat::collect<std::set<int>>(asyncpat::from_range(std::vector<int>{3, 1, 3}))) ==
          std::set<int>{1, 3});
    CHECK(run(asyncpat::count(count_to(7) | asyncpat::take(5))) == 5);
    auto body = []() -> task<int> {
        int sum = 0;
        co_await asyncpat::for_each(count_to(4), [&sum](int x) { sum += x; });
        co_return sum;
    };
    CHECK(run(body()) == 6);
}

// ---- sources

TEST_CASE("sources: from_range, iterate, once, empty, repeat_with", "[stream][sources]") {
    using strings = std::vector<std::string>;
    CHECK(run(asyncpat::collect<strings>(asyncpat::from_range(strings{"a", "b", "c"}))) ==
          strings{"a", "b", "c"});
    std::vector<int> const kept{1, 2, 3};
    CHECK(run(asyncpat::collect<std::vector<int>>(asyncpat::from_range(kept))) == kept);
    CHECK(kept.size() == 3);  // an lvalue container is copied, not moved from
    CHECK(run(asyncpat::collect<std::vector<int>>(asyncpat::from_range(std::views::iota(0, 4)))) ==
          std::vector<int>{0, 1, 2, 3});
    CHECK(run(asyncpat::collect<std::vector<int>>(
              asyncpat::iterate(1, [](int x) { return x * 2; }) | asyncpat::take(5))) ==
          std::vector<int>{1, 2, 4, 8, 16});
    CHECK(run(asyncpat::collect<std::vector<int>>(asyncpat::once(7))) == std::vector<int>{7});
    CHECK(run(asyncpat::count(asyncpat::empty<int>())) == 0);
    int calls = 0;
    CHECK(run(asyncpat::collect<std::vector<int>>(
              asyncpat::repeat_with([&calls] { return ++calls; }) | asyncpat::take(3))) ==
          std::vector<int>{1, 2, 3});
    CHECK(calls == 3);  // take(3) pulls no fourth item
}

TEST_CASE("from_range over a view copies the caller's elements; items are values",
          "[stream][sources]") {
    using strings = std::vector<std::string>;
    strings names{"ada", "grace"};
    CHECK(run(asyncpat::collect<strings>(asyncpat::from_range(std::span(names)))) == names);
    CHECK(run(asyncpat::collect<strings>(asyncpat::from_range(
              names | std::views::filter([](const std::string& n) { return n.size() > 3; })))) ==
          strings{"grace"});
    CHECK(names == strings{"ada", "grace"});  // not moved from
    // A proxy reference (std::vector<bool>) becomes a value: nothing refers into the stream.
    auto first_of = []() -> task<std::optional<bool>> {
        auto s = asyncpat::from_range(std::vector<bool>{true, false});
        co_return co_await s.next();
    };
    static_assert(
        std::is_same_v<
            asyncpat::stream_value_t<decltype(asyncpat::from_range(std::vector<bool>{}))>, bool>);
    CHECK(run(first_of()) == std::optional<bool>(true));
}

TEST_CASE("a range stream moved between pulls continues where it was", "[stream][sources]") {
    auto body = []() -> task<std::vector<std::string>> {
        std::array<std::string, 4> words{"one", "two", "three", "four"};
        auto first = asyncpat::from_range(std::move(words));
        std::vector<std::string> got;
        got.push_back(*co_await first.next());
        auto second = std::move(first);  // an array: the position is re-derived
        while (auto w = co_await second.next()) got.push_back(std::move(*w));
        co_return got;
    };
    CHECK(run(body()) == std::vector<std::string>{"one", "two", "three", "four"});
}

TEST_CASE("an input-only range stream moved between pulls continues where it was",
          "[stream][sources]") {
    // std::views::istream's iterator refers to the view itself: the view must stay where it is
    // while the stream moves (under ASan, a pull through the old view is a use after free).
    auto body = []() -> task<std::vector<int>> {
        std::istringstream input("10 20 30 40");
        using stream_type = decltype(asyncpat::from_range(std::views::istream<int>(input)));
        auto first =
            std::make_unique<stream_type>(asyncpat::from_range(std::views::istream<int>(input)));
        std::vector<int> got;
        got.push_back(*co_await first->next());
        stream_type second = std::move(*first);
        first.reset();  // the stream it was moved from is gone
        got.push_back(*co_await second.next());
        stream_type third = asyncpat::from_range(std::views::istream<int>(input));
        third = std::move(second);  // and by assignment
        while (auto v = co_await third.next()) got.push_back(*v);
        co_return got;
    };
    CHECK(run(body()) == std::vector<int>{10, 20, 30, 40});
}

TEST_CASE("chunks(bytes, n) slices the payload without copying", "[stream][sources]") {
    auto body = []() -> task<bool> {
        asyncpat::bytes const payload = asyncpat::bytes::copy_from(std::string(10, 'x'));
        std::vector<asyncpat::bytes> parts =
            co_await asyncpat::collect<std::vector<asyncpat::bytes>>(asyncpat::chunks(payload, 4));
        bool ok = parts.size() == 3 && parts[0].size() == 4 && parts[1].size() == 4 &&
                  parts[2].size() == 2;
        for (std::size_t i = 0; i < parts.size(); ++i)
            ok = ok && parts[i].data() == payload.data() + 4 * i;  // views into one buffer
        co_return ok;
    };
    CHECK(run(body()));
    CHECK_THROWS_AS(asyncpat::chunks(asyncpat::bytes{}, 0), std::invalid_argument);
}

TEST_CASE("a channel receiver is a stream", "[stream][sources]") {
    auto body = []() -> task<std::vector<int>> {
        auto [tx, rx] = asyncpat::make_channel<int>(4);
        auto producer = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](asyncpat::sender<int> out) -> task<void> {
                for (int i = 1; i <= 6; ++i) co_await out.send(i);
            },
            std::move(tx));
        auto doubled = co_await asyncpat::collect<std::vector<int>>(
            std::move(rx) | asyncpat::map([](int x) { return x * 2; }) | asyncpat::take(5));
        co_await producer;
        co_return doubled;
    };
    CHECK(run(body()) == std::vector<int>{2, 4, 6, 8, 10});
}

// ---- adapters

TEST_CASE("adapters: filter_map, take_while, skip_while, inspect, scan", "[stream][adapters]") {
    using ints = std::vector<int>;
    auto collect = [](auto stream) { return run(asyncpat::collect<ints>(std::move(stream))); };
    CHECK(collect(count_to(10) | asyncpat::filter_map([](int x) -> std::optional<int> {
                      if (x % 3 != 0) return std::nullopt;
                      return x * 10;
                  })) == ints{0, 30, 60, 90});
    CHECK(collect(count_to(10) | asyncpat::take_while([](int x) { return x < 4; })) ==
          ints{0, 1, 2, 3});
    CHECK(collect(count_to(6) | asyncpat::skip_while([](int x) { return x < 4; })) == ints{4, 5});
    ints seen;
    CHECK(collect(count_to(3) | asyncpat::inspect([&seen](const int& x) { seen.push_back(x); })) ==
          ints{0, 1, 2});
    CHECK(seen == ints{0, 1, 2});
    // Running sums, ending when the sum passes 10.
    CHECK(collect(count_to(100) | asyncpat::scan(0, [](int& sum, int x) -> std::optional<int> {
                      sum += x;
                      if (sum > 10) return std::nullopt;
                      return sum;
                  })) == ints{0, 1, 3, 6, 10});
}

TEST_CASE("take_while and take stop pulling the generator", "[stream][adapters]") {
    auto body = []() -> task<int> {
        int produced = 0;
        auto counting = [](int* n) -> generator<int> {
            for (int i = 0;; ++i) {
                ++*n;
                co_yield i;
            }
        };
        auto s = counting(&produced) | asyncpat::take_while([](int x) { return x < 3; });
        int sum = 0;
        while (auto v = co_await s.next()) sum += *v;
        // fused: still the end, and the generator is not resumed again
        std::optional<int> const again = co_await s.next();
        co_return again ? -1 : sum * 100 + produced;
    };
    CHECK(run(body()) == 3 * 100 + 4);  // 0+1+2, and 4 items made (the 4th ended it)
}

TEST_CASE("then, chunks, flatten, chain, zip", "[stream][adapters]") {
    using ints = std::vector<int>;
    auto twice = [](int x) -> task<int> {
        co_await asyncpat::this_task::yield();
        co_return x * 2;
    };
    CHECK(run(asyncpat::collect<ints>(count_to(4) | asyncpat::then(twice))) == ints{0, 2, 4, 6});
    CHECK(run(asyncpat::collect<std::vector<ints>>(count_to(7) | asyncpat::chunks(3))) ==
          std::vector<ints>{{0, 1, 2}, {3, 4, 5}, {6}});
    CHECK_THROWS_AS(asyncpat::chunks(0), std::invalid_argument);
    auto nested = [](int n) -> generator<generator<int>> {
        for (int i = 1; i <= n; ++i) co_yield count_to(i);
    };
    CHECK(run(asyncpat::collect<ints>(nested(3) | asyncpat::flatten())) == ints{0, 0, 1, 0, 1, 2});
    CHECK(run(asyncpat::collect<ints>(count_to(2) | asyncpat::chain(asyncpat::once(9)))) ==
          ints{0, 1, 9});
    using pairs = std::vector<std::pair<int, std::string>>;
    CHECK(run(asyncpat::collect<pairs>(count_to(5) | asyncpat::zip(asyncpat::from_range(
                                                         std::vector<std::string>{"a", "b"})))) ==
          pairs{{0, "a"}, {1, "b"}});
}

// ---- errors

namespace {
generator<int> throws_after(int n) {
    for (int i = 0; i < n; ++i) co_yield i;
    throw std::runtime_error("generator failed");
}

template <typename S>
task<std::string> outcome(S stream) {
    std::string log;
    for (;;) {
        try {
            auto item = co_await stream.next();
            if (!item) break;
            log += std::to_string(*item) + ",";
        } catch (const std::runtime_error& e) {
            log += std::string("error:") + e.what() + ",";
        }
    }
    // fused after the error or the end
    std::optional<typename S::value_type> const after = co_await stream.next();
    log += after ? "more" : "end";
    co_return log;
}
}  // namespace

TEST_CASE("an exception in a generator's body reaches the consumer, then the stream ends",
          "[stream][errors]") {
    CHECK(run(outcome(throws_after(2))) == "0,1,error:generator failed,end");
    CHECK(run(outcome(throws_after(2) | asyncpat::map([](int x) { return x + 1; }))) ==
          "1,2,error:generator failed,end");
}

TEST_CASE("iterate calls f only when the next item is pulled", "[stream][sources]") {
    int calls = 0;
    auto doubling = [&calls](int x) {
        ++calls;
        if (x >= 4) throw std::runtime_error("too far");
        return x * 2;
    };
    // take(3) needs 1, 2, 4: f runs twice, never on 4 (where it would throw).
    CHECK(run(asyncpat::collect<std::vector<int>>(asyncpat::iterate(1, doubling) |
                                                  asyncpat::take(3))) == std::vector<int>{1, 2, 4});
    CHECK(calls == 2);
    // Pulled further, the error comes after the items before it.
    CHECK(run(outcome(asyncpat::iterate(1, doubling))) == "1,2,4,error:too far,end");
}

TEST_CASE("an exception in an adapter's function reaches the consumer, then the stream ends",
          "[stream][errors]") {
    auto failing = [](int x) {
        if (x == 2) throw std::runtime_error("map failed");
        return x;
    };
    CHECK(run(outcome(count_to(5) | asyncpat::map(failing))) == "0,1,error:map failed,end");
    // The generator's body does not see the adapter's exception (its own handler stays out).
    auto guarded = []() -> generator<int> {
        for (int i = 0; i < 5; ++i) {
            bool caught = false;
            try {
                co_yield i;
            } catch (...) {
                caught = true;
            }
            if (caught) co_yield -100;  // never reached
        }
    };
    CHECK(run(outcome(guarded() | asyncpat::map(failing))) == "0,1,error:map failed,end");
    // The same through a synchronous source and a sink.
    auto sum = [](int acc, int x) {
        if (x == 3) throw std::runtime_error("fold failed");
        return acc + x;
    };
    CHECK_THROWS_WITH(run(asyncpat::fold(asyncpat::from_range(std::vector<int>{1, 2, 3}), 0, sum)),
                      "fold failed");
}

// ---- lifetimes

namespace {
generator<asyncpat_test::tracked> tracked_items(asyncpat_test::lifetime_counter& counter) {
    asyncpat_test::tracked const guard(counter, -1);  // a local of the suspended body
    for (int i = 0;; ++i) co_yield asyncpat_test::tracked(counter, i);
}
}  // namespace

TEST_CASE("dropping a pipeline early destroys everything once", "[stream][lifetime]") {
    asyncpat_test::lifetime_counter counter;
    auto body = [](asyncpat_test::lifetime_counter& c) -> task<int> {
        auto pipeline =
            tracked_items(c) |
            asyncpat::filter([](const asyncpat_test::tracked& t) { return t.value() % 2 == 0; }) |
            asyncpat::map([](asyncpat_test::tracked t) { return t; }) | asyncpat::chunks(2) |
            asyncpat::take(2);
        int sum = 0;
        auto first = co_await pipeline.next();
        for (const auto& t : *first) sum += t.value();
        co_return sum;  // the pipeline is destroyed here, mid-stream
    };
    CHECK(run(body(counter)) == 0 + 2);
    CHECK(counter.alive() == 0);
    CHECK(counter.constructed.load() > 0);
}

TEST_CASE("a generator destroyed before its first pull runs nothing", "[stream][lifetime]") {
    asyncpat_test::lifetime_counter counter;
    {
        auto g = tracked_items(counter);
    }
    CHECK(counter.constructed.load() == 0);
}

// ---- a generator awaiting a channel and an Asio timer; another thread

namespace {
generator<std::string> tick_then_relay(asyncpat::receiver<int> rx) {
    asio::steady_timer timer(co_await asyncpat::this_task::executor);
    timer.expires_after(1ms);
    co_await timer.async_wait(asyncpat::use_task);
    co_yield std::string("tick");
    while (auto v = co_await rx.receive()) co_yield std::to_string(*v);
}
}  // namespace

TEST_CASE("a generator awaits a channel and an Asio timer", "[stream]") {
    auto body = []() -> task<std::vector<std::string>> {
        auto [tx, rx] = asyncpat::make_channel<int>(1);
        auto producer = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](asyncpat::sender<int> out) -> task<void> {
                for (int i = 0; i < 3; ++i) co_await out.send(i);
            },
            std::move(tx));
        auto got = co_await asyncpat::collect<std::vector<std::string>>(tick_then_relay(rx));
        co_await producer;
        co_return got;
    };
    CHECK(run(body()) == std::vector<std::string>{"tick", "0", "1", "2"});
}

TEST_CASE("a stream made on one thread is consumed on another", "[stream]") {
    auto pipeline =
        count_to(100) | asyncpat::map([](int x) { return std::to_string(x); }) | asyncpat::take(3);
    asio::io_context io(1);
    std::vector<std::string> got;
    std::thread consumer([&] {
        got = asyncpat::sync_wait(io,
                                  asyncpat::collect<std::vector<std::string>>(std::move(pipeline)));
    });
    consumer.join();
    CHECK(got == std::vector<std::string>{"0", "1", "2"});
}

// ---- allocations

TEST_CASE("a generator with synchronous adapters allocates nothing per item", "[stream][alloc]") {
    auto body = []() -> task<std::uint64_t> {
        auto numbers = [](std::uint64_t n) -> generator<std::uint64_t> {
            for (std::uint64_t i = 0; i < n; ++i) co_yield i;
        };
        // by next(): a switch per item
        auto s = numbers(100'000) | asyncpat::map([](std::uint64_t x) { return x * 3; }) |
                 asyncpat::filter([](std::uint64_t x) { return x % 2 == 0; }) | asyncpat::skip(1) |
                 asyncpat::enumerate();
        std::uint64_t total = 0;
        while (auto item = co_await s.next()) total += item->second;
        // by a sink: one pull
        total +=
            co_await asyncpat::fold(numbers(100'000) | asyncpat::take(50'000), std::uint64_t{0},
                                    [](std::uint64_t a, std::uint64_t x) { return a + x; });
        co_return total;
    };
    long const before = asyncpat_test::allocation_count();
    std::uint64_t const total = run(body());
    long const used = asyncpat_test::allocation_count() - before;
    CHECK(total > 0);
    CHECK(used < 20);  // frames (from the cache) and the io_context, not 150 000 items
}

// ---- concurrency: buffered, buffer_unordered, merge, for_each_concurrent

namespace {
// In-flight accounting for the tasks a stream runs.
struct flight_log {
    int running = 0;
    int most = 0;
    std::vector<int> finished;
};

// Finishes after `delay` yields; the items of a stream of work.
task<int> work_item(flight_log& log, int value, int delay) {
    ++log.running;
    log.most = std::max(log.most, log.running);
    for (int i = 0; i < delay; ++i) co_await asyncpat::this_task::yield();
    --log.running;
    log.finished.push_back(value);
    co_return value;
}

generator<task<int>> work(flight_log& log, std::vector<std::pair<int, int>> items) {
    for (auto [value, delay] : items) co_yield work_item(log, value, delay);
}
}  // namespace

TEST_CASE("buffered keeps the order, buffer_unordered the completion order; both bound n",
          "[stream][concurrent]") {
    std::vector<std::pair<int, int>> const items{{1, 30}, {2, 5}, {3, 20}, {4, 1}, {5, 10}};
    flight_log ordered_log;
    auto ordered =
        run(asyncpat::collect<std::vector<int>>(work(ordered_log, items) | asyncpat::buffered(2)));
    CHECK(ordered == std::vector<int>{1, 2, 3, 4, 5});
    CHECK(ordered_log.most == 2);  // never more than n, and really concurrent

    flight_log unordered_log;
    auto unordered = run(asyncpat::collect<std::vector<int>>(work(unordered_log, items) |
                                                             asyncpat::buffer_unordered(2)));
    CHECK(unordered_log.most == 2);
    CHECK(unordered == unordered_log.finished);  // as they finished
    CHECK(unordered != ordered);
    std::vector<int> sorted = unordered;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == ordered);

    flight_log wide_log;
    (void)run(asyncpat::count(work(wide_log, items) | asyncpat::buffered(10)));
    CHECK(wide_log.most == 5);
    // A limit meant as "no bound" works (its channels are capped at 65 536 slots).
    flight_log unbounded_log;
    (void)run(asyncpat::count(work(unbounded_log, items) |
                              asyncpat::buffered(std::numeric_limits<std::size_t>::max())));
    CHECK(unbounded_log.most == 5);
    flight_log unbounded_unordered_log;
    (void)run(asyncpat::count(work(unbounded_unordered_log, items) |
                              asyncpat::buffer_unordered(std::numeric_limits<std::size_t>::max())));
    CHECK(unbounded_unordered_log.most == 5);
    CHECK_THROWS_AS(asyncpat::buffered(0), std::invalid_argument);
    CHECK_THROWS_AS(asyncpat::buffer_unordered(0), std::invalid_argument);
}

namespace {
// A crawler: each result may add work to the stream that produced it. The adapter must hand out
// a result that is ready while the stream waits for its next item, or the loop deadlocks.
template <typename Adapter>
task<std::string> crawl(Adapter adapter) {
    auto [tx, rx] = asyncpat::make_channel<int>(16);
    co_await tx.send(1);
    auto visit = [](int page) -> task<int> {
        co_await asyncpat::this_task::yield();
        co_return page;
    };
    auto pages = std::move(rx) | asyncpat::map(visit) | adapter;
    std::string log;
    int open = 1;  // pages sent and not yet seen
    while (open > 0) {
        std::optional<int> page = co_await pages.next();
        if (!page) break;
        --open;
        log += std::to_string(*page);
        for (int link = 2 * *page; link <= 2 * *page + 1 && link <= 7; ++link, ++open)
            co_await tx.send(int(link));
    }
    co_return log;
}
}  // namespace

TEST_CASE("buffered and buffer_unordered deliver a ready result while the stream waits",
          "[stream][concurrent]") {
    // A breadth-first walk of the pages 1..7 (page p links to 2p and 2p + 1).
    CHECK(asyncpat_test::run_in_virtual_time(crawl(asyncpat::buffered(4)), 1ms, 1000) == "1234567");
    std::string unordered =
        asyncpat_test::run_in_virtual_time(crawl(asyncpat::buffer_unordered(4)), 1ms, 1000);
    std::sort(unordered.begin(), unordered.end());
    CHECK(unordered == "1234567");
}

TEST_CASE("buffered: the stream's error comes after the results of the items before it",
          "[stream][concurrent][errors]") {
    auto body = []() -> task<std::string> {
        auto slow = [](int v) -> task<int> {
            for (int i = 0; i < 3; ++i) co_await asyncpat::this_task::yield();
            co_return v;
        };
        auto s = throws_after(3) | asyncpat::map(slow) | asyncpat::buffered(8);
        std::string log;
        try {
            while (auto v = co_await s.next()) log += std::to_string(*v);
        } catch (const std::runtime_error& e) {
            log += std::string(",") + e.what();
        }
        co_return log;
    };
    CHECK(run(body()) == "012,generator failed");
}

TEST_CASE("buffered: a failed task's error arrives in order; dropping aborts the rest",
          "[stream][concurrent][errors]") {
    asyncpat_test::lifetime_counter counter;
    auto slow = [](asyncpat_test::lifetime_counter& c, int value) -> task<int> {
        asyncpat_test::tracked const held(c, value);  // lives while the task runs
        for (int i = 0; i < 1000; ++i) co_await asyncpat::this_task::yield();
        co_return value;
    };
    auto failing = []() -> task<int> {
        co_await asyncpat::this_task::yield();
        throw std::runtime_error("item failed");
    };
    auto items = [](asyncpat_test::lifetime_counter& c, auto make_slow,
                    auto make_failing) -> generator<task<int>> {
        co_yield make_failing();
        for (int i = 0; i < 5; ++i) co_yield make_slow(c, i);
    };
    auto body = [](generator<task<int>> stream) -> task<std::string> {
        auto s = std::move(stream) | asyncpat::buffered(3);
        try {
            (void)co_await s.next();
        } catch (const std::runtime_error& e) {
            co_return e.what();
        }
        co_return "no error";
    };
    CHECK(run(body(items(counter, slow, failing))) == "item failed");
    CHECK(counter.alive() == 0);  // the two slow tasks in flight were aborted and destroyed
}

TEST_CASE("merge interleaves two streams fairly and ends after both", "[stream][concurrent]") {
    auto body = []() -> task<std::vector<std::string>> {
        auto letters = asyncpat::repeat_with([] { return std::string("a"); }) | asyncpat::take(50);
        auto digits = asyncpat::repeat_with([] { return std::string("1"); }) | asyncpat::take(50);
        co_return co_await asyncpat::collect<std::vector<std::string>>(
            std::move(letters) | asyncpat::merge(std::move(digits)));
    };
    std::vector<std::string> const got = run(body());
    REQUIRE(got.size() == 100);
    // Fair: within the first 20 items both streams appear, and neither runs 5 in a row.
    int a = 0, longest_run = 0, current_run = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (i < 20 && got[i] == "a") ++a;
        current_run = (i > 0 && got[i] == got[i - 1]) ? current_run + 1 : 1;
        longest_run = std::max(longest_run, current_run);
    }
    CHECK(a > 0);
    CHECK(a < 20);
    CHECK(longest_run < 5);
}

TEST_CASE("merge: an error of either stream ends the merged stream", "[stream][concurrent]") {
    auto body = []() -> task<std::string> {
        auto s = count_to(1000) | asyncpat::merge(throws_after(3));
        try {
            while (auto item = co_await s.next()) (void)item;
        } catch (const std::runtime_error& e) {
            co_return e.what();
        }
        co_return "no error";
    };
    CHECK(run(body()) == "generator failed");
}

TEST_CASE("for_each_concurrent runs up to n at once and waits for all", "[stream][concurrent]") {
    flight_log log;
    auto body = [](flight_log& l) -> task<int> {
        co_await asyncpat::for_each_concurrent(count_to(8), 3,
                                               [&l](int x) { return work_item(l, x, 3 + x % 4); });
        co_return static_cast<int>(l.finished.size());
    };
    CHECK(run(body(log)) == 8);
    CHECK(log.most == 3);
    CHECK(log.running == 0);
}

namespace {
// A call of for_each_concurrent that counts itself in flight until its frame ends (also when
// it is cancelled), and fails when its item is `failing`.
struct call_log {
    int in_flight = 0;
    int completed = 0;
    int in_flight_when_caught = -1;
};
struct in_flight_guard {
    int* count;
    ~in_flight_guard() { --*count; }
};
struct call_failed : std::runtime_error {
    using std::runtime_error::runtime_error;
};
task<void> slow_call(call_log& log, int item, int failing) {
    ++log.in_flight;
    in_flight_guard guard{&log.in_flight};
    co_await asyncpat::this_task::yield();
    if (item == failing) throw call_failed("call failed");
    for (int i = 0; i < 50; ++i) co_await asyncpat::this_task::yield();
    ++log.completed;
}
generator<int> paced_then_throws(int n) {
    for (int i = 0; i < n; ++i) {
        co_yield i;
        co_await asyncpat::this_task::yield();  // the calls start meanwhile
    }
    throw std::runtime_error("generator failed");
}

template <typename S>
task<std::string> for_each_concurrent_outcome(S stream, std::size_t limit, call_log& log,
                                              int failing) {
    std::string what;
    try {
        co_await asyncpat::for_each_concurrent(std::move(stream), limit, [&log, failing](int x) {
            return slow_call(log, x, failing);
        });
        what = "no error";
    } catch (const call_failed& e) {
        what = std::string("call_failed: ") + e.what();
    } catch (const std::system_error& e) {
        what = e.code() == asio::error::operation_aborted ? "aborted" : e.what();
    } catch (const std::exception& e) {
        what = e.what();
    }
    log.in_flight_when_caught = log.in_flight;
    co_return what;
}
}  // namespace

TEST_CASE("for_each_concurrent: on an error no call outlives it; a call's error comes as itself",
          "[stream][concurrent][errors]") {
    SECTION("the stream fails while calls run") {
        call_log log;
        CHECK(run(for_each_concurrent_outcome(paced_then_throws(3), 4, log, -1)) ==
              "generator failed");
        CHECK(log.in_flight_when_caught == 0);
        CHECK(log.completed == 0);  // cancelled, not left running
    }
    SECTION("a call fails below the limit, after the stream ended") {
        call_log log;
        CHECK(run(for_each_concurrent_outcome(asyncpat::from_range(std::vector<int>{0, 1, 2}), 8,
                                              log, 0)) == "call_failed: call failed");
        CHECK(log.in_flight_when_caught == 0);
        CHECK(log.completed == 0);  // the slow calls were cancelled
    }
    SECTION("a call fails at the limit") {
        call_log log;
        CHECK(run(for_each_concurrent_outcome(count_to(10), 2, log, 1)) ==
              "call_failed: call failed");
        CHECK(log.in_flight_when_caught == 0);
    }
    SECTION("the caller is aborted while calls run") {
        asio::io_context io(1);
        call_log log;
        auto handle = asyncpat::spawn(io, for_each_concurrent_outcome(count_to(10), 3, log, -1));
        for (int i = 0; i < 5; ++i) io.run_one();
        REQUIRE(log.in_flight > 0);
        handle.abort();
        auto join = [](asyncpat::join_handle<std::string> h) -> task<std::string> {
            co_return co_await h;
        };
        CHECK(asyncpat::sync_wait(io, join(std::move(handle))) == "aborted");
        CHECK(log.in_flight_when_caught == 0);
        CHECK(log.in_flight == 0);
    }
}

TEST_CASE("forward sends every item into a channel with backpressure", "[stream][sinks]") {
    auto body = []() -> task<std::vector<std::string>> {
        auto [tx, rx] = asyncpat::make_channel<std::string>(2);
        auto forwarding = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](asyncpat::sender<std::string> out) -> task<std::size_t> {
                co_return co_await asyncpat::forward(count_to(6) | asyncpat::map([](int x) {
                                                         return std::string(
                                                             3, static_cast<char>('a' + x));
                                                     }),
                                                     std::move(out));
            },
            std::move(tx));
        auto got = co_await asyncpat::collect<std::vector<std::string>>(std::move(rx));
        std::size_t const sent = co_await forwarding;
        got.push_back(std::to_string(sent));
        co_return got;
    };
    CHECK(run(body()) == std::vector<std::string>{"aaa", "bbb", "ccc", "ddd", "eee", "fff", "6"});
}

// ---- time, in virtual time (tests/support/manual_clock.hpp)

namespace {
using asyncpat_test::manual_clock;
using asyncpat_test::manual_timer;

// Offsets of `points` from `origin`, in milliseconds.
std::vector<long> millis_since(manual_clock::time_point origin,
                               const std::vector<manual_clock::time_point>& points) {
    std::vector<long> out;
    for (auto p : points)
        out.push_back(static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(p - origin).count()));
    return out;
}

// Items that come after the given virtual delays (ms).
generator<int> arriving_after(std::vector<int> delays) {
    int index = 0;
    for (int delay : delays) {
        co_await asyncpat::sleep_for<manual_timer>(std::chrono::milliseconds(delay));
        co_yield index++;
    }
}
}  // namespace

TEST_CASE("interval ticks at start + k * period, first at once", "[stream][time]") {
    auto body = []() -> task<std::vector<long>> {
        auto const start = manual_clock::now();
        std::vector<manual_clock::time_point> due, seen;
        auto ticks =
            asyncpat::interval<manual_timer>(co_await asyncpat::this_task::executor, 10ms) |
            asyncpat::take(4);
        while (auto t = co_await ticks.next()) {
            due.push_back(*t);
            seen.push_back(manual_clock::now());
        }
        std::vector<long> out = millis_since(start, due);
        for (long s : millis_since(start, seen)) out.push_back(s);
        co_return out;
    };
    // due at 0, 10, 20, 30; seen within the 1 ms step after each
    auto const got = asyncpat_test::run_in_virtual_time(body());
    REQUIRE(got.size() == 8);
    CHECK(std::vector<long>(got.begin(), got.begin() + 4) == std::vector<long>{0, 10, 20, 30});
    for (int i = 0; i < 4; ++i) {
        CHECK(got[static_cast<std::size_t>(4 + i)] >= 10 * i);
        CHECK(got[static_cast<std::size_t>(4 + i)] <= 10 * i + 1);
    }
    CHECK_THROWS_AS(asyncpat::interval(asio::system_executor(), 0ms), std::invalid_argument);
}

TEST_CASE("throttle spaces items by at least the gap and drops nothing", "[stream][time]") {
    auto body = []() -> task<std::vector<long>> {
        auto const start = manual_clock::now();
        std::vector<manual_clock::time_point> seen;
        // Items at 0, 0, 0, 25, 25 ms (virtual), throttled to one per 10 ms.
        auto s = arriving_after({0, 0, 0, 25, 0}) | asyncpat::throttle<manual_timer>(10ms);
        while (auto item = co_await s.next()) seen.push_back(manual_clock::now());
        co_return millis_since(start, seen);
    };
    auto const got = asyncpat_test::run_in_virtual_time(body());
    REQUIRE(got.size() == 5);
    for (std::size_t i = 1; i < got.size(); ++i) CHECK(got[i] - got[i - 1] >= 10);
    CHECK(got[1] <= 11);  // held back only as long as needed
    CHECK(got[3] >= 45);  // the 4th came at 20 + 25 (after the 3rd was let through at ~20)
    CHECK(got[4] - got[3] <= 11);
}

TEST_CASE("timeout fails the stream when an item is late, and lets timely ones through",
          "[stream][time]") {
    auto body = []() -> task<std::string> {
        auto s = arriving_after({5, 15, 50, 1}) | asyncpat::timeout<manual_timer>(20ms);
        std::string log;
        try {
            while (auto item = co_await s.next()) log += std::to_string(*item) + ",";
        } catch (const std::system_error& e) {
            if (e.code() == asyncpat::errc::timed_out) log += "timed out,";
        }
        std::optional<int> const after = co_await s.next();
        log += after ? "more" : "end";
        co_return log;
    };
    CHECK(asyncpat_test::run_in_virtual_time(body()) == "0,1,timed out,end");
}

TEST_CASE("timeout on a channel receiver loses no value at the deadline", "[stream][time]") {
    auto body = []() -> task<int> {
        auto [tx, rx] = asyncpat::make_channel<int>(1);
        auto late = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](asyncpat::sender<int> out) -> task<void> {
                co_await asyncpat::sleep_for<manual_timer>(30ms);
                co_await out.send(7);
            },
            tx);
        auto s = std::move(rx) | asyncpat::timeout<manual_timer>(10ms);
        bool timed_out = false;
        try {
            (void)co_await s.next();
        } catch (const std::system_error&) {
            timed_out = true;
        }
        co_await late;
        // The stream ended, but the value was not taken: it is still in the channel.
        std::optional<int> const left = tx.try_send(8) ? std::optional<int>(7) : std::nullopt;
        co_return timed_out&& left ? 1 : 0;
    };
    CHECK(asyncpat_test::run_in_virtual_time(body()) == 1);
}

TEST_CASE("chunks(n): an error of its own (a chunk too large to reserve) ends the stream",
          "[stream][errors]") {
    auto body = []() -> task<std::string> {
        auto s = asyncpat::from_range(std::vector<int>{1, 2, 3}) |
                 asyncpat::chunks(std::numeric_limits<std::size_t>::max());
        std::string log;
        for (int i = 0; i < 3; ++i) {
            try {
                std::optional<std::vector<int>> chunk = co_await s.next();
                log += chunk ? "chunk;" : "end;";
            } catch (const std::length_error&) {
                log += "length_error;";
            }
        }
        co_return log;
    };
    CHECK(run(body()) == "length_error;end;end;");
}

TEST_CASE("timeout over chunks(n) fails with timed_out, never a stale cancellation",
          "[stream][time]") {
    // One item, then a long pause: the pull is cancelled at the deadline with one item gathered.
    auto body = []() -> task<std::string> {
        auto [tx, rx] = asyncpat::make_channel<int>(8);
        auto producer = asyncpat::spawn(
            co_await asyncpat::this_task::executor,
            [](asyncpat::sender<int> out) -> task<void> {
                co_await out.send(1);
                co_await asyncpat::sleep_for<manual_timer>(500ms);
                co_await out.send(2);
            },
            std::move(tx));
        auto s = std::move(rx) | asyncpat::chunks(3) | asyncpat::timeout<manual_timer>(50ms);
        std::string log;
        try {
            while (auto chunk = co_await s.next()) log += "chunk" + std::to_string(chunk->size());
        } catch (const std::system_error& e) {
            log += e.code() == asyncpat::errc::timed_out ? "timed out" : e.code().message();
        }
        producer.abort();
        try {
            co_await producer;
        } catch (const std::system_error&) {  // aborted
        }
        co_return log;
    };
    CHECK(asyncpat_test::run_in_virtual_time(body()) == "timed out");
}

TEST_CASE("a cancelled pull of chunks(n) keeps the items it gathered", "[stream][time]") {
    // Over a channel receiver (cancel-safe), a pull cancelled by a deadline takes nothing: the
    // item gathered stays, and the next pull completes the chunk with it.
    auto body = []() -> task<std::string> {
        auto [tx, rx] = asyncpat::make_channel<int>(8);
        auto s = std::move(rx) | asyncpat::chunks(3);
        auto pull = [](decltype(s)& stream) -> task<std::optional<std::vector<int>>> {
            co_return co_await stream.next();
        };
        std::string log;
        co_await tx.send(1);
        try {
            (void)co_await asyncpat::timeout<manual_timer>(10ms, pull(s));
            log += "no timeout,";
        } catch (const std::system_error& e) {
            log += e.code() == asyncpat::errc::timed_out ? "timed out," : "other,";
        }
        co_await tx.send(2);
        co_await tx.send(3);
        co_await tx.send(4);
        tx.close();
        while (auto chunk = co_await s.next()) {
            log += "[";
            for (int x : *chunk) log += std::to_string(x);
            log += "]";
        }
        co_return log;
    };
    CHECK(asyncpat_test::run_in_virtual_time(body()) == "timed out,[123][4]");
}

namespace {
template <typename S>
task<std::string> chunk_outcome(S stream) {
    std::string log;
    for (;;) {
        try {
            auto chunk = co_await stream.next();
            if (!chunk) break;
            log += "[";
            for (int x : *chunk) log += std::to_string(x);
            log += "]";
        } catch (const std::runtime_error& e) {
            log += std::string("error:") + e.what() + ",";
        }
    }
    co_return log + "end";
}
}  // namespace

TEST_CASE("chunks and ready_chunks deliver the items before an error, then the error",
          "[stream][errors]") {
    CHECK(run(chunk_outcome(throws_after(5) | asyncpat::chunks(2))) ==
          "[01][23][4]error:generator failed,end");
    CHECK(run(chunk_outcome(throws_after(3) | asyncpat::ready_chunks(8))) ==
          "[012]error:generator failed,end");
}

TEST_CASE("dropping buffered drops the failures nobody read (not reported)",
          "[stream][concurrent][errors]") {
    int reported = 0;
    auto previous =
        asyncpat::set_unhandled_exception_handler([&reported](std::exception_ptr) { ++reported; });
    auto failing = []() -> task<int> {
        co_await asyncpat::this_task::yield();
        throw std::runtime_error("unread failure");
    };
    auto items = [](auto make_failing) -> generator<task<int>> {
        co_yield [](int v) -> task<int> { co_return v; }(1);
        for (int i = 0; i < 3; ++i) co_yield make_failing();
    };
    auto body = [](generator<task<int>> stream) -> task<int> {
        auto s = std::move(stream) | asyncpat::buffer_unordered(4);
        auto first = co_await s.next();
        // Let the failing ones finish before the stream is dropped unread.
        for (int i = 0; i < 10; ++i) co_await asyncpat::this_task::yield();
        co_return first.value_or(-1);
    };
    int const first = run(body(items(failing)));
    asyncpat::set_unhandled_exception_handler(previous);
    CHECK(first == 1);
    CHECK(reported == 0);
}

TEST_CASE("ready_chunks takes what is ready, up to n", "[stream][concurrent]") {
    auto body = []() -> task<std::vector<std::vector<int>>> {
        auto [tx, rx] = asyncpat::make_channel<int>(8);
        for (int i = 0; i < 5; ++i) (void)tx.try_send(int{i});
        auto s = std::move(rx) | asyncpat::ready_chunks(3);
        std::vector<std::vector<int>> got;
        got.push_back(*co_await s.next());  // 3 of the 5 ready
        got.push_back(*co_await s.next());  // the other 2
        (void)tx.try_send(9);
        got.push_back(*co_await s.next());  // 1
        tx.close();
        std::optional<std::vector<int>> const end = co_await s.next();
        if (end) got.push_back({-1});
        co_return got;
    };
    CHECK(run(body()) == std::vector<std::vector<int>>{{0, 1, 2}, {3, 4}, {9}});
    // Over a generator, a feeder pulls ahead while the consumer is busy.
    auto chunked = [](int n) -> task<std::size_t> {
        auto s = count_to(n) | asyncpat::ready_chunks(4);
        std::size_t items = 0, chunks = 0;
        while (auto chunk = co_await s.next()) {
            items += chunk->size();
            ++chunks;
            co_await asyncpat::this_task::yield();  // busy: items pile up meanwhile
        }
        co_return items * 1000 + chunks;
    };
    std::size_t const result = run(chunked(10));
    CHECK(result / 1000 == 10);
    CHECK(result % 1000 < 10);  // some chunks held more than one item
    CHECK_THROWS_AS(asyncpat::ready_chunks(0), std::invalid_argument);
}
