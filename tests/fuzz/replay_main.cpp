// Runs a fuzz target on deterministic pseudo-random inputs, so that every build (g++ included)
// exercises it without libFuzzer. Usage: <binary> [inputs] [seed]
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    long const inputs = argc > 1 ? std::atol(argv[1]) : 3000;
    std::uint64_t state = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
    std::vector<std::uint8_t> buffer;
    for (long i = 0; i < inputs; ++i) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        buffer.resize(static_cast<std::size_t>(state >> 33) % 2048);
        for (auto& byte : buffer) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            byte = static_cast<std::uint8_t>(state >> 56);
        }
        LLVMFuzzerTestOneInput(buffer.data(), buffer.size());
    }
    std::printf("%ld inputs ran\n", inputs);
    return 0;
}
