// Tests of bytes, bytes_mut, bytes_cursor and dynamic_buffer: semantics, allocations, Asio
// buffers and a real loopback socket.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/bytes.hpp>

#include <asyncpat/spawn.hpp>
#include <asyncpat/task.hpp>

#include "support/alloc_counter.hpp"
#include "support/catch.hpp"
#include "support/runner.hpp"

#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

using asyncpat::bytes;
using asyncpat::bytes_cursor;
using asyncpat::bytes_mut;
using asyncpat_test::allocation_count;

namespace {
std::string long_text(std::size_t n) {
    std::string text;
    for (std::size_t i = 0; i < n; ++i) text.push_back(static_cast<char>('a' + i % 26));
    return text;
}

// The message of the out_of_range that `f` throws.
template <typename F>
std::string out_of_range_message(F&& f) {
    try {
        f();
    } catch (const std::out_of_range& e) {
        return e.what();
    }
    return "(nothing thrown)";
}
}  // namespace

namespace {
template <typename S>
constexpr bool accepted_by_from_static =
    requires(S&& s) { bytes::from_static(std::forward<S>(s)); };
}  // namespace

TEST_CASE("from_static allocates nothing and views the static bytes", "[bytes]") {
    static constexpr char text[] = "static text";
    long const before = allocation_count();
    bytes b = bytes::from_static(text);
    bytes copy = b;
    bytes part = copy.slice(0, 6);
    CHECK(allocation_count() == before);
    CHECK(static_cast<const void*>(b.data()) == static_cast<const void*>(text));
    CHECK(part == "static");
    CHECK(b.size() == std::strlen(text));
    CHECK_FALSE(b.is_unique());
    CHECK_FALSE(std::move(b).try_into_mut().has_value());
    CHECK(b == "static text");  // unchanged by the failed try_into_mut
    // A temporary string would dangle at once: refused at compile time.
    static_assert(!accepted_by_from_static<std::string>);
    static_assert(accepted_by_from_static<const char(&)[10]>);
    static_assert(accepted_by_from_static<std::string_view>);
}

TEST_CASE("extend may append a bytes_mut's own bytes, also when it grows", "[bytes_mut]") {
    bytes_mut m;
    m.extend("abcd");
    while (m.size() < m.capacity()) m.extend("x");  // full: the next extend must grow
    std::string const before(m.as_string_view());
    m.extend(m.as_span());
    CHECK(m.as_string_view() == before + before);
    m.extend(m.as_span().subspan(1, 2));  // a part of itself
    CHECK(m.as_string_view().substr(m.size() - 2) == "bc");
}

TEST_CASE("adopting a string or a vector keeps its data pointer", "[bytes]") {
    std::string text = long_text(1000);
    const char* const text_data = text.data();
    bytes from_string(std::move(text));
    CHECK(static_cast<const void*>(from_string.data()) == text_data);
    CHECK(from_string.size() == 1000);
    CHECK(from_string.as_string_view() == long_text(1000));

    std::vector<std::uint8_t> octets(4096, 7);
    const std::uint8_t* const octets_data = octets.data();
    long const before = allocation_count();
    bytes from_octets(std::move(octets));
    CHECK(allocation_count() - before <= 1);  // at most the small header
    CHECK(static_cast<const void*>(from_octets.data()) == octets_data);

    std::vector<std::byte> raw(100, std::byte{9});
    const std::byte* const raw_data = raw.data();
    bytes from_raw(std::move(raw));
    CHECK(from_raw.data() == raw_data);
    CHECK(from_raw[99] == std::byte{9});

    std::string short_text = "tiny";  // lives inside the string object: moved, still correct
    bytes from_short(std::move(short_text));
    CHECK(from_short == "tiny");
    CHECK(bytes(std::string()).empty());
}

TEST_CASE("copy_from copies", "[bytes]") {
    std::string const text = long_text(300);
    bytes b = bytes::copy_from(text);
    CHECK(static_cast<const void*>(b.data()) != static_cast<const void*>(text.data()));
    CHECK(b == text);
    std::array<std::uint8_t, 3> const octets{1, 2, 3};
    CHECK(bytes::copy_from(std::span<const std::uint8_t>(octets)).size() == 3);
    CHECK(bytes::copy_from(std::string_view()).empty());
}

TEST_CASE("copy, slice, split and truncate share the buffer and allocate nothing", "[bytes]") {
    std::string const text = long_text(64);
    bytes whole = bytes::copy_from(text);
    long const before = allocation_count();
    bytes copy = whole;
    bytes middle = whole.slice(10, 20);
    bytes rest = whole;
    bytes head = rest.split_to(5);
    bytes tail = rest.split_off(50);
    bytes empty_slice = whole.slice(64, 64);
    bytes empty_tail = whole.split_off(64);
    copy.truncate(3);
    std::size_t const truncated = copy.size();
    copy.truncate(100);
    copy.advance(1);
    long const allocations = allocation_count() - before;  // before any CHECK

    CHECK(allocations == 0);
    CHECK(middle.data() == whole.data() + 10);
    CHECK(middle.as_string_view() == text.substr(10, 10));
    CHECK(head.data() == whole.data());
    CHECK(head.size() == 5);
    CHECK(rest.data() == whole.data() + 5);
    CHECK(rest.size() == 50);
    CHECK(tail.size() == 9);
    CHECK(tail.data() == whole.data() + 55);
    CHECK(truncated == 3);
    CHECK(copy.as_string_view() == "bc");
    CHECK(empty_slice.empty());
    CHECK(empty_tail.empty());
    CHECK(whole.size() == 64);

    copy.clear();
    CHECK(copy.empty());
    CHECK(copy.data() == nullptr);
}

TEST_CASE("out-of-range arguments throw out_of_range with the numbers", "[bytes]") {
    bytes b = bytes::from_static("0123456789");
    CHECK(out_of_range_message([&] { (void)b.slice(4, 11); }) ==
          "asyncpat::bytes::slice: range [4, 11) out of bounds for size 10");
    CHECK(out_of_range_message([&] { (void)b.slice(5, 4); }) ==
          "asyncpat::bytes::slice: range [5, 4) out of bounds for size 10");
    CHECK_THROWS_AS(b.split_to(11), std::out_of_range);
    CHECK_THROWS_AS(b.split_off(11), std::out_of_range);
    CHECK_THROWS_AS(b.advance(11), std::out_of_range);
    CHECK_THROWS_AS(b[10], std::out_of_range);
    CHECK(out_of_range_message([&] { (void)b[SIZE_MAX]; }) ==
          "asyncpat::bytes::operator[]: index 18446744073709551615 out of bounds for size 10");
    CHECK(b.size() == 10);  // nothing changed

    bytes_mut m;
    m.extend("abc");
    CHECK_THROWS_AS(m.split_to(4), std::out_of_range);
    CHECK_THROWS_AS(m.advance(4), std::out_of_range);
    CHECK_THROWS_AS(m[3], std::out_of_range);
    CHECK_THROWS_AS(m.split_off(m.capacity() + 1), std::out_of_range);
    CHECK(m == "abc");
}

TEST_CASE("equality, ordering and hashing compare contents", "[bytes]") {
    bytes a = bytes::copy_from(std::string_view("abc"));
    bytes b = bytes::from_static("abc");
    bytes c = bytes::from_static("abd");
    bytes ab = bytes::from_static("ab");
    CHECK(a == b);
    CHECK(a != c);
    CHECK(a < c);
    CHECK(ab < a);
    CHECK(bytes() < ab);
    CHECK(bytes() == bytes::from_static(""));
    CHECK(a == "abc");
    CHECK(a < std::string_view("b"));
    CHECK(std::hash<bytes>{}(a) == std::hash<bytes>{}(b));
    std::set<bytes> ordered{c, a, ab};
    CHECK(*ordered.begin() == "ab");
    std::unordered_set<bytes> hashed{a, b, c};
    CHECK(hashed.size() == 2);
}

TEST_CASE("try_into_mut succeeds only for the only view", "[bytes]") {
    bytes b = bytes::copy_from(std::string_view("hello"));
    bytes other = b;
    CHECK_FALSE(b.is_unique());
    CHECK_FALSE(std::move(b).try_into_mut().has_value());
    CHECK(b == "hello");
    other.clear();
    CHECK(b.is_unique());
    const std::byte* const data = b.data();
    std::optional<bytes_mut> m = std::move(b).try_into_mut();
    REQUIRE(m.has_value());
    CHECK(b.empty());
    CHECK(m->data() == data);
    (*m)[0] = std::byte{'j'};
    CHECK(*m == "jello");
    CHECK(std::move(*m).freeze() == "jello");
}

TEST_CASE("bytes_mut puts big- and little-endian integers", "[bytes][bytes_mut]") {
    bytes_mut m;
    m.put_u8(0x01);
    m.put_u16_be(0x0203);
    m.put_u16_le(0x0504);
    m.put_u32_be(0x06070809);
    m.put_u32_le(0x0d0c0b0a);
    m.put_u64_be(0x0e0f101112131415);
    m.put_u64_le(0x1d1c1b1a19181716);
    m.put_i8(-1);
    m.put_i16_be(-2);
    m.put_i32_le(-3);
    m.put_i64_be(-4);
    REQUIRE(m.size() == 1 + 2 + 2 + 4 + 4 + 8 + 8 + 1 + 2 + 4 + 8);
    for (std::size_t i = 0; i < 29; ++i) CHECK(m[i] == static_cast<std::byte>(i + 1));

    bytes_cursor cursor(std::move(m).freeze());
    CHECK(cursor.get_u8() == 0x01);
    CHECK(cursor.get_u16_be() == 0x0203);
    CHECK(cursor.get_u16_le() == 0x0504);
    CHECK(cursor.get_u32_be() == 0x06070809u);
    CHECK(cursor.get_u32_le() == 0x0d0c0b0au);
    CHECK(cursor.get_u64_be() == 0x0e0f101112131415u);
    CHECK(cursor.get_u64_le() == 0x1d1c1b1a19181716u);
    CHECK(cursor.get_i8() == -1);
    CHECK(cursor.get_i16_be() == -2);
    CHECK(cursor.get_i32_le() == -3);
    CHECK(cursor.get_i64_be() == -4);
    CHECK_FALSE(cursor.has_remaining());
}

TEST_CASE("bytes_cursor: zero-copy get_bytes, and reading past the end consumes nothing",
          "[bytes][cursor]") {
    bytes data = bytes::copy_from(std::string_view("\x00\x05hello world", 13));
    bytes_cursor cursor(data);
    std::uint16_t const length = cursor.get_u16_be();
    long const before = allocation_count();
    bytes word = cursor.get_bytes(length);
    CHECK(allocation_count() == before);
    CHECK(word == "hello");
    CHECK(word.data() == data.data() + 2);
    CHECK(cursor.remaining() == 6);
    CHECK(out_of_range_message([&] { (void)cursor.get_u64_le(); }) ==
          "asyncpat::bytes_cursor::get_u64_le: needs 8 bytes, 6 remain");
    CHECK_THROWS_AS(cursor.get_bytes(7), std::out_of_range);
    CHECK_THROWS_AS(cursor.advance(7), std::out_of_range);
    CHECK(cursor.remaining() == 6);
    cursor.advance(1);
    std::array<std::byte, 5> out{};
    cursor.copy_to(out);
    CHECK(std::memcmp(out.data(), "world", 5) == 0);
    CHECK(cursor.rest().empty());
    CHECK_THROWS_AS(cursor.get_u8(), std::out_of_range);
}

TEST_CASE("freeze is O(1) and keeps the data pointer", "[bytes_mut]") {
    bytes_mut m = bytes_mut::with_capacity(100);
    m.extend("frozen");
    const std::byte* const data = m.data();
    long const before = allocation_count();
    bytes b = std::move(m).freeze();
    CHECK(allocation_count() == before);
    CHECK(b.data() == data);
    CHECK(b == "frozen");
    CHECK(m.empty());
    CHECK(m.capacity() == 0);
    CHECK(bytes_mut().split().empty());
    CHECK(std::move(bytes_mut()).freeze().empty());
}

TEST_CASE("bytes_mut split_to and split_off divide one buffer", "[bytes_mut]") {
    bytes_mut m = bytes_mut::with_capacity(64);
    m.extend("headerpayload");
    std::size_t const capacity = m.capacity();
    long const before = allocation_count();
    bytes_mut header = m.split_to(6);
    CHECK(header == "header");
    CHECK(header.capacity() == 6);
    CHECK(m == "payload");
    CHECK(m.capacity() == capacity - 6);
    CHECK(m.data() == header.data() + 6);

    bytes_mut load = m.split_off(3);
    CHECK(m == "pay");
    CHECK(m.capacity() == 3);
    CHECK(load == "load");
    CHECK(load.capacity() == capacity - 9);
    bytes_mut spare = load.split_off(10);  // past the size, within the capacity
    CHECK(load == "load");
    CHECK(spare.empty());
    CHECK(spare.capacity() == capacity - 19);
    CHECK(allocation_count() == before);

    // Writing to one part never touches the other.
    header.put_u8('!');  // header has no room: moves to its own buffer
    CHECK(header == "header!");
    CHECK(m == "pay");
}

TEST_CASE("reserve reclaims the buffer once the split parts are gone", "[bytes_mut]") {
    bytes_mut m = bytes_mut::with_capacity(1024);
    std::size_t const capacity = m.capacity();
    std::byte* const base = m.data();
    m.resize(1024, std::byte{1});
    for (int round = 0; round < 16; ++round) {
        bytes frame = m.split_to(512).freeze();
        CHECK(frame.size() == 512);
        frame.clear();  // the frame is gone
        long const before = allocation_count();
        m.reserve(512);  // moves the 512 left to the front: no allocation
        CHECK(allocation_count() == before);
        CHECK(m.data() == base);
        CHECK(m.capacity() == capacity);
        m.resize(1024, std::byte{2});
    }
    // While a part is alive, reserve must not reuse its bytes.
    bytes held = m.split_to(512).freeze();
    m.reserve(1024);
    CHECK(m.data() != base);
    CHECK(held.size() == 512);
    CHECK(held[0] == std::byte{2});
}

// A buffer over ASYNCPAT_FRAME_CACHE_MAX_BYTES comes from operator new, where ASan sees a use
// after an over-release (the per-thread cache keeps the count in a block it does not poison).
TEST_CASE("split parts of a heap buffer outlive the bytes_mut and each other", "[bytes_mut]") {
    constexpr std::size_t size = 8192;
    bytes_mut m = bytes_mut::with_capacity(size);
    m.resize(size, std::byte{7});
    for (std::size_t i = 0; i < size; ++i) m[i] = static_cast<std::byte>(i % 251);
    std::vector<bytes> parts;
    for (int i = 0; i < 20; ++i) parts.push_back(m.split_to(64).freeze());  // 2 batches
    bytes_mut moved(std::move(m));  // the spare references move along
    bytes_mut tail = moved.split_off(4096);
    bytes_mut inner = tail.split_to(1024);  // a part split again takes its own batch
    bytes inner_head = inner.split_to(16).freeze();
    moved = bytes_mut();
    CHECK(std::move(inner).freeze().size() == 1008);
    CHECK(bytes_mut().split().size() == 0);
    bytes_mut emptied = tail.split();  // all bytes out: tail keeps spare references, no bytes
    CHECK(std::move(tail).freeze().empty());
    CHECK(emptied.size() == size - 1280 - 4096 - 1024);
    emptied = bytes_mut();
    for (std::size_t p = 0; p < parts.size(); ++p)
        for (std::size_t i = 0; i < 64; ++i)
            REQUIRE(parts[p][i] == static_cast<std::byte>((p * 64 + i) % 251));
    CHECK(inner_head[0] == static_cast<std::byte>(5376 % 251));
    parts.clear();
    CHECK(inner_head.is_unique());
}

// bytes_mut takes references for new views 16 at a time: the count must come out exact whatever
// the order in which the parts and the bytes_mut go, which is_unique() shows.
TEST_CASE("many split parts keep an exact count of the shared buffer", "[bytes_mut]") {
    constexpr int parts = 40;  // more than two batches of references taken ahead
    for (int order = 0; order < 3; ++order) {
        bytes_mut m = bytes_mut::with_capacity(parts + 8);
        for (int i = 0; i < parts + 8; ++i) m.put_u8(static_cast<std::uint8_t>(i));
        std::vector<bytes> taken;
        for (int i = 0; i < parts; ++i) taken.push_back(m.split_to(1).freeze());
        for (int i = 0; i < parts; ++i)
            CHECK(taken[static_cast<std::size_t>(i)][0] ==
                  std::byte{static_cast<unsigned char>(i)});
        CHECK_FALSE(taken.back().is_unique());
        if (order == 0) {
            // The bytes_mut first: then every part but the last; the last is then alone.
            m = bytes_mut();
            bytes last = taken.back();
            taken.clear();
            CHECK(last.is_unique());
        } else if (order == 1) {
            // The parts first: the rest of the buffer, frozen, is then alone.
            taken.clear();
            bytes rest = std::move(m).freeze();
            CHECK(rest.size() == 8);
            CHECK(rest[0] == std::byte{static_cast<unsigned char>(parts)});
            CHECK(rest.is_unique());
            auto writable = std::move(rest).try_into_mut();
            REQUIRE(writable.has_value());
            CHECK(writable->size() == 8);
        } else {
            // Freeze while parts are alive: not unique until they go.
            bytes rest = std::move(m).freeze();
            CHECK_FALSE(rest.is_unique());
            taken.erase(taken.begin(), taken.end() - 1);
            CHECK_FALSE(rest.is_unique());
            taken.clear();
            CHECK(rest.is_unique());
        }
    }
}

TEST_CASE("fmt formats escaped text by default and hex on request", "[bytes][fmt]") {
    bytes b = bytes::copy_from(std::string_view("hi\n\t\\\x01\xff", 7));
    CHECK(fmt::format("{}", b) == "hi\\n\\t\\\\\\x01\\xff");
    CHECK(fmt::format("{:s}", b) == fmt::format("{}", b));
    CHECK(fmt::format("{:x}", b) == "68690a095c01ff");
    CHECK(fmt::format("{:X}", bytes::from_static("\xab")) == "AB");
    bytes_mut m;
    m.extend("m");
    CHECK(fmt::format("{}", m) == "m");
}

TEST_CASE("bytes are Asio buffers; a vector of them is a gather sequence", "[bytes][asio]") {
    static_assert(asio::is_const_buffer_sequence<std::vector<bytes>>::value);
    static_assert(asio::is_const_buffer_sequence<std::array<bytes, 2>>::value);
    static_assert(!asio::is_const_buffer_sequence<bytes>::value);
    static_assert(asio::is_dynamic_buffer_v2<asyncpat::dynamic_bytes_buffer>::value);
    bytes a = bytes::from_static("head");
    asio::const_buffer buffer = a;
    CHECK(buffer.data() == a.data());
    CHECK(buffer.size() == 4);
    std::vector<bytes> parts{a, bytes::from_static("er+body")};
    CHECK(asio::buffer_size(parts) == 11);
    std::string flat(11, '\0');
    CHECK(asio::buffer_copy(asio::buffer(flat), parts) == 11);
    CHECK(flat == "header+body");
}

TEST_CASE("dynamic_buffer grows, shrinks and consumes a bytes_mut", "[bytes_mut][asio]") {
    bytes_mut m;
    auto buffer = asyncpat::dynamic_buffer(m, 16);
    buffer.grow(10);
    CHECK(m.size() == 10);
    asio::buffer_copy(buffer.data(0, 10), asio::buffer("0123456789", 10));
    buffer.shrink(4);
    CHECK(m == "012345");
    buffer.consume(2);
    CHECK(m == "2345");
    CHECK(asio::buffer_size(buffer.data(1, 100)) == 3);
    CHECK_THROWS_AS(buffer.grow(13), std::length_error);
    CHECK(m == "2345");
    buffer.consume(100);
    CHECK(m.empty());
}

namespace {
// Gather-writes a header and a payload over a loopback TCP connection and reads the message back
// into a bytes_mut with asio::async_read / async_read_until.
asyncpat::task<std::string> loopback_roundtrip(bytes header, bytes payload) {
    auto ex = co_await asyncpat::this_task::executor;
    asio::ip::tcp::acceptor acceptor(ex, {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket client(ex);
    co_await client.async_connect(acceptor.local_endpoint(), asyncpat::use_task);
    asio::ip::tcp::socket server = co_await acceptor.async_accept(asyncpat::use_task);

    std::vector<bytes> message{header, payload};
    std::size_t const written = co_await asio::async_write(client, message, asyncpat::use_task);
    client.shutdown(asio::ip::tcp::socket::shutdown_send);

    bytes_mut received;
    std::size_t const line = co_await asio::async_read_until(
        server, asyncpat::dynamic_buffer(received), '\n', asyncpat::use_task);
    bytes_mut first_line = received.split_to(line);
    std::error_code ec;
    co_await asio::async_read(server, asyncpat::dynamic_buffer(received), asio::transfer_all(),
                              asyncpat::use_task[ec]);
    if (ec != asio::error::eof) co_return "unexpected: " + ec.message();
    co_return std::to_string(written) + "|" + std::string(first_line.as_string_view()) + "|" +
        std::string(received.as_string_view());
}
}  // namespace

TEST_CASE("loopback TCP: gather write of bytes, async_read into a bytes_mut", "[bytes][net]") {
    std::string const body = long_text(100'000);
    std::string const result = asyncpat_test::run(
        loopback_roundtrip(bytes::from_static("LEN 100000\n"), bytes(std::string(body))));
    CHECK(result == "100011|LEN 100000\n|" + body);
}
