//! Writing outputs whole or not at all: into a temporary file beside the target, then a rename.
//! A crash or an error mid-write leaves no half-written file, and an existing file is only
//! replaced when the caller says so (`--force`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Fails early, before any work, when `path` exists and may not be replaced.
pub fn check_writable(path: &Path, force: bool) -> Result<()> {
    if !force && path.exists() {
        return Err(Error::Exists {
            path: path.to_path_buf(),
        });
    }
    let dir = parent(path);
    if !dir.is_dir() {
        return Err(Error::NoDirectory {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Runs `write` on a temporary file in `path`'s directory, then renames it to `path`.
pub fn write_with<F>(path: &Path, force: bool, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<&File>) -> Result<()>,
{
    check_writable(path, force)?;
    let dir = parent(path);
    let tmp = tempfile::Builder::new()
        .prefix(".mqlcal-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    {
        let mut out = BufWriter::new(tmp.as_file());
        write(&mut out)?;
        out.flush().map_err(|e| Error::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    let persisted = if force {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Exists {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path, e.error)
        }
    })?;
    Ok(())
}

/// Writes `bytes` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    write_with(path, force, |out| {
        out.write_all(bytes).map_err(|e| Error::io(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_and_leaves_no_temporary_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        write_bytes(&path, b"first", false).unwrap();
        assert!(matches!(
            write_bytes(&path, b"second", false),
            Err(Error::Exists { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let failed = write_with(&dir.path().join("other.json"), false, |_| {
            Err(Error::Fit("boom".into()))
        });
        assert!(failed.is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "only out.json remains");
        write_bytes(&path, b"second", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
    }
}
