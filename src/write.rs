//! Stage 7: put the changes on disk, all or nothing.
//!
//! Every new file is staged beside its target first; a journal then lists
//! the swaps, the swaps are renames, and removing the journal is the commit
//! point. Any error before it rolls the tree back to exactly what it was; a
//! run killed before it is rolled back by the next run ([`recover`]).
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
                fs::rename(&target, &backup)
                    .with_context(|| format!("cannot move {} aside", target.display()))?;
            }
            if matches!(entry.kind, Kind::Add | Kind::Replace) {
                self.step()?;
                fs::rename(&staged, &target)
                    .with_context(|| format!("cannot put {} in place", target.display()))?;
            }
        }
        sync_dirs(self.root, &self.journal);
        // The commit point: once the journal says so, the new tree stands.
        self.step()?;
        self.journal.committed = true;
        write_journal(self.root, &self.journal)?;
        self.step()?;
        finish_commit(self.root, &self.journal)
    }

    /// Rolls back after `err`, unless the injected fault simulated a crash.
    fn abort(&self, err: anyhow::Error) -> anyhow::Error {
        if err.is::<Crashed>() {
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
                if staged.exists() {
                    fs::remove_file(&staged)?;
                } else if target.exists() {
                    fs::remove_file(&target)?;
                }
            }
            Kind::Replace | Kind::Delete => {
                if backup.exists() {
                    fs::rename(&backup, &target)?;
                }
                if staged.exists() {
                    fs::remove_file(&staged)?;
                }
            }
        }
    }
    for dir in journal.created_dirs.iter().rev() {
        let _ = fs::remove_dir(root.join(dir));
    }
    let journal_path = root.join(JOURNAL);
    if journal_path.exists() {
        fs::remove_file(&journal_path)?;
    }
    sync_dir(root);
    Ok(())
}

/// Settles a write that was killed: rolled back when it died before its
/// commit point, finished after it. Returns whether there was one.
pub fn recover(out_root: &Path) -> Result<bool> {
    let path = out_root.join(JOURNAL);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let journal: Journal = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a tenantgen journal; move it away if you put it there",
            path.display()
        )
    })?;
    for entry in &journal.entries {
        if let Some(problem) = confine::problem(out_root, &entry.path) {
            bail!(
                "the journal {} names {}: {problem}; move the journal away",
                path.display(),
                entry.path
            );
        }
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

/// Replaces the journal atomically: written aside, then renamed into place.
fn write_journal(root: &Path, journal: &Journal) -> Result<()> {
    let path = root.join(JOURNAL);
    let staged = sibling(&path, STAGED_SUFFIX);
    let text =
        serde_json::to_string_pretty(journal).context("cannot serialise the write journal")?;
    let mut file =
        File::create(&staged).with_context(|| format!("cannot create {}", staged.display()))?;
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

/// Creates `path`, which must not exist; a staged file a killed run left
/// behind is replaced.
fn create_new(path: &Path) -> std::io::Result<File> {
    let open = || OpenOptions::new().write(true).create_new(true).open(path);
    match open() {
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            open()
        }
        result => result,
    }
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

impl Lock {
    /// Takes the lock of `out_root` (which must exist) or says who holds it.
    pub fn acquire(out_root: &Path, command: &str) -> Result<Lock> {
        let path = out_root.join(LOCK);
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| {
                    format!(
                        "cannot create the lock file {}; check permissions of the output root",
                        path.display()
                    )
                })?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
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

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held, so no other run can be holding it.
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.ino() == named.ino() && open.dev() == named.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
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

    fn change(path: &str, status: Status, old: Option<&str>, new: Option<&str>) -> FileChange {
        FileChange {
            path: path.into(),
            status,
            old: old.map(String::from),
            new: new.map(String::from),
            hand_edited: false,
        }
    }

    /// A tree with two files, and changes that replace one, delete the
    /// other and add two more, one in a new directory.
    fn setup() -> (tempfile::TempDir, Changes) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("vault")).unwrap();
        fs::write(dir.path().join("vault/a.tf"), "old a\n").unwrap();
        fs::write(dir.path().join("vault/b.tf"), "old b\n").unwrap();
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
        after.insert("new/deep/c.tf".into(), b"new c\n".to_vec());
        after.insert("vault/a.tf".into(), b"new a\n".to_vec());
        after.remove("vault/b.tf");
        after.insert("vault/d.tf".into(), b"new d\n".to_vec());
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

    #[test]
    fn a_failure_at_any_step_leaves_the_tree_as_it_was() {
        let steps = count_steps();
        assert!(steps >= 10, "{steps}");
        for at in 1..=steps {
            let (dir, changes) = setup();
            let before = tree(dir.path());
            let err = Transaction::new(dir.path(), &changes)
                .unwrap()
                .run(Some(Fault::Fail(at)))
                .unwrap_err();
            assert!(
                format!("{err:#}").contains("rolled back"),
                "step {at}: {err:#}"
            );
            assert_eq!(tree(dir.path()), before, "failure at step {at} of {steps}");
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
