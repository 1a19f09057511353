// asyncpat tests: the one include for Catch2, v2 (single header) or v3.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TESTS_SUPPORT_CATCH_HPP
#define ASYNCPAT_TESTS_SUPPORT_CATCH_HPP

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#endif  // ASYNCPAT_TESTS_SUPPORT_CATCH_HPP
