//! One command's hold on an output root: its lock, taken before the tree
//! is read and held until after it is written; a write an earlier run left
//! unfinished, settled first; and the comparison of every generated file
//! with the tree. The command line and the benchmark both go through here.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::diff::{self, Changes};
use crate::manifest::Manifest;
use crate::write::{self, Lock, LockBusy, LockUnsafe};
use crate::{Loaded, generate_compared};

#[derive(Debug)]
pub struct Session {
    lock: Option<Lock>,
    /// The root, when this session created it.
    created_root: Option<PathBuf>,
    /// Whether opening settled a write an earlier run left unfinished.
    pub settled: bool,
}

/// What the generated files would change in the tree.
#[derive(Debug)]
pub struct Compared {
    pub changes: Changes,
    /// The record of this render, compared last.
    pub manifest: Manifest,
}

impl Session {
    /// Takes the output root's lock and settles an unfinished write. A
    /// command that `writes` creates the root; one that only reads locks when
    /// it can, so it never sees a write half-way, and never creates the root.
    pub fn open(root: &Path, command: &str, writes: bool) -> Result<Session> {
        // A committed link would move every read, lock and write elsewhere.
        if let Ok(target) = std::fs::read_link(root) {
            bail!(
                "the output root {} is a symbolic link to {}; tenantgen works only in a real directory, so a link cannot move its output elsewhere. To use that directory, pass --out {}",
                root.display(),
                target.display(),
                root.parent()
                    .unwrap_or(Path::new(""))
                    .join(&target)
                    .display()
            );
        }
        if root.exists() && !root.is_dir() {
            bail!(
                "the output root {} is not a directory; point --out or `out` at a directory",
                root.display()
            );
        }
        let mut session = Session {
            lock: None,
            created_root: None,
            settled: false,
        };
        if writes {
            if !root.exists() {
                session.created_root = Some(root.to_path_buf());
            }
            std::fs::create_dir_all(root).with_context(|| {
                format!(
                    "cannot create the output root {}; check its parent's permissions",
                    root.display()
                )
            })?;
        } else if !root.exists() {
            return Ok(session);
        }
        session.lock = match Lock::acquire(root, command) {
            Ok(lock) => Some(lock),
            Err(err) if writes || err.is::<LockBusy>() || err.is::<LockUnsafe>() => {
                return Err(err);
            }
            // A read-only checkout cannot hold a lock file; reading is still safe enough.
            Err(_) => None,
        };
        // Even a dangling symlink there is a journal to settle (or refuse).
        if !writes && root.join(write::JOURNAL).symlink_metadata().is_ok() {
            bail!(
                "an interrupted `tenantgen render` left {} unfinished ({} exists); run `tenantgen render` to settle it first",
                root.display(),
                write::JOURNAL
            );
        }
        if writes {
            // Also clears what a run killed before its journal was in place left.
            session.settled = write::recover(root)?;
        }
        Ok(session)
    }

    /// Generates every file for `loaded` and compares it with the tree.
    /// Paths in the way of generated files (hand-written files, symlinks)
    /// are an error: tenantgen never touches them, whatever the flags.
    pub fn compare(&self, loaded: &mut Loaded, templates_dir: Option<&Path>) -> Result<Compared> {
        // The record was read once, at load; planning has what it needs from it.
        let previous = loaded.previous.take();
        let mut comparison = diff::Comparison::start(&loaded.out_root, previous)?;
        let manifest = generate_compared(loaded, templates_dir, &mut comparison)?;
        let changes = comparison.finish()?;
        if !changes.conflicts.is_empty() {
            let paths: Vec<String> = changes
                .conflicts
                .iter()
                .map(|path| format!("  {}/{path}", loaded.out_root.display()))
                .collect();
            bail!(
                "these paths are in the way of generated files and tenantgen will not touch them:\n{}\nhint: move or rename them (tenantgen never overwrites hand-written files or writes through symlinks)",
                paths.join("\n")
            );
        }
        Ok(Compared { changes, manifest })
    }
}

impl Drop for Session {
    /// A run that wrote nothing leaves no empty root behind; `remove_dir`
    /// removes only an empty directory, so written output stays.
    fn drop(&mut self) {
        drop(self.lock.take());
        if let Some(root) = &self.created_root {
            let _ = std::fs::remove_dir(root);
        }
    }
}
