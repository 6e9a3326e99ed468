//! Giving freed memory back to the system.
//!
//! glibc's malloc keeps what a burst frees (a full journal read, a run's fixtures, a burst of
//! connections) in its arenas for the next allocation instead of returning it, so a server's
//! resident size stays at its high-water mark, and a reset gives nothing back. `malloc_trim`
//! returns the free pages of every arena. The binary calls [`give_back`] every
//! [`INTERVAL`]; the admin reset calls it too. Elsewhere (another libc, another allocator) it
//! does nothing.

use std::time::Duration;

/// How often the binary gives memory back: a trim of a few tens of megabytes takes well under
/// a millisecond.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Returns the allocator's free pages to the system (glibc on Linux; a no-op elsewhere).
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and locks each arena itself; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}
