//! Stage 6: compare the generated files with the output tree.
//!
//! `render`, `diff` and `check` share everything up to here; only `render`
//! goes on to write.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::confine;
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
        if let Some(problem) = confine::problem(out_root, &file.path) {
            conflicts.push(format!("{} ({problem})", file.path));
            continue;
        }
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

/// What `check --offline` finds wrong with a tree, judged by file headers
/// and the render record alone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OfflineProblem {
    pub path: String,
    pub problem: OfflineKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OfflineKind {
    /// Recorded by the last render but not on disk.
    Missing,
    /// A generated file the last render did not produce.
    NotRecorded,
    /// The body no longer matches the hash in its header.
    HandEdited,
    /// Intact, but not the file the last render wrote.
    DiffersFromRecord,
}

impl OfflineKind {
    pub fn describe(self) -> &'static str {
        match self {
            OfflineKind::Missing => "missing: the last render wrote it",
            OfflineKind::NotRecorded => "not produced by the last render",
            OfflineKind::HandEdited => "edited by hand: its body does not match its header's hash",
            OfflineKind::DiffersFromRecord => "not the file the last render wrote",
        }
    }
}

/// Checks `out_root` against its render record without reading the users
/// source: every recorded file present and intact, nothing extra.
pub fn verify_offline(out_root: &Path) -> Result<Vec<OfflineProblem>> {
    let mut on_disk = scan(out_root)?;
    let record = on_disk.remove(manifest::PATH).ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no render record ({}); run `tenantgen render` (and commit the record) before checking offline",
            out_root.display(),
            manifest::PATH
        )
    })?;
    let record = Manifest::parse(&record).ok_or_else(|| {
        anyhow::anyhow!(
            "{} is not a render record this tenantgen understands; run `tenantgen render` to rewrite it",
            out_root.join(manifest::PATH).display()
        )
    })?;
    let mut problems = Vec::new();
    for (path, recorded_hash) in &record.files {
        let problem = match on_disk.remove(path.as_str()) {
            None => Some(OfflineKind::Missing),
            Some(contents) => match header::split(&contents) {
                _ if header::inspect(&contents) != (Ownership::Generated { intact: true }) => {
                    Some(OfflineKind::HandEdited)
                }
                Some((hash, _)) if hash != recorded_hash => Some(OfflineKind::DiffersFromRecord),
                _ => None,
            },
        };
        if let Some(problem) = problem {
            problems.push(OfflineProblem {
                path: path.clone(),
                problem,
            });
        }
    }
    for (path, contents) in on_disk {
        if let Ownership::Generated { .. } = header::inspect(&contents) {
            problems.push(OfflineProblem {
                path,
                problem: OfflineKind::NotRecorded,
            });
        }
    }
    problems.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(problems)
}
