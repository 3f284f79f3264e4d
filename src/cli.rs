//! The command line: clap types mapped onto [`crate::Options`], one function
//! per command, exit codes as documented in the README.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::diff::{self, Changes};
use crate::manifest::Manifest;
use crate::problem::count;
use crate::report::{self, Style};
use crate::source::vault::VaultFlags;
use crate::summary;
use crate::write::{self, Lock};
use crate::{Loaded, Options};

#[derive(Debug, Parser)]
#[command(
    name = "tenantgen",
    version,
    about = "Render a platform's k8s_users tenant map into deterministic, reviewable Terraform",
    long_about = None,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Config file [default: ./tenantgen.hcl when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Users file (the k8s_users JSON map); overrides users_file
    #[arg(long, global = true, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Output root; overrides out
    #[arg(long, global = true, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder of template overrides, named like the built-in templates
    #[arg(long, global = true, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Treat unknown fields in the users map as errors
    #[arg(long, global = true)]
    pub strict: bool,
    /// When to colour the output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Let Terraform delete this namespace (and its data) instead of releasing it; repeatable
    #[arg(long, global = true, value_name = "NAMESPACE")]
    pub destroy_namespace: Vec<String>,
    /// Drop an applied release or re-adoption from the record and the generated blocks; repeatable
    #[arg(long, global = true, value_name = "NAMESPACE")]
    pub forget_released: Vec<String>,
    /// Output of diff and check: text for people, json for tools
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Read the users from Vault KV v2 (vault block of the config, VAULT_* variables)
    #[arg(long, global = true, conflicts_with = "users")]
    pub vault: bool,
    /// Vault address; overrides vault.address and VAULT_ADDR
    #[arg(long, global = true, value_name = "URL")]
    pub vault_addr: Option<String>,
    /// Vault namespace; overrides vault.namespace and VAULT_NAMESPACE
    #[arg(long, global = true, value_name = "NAMESPACE")]
    pub vault_namespace: Option<String>,
    /// CA certificate (PEM) that signed Vault's certificate; overrides VAULT_CACERT
    #[arg(long, global = true, value_name = "FILE")]
    pub vault_cacert: Option<PathBuf>,
    /// Do not verify Vault's TLS certificate (dev servers only)
    #[arg(long, global = true)]
    pub vault_skip_verify: bool,
    /// Read this version of the secret instead of the latest
    #[arg(long, global = true, value_name = "N")]
    pub vault_version: Option<u64>,
    /// Give up on Vault requests after this many seconds [default: vault.timeout or 10]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub vault_timeout: Option<u64>,
}

impl Common {
    /// The Vault overrides, when the users come from Vault.
    fn vault_flags(&self) -> Option<VaultFlags> {
        let flags = VaultFlags {
            address: self.vault_addr.clone(),
            namespace: self.vault_namespace.clone(),
            ca_cert: self.vault_cacert.clone(),
            skip_verify: self.vault_skip_verify,
            version: self.vault_version,
            timeout: self.vault_timeout.map(Duration::from_secs),
        };
        let any_flag = flags.address.is_some()
            || flags.namespace.is_some()
            || flags.ca_cert.is_some()
            || flags.skip_verify
            || flags.version.is_some()
            || flags.timeout.is_some();
        (self.vault || any_flag).then_some(flags)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the diff and a summary, ask, then write the generated files
    Render {
        /// Write without asking
        #[arg(long, short)]
        yes: bool,
        /// Overwrite or delete generated files that were edited by hand
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        review: Review,
    },
    /// Show what render would change; exit 0 when nothing, 2 when something would change
    Diff {
        #[command(flatten)]
        review: Review,
    },
    /// For CI: exit 0 when the generated files are up to date, 2 when stale or hand-edited
    Check {
        /// Without reading the users: check headers and the file set against the last render's record
        #[arg(long)]
        offline: bool,
        #[command(flatten)]
        review: Review,
    },
    /// Validate the users and the config only
    Validate,
    /// Print a shell completion script, e.g. `tenantgen completions bash > /etc/bash_completion.d/tenantgen`
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), e.g. `tenantgen man > /usr/local/share/man/man1/tenantgen.1`
    Man,
}

/// How the commands that show diffs show them.
#[derive(Debug, Clone, Copy, Args)]
pub struct Review {
    /// Print the diffs straight to stdout instead of through PAGER (default `less`) on a terminal
    #[arg(long)]
    pub no_pager: bool,
    /// Show the render record's (.tenantgen.json) own diff instead of one line
    #[arg(long)]
    pub show_record: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Exit status: success.
const OK: u8 = 0;
/// Exit status: an error, nothing written.
const ERROR: u8 = 1;
/// Exit status of `diff` and `check` when the tree differs.
const DIFFERS: u8 = 2;

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = Style {
        color: use_color(cli.common.color),
    };
    match run(&cli, style) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("{} {err:#}", style.error_prefix());
            ExitCode::from(ERROR)
        }
    }
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                && std::env::var("TERM").map_or(true, |term| term != "dumb")
        }
    }
}

fn options(common: &Common) -> Result<Options> {
    Ok(Options {
        working_dir: std::env::current_dir()?,
        config: common.config.clone(),
        users: common.users.clone(),
        out: common.out.clone(),
        templates: common.templates.clone(),
        strict: common.strict,
        vault: common.vault_flags(),
        namespaces: crate::plan::lifecycle::NamespaceOptIns {
            destroy: common.destroy_namespace.clone(),
            forget: common.forget_released.clone(),
        },
    })
}

/// Runs one parsed command line; returns the exit status.
pub fn run(cli: &Cli, style: Style) -> Result<u8> {
    match cli.command {
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tenantgen", &mut script);
            return print_bytes(&script, "the completion script");
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            return print_bytes(&page, "the man page");
        }
        _ => {}
    }
    let options = options(&cli.common)?;
    let format = cli.common.format;
    if let Command::Check { offline: true, .. } = cli.command {
        return check_offline(&options, format, style);
    }
    let mut loaded = crate::load(&options)?;
    for warning in &loaded.validated.warnings {
        eprintln!("{} {warning}", style.warning_prefix());
    }
    if let Command::Validate = cli.command {
        return validate(&loaded);
    }
    let templates = options
        .templates
        .as_ref()
        .map(|dir| options.working_dir.join(dir));
    let writes = matches!(cli.command, Command::Render { .. });
    // Held from before the tree is read until after it is written.
    let _guard = guard_tree(&loaded.out_root, command_name(&cli.command), writes)?;
    // The record was read once, at load; planning has what it needs from it.
    let previous = loaded.previous.take();
    let mut comparison = diff::Comparison::start(&loaded.out_root, previous)?;
    let manifest =
        crate::generate_each(&loaded, templates.as_deref(), |file| comparison.add(file))?;
    let changes = comparison.finish()?;
    refuse_conflicts(&changes, &loaded.out_root)?;
    let view = View {
        loaded: &loaded,
        manifest: &manifest,
        changes: &changes,
        label: root_label(&loaded.out_root),
        style,
        summary: std::cell::OnceCell::new(),
    };
    match cli.command {
        Command::Render { yes, force, review } => render(&view, yes, force, review),
        Command::Diff { review } => view.show("diff", format, review),
        Command::Check { review, .. } => check(&view, format, review),
        // Returned earlier, before the tree was read.
        Command::Validate | Command::Completions { .. } | Command::Man => Ok(OK),
    }
}

/// Writes `bytes` to stdout; a reader that stops early is not an error.
fn print_bytes(bytes: &[u8], what: &str) -> Result<u8> {
    let mut out = std::io::stdout().lock();
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
        Command::Validate => "validate",
        Command::Completions { .. } => "completions",
        Command::Man => "man",
    }
}

/// The output root's lock, and the root itself when this run created it.
struct TreeGuard {
    lock: Option<Lock>,
    created_root: Option<PathBuf>,
}

impl Drop for TreeGuard {
    /// A run that wrote nothing leaves no empty root behind; `remove_dir`
    /// removes only an empty directory, so written output stays.
    fn drop(&mut self) {
        drop(self.lock.take());
        if let Some(root) = &self.created_root {
            let _ = std::fs::remove_dir(root);
        }
    }
}

/// Takes the output root's lock for the rest of the command, and settles a
/// write an earlier run left unfinished. Read-only commands lock when they
/// can, so they never see a write half-way, and never create the root.
fn guard_tree(root: &Path, command: &str, writes: bool) -> Result<TreeGuard> {
    if root.exists() && !root.is_dir() {
        bail!(
            "the output root {} is not a directory; point --out or `out` at a directory",
            root.display()
        );
    }
    let mut guard = TreeGuard {
        lock: None,
        created_root: None,
    };
    if writes {
        if !root.exists() {
            guard.created_root = Some(root.to_path_buf());
        }
        std::fs::create_dir_all(root).with_context(|| {
            format!(
                "cannot create the output root {}; check its parent's permissions",
                root.display()
            )
        })?;
    } else if !root.exists() {
        return Ok(guard);
    }
    guard.lock = match Lock::acquire(root, command) {
        Ok(lock) => Some(lock),
        Err(err) if writes || is_busy(&err) => return Err(err),
        // A read-only checkout cannot hold a lock file; reading is still safe enough.
        Err(_) => None,
    };
    if root.join(write::JOURNAL).exists() {
        if !writes {
            bail!(
                "an interrupted `tenantgen render` left {} unfinished ({} exists); run `tenantgen render` to settle it first",
                root.display(),
                write::JOURNAL
            );
        }
        write::recover(root)?;
        eprintln!(
            "note: settled a write that an earlier run left unfinished in {}",
            root.display()
        );
    }
    Ok(guard)
}

fn is_busy(err: &anyhow::Error) -> bool {
    err.to_string()
        .contains("is locked by another tenantgen run")
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

/// Hand-written files in the way are never overwritten, whatever the flags.
fn refuse_conflicts(changes: &Changes, root: &Path) -> Result<()> {
    if changes.conflicts.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = changes
        .conflicts
        .iter()
        .map(|path| format!("  {}/{path}", root.display()))
        .collect();
    bail!(
        "these paths are in the way of generated files and tenantgen will not touch them:\n{}\nmove or rename them (tenantgen never overwrites hand-written files or writes through symlinks); nothing was written",
        paths.join("\n")
    )
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
    /// Computed once: `render` prints it and repeats its counts at the prompt.
    summary: std::cell::OnceCell<summary::Summary>,
}

impl View<'_> {
    fn summary(&self) -> &summary::Summary {
        self.summary
            .get_or_init(|| summary::summarise(self.changes, self.manifest, &self.loaded.config))
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
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = has_changes.then(|| self.summary());
            let printed =
                report::write_json_changes(&mut out, command, self.changes, summary, &self.label);
            stdout_written(printed.and_then(|()| out.flush()))?;
        } else {
            self.show_diffs(review)?;
            let mut out = std::io::stdout().lock();
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
        let pager = (!review.no_pager && std::io::stdout().is_terminal())
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
            return stdout_written(write(&mut std::io::stdout().lock()));
        };
        let written = match child.stdin.take() {
            Some(mut stdin) => write(&mut stdin),
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

/// Characters that make git run a pager command through the shell.
const SHELL_SPECIAL: &str = "|&;<>()$`\\\"' \t\n*?[#~=%";

/// The pager as git starts it: `PAGER`, `less` when unset, with `LESS=FRX`
/// (quit when the text fits one screen, pass colours, keep the text on the
/// screen) and `LV=-c` unless they are set; none when `PAGER` is empty,
/// `cat` or not UTF-8. Returns the command and how to name it in messages.
fn pager_command() -> Option<(std::process::Command, String)> {
    let pager = match std::env::var_os("PAGER") {
        None => "less".to_string(),
        Some(value) => value.into_string().ok()?,
    };
    let pager = pager.trim();
    if pager.is_empty() || pager == "cat" {
        return None;
    }
    // A plain program name runs directly, so a missing one fails to start
    // and the diffs go to stdout instead of into a shell's error.
    let mut command = if pager.contains(|c: char| SHELL_SPECIAL.contains(c)) {
        let mut shell = std::process::Command::new("sh");
        shell.arg("-c").arg(pager);
        shell
    } else {
        std::process::Command::new(pager)
    };
    for (name, value) in [("LESS", "FRX"), ("LV", "-c")] {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    command.stdin(std::process::Stdio::piped());
    // SAFETY: `signal` is async-signal-safe; the pager gets the default
    // SIGINT that tenantgen ignores while it runs (see `IgnoredInterrupts`).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    Some((command, format!("`{pager}` (PAGER)")))
}

/// SIGINT ignored until dropped, then handled as before.
struct IgnoredInterrupts(libc::sigaction);

impl IgnoredInterrupts {
    fn start() -> Option<IgnoredInterrupts> {
        // SAFETY: plain sigaction calls on zero-initialised C structs.
        unsafe {
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            let mut previous: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(libc::SIGINT, &ignore, &mut previous) == 0)
                .then_some(IgnoredInterrupts(previous))
        }
    }
}

impl Drop for IgnoredInterrupts {
    fn drop(&mut self) {
        // SAFETY: restores the action saved by `start`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.0, std::ptr::null_mut());
        }
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
            "{} edited by hand (content no longer matching the hash in the header):\n{}\nmove the change into the users source, tenantgen.hcl or a template override, then run `tenantgen render --force` to overwrite it; nothing was written",
            count(edited.len(), "generated file"),
            edited.join("\n")
        );
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not writing without confirmation: there is no terminal to ask on; re-run with --yes to write these changes"
            );
        }
        let files = &view.summary().files;
        print!(
            "\nWrite these changes to {label} ({}: {} added, {} changed, {} deleted)? [y/N] ",
            count(files.added + files.modified + files.deleted, "file"),
            files.added,
            files.modified,
            files.deleted
        );
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES") {
            println!("Nothing written.");
            return Ok(ERROR);
        }
    }
    write::apply(&view.loaded.out_root, view.changes)?;
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
    let _guard = guard_tree(&out_root, "check --offline", false)?;
    let problems = diff::verify_offline(&out_root)?;
    if format == Format::Json {
        print!("{}", report::json_offline(&problems, &label));
    } else if problems.is_empty() {
        println!("{label} matches its render record: every generated file is present and intact.");
    } else {
        for problem in &problems {
            println!("{label}/{}: {}", problem.path, problem.problem.describe());
        }
        eprintln!(
            "{} {label} does not match the record of its last render; run `tenantgen render` (with access to the users) and commit the result",
            style.error_prefix()
        );
    }
    Ok(if problems.is_empty() { OK } else { DIFFERS })
}
