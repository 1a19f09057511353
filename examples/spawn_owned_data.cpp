// asyncpat example: a spawned task must own its data; spawn arguments, move-captures, shared_ptr.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// The pitfall: "the spawned task borrows data that dies".
//
// `asyncpat::spawn` does not run the task. It queues the task's start on the executor and returns
// at once, with a join handle. The task runs later, when the function that spawned it may already
// have returned and destroyed its local variables. A task that refers to one of those locals then
// reads freed stack memory. Rust rejects this at compile time (`tokio::spawn` requires a
// `'static` future); a C++ compiler accepts it without a warning. So it is kept here in a comment
// only, because running it is undefined behaviour:
//
//     asyncpat::join_handle<std::size_t> start_word_count(const asyncpat::any_executor& ex) {
//         std::string text = "a spawned task must own the data it uses";
//         return asyncpat::spawn(ex, [&text]() -> asyncpat::task<std::size_t> {
//             co_return count_words(text);  // BUG: `text` died when start_word_count returned
//         });
//     }
//
// The same bug has two other common spellings:
//
//     task<std::size_t> count_later(const std::string& text);     // a reference parameter:
//     asyncpat::spawn(ex, count_later(text));                     // the frame keeps `&text`
//
//     asyncpat::spawn(ex, [text]() -> task<std::size_t> { ... }());  // the lambda is *called*:
//     // the coroutine reaches its captures through the lambda object, a temporary that dies at
//     // the end of this line, so even captures by value dangle
//
// Every fix follows one rule: what a task uses, the task owns. This program shows three ways:
//   1. pass the data as arguments of `spawn(ex, function, args...)`;
//   2. pass (do not call) a lambda that move-captures its data;
//   3. share read-only data between several tasks with `std::shared_ptr<const T>`,
// and joins the tasks with `co_await handle` and with a `task_group`.

#include <asyncpat.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using asyncpat::task;

namespace {

std::size_t count_words(const std::string& text) {
    std::istringstream words(text);
    std::size_t count = 0;
    for (std::string word; words >> word;) ++count;
    return count;
}

// ------------------------------------------------------------------------------------------------
// Fix 1: the data goes through spawn's argument list.
//
// spawn(ex, function, args...) moves `function` and `args...` into the spawned task's state and
// calls `function(std::move(args)...)` there. `count_later` takes its string by value, so the
// coroutine frame holds its own copy: the task owns its input wherever it runs.

task<std::size_t> count_later(std::string text) {
    co_await asyncpat::this_task::yield();  // let the spawner go on first: we really run later
    co_return count_words(text);
}

asyncpat::join_handle<std::size_t> start_word_count(const asyncpat::any_executor& ex) {
    std::string text = "a spawned task must own the data it uses";
    return asyncpat::spawn(ex, count_later, std::move(text));
}  // `text` (moved from) dies here, before the task has even started: nothing refers to it

// ------------------------------------------------------------------------------------------------
// Fix 2: a lambda that move-captures its data, passed to spawn (not called).
//
// spawn moves the lambda object itself into the spawned state and calls it there, so its
// captures live exactly as long as the task.

asyncpat::join_handle<std::string> start_summary(const asyncpat::any_executor& ex) {
    std::string sensor = "greenhouse-3";
    std::vector<double> readings{21.5, 22.0, 22.4, 21.9, 22.7};
    return asyncpat::spawn(
        ex, [sensor = std::move(sensor), readings = std::move(readings)]() -> task<std::string> {
            co_await asyncpat::this_task::yield();  // start_summary has returned by now
            double sum = 0;
            for (double reading : readings) sum += reading;
            double const mean = sum / static_cast<double>(readings.size());
            co_return fmt::format("{}: {} readings, mean {:.2f}", sensor, readings.size(), mean);
        });
}

// ------------------------------------------------------------------------------------------------
// Fix 3: several tasks read the same data, so they share its ownership.
//
// Each task gets its own std::shared_ptr to immutable data (no locking needed to read it). The
// data is freed when the last owner lets go, whichever task or scope that is.

struct library {
    std::vector<std::string> titles;
};

struct title_count {
    std::string word;
    std::size_t titles;
};

task<title_count> count_titles_with(std::shared_ptr<const library> books, std::string word) {
    co_await asyncpat::this_task::yield();
    auto const found = std::count_if(
        books->titles.begin(), books->titles.end(),
        [&word](const std::string& title) { return title.find(word) != std::string::npos; });
    co_return title_count{std::move(word), static_cast<std::size_t>(found)};
}

task<std::string> longest_title(std::shared_ptr<const library> books) {
    co_await asyncpat::this_task::yield();
    auto const longest = std::max_element(
        books->titles.begin(), books->titles.end(),
        [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
    co_return *longest;
}

// Spawns four readers of one library, lets go of its own pointer, and joins them: one through
// its join handle, three through a task_group. Returns a weak_ptr to check that nobody leaked it.
task<std::weak_ptr<const library>> share_library(asyncpat::any_executor ex) {
    auto books = std::make_shared<const library>(
        library{{"The Old Man and the Sea", "Tender Is the Night", "The Night Circus",
                 "Twenty Thousand Leagues Under the Sea", "The Sea, the Sea"}});
    std::weak_ptr<const library> watch = books;

    auto longest = asyncpat::spawn(ex, longest_title, books);
    asyncpat::task_group<title_count> group(ex);
    for (char const* word : {"Sea", "Night", "The"})
        group.spawn(count_titles_with, books, std::string(word));
    fmt::print("   owners of the library: {} (this function and the 4 tasks)\n", books.use_count());

    books.reset();  // this scope lets go; the tasks keep the library alive
    fmt::print("   this function dropped its pointer; the tasks still own the library\n");

    std::string const title = co_await longest;
    fmt::print("   joined with co_await handle: longest title is \"{}\"\n", title);

    // join_all yields the results in the order the tasks finished.
    std::vector<title_count> const counts = co_await group.join_all();
    for (const title_count& count : counts)
        fmt::print("   joined with task_group:      {} titles contain \"{}\"\n", count.titles,
                   count.word);
    co_return watch;
}  // the handle and the group go here, and with them the tasks' frames and their pointers

task<void> tour() {
    asyncpat::any_executor const ex = co_await asyncpat::this_task::executor;

    fmt::print("1. data moved into spawn's arguments\n");
    auto words = start_word_count(ex);
    fmt::print("   start_word_count has returned; its task has not run yet\n");
    std::size_t const count = co_await words;
    fmt::print("   the task counted {} words in its own copy of the text\n", count);

    fmt::print("2. a lambda with move-captures, passed to spawn\n");
    auto summary = start_summary(ex);
    std::string const line = co_await summary;
    fmt::print("   {}\n", line);

    fmt::print("3. a std::shared_ptr<const library> shared by several tasks\n");
    std::weak_ptr<const library> const watch = co_await share_library(ex);
    fmt::print("   library freed once its last task was gone: {}\n",
               watch.expired() ? "yes" : "no");
}

}  // namespace

int main() {
    try {
        asyncpat::sync_wait(tour());
    } catch (const std::exception& e) {
        fmt::print(stderr, "spawn_owned_data: {}\n", e.what());
        return 1;
    }
}
