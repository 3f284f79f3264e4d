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

/// Reads the config and the users source and validates the users.
pub fn load(options: &Options) -> Result<Loaded> {
    let (config, _) = Config::discover(options.config.as_deref(), &options.working_dir)?;
    let out_root = match &options.out {
        Some(out) => options.working_dir.join(out),
        None => config.out.clone(),
    };
    let users_file = match (&options.users, &config.users_file) {
        (Some(users), _) => options.working_dir.join(users),
        (None, Some(users_file)) => users_file.clone(),
        (None, None) => bail!(
            "no users source: pass --users FILE, or set users_file in {}",
            config::DEFAULT_FILE
        ),
    };
    let raw = source::read_file(&users_file)?;
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
    let rendered = render::render(&plan, &templates)?;
    let mut files = verify::verify(rendered)?;
    let manifest = Manifest::new(&loaded.raw.origin, &loaded.validated.tenants, &files);
    files.push(manifest.to_file()?);
    Ok(Generation { files, manifest })
}
