//! The command line: clap types (`args`) mapped onto [`crate::Options`],
//! one function per command, the prompt, the pager (`pager`), the man page
//! (`man`), and exit codes as documented in the README.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};

use crate::diff::{self, Changes};
use crate::manifest::Manifest;
use crate::problem::count;
use crate::report::{self, Style};
use crate::session::{Compared, Session};
use crate::summary;
use crate::write;
use crate::{Loaded, Options};

// std's `print!`, `println!` and `eprintln!` panic when the reader has gone
// (`tenantgen check 2>&1 | true`). These shadow them in this module and
// write through the handles instead: a reader leaving is not the command's
// failure, so its exit status stays.
macro_rules! print {
    ($($arg:tt)*) => {
        emit(Stream::Out, format_args!($($arg)*))
    };
}
macro_rules! println {
    ($($arg:tt)*) => {
        emit(Stream::Out, format_args!("{}\n", format_args!($($arg)*)))
    };
}
macro_rules! eprintln {
    ($($arg:tt)*) => {
        emit(Stream::Err, format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

/// The first failure to write standard output other than the reader
/// leaving (a full disk, say): reported once the command is done.
static STDOUT_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn emit(stream: Stream, text: std::fmt::Arguments<'_>) {
    let written = match stream {
        Stream::Out => terminal::out().write_fmt(text),
        // Nowhere left to report a failure to write standard error.
        Stream::Err => terminal::err().write_fmt(text),
    };
    note_stdout_failure(stream, written);
}

fn note_stdout_failure(stream: Stream, written: std::io::Result<()>) {
    if let Err(err) = written
        && stream == Stream::Out
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        STDOUT_FAILURE.get_or_init(|| err.to_string());
    }
}

mod args;
mod man;
mod pager;
mod terminal;
mod users;

pub use args::*;
use man::man_page;
use pager::{IgnoredInterrupts, pager_command};

/// Exit status: success.
const OK: u8 = 0;
/// Exit status: an error, nothing written.
const ERROR: u8 = 1;
/// Exit status of `diff` and `check` when the tree differs.
const DIFFERS: u8 = 2;
/// Exit status after SIGINT, SIGTERM or SIGHUP.
const INTERRUPTED: u8 = 130;

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    // Not `Cli::parse()`: clap exits 2 on a usage error, and 2 means "the tree
    // differs" here; a command line tenantgen cannot run is an error, 1.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { ERROR } else { OK });
        }
    };
    let style = Style {
        color: use_color(cli.command.color()),
    };
    terminal::allow_colour(style.color);
    let code = match run(&cli, style) {
        Ok(code) => code,
        // A committed write's error says itself what was written.
        Err(err) if err.is::<write::CommittedUnfinished>() => {
            eprintln!("{} {err:#}", style.error_prefix());
            ERROR
        }
        Err(err) => {
            if let Some(warned) = err.downcast_ref::<crate::Warned>() {
                for warning in &warned.warnings {
                    eprintln!("{} {warning}", style.warning_prefix());
                }
            }
            // Every other failure happens before the first write, or rolls it back.
            eprintln!("{} {err:#}\nnothing was written", style.error_prefix());
            ERROR
        }
    };
    note_stdout_failure(Stream::Out, terminal::out().flush());
    match STDOUT_FAILURE.get() {
        Some(failure) if code == OK => {
            eprintln!(
                "{} cannot write to standard output: {failure}",
                style.error_prefix()
            );
            ExitCode::from(ERROR)
        }
        _ => ExitCode::from(code),
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            terminal::out_is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                && std::env::var("TERM").map_or(true, |term| term != "dumb")
        }
    }
}

fn options(
    users: &UsersArgs,
    tree: Option<&TreeArgs>,
    namespaces: Option<&NamespaceArgs>,
    rebuild_record: bool,
) -> Result<Options> {
    Ok(Options {
        working_dir: std::env::current_dir()?,
        config: users.config.clone(),
        users: users.users.clone(),
        out: tree.and_then(|tree| tree.out.clone()),
        templates: tree.and_then(|tree| tree.templates.clone()),
        strict: users.strict,
        vault: users.vault.flags(),
        namespaces: crate::plan::lifecycle::NamespaceOptIns {
            destroy: namespaces.map_or_else(Vec::new, |n| n.destroy_namespace.clone()),
            forget: namespaces.map_or_else(Vec::new, |n| n.forget_released.clone()),
        },
        rebuild_record,
    })
}

/// Runs one parsed command line; returns the exit status.
pub fn run(cli: &Cli, style: Style) -> Result<u8> {
    let (users, tree, namespaces, format) = match &cli.command {
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "tenantgen", &mut script);
            return print_bytes(&script, "the completion script");
        }
        Command::Man => return print_bytes(&man_page()?, "the man page"),
        Command::Users { action } => return users::run(action, style),
        Command::Render {
            users,
            tree,
            namespaces,
            ..
        } => (users, Some(tree), Some(namespaces), Format::Text),
        Command::Diff {
            users,
            tree,
            namespaces,
            format,
            ..
        }
        | Command::Check {
            users,
            tree,
            namespaces,
            format,
            ..
        } => (users, Some(tree), Some(namespaces), format.format),
        Command::Validate { users, .. } => (users, None, None, Format::Text),
        Command::Access { users, format, .. } => (users, None, None, format.format),
    };
    let rebuild_record = matches!(
        cli.command,
        Command::Render {
            rebuild_record: true,
            ..
        }
    );
    let options = options(users, tree, namespaces, rebuild_record)?;
    if let Command::Check { offline: true, .. } = cli.command {
        return check_offline(&options, format, style);
    }
    // Held from before the tree (and its render record) is read until after
    // it is written; an unfinished write is settled before anything reads it.
    let session = match cli.command {
        Command::Validate { .. } | Command::Access { .. } => None,
        _ => {
            let (_, out_root) = crate::output_root(&options)?;
            let writes = matches!(cli.command, Command::Render { .. });
            let session = Session::open(&out_root, command_name(&cli.command), writes)?;
            if session.settled {
                eprintln!(
                    "note: settled a write that an earlier run left unfinished in {}",
                    root_label(&out_root)
                );
            }
            Some(session)
        }
    };
    let mut loaded = crate::load(&options).inspect_err(|err| {
        // Found in the same pass as the errors, so fixed in the same edit.
        if let Some(invalid) = err.downcast_ref::<crate::model::Invalid>() {
            for warning in &invalid.warnings {
                eprintln!("{} {warning}", style.warning_prefix());
            }
        }
    })?;
    for warning in &loaded.validated.warnings {
        eprintln!("{} {warning}", style.warning_prefix());
    }
    guard(&cli.command, &loaded, style)?;
    if !loaded.record_notes.is_empty() {
        eprintln!(
            "{} rebuilding the render record of {} (--rebuild-record):",
            style.warning_prefix(),
            root_label(&loaded.out_root)
        );
        for note in &loaded.record_notes {
            eprintln!("  - {note}");
        }
    }
    let Some(session) = session else {
        return match &cli.command {
            Command::Access {
                only, templates, ..
            } => access(&loaded, only, templates, &options, format),
            _ => validate(&loaded),
        };
    };
    let templates = options
        .templates
        .as_ref()
        .map(|dir| options.working_dir.join(dir));
    let Compared { changes, manifest } = session.compare(&mut loaded, templates.as_deref())?;
    let view = View {
        loaded: &loaded,
        manifest: &manifest,
        changes: &changes,
        label: root_label(&loaded.out_root),
        style,
        templates: templates.as_deref(),
        summary: std::cell::OnceCell::new(),
    };
    match cli.command {
        Command::Render {
            yes, force, review, ..
        } => render(&view, yes, force, review),
        Command::Diff { review, .. } => view.show("diff", format, review),
        Command::Check { review, .. } => check(&view, format, review),
        // Returned earlier, before the tree was read.
        Command::Validate { .. }
        | Command::Access { .. }
        | Command::Users { .. }
        | Command::Completions { .. }
        | Command::Man => Ok(OK),
    }
}

/// The guard against revoking everyone: `render` and `check` refuse (so a
/// pull request that empties the users fails CI as a render would), `diff`
/// warns and shows the diff.
fn guard(command: &Command, loaded: &Loaded, style: Style) -> Result<()> {
    let (allowed, refuses) = match command {
        Command::Render { guard, .. } | Command::Check { guard, .. } => {
            (guard.allow_removals, true)
        }
        Command::Diff { guard, .. } => (guard.allow_removals, false),
        _ => return Ok(()),
    };
    let verdict = crate::guard::judge(
        loaded.previous.as_ref(),
        &loaded.validated.tenants,
        &loaded.config.guard,
        allowed,
        &loaded.origin.describe(),
    );
    match verdict {
        crate::guard::Verdict::Pass => Ok(()),
        crate::guard::Verdict::Warn(warning) => {
            eprintln!("{} {warning}", style.warning_prefix());
            Ok(())
        }
        crate::guard::Verdict::Refuse(refusal) if refuses => bail!("{refusal}"),
        crate::guard::Verdict::Refuse(refusal) => {
            eprintln!("{} render would refuse: {refusal}", style.warning_prefix());
            Ok(())
        }
    }
}

/// How a confirmation ended.
enum Answer {
    Yes,
    No,
    Interrupted,
}

/// Asks `question` on the terminal before a write of `what`; without a
/// terminal to ask on, refuses (the caller's `--yes` skips the question).
fn ask(question: &str, what: &str) -> Result<Answer> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "not writing without confirmation: there is no terminal to ask on; re-run with --yes to write {what}"
        );
    }
    // Held from before the question shows, so an early Ctrl-C is caught too.
    let signals = write::DeferredSignals::install();
    print!("\n{question} [y/N] ");
    terminal::out().flush()?;
    Ok(match read_answer(signals)? {
        Some(answer) if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES") => Answer::Yes,
        Some(_) => {
            println!("Nothing written.");
            Answer::No
        }
        None => {
            eprintln!("\ninterrupted; nothing written");
            Answer::Interrupted
        }
    })
}

/// The answer to the confirmation prompt, or `None` when SIGINT, SIGTERM
/// or SIGHUP came first (held back by `signals` since before the question): the command then returns like a "no", so the lock
/// is released and an output root this run created is removed.
fn read_answer(signals: write::DeferredSignals) -> Result<Option<String>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    // A blocking read resumes after a signal; a thread lets the wait notice it.
    std::thread::spawn(move || {
        let mut answer = String::new();
        let read = std::io::stdin().lock().read_line(&mut answer);
        let _ = sender.send(read.map(|_| answer));
    });
    loop {
        match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(read) if !signals.arrived() => {
                signals.finish();
                return Ok(Some(
                    read.context("cannot read the answer from the terminal")?,
                ));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !signals.arrived() => {}
            // The signal arrived, or the reader is gone without an answer.
            _ => {
                return Ok(if signals.finish() {
                    None
                } else {
                    Some(String::new())
                });
            }
        }
    }
}

/// Writes `bytes` to stdout; a reader that stops early is not an error.
fn print_bytes(bytes: &[u8], what: &str) -> Result<u8> {
    let mut out = terminal::out();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context(format!("cannot write {what} to standard output")))
        }
        _ => Ok(OK),
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Render { .. } => "render",
        Command::Diff { .. } => "diff",
        Command::Check { .. } => "check",
        Command::Validate { .. } => "validate",
        Command::Access { .. } => "access",
        Command::Users { .. } => "users",
        Command::Completions { .. } => "completions",
        Command::Man => "man",
    }
}

/// `tenantgen access`: who can do what, from the plan of the current users.
fn access(
    loaded: &Loaded,
    only: &[String],
    templates: &Option<PathBuf>,
    options: &Options,
    format: Format,
) -> Result<u8> {
    let templates = templates.as_ref().map(|dir| options.working_dir.join(dir));
    let (plan, mut report) = crate::access_report(loaded, templates.as_deref())?;
    if !only.is_empty() {
        let known: BTreeSet<String> = plan.roles.keys().cloned().collect();
        let unknown: Vec<&String> = only.iter().filter(|user| !known.contains(*user)).collect();
        if let Some(first) = unknown.first() {
            bail!(
                "no user {first:?} in k8s_users ({}); run `tenantgen access` without names to see everyone",
                loaded.origin.describe()
            );
        }
        report = report.only(&only.iter().cloned().collect());
    }
    match format {
        Format::Json => print!("{}", report.to_json()),
        Format::Text => print!("{}", report.to_text()),
    }
    Ok(OK)
}

fn validate(loaded: &Loaded) -> Result<u8> {
    let users = &loaded.validated.tenants.users;
    let namespaces: usize = users.iter().map(|user| user.namespaces.len()).sum();
    println!(
        "k8s_users is valid: {}, {}, {}",
        count(users.len(), "user"),
        count(namespaces, "namespace"),
        count(
            users.iter().map(|user| user.domains.len()).sum::<usize>(),
            "domain"
        )
    );
    Ok(OK)
}

/// The output root as the user would write it.
fn root_label(root: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    root.strip_prefix(&cwd)
        .unwrap_or(root)
        .display()
        .to_string()
}

/// Everything the diff-showing commands print from.
struct View<'a> {
    loaded: &'a Loaded,
    manifest: &'a Manifest,
    changes: &'a Changes,
    label: String,
    style: Style,
    /// `--templates`, whose grants beyond the built-in templates the summary lists.
    templates: Option<&'a Path>,
    /// Computed once: `render` prints it and repeats its counts at the prompt.
    summary: std::cell::OnceCell<summary::Summary>,
}

impl View<'_> {
    fn summary(&self) -> &summary::Summary {
        self.summary.get_or_init(|| {
            let mut summary = summary::summarise(self.changes, self.manifest, &self.loaded.config);
            if let Some(dir) = self.templates {
                summary.template_override_grants =
                    crate::template_override_grants(self.loaded, dir);
            }
            summary
        })
    }

    /// Prints the diffs, then the summary, so the summary is the last thing
    /// above a prompt, as Terraform ends a plan; returns the `diff` exit status.
    fn show(&self, command: &str, format: Format, review: Review) -> Result<u8> {
        let has_changes = self.changes.has_changes();
        if format == Format::Text && !has_changes {
            println!("No changes: {} is up to date.", self.label);
            return Ok(OK);
        }
        if format == Format::Json {
            let mut out = std::io::BufWriter::new(terminal::out());
            let summary = has_changes.then(|| self.summary());
            let printed =
                report::write_json_changes(&mut out, command, self.changes, summary, &self.label);
            stdout_written(printed.and_then(|()| out.flush()))?;
        } else {
            self.show_diffs(review)?;
            let mut out = terminal::out();
            let summary = report::summary(self.summary(), self.style);
            stdout_written(
                writeln!(out)
                    .and_then(|()| out.write_all(summary.as_bytes()))
                    .and_then(|()| out.flush()),
            )?;
        }
        Ok(if has_changes { DIFFERS } else { OK })
    }

    /// The file diffs: through the pager on a terminal, as git pages its
    /// output, so the summary printed after them stays in view.
    fn show_diffs(&self, review: Review) -> Result<()> {
        let write = |out: &mut dyn Write| {
            let mut out = std::io::BufWriter::new(out);
            report::write_file_diffs(
                &mut out,
                self.changes,
                &self.label,
                self.style,
                review.show_record,
            )
            .and_then(|()| out.flush())
        };
        let pager = (!review.no_pager && terminal::out_is_terminal())
            .then(pager_command)
            .flatten();
        // Ctrl-C in the pager belongs to the pager: tenantgen must not die
        // and leave it reading the terminal. Nothing is written before the
        // prompt, where Ctrl-C works again.
        let _interrupts = pager.is_some().then(IgnoredInterrupts::start).flatten();
        // A pager that cannot be started leaves the diffs on stdout, as in git.
        let child =
            pager.and_then(|(mut command, shown)| command.spawn().ok().map(|child| (child, shown)));
        let Some((mut child, shown)) = child else {
            return stdout_written(write(&mut terminal::out()));
        };
        let written = match child.stdin.take() {
            Some(stdin) => write(&mut terminal::Terminal::new(stdin)),
            None => Ok(()),
        };
        // The pager owns the terminal until it exits; only then the summary.
        let waited = child.wait();
        match written {
            // Quitting the pager before the end is not an error.
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(anyhow::Error::new(err).context(format!(
                    "cannot write the diff to the pager {shown}; re-run with --no-pager"
                )));
            }
            _ => {}
        }
        waited.with_context(|| format!("the pager {shown} did not run; re-run with --no-pager"))?;
        Ok(())
    }
}

/// A write to stdout; a reader that stops early (`tenantgen diff | head`)
/// is not an error.
fn stdout_written(result: std::io::Result<()>) -> Result<()> {
    match result {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(err).context("cannot write the diff to standard output"))
        }
        _ => Ok(()),
    }
}

fn render(view: &View<'_>, yes: bool, force: bool, review: Review) -> Result<u8> {
    if view.show("render", Format::Text, review)? == OK {
        return Ok(OK);
    }
    let label = &view.label;
    let edited: Vec<String> = view
        .changes
        .hand_edited()
        .map(|file| format!("  {label}/{}", file.path))
        .collect();
    if !edited.is_empty() && !force {
        bail!(
            "{} edited by hand (content no longer matching the hash in the header):\n{}\nhint: move the change into the users source, tenantgen.hcl or a template override, then run `tenantgen render --force` to overwrite it",
            count(edited.len(), "generated file"),
            edited.join("\n")
        );
    }
    if !yes {
        let files = &view.summary().files;
        let question = format!(
            "Write these changes to {label} ({}: {} added, {} changed, {} deleted)?",
            count(files.added + files.modified + files.deleted, "file"),
            files.added,
            files.modified,
            files.deleted
        );
        match ask(&question, "these changes")? {
            Answer::Yes => {}
            Answer::No => return Ok(ERROR),
            Answer::Interrupted => return Ok(INTERRUPTED),
        }
    }
    if write::apply(&view.loaded.out_root, view.changes)?
        == write::Written::CompletedThenInterrupted
    {
        eprintln!("interrupted; the write had already started and was completed");
        return Ok(INTERRUPTED);
    }
    println!("Wrote {label}.");
    Ok(OK)
}

fn check(view: &View<'_>, format: Format, review: Review) -> Result<u8> {
    if format == Format::Text && !view.changes.has_changes() {
        println!("{} is up to date.", view.label);
        return Ok(OK);
    }
    let status = view.show("check", format, review)?;
    if status == OK || format == Format::Json {
        return Ok(status);
    }
    let style = view.style;
    let edited: Vec<&str> = view
        .changes
        .hand_edited()
        .map(|file| file.path.as_str())
        .collect();
    if !edited.is_empty() {
        eprintln!(
            "{} {} edited by hand: {}",
            style.error_prefix(),
            count(edited.len(), "generated file"),
            edited.join(", ")
        );
    }
    eprintln!(
        "{} {} is not what tenantgen generates from the current users and config; run `tenantgen render` and commit the result",
        style.error_prefix(),
        view.label
    );
    Ok(status)
}

/// `check --offline`: headers and the file set against the render record,
/// without the users source (for CI jobs with no Vault access).
fn check_offline(options: &Options, format: Format, style: Style) -> Result<u8> {
    let (_, out_root) = crate::output_root(options)?;
    let label = root_label(&out_root);
    if !out_root.is_dir() {
        bail!(
            "the output root {label} does not exist; run `tenantgen render` first, or point --out at it"
        );
    }
    let _session = Session::open(&out_root, "check --offline", false)?;
    let problems = diff::verify_offline(&out_root)?;
    if format == Format::Json {
        print!("{}", report::json_offline(&problems, &label));
    } else if problems.is_empty() {
        println!("{label} matches its render record: every generated file is present and intact.");
    } else {
        for problem in &problems {
            // Paths come from the record, which a pull request may write.
            println!(
                "{label}/{}: {}",
                crate::escape::spelled(&problem.path),
                problem.problem.describe()
            );
        }
        eprintln!(
            "{} {label} does not match the record of its last render; run `tenantgen render` (with access to the users) and commit the result",
            style.error_prefix()
        );
    }
    Ok(if problems.is_empty() { OK } else { DIFFERS })
}
