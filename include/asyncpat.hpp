// asyncpat: the umbrella header, every public header of the library.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_HPP
#define ASYNCPAT_HPP

#include <asyncpat/arena.hpp>
#include <asyncpat/blocking.hpp>
#include <asyncpat/bytes.hpp>
#include <asyncpat/channel.hpp>
#include <asyncpat/combinators.hpp>
#include <asyncpat/config.hpp>
#include <asyncpat/error.hpp>
#include <asyncpat/local_channel.hpp>
#include <asyncpat/oneshot.hpp>
#include <asyncpat/spawn.hpp>
#include <asyncpat/stream.hpp>
#include <asyncpat/task.hpp>
#include <asyncpat/task_group.hpp>
#include <asyncpat/version.hpp>

#endif  // ASYNCPAT_HPP
