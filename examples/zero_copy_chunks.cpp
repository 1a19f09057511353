// Pattern: a large payload streamed as zero-copy chunks.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// A response body of many kilobytes goes out in chunks of a few (a chunked HTTP body, gRPC
// messages under a size limit, a file through a socket). Copying each chunk into its own vector
// costs an allocation and a memcpy per chunk; `asyncpat::chunks(payload, n)` streams `bytes`
// slices of the one payload instead: each chunk is a view that keeps the payload alive.
//   1. the payload, built once;
//   2. chunks(payload, 4096): a stream of views, numbered with enumerate();
//   3. forward() into a bounded channel: a slow writer holds the stream back (backpressure);
//   4. the writer checks that the chunks are the payload, byte for byte, and were never copied.
#include <asyncpat.hpp>

#include <fmt/core.h>

#include <cstddef>
#include <utility>

using asyncpat::bytes;
using asyncpat::task;

namespace {

// 1. A payload of 10 000 bytes.
bytes make_payload() {
    auto buffer = asyncpat::bytes_mut::with_capacity(10'000);
    for (int i = 0; i < 10'000; ++i) buffer.put_u8(static_cast<std::uint8_t>('a' + i % 26));
    return std::move(buffer).freeze();
}

// 4. The writer: as a socket would, it takes one chunk at a time (after a pause, as if the
// socket were busy), and counts what it saw.
task<std::size_t> writer(asyncpat::receiver<std::pair<std::size_t, bytes>> chunks, bytes payload) {
    std::size_t written = 0;
    while (auto chunk = co_await chunks.receive()) {
        auto& [index, view] = *chunk;
        bool const in_place = view.data() == payload.data() + written;
        fmt::print("   chunk {}: {} bytes at payload + {} ({})\n", index, view.size(),
                   view.data() - payload.data(), in_place ? "a view, not a copy" : "a COPY");
        written += view.size();
        co_await asyncpat::this_task::yield();  // the socket is busy for a moment
    }
    co_return written;
}

task<void> tour() {
    bytes const payload = make_payload();
    fmt::print("1. payload: {} bytes\n", payload.size());

    // 2-3. The chunked stream goes into a channel of 2: the stream is pulled only as fast as
    // the writer takes chunks.
    auto [tx, rx] = asyncpat::make_channel<std::pair<std::size_t, bytes>>(2);
    auto writing =
        asyncpat::spawn(co_await asyncpat::this_task::executor, writer(std::move(rx), payload));
    fmt::print("2-3. streaming chunks of 4096 bytes into a channel of 2:\n");
    std::size_t const sent =
        co_await asyncpat::forward(asyncpat::chunks(payload, 4096) | asyncpat::enumerate(),
                                   std::move(tx));  // the last sender goes: the writer ends
    std::size_t const written = co_await writing;
    fmt::print("4. {} chunks sent, {} of {} bytes written\n", sent, written, payload.size());
}

}  // namespace

int main() {
    asio::io_context io;
    asyncpat::sync_wait(io, tour());
}
