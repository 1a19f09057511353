// Pattern: a stream pipeline: concurrent lookups, a deadline, batches, and a bounded hand-off.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// Orders arrive as a stream of ids. Each needs a lookup (here a timer standing in for a network
// call of 5 to 40 ms), up to 4 at once; a stall of the whole stream beyond 500 ms is an error;
// the priced orders are written in batches of 5 by a writer task behind a bounded channel.
//   1. from_range: the ids;
//   2. map(lookup) | buffer_unordered(4): a stream of tasks, run 4 at a time, results as they
//      finish;
//   3. timeout(500ms): each result must come within 500 ms of asking for it;
//   4. chunks(5) | then(stamp): batches, each stamped by an asynchronous step, in order;
//   5. forward(tx): into a channel of 1; the writer's pace holds the whole pipeline back.
#include <asyncpat.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using asyncpat::task;

namespace {

struct priced_order {
    int id;
    int cents;
};

// 2. The lookup: a network call, simulated by a timer.
task<priced_order> lookup(int id) {
    co_await asyncpat::sleep_for(std::chrono::milliseconds(5 + (id * 13) % 36));
    co_return priced_order{id, 100 * id + 99};
}

struct batch {
    std::vector<priced_order> orders;
    int number = 0;
};

// 4. An asynchronous step per batch (a sequence number from some service).
task<batch> stamp(std::vector<priced_order> orders) {
    static int next_number = 1;
    co_await asyncpat::this_task::yield();
    co_return batch{std::move(orders), next_number++};
}

// 5. The writer: commits one batch at a time.
task<int> writer(asyncpat::receiver<batch> batches) {
    int written = 0;
    while (auto b = co_await batches.receive()) {
        std::string ids;
        for (const priced_order& o : b->orders) ids += fmt::format(" {}", o.id);
        fmt::print("   batch {} committed:{}\n", b->number, ids);
        written += static_cast<int>(b->orders.size());
        co_await asyncpat::sleep_for(2ms);  // the commit takes a moment
    }
    co_return written;
}

task<void> tour() {
    auto [tx, rx] = asyncpat::make_channel<batch>(1);
    auto writing = asyncpat::spawn(co_await asyncpat::this_task::executor, writer(std::move(rx)));

    fmt::print("orders priced 4 at a time, committed in batches of 5:\n");
    auto pipeline = asyncpat::from_range(std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) |
                    asyncpat::map(lookup) | asyncpat::buffer_unordered(4) |
                    asyncpat::timeout(500ms) | asyncpat::chunks(5) | asyncpat::then(stamp);
    std::size_t const batches = co_await asyncpat::forward(std::move(pipeline), std::move(tx));
    int const written = co_await writing;
    fmt::print("{} orders in {} batches\n", written, batches);
}

}  // namespace

int main() {
    asio::io_context io;
    asyncpat::sync_wait(io, tour());
}
