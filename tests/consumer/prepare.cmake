# asyncpat packaging tests, fixture set-up (cmake -P): empty CONSUMERS_DIR, so every consumer
# starts from a fresh build directory, and when INSTALL is on, install the asyncpat build at
# ASYNCPAT_BUILD_DIR into an empty STAGE.
# Copyright (c) 2026 the asyncpat developers
# SPDX-License-Identifier: BSL-1.0

file(REMOVE_RECURSE "${CONSUMERS_DIR}" "${STAGE}")
if(INSTALL)
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${ASYNCPAT_BUILD_DIR}" --prefix "${STAGE}"
                  COMMAND_ERROR_IS_FATAL ANY)
endif()
