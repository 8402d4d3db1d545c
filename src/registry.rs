//! The model directory: every model version kept, and a pointer to the current one. Takes model
//! files; gives version names, the list of versions and the current version.
//!
//! Layout of a directory `models/`:
//! - `versions/<newest lead date>-<hash>.json`: one file per version, named by the SHA-256 of
//!   its bytes (first 12 hex digits) after a readable prefix, the date of the newest training
//!   lead (`undated` when training had no date column) — never the wall clock, so the same
//!   model always gets the same name.
//! - `current.json`: a symbolic link to the current version (a copy on systems without
//!   symbolic links), so `--model models/current.json` always loads the current model.
//! - `comparisons/<challenger>-vs-<champion>/`: what `mqlcal retrain` compared.
//! - `.lock`: held by the run that writes; it names that run.
//!
//! Files are only ever added: a version file is written to a temporary file and renamed to a
//! name no other content can have, and the pointer is replaced by renaming a new link over it,
//! which is atomic. A crash at any point leaves the previous `current.json` valid; at worst a
//! dot-file temporary is left behind, which listing ignores.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::Model;

/// Folder of the version files.
pub const VERSIONS: &str = "versions";
/// The pointer to the current version.
pub const CURRENT: &str = "current.json";
/// Folder of the retrain comparisons.
pub const COMPARISONS: &str = "comparisons";
const LOCK: &str = ".lock";

/// The environment variable of the fault hook (see [`fault_point`]).
pub const FAULT_ENV: &str = "MQLCAL_FAULT";

/// A test hook for crash safety: when `MQLCAL_FAULT` names `step`, the process aborts there
/// (no destructors run, as in a crash or a kill); `step:hang` makes it wait there instead
/// (holding whatever it holds, e.g. the lock) until it is killed. Unset, it does nothing.
pub fn fault_point(step: &str) {
    let Ok(fault) = std::env::var(FAULT_ENV) else {
        return;
    };
    if fault == step {
        eprintln!("mqlcal: {FAULT_ENV}={fault}: aborting at '{step}'");
        std::process::abort();
    }
    if fault.strip_suffix(":hang") == Some(step) {
        eprintln!("mqlcal: {FAULT_ENV}={fault}: waiting at '{step}' until killed");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// The version name of a model: `<newest lead date or "undated">-<12 hex digits of SHA-256>`.
pub fn version_name(model: &Model) -> String {
    let prefix = model.training.newest_lead.as_deref().unwrap_or("undated");
    let hash = Sha256::digest(model.to_json().as_bytes());
    format!("{prefix}-{}", &crate::data::hex(&hash)[..12])
}

/// One version in the directory; `model` is the error message if the file does not load.
#[derive(Debug)]
pub struct Version {
    pub name: String,
    pub path: PathBuf,
    pub model: std::result::Result<Model, String>,
}

/// The lock on a model directory; released when dropped (also when the process dies, since the
/// operating system releases the locks of a closed file).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// A model directory (see the module docs for its layout).
#[derive(Debug, Clone)]
pub struct ModelDir {
    root: PathBuf,
}

impl ModelDir {
    /// Opens a model directory that exists.
    pub fn open(root: &Path) -> Result<ModelDir> {
        if !root.join(VERSIONS).is_dir() {
            return Err(Error::Data {
                path: root.to_path_buf(),
                message: format!(
                    "is not a model directory (no {VERSIONS}/ folder); `mqlcal retrain --out` \
                     creates one"
                ),
            });
        }
        Ok(ModelDir {
            root: root.to_path_buf(),
        })
    }

    /// Opens a model directory, creating it (and its `versions/`) if needed.
    pub fn create(root: &Path) -> Result<ModelDir> {
        let versions = root.join(VERSIONS);
        std::fs::create_dir_all(&versions).map_err(|e| Error::io(&versions, e))?;
        Ok(ModelDir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn version_path(&self, name: &str) -> PathBuf {
        self.root.join(VERSIONS).join(format!("{name}.json"))
    }

    pub fn current_path(&self) -> PathBuf {
        self.root.join(CURRENT)
    }

    pub fn comparisons(&self) -> PathBuf {
        self.root.join(COMPARISONS)
    }

    /// Takes the directory's lock for a run that writes, or says who holds it. `what` describes
    /// this run to whoever is turned away.
    pub fn lock(&self, what: &str) -> Result<DirLock> {
        let path = self.root.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path: self.root.clone(),
                    holder: if holder.is_empty() {
                        "a run that is just starting".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // Who holds the lock, for the message above; the lock itself is the OS lock, so a run
        // that died leaves no stale lock whatever this text says.
        let note = format!("pid {}: {what}\n", std::process::id());
        let written = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(note.as_bytes()));
        written.map_err(|e| Error::io(&path, e))?;
        Ok(DirLock { _file: file })
    }

    /// Every version, oldest first by name (the date prefix, then the hash).
    pub fn versions(&self) -> Result<Vec<Version>> {
        let dir = self.root.join(VERSIONS);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let file_name = entry.file_name().to_string_lossy().into_owned();
            // Dot-files are temporaries of a write that did not finish.
            let Some(name) = file_name.strip_suffix(".json") else {
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let model = Model::load(&path).map_err(|e| e.to_string());
            out.push(Version {
                name: name.to_string(),
                path,
                model,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The current version's name, or `None` before any version was made current.
    pub fn current(&self) -> Result<Option<String>> {
        let path = self.current_path();
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
            let name = target
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .ok_or_else(|| Error::Data {
                    path: path.clone(),
                    message: format!("points at {}, not a version file", target.display()),
                })?;
            return Ok(Some(name.to_string()));
        }
        // A copy (systems without symbolic links): its name is its content.
        Ok(Some(version_name(&Model::load(&path)?)))
    }

    /// Adds `model` as a version (under the lock); returns its name and whether it is new. A
    /// version that is already there is left as it is (same name, same bytes).
    pub fn add(&self, model: &Model, _lock: &DirLock) -> Result<(String, bool)> {
        let name = version_name(model);
        let path = self.version_path(&name);
        let bytes = model.to_json();
        if path.exists() {
            let old = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            if old != bytes.as_bytes() {
                return Err(Error::Data {
                    path,
                    message: "holds other content than its name says (edited by hand?); it is \
                              left as it is: move it aside and run again"
                        .into(),
                });
            }
            return Ok((name, false));
        }
        let dir = self.root.join(VERSIONS);
        let mut tmp = tempfile::Builder::new()
            .prefix(".mqlcal-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        tmp.write_all(bytes.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| Error::io(&path, e))?;
        fault_point("before-rename-version");
        tmp.persist_noclobber(&path)
            .map_err(|e| Error::io(&path, e.error))?;
        sync_dir(&dir);
        Ok((name, true))
    }

    /// Makes version `name` current (under the lock): a new link is made beside the pointer
    /// and renamed over it, so readers see the old or the new pointer, never neither.
    pub fn set_current(&self, name: &str, _lock: &DirLock) -> Result<()> {
        let version = self.version_path(name);
        Model::load(&version)?;
        let tmp = self
            .root
            .join(format!(".{CURRENT}.{}.tmp", std::process::id()));
        // Only a run holding the lock makes these, and a pid is not reused while it runs: a
        // leftover of that name is from a crashed run.
        let _ = std::fs::remove_file(&tmp);
        #[cfg(unix)]
        std::os::unix::fs::symlink(Path::new(VERSIONS).join(format!("{name}.json")), &tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        #[cfg(not(unix))]
        std::fs::copy(&version, &tmp).map_err(|e| Error::io(&tmp, e))?;
        fault_point("before-rename-current");
        let current = self.current_path();
        std::fs::rename(&tmp, &current).map_err(|e| Error::io(&current, e))?;
        sync_dir(&self.root);
        Ok(())
    }

    /// The version named by `query`: its full name (with or without `.json`), or a prefix of
    /// the name or of its hash that only one version has.
    pub fn resolve(&self, query: &str) -> Result<String> {
        let query = query.strip_suffix(".json").unwrap_or(query);
        let names: Vec<String> = self.versions()?.into_iter().map(|v| v.name).collect();
        if names.iter().any(|n| n == query) {
            return Ok(query.to_string());
        }
        let matches: Vec<&String> = names
            .iter()
            .filter(|n| {
                n.starts_with(query)
                    || n.rsplit_once('-')
                        .is_some_and(|(_, hash)| !query.is_empty() && hash.starts_with(query))
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::Data {
                path: self.root.clone(),
                message: format!(
                    "no version '{query}'; `mqlcal models list --dir {}` shows them",
                    self.root.display()
                ),
            }),
            many => Err(Error::Data {
                path: self.root.clone(),
                message: format!(
                    "'{query}' matches {} versions ({}); give more of the name",
                    many.len(),
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
}

/// Flushes a directory's entries (a rename is only durable across power loss once its
/// directory is synced). Best effort: some systems cannot open a directory for this.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::from_json(include_str!("../models/lead-model.json")).unwrap()
    }

    #[test]
    fn versions_are_named_by_content_and_added_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ModelDir::create(tmp.path()).unwrap();
        let lock = dir.lock("test").unwrap();
        let m = model();
        let (name, new) = dir.add(&m, &lock).unwrap();
        assert!(new);
        assert!(name.starts_with("undated-") && name.len() == "undated-".len() + 12);
        assert_eq!(dir.add(&m, &lock).unwrap(), (name.clone(), false));
        let mut other = m.clone();
        other.training.newest_lead = Some("2026-11-30".into());
        let (other_name, _) = dir.add(&other, &lock).unwrap();
        assert!(other_name.starts_with("2026-11-30-"));
        assert_eq!(dir.current().unwrap(), None);
        dir.set_current(&name, &lock).unwrap();
        assert_eq!(dir.current().unwrap(), Some(name.clone()));
        dir.set_current(&other_name, &lock).unwrap();
        assert_eq!(dir.current().unwrap(), Some(other_name.clone()));
        assert_eq!(Model::load(&dir.current_path()).unwrap(), other);
        assert_eq!(dir.resolve("2026").unwrap(), other_name);
        assert_eq!(dir.resolve(&format!("{name}.json")).unwrap(), name);
        assert!(dir.resolve("nope").is_err());
        assert_eq!(dir.versions().unwrap().len(), 2);
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ModelDir::create(tmp.path()).unwrap();
        let _held = dir.lock("retrain of the first kind").unwrap();
        match dir.lock("second") {
            Err(Error::Locked { holder, .. }) => {
                assert!(holder.contains("retrain of the first kind"), "{holder}");
                assert!(holder.contains(&std::process::id().to_string()));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
    }
}
