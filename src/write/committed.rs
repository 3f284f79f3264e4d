//! A write that failed after its commit point. Every file and the render
//! record are already the new ones, so rolling back would mix the two
//! trees: the committed journal stays, and the next `render` finishes
//! removing the old copies (`recover` rolls forward).

use std::path::{Path, PathBuf};

/// The error of a committed write whose cleanup failed.
#[derive(Debug)]
pub struct Unfinished {
    root: PathBuf,
    cause: String,
}

impl Unfinished {
    pub(super) fn new(root: &Path, cause: anyhow::Error) -> Unfinished {
        Unfinished {
            root: root.to_path_buf(),
            cause: format!("{cause:#}"),
        }
    }
}

impl std::fmt::Display for Unfinished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let root = self.root.display();
        write!(
            f,
            "the write was committed: every generated file and the render record in {root} are the new ones, but removing the old copies failed ({}); the journal {root}/{} stays: fix the cause (disk, permissions), then run `tenantgen render`, which finishes the cleanup first",
            self.cause,
            super::JOURNAL
        )
    }
}

impl std::error::Error for Unfinished {}
