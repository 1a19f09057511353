# asyncpat: warnings and sanitizers for asyncpat's own tests, examples, benchmarks and header check.
# Copyright (c) 2026 the asyncpat developers
# SPDX-License-Identifier: BSL-1.0
#
# asyncpat_dev_options is never installed or exported, and asyncpat::asyncpat never links it:
# consumers see none of these flags. Warnings become errors through CMAKE_COMPILE_WARNING_AS_ERROR
# (set by the presets), except in the header check, which always uses -Werror.
#
# Asio arrives through an IMPORTED target, so its headers are SYSTEM headers and its own warnings
# do not count. Checked with g++ 12 and clang++ 19 and every flag below: <asio.hpp> plus
# <asio/experimental/{channel,awaitable_operators,coro}.hpp> compile cleanly under -Werror.

add_library(asyncpat_dev_options INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(
    asyncpat_dev_options
    INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
              -Wold-style-cast -Wundef)
endif()

if(ASYNCPAT_SANITIZE STREQUAL "")
  # No sanitizer.
elseif(ASYNCPAT_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
  set(_asyncpat_sanitize_flags -fsanitize=${ASYNCPAT_SANITIZE} -fno-omit-frame-pointer
                               -fno-sanitize-recover=all)
  target_compile_options(asyncpat_dev_options INTERFACE ${_asyncpat_sanitize_flags})
  target_link_options(asyncpat_dev_options INTERFACE ${_asyncpat_sanitize_flags})
else()
  message(FATAL_ERROR "ASYNCPAT_SANITIZE='${ASYNCPAT_SANITIZE}': use \"\", address,undefined or "
                      "thread")
endif()
