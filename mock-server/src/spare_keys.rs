//! Spare RSA-2048 keys, made ahead of time in the user's cache directory.
//!
//! Making an RSA-2048 key takes 50–300 ms of CPU (the search for primes is random), so a server
//! started on a new certificates directory would answer its first signed token late. Each start
//! that needs a new signing key claims a spare instead, and afterwards tops the cache back up on
//! a background thread. A spare is claimed by renaming it, which only one process can do, so no
//! two servers ever share a key; only the first start on a machine (an empty cache) waits for
//! key generation.
//!
//! Where: `$MOCK_SERVER_SPARE_KEYS` (a directory, or `off`), otherwise
//! `$XDG_CACHE_HOME/mock-server/spare-keys`, otherwise `~/.cache/mock-server/spare-keys`. A cache
//! that cannot be read or written is skipped: the key is then made on the spot, as without one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// How many spares the cache holds: one per provider that signs, so a whole start is covered.
pub const SPARES: usize = 3;

const PREFIX: &str = "spare-";
const SUFFIX: &str = "-key.pem";

/// The cache directory, or `None` when turned off or no home is known.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("MOCK_SERVER_SPARE_KEYS") {
        Some(v) if v == "off" || v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")))
            .map(|cache| cache.join("mock-server").join("spare-keys")),
    }
}

/// Claims one spare in `dir`: its PEM, now this process's alone, or `None` when there is none.
/// A spare that `usable` refuses is thrown away and the next one tried.
pub fn claim(dir: &Path, usable: impl Fn(&str) -> bool) -> Option<String> {
    let claimed = dir.join(format!("claimed-{}-{}.pem", std::process::id(), rand::random::<u64>()));
    for spare in spares(dir) {
        // Rename is atomic: of two processes after the same spare, one gets NotFound.
        if fs::rename(&spare, &claimed).is_err() {
            continue;
        }
        let pem = fs::read_to_string(&claimed);
        let _ = fs::remove_file(&claimed);
        match pem {
            Ok(pem) if usable(&pem) => return Some(pem),
            _ => tracing::debug!(spare = %spare.display(), "a spare key was unusable; discarded"),
        }
    }
    None
}

/// Makes spares in `dir` with `make` until it holds `SPARES`. Returns how many it made.
pub fn top_up(dir: &Path, make: impl Fn() -> io::Result<String>) -> io::Result<usize> {
    fs::create_dir_all(dir)?;
    let mut made = 0;
    while spares(dir).len() < SPARES {
        let pem = make()?;
        let name = format!("{PREFIX}{:016x}{SUFFIX}", rand::random::<u64>());
        let tmp = dir.join(format!("making-{}-{}.tmp", std::process::id(), rand::random::<u64>()));
        fs::write(&tmp, pem)?;
        owner_only(&tmp)?;
        // Published whole: a reader sees a spare complete or not at all.
        fs::rename(&tmp, dir.join(name))?;
        made += 1;
    }
    Ok(made)
}

/// How long a top-up waits before it starts, so that the start and the first requests after it
/// have the CPU to themselves (making a key keeps a core busy for up to a few hundred ms).
const TOP_UP_DELAY: std::time::Duration = std::time::Duration::from_millis(300);

/// Starts one background top-up of the cache per process at a time, `TOP_UP_DELAY` from now;
/// returns at once.
pub fn top_up_later(make: fn() -> io::Result<String>) {
    static RUNNING: AtomicBool = AtomicBool::new(false);
    let Some(dir) = cache_dir() else { return };
    if RUNNING.swap(true, Ordering::AcqRel) {
        return;
    }
    let started = std::thread::Builder::new().name("spare-keys".into()).spawn(move || {
        std::thread::sleep(TOP_UP_DELAY);
        match top_up(&dir, make) {
            Ok(made) => tracing::debug!(made, dir = %dir.display(), "spare signing keys made"),
            Err(e) => tracing::debug!(error = %e, dir = %dir.display(), "cannot keep spare signing keys"),
        }
        RUNNING.store(false, Ordering::Release);
    });
    if started.is_err() {
        RUNNING.store(false, Ordering::Release);
    }
}

fn spares(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect()
}

fn owner_only(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    }
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("spare-keys-{tag}-{}-{}", std::process::id(), rand::random::<u32>()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn any_key(pem: &str) -> bool {
        rcgen::KeyPair::from_pem(pem).is_ok()
    }

    fn ec_key() -> io::Result<String> {
        Ok(rcgen::KeyPair::generate().map_err(io::Error::other)?.serialize_pem())
    }

    #[test]
    fn an_empty_cache_gives_nothing_and_a_topped_up_one_gives_each_spare_once() {
        let dir = scratch("once");
        assert_eq!(claim(&dir, any_key), None);
        assert_eq!(top_up(&dir, ec_key).unwrap(), SPARES);
        assert_eq!(top_up(&dir, ec_key).unwrap(), 0, "already full");
        let claimed: Vec<String> = (0..SPARES).map(|_| claim(&dir, any_key).expect("a spare")).collect();
        let mut distinct = claimed.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), SPARES, "every spare is different");
        assert_eq!(claim(&dir, any_key), None, "each spare is given once");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing is left behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn concurrent_claims_never_share_a_spare() {
        let dir = Arc::new(scratch("race"));
        top_up(&dir, ec_key).unwrap();
        let won = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (dir, won) = (dir.clone(), won.clone());
                std::thread::spawn(move || {
                    if claim(&dir, any_key).is_some() {
                        won.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(won.load(Ordering::SeqCst), SPARES);
        fs::remove_dir_all(&*dir).unwrap();
    }

    #[test]
    fn a_damaged_spare_is_discarded() {
        let dir = scratch("damaged");
        fs::write(dir.join(format!("{PREFIX}0{SUFFIX}")), "not a key").unwrap();
        assert_eq!(claim(&dir, any_key), None);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }
}
