//! tenantgen turns a platform's `k8s_users` map into deterministic,
//! reviewable Terraform.
//!
//! The pipeline, one module per stage, data flowing one way:
//! [`source`] → [`model`] → [`plan`] → [`render`] → [`verify`] → [`diff`] → [`write`].
//! `render`, `diff` and `check` share every stage up to [`diff`].

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

pub mod cli;
pub mod config;
pub mod confine;
pub mod diff;
pub mod escape;
pub mod header;
pub mod manifest;
pub mod model;
pub mod names;
pub mod plan;
pub mod quantity;
pub mod render;
pub mod report;
pub mod source;
pub mod summary;
pub mod tffmt;
pub mod verify;
pub mod write;

use config::Config;
use manifest::Manifest;
use model::Validated;
use source::RawUsers;
use verify::GeneratedFile;

/// What the command line (or a test) asks for, free of clap.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Directory relative paths on the command line are resolved against.
    pub working_dir: PathBuf,
    pub config: Option<PathBuf>,
    pub users: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub strict: bool,
    /// Read the users from Vault, with these overrides.
    pub vault: Option<source::vault::VaultFlags>,
}

/// Configuration and validated tenants: everything before planning.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub out_root: PathBuf,
    pub raw: RawUsers,
    pub validated: Validated,
}

/// Every file of a render, the render record last.
#[derive(Debug)]
pub struct Generation {
    pub files: Vec<GeneratedFile>,
    pub manifest: Manifest,
}

/// Reads the config and decides the output root (`--out` wins over `out`).
pub fn output_root(options: &Options) -> Result<(Config, PathBuf)> {
    let (config, _) = Config::discover(options.config.as_deref(), &options.working_dir)?;
    let out_root = match &options.out {
        Some(out) => options.working_dir.join(out),
        None => config.out.clone(),
    };
    Ok((config, out_root))
}

/// Reads the config and the users source and validates the users.
pub fn load(options: &Options) -> Result<Loaded> {
    let (config, out_root) = output_root(options)?;
    let raw = match (&options.users, &options.vault, &config.users_file) {
        (Some(_), Some(_), _) => {
            bail!("--users and --vault both name a users source; pass only one")
        }
        (Some(users), None, _) => source::read_file(&options.working_dir.join(users))?,
        (None, None, Some(users_file)) => source::read_file(users_file)?,
        // Without a file, Vault is the source (SPEC §3).
        (None, flags, _) => {
            let flags = flags.clone().unwrap_or_default();
            let env = |name: &str| std::env::var(name).ok();
            let settings = source::vault::Settings::resolve(&config.vault, &flags, &env).map_err(|err| {
                if options.vault.is_some() {
                    err
                } else {
                    err.context(format!(
                        "no users file is set, so the users are read from Vault; pass --users FILE or set users_file in {} to read a file",
                        config::DEFAULT_FILE
                    ))
                }
            })?;
            source::vault::read(&settings)?
        }
    };
    let validated = model::build(&raw, &config, options.strict)?;
    Ok(Loaded {
        config,
        out_root,
        raw,
        validated,
    })
}

/// Plans, renders and verifies every file for the loaded tenants.
pub fn generate(loaded: &Loaded, templates_dir: Option<&Path>) -> Result<Generation> {
    let templates = render::Templates::load(templates_dir)?;
    let plan = plan::build(&loaded.validated.tenants, &loaded.config);
    if let Err(problems) = plan::check(&plan, &loaded.config.woodpecker.static_admins) {
        bail!(
            "the plan failed tenantgen's own consistency check; this is a tenantgen bug, please report it with this output:\n  - {}\nnothing was written",
            problems.join("\n  - ")
        );
    }
    let rendered = render::render(&plan, &templates)?;
    let mut files = verify::verify(rendered)?;
    let manifest = Manifest::new(&loaded.raw.origin, &loaded.validated.tenants, &files);
    files.push(manifest.to_file()?);
    Ok(Generation { files, manifest })
}
