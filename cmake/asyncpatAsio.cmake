# asyncpat: provides the asio::asio target (standalone Asio, header-only).
# Copyright (c) 2026 the asyncpat developers
# SPDX-License-Identifier: BSL-1.0
#
# Used by asyncpat's own CMakeLists.txt and, installed beside asyncpatConfig.cmake, by
# find_package(asyncpat). In order of preference:
#   1. an asio::asio target that already exists (the including project made it);
#   2. find_package(asio CONFIG), for distributions whose Asio ships a CMake package;
#   3. find_path(asio.hpp) and an IMPORTED INTERFACE target made here. This is the Debian case:
#      libasio-dev has no CMake package and no .pc file. Set ASYNCPAT_ASIO_INCLUDE_DIR to point
#      at another copy.
# Targets from 1 and 2 belong to someone else and are used as they are. If Asio is found nowhere,
# asio::asio stays undefined and the caller reports it.

function(_asyncpat_provide_asio)
  if(TARGET asio::asio)
    return()
  endif()
  find_package(asio CONFIG QUIET)
  if(TARGET asio::asio)
    return()
  endif()

  find_path(ASYNCPAT_ASIO_INCLUDE_DIR asio.hpp
            DOC "Directory that contains asio.hpp (standalone Asio)")
  if(NOT ASYNCPAT_ASIO_INCLUDE_DIR)
    return()
  endif()

  # An IMPORTED target: its include directory is a SYSTEM one for everything that links it, so
  # Asio's own warnings never fail asyncpat's -Werror builds.
  add_library(asio::asio INTERFACE IMPORTED)
  target_include_directories(asio::asio INTERFACE "${ASYNCPAT_ASIO_INCLUDE_DIR}")
  target_link_libraries(asio::asio INTERFACE Threads::Threads)

  # Asio 1.22 enables co_await under clang only through __cpp_coroutines and
  # <experimental/coroutine>, which clang with libstdc++ provides neither of, so clang gets no
  # asio::awaitable (asio/detail/config.hpp, "Support the co_await keyword"). Later Asio releases
  # detect clang properly, and every release defines these only when they are undefined, so
  # defining them is harmless there. This is the one place the workaround lives. It assumes C++20
  # in the translation units that include Asio, as asyncpat requires.
  set(clang "$<CXX_COMPILER_ID:Clang,AppleClang>")
  target_compile_definitions(asio::asio INTERFACE $<${clang}:ASIO_HAS_CO_AWAIT=1>
                                                  $<${clang}:ASIO_HAS_STD_COROUTINE=1>)
endfunction()

if(NOT TARGET Threads::Threads)
  find_package(Threads REQUIRED)
endif()
_asyncpat_provide_asio()
