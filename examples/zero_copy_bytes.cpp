// Pattern: one received buffer, sliced into frames for several consumers, never copied.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// A network read fills one buffer with several length-prefixed frames. Copying each frame into
// its own std::vector costs an allocation and a memcpy per frame; `bytes` hands out views of the
// one buffer instead, each keeping the buffer alive for as long as it needs it.
// The tour shows:
//   1. a bytes_mut filled as a socket read would fill it (here by put_u32_be and extend);
//   2. freeze(): the buffer becomes an immutable, shareable `bytes`, without a copy;
//   3. a bytes_cursor parsing the frames: get_bytes() returns views, not copies;
//   4. the frames sent through channels to consumer tasks, which print where their bytes live:
//      every address is inside the one received buffer.
#include <asyncpat.hpp>

#include <fmt/core.h>

#include <string_view>
#include <vector>

using asyncpat::bytes;
using asyncpat::task;

namespace {

// 1. What a read from a socket would leave in the buffer: [u32 length][payload] repeated.
asyncpat::bytes_mut receive_frames() {
    auto buffer = asyncpat::bytes_mut::with_capacity(256);
    for (std::string_view payload : {"first frame", "second, a little longer", "third"}) {
        buffer.put_u32_be(static_cast<std::uint32_t>(payload.size()));
        buffer.extend(payload);
    }
    return buffer;
}

// 4. A consumer: receives frames and tells where their bytes are.
task<int> consume(int id, asyncpat::receiver<bytes> frames, const std::byte* received_at) {
    int count = 0;
    while (auto frame = co_await frames.receive()) {
        fmt::print("   consumer {} got \"{}\" at {} = received buffer + {}\n", id, *frame,
                   static_cast<const void*>(frame->data()), frame->data() - received_at);
        ++count;
    }
    co_return count;
}

task<void> tour() {
    auto ex = co_await asyncpat::this_task::executor;

    // 2. Freeze: O(1), same bytes, now shareable.
    asyncpat::bytes_mut filled = receive_frames();
    const std::byte* const filled_at = filled.data();
    bytes received = std::move(filled).freeze();
    fmt::print("1-2. received {} bytes at {}; frozen in place: {}\n", received.size(),
               static_cast<const void*>(received.data()), received.data() == filled_at);

    // Two consumers, each behind its own bounded channel.
    auto [tx_a, rx_a] = asyncpat::make_channel<bytes>(4);
    auto [tx_b, rx_b] = asyncpat::make_channel<bytes>(4);
    auto consumer_a = asyncpat::spawn(ex, consume(1, std::move(rx_a), received.data()));
    auto consumer_b = asyncpat::spawn(ex, consume(2, std::move(rx_b), received.data()));

    // 3. Parse: each frame is a view of `received`.
    fmt::print("3. parsing with a bytes_cursor; every frame goes to both consumers\n");
    {
        asyncpat::bytes_cursor cursor(received);  // holds a reference while it reads
        while (cursor.has_remaining()) {
            std::uint32_t const length = cursor.get_u32_be();
            bytes frame = cursor.get_bytes(length);  // a view: no allocation, no copy
            co_await tx_a.send(frame);               // a copy of the handle: one reference more
            co_await tx_b.send(std::move(frame));    // moved: no reference count traffic
        }
    }
    tx_a.close();
    tx_b.close();
    int const got_a = co_await consumer_a;
    int const got_b = co_await consumer_b;
    fmt::print("4. consumers got {} and {} frames; only `received` still holds the buffer: {}\n",
               got_a, got_b, received.is_unique());
}

}  // namespace

int main() {
    asio::io_context io;
    asyncpat::sync_wait(io, tour());
}
