// asyncpat: streams: the async_stream concept, generators, sources, adapters and sinks.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_STREAM_HPP
#define ASYNCPAT_STREAM_HPP

#include <asyncpat/stream/adapters.hpp>
#include <asyncpat/stream/async_stream.hpp>
#include <asyncpat/stream/concurrent.hpp>
#include <asyncpat/stream/generator.hpp>
#include <asyncpat/stream/sinks.hpp>
#include <asyncpat/stream/sources.hpp>
#include <asyncpat/stream/time.hpp>

#endif  // ASYNCPAT_STREAM_HPP
