//! Stage 7: put the changes on disk.
//!
//! Only files tenantgen generated are ever replaced or deleted (the diff
//! stage refuses everything else), each file is replaced by a rename so a
//! reader never sees half a file, and no path can leave the output root.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::diff::{Changes, Status};

/// Applies every added, modified and deleted file of `changes` under `out_root`.
pub fn apply(out_root: &Path, changes: &Changes) -> Result<()> {
    for change in changes.changed() {
        let target = confined(out_root, &change.path)?;
        match (change.status, &change.new) {
            (Status::Added | Status::Modified, Some(contents)) => replace(&target, contents)?,
            (Status::Deleted, _) => {
                std::fs::remove_file(&target).with_context(|| {
                    format!("cannot delete stale generated file {}", target.display())
                })?;
                remove_empty_parents(out_root, &target);
            }
            _ => {}
        }
    }
    Ok(())
}

/// `relative` under `out_root`, refusing anything that could point elsewhere.
fn confined(out_root: &Path, relative: &str) -> Result<PathBuf> {
    let path = Path::new(relative);
    if relative.is_empty()
        || !path
            .components()
            .all(|part| matches!(part, Component::Normal(_)))
    {
        bail!(
            "refusing to write {relative:?}: generated paths must stay inside the output root; this is a tenantgen bug"
        );
    }
    Ok(out_root.join(path))
}

fn replace(target: &Path, contents: &str) -> Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| {
        format!(
            "cannot create directory {}; check permissions of the output root",
            parent.display()
        )
    })?;
    let file_name = target
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let staging = parent.join(format!(".{file_name}.tenantgen-tmp"));
    std::fs::write(&staging, contents).with_context(|| {
        format!(
            "cannot write {}; check free space and permissions",
            staging.display()
        )
    })?;
    std::fs::rename(&staging, target).with_context(|| {
        let _ = std::fs::remove_file(&staging);
        format!("cannot replace {}; check permissions", target.display())
    })
}

/// Removes directories emptied by deletions, up to (not including) the root.
fn remove_empty_parents(out_root: &Path, deleted: &Path) {
    let mut dir = deleted.parent();
    while let Some(current) = dir {
        if current == out_root
            || !current.starts_with(out_root)
            || std::fs::remove_dir(current).is_err()
        {
            break;
        }
        dir = current.parent();
    }
}
