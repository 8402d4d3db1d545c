//! The model being served and how it changes: loaded once from `--model FILE`, or followed in a
//! model directory, where `current.json` is polled and a new version is loaded, checked and
//! swapped in whole. Takes the source; gives the current model as an `Arc` that a request
//! keeps until it has answered, so a promotion never changes a model under a request.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use super::parse::{Layout, EVENTS};
use crate::model::Model;
use crate::registry::{version_name, ModelDir};

/// Where the model comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// One model file, served until the process ends.
    File(PathBuf),
    /// A model directory: its `current.json`, followed as `retrain` and `models promote`
    /// switch it.
    Dir(PathBuf),
}

/// A model with the name every response gives it.
#[derive(Debug)]
pub struct Loaded {
    pub model: Model,
    /// As `mqlcal models list` names versions: `<newest lead date>-<12 hex digits>`.
    pub version: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Where each key of a request's lead goes for this model, worked out once per model.
    pub layout: Layout,
}

impl Loaded {
    pub fn new(model: Model, version: String, path: PathBuf) -> Loaded {
        Loaded {
            layout: Layout::new(&model),
            model,
            version,
            path,
        }
    }
}

/// The current model. A plain `RwLock<Arc<_>>` rather than a lock-free cell (arc-swap): the
/// lock is held only to clone or replace the `Arc`, a few nanoseconds, so readers never wait
/// on a load (loading happens outside the lock).
#[derive(Debug, Default)]
pub struct Current(RwLock<Option<Arc<Loaded>>>);

impl Current {
    pub fn get(&self) -> Option<Arc<Loaded>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts `loaded` in place of the current model (requests holding the old one keep it).
    pub fn replace(&self, loaded: Loaded) -> Option<Arc<Loaded>> {
        self.set(Arc::new(loaded))
    }

    fn set(&self, loaded: Arc<Loaded>) -> Option<Arc<Loaded>> {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .replace(loaded)
    }
}

/// The model, unless it has event rules and also reads a column named `events` (as a rule's
/// column or its id), which a lead's key `events` (its activity) would then shadow: refused
/// naming the column, the old model serving on.
fn servable(model: Model, path: &Path) -> Result<Model, String> {
    let has_events = model.rules.iter().any(|r| r.event.is_some());
    let reads_events =
        model.columns().contains(&EVENTS) || model.id_column.as_deref() == Some(EVENTS);
    if has_events && reads_events {
        return Err(format!(
            "{}: the model has event rules, whose events a request sends in each lead's key \
             '{EVENTS}', and also reads a column named '{EVENTS}'; rename that column in the \
             data and the rules file, and train again",
            path.display()
        ));
    }
    Ok(model)
}

/// Loads a model file; the version is its content's name, as the model directory would give it.
pub fn load_file(path: &Path) -> Result<Loaded, String> {
    let model = servable(Model::load(path).map_err(|e| e.to_string())?, path)?;
    let version = version_name(&model);
    Ok(Loaded::new(model, version, path.to_path_buf()))
}

/// What identifies the content `current.json` points at, read without opening the model: the
/// link's target (a promotion changes it) and the file's inode, size and modification time (a
/// copy replaced by rename, or an edit in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    target: Option<PathBuf>,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    /// `None` when there is no `current.json` (yet).
    pub fn read(current: &Path) -> std::io::Result<Option<Stamp>> {
        let target = match std::fs::symlink_metadata(current) {
            Ok(m) if m.file_type().is_symlink() => Some(std::fs::read_link(current)?),
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = match std::fs::metadata(current) {
            Ok(m) => m,
            // A link to a version that is not there: a broken pointer, reported by the load.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Some(Stamp {
                    target,
                    inode: 0,
                    len: 0,
                    modified: None,
                }))
            }
            Err(e) => return Err(e),
        };
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(Some(Stamp {
            target,
            inode,
            len: meta.len(),
            modified: meta.modified().ok(),
        }))
    }
}

/// Loads what `current.json` of `dir` points at. With a link, the version file it names is
/// read (not the link again), so name and content agree even if a promotion lands meanwhile.
pub fn load_current(dir: &ModelDir, stamp: &Stamp) -> Result<Loaded, String> {
    let current = dir.current_path();
    match &stamp.target {
        Some(target) => {
            let path = if target.is_absolute() {
                target.clone()
            } else {
                dir.root().join(target)
            };
            let model = servable(Model::load(&path).map_err(|e| e.to_string())?, &path)?;
            let version = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
                .unwrap_or_else(|| version_name(&model));
            Ok(Loaded::new(model, version, path))
        }
        None => load_file(&current),
    }
}

/// Follows `current.json` of a model directory: every `every`, a changed stamp means a load;
/// a model that loads and checks is swapped in, one that does not is logged once and the old
/// one keeps serving. Runs on its own thread until the process ends.
pub struct Follower {
    pub dir: ModelDir,
    pub current: Arc<Current>,
    pub metrics: Arc<super::metrics::Metrics>,
    pub every: Duration,
    /// The stamp last acted on (loaded or failed), so a broken file is reported once.
    pub seen: Option<Stamp>,
}

impl Follower {
    /// One look at `current.json`; true when a new model was swapped in.
    pub fn poll(&mut self) -> bool {
        let path = self.dir.current_path();
        let stamp = match Stamp::read(&path) {
            Ok(Some(s)) => s,
            Ok(None) => return false,
            Err(e) => {
                if self.seen.is_some() {
                    tracing::warn!("cannot read {}: {e}; keeping the model", path.display());
                }
                return false;
            }
        };
        if self.seen.as_ref() == Some(&stamp) {
            return false;
        }
        self.seen = Some(stamp.clone());
        let old = self.current.get();
        match load_current(&self.dir, &stamp) {
            Ok(new) if old.as_ref().is_some_and(|o| o.version == new.version) => false,
            Ok(new) => {
                let version = new.version.clone();
                self.current.set(Arc::new(new));
                self.metrics.reloaded(true);
                match old {
                    Some(old) => tracing::info!("now serving {version} (was {})", old.version),
                    None => tracing::info!("now serving {version}"),
                }
                true
            }
            Err(e) => {
                self.metrics.reloaded(false);
                let keeping = old.map_or("no model yet".to_string(), |o| {
                    format!("still serving {}", o.version)
                });
                tracing::error!(
                    "{} changed but the model it points at does not load ({keeping}): {e}",
                    path.display()
                );
                false
            }
        }
    }

    pub fn spawn(mut self) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("mqlcal-follow".into())
            .spawn(move || loop {
                std::thread::sleep(self.every);
                self.poll();
            })
            .map(|_| ())
    }
}
