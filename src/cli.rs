//! The command line: clap types mapped onto [`crate::Options`], one function
//! per command, exit codes as documented in the README.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diff::{self, Changes};
use crate::report::{self, Style};
use crate::source::vault::VaultFlags;
use crate::summary;
use crate::{Generation, Loaded, Options};

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
    },
    /// Show what render would change; exit 0 when nothing, 2 when something would change
    Diff,
    /// For CI: exit 0 when the generated files are up to date, 2 when stale or hand-edited
    Check,
    /// Validate the users and the config only
    Validate,
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
    })
}

/// Runs one parsed command line; returns the exit status.
pub fn run(cli: &Cli, style: Style) -> Result<u8> {
    let options = options(&cli.common)?;
    let loaded = crate::load(&options)?;
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
    let generation = crate::generate(&loaded, templates.as_deref())?;
    let changes = diff::compare(&loaded.out_root, &generation.files)?;
    refuse_conflicts(&changes, &loaded)?;
    match cli.command {
        Command::Render { yes, force } => render(&loaded, &generation, &changes, yes, force, style),
        Command::Diff => Ok(show(&loaded, &generation, &changes, style)),
        Command::Check => check(&loaded, &generation, &changes, style),
        Command::Validate => Ok(OK),
    }
}

fn validate(loaded: &Loaded) -> Result<u8> {
    let users = &loaded.validated.tenants.users;
    let namespaces: usize = users.iter().map(|user| user.namespaces.len()).sum();
    println!(
        "k8s_users is valid: {} users, {} namespaces, {} domains",
        users.len(),
        namespaces,
        users.iter().map(|user| user.domains.len()).sum::<usize>()
    );
    Ok(OK)
}

/// Hand-written files in the way are never overwritten, whatever the flags.
fn refuse_conflicts(changes: &Changes, loaded: &Loaded) -> Result<()> {
    if changes.conflicts.is_empty() {
        return Ok(());
    }
    let root = loaded.out_root.display();
    let paths: Vec<String> = changes
        .conflicts
        .iter()
        .map(|path| format!("  {root}/{path}"))
        .collect();
    bail!(
        "these files are in the way of generated files but were not generated by tenantgen:\n{}\nmove or rename them (tenantgen never overwrites hand-written files); nothing was written",
        paths.join("\n")
    )
}

fn root_label(loaded: &Loaded) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    loaded
        .out_root
        .strip_prefix(&cwd)
        .unwrap_or(&loaded.out_root)
        .display()
        .to_string()
}

/// Prints the summary and diffs; returns the `diff` exit status.
fn show(loaded: &Loaded, generation: &Generation, changes: &Changes, style: Style) -> u8 {
    let label = root_label(loaded);
    if !changes.has_changes() {
        println!("No changes: {label} is up to date.");
        return OK;
    }
    let summary = summary::summarise(changes, &generation.manifest, &loaded.config);
    print!("{}", report::file_diffs(changes, &label, style));
    println!();
    print!("{}", report::summary(&summary, style));
    DIFFERS
}

fn render(
    loaded: &Loaded,
    generation: &Generation,
    changes: &Changes,
    yes: bool,
    force: bool,
    style: Style,
) -> Result<u8> {
    if show(loaded, generation, changes, style) == OK {
        return Ok(OK);
    }
    let label = root_label(loaded);
    let edited: Vec<String> = changes
        .hand_edited()
        .map(|file| format!("  {label}/{}", file.path))
        .collect();
    if !edited.is_empty() && !force {
        bail!(
            "these generated files were edited by hand (their content no longer matches the hash in their header):\n{}\nmove the change into the users source, tenantgen.hcl or a template override, then run `tenantgen render --force` to overwrite them; nothing was written",
            edited.join("\n")
        );
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "not writing without confirmation: there is no terminal to ask on; re-run with --yes to write these changes"
            );
        }
        print!("\nWrite these changes to {label}? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES") {
            println!("Nothing written.");
            return Ok(ERROR);
        }
    }
    crate::write::apply(&loaded.out_root, changes)?;
    println!("Wrote {label}.");
    Ok(OK)
}

fn check(loaded: &Loaded, generation: &Generation, changes: &Changes, style: Style) -> Result<u8> {
    let label = root_label(loaded);
    if !changes.has_changes() {
        println!("{label} is up to date.");
        return Ok(OK);
    }
    let status = show(loaded, generation, changes, style);
    let edited: Vec<&str> = changes
        .hand_edited()
        .map(|file| file.path.as_str())
        .collect();
    if !edited.is_empty() {
        eprintln!(
            "{} generated files edited by hand: {}",
            style.error_prefix(),
            edited.join(", ")
        );
    }
    eprintln!(
        "{} {label} is not what tenantgen generates from the current users and config; run `tenantgen render` and commit the result",
        style.error_prefix()
    );
    Ok(status)
}
