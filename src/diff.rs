//! Stage 6: compare the generated files with the output tree.
//!
//! `render`, `diff` and `check` share everything up to here; only `render`
//! goes on to write.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::header::{self, Ownership};
use crate::manifest::{self, Manifest};
use crate::verify::GeneratedFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Added,
    Modified,
    /// A generated file that is no longer produced (a user was removed).
    Deleted,
    Unchanged,
}

#[derive(Debug, Clone)]
pub struct FileChange {
    /// Relative to the output root, `/`-separated.
    pub path: String,
    pub status: Status,
    pub old: Option<String>,
    pub new: Option<String>,
    /// The file on disk is generated but its body no longer matches its hash.
    pub hand_edited: bool,
}

/// Everything that differs between the generated files and the tree.
#[derive(Debug, Clone)]
pub struct Changes {
    /// Sorted by path, the render record last; includes unchanged files.
    pub files: Vec<FileChange>,
    /// Hand-written files at paths tenantgen wants to generate.
    pub conflicts: Vec<String>,
    /// The record of the previous render, when there is one.
    pub previous: Option<Manifest>,
}

impl Changes {
    pub fn changed(&self) -> impl Iterator<Item = &FileChange> {
        self.files
            .iter()
            .filter(|file| file.status != Status::Unchanged)
    }

    pub fn has_changes(&self) -> bool {
        self.changed().next().is_some()
    }

    pub fn hand_edited(&self) -> impl Iterator<Item = &FileChange> {
        self.files.iter().filter(|file| file.hand_edited)
    }
}

/// Directories never searched for generated files: tool caches and VCS data.
const SKIPPED_DIRS: [&str; 3] = [".terraform", ".terragrunt-cache", ".git"];

/// Compares `generated` with what is under `out_root`.
pub fn compare(out_root: &Path, generated: &[GeneratedFile]) -> Result<Changes> {
    let mut on_disk = scan(out_root)?;
    let previous = on_disk
        .get(manifest::PATH)
        .and_then(|text| Manifest::parse(text));
    let mut conflicts = Vec::new();
    let mut files = Vec::with_capacity(generated.len());

    for file in generated {
        let Some(old) = on_disk.remove(&file.path) else {
            // Something that is not a regular file (a directory, a symlink) is in the way.
            if out_root.join(&file.path).symlink_metadata().is_ok() {
                conflicts.push(format!("{} (not a regular file)", file.path));
                continue;
            }
            files.push(FileChange {
                path: file.path.clone(),
                status: Status::Added,
                old: None,
                new: Some(file.contents.clone()),
                hand_edited: false,
            });
            continue;
        };
        let hand_edited = match ownership(&file.path, &old) {
            Ownership::HandWritten => {
                conflicts.push(file.path.clone());
                continue;
            }
            Ownership::Generated { intact } => !intact,
        };
        let unchanged = old == file.contents
            || (file.path == manifest::PATH && Manifest::same_render(&old, &file.contents));
        let (status, new) = if unchanged {
            (Status::Unchanged, old.clone())
        } else {
            (Status::Modified, file.contents.clone())
        };
        files.push(FileChange {
            path: file.path.clone(),
            status,
            old: Some(old),
            new: Some(new),
            hand_edited,
        });
    }

    // What is left on disk and carries our header is no longer produced.
    for (path, contents) in on_disk {
        let Ownership::Generated { intact } = ownership(&path, &contents) else {
            continue;
        };
        files.push(FileChange {
            path,
            status: Status::Deleted,
            old: Some(contents),
            new: None,
            hand_edited: !intact,
        });
    }
    // The render record reads best after the files it describes.
    files.sort_by(|a, b| {
        (a.path == manifest::PATH, &a.path).cmp(&(b.path == manifest::PATH, &b.path))
    });
    Ok(Changes {
        files,
        conflicts,
        previous,
    })
}

fn ownership(path: &str, contents: &str) -> Ownership {
    if path == manifest::PATH {
        if Manifest::is_ours(contents) {
            Ownership::Generated { intact: true }
        } else {
            Ownership::HandWritten
        }
    } else {
        header::inspect(contents)
    }
}

/// Every `.tf` file and the render record under `out_root`, by relative path.
fn scan(out_root: &Path) -> Result<BTreeMap<String, String>> {
    let mut found = BTreeMap::new();
    if !out_root.exists() {
        return Ok(found);
    }
    let walker = walkdir::WalkDir::new(out_root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !entry.file_type().is_dir()
                || !SKIPPED_DIRS.contains(&entry.file_name().to_string_lossy().as_ref())
        });
    for entry in walker {
        let entry = entry.with_context(|| {
            format!(
                "cannot read the output tree {}; check its permissions",
                out_root.display()
            )
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(out_root).unwrap_or(entry.path());
        let path = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if !(path.ends_with(".tf") || path == manifest::PATH) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).with_context(|| {
            format!(
                "cannot read {}; check its permissions",
                entry.path().display()
            )
        })?;
        found.insert(path, String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(found)
}
