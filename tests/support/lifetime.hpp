// Test support: a type that counts its constructions and destructions.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_TESTS_SUPPORT_LIFETIME_HPP
#define ASYNCPAT_TESTS_SUPPORT_LIFETIME_HPP

#include <atomic>

namespace asyncpat_test {

/// Counts live objects; every copy and move is a construction, every destructor a destruction.
/// A destroyed-twice object is caught by the `alive` flag (and by ASan).
struct lifetime_counter {
    std::atomic<long> constructed{0};
    std::atomic<long> destroyed{0};
    long alive() const noexcept { return constructed.load() - destroyed.load(); }
};

class tracked {
public:
    explicit tracked(lifetime_counter& counter, int value = 0) noexcept
        : counter_(&counter), value_(value) {
        counter_->constructed.fetch_add(1);
    }
    tracked(const tracked& other) noexcept : counter_(other.counter_), value_(other.value_) {
        counter_->constructed.fetch_add(1);
    }
    tracked(tracked&& other) noexcept : counter_(other.counter_), value_(other.value_) {
        counter_->constructed.fetch_add(1);
    }
    tracked& operator=(const tracked&) = default;
    tracked& operator=(tracked&&) = default;
    ~tracked() {
        if (!alive_) std::abort();
        alive_ = false;
        counter_->destroyed.fetch_add(1);
    }
    int value() const noexcept { return value_; }

private:
    lifetime_counter* counter_;
    int value_;
    bool alive_ = true;
};

}  // namespace asyncpat_test

#endif
