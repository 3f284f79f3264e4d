//! The memory bound on template renderings (README "Add-on templates").
//!
//! minijinja limits no string's size: `~`, `+`, `join`, `replace` and
//! `format` build new strings from old ones, so `{% set s = s ~ s %}`
//! doubles a string per step and neither the step budget nor the output
//! cap (src/render.rs) bounds memory. minijinja has no hook on those
//! operations, so the bound sits where every one of them ends up: the
//! allocator. [`Budgeted`] counts what is allocated while a thread renders
//! (between [`Rendering::start`] and its drop), over every thread at once,
//! and stops the process before an allocation takes the count past
//! [`RENDER_MEMORY_LIMIT`].
//!
//! The same goes for work the step budget does not see: a filter runs as
//! one step, and `([1] * 1000000000000)|sum` iterates a lazy sequence a
//! trillion times. Every step of such a loop allocates (an iterator per
//! repetition or part of the sequence), so a rendering may make at most
//! [`RENDER_ALLOCATIONS`] allocations; a count, unlike a clock, gives the
//! same verdict on every machine. A part may be long, though (`big * n`
//! with `big` a list of 100,000 items allocates once per 100,000), so the
//! clock is the backstop: at every 256th allocation a rendering older than
//! [`RENDER_SECONDS`] is stopped too. Between two allocations no loop is
//! longer than the largest value in memory, which the memory limit bounds.
//!
//! Stopping is the one way out: an allocator may neither unwind nor fail
//! an allocation that Rust would then turn into a bare abort. So it writes
//! the message itself, naming the file and template, and exits 1 before
//! anything is written (rendering precedes the write stage).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What all renderings running at once may hold (README "Add-on templates").
pub const RENDER_MEMORY_LIMIT: usize = 128 * 1024 * 1024;

/// The allocations one rendering may make: the built-in templates make
/// under 20,000 for the largest file of 20,000 users.
pub const RENDER_ALLOCATIONS: u64 = 10_000_000;

/// How long one rendering may take.
pub const RENDER_SECONDS: u64 = 30;

/// How long all renderings of one run may take together, summed over
/// threads: the repository chooses how many files there are, so a limit
/// per file alone bounds nothing. The built-in templates render 10,000
/// users in under a second.
pub const ALL_RENDERS_SECONDS: u64 = 120;

/// A thread's count goes to the shared one in steps of this much, so small
/// allocations cost no atomic operation.
const STEP: isize = 256 * 1024;

/// Bytes held by the renderings running now, as far as flushed.
static IN_USE: AtomicIsize = AtomicIsize::new(0);

/// Milliseconds taken by the renderings that have ended.
static ENDED_MILLIS: AtomicU64 = AtomicU64::new(0);

/// The output root's lock while held (src/write.rs `Lock`): a limit ends
/// the process without unwinding, so [`exceeded`] removes it as the lock's
/// drop would have.
static HELD_LOCK: Mutex<Option<CString>> = Mutex::new(None);

/// Records the lock file to remove if a limit ends the process; `None`
/// once it is released.
pub fn hold_lock(path: Option<&Path>) {
    let path = path.and_then(|path| CString::new(path.as_os_str().as_bytes()).ok());
    if let Ok(mut held) = HELD_LOCK.lock() {
        *held = path;
    }
}

#[derive(Clone, Copy)]
struct Scope {
    /// The message's subject (a [`Rendering`]'s text); null outside one.
    what: *const u8,
    what_len: usize,
    /// Counted on this thread, not yet added to [`IN_USE`].
    pending: isize,
    /// Added to [`IN_USE`] by this rendering, taken back when it ends.
    flushed: isize,
    /// Allocations made by this rendering.
    allocations: u64,
    /// When this rendering started.
    started: Option<Instant>,
}

const IDLE: Scope = Scope {
    what: std::ptr::null(),
    what_len: 0,
    pending: 0,
    flushed: 0,
    allocations: 0,
    started: None,
};

thread_local! {
    // Const-initialised with no destructor: usable from inside the allocator.
    static SCOPE: Cell<Scope> = const { Cell::new(IDLE) };
}

/// An allocator that counts what renderings allocate; `main.rs` wraps
/// mimalloc in it.
pub struct Budgeted<A>(pub A);

// SAFETY: every call goes to the wrapped allocator unchanged; the count
// touches only a thread-local and an atomic and never allocates.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Budgeted<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(size(layout.size()));
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(size(layout.size()));
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.0.dealloc(ptr, layout) };
        charge(-size(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Both blocks may be live while one is copied to the other.
        charge(size(new_size));
        // SAFETY: the caller's guarantees, passed on.
        let moved = unsafe { self.0.realloc(ptr, layout, new_size) };
        charge(-size(layout.size()));
        moved
    }
}

fn size(bytes: usize) -> isize {
    isize::try_from(bytes).unwrap_or(isize::MAX)
}

fn charge(delta: isize) {
    let _ = SCOPE.try_with(|cell| {
        let mut scope = cell.get();
        if scope.what.is_null() {
            return;
        }
        scope.pending = scope.pending.saturating_add(delta);
        if delta > 0 {
            scope.allocations += 1;
            if scope.allocations > RENDER_ALLOCATIONS {
                exceeded(scope, ALLOCATIONS_EXCEEDED);
            }
            if scope.allocations % 256 == 0
                && let Some(started) = scope.started
            {
                let elapsed = started.elapsed();
                if elapsed > Duration::from_secs(RENDER_SECONDS) {
                    exceeded(scope, TIME_EXCEEDED);
                }
                let ended = Duration::from_millis(ENDED_MILLIS.load(Ordering::Relaxed));
                if ended + elapsed > Duration::from_secs(ALL_RENDERS_SECONDS) {
                    exceeded(scope, ALL_TIME_EXCEEDED);
                }
            }
        }
        if scope.pending.abs() < STEP {
            cell.set(scope);
            return;
        }
        let total = IN_USE
            .fetch_add(scope.pending, Ordering::Relaxed)
            .saturating_add(scope.pending);
        scope.flushed += scope.pending;
        scope.pending = 0;
        cell.set(scope);
        if delta > 0 && total > size(RENDER_MEMORY_LIMIT) {
            exceeded(scope, MEMORY_EXCEEDED);
        }
    });
}

const MEMORY_EXCEEDED: &[u8] =
    b" used more than 128 MiB of memory, the limit for the renderings running at once\n";

const ALLOCATIONS_EXCEEDED: &[u8] = b" made more than 10000000 allocations, the limit for one \
    file (it counts work inside filters, such as `|sum` of a long sequence, that the step \
    limit does not)\n";

const TIME_EXCEEDED: &[u8] = b" took more than 30 s, the limit for one file\n";

const ALL_TIME_EXCEEDED: &[u8] =
    b" ran past 120 s of rendering for this run, the limit for all files together\n";

/// Reports the rendering that went over a limit and ends the process;
/// no allocation, so no way back into [`charge`].
fn exceeded(scope: Scope, limit: &[u8]) -> ! {
    // SAFETY: `what` points to the live `Rendering`'s text of that length.
    let what = unsafe { std::slice::from_raw_parts(scope.what, scope.what_len) };
    let parts: [&[u8]; 4] = [
        b"error: ",
        what,
        limit,
        b"nothing was written\n\
          make the template do less (README \"Add-on templates\"); if it is a \
          template override from --templates, fix that template\n",
    ];
    for part in parts {
        let mut rest = part;
        while !rest.is_empty() {
            // SAFETY: writes `rest.len()` bytes from a live slice to fd 2.
            let written = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
            let Ok(written) = usize::try_from(written) else {
                break;
            };
            rest = &rest[written.min(rest.len())..];
        }
    }
    if let Ok(held) = HELD_LOCK.try_lock()
        && let Some(path) = held.as_ref()
    {
        // SAFETY: `path` is a live NUL-terminated string.
        unsafe { libc::unlink(path.as_ptr()) };
    }
    // SAFETY: `_exit` ends the process at once; nothing runs after it.
    unsafe { libc::_exit(1) }
}

/// A rendering in progress on this thread: what it allocates counts
/// against [`RENDER_MEMORY_LIMIT`] until it is dropped.
pub struct Rendering {
    /// The message's subject, `rendering PATH with template NAME`.
    what: String,
}

impl Rendering {
    /// Starts counting; `what` names the rendering in the message.
    pub fn start(what: String) -> Rendering {
        let rendering = Rendering { what };
        // The String's buffer does not move when `rendering` does.
        let scope = Scope {
            what: rendering.what.as_ptr(),
            what_len: rendering.what.len(),
            started: Some(Instant::now()),
            ..IDLE
        };
        let _ = SCOPE.try_with(|cell| cell.set(scope));
        rendering
    }
}

impl Drop for Rendering {
    fn drop(&mut self) {
        let _ = SCOPE.try_with(|cell| {
            if let Some(started) = cell.get().started {
                let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                ENDED_MILLIS.fetch_add(millis, Ordering::Relaxed);
            }
            IN_USE.fetch_sub(cell.get().flushed, Ordering::Relaxed);
            cell.set(IDLE);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_states_the_limit() {
        assert_eq!(RENDER_MEMORY_LIMIT, 128 << 20, "update MEMORY_EXCEEDED");
        assert_eq!(
            RENDER_ALLOCATIONS, 10_000_000,
            "update ALLOCATIONS_EXCEEDED"
        );
        assert_eq!(RENDER_SECONDS, 30, "update TIME_EXCEEDED");
        assert_eq!(ALL_RENDERS_SECONDS, 120, "update ALL_TIME_EXCEEDED");
    }
}
