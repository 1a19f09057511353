# asyncpat packaging tests: what the three consumer projects share. Include it before bringing
# asyncpat in, then call asyncpat_consumer() after.
# Copyright (c) 2026 the asyncpat developers
# SPDX-License-Identifier: BSL-1.0

set(_consumer_cxx_flags_before "${CMAKE_CXX_FLAGS}")
enable_testing() # at directory scope: inside a function it would not take effect

# Checks that asyncpat brought in asyncpat::asyncpat and nothing of its own development, then
# builds consumer.cpp against it and registers the program as this project's test.
function(asyncpat_consumer)
  if(NOT TARGET asyncpat::asyncpat)
    message(FATAL_ERROR "asyncpat::asyncpat is not defined")
  endif()
  foreach(target IN ITEMS asyncpat_dev_options asyncpat_test_support asyncpat_catch_main
                          asyncpat_header_check asyncpat_mt_tests asyncpat_examples
                          asyncpat_benchmarks)
    if(TARGET ${target})
      message(FATAL_ERROR "asyncpat leaked its development target ${target} into a consumer")
    endif()
  endforeach()
  if(DEFINED CMAKE_CXX_STANDARD)
    message(FATAL_ERROR "asyncpat set CMAKE_CXX_STANDARD (${CMAKE_CXX_STANDARD}) for a consumer")
  endif()
  if(NOT CMAKE_CXX_FLAGS STREQUAL _consumer_cxx_flags_before)
    message(FATAL_ERROR "asyncpat changed CMAKE_CXX_FLAGS to '${CMAKE_CXX_FLAGS}'")
  endif()
  if(DEFINED CACHE{BUILD_TESTING})
    message(FATAL_ERROR "asyncpat ran include(CTest) although it is not the top-level project")
  endif()
  foreach(property IN ITEMS INTERFACE_COMPILE_OPTIONS INTERFACE_LINK_OPTIONS)
    get_target_property(value asyncpat::asyncpat ${property})
    if(value)
      message(FATAL_ERROR "asyncpat::asyncpat carries ${property} '${value}'")
    endif()
  endforeach()

  add_executable(consumer "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/consumer.cpp")
  target_link_libraries(consumer PRIVATE asyncpat::asyncpat)
  add_test(NAME consumer COMMAND consumer)
endfunction()
