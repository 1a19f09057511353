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
#include "support/runner.hpp"

#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ranges>
#include <set>
#include <stdexcept>
#include <string>
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
