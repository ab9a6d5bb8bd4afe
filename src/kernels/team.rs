//! The kernels' thread team: fork-join loops over task indices, in the manner of OpenMP.
//!
//! Why not a work-stealing pool: a parallel kernel here is one flat loop of equal tasks,
//! issued from a Python thread, with Python running between kernels. Measured on a 2-core VM
//! (issue 7, `benches/compare.py E`), a rayon pool let its workers fall asleep within
//! microseconds after each kernel; waking one took long enough, often enough, that the first
//! worker did all the work (1e7-float sums bimodal at 0.8 and 1.6 ms, PyTorch 0.9 ms), and the
//! calling thread sat blocked on a latch meanwhile. This team differs in three ways:
//!
//! - the calling thread takes tasks itself, so a kernel never waits on a sleeping worker
//!   before it can start, and a slow-to-wake worker only means fewer helpers;
//! - workers spin for `SPIN` after each kernel before parking (like OpenMP's default wait
//!   policy), so back-to-back kernels find them awake;
//! - tasks are claimed one at a time from a shared counter, so a late worker joins mid-way.
//!
//! The team has `threads() - 1` workers, started on first use. A dispatch made while the team
//! is busy (another Python thread, or a kernel inside a task), or in a child process after
//! `fork`, runs its tasks on the calling thread. A panic in a task is caught, the remaining
//! tasks still run, and the panic resumes on the calling thread.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long an idle worker spins before it parks (override: `FERROGRAD_SPIN_US`).
const SPIN: Duration = Duration::from_micros(300);

thread_local! {
    /// Set on workers, and on a caller while it runs a dispatch: nested dispatches run inline.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// One parallel loop: `f(i)` for each `i < n`.
struct Job {
    /// The caller's closure, its lifetime erased. Only dereferenced for a claimed task, and
    /// the caller does not return before every claimed task has finished.
    f: *const (dyn Fn(usize) + Sync + 'static),
    n: usize,
    /// Workers with an index below this take part (the rest of the team sits this one out).
    workers: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `f` points to a `Sync` closure, and is only called while the dispatching caller
// waits for it (see `Job::f`); every other field is thread-safe.
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl Job {
    /// Claims and runs tasks until none are left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.n {
                return;
            }
            // SAFETY: task `i` was claimed, so the caller is still waiting (see `Job::f`).
            let f = unsafe { &*self.f };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(i))) {
                let mut slot = lock(&self.panic);
                slot.get_or_insert(payload);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

#[derive(Default)]
struct Slot {
    generation: u64,
    job: Option<Arc<Job>>,
    sleepers: usize,
}

struct Team {
    slot: Mutex<Slot>,
    wake: Condvar,
    /// Mirrors `Slot::generation`, for lock-free spinning.
    generation: AtomicU64,
    /// Held by the one dispatch that is running.
    busy: AtomicBool,
    spawned: Mutex<usize>,
    size: AtomicUsize,
    spin: Duration,
    pid: u32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Tasks run outside these locks, so a poisoned lock only means a panic elsewhere while it
    // was held for a field update; the data is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn team() -> &'static Team {
    static TEAM: OnceLock<Team> = OnceLock::new();
    TEAM.get_or_init(|| {
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
        };
        let size = env("FERROGRAD_NUM_THREADS")
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .min(MAX_THREADS);
        let spin = env("FERROGRAD_SPIN_US").map_or(SPIN, |us| Duration::from_micros(us as u64));
        Team {
            slot: Mutex::new(Slot::default()),
            wake: Condvar::new(),
            generation: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            spawned: Mutex::new(0),
            size: AtomicUsize::new(size),
            spin,
            pid: std::process::id(),
        }
    })
}

/// Threads a parallel kernel uses (the caller included).
pub fn threads() -> usize {
    team().size.load(Ordering::Relaxed)
}

/// Most threads a team may have.
pub const MAX_THREADS: usize = 1024;

/// Sets the threads parallel kernels use (1 to `MAX_THREADS`), like `torch.set_num_threads`.
pub fn set_threads(n: usize) {
    team()
        .size
        .store(n.clamp(1, MAX_THREADS), Ordering::Relaxed);
}

impl Team {
    /// Starts workers up to `want`; returns how many exist (fewer if the OS refuses threads).
    fn ensure_workers(&'static self, want: usize) -> usize {
        let mut spawned = lock(&self.spawned);
        while *spawned < want {
            let index = *spawned;
            let start = self.generation.load(Ordering::Acquire);
            let ok = std::thread::Builder::new()
                .name(format!("ferrograd-{index}"))
                .spawn(move || self.worker(index, start))
                .is_ok();
            if !ok {
                break;
            }
            *spawned += 1;
        }
        *spawned
    }

    fn worker(&self, index: usize, mut seen: u64) {
        INSIDE.with(|c| c.set(true));
        loop {
            let started = Instant::now();
            let mut spins = 0u32;
            while self.generation.load(Ordering::Acquire) == seen {
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(128) && started.elapsed() >= self.spin {
                    break;
                }
                std::hint::spin_loop();
            }
            let job = {
                let mut slot = lock(&self.slot);
                while slot.generation == seen {
                    slot.sleepers += 1;
                    slot = self.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
                    slot.sleepers -= 1;
                }
                seen = slot.generation;
                slot.job.clone()
            };
            if let Some(job) = job {
                if index < job.workers {
                    job.work();
                }
            }
        }
    }
}

/// Runs `f(i)` for every `i < n`, on the calling thread and the team's workers; returns when
/// all have finished. Small loops, nested calls and calls while the team is busy run inline.
pub fn run(n: usize, f: &(dyn Fn(usize) + Sync)) {
    let inline = || (0..n).for_each(f);
    let team = team();
    let size = threads();
    if n < 2 || size < 2 || INSIDE.with(|c| c.get()) || team.pid != std::process::id() {
        return inline();
    }
    if team
        .busy
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return inline();
    }
    let workers = team.ensure_workers(size - 1).min(size - 1).min(n - 1);
    // SAFETY: only the lifetime is erased; `Job::f` says why the pointer stays valid.
    let f: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
    let job = Arc::new(Job {
        f,
        n,
        workers,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panic: Mutex::new(None),
    });
    {
        let mut slot = lock(&team.slot);
        slot.generation += 1;
        slot.job = Some(job.clone());
        team.generation.store(slot.generation, Ordering::Release);
        if slot.sleepers > 0 {
            team.wake.notify_all();
        }
    }
    INSIDE.with(|c| c.set(true));
    job.work();
    // Wait for tasks that workers claimed and are still running.
    let mut spins = 0u32;
    while job.done.load(Ordering::Acquire) < n {
        spins = spins.saturating_add(1);
        if spins < 1 << 12 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    INSIDE.with(|c| c.set(false));
    lock(&team.slot).job = None;
    team.busy.store(false, Ordering::Release);
    let payload = lock(&job.panic).take();
    if let Some(payload) = payload {
        resume_unwind(payload);
    }
}

/// `f(i)` for every `i < n` (see `run`).
pub fn for_each(n: usize, f: impl Fn(usize) + Sync) {
    run(n, &f);
}

/// `[f(0), .., f(n - 1)]`, computed in parallel (see `run`).
pub fn map<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let mut out: Vec<R> = Vec::with_capacity(n);
    let base = SendPtr(out.as_mut_ptr());
    run(n, &|i| {
        // SAFETY: each index below the capacity is written exactly once.
        unsafe { base.get().add(i).write(f(i)) }
    });
    // SAFETY: `run` returned normally, so every task ran and wrote its element.
    unsafe { out.set_len(n) };
    out
}

/// `f(c, chunk)` for the consecutive `size`-element chunks of `data` (the last may be shorter).
pub fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    size: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if size == 0 || data.is_empty() {
        return;
    }
    let len = data.len();
    let base = SendPtr(data.as_mut_ptr());
    run(len.div_ceil(size), &|c| {
        let start = c * size;
        // SAFETY: chunks are disjoint and inside `data`, and each index runs once.
        let chunk =
            unsafe { std::slice::from_raw_parts_mut(base.get().add(start), size.min(len - start)) };
        f(c, chunk)
    });
}

/// Below this many elements a chunked loop gives each thread one contiguous part.
const LOCAL: usize = 1 << 20;

/// The chunk length for an elementwise loop over `n` elements, at least `min`.
///
/// Up to `LOCAL` elements the operands fit the cores' private caches, so each thread gets one
/// contiguous part: the caller claims the first part, a worker the next, and the same part
/// of consecutive kernels stays in the same core's cache (fine chunks claimed dynamically
/// moved the data between cores on every kernel: 2x slower at 2e5 floats). Longer loops are
/// bound by memory, not cache, and take `min`-sized chunks, so that a late worker still
/// takes a fair share.
pub fn chunk_len(n: usize, min: usize) -> usize {
    if n >= LOCAL {
        min
    } else {
        n.div_ceil(threads())
            .div_ceil(64)
            .saturating_mul(64)
            .max(min)
    }
}

/// `f(item)` for each item, in parallel (see `run`).
pub fn for_each_item<I: Send>(items: Vec<I>, f: impl Fn(I) + Sync) {
    let mut items = std::mem::ManuallyDrop::new(items);
    let n = items.len();
    let base = SendPtr(items.as_mut_ptr());
    run(n, &|i| {
        // SAFETY: each item is moved out exactly once.
        f(unsafe { base.get().add(i).read() })
    });
    // SAFETY: every item was moved out above; free the allocation without dropping them.
    unsafe {
        items.set_len(0);
        std::mem::ManuallyDrop::drop(&mut items);
    }
}

/// A raw pointer that tasks on other threads may use (each on its own elements).
pub struct SendPtr<T>(*mut T);
// SAFETY: used only for disjoint per-task access to data the caller owns for the whole `run`.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    pub fn new(p: *mut T) -> Self {
        SendPtr(p)
    }
    pub fn get(&self) -> *mut T {
        self.0
    }
}
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once() {
        for n in [0, 1, 2, 3, 7, 64, 1000] {
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            for_each(n, |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                "n = {n}"
            );
        }
    }

    #[test]
    fn map_keeps_order_and_chunks_cover_the_slice() {
        assert_eq!(
            map(100, |i| i * i),
            (0..100).map(|i| i * i).collect::<Vec<_>>()
        );
        let mut v = vec![0usize; 1003];
        for_each_chunk_mut(&mut v, 10, |c, chunk| {
            for (j, x) in chunk.iter_mut().enumerate() {
                *x = c * 10 + j;
            }
        });
        assert_eq!(v, (0..1003).collect::<Vec<_>>());
        let items: Vec<String> = (0..50).map(|i| i.to_string()).collect();
        let total = AtomicUsize::new(0);
        for_each_item(items, |s| {
            total.fetch_add(s.parse::<usize>().unwrap_or(0), Ordering::Relaxed);
        });
        assert_eq!(total.load(Ordering::Relaxed), (0..50).sum::<usize>());
    }

    #[test]
    fn nested_and_concurrent_dispatches_complete() {
        let outer: Vec<usize> = map(8, |i| map(8, |j| i * j).into_iter().sum());
        assert_eq!(outer, (0..8).map(|i| i * 28).collect::<Vec<_>>());
        let handles: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    (0..200)
                        .map(|_| map(16, |i| i + t).into_iter().sum::<usize>())
                        .sum::<usize>()
                })
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join().ok(), Some(200 * (120 + 16 * t)));
        }
    }

    #[test]
    fn a_panicking_task_resumes_on_the_caller_and_the_team_survives() {
        let ran = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            for_each(16, |i| {
                ran.fetch_add(1, Ordering::Relaxed);
                if i == 5 {
                    panic!("task 5");
                }
            })
        }));
        assert!(r.is_err());
        assert_eq!(ran.load(Ordering::Relaxed), 16);
        assert_eq!(map(10, |i| i).len(), 10);
    }

    #[test]
    fn one_thread_runs_inline() {
        let before = threads();
        set_threads(1);
        let caller = std::thread::current().id();
        for_each(8, |_| assert_eq!(std::thread::current().id(), caller));
        set_threads(before);
    }
}
