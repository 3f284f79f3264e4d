//! Stage 7: put the changes on disk, all or nothing.
//!
//! Every new file is staged beside its target first; a journal then lists
//! the swaps, the swaps are renames, and removing the journal is the commit
//! point. Any error before it rolls the tree back to exactly what it was; a
//! run killed before it is rolled back by the next run ([`recover`]). After
//! it, the new tree stands: an error or a kill leaves the committed journal,
//! and the next run finishes the cleanup (`committed`).
//! Termination signals wait until the swaps are done. Only paths the diff
//! stage vetted are touched, never through a symlink, never outside the root.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::confine;
use crate::diff::{Changes, Status};
use crate::header;
use crate::manifest;

mod committed;
pub use committed::Unfinished as CommittedUnfinished;

/// The journal of an unfinished write, relative to the output root.
pub const JOURNAL: &str = ".tenantgen.journal";
/// The lock file, relative to the output root.
pub const LOCK: &str = ".tenantgen.lock";
const STAGED_SUFFIX: &str = ".tenantgen-new";
const BACKUP_SUFFIX: &str = ".tenantgen-old";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Add,
    Replace,
    Delete,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// Relative to the output root, `/`-separated.
    path: String,
    kind: Kind,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Journal {
    entries: Vec<Entry>,
    /// Directories this write creates, parents first.
    created_dirs: Vec<String>,
    /// Set at the commit point: from then on the new tree stands and only
    /// the backups remain to be removed.
    committed: bool,
}

/// A failure injected by tests at a given filesystem step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "only the fault-injection tests construct faults")
)]
enum Fault {
    /// The step fails; the transaction rolls back.
    Fail(usize),
    /// The process dies at the step: nothing more happens, not even rollback.
    Crash(usize),
}

/// How a write ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Completed,
    /// A signal arrived once the swaps had begun; they were finished first,
    /// and the caller should end as interrupted.
    CompletedThenInterrupted,
}

/// Applies every added, modified and deleted file of `changes` under `out_root`.
pub fn apply(out_root: &Path, changes: &Changes) -> Result<Written> {
    Transaction::new(out_root, changes)?.run(None)
}

struct Transaction<'a> {
    root: &'a Path,
    journal: Journal,
    contents: Vec<Option<&'a str>>,
    steps: usize,
    fault: Option<Fault>,
}

impl<'a> Transaction<'a> {
    fn new(root: &'a Path, changes: &'a Changes) -> Result<Transaction<'a>> {
        let mut journal = Journal::default();
        let mut contents = Vec::new();
        let mut confinement = confine::Confinement::new(root);
        for change in changes.changed() {
            let kind = match change.status {
                Status::Added => Kind::Add,
                Status::Modified => Kind::Replace,
                Status::Deleted => Kind::Delete,
                Status::Unchanged => continue,
            };
            if let Some(problem) = confinement.problem(&change.path) {
                bail!("refusing to write {}: {problem}", change.path);
            }
            journal.entries.push(Entry {
                path: change.path.clone(),
                kind,
            });
            contents.push(change.new.as_deref());
        }
        Ok(Transaction {
            root,
            journal,
            contents,
            steps: 0,
            fault: None,
        })
    }

    fn step(&mut self) -> Result<()> {
        self.steps += 1;
        match self.fault {
            Some(Fault::Fail(at)) if at == self.steps => {
                Err(anyhow!("injected failure at step {at}"))
            }
            Some(Fault::Crash(at)) if at == self.steps => Err(anyhow!(Crashed)),
            _ => Ok(()),
        }
    }

    fn run(mut self, fault: Option<Fault>) -> Result<Written> {
        self.fault = fault;
        if self.journal.entries.is_empty() {
            return Ok(Written::Completed);
        }
        if let Err(err) = fs::create_dir_all(self.root) {
            return Err(anyhow!(err).context(format!(
                "cannot create the output root {}",
                self.root.display()
            )));
        }
        self.journal.created_dirs = missing_dirs(self.root, &self.journal);
        // No journal exists yet, so no staged file or backup is in use: a
        // leftover one is cleared now, so a rollback only meets its own.
        clear_leftovers(self.root, &self.journal)?;
        // The journal comes first, so even a run killed while staging is undone.
        if let Err(err) = self
            .step()
            .and_then(|()| write_journal(self.root, &self.journal))
        {
            return Err(self.abort(err));
        }
        if let Err(err) = self.stage() {
            return Err(self.abort(err));
        }
        let signals = DeferredSignals::install();
        let result = self.swap_and_commit();
        let interrupted = signals.finish();
        match result {
            Ok(()) if interrupted => Ok(Written::CompletedThenInterrupted),
            Ok(()) => Ok(Written::Completed),
            Err(err) => Err(self.abort(err)),
        }
    }

    /// Creates the new directories and writes every new file beside its target.
    fn stage(&mut self) -> Result<()> {
        for dir in self.journal.created_dirs.clone() {
            let dir = self.root.join(dir);
            self.step()?;
            fs::create_dir(&dir).with_context(|| {
                format!(
                    "cannot create directory {}; is something else in the way?",
                    dir.display()
                )
            })?;
        }
        for index in 0..self.journal.entries.len() {
            let Some(contents) = self.contents[index] else {
                continue;
            };
            let staged = sibling(
                &self.root.join(&self.journal.entries[index].path),
                STAGED_SUFFIX,
            );
            self.step()?;
            let mut file = create_new(&staged)
                .with_context(|| format!("cannot create {}", staged.display()))?;
            file.write_all(contents.as_bytes())
                .with_context(|| format!("cannot write {}; check free space", staged.display()))?;
        }
        // One flush for all staged files: nothing is swapped in before it is on disk.
        self.step()?;
        flush_filesystem(self.root, &self.journal)
    }

    fn swap_and_commit(&mut self) -> Result<()> {
        for index in 0..self.journal.entries.len() {
            let entry = self.journal.entries[index].clone();
            let target = self.root.join(&entry.path);
            let staged = sibling(&target, STAGED_SUFFIX);
            let backup = sibling(&target, BACKUP_SUFFIX);
            if matches!(entry.kind, Kind::Replace | Kind::Delete) {
                self.step()?;
                rename_new(&target, &backup)
                    .with_context(|| format!("cannot move {} aside", target.display()))?;
            }
            if matches!(entry.kind, Kind::Add | Kind::Replace) {
                self.step()?;
                rename_new(&staged, &target)
                    .with_context(|| format!("cannot put {} in place", target.display()))?;
            }
        }
        sync_dirs(self.root, &self.journal);
        // The commit point: once the journal says so, the new tree stands.
        self.step()?;
        self.journal.committed = true;
        write_journal(self.root, &self.journal)?;
        // From here on a failure rolls forward: the committed journal stays,
        // and the next run finishes the cleanup (`recover`).
        self.step()
            .and_then(|()| finish_commit(self.root, &self.journal))
            .map_err(|err| match err.downcast::<Crashed>() {
                Ok(crashed) => anyhow!(crashed),
                Err(err) => anyhow!(committed::Unfinished::new(self.root, err)),
            })
    }

    /// Rolls back after `err`, unless the injected fault simulated a crash
    /// or the write was already committed.
    fn abort(&self, err: anyhow::Error) -> anyhow::Error {
        if err.is::<Crashed>() || err.is::<committed::Unfinished>() {
            return err;
        }
        match roll_back(self.root, &self.journal) {
            Ok(()) => err.context("the write failed and was rolled back: the output tree is as it was"),
            Err(rollback) => err.context(format!(
                "the write failed and rolling back failed too ({rollback:#}); run `tenantgen render` again to finish the rollback"
            )),
        }
    }
}

/// Marks a simulated crash in tests.
#[derive(Debug)]
struct Crashed;

impl std::fmt::Display for Crashed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("simulated crash")
    }
}

impl std::error::Error for Crashed {}

/// Removes the backups of a committed write, then its journal. (Every staged
/// file was swapped in before the commit point, so none is left.)
fn finish_commit(root: &Path, journal: &Journal) -> Result<()> {
    for entry in &journal.entries {
        if entry.kind == Kind::Add {
            continue;
        }
        let target = root.join(&entry.path);
        let backup = sibling(&target, BACKUP_SUFFIX);
        match fs::remove_file(&backup) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(err).with_context(|| format!("cannot remove {}", backup.display()));
            }
            _ => {}
        }
        if entry.kind == Kind::Delete {
            remove_empty_parents(root, &target);
        }
    }
    fs::remove_file(root.join(JOURNAL)).context("cannot remove the write journal")?;
    sync_dir(root);
    Ok(())
}

/// Undoes whatever part of the journal happened, judging by what is on disk;
/// safe to run any number of times.
fn roll_back(root: &Path, journal: &Journal) -> Result<()> {
    for entry in journal.entries.iter().rev() {
        let target = root.join(&entry.path);
        let staged = sibling(&target, STAGED_SUFFIX);
        let backup = sibling(&target, BACKUP_SUFFIX);
        match entry.kind {
            Kind::Add => {
                if present(&staged) {
                    fs::remove_file(&staged)?;
                } else if present(&target) {
                    fs::remove_file(&target)?;
                }
            }
            Kind::Replace | Kind::Delete => {
                if present(&backup) {
                    fs::rename(&backup, &target)?;
                }
                if present(&staged) {
                    fs::remove_file(&staged)?;
                }
            }
        }
    }
    for dir in journal.created_dirs.iter().rev() {
        let _ = fs::remove_dir(root.join(dir));
    }
    let journal_path = root.join(JOURNAL);
    if present(&journal_path) {
        fs::remove_file(&journal_path)?;
    }
    sync_dir(root);
    Ok(())
}

/// Settles a write that was killed: rolled back when it died before its
/// commit point, finished after it. Returns whether there was one.
///
/// The journal lies in the output root, which a contributor can commit to,
/// so it is vetted as a fresh write would be before anything is done: every
/// path relative, inside the root and through no symlink, and only files
/// carrying the tenantgen header (or the render record) deleted or replaced.
pub fn recover(out_root: &Path) -> Result<bool> {
    let path = out_root.join(JOURNAL);
    // A run killed while renaming a journal into place leaves its temporary
    // copy; what that copy says never took effect (the rename is the step).
    clear_leftover(&sibling(&path, STAGED_SUFFIX))?;
    let refuse = |why: String| {
        anyhow!(
            "refusing the write journal {}: {why}\nhint: tenantgen did not act on it; if no tenantgen run left it there, delete it and run again",
            path.display()
        )
    };
    let text = match read_regular(&path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(false),
        Err(err) => return Err(refuse(format!("{err:#}"))),
    };
    let journal: Journal = serde_json::from_str(&text)
        .map_err(|err| refuse(format!("it is not a tenantgen journal ({err})")))?;
    let problems = vet(out_root, &journal);
    if !problems.is_empty() {
        return Err(refuse(problems.join("; ")));
    }
    if journal.committed {
        finish_commit(out_root, &journal).with_context(|| {
            format!(
                "cannot finish the interrupted write recorded in {}",
                path.display()
            )
        })?;
    } else {
        roll_back(out_root, &journal).with_context(|| {
            format!(
                "cannot roll back the interrupted write recorded in {}",
                path.display()
            )
        })?;
    }
    Ok(true)
}

/// Why settling `journal` could reach outside the root or touch a file that
/// is not ours: one line per problem, none when it is safe.
fn vet(root: &Path, journal: &Journal) -> Vec<String> {
    let mut problems = Vec::new();
    let mut confinement = confine::Confinement::new(root);
    for dir in &journal.created_dirs {
        if let Some(problem) = confinement.problem(dir) {
            problems.push(format!("it names the directory {dir}: {problem}"));
        }
    }
    for entry in &journal.entries {
        if let Some(problem) = confinement.problem(&entry.path) {
            problems.push(format!("it names {}: {problem}", entry.path));
            continue;
        }
        let target = root.join(&entry.path);
        let staged = sibling(&target, STAGED_SUFFIX);
        let backup = sibling(&target, BACKUP_SUFFIX);
        // Staged files are ours by name: removable when they are plain files.
        let mut removed = vec![(&staged, false)];
        if journal.committed {
            if entry.kind != Kind::Add {
                removed.push((&backup, true));
            }
        } else {
            match entry.kind {
                Kind::Add => removed.push((&target, true)),
                Kind::Replace | Kind::Delete => {
                    removed.push((&backup, true));
                    if present(&backup) {
                        removed.push((&target, true));
                    }
                }
            }
        }
        for (path, needs_header) in removed {
            if let Some(problem) = not_ours(path, needs_header && entry.path != manifest::PATH) {
                problems.push(format!("settling it would remove {problem}"));
            }
        }
    }
    problems
}

/// Why the file at `path`, if any, is not one tenantgen may remove: not a
/// regular file, or (`needs_header`) without the generated-file header.
fn not_ours(path: &Path, needs_header: bool) -> Option<String> {
    use std::io::Read as _;
    let meta = path.symlink_metadata().ok()?;
    if !meta.is_file() {
        return Some(format!("{}, which is not a regular file", path.display()));
    }
    if !needs_header {
        return None;
    }
    let mut start = vec![0; header::MARKER.len()];
    let ours = open_no_follow(OpenOptions::new().read(true), path)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| start == header::MARKER.as_bytes());
    (!ours).then(|| {
        format!(
            "{}, which tenantgen did not generate (no tenantgen header)",
            path.display()
        )
    })
}

/// The text of the regular file at `path`, or `None` when there is none;
/// never read through a symlink.
fn read_regular(path: &Path) -> Result<Option<String>> {
    use std::io::Read as _;
    match path.symlink_metadata() {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        Ok(meta) if !meta.is_file() => bail!("{} is not a regular file", path.display()),
        Ok(_) => {}
    }
    let mut text = String::new();
    open_no_follow(OpenOptions::new().read(true), path)
        .and_then(|mut file| file.read_to_string(&mut text))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(text))
}

/// Whether anything, even a dangling symlink, is at `path`.
fn present(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// Replaces the journal atomically: written aside, then renamed into place.
fn write_journal(root: &Path, journal: &Journal) -> Result<()> {
    let path = root.join(JOURNAL);
    let staged = sibling(&path, STAGED_SUFFIX);
    let text =
        serde_json::to_string_pretty(journal).context("cannot serialise the write journal")?;
    clear_leftover(&staged)?;
    let mut file =
        create_new(&staged).with_context(|| format!("cannot create {}", staged.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", staged.display()))?;
    fs::rename(&staged, &path)
        .with_context(|| format!("cannot put {} in place", path.display()))?;
    sync_dir(root);
    Ok(())
}

/// Directories the added files need that do not exist yet, parents first.
fn missing_dirs(root: &Path, journal: &Journal) -> Vec<String> {
    let mut missing = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in journal
        .entries
        .iter()
        .filter(|entry| entry.kind == Kind::Add)
    {
        let mut chain = Vec::new();
        let mut dir = entry.path.as_str();
        while let Some((parent, _)) = dir.rsplit_once('/') {
            // Each directory is looked at once, however many files it gets.
            if !seen.insert(parent) || root.join(parent).symlink_metadata().is_ok() {
                break;
            }
            chain.push(parent.to_string());
            dir = parent;
        }
        missing.extend(chain.into_iter().rev());
    }
    missing
}

/// Creates `path`, which must not exist: never through a symlink, never
/// over anything already there.
fn create_new(path: &Path) -> std::io::Result<File> {
    open_no_follow(OpenOptions::new().write(true).create_new(true), path)
}

/// Opens `path` with `options`, failing if its last component is a symlink.
fn open_no_follow(options: &mut OpenOptions, path: &Path) -> std::io::Result<File> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    options.open(path)
}

/// Removes a staged file or backup a killed run left at `path`; anything
/// else there (a symlink, a directory) was not left by tenantgen and stops
/// the write.
fn clear_leftover(path: &Path) -> Result<()> {
    match path.symlink_metadata() {
        Err(_) => Ok(()),
        Ok(meta) if meta.is_file() => fs::remove_file(path)
            .with_context(|| format!("cannot remove the leftover {}", path.display())),
        Ok(_) => bail!(
            "{} is in the way of a file tenantgen writes, and it is not a regular file (a symlink?); tenantgen never writes through it: remove it and run again",
            path.display()
        ),
    }
}

/// [`clear_leftover`] for every staged file and backup `journal` will write.
fn clear_leftovers(root: &Path, journal: &Journal) -> Result<()> {
    for entry in &journal.entries {
        let target = root.join(&entry.path);
        clear_leftover(&sibling(&target, STAGED_SUFFIX))?;
        clear_leftover(&sibling(&target, BACKUP_SUFFIX))?;
    }
    Ok(())
}

/// Renames `from` to `to`, which must not exist: a rename never replaces
/// anything planted at its destination.
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let from_c = std::ffi::CString::new(from.as_os_str().as_bytes())?;
        let to_c = std::ffi::CString::new(to.as_os_str().as_bytes())?;
        // SAFETY: both pointers are NUL-terminated strings that outlive the call.
        let done = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from_c.as_ptr(),
                libc::AT_FDCWD,
                to_c.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if done == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        // Filesystems or kernels without RENAME_NOREPLACE: look, then rename.
        if !matches!(err.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
            return Err(err);
        }
    }
    if present(to) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists", to.display()),
        ));
    }
    fs::rename(from, to)
}

/// `.name<suffix>` beside `target`: hidden, and never a `.tf` file.
fn sibling(target: &Path, suffix: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{suffix}"))
}

/// Puts every staged file on disk: one `syncfs` on Linux, else a sync per file.
#[cfg(target_os = "linux")]
fn flush_filesystem(root: &Path, _journal: &Journal) -> Result<()> {
    use std::os::fd::AsRawFd;
    let dir = File::open(root).with_context(|| format!("cannot open {}", root.display()))?;
    // SAFETY: syncfs only reads the descriptor, which `dir` keeps open for the call.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("cannot flush the staged files to disk");
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn flush_filesystem(root: &Path, journal: &Journal) -> Result<()> {
    for entry in journal
        .entries
        .iter()
        .filter(|entry| entry.kind != Kind::Delete)
    {
        let staged = sibling(&root.join(&entry.path), STAGED_SUFFIX);
        File::open(&staged)
            .and_then(|file| file.sync_all())
            .with_context(|| format!("cannot flush {} to disk", staged.display()))?;
    }
    Ok(())
}

/// Makes renames durable; best effort, as not every filesystem supports it.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

fn sync_dirs(root: &Path, journal: &Journal) {
    let mut dirs: Vec<PathBuf> = journal
        .entries
        .iter()
        .filter_map(|entry| root.join(&entry.path).parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        sync_dir(&dir);
    }
}

/// Removes directories emptied by deletions, up to (not including) the root.
fn remove_empty_parents(out_root: &Path, deleted: &Path) {
    let mut dir = deleted.parent();
    while let Some(current) = dir {
        if current == out_root || !current.starts_with(out_root) || fs::remove_dir(current).is_err()
        {
            break;
        }
        dir = current.parent();
    }
}

/// The flags behind [`DeferredSignals`]; the handlers are registered once
/// per process, so a second critical section (the prompt, then the swaps)
/// never stacks a handler that would still kill the process.
struct SignalFlags {
    allow_default: Arc<AtomicBool>,
    pending: Arc<AtomicBool>,
}

static SIGNAL_FLAGS: std::sync::OnceLock<SignalFlags> = std::sync::OnceLock::new();

/// Holds SIGINT, SIGTERM and SIGHUP back until [`DeferredSignals::finish`]:
/// while files are being swapped, and while `render` waits for its answer.
pub struct DeferredSignals {
    flags: &'static SignalFlags,
}

impl DeferredSignals {
    pub fn install() -> DeferredSignals {
        let flags = SIGNAL_FLAGS.get_or_init(|| {
            use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
            let flags = SignalFlags {
                allow_default: Arc::new(AtomicBool::new(true)),
                pending: Arc::new(AtomicBool::new(false)),
            };
            for signal in [SIGINT, SIGTERM, SIGHUP] {
                // Outside a critical section the signal keeps its default effect.
                let _ = signal_hook::flag::register_conditional_default(
                    signal,
                    Arc::clone(&flags.allow_default),
                );
                let _ = signal_hook::flag::register(signal, Arc::clone(&flags.pending));
            }
            flags
        });
        flags.pending.store(false, Ordering::SeqCst);
        flags.allow_default.store(false, Ordering::SeqCst);
        DeferredSignals { flags }
    }

    /// Whether a signal has arrived since [`DeferredSignals::install`].
    pub fn arrived(&self) -> bool {
        self.flags.pending.load(Ordering::SeqCst)
    }

    /// Ends the critical section; returns whether a signal arrived during it.
    pub fn finish(self) -> bool {
        let flags = self.flags;
        drop(self);
        flags.pending.load(Ordering::SeqCst)
    }
}

/// An early return (an error) ends the critical section too.
impl Drop for DeferredSignals {
    fn drop(&mut self) {
        self.flags.allow_default.store(true, Ordering::SeqCst);
    }
}

/// Another run holds the output root's lock.
#[derive(Debug)]
pub struct LockBusy {
    pub root: PathBuf,
    /// What the holder wrote into the lock file: pid, host, command, start.
    pub holder: String,
}

impl std::fmt::Display for LockBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let holder = if self.holder.is_empty() {
            "holder unknown"
        } else {
            &self.holder
        };
        write!(
            f,
            "{} is locked by another tenantgen run ({holder}); wait for it to finish, then run again",
            self.root.display()
        )
    }
}

impl std::error::Error for LockBusy {}

/// One tenantgen at a time per output root: an advisory lock on
/// `.tenantgen.lock`, which names its holder. The kernel releases it when
/// the process ends, however it ends.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// The lock path holds something tenantgen would not have put there: a
/// symlink, a directory, a hard link. It is refused even by read-only
/// commands, since writing the holder into it would write through it.
#[derive(Debug)]
pub struct LockUnsafe {
    pub path: PathBuf,
    what: &'static str,
}

impl std::fmt::Display for LockUnsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the lock file {} is {}, and tenantgen never writes through one\nhint: remove it (tenantgen creates the lock itself and removes it when done), then run again",
            self.path.display(),
            self.what
        )
    }
}

impl std::error::Error for LockUnsafe {}

impl Lock {
    /// Takes the lock of `out_root` (which must exist) or says who holds it.
    pub fn acquire(out_root: &Path, command: &str) -> Result<Lock> {
        let path = out_root.join(LOCK);
        loop {
            if let Ok(meta) = path.symlink_metadata() {
                check_lock_file(&path, &meta)?;
            }
            let file = open_no_follow(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false),
                &path,
            );
            let file = match file {
                Ok(file) => file,
                // A symlink put there since the look above.
                Err(err) if path.symlink_metadata().is_ok_and(|meta| meta.is_symlink()) => {
                    return Err(anyhow!(err).context(LockUnsafe {
                        path,
                        what: "a symlink",
                    }));
                }
                Err(err) => {
                    return Err(err).with_context(|| {
                        format!(
                            "cannot create the lock file {}; check permissions of the output root",
                            path.display()
                        )
                    });
                }
            };
            check_lock_file(&path, &file.metadata()?)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = std::io::Read::read_to_string(&mut &file, &mut holder);
                    return Err(LockBusy {
                        root: out_root.to_path_buf(),
                        holder: holder.trim().to_string(),
                    }
                    .into());
                }
                Err(fs::TryLockError::Error(err)) => {
                    return Err(err).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
            // A releasing holder deletes the file: make sure ours is still the one in place.
            if !same_file(&file, &path) {
                continue;
            }
            let mut lock = Lock { file, path };
            lock.describe_holder(command)?;
            crate::budget::hold_lock(Some(&lock.path));
            return Ok(lock);
        }
    }

    fn describe_holder(&mut self, command: &str) -> Result<()> {
        let host = fs::read_to_string("/etc/hostname")
            .map(|name| name.trim().to_string())
            .unwrap_or_default();
        let holder = format!(
            "pid {} on {}, `tenantgen {command}`, since {}\n",
            std::process::id(),
            if host.is_empty() { "this host" } else { &host },
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        self.file.set_len(0)?;
        self.file.write_all(holder.as_bytes())?;
        Ok(())
    }
}

/// Refuses a lock path that is not a plain file of its own.
fn check_lock_file(path: &Path, meta: &fs::Metadata) -> Result<(), LockUnsafe> {
    let what = if meta.is_symlink() {
        "a symlink"
    } else if !meta.is_file() {
        "not a regular file"
    } else if hard_linked(meta) {
        "a hard link to another file"
    } else {
        return Ok(());
    };
    Err(LockUnsafe {
        path: path.to_path_buf(),
        what,
    })
}

#[cfg(unix)]
fn hard_linked(meta: &fs::Metadata) -> bool {
    std::os::unix::fs::MetadataExt::nlink(meta) > 1
}

#[cfg(not(unix))]
fn hard_linked(_meta: &fs::Metadata) -> bool {
    false
}

impl Drop for Lock {
    fn drop(&mut self) {
        crate::budget::hold_lock(None);
        // Removed while still held, so no other run can be holding it; and
        // only if it is still our file, not something put in its place.
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), path.symlink_metadata()) {
        (Ok(open), Ok(named)) => open.ino() == named.ino() && open.dev() == named.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::FileChange;
    use std::collections::BTreeMap;

    fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
        walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|entry| entry.depth() > 0)
            .map(|entry| {
                let bytes = if entry.file_type().is_file() {
                    fs::read(entry.path()).unwrap()
                } else {
                    b"<dir>".to_vec()
                };
                let relative = entry.path().strip_prefix(root).unwrap();
                (relative.to_string_lossy().replace('\\', "/"), bytes)
            })
            .collect()
    }

    /// Generated contents, as every file a write replaces or removes is.
    fn ours(body: &str) -> String {
        header::stamp(body)
    }

    fn change(path: &str, status: Status, old: Option<&str>, new: Option<&str>) -> FileChange {
        FileChange {
            path: path.into(),
            status,
            old: old.map(ours),
            new: new.map(ours),
            hand_edited: false,
        }
    }

    /// A tree with two files, and changes that replace one, delete the
    /// other and add two more, one in a new directory.
    fn setup() -> (tempfile::TempDir, Changes) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("vault")).unwrap();
        fs::write(dir.path().join("vault/a.tf"), ours("old a\n")).unwrap();
        fs::write(dir.path().join("vault/b.tf"), ours("old b\n")).unwrap();
        fs::write(dir.path().join("hand.tf"), "mine\n").unwrap();
        let changes = Changes {
            files: vec![
                change("new/deep/c.tf", Status::Added, None, Some("new c\n")),
                change(
                    "vault/a.tf",
                    Status::Modified,
                    Some("old a\n"),
                    Some("new a\n"),
                ),
                change("vault/b.tf", Status::Deleted, Some("old b\n"), None),
                change("vault/d.tf", Status::Added, None, Some("new d\n")),
            ],
            conflicts: Vec::new(),
            previous: None,
        };
        (dir, changes)
    }

    fn expected_after(before: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
        let mut after = before.clone();
        after.insert("new".into(), b"<dir>".to_vec());
        after.insert("new/deep".into(), b"<dir>".to_vec());
        after.insert("new/deep/c.tf".into(), ours("new c\n").into_bytes());
        after.insert("vault/a.tf".into(), ours("new a\n").into_bytes());
        after.remove("vault/b.tf");
        after.insert("vault/d.tf".into(), ours("new d\n").into_bytes());
        after
    }

    fn count_steps() -> usize {
        let (dir, changes) = setup();
        let mut transaction = Transaction::new(dir.path(), &changes).unwrap();
        transaction.fault = Some(Fault::Fail(usize::MAX));
        transaction.journal.created_dirs = missing_dirs(dir.path(), &transaction.journal);
        transaction.step().unwrap();
        transaction.stage().unwrap();
        transaction.swap_and_commit().unwrap();
        transaction.steps
    }

    #[test]
    fn a_clean_write_applies_everything() {
        let (dir, changes) = setup();
        let before = tree(dir.path());
        apply(dir.path(), &changes).unwrap();
        assert_eq!(tree(dir.path()), expected_after(&before));
    }

    /// Before the commit point a failure rolls back; after it (the last
    /// step, the cleanup) it rolls forward: the committed journal stays and
    /// recovery finishes the new tree.
    #[test]
    fn a_failure_at_any_step_leaves_the_old_tree_or_the_committed_new_one() {
        let steps = count_steps();
        assert!(steps >= 10, "{steps}");
        for at in 1..=steps {
            let (dir, changes) = setup();
            let before = tree(dir.path());
            let err = Transaction::new(dir.path(), &changes)
                .unwrap()
                .run(Some(Fault::Fail(at)))
                .unwrap_err();
            if at < steps {
                assert!(
                    format!("{err:#}").contains("rolled back"),
                    "step {at}: {err:#}"
                );
                assert_eq!(tree(dir.path()), before, "failure at step {at} of {steps}");
                continue;
            }
            assert!(err.is::<CommittedUnfinished>(), "step {at}: {err:#}");
            assert!(
                format!("{err:#}").contains("the write was committed"),
                "{err:#}"
            );
            assert!(recover(dir.path()).unwrap(), "the journal stays");
            assert_eq!(tree(dir.path()), expected_after(&before));
        }
    }

    #[test]
    fn a_crash_at_any_step_is_undone_or_complete_after_recovery() {
        let steps = count_steps();
        for at in 1..=steps {
            let (dir, changes) = setup();
            let before = tree(dir.path());
            let result = Transaction::new(dir.path(), &changes)
                .unwrap()
                .run(Some(Fault::Crash(at)));
            assert!(result.is_err());
            recover(dir.path()).unwrap();
            let visible = tree(dir.path());
            assert!(
                visible == before || visible == expected_after(&before),
                "crash at step {at} of {steps} left a mixed tree: {:?}",
                visible.keys().collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_directory_in_the_way_fails_before_anything_changes() {
        let (dir, changes) = setup();
        fs::write(dir.path().join("new"), "a file where a directory must go\n").unwrap();
        let before = tree(dir.path());
        let err = apply(dir.path(), &changes).unwrap_err();
        assert!(format!("{err:#}").contains("rolled back"), "{err:#}");
        assert_eq!(tree(dir.path()), before);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_never_written_through() {
        let outside = tempfile::tempdir().unwrap();
        let (dir, changes) = setup();
        fs::remove_file(dir.path().join("vault/a.tf")).unwrap();
        fs::remove_file(dir.path().join("vault/b.tf")).unwrap();
        fs::remove_dir(dir.path().join("vault")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("vault")).unwrap();
        let err = apply(dir.path(), &changes).unwrap_err();
        assert!(format!("{err:#}").contains("symlink"), "{err:#}");
        assert!(tree(outside.path()).is_empty());
    }

    #[test]
    fn the_lock_names_its_holder_and_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let lock = Lock::acquire(dir.path(), "render").unwrap();
        let err = Lock::acquire(dir.path(), "check").unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("is locked by another tenantgen run"),
            "{message}"
        );
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("`tenantgen render`"), "{message}");
        drop(lock);
        assert!(!dir.path().join(LOCK).exists());
        Lock::acquire(dir.path(), "render").unwrap();
    }
}
