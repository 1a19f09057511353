// asyncpat: the execution context shared by a tree of nested tasks.
// Copyright (c) 2026 the asyncpat developers
// SPDX-License-Identifier: BSL-1.0
#ifndef ASYNCPAT_DETAIL_TASK_CONTEXT_HPP
#define ASYNCPAT_DETAIL_TASK_CONTEXT_HPP

#include <asyncpat/config.hpp>

#include <asyncpat/detail/asio.hpp>
#include <asyncpat/detail/single_threaded.hpp>

#include <atomic>
#include <cassert>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace asyncpat::detail {

// Resuming and transferring between coroutines. Every place in asyncpat that resumes a
// coroutine from ordinary code calls resume(); every await_suspend that hands control to
// another coroutine returns transfer_to(next).
#if ASYNCPAT_WORKAROUND_GCC_SYMMETRIC_TRANSFER
// See ASYNCPAT_WORKAROUND_GCC_SYMMETRIC_TRANSFER in config.hpp. Without a guaranteed tail call,
// a transfer may nest one more call frame, until the chain suspends. So resume() runs a loop
// and remembers where the stack stood when it resumed a coroutine. A transfer is direct (a
// jump, when the compiler made it a tail call) while the stack has grown less than
// max_nested_stack since then; past that it records the coroutine and returns
// noop_coroutine(), which unwinds the nested calls back to the loop, which resumes it. Where
// GCC does emit the tail call (optimised builds without sanitizers) the stack never grows and
// the loop is never used. Nested loops (a resume() from inside a running coroutine, e.g. an
// inline asio::dispatch) save and restore the state, so each loop only sees its own transfers.
struct trampoline {
    std::coroutine_handle<> next;
    char const* base;
    bool active;
};
inline constexpr std::ptrdiff_t max_nested_stack = 64 * 1024;
inline trampoline& local_trampoline() noexcept {
    static thread_local constinit trampoline state{};
    return state;
}
inline void resume(std::coroutine_handle<> handle) {
    trampoline& state = local_trampoline();
    trampoline const saved = state;
    state.active = true;
    state.base = static_cast<char const*>(__builtin_frame_address(0));
    while (handle) {
        state.next = nullptr;
        handle.resume();
        handle = state.next;
    }
    state = saved;
}
[[gnu::always_inline]] inline std::coroutine_handle<> transfer_to(
    std::coroutine_handle<> next) noexcept {
    trampoline& state = local_trampoline();
    // The stack grows down: base minus here is how much the nested transfers used.
    if (!state.active ||
        state.base - static_cast<char const*>(__builtin_frame_address(0)) < max_nested_stack)
        return next;
    state.next = next;
    return std::noop_coroutine();
}
// True when a transfer_to() since the loop last resumed a coroutine returned noop_coroutine()
// in place of its target (recorded for the loop): the noop_coroutine() the caller holds then
// means "unwind", not "nothing to resume".
inline bool transfer_deferred() noexcept {
    return local_trampoline().next != nullptr;
}
#else
inline void resume(std::coroutine_handle<> handle) {
    handle.resume();
}
inline std::coroutine_handle<> transfer_to(std::coroutine_handle<> next) noexcept {
    return next;
}
inline bool transfer_deferred() noexcept {
    return false;
}
#endif

// The target of `ex` if it holds an `Executor`, else null. (Asio 1.22's any_executor::target
// does not check the type itself: it casts whatever it holds.)
template <typename Executor>
Executor const* target_if(const asio::any_io_executor& ex) noexcept {
    if (!ex || ex.target_type() != typeid(Executor)) return nullptr;
    return ex.target<Executor>();
}

// True when the calling thread is currently running handlers of `ex`, for the executor types
// whose answer we can know. Unknown executor types answer false, which makes callers post:
// always correct, only slower.
inline bool running_in_this_thread(const asio::any_io_executor& ex) noexcept {
    if (auto const* io = target_if<asio::io_context::executor_type>(ex))
        return io->running_in_this_thread();
    if (auto const* pool = target_if<asio::thread_pool::executor_type>(ex))
        return pool->running_in_this_thread();
    if (auto const* strand = target_if<asio::strand<asio::io_context::executor_type>>(ex))
        return strand->running_in_this_thread();
    if (auto const* strand = target_if<asio::strand<asio::any_io_executor>>(ex))
        return strand->running_in_this_thread();
    return false;
}

// One spin-wait hint to the CPU (x86 `pause`, Arm `yield`): lets the sibling hardware thread run
// and saves power while a loop polls memory that another core writes.
inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

// Waiting for another thread to finish a step that takes a few instructions (releasing a lock,
// publishing a claimed cell): spins with a pause, then yields the CPU, so that a waiter does not
// burn its time slice while the thread it waits for is preempted (2 cores, many threads).
class backoff {
public:
    void operator()() noexcept {
        if (step_ < spin_steps) {
            for (unsigned i = 0; i < (1U << step_); ++i) cpu_pause();
            ++step_;
        } else {
            std::this_thread::yield();
        }
    }

private:
    static constexpr unsigned spin_steps = 7;  // 127 pauses, then yield
    unsigned step_ = 0;
};

// A small test-and-test-and-set lock. It guards the cancellation signal and hook of one task
// context. It is held while an Asio initiation runs (use_task) and while a cancellation
// handler runs (which may post a resumption): short, but not just a few instructions. Nothing
// that holds it may request cancellation of the same context (that would self-deadlock).
class spin_lock {
public:
    void lock() noexcept {
        // In a process that never started a second thread nobody else can hold it: taken, it is
        // a self-deadlock, which debug builds report (release builds spin, as always).
        assert(!(process_is_single_threaded() && locked_.load(std::memory_order_relaxed)) &&
               "asyncpat: a spin lock taken again by the thread that holds it");
        while (detail::exchange(locked_, true, std::memory_order_acquire)) {
            backoff wait;
            while (locked_.load(std::memory_order_relaxed)) wait();
        }
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

class task_context;

// The owner of a task context: a frame at the root of a task tree (spawned task, sync_wait,
// async_run, a child of when_all/race, a task_group member). Roots are reference counted: the
// running task holds one reference, and so does anyone who may still touch the root from outside
// (a join handle, a posted cancellation).
class root_base {
public:
    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
    }

    // The task tree can never be resumed: the one pending resumption of it was destroyed
    // without running (its executor was shut down). Destroys the tree and tells the observer.
    virtual void abandon() noexcept = 0;

    // The outermost task of the tree finished (it is suspended at its final suspend point).
    // Returns the coroutine to transfer to next (noop_coroutine() for none).
    virtual std::coroutine_handle<> complete() noexcept = 0;

protected:
    explicit root_base(std::uint32_t refs) noexcept : refs_(refs) {}
    ~root_base() = default;
    root_base(const root_base&) = delete;
    root_base& operator=(const root_base&) = delete;

    // Frees the root; called when the last reference is released.
    virtual void destroy() noexcept = 0;

    // True when the caller's reference is the only one: nobody else can reach the root, and
    // (when no holder can hand out new references, as for a detached task) nobody will. The
    // acquire pairs with the release of the references that went.
    bool is_sole_owner() const noexcept { return refs_.load(std::memory_order_acquire) == 1; }

private:
    std::atomic<std::uint32_t> refs_;
};

// Owns one reference to a root (or anything else with release()).
struct release_deleter {
    template <typename Counted>
    void operator()(Counted* counted) const noexcept {
        counted->release();
    }
};
template <typename Counted>
using counted_ptr = std::unique_ptr<Counted, release_deleter>;

// One unit of outstanding work on a tree's executor (see task_context::hold_work). On an
// io_context it is a counter increment, not a type-erased work guard: unit_ is none, or the
// io_context whose outstanding work count this holds one of, or `guarded`: a work-tracking
// executor (any other executor) in guard_storage_. Never used by two threads at once: the tree's
// running task takes it; its completion, or its abandonment (perhaps on the thread whose post
// failed, while the tree cannot run), gives it back.
class work_unit {
public:
    work_unit() noexcept {}  // (user-provided: making one sets unit_ alone, zeroes no storage)
    work_unit(const work_unit&) = delete;
    work_unit& operator=(const work_unit&) = delete;
    ~work_unit() {
        if (unit_ != none) reset();
    }

    bool held() const noexcept { return unit_ != none; }

    // Takes a unit (this object holds none): the spare unit this thread's ready queue holds for
    // the io_context, if any, otherwise a new one. May throw (a work-tracking executor is made).
    void acquire(const task_context& context);
    // Gives the unit up: to this thread's ready queue as its spare when this thread runs the
    // io_context and holds none (the next acquire takes it, with no atomic update of the
    // scheduler's count), otherwise back to the executor.
    void release() noexcept;
    // Gives the unit back to the executor.
    void reset() noexcept;

private:
    static constexpr std::uintptr_t none = 0;
    static constexpr std::uintptr_t guarded = 1;  // (no io_context lives at address 1)

    asio::any_io_executor* guard() noexcept {
        return std::launder(reinterpret_cast<asio::any_io_executor*>(guard_storage_));
    }
    void acquire_new(const task_context& context);  // (out of line: rare)

    std::uintptr_t unit_ = none;
    alignas(asio::any_io_executor) unsigned char guard_storage_[sizeof(asio::any_io_executor)];
};

// What every task in one tree shares: the executor it runs on, its cancellation state, and its
// root.
//
// Cancellation: Asio's cancellation_signal is not thread-safe, so every emit and every
// installation of a handler into the slot happens under `lock_`. Installation happens inside an
// Asio initiation (use_task) or in an asyncpat awaiter; emission happens through
// request_cancel(), which may be called from any thread. `requested_` is sticky: once set, every
// later suspending operation of the tree fails with operation_aborted without starting,
// whatever the cancellation type (terminal, partial or total) was.
//
// As with Asio itself, an Asio *composed* operation re-installs its handler from its
// intermediate completions on the task's executor, outside our lock; a task that may be
// cancelled from another thread while it runs a composed operation on a multi-threaded executor
// should run on a strand (Asio's rule for its own operations).
class task_context {
public:
    template <typename Executor>
    task_context(Executor&& ex, root_base* root)  // copying the executor may allocate
        : root_(root) {
        using io_executor = asio::io_context::executor_type;
        if constexpr (std::is_same_v<std::remove_cvref_t<Executor>, io_executor>) {
            io_.emplace(ex);
        } else if constexpr (std::is_same_v<std::remove_cvref_t<Executor>, asio::any_io_executor>) {
            if (io_executor const* io = target_if<io_executor>(ex)) {
                // (The common case, spawning on this_task::executor: set without testing io_.)
                io_.emplace(*io);
                io_context_ = &io->context();
                ready_key_ = io_context_;
                return;
            }
            executor_.emplace(std::forward<Executor>(ex));
        } else {
            executor_.emplace(std::forward<Executor>(ex));
            if (io_executor const* io = target_if<io_executor>(*executor_)) {
                io_.emplace(*io);
                executor_.reset();
            }
        }
        io_context_ = io_ ? &io_->context() : nullptr;
        ready_key_ =
            io_context_ ? static_cast<void const*>(io_context_) : static_cast<void const*>(this);
    }
    task_context(const task_context&) = delete;
    task_context& operator=(const task_context&) = delete;

    // (By value: a tree on an io_context keeps that executor itself, not type-erased, because
    // making and destroying an any_io_executor costs indirect calls on every spawn.)
    asio::any_io_executor get_executor() const {
        if (io_) return asio::any_io_executor(*io_);
        return *executor_;
    }
    // The io_context when the tree runs on a plain io_context executor (the common case), else
    // null.
    asio::io_context* io_context_ptr() const noexcept { return io_context_; }
    // What a thread's ready queue compares with the io_context it runs (see ready_slot_accepts):
    // the io_context, or for a tree on another executor an address that is no io_context's (the
    // context's own). Never null, so one comparison also rejects "no io_context running".
    void const* ready_key() const noexcept { return ready_key_; }
    root_base& root() const noexcept { return *root_; }

    // True when the calling thread runs handlers of this tree's executor.
    bool running_in_this_thread() const noexcept {
        if (io_) return io_->running_in_this_thread();
        return detail::running_in_this_thread(*executor_);
    }

    // Queues `handler` on the tree's executor, never running it inline. An io_context executor
    // (the common case) is used directly, as a continuation: no type-erased property queries,
    // and no scheduler lock when called from one of its threads.
    template <typename Handler>
    void post(Handler&& handler) {
        if (io_) {
            asio::execution::execute(asio::require(*io_, asio::execution::blocking.never,
                                                   asio::execution::relationship.continuation),
                                     std::forward<Handler>(handler));
        } else {
            asio::post(*executor_, std::forward<Handler>(handler));
        }
    }

    // Work: a tree holds one unit of outstanding work on its executor from the first time one of
    // its tasks may park on an asyncpat wait that someone else completes (a channel, a oneshot,
    // an arena slot: its await_suspend) until it completes or is abandoned, as Asio's co_spawn
    // holds one for a coroutine's whole life, so that the executor's run() does not return while
    // the tree waits for a sender on another thread. Parking is then one test (hold_work), and
    // waking moves no unit. Only the tree's running task calls hold_work() (it may throw: out of
    // memory making a work-tracking executor); the root calls release_work() when the tree
    // completes or is abandoned.
    void hold_work() {
        if (!work_.held()) [[unlikely]]
            work_.acquire(*this);
    }
    void release_work() noexcept {
        if (work_.held()) work_.release();
    }

    bool cancel_requested() const noexcept {
        return requested_.load(std::memory_order_acquire) != 0;
    }
    asio::cancellation_type cancellation() const noexcept {
        return static_cast<asio::cancellation_type>(requested_.load(std::memory_order_acquire));
    }

    // A tree that nobody can cancel: a detached spawn, or an async_run (sync_wait) whose handler
    // has no cancellation slot. Its root says so before the tree starts (the start is posted
    // after it, or runs on this thread). The channel, oneshot and arena awaiters of such a tree
    // arm no cancellation hook, so they skip the hook lock twice per wait (joins, combinators
    // and task groups still take it; a local channel's send and receive, which take no lock,
    // arm theirs anyway: it is never called). request_cancel() must not be called for such a tree
    // (no public operation reaches it: cancellation comes only through a join handle, a slot, a
    // combinator or a task group, and their roots stay cancellable); debug builds assert it.
    void set_uncancellable() noexcept { cancellable_ = false; }
    bool cancellable() const noexcept { return cancellable_; }

    // Thread-safe. Marks the tree cancelled and emits `type` on its slot, on the tree's
    // executor (inline when the caller already runs there). The root is kept alive meanwhile.
    void request_cancel(asio::cancellation_type type = asio::cancellation_type::terminal) {
        assert(cancellable_ && "request_cancel on a tree marked uncancellable");
        requested_.fetch_or(static_cast<unsigned>(type), std::memory_order_acq_rel);
        root_->add_ref();
        if (io_)
            asio::dispatch(*io_, emitter{this});
        else
            asio::dispatch(*executor_, emitter{this});
    }

    // The cancellation hook of an asyncpat awaiter (no allocation, unlike an Asio slot
    // handler). Set it while holding slot_lock(), after checking cancel_requested(); clear it
    // with clear_hook() when the wait ends. An awaiter whose tree runs on an executor that runs
    // one handler at a time on one thread (a local channel's users, see local_channel.hpp) may
    // set it without the lock and clear it with clear_hook_serial(): the emission is dispatched
    // to that executor, so it cannot run while the awaiter arms or clears its hook. (A local
    // channel's waits leave the clearing to whoever wakes them, on that thread: local_waiter.)
    using hook_function = void (*)(void* awaiter, asio::cancellation_type type);
    void set_hook(hook_function function, void* awaiter) noexcept {
        hook_ = function;
        hook_object_ = awaiter;
    }
    void clear_hook() noexcept {
        if (emitting_here()) {  // (see emit)
            hook_ = nullptr;
            return;
        }
        std::lock_guard<spin_lock> guard(lock_);
        hook_ = nullptr;
    }
    // clear_hook() without the lock, for the single-threaded awaiters described at set_hook().
    void clear_hook_serial() noexcept { hook_ = nullptr; }

    // Drops whatever a suspended operation installed (Asio slot handler and asyncpat hook):
    // called before the tree's frames are destroyed without resuming (abandonment), so that a
    // later cancellation cannot reach a destroyed awaiter or I/O object.
    void disarm() noexcept {
        if (emitting_here()) {  // (see emit)
            hook_ = nullptr;
            signal_.slot().clear();
            return;
        }
        std::lock_guard<spin_lock> guard(lock_);
        hook_ = nullptr;
        signal_.slot().clear();
    }

    // disarm() for a tree that finished normally: every awaiter has removed its hook and every
    // operation its slot handler by then, so a look (no lock) usually shows there is nothing to
    // drop. The reads race with nothing: the tree's own awaiters wrote these last (before this
    // thread resumed the tree), and an emission on another thread only reads them.
    void disarm_if_armed() noexcept {
        if (hook_ != nullptr || signal_.slot().has_handler()) disarm();
    }

    // The slot for an operation that the tree awaits. Install into it only while holding
    // slot_lock(), and clear it (clear_slot) when the operation completed. Check
    // cancel_requested() under the same lock before installing: an emit that ran before the lock
    // was taken found no handler, and the flag it set is then visible.
    asio::cancellation_slot slot() noexcept { return signal_.slot(); }
    spin_lock& slot_lock() noexcept { return lock_; }

    // Drops the handler an operation left in the slot, so that a later cancellation cannot reach
    // an operation (or an I/O object) that no longer exists.
    void clear_slot() noexcept {
        std::lock_guard<spin_lock> guard(lock_);
        signal_.slot().clear();
    }

private:
    struct emitter {
        task_context* context;
        emitter(task_context* c) noexcept : context(c) {}
        emitter(emitter&& other) noexcept : context(std::exchange(other.context, nullptr)) {}
        emitter& operator=(emitter&&) = delete;
        ~emitter() {
            if (context) context->root_->release();
        }
        void operator()() {
            task_context* c = std::exchange(context, nullptr);
            // The root reference goes even if an Asio cancellation handler throws.
            counted_ptr<root_base> const keep(c->root_);
            c->emit(c->cancellation());
        }
    };

    // Runs the hook and the slot's handler under the lock. A hook that wakes the awaiter may
    // fail to queue its resumption, and then the tree is abandoned right here, on this thread,
    // which disarms this same context: the lock is ours already, so disarm() and clear_hook()
    // skip it while this thread emits for this context (the lock is not recursive).
    void emit(asio::cancellation_type type) {
        std::lock_guard<spin_lock> guard(lock_);
        task_context*& emitting = emitting_on_this_thread();
        task_context* const outer = std::exchange(emitting, this);
        struct restore {
            task_context*& slot;
            task_context* previous;
            ~restore() { slot = previous; }
        } const restore_outer{emitting, outer};
        if (hook_) hook_(hook_object_, type);
        signal_.emit(type);
    }

    static task_context*& emitting_on_this_thread() noexcept {
        static thread_local constinit task_context* emitting = nullptr;
        return emitting;
    }
    bool emitting_here() const noexcept { return emitting_on_this_thread() == this; }

    // The tree's executor: an io_context's (the common case) in io_, any other in executor_.
    std::optional<asio::any_io_executor> executor_;
    std::optional<asio::io_context::executor_type> io_;
    asio::io_context* io_context_;  // and its context
    void const* ready_key_;
    root_base* root_;
    asio::cancellation_signal signal_;
    hook_function hook_ = nullptr;
    void* hook_object_ = nullptr;
    spin_lock lock_;
    std::atomic<unsigned> requested_{0};
    bool cancellable_ = true;  // see set_uncancellable
    work_unit work_;           // see hold_work
};

// The one pending resumption of a suspended task tree, as an Asio handler. Running it resumes
// the coroutine; destroying it without running (its executor shut down with the handler queued)
// abandons the tree, so the frames are destroyed instead of leaked.
class resume_handler {
public:
    resume_handler(std::coroutine_handle<> handle, task_context* context) noexcept
        : handle_(handle), context_(context) {}
    resume_handler(resume_handler&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), context_(other.context_) {}
    resume_handler& operator=(resume_handler&&) = delete;
    ~resume_handler() {
        if (handle_) context_->root().abandon();
    }
    void operator()();

private:
    std::coroutine_handle<> handle_;
    task_context* context_;
};

// Resumes `handle` on its tree's executor, never inline. If it cannot be queued (out of memory,
// or an executor whose execute throws), the resume handler, destroyed without running, abandons
// the tree: it is destroyed and its observer told, never left hanging. Callers are completion
// and cancellation paths, which must not throw.
inline void post_resume(std::coroutine_handle<> handle, task_context& context) noexcept {
    try {
        context.post(resume_handler{handle, &context});
    } catch (...) {  // the unrun resume_handler abandoned the tree
    }
}

// ---- Same-thread hand-off (the ready slot)
//
// When a channel operation wakes a task whose executor is the io_context this thread is running
// an asyncpat handler of, the woken task does not go through the scheduler: it is put in this
// thread's ready slot and runs next, either by symmetric transfer when the waking task itself
// suspends on an asyncpat awaiter (next_ready()), or when the handler's coroutine chain returns
// to run_handler(). A budget of ASYNCPAT_HANDOFF_BUDGET hand-offs per handler keeps other
// handlers of the io_context from being starved: past it, woken tasks are posted.
struct ready_queue {
    asio::io_context* running = nullptr;  // the io_context whose handler run_handler() runs here
    std::coroutine_handle<> next;         // a woken task to run next on this thread
    task_context* next_context = nullptr;
    unsigned handoffs = 0;  // hand-offs made during the current handler
    // One unit of outstanding work on `running`, left by a tree that completed here, for the
    // next tree that parks here (work_unit::release): a stream of short spawned tasks that each
    // wait once takes no atomic update of the scheduler's count per task.
    bool spare_work = false;
};
inline ready_queue& local_ready() noexcept {
    static thread_local constinit ready_queue queue{};
    return queue;
}
inline constexpr unsigned handoff_budget = ASYNCPAT_HANDOFF_BUDGET;

// Runs `first`, then every task that asyncpat woke onto this thread's ready slot meanwhile, as
// one handler of `context`'s executor. Nested handlers (an inline dispatch, a nested run())
// keep their own slot.
inline void run_handler(std::coroutine_handle<> first, task_context& context) noexcept {
    ready_queue& queue = local_ready();
    ready_queue const saved = queue;
    queue = ready_queue{context.io_context_ptr(), nullptr, nullptr, 0, false};
    resume(first);
    while (queue.next) {
        std::coroutine_handle<> const next = std::exchange(queue.next, nullptr);
        task_context* const next_context = queue.next_context;
        if (++queue.handoffs <= handoff_budget) {
            resume(next);
            continue;
        }
        post_resume(next, *next_context);
    }
#if !defined(ASIO_NO_TS_EXECUTORS)
    if (queue.spare_work) queue.running->get_executor().on_work_finished();
#endif
    queue = saved;
}

inline void resume_handler::operator()() {
    run_handler(std::exchange(handle_, nullptr), *context_);
}

// For an awaiter that suspends its task: the task to transfer to instead of returning to the
// scheduler (the one in the ready slot), or noop_coroutine().
inline std::coroutine_handle<> next_ready() noexcept {
    ready_queue& queue = local_ready();
    if (!queue.next) return std::noop_coroutine();
    ++queue.handoffs;
    return transfer_to(std::exchange(queue.next, nullptr));
}

// Whether a task of `context` woken (or started) now may go into this thread's ready slot:
// this thread runs a handler of the same io_context, the slot is free, and the budget allows.
inline bool ready_slot_accepts(ready_queue& queue, const task_context& context) noexcept {
    return queue.running == context.ready_key() && !queue.next && queue.handoffs < handoff_budget;
}

// Starts a new tree's outermost task through this thread's ready slot, if it accepts it (see
// ready_slot_accepts): the task then runs when the spawning task next suspends, or when the
// current handler's chain returns, without a trip through the scheduler (tokio's LIFO slot).
// Returns false if the caller must post the start instead.
inline bool start_here(std::coroutine_handle<> task, task_context& context) noexcept {
    ready_queue& queue = local_ready();
    if (!ready_slot_accepts(queue, context)) return false;
    queue.next = task;
    queue.next_context = &context;
    return true;
}

// Resumes a parked task: through this thread's ready slot when this thread runs a handler of
// the task's io_context and the budget allows, otherwise by posting to its executor (a
// resumption that cannot be queued abandons the tree, see post_resume). Its tree holds a unit
// of work on the executor meanwhile (task_context::hold_work). After this, the task may run (and
// its frame be gone) at any moment.
inline void wake(std::coroutine_handle<> handle, task_context& context) noexcept {
    ready_queue& queue = local_ready();
    if (ready_slot_accepts(queue, context)) {
        queue.next = handle;
        queue.next_context = &context;
        return;
    }
    post_resume(handle, context);
}

inline void work_unit::acquire(const task_context& context) {
    ready_queue& queue = local_ready();
    // (A spare exists only while this thread runs an io_context: `running` is not null.)
    if (queue.spare_work && context.io_context_ptr() == queue.running) {
        queue.spare_work = false;
        unit_ = reinterpret_cast<std::uintptr_t>(queue.running);
        return;
    }
    acquire_new(context);
}

[[gnu::noinline]] inline void work_unit::acquire_new(const task_context& context) {
#if !defined(ASIO_NO_TS_EXECUTORS)
    if (asio::io_context* io = context.io_context_ptr()) {
        io->get_executor().on_work_started();
        unit_ = reinterpret_cast<std::uintptr_t>(io);
        return;
    }
#endif
    new (guard_storage_) asio::any_io_executor(
        asio::prefer(context.get_executor(), asio::execution::outstanding_work.tracked));
    unit_ = guarded;
}

inline void work_unit::release() noexcept {
#if !defined(ASIO_NO_TS_EXECUTORS)
    ready_queue& queue = local_ready();
    if (unit_ == reinterpret_cast<std::uintptr_t>(queue.running) && !queue.spare_work) {
        unit_ = none;
        queue.spare_work = true;  // (queue.running is not null here: unit_ is not none)
        return;
    }
#endif
    reset();
}

inline void work_unit::reset() noexcept {
    std::uintptr_t const unit = std::exchange(unit_, none);
    if (unit == guarded) {
        guard()->~any_io_executor();  // (its destructor tells the executor)
        return;
    }
#if !defined(ASIO_NO_TS_EXECUTORS)
    if (unit != none) reinterpret_cast<asio::io_context*>(unit)->get_executor().on_work_finished();
#endif
}

// Resumption after a completion that ran on some thread: returns the handle to transfer to when
// the caller already runs on the tree's executor, otherwise posts it there and returns
// noop_coroutine().
inline std::coroutine_handle<> resume_on(std::coroutine_handle<> handle,
                                         task_context& context) noexcept {
    if (context.running_in_this_thread()) return transfer_to(handle);
    post_resume(handle, context);
    return std::noop_coroutine();
}

// A promise that belongs to asyncpat: it knows its task context.
template <typename Promise>
concept context_promise = requires(Promise& p) {
    { p.context() } -> std::same_as<task_context*>;
};

}  // namespace asyncpat::detail

#endif  // ASYNCPAT_DETAIL_TASK_CONTEXT_HPP
