// asyncpat packaging tests: the program every consumer project builds and runs.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <asyncpat.hpp>

asyncpat::task<int> answer() {
    co_return 42;
}

int main() {
    return asyncpat::sync_wait(answer()) == 42 ? 0 : 1;
}
