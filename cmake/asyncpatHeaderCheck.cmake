# asyncpat: header self-containment check.
# Copyright (c) 2026 the asyncpat developers
# SPDX-License-Identifier: BSL-1.0
#
# asyncpat_add_header_check() makes the object library asyncpat_header_check: one generated
# translation unit per public header (include/asyncpat.hpp and include/asyncpat/**/*.hpp, not
# detail/), which includes that header alone, twice (the second time tests the include guard),
# compiled with the dev warnings and -Werror. A new header joins the check at the next build.

function(asyncpat_add_header_check)
  set(include_dir "${PROJECT_SOURCE_DIR}/include")
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS RELATIVE "${include_dir}"
       "${include_dir}/asyncpat.hpp" "${include_dir}/asyncpat/*.hpp")
  list(FILTER headers EXCLUDE REGEX "(^|/)detail/")
  list(SORT headers)

  set(sources "")
  foreach(header IN LISTS headers)
    set(source "${PROJECT_BINARY_DIR}/header_check/${header}.cpp")
    file(CONFIGURE OUTPUT "${source}" CONTENT "#include <${header}>\n#include <${header}>\n"
         @ONLY)
    list(APPEND sources "${source}")
  endforeach()
  if(NOT sources)
    message(STATUS "asyncpat: no public headers yet, header check skipped")
    return()
  endif()

  add_library(asyncpat_header_check OBJECT ${sources})
  target_link_libraries(asyncpat_header_check PRIVATE asyncpat::asyncpat asyncpat_dev_options)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(asyncpat_header_check PRIVATE -Werror)
  endif()
endfunction()
