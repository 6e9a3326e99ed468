//! Files the server keeps between runs (the dev CA, signing keys), created once and reused.
//!
//! Several servers may start at once on a fresh certs directory (parallel CI jobs). Each writes
//! its candidate to a private temporary file and publishes it with a hard link, which fails if
//! the name already exists; the losers read the winner's file. So every process ends up with
//! the same key and certificate.

use std::fs;
use std::io::{self, ErrorKind};
use std::path::Path;

/// Reads `path`, or creates it with `make()` if it does not exist.
pub fn load_or_create(path: &Path, make: impl FnOnce() -> io::Result<String>) -> io::Result<String> {
    match fs::read_to_string(path) {
        Ok(existing) if !existing.trim().is_empty() => return Ok(existing),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let content = make()?;
    let tmp = path.with_extension(format!("tmp-{}-{}", std::process::id(), rand::random::<u32>()));
    fs::write(&tmp, &content)?;
    restrict_permissions(&tmp, path)?;
    let published = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match published {
        Ok(()) => Ok(content),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => fs::read_to_string(path),
        Err(e) => Err(e),
    }
}

/// Private keys are readable by their owner only.
fn restrict_permissions(tmp: &Path, final_path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if final_path.to_string_lossy().ends_with("key.pem") {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tmp, fs::Permissions::from_mode(0o600))?;
    }
    let _ = (tmp, final_path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_writer_wins_and_everyone_reads_it() {
        let dir = std::env::temp_dir().join(format!("ms-files-{}", rand::random::<u64>()));
        let path = dir.join("thing.pem");
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || load_or_create(&path, || Ok(format!("made by {i}"))).unwrap())
            })
            .collect();
        let seen: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let on_disk = fs::read_to_string(&path).unwrap();
        assert!(seen.iter().all(|s| *s == on_disk), "{seen:?} vs {on_disk}");
        fs::remove_dir_all(dir).unwrap();
    }
}
