// asyncpat: storage for the outcome of a task (a value, nothing yet, or an exception).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_DETAIL_RESULT_HPP
#define ASYNCPAT_DETAIL_RESULT_HPP

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace asyncpat::detail {

// Holds what a coroutine produced. `T` may be void or an lvalue reference.
template <typename T>
class result {
public:
    using stored_type = std::conditional_t<std::is_reference_v<T>,
                                           std::add_pointer_t<std::remove_reference_t<T>>, T>;

    result() noexcept {}
    result(const result&) = delete;
    result& operator=(const result&) = delete;
    ~result() { reset(); }

    // Each is called at most once, on an empty result (a coroutine returns or fails once), so
    // neither needs to destroy a previous outcome first.
    template <typename U>
    void set_value(U&& value) {
        if constexpr (std::is_reference_v<T>)
            std::construct_at(&value_, std::addressof(value));
        else
            std::construct_at(&value_, std::forward<U>(value));
        state_ = state::value;
    }
    void set_exception(std::exception_ptr error) noexcept {
        std::construct_at(&error_, std::move(error));
        state_ = state::error;
    }

    bool has_value() const noexcept { return state_ == state::value; }
    bool has_exception() const noexcept { return state_ == state::error; }
    bool empty() const noexcept { return state_ == state::empty; }
    const std::exception_ptr& exception() const noexcept { return error_; }

    // Takes `other`'s outcome (this one is empty).
    void take_from(result& other) noexcept(std::is_nothrow_move_constructible_v<stored_type>) {
        if (other.state_ == state::value) {
            std::construct_at(&value_, std::move(other.value_));
            state_ = state::value;
        } else if (other.state_ == state::error) {
            std::construct_at(&error_, std::move(other.error_));
            state_ = state::error;
        }
    }

    // Returns the value (moved out) or rethrows the exception.
    T get() {
        if (state_ == state::error) std::rethrow_exception(error_);
        if constexpr (std::is_reference_v<T>)
            return *value_;
        else
            return std::move(value_);
    }

private:
    enum class state : unsigned char { empty, value, error };

    void reset() noexcept {
        if (state_ == state::value)
            std::destroy_at(&value_);
        else if (state_ == state::error)
            std::destroy_at(&error_);
        state_ = state::empty;
    }

    union {
        stored_type value_;
        std::exception_ptr error_;
    };
    state state_ = state::empty;
};

template <>
class result<void> {
public:
    void set_value() noexcept { state_ = state::value; }
    void set_exception(std::exception_ptr error) noexcept {
        error_ = std::move(error);
        state_ = state::error;
    }
    bool has_value() const noexcept { return state_ == state::value; }
    bool has_exception() const noexcept { return state_ == state::error; }
    bool empty() const noexcept { return state_ == state::empty; }
    const std::exception_ptr& exception() const noexcept { return error_; }
    void take_from(result& other) noexcept {
        error_ = std::move(other.error_);
        state_ = other.state_;
    }
    void get() {
        if (state_ == state::error) std::rethrow_exception(error_);
    }

private:
    enum class state : unsigned char { empty, value, error };
    std::exception_ptr error_;
    state state_ = state::empty;
};

}  // namespace asyncpat::detail

#endif  // ASYNCPAT_DETAIL_RESULT_HPP
