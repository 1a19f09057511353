// asyncpat tests: Catch2 v2's main(), compiled once for every test executable.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
//
// Built only with Catch2 v2. With v3, the tests link Catch2::Catch2WithMain instead.
#define CATCH_CONFIG_MAIN
#include "support/catch.hpp"
