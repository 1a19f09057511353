// asyncpat internals: a FIFO linked through its nodes (no allocation).
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_DETAIL_INTRUSIVE_LIST_HPP
#define ASYNCPAT_DETAIL_INTRUSIVE_LIST_HPP

#include <cstddef>
#include <type_traits>

namespace asyncpat::detail {

struct empty_count {};  // (the size of an intrusive_list that keeps none)

// A doubly linked FIFO through the nodes' own `next`, `prev` and `linked` members (parked
// waiters, a task group's members): pushing never allocates, so it cannot fail. Not
// thread-safe: its owner guards it. With Counted, it keeps its size (a task group's lists);
// without, it has no size() and pays nothing for one (parked waiters).
template <typename Node, bool Counted = true>
class intrusive_list {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept
        requires Counted
    {
        return size_;
    }

    void push_back(Node* node) noexcept {
        node->next = nullptr;
        node->prev = tail_;
        if (tail_)
            tail_->next = node;
        else
            head_ = node;
        tail_ = node;
        node->linked = true;
        if constexpr (Counted) ++size_;
    }
    Node* front() const noexcept { return head_; }
    Node* pop_front() noexcept {
        Node* const node = head_;
        if (!node) return nullptr;
        head_ = static_cast<Node*>(node->next);  // (erase(node), knowing it is the head)
        if (head_)
            head_->prev = nullptr;
        else
            tail_ = nullptr;
        node->next = nullptr;
        node->linked = false;
        if constexpr (Counted) --size_;
        return node;
    }
    void erase(Node* node) noexcept {
        if (node->prev)
            node->prev->next = node->next;
        else
            head_ = static_cast<Node*>(node->next);
        if (node->next)
            node->next->prev = node->prev;
        else
            tail_ = static_cast<Node*>(node->prev);
        node->next = node->prev = nullptr;
        node->linked = false;
        if constexpr (Counted) --size_;
    }

private:
    Node* head_ = nullptr;
    Node* tail_ = nullptr;
    [[no_unique_address]] std::conditional_t<Counted, std::size_t, empty_count> size_{};
};

}  // namespace asyncpat::detail

#endif  // ASYNCPAT_DETAIL_INTRUSIVE_LIST_HPP
