// asyncpat: library version, the single source of truth (CMake parses it).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_VERSION_HPP
#define ASYNCPAT_VERSION_HPP

/// The library version as major * 10000 + minor * 100 + patch.
#define ASYNCPAT_VERSION 100  // 0.1.0

#define ASYNCPAT_VERSION_MAJOR (ASYNCPAT_VERSION / 10000)
#define ASYNCPAT_VERSION_MINOR (ASYNCPAT_VERSION / 100 % 100)
#define ASYNCPAT_VERSION_PATCH (ASYNCPAT_VERSION % 100)

#endif  // ASYNCPAT_VERSION_HPP
