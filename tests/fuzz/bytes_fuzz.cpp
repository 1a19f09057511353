// Fuzz target for bytes, bytes_mut and bytes_cursor: the input drives a random sequence of
// operations on a few handles that share buffers, and every step is checked against a model made
// of std::vectors. Out-of-range arguments must throw std::out_of_range and change nothing; any
// other outcome (a wrong byte, another exception, a sanitizer report) is a failure.
// Built with libFuzzer under clang (bytes_fuzz) and, with a deterministic input generator, as a
// plain test everywhere (bytes_fuzz_replay).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/bytes.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

namespace {

using model = std::vector<std::uint8_t>;

[[noreturn]] void fail(const char* what, int line) {
    std::fprintf(stderr, "bytes_fuzz: %s (line %d)\n", what, line);
    std::abort();
}
#define FUZZ_CHECK(condition)                         \
    do {                                              \
        if (!(condition)) fail(#condition, __LINE__); \
    } while (false)

// Reads the operation stream; past the end it yields zeros.
class input {
public:
    input(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}
    bool more() const noexcept { return at_ < size_; }
    std::uint8_t u8() noexcept { return at_ < size_ ? data_[at_++] : 0; }
    // A length around `scale`: mostly in range, sometimes just past it, sometimes huge.
    std::size_t length(std::size_t scale) noexcept {
        std::uint8_t const kind = u8();
        if (kind < 200) return scale == 0 ? 0 : static_cast<std::size_t>(u8()) % (scale + 1);
        if (kind < 250) return scale + static_cast<std::size_t>(u8() % 4);
        return static_cast<std::size_t>(-1) - u8();
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t at_ = 0;
};

bool same(std::span<const std::byte> real, const model& expected) {
    return real.size() == expected.size() &&
           (expected.empty() || std::memcmp(real.data(), expected.data(), expected.size()) == 0);
}

// Runs `op`; if `in_range` it must not throw, otherwise it must throw std::out_of_range.
template <typename Op>
void expect(bool in_range, Op&& op, int line) {
    bool threw = false;
    try {
        op();
    } catch (const std::out_of_range&) {
        threw = true;
    }
    if (threw == in_range)
        fail(in_range ? "unexpected out_of_range" : "missing out_of_range", line);
}
#define EXPECT(in_range, ...) expect(in_range, [&] { __VA_ARGS__; }, __LINE__)

struct state {
    std::array<asyncpat::bytes, 4> views;
    std::array<model, 4> view_models;
    std::array<asyncpat::bytes_mut, 2> builders;
    std::array<model, 2> builder_models;

    void check_all() const {
        for (std::size_t i = 0; i < views.size(); ++i)
            FUZZ_CHECK(same(views[i].as_span(), view_models[i]));
        for (std::size_t i = 0; i < builders.size(); ++i) {
            FUZZ_CHECK(same(builders[i].as_span(), builder_models[i]));
            FUZZ_CHECK(builders[i].capacity() >= builders[i].size());
        }
    }
};

void step(state& s, input& in) {
    std::uint8_t const op = in.u8() % 16;
    std::size_t const v = in.u8() % 4, w = in.u8() % 4, b = in.u8() % 2;
    asyncpat::bytes& view = s.views[v];
    model& vm = s.view_models[v];
    asyncpat::bytes_mut& builder = s.builders[b];
    model& bm = s.builder_models[b];
    switch (op) {
        case 0: {  // slice into another slot
            std::size_t const from = in.length(vm.size()), to = in.length(vm.size());
            bool const ok = from <= to && to <= vm.size();
            EXPECT(ok, s.views[w] = view.slice(from, to));
            if (ok)
                s.view_models[w] = model(vm.begin() + static_cast<std::ptrdiff_t>(from),
                                         vm.begin() + static_cast<std::ptrdiff_t>(to));
            break;
        }
        case 1: {  // split_to into another slot
            std::size_t const n = in.length(vm.size());
            bool const ok = n <= vm.size();
            asyncpat::bytes head;
            EXPECT(ok, head = view.split_to(n));
            if (ok && w != v) {
                s.views[w] = std::move(head);
                s.view_models[w] = model(vm.begin(), vm.begin() + static_cast<std::ptrdiff_t>(n));
            }
            if (ok) vm.erase(vm.begin(), vm.begin() + static_cast<std::ptrdiff_t>(n));
            break;
        }
        case 2: {  // split_off into another slot
            std::size_t const at = in.length(vm.size());
            bool const ok = at <= vm.size();
            asyncpat::bytes tail;
            EXPECT(ok, tail = view.split_off(at));
            if (ok && w != v) {
                s.views[w] = std::move(tail);
                s.view_models[w] = model(vm.begin() + static_cast<std::ptrdiff_t>(at), vm.end());
            }
            if (ok) vm.resize(at);
            break;
        }
        case 3: {  // truncate never throws
            std::size_t const n = in.length(vm.size());
            view.truncate(n);
            if (n < vm.size()) vm.resize(n);
            break;
        }
        case 4: {
            std::size_t const n = in.length(vm.size());
            bool const ok = n <= vm.size();
            EXPECT(ok, view.advance(n));
            if (ok) vm.erase(vm.begin(), vm.begin() + static_cast<std::ptrdiff_t>(n));
            break;
        }
        case 5:  // copy a handle
            s.views[w] = view;
            s.view_models[w] = vm;
            break;
        case 6: {  // cursor reads
            asyncpat::bytes_cursor cursor(view);
            std::size_t at = 0;
            for (int reads = in.u8() % 8; reads > 0; --reads) {
                std::uint8_t const kind = in.u8() % 5;
                std::size_t const width = kind == 0   ? 1
                                          : kind == 1 ? 2
                                          : kind == 2 ? 4
                                          : kind == 3 ? 8
                                                      : in.length(vm.size() - at);
                bool const ok = width <= vm.size() - at;
                std::uint64_t expected = 0;
                if (ok && kind < 4)
                    for (std::size_t i = 0; i < width; ++i) expected = (expected << 8) | vm[at + i];
                std::uint64_t got = 0;
                asyncpat::bytes piece;
                switch (kind) {
                    case 0: EXPECT(ok, got = cursor.get_u8()); break;
                    case 1: EXPECT(ok, got = cursor.get_u16_be()); break;
                    case 2: EXPECT(ok, got = cursor.get_u32_be()); break;
                    case 3: EXPECT(ok, got = cursor.get_u64_be()); break;
                    default: EXPECT(ok, piece = cursor.get_bytes(width)); break;
                }
                if (!ok) {
                    FUZZ_CHECK(cursor.remaining() == vm.size() - at);
                    break;
                }
                if (kind < 4)
                    FUZZ_CHECK(got == expected);
                else
                    FUZZ_CHECK(same(piece.as_span(),
                                    model(vm.begin() + static_cast<std::ptrdiff_t>(at),
                                          vm.begin() + static_cast<std::ptrdiff_t>(at + width))));
                at += width;
                FUZZ_CHECK(cursor.remaining() == vm.size() - at);
            }
            break;
        }
        case 7: {  // extend with input bytes
            std::size_t const n = in.u8() % 64;
            std::vector<std::uint8_t> more;
            for (std::size_t i = 0; i < n; ++i) more.push_back(in.u8());
            builder.extend(std::span<const std::uint8_t>(more));
            bm.insert(bm.end(), more.begin(), more.end());
            break;
        }
        case 8: {
            std::uint32_t const x = static_cast<std::uint32_t>(in.u8()) * 0x01010101u;
            builder.put_u32_le(x);
            for (int i = 0; i < 4; ++i) bm.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
            break;
        }
        case 9: {  // split_to and freeze into a view slot
            std::size_t const n = in.length(bm.size());
            bool const ok = n <= bm.size();
            asyncpat::bytes_mut head;
            EXPECT(ok, head = builder.split_to(n));
            if (ok) {
                s.views[w] = std::move(head).freeze();
                s.view_models[w] = model(bm.begin(), bm.begin() + static_cast<std::ptrdiff_t>(n));
                bm.erase(bm.begin(), bm.begin() + static_cast<std::ptrdiff_t>(n));
            }
            break;
        }
        case 10:  // reserve (moderate sizes; huge ones must throw length_error)
            builder.reserve(in.u8() * std::size_t{16});
            break;
        case 11: {  // split_off up to the capacity; the tail becomes the other builder
            std::size_t const at = in.length(builder.capacity());
            bool const ok = at <= builder.capacity();
            asyncpat::bytes_mut tail;
            EXPECT(ok, tail = builder.split_off(at));
            if (ok) {
                model tail_model;
                if (at < bm.size())
                    tail_model.assign(bm.begin() + static_cast<std::ptrdiff_t>(at), bm.end());
                if (at < bm.size()) bm.resize(at);
                s.builders[1 - b] = std::move(tail);
                s.builder_models[1 - b] = std::move(tail_model);
            }
            break;
        }
        case 12: {  // try_into_mut: only the only view may become mutable
            bool const unique = view.is_unique();
            std::optional<asyncpat::bytes_mut> m = std::move(view).try_into_mut();
            FUZZ_CHECK(m.has_value() == unique);
            if (m) {
                builder = std::move(*m);
                bm = vm;
                vm.clear();
            }
            break;
        }
        case 13:
            view.clear();
            vm.clear();
            break;
        case 14: {
            std::size_t const n = in.length(bm.size());
            bool const ok = n <= bm.size();
            EXPECT(ok, builder.advance(n));
            if (ok) bm.erase(bm.begin(), bm.begin() + static_cast<std::ptrdiff_t>(n));
            break;
        }
        default: {  // write through a builder: must never show in a view
            if (!bm.empty()) {
                std::size_t const at = in.u8() % bm.size();
                std::uint8_t const value = in.u8();
                builder[at] = static_cast<std::byte>(value);
                bm[at] = value;
            }
            break;
        }
    }
    s.check_all();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    input in(data, size);
    state s;
    int steps = 0;
    while (in.more() && ++steps < 400) step(s, in);
    return 0;
}
