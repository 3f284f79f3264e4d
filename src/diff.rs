//! Stage 6: compare the generated files with the output tree.
//!
//! `render`, `diff` and `check` share everything up to here; only `render`
//! goes on to write.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

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
    /// Sorted by path, the render record last; includes unchanged files,
    /// whose contents are dropped.
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

/// What a path in the output tree is, without following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File,
    Dir,
    Symlink,
    Other,
}

/// Compares `generated` with what is under `out_root`.
pub fn compare(out_root: &Path, generated: Vec<GeneratedFile>) -> Result<Changes> {
    let mut comparison = Comparison::start(out_root, previous_record(out_root)?)?;
    for file in generated {
        comparison.add(file)?;
    }
    comparison.finish()
}

/// One generated file judged against the tree ([`Comparison::judge`]).
pub struct Judged {
    file: GeneratedFile,
    verdict: Verdict,
}

enum Verdict {
    Conflict(String),
    Added,
    Unchanged,
    Modified { old: String, hand_edited: bool },
}

/// A comparison fed one generated file at a time: a file that did not
/// change is dropped as soon as it is compared, so memory holds only what
/// differs.
pub struct Comparison<'a> {
    out_root: &'a Path,
    /// What the tree held and no generated file has claimed yet.
    listing: HashMap<String, Entry>,
    previous: Option<Manifest>,
    conflicts: Vec<String>,
    files: Vec<FileChange>,
}

impl<'a> Comparison<'a> {
    /// Lists the tree under `out_root`; `previous` is its render record
    /// ([`previous_record`]).
    pub fn start(out_root: &'a Path, previous: Option<Manifest>) -> Result<Comparison<'a>> {
        Ok(Comparison {
            out_root,
            listing: list(out_root)?,
            previous,
            conflicts: Vec::new(),
            files: Vec::new(),
        })
    }

    /// Compares one generated file with the tree.
    pub fn add(&mut self, file: GeneratedFile) -> Result<()> {
        let judged = self.judge(file)?;
        self.record(judged);
        Ok(())
    }

    /// Compares one generated file with the tree without changing the
    /// comparison, so several threads can judge files at once; the verdicts
    /// are then [`record`](Self::record)ed one by one.
    pub fn judge(&self, file: GeneratedFile) -> Result<Judged> {
        let problem = path_problem(self.out_root, &self.listing, &file.path);
        let verdict = if let Some(problem) = problem {
            Verdict::Conflict(format!("{} ({problem})", file.path))
        } else {
            match self.listing.get(&file.path) {
                None => Verdict::Added,
                Some(Entry::File) => {
                    let old = read_text(self.out_root, &file.path)?;
                    let unchanged = old == file.contents
                        || (file.path == manifest::PATH
                            && Manifest::same_render(&old, &file.contents));
                    if unchanged {
                        Verdict::Unchanged
                    } else {
                        match ownership(&file.path, &old) {
                            Ownership::HandWritten => Verdict::Conflict(file.path.clone()),
                            Ownership::Generated { intact } => Verdict::Modified {
                                old,
                                hand_edited: !intact,
                            },
                        }
                    }
                }
                Some(_) => Verdict::Conflict(format!(
                    "{} (a directory or special file is in the way)",
                    file.path
                )),
            }
        };
        Ok(Judged {
            // An unchanged file's text is dropped here, by the thread that made it.
            file: match verdict {
                Verdict::Unchanged => GeneratedFile {
                    path: file.path,
                    contents: String::new(),
                },
                _ => file,
            },
            verdict,
        })
    }

    /// Takes in a verdict from [`judge`](Self::judge).
    pub fn record(&mut self, judged: Judged) {
        let Judged { file, verdict } = judged;
        // Claimed, or reported as in the way: either way not a leftover.
        self.listing.remove(&file.path);
        let (status, old, new, hand_edited) = match verdict {
            Verdict::Conflict(conflict) => {
                self.conflicts.push(conflict);
                return;
            }
            Verdict::Added => (Status::Added, None, Some(file.contents), false),
            Verdict::Unchanged => (Status::Unchanged, None, None, false),
            Verdict::Modified { old, hand_edited } => (
                Status::Modified,
                Some(old),
                Some(file.contents),
                hand_edited,
            ),
        };
        self.files.push(FileChange {
            path: file.path,
            status,
            old,
            new,
            hand_edited,
        });
    }

    /// Generated files left on disk that nothing produced any more are
    /// deletions, and anything else at a path tenantgen generates is in the
    /// way; everything is sorted by path, the render record last.
    pub fn finish(self) -> Result<Changes> {
        let Comparison {
            out_root,
            listing,
            previous,
            mut conflicts,
            mut files,
        } = self;
        let mut strays: Vec<String> = listing
            .iter()
            .filter_map(|(path, entry)| {
                let what = not_a_file(path, *entry, previous.as_ref())?;
                Some(format!(
                    "{path} ({what} at a path tenantgen generates; remove it: tenantgen never follows or replaces it)"
                ))
            })
            .collect();
        strays.sort();
        conflicts.extend(strays);
        let mut leftovers: Vec<String> = listing
            .into_iter()
            .filter(|(path, entry)| *entry == Entry::File && is_candidate(path))
            .map(|(path, _)| path)
            .collect();
        leftovers.sort();
        for path in leftovers {
            let contents = read_text(out_root, &path)?;
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
}

/// The record of the last render into `out_root`, or `None` when there is
/// none. A record that exists but cannot be read is an error: it is what
/// keeps a removed user's namespaces released rather than deleted.
pub fn previous_record(out_root: &Path) -> Result<Option<Manifest>> {
    let path = out_root.join(manifest::PATH);
    // An output root that is not a directory is reported where it is guarded.
    if !out_root.is_dir() {
        return Ok(None);
    }
    match path.symlink_metadata() {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if holds_generated_namespaces(out_root) {
                bail!(
                    "{} holds generated files but no render record ({}); the record remembers which namespaces tenantgen managed, and without it a removed user's namespaces would be deleted instead of released: restore it from version control\nhint: with no copy to restore, `tenantgen render --rebuild-record` rebuilds it from the generated files; its summary cannot show who changed since the last render (see README, Offboarding)",
                    out_root.display(),
                    manifest::PATH
                );
            }
            return Ok(None);
        }
        Ok(meta) if meta.is_file() => {}
        _ => bail!(
            "{} is not a regular file; restore the render record from version control, or move it away to render as if for the first time",
            path.display()
        ),
    }
    let text = read_text(out_root, manifest::PATH)?;
    match Manifest::parse(&text) {
        Some(record) => Ok(Some(record)),
        // A hand-written file in the way: the diff reports it as a conflict.
        None if !Manifest::is_ours(&text) => Ok(None),
        None => bail!(
            "{} cannot be read as a tenantgen render record; restore it from version control (it keeps released namespaces from being deleted)\nhint: with no copy to restore, `tenantgen render --rebuild-record` rebuilds it from the generated files (see README, Offboarding)",
            path.display()
        ),
    }
}

/// A render record rebuilt from the generated files (`render
/// --rebuild-record`), with what it recovered and what it could not.
#[derive(Debug)]
pub struct RebuiltRecord {
    /// Tenants and source as they are now; files and namespace history
    /// from the tree.
    pub record: Manifest,
    /// Namespace → user, from the tenant files that declare namespaces.
    pub managed: BTreeMap<String, String>,
    /// What was recovered and what is lost, one line each, for people.
    pub notes: Vec<String>,
}

/// Rebuilds the record of `out_root` when it is lost or damaged. What the
/// last render managed and released is read back from the namespaces stack
/// (`layout.namespaces`): each `tenant-<user>.tf` there declares that user's
/// namespaces, and `tenantgen-lifecycle.tf` holds the `removed` (released) and
/// `import` (re-adopted) blocks. Who the tenants were and where they came
/// from is only in the record, so the current users stand in for them.
pub fn rebuild_record(
    out_root: &Path,
    origin: &crate::source::Origin,
    tenants: &crate::model::Tenants,
) -> Result<RebuiltRecord> {
    let record_path = out_root.join(manifest::PATH);
    if previous_record(out_root).ok().flatten().is_some() {
        bail!(
            "--rebuild-record: {} is present and readable, and rebuilding it would lose the history it holds; drop the flag",
            record_path.display()
        );
    }
    if record_path
        .symlink_metadata()
        .is_ok_and(|meta| !meta.is_file())
    {
        bail!(
            "--rebuild-record: {} is not a regular file; move it away first",
            record_path.display()
        );
    }
    let listing = list(out_root)?;
    let mut generated: BTreeMap<String, String> = BTreeMap::new();
    for (path, entry) in &listing {
        if *entry == Entry::File && path.ends_with(".tf") {
            let contents = read_text(out_root, path)?;
            if header::inspect(&contents) != Ownership::HandWritten {
                generated.insert(path.clone(), contents);
            }
        }
    }
    let files: BTreeMap<String, String> = generated
        .iter()
        .map(|(path, contents)| (path.clone(), header::recorded_hash(contents)))
        .collect();
    let mut managed = BTreeMap::new();
    for (path, contents) in &generated {
        // A tenant file of any stack; the one that holds namespaces declares them.
        let file_name = path.rsplit('/').next().unwrap_or(path);
        let Some(user) = file_name
            .strip_prefix("tenant-")
            .and_then(|rest| rest.strip_suffix(".tf"))
        else {
            continue;
        };
        for namespace in declared_namespaces(path, contents)? {
            managed.insert(namespace, user.to_string());
        }
    }
    let lifecycle = generated
        .iter()
        .find(|(path, _)| path.rsplit('/').next() == Some(crate::render::LIFECYCLE_FILE));
    let history = match lifecycle {
        Some((path, contents)) => namespace_history(path, contents)?,
        None => crate::plan::lifecycle::NamespaceHistory::default(),
    };
    let leaving: Vec<&str> = managed
        .keys()
        .filter(|namespace| {
            !tenants
                .users
                .iter()
                .any(|user| user.namespaces.contains(namespace))
        })
        .map(String::as_str)
        .collect();
    let list_or_none = |names: Vec<&str>| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let notes = vec![
        format!(
            "recovered from the generated files: {} ({}), {} ({}), {} ({}), and the hash of each of {}",
            crate::problem::count(managed.len(), "managed namespace"),
            list_or_none(managed.keys().map(String::as_str).collect()),
            crate::problem::count(history.released.len(), "released namespace"),
            list_or_none(history.released.keys().map(String::as_str).collect()),
            crate::problem::count(history.readopted.len(), "re-adopted namespace"),
            list_or_none(history.readopted.iter().map(String::as_str).collect()),
            crate::problem::count(files.len(), "generated file"),
        ),
        format!(
            "managed then but no longer in the users, so released by this render: {}",
            list_or_none(leaving)
        ),
        "lost with the record: who the tenants were at the last render and where the users came from; the summary compares with the current users, so users, roles, domains and apps changed since then show only in the file diff".to_string(),
        "lost with the record: generated files deleted by hand since the last render (it listed them)".to_string(),
        "not lost: namespaces destroyed with --destroy-namespace are in neither the record nor the files, and adoption replacements are computed anew from the adopt block".to_string(),
    ];
    Ok(RebuiltRecord {
        record: Manifest::new(origin, tenants, files, history),
        managed,
        notes,
    })
}

/// The names of the namespaces a generated vault tenant file declares.
fn declared_namespaces(path: &str, contents: &str) -> Result<Vec<String>> {
    let body = parse_generated(path, contents)?;
    let mut names = Vec::new();
    for block in body.blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|label| label.as_str()).collect();
        let is_namespace = block.identifier() == "resource"
            && matches!(
                labels.first(),
                Some(&"kubernetes_namespace_v1" | &"kubernetes_namespace")
            );
        if !is_namespace {
            continue;
        }
        let name = block
            .body()
            .blocks()
            .find(|inner| inner.identifier() == "metadata")
            .and_then(|metadata| {
                metadata
                    .body()
                    .attributes()
                    .find(|attr| attr.key() == "name")
            })
            .and_then(|attr| match attr.expr() {
                hcl::Expression::String(name) => Some(name.clone()),
                _ => None,
            });
        match name {
            Some(name) => names.push(name),
            None => bail!(
                "--rebuild-record: {path}: the namespace resource {} has no literal metadata.name; restore the render record from version control instead",
                labels.join(".")
            ),
        }
    }
    Ok(names)
}

/// Released namespaces (with their users) and re-adopted ones, from the
/// `removed` and `import` blocks of the vault stack's lifecycle file.
fn namespace_history(
    path: &str,
    contents: &str,
) -> Result<crate::plan::lifecycle::NamespaceHistory> {
    let body = parse_generated(path, contents)?;
    // The built-in template says whose each released namespace was, in the
    // comment above its block: `# alice-dev, of alice: released.`
    let owners: BTreeMap<&str, &str> = contents
        .lines()
        .filter_map(|line| {
            let (name, user) = line
                .strip_prefix("# ")?
                .strip_suffix(": released.")?
                .split_once(", of ")?;
            Some((name, user))
        })
        .collect();
    let mut history = crate::plan::lifecycle::NamespaceHistory::default();
    for block in body.blocks() {
        match block.identifier() {
            "removed" => {
                let from = block
                    .body()
                    .attributes()
                    .find(|attr| attr.key() == "from")
                    .map(|attr| hcl::format::to_string(attr.expr()))
                    .transpose()
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                let terraform_name = from.rsplit('.').next().unwrap_or_default();
                // Namespace names are DNS labels: `_` only stands for `-`, or
                // leads a name that starts with a digit.
                let name = terraform_name
                    .strip_prefix('_')
                    .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                    .unwrap_or(terraform_name)
                    .replace('_', "-");
                let Some(user) = owners.get(name.as_str()) else {
                    bail!(
                        "--rebuild-record: {path}: cannot tell whose released namespace `{from}` was (its comment is missing); restore the render record from version control instead"
                    );
                };
                history.released.insert(name, user.to_string());
            }
            "import" => {
                let id = block
                    .body()
                    .attributes()
                    .find(|attr| attr.key() == "id")
                    .and_then(|attr| match attr.expr() {
                        hcl::Expression::String(id) => Some(id.clone()),
                        _ => None,
                    });
                let Some(id) = id else {
                    bail!(
                        "--rebuild-record: {path}: an import block has no literal id; restore the render record from version control instead"
                    );
                };
                history.readopted.insert(id);
            }
            _ => {}
        }
    }
    Ok(history)
}

fn parse_generated(path: &str, contents: &str) -> Result<hcl::Body> {
    let body = header::split(contents).map_or(contents, |(_, body)| body);
    hcl::parse(body).with_context(|| {
        format!(
            "--rebuild-record: cannot parse the generated file {path}; restore the render record from version control instead"
        )
    })
}

/// Whether a stack holds a generated tenant file (one of them declares the
/// namespaces). Only asked when the record is missing; stops at the first.
fn holds_generated_namespaces(out_root: &Path) -> bool {
    let starts_with_marker = |path: &Path| {
        let mut head = [0u8; header::MARKER.len()];
        std::fs::File::open(path)
            .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut head))
            .is_ok_and(|()| head == header::MARKER.as_bytes())
    };
    walkdir::WalkDir::new(out_root)
        .max_depth(4)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry.file_type().is_file()
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| name.starts_with("tenant-") && name.ends_with(".tf"))
        })
        .any(|entry| starts_with_marker(entry.path()))
}

/// Why a generated path cannot be written, judged from the listing: no
/// escape from the root, no symlink or file where a directory must be.
fn path_problem(out_root: &Path, listing: &HashMap<String, Entry>, path: &str) -> Option<String> {
    if let Some(problem) = confine::syntax_problem(path) {
        return Some(problem);
    }
    let mut end = 0;
    while let Some(slash) = path[end..].find('/') {
        end += slash;
        let prefix = &path[..end];
        match listing.get(prefix) {
            Some(Entry::Symlink) => {
                return Some(format!(
                    "{} is a symlink, and tenantgen never writes through symlinks",
                    out_root.join(prefix).display()
                ));
            }
            Some(Entry::File | Entry::Other) => {
                return Some(format!(
                    "{} is a file where a directory must be",
                    out_root.join(prefix).display()
                ));
            }
            Some(Entry::Dir) => {}
            // Nothing below a missing directory exists either.
            None => return None,
        }
        end += 1;
    }
    match listing.get(path) {
        Some(Entry::Symlink) => Some(format!(
            "{} is a symlink, and tenantgen never writes through symlinks",
            out_root.join(path).display()
        )),
        _ => None,
    }
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

/// What is wrong with `entry` at `path` when it is not a regular file at
/// a generated path: a path the last render wrote (`previous`), or any
/// symlink or special file named the way tenantgen names its files, which
/// Terraform would follow or read unseen by review (the record itself may
/// be planted). `None` when nothing is: a hand-written `providers.tf` may
/// be a symlink.
fn not_a_file(path: &str, entry: Entry, previous: Option<&Manifest>) -> Option<&'static str> {
    let ours = previous.is_some_and(|record| record.files.contains_key(path))
        || named_like_generated(path);
    match entry {
        Entry::File => None,
        Entry::Symlink if ours => Some("a symlink"),
        Entry::Other if ours => Some("a special file"),
        Entry::Dir if ours => Some("a directory"),
        Entry::Symlink | Entry::Other | Entry::Dir => None,
    }
}

/// The names tenantgen gives its files (src/render.rs, src/addon.rs):
/// `tenant-<user>.tf`, `tenantgen*.tf`, `addon-*.tf`, `<app>/factory/main.tf`
/// and the render record.
fn named_like_generated(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path == manifest::PATH
        || path.ends_with("/factory/main.tf")
        || (name.ends_with(".tf")
            && (name.starts_with("tenant-")
                || name.starts_with("tenantgen")
                || name.starts_with("addon-")))
}

/// `.tf` files and the render record: the only files tenantgen may own.
fn is_candidate(path: &str) -> bool {
    path.ends_with(".tf") || path == manifest::PATH
}

/// Every entry under `out_root` by `/`-separated relative path, without
/// following symlinks and without descending into tool caches.
fn list(out_root: &Path) -> Result<HashMap<String, Entry>> {
    let mut found = HashMap::new();
    if !out_root.exists() {
        return Ok(found);
    }
    let walker = walkdir::WalkDir::new(out_root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|entry| {
            !entry.file_type().is_dir()
                || !SKIPPED_DIRS.contains(&entry.file_name().to_string_lossy().as_ref())
        });
    for entry in walker {
        let entry = entry.with_context(|| {
            format!(
                "cannot read the output tree {}; check its permissions",
                out_root.display()
            )
        })?;
        let kind = entry.file_type();
        let kind = if kind.is_symlink() {
            Entry::Symlink
        } else if kind.is_dir() {
            Entry::Dir
        } else if kind.is_file() {
            Entry::File
        } else {
            Entry::Other
        };
        let relative = entry.path().strip_prefix(out_root).unwrap_or(entry.path());
        let mut path = String::with_capacity(relative.as_os_str().len());
        for (index, part) in relative.components().enumerate() {
            if index > 0 {
                path.push('/');
            }
            path.push_str(&part.as_os_str().to_string_lossy());
        }
        found.insert(path, kind);
    }
    Ok(found)
}

/// A file's text; bytes that are not UTF-8 show as replacement characters.
/// The render record is read only up to [`manifest::MAX_BYTES`].
fn read_text(out_root: &Path, relative: &str) -> Result<String> {
    let path = out_root.join(relative);
    let cannot_read = || format!("cannot read {}; check its permissions", path.display());
    let bytes = if relative == manifest::PATH {
        let file = std::fs::File::open(&path).with_context(cannot_read)?;
        let mut bytes = Vec::new();
        file.take(manifest::MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(cannot_read)?;
        if bytes.len() as u64 > manifest::MAX_BYTES {
            bail!(
                "{} is larger than {} MiB, far more than any render record; restore it from version control (it keeps released namespaces from being deleted)\nhint: with no copy to restore, remove it and run `tenantgen render --rebuild-record`, which rebuilds it from the generated files (see README, Offboarding)",
                path.display(),
                manifest::MAX_BYTES >> 20
            );
        }
        bytes
    } else {
        std::fs::read(&path).with_context(cannot_read)?
    };
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()))
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
    /// A symlink, directory or special file at a generated path.
    NotAFile,
}

impl OfflineKind {
    pub fn describe(self) -> &'static str {
        match self {
            OfflineKind::Missing => "missing: the last render wrote it",
            OfflineKind::NotRecorded => "not produced by the last render",
            OfflineKind::HandEdited => "edited by hand: its body does not match its header's hash",
            OfflineKind::DiffersFromRecord => "not the file the last render wrote",
            OfflineKind::NotAFile => {
                "not a regular file (a symlink, directory or special file): remove it; tenantgen never follows it"
            }
        }
    }
}

/// Checks `out_root` against its render record without reading the users
/// source: every recorded file present and intact, nothing extra.
pub fn verify_offline(out_root: &Path) -> Result<Vec<OfflineProblem>> {
    let listing = list(out_root)?;
    if listing
        .get(manifest::PATH)
        .is_some_and(|entry| *entry != Entry::File)
    {
        bail!(
            "{} is not a regular file; restore the render record from version control (tenantgen never follows symlinks)",
            out_root.join(manifest::PATH).display()
        );
    }
    let mut on_disk: BTreeMap<String, String> = BTreeMap::new();
    for (path, entry) in &listing {
        if *entry == Entry::File && is_candidate(path) {
            on_disk.insert(path.clone(), read_text(out_root, path)?);
        }
    }
    let record = on_disk.remove(manifest::PATH).ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no render record ({}); run `tenantgen render` (and commit the record) before checking offline",
            out_root.display(),
            manifest::PATH
        )
    })?;
    let record = Manifest::parse(&record).ok_or_else(|| {
        anyhow::anyhow!(
            "{} cannot be read as a tenantgen render record; restore it from version control (it keeps released namespaces from being deleted)\nhint: with no copy to restore, `tenantgen render --rebuild-record` rebuilds it from the generated files (see README, Offboarding)",
            out_root.join(manifest::PATH).display()
        )
    })?;
    let mut problems: Vec<OfflineProblem> = listing
        .iter()
        .filter(|(path, entry)| not_a_file(path, **entry, Some(&record)).is_some())
        .map(|(path, _)| OfflineProblem {
            path: path.clone(),
            problem: OfflineKind::NotAFile,
        })
        .collect();
    for (path, recorded_hash) in &record.files {
        let problem = match on_disk.remove(path.as_str()) {
            None if listing.contains_key(path) => None,
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
