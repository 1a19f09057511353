// Tests of asyncpat::errc and its error category.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat/error.hpp>

#include "support/catch.hpp"

#include <set>
#include <string>
#include <system_error>

TEST_CASE("errc values make error codes of the asyncpat category", "[error]") {
    std::error_code ec = asyncpat::errc::channel_closed;
    CHECK(ec.category().name() == std::string("asyncpat"));
    CHECK(&ec.category() == &asyncpat::error_category());
    CHECK(ec == asyncpat::errc::channel_closed);
    CHECK(ec != asyncpat::errc::channel_full);
    CHECK(ec.message() == "channel closed");
    CHECK(static_cast<bool>(ec));
}

TEST_CASE("every errc has its own message", "[error]") {
    std::set<std::string> messages;
    int const last = static_cast<int>(asyncpat::errc::already_waiting);
    for (int value = 1; value <= last; ++value) {
        auto const message =
            asyncpat::make_error_code(static_cast<asyncpat::errc>(value)).message();
        CHECK(message != "unknown asyncpat error");
        messages.insert(message);
    }
    CHECK(messages.size() == static_cast<std::size_t>(last));
    CHECK(asyncpat::error_category().message(999) == "unknown asyncpat error");
}

TEST_CASE("system_error carries the code", "[error]") {
    try {
        throw std::system_error(asyncpat::errc::timed_out);
    } catch (const std::system_error& e) {
        CHECK(e.code() == asyncpat::errc::timed_out);
        CHECK(std::string(e.what()).find("timed out") != std::string::npos);
    }
}
