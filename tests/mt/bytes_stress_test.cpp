// Multi-threaded stress of bytes: clones and slices of shared buffers made and dropped on two
// threads at once, buffers handed between threads, and reclaim racing the last drop. Run under
// TSan.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/bytes.hpp>

#include "../support/catch.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using asyncpat::bytes;
using asyncpat::bytes_mut;

namespace {
// Counts bytes whose content was not what the writer put there (Catch's assertions are not
// thread-safe, so the threads count instead).
std::atomic<long> corrupt{0};

void check_pattern(const bytes& b, std::size_t offset) {
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (b.data()[i] != static_cast<std::byte>((offset + i) & 0xff)) {
            corrupt.fetch_add(1, std::memory_order_relaxed);
            return;
        }
    }
}

bytes make_pattern(std::size_t size) {
    bytes_mut m = bytes_mut::with_capacity(size);
    for (std::size_t i = 0; i < size; ++i) m.put_u8(static_cast<std::uint8_t>(i & 0xff));
    return std::move(m).freeze();
}
}  // namespace

TEST_CASE("clones and slices of one buffer on two threads", "[bytes][mt]") {
    constexpr int rounds = 200;
    constexpr int per_round = 2000;
    for (int round = 0; round < rounds; ++round) {
        bytes shared = make_pattern(4096);
        auto worker = [&shared](int seed) {
            std::vector<bytes> kept;
            for (int i = 0; i < per_round; ++i) {
                std::size_t const begin = static_cast<std::size_t>((i * 37 + seed) % 4000);
                bytes slice = shared.slice(begin, begin + 64);
                bytes copy = slice;
                check_pattern(copy, begin);
                if (i % 16 == 0) kept.push_back(std::move(copy));
            }
        };
        std::thread other(worker, 1);
        worker(2);
        other.join();
        // Only `shared` is left: unique again.
        if (!shared.is_unique()) corrupt.fetch_add(1000, std::memory_order_relaxed);
    }
    CHECK(corrupt.load() == 0);
}

TEST_CASE("buffers handed to another thread, dropped there, reclaimed here", "[bytes][mt]") {
    // The producer splits frames off one bytes_mut and hands them over; the consumer checks and
    // drops them. The producer's reserve reuses the buffer only once every frame is gone, so a
    // frame must never see bytes rewritten under it.
    constexpr int frames = 20000;
    std::mutex lock;
    std::vector<bytes> queue;
    std::atomic<bool> done{false};
    std::thread consumer([&] {
        for (;;) {
            std::vector<bytes> batch;
            {
                std::lock_guard<std::mutex> guard(lock);
                batch.swap(queue);
            }
            for (const bytes& frame : batch) {
                auto const first = static_cast<std::uint8_t>(frame.data()[0]);
                for (std::size_t i = 0; i < frame.size(); ++i) {
                    if (static_cast<std::uint8_t>(frame.data()[i]) != first) {
                        corrupt.fetch_add(1, std::memory_order_relaxed);
                        break;
                    }
                }
            }
            if (batch.empty() && done.load(std::memory_order_acquire)) {
                std::lock_guard<std::mutex> guard(lock);
                if (queue.empty()) return;
            }
            if (batch.empty()) std::this_thread::yield();
        }
    });
    bytes_mut buffer = bytes_mut::with_capacity(4096);
    for (int i = 0; i < frames; ++i) {
        buffer.reserve(256);
        buffer.resize(256, static_cast<std::byte>(i & 0xff));
        bytes frame = buffer.split_to(256).freeze();
        std::lock_guard<std::mutex> guard(lock);
        queue.push_back(std::move(frame));
    }
    done.store(true, std::memory_order_release);
    consumer.join();
    CHECK(corrupt.load() == 0);
}
