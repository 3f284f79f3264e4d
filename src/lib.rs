//! tenantgen turns a platform's `k8s_users` map into deterministic,
//! reviewable Terraform.
//!
//! The pipeline, one module per stage, data flowing one way:
//! [`source`] → [`model`] → [`plan`] → [`render`] → [`verify`] → [`diff`] → [`write`].
//! `render`, `diff` and `check` share every stage up to [`diff`].

// Output goes through src/cli/terminal.rs, which spells out control
// characters; the std print macros would go around it.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

pub mod access;
pub mod addon;
pub mod budget;
pub mod builtin_roles;
pub mod cli;
pub mod config;
pub mod confine;
pub mod diff;
pub mod escape;
pub mod guard;
pub mod header;
pub mod manifest;
pub mod model;
pub mod names;
pub mod plan;
pub mod problem;
pub mod quantity;
pub mod render;
pub mod repo;
pub mod report;
pub mod session;
pub mod source;
pub mod summary;
pub mod tffmt;
pub mod users;
pub mod verify;
pub mod write;

use config::Config;
use manifest::Manifest;
use model::Validated;
use problem::{Problem, Problems};
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
    /// `--destroy-namespace` and `--forget-released`.
    pub namespaces: plan::lifecycle::NamespaceOptIns,
    /// `render --rebuild-record`: stand in for a lost render record with one
    /// rebuilt from the generated files ([`diff::rebuild_record`]).
    pub rebuild_record: bool,
}

/// Configuration and validated tenants: everything before planning.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub out_root: PathBuf,
    /// Where the users came from (the raw entries are dropped once validated).
    pub origin: source::Origin,
    pub validated: Validated,
    /// The record of the last render into the output root, when there is one.
    pub previous: Option<Manifest>,
    /// From that record: the namespaces it managed (namespace → user) and
    /// what happened to namespaces before it.
    pub previous_namespaces: (BTreeMap<String, String>, plan::lifecycle::NamespaceHistory),
    pub namespaces: plan::lifecycle::NamespaceOptIns,
    /// What a rebuilt record recovered and lost, to tell the user; empty
    /// when the record was read.
    pub record_notes: Vec<String>,
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

/// Where the users are kept.
pub enum UsersSource {
    File(PathBuf),
    Vault(Box<source::vault::Settings>),
}

/// The users source the options and config name: `--users`, `--vault`,
/// `users_file`, or else Vault (README, "Reading from Vault").
pub fn users_source(options: &Options, config: &Config) -> Result<UsersSource> {
    Ok(match (&options.users, &options.vault, &config.users_file) {
        (Some(_), Some(_), _) => {
            bail!("--users and --vault both name a users source; pass only one")
        }
        (Some(users), None, _) => {
            let path = options.working_dir.join(users);
            repo::link_stays_beside(&path)
                .map_err(|why| anyhow::anyhow!("users file (--users): {why}"))?;
            UsersSource::File(path)
        }
        (None, None, Some(users_file)) => UsersSource::File(users_file.clone()),
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
            UsersSource::Vault(Box::new(settings))
        }
    })
}

/// A failure that comes with warnings found before it (the Vault settings
/// the config could not choose): the command line shows both. It prints
/// as the failure itself.
#[derive(Debug)]
pub struct Warned {
    pub error: anyhow::Error,
    pub warnings: Vec<Problem>,
}

impl std::fmt::Display for Warned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Warned {}

/// The raw users from the source the options and config name, and the
/// warnings about the Vault settings.
fn read_users(options: &Options, config: &Config) -> Result<(source::RawUsers, Vec<Problem>)> {
    match users_source(options, config)? {
        UsersSource::File(path) => Ok((source::read_file(&path)?, Vec::new())),
        UsersSource::Vault(settings) => match source::vault::read(&settings) {
            Ok(raw) => Ok((raw, settings.warnings.clone())),
            Err(error) if !settings.warnings.is_empty() => Err(Warned {
                error,
                warnings: settings.warnings.clone(),
            }
            .into()),
            Err(error) => Err(error),
        },
    }
}

/// The users map as its source holds it, and validated (`tenantgen users list`).
pub fn load_users(
    options: &Options,
) -> Result<(serde_json::Map<String, serde_json::Value>, Validated)> {
    let (config, _) = Config::discover(options.config.as_deref(), &options.working_dir)?;
    let (raw, warnings) = read_users(options, &config)?;
    let mut validated = model::build(&raw, &config, options.strict)?;
    validated.warnings.extend(warnings);
    Ok((raw.entries.into_iter().collect(), validated))
}

/// Reads the config and the users source and validates the users.
pub fn load(options: &Options) -> Result<Loaded> {
    let (config, out_root) = output_root(options)?;
    let (raw, warnings) = read_users(options, &config)?;
    let mut validated = model::build(&raw, &config, options.strict)?;
    validated.warnings.extend(warnings);
    // The last render's record carries what happened to namespaces before.
    let (previous, previous_namespaces, record_notes) = if options.rebuild_record {
        let rebuilt = diff::rebuild_record(&out_root, &raw.origin, &validated.tenants)?;
        let history = rebuilt.record.namespaces.clone();
        (
            Some(rebuilt.record),
            (rebuilt.managed, history),
            rebuilt.notes,
        )
    } else {
        let previous = diff::previous_record(&out_root)?;
        let namespaces = previous
            .as_ref()
            .map(|record| (record.managed_namespaces(), record.namespaces.clone()))
            .unwrap_or_default();
        (previous, namespaces, Vec::new())
    };
    if let Some(space) = &raw.tenant_space {
        model::check_tenant_space(
            &validated,
            &config,
            space,
            &previous_namespaces.0,
            previous.is_none(),
        )?;
    }
    Ok(Loaded {
        config,
        out_root,
        origin: raw.origin,
        validated,
        previous,
        previous_namespaces,
        namespaces: options.namespaces.clone(),
        record_notes,
    })
}

/// Plans, renders and verifies every file for the loaded tenants.
pub fn generate(loaded: &Loaded, templates_dir: Option<&Path>) -> Result<Generation> {
    let mut files = Vec::new();
    let manifest = generate_each(loaded, templates_dir, |file| {
        files.push(file);
        Ok(())
    })?;
    Ok(Generation { files, manifest })
}

/// [`generate`], handing each file to `emit` as soon as it is verified (the
/// render record last), so a caller that compares files one by one never
/// holds the whole output.
pub fn generate_each(
    loaded: &Loaded,
    templates_dir: Option<&Path>,
    mut emit: impl FnMut(GeneratedFile) -> Result<()>,
) -> Result<Manifest> {
    let templates = templates(loaded, templates_dir)?;
    let mut plan = plan_checked(loaded)?;
    let (jobs, first_addon) = jobs(loaded, &plan);
    let mut hashes = BTreeMap::new();
    let mut declared = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        let Some((file, addon)) = make(&templates, job, index >= first_addon)? else {
            continue;
        };
        hashes.insert(file.path.clone(), header::recorded_hash(&file.contents));
        declared.extend(addon);
        emit(file)?;
    }
    drop(jobs);
    // Add-on files are checked as a whole: the error comes before the record.
    addon::check(&plan, declared)?;
    let manifest = record(loaded, &mut plan, hashes);
    emit(manifest.to_file()?)?;
    Ok(manifest)
}

/// Plans, renders, verifies and compares every file with the tree, on every
/// core: files are independent once planned, and rendering them is most of
/// the work. Returns the render record, compared last.
pub fn generate_compared(
    loaded: &Loaded,
    templates_dir: Option<&Path>,
    comparison: &mut diff::Comparison<'_>,
) -> Result<Manifest> {
    let templates = templates(loaded, templates_dir)?;
    let mut plan = plan_decided(loaded)?;
    let (jobs, first_addon) = jobs(loaded, &plan);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8)
        .min(jobs.len().max(1));
    let judge = |index: usize, job: &render::Job<'_>| -> Result<Option<Verdict>> {
        let Some((file, addon)) = make(&templates, job, index >= first_addon)? else {
            return Ok(None);
        };
        let hash = header::recorded_hash(&file.contents);
        Ok(Some((
            comparison.judge(file)?,
            job.path.clone(),
            hash,
            addon,
        )))
    };
    // Thread `t` takes every `threads`-th file, so big and small files
    // spread evenly; a failure is tagged with its file's place in the plan.
    let (consistency, verdicts) = std::thread::scope(|scope| {
        // The consistency check reads the same plan, beside the renderers.
        let consistency = scope.spawn(|| check_consistency(loaded, &plan));
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let jobs = &jobs;
                let judge = &judge;
                scope.spawn(move || {
                    jobs.iter()
                        .enumerate()
                        .skip(thread)
                        .step_by(threads)
                        .map(|(index, job)| judge(index, job).map_err(|err| (index, err)))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let verdicts: Vec<Result<Vec<_>, (usize, anyhow::Error)>> =
            workers.into_iter().map(joined).collect();
        (joined(consistency), verdicts)
    });
    drop(jobs);
    consistency?;
    // The same failure whatever the number of cores: the plan's first.
    let first_failure = verdicts
        .iter()
        .filter_map(|verdicts| verdicts.as_ref().err())
        .map(|(index, _)| *index)
        .min();
    let mut hashes = BTreeMap::new();
    let mut declared = Vec::new();
    for verdicts in verdicts {
        let verdicts = match verdicts {
            Ok(verdicts) => verdicts,
            Err((index, err)) if Some(index) == first_failure => return Err(err),
            Err(_) => continue,
        };
        for (judged, path, hash, addon) in verdicts.into_iter().flatten() {
            comparison.record(judged);
            hashes.insert(path, hash);
            declared.extend(addon);
        }
    }
    addon::check(&plan, declared)?;
    let manifest = record(loaded, &mut plan, hashes);
    comparison.add(manifest.to_file()?)?;
    Ok(manifest)
}

/// A judged file, its path and hash, and what it declares when it is an add-on file.
type Verdict = (diff::Judged, String, String, Option<addon::Declared>);

/// The built-in templates, their overrides and the add-on templates.
fn templates(loaded: &Loaded, templates_dir: Option<&Path>) -> Result<render::Templates> {
    let mut templates = render::Templates::load(templates_dir)?;
    addon::register(&mut templates, &loaded.config)?;
    Ok(templates)
}

/// Everyone's access: the plan's grants and what the add-on files grant,
/// read back from their rendered text.
pub fn access_report(
    loaded: &Loaded,
    templates_dir: Option<&Path>,
) -> Result<(plan::Plan, access::Report)> {
    let plan = plan::build(&loaded.validated.tenants, &loaded.config);
    let mut report = access::report(&plan);
    let overrides = match templates_dir {
        Some(dir) => access::overrides::found(&plan, &report, dir)?,
        None => access::rendered::Found::default(),
    };
    let mut templates = render::Templates::load(None)?;
    addon::register(&mut templates, &loaded.config)?;
    let owners = addon::owners(&loaded.config, &loaded.validated.tenants);
    let mut texts = Vec::new();
    let mut declared = Vec::new();
    for job in addon::jobs(&loaded.config, &loaded.validated.tenants) {
        let rendered = templates.render_job(&job)?;
        if let Some((name, user)) = owners.get(&rendered.path) {
            let (path, text) = (rendered.path.clone(), rendered.text.clone());
            texts.push((path, name.as_str(), user.as_deref(), text));
        }
        // What render would refuse, access refuses too: its report would
        // describe files that are never written.
        declared.extend(addon::verify(rendered)?.map(|(_, found)| found));
    }
    addon::check(&plan, declared)?;
    let files: Vec<access::rendered::AddonFile<'_>> = texts
        .iter()
        .map(|(path, addon, user, text)| access::rendered::AddonFile {
            path,
            addon,
            overridden: false,
            user: *user,
            text,
        })
        .collect();
    let found = access::rendered::read(&plan, &report, &files);
    access::rendered::merge(
        &mut report,
        found,
        loaded.config.addons.keys().cloned().collect(),
    );
    access::rendered::merge(&mut report, overrides, Vec::new());
    Ok((plan, report))
}

/// The summary's lines for what `--templates` overrides grant beyond the
/// built-in templates; a failure to read them back is a line too.
pub fn template_override_grants(loaded: &Loaded, templates_dir: &Path) -> Vec<String> {
    let found = plan_decided(loaded).and_then(|plan| {
        let report = access::report(&plan);
        access::overrides::found(&plan, &report, templates_dir)
    });
    match found {
        Ok(found) => access::overrides::lines(&found),
        Err(err) => vec![format!(
            "UNKNOWN: the files of the template overrides could not be read back ({err:#}); review what they grant by hand"
        )],
    }
}

/// Every file of the plan, then the add-on files from the index returned.
fn jobs<'a>(loaded: &'a Loaded, plan: &'a plan::Plan) -> (Vec<render::Job<'a>>, usize) {
    let mut jobs = render::jobs(plan);
    let first_addon = jobs.len();
    jobs.extend(addon::jobs(&loaded.config, &loaded.validated.tenants));
    (jobs, first_addon)
}

/// Renders and verifies one file; an add-on file also says what it
/// declares, and is `None` when its body is empty.
fn make(
    templates: &render::Templates,
    job: &render::Job<'_>,
    is_addon: bool,
) -> Result<Option<(GeneratedFile, Option<addon::Declared>)>> {
    let rendered = templates.render_job(job)?;
    if is_addon {
        Ok(addon::verify(rendered)?.map(|(file, declared)| (file, Some(declared))))
    } else {
        Ok(Some((verify::verify(rendered)?, None)))
    }
}

/// A scoped thread's result; its panic goes on in this thread.
fn joined<T>(worker: std::thread::ScopedJoinHandle<'_, T>) -> T {
    worker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The plan, with its lifecycle decided and its consistency checked.
fn plan_checked(loaded: &Loaded) -> Result<plan::Plan> {
    let plan = plan_decided(loaded)?;
    check_consistency(loaded, &plan)?;
    Ok(plan)
}

/// The plan, with its lifecycle decided.
fn plan_decided(loaded: &Loaded) -> Result<plan::Plan> {
    let mut plan = plan::build(&loaded.validated.tenants, &loaded.config);
    if let Some(adoption) = &plan.adoption
        && !adoption.type_problems.is_empty()
    {
        let problems = Problems::new(
            format!("the adopt block of {}", config::DEFAULT_FILE),
            adoption.type_problems.clone(),
        );
        return Err(problems.into());
    }
    let (managed_before, history_before) = &loaded.previous_namespaces;
    plan.lifecycle = plan::lifecycle::decide(
        &loaded.validated.tenants,
        managed_before,
        history_before,
        &loaded.namespaces,
    )
    .map_err(|problems| Problems::new("the namespace flags", problems))?;
    Ok(plan)
}

/// The plan-wide check. Two names from the config's patterns that collide
/// are the config's to fix; anything else is a tenantgen bug.
fn check_consistency(loaded: &Loaded, plan: &plan::Plan) -> Result<(), Problems> {
    let collisions = plan::collisions::find(plan, &loaded.config.names);
    if !collisions.is_empty() {
        return Err(Problems::new(
            format!("the names block of {}", config::DEFAULT_FILE),
            collisions,
        ));
    }
    plan::check(plan, &loaded.config.woodpecker.static_admins).map_err(|problems| {
        let problems = problems.into_iter().map(|problem| Problem::new("", problem));
        Problems::new("the plan", problems.collect())
            .hint("this is a tenantgen bug, failing its own consistency check; please report it with this output")
    })
}

/// The render record of a plan whose files hash to `hashes`.
fn record(loaded: &Loaded, plan: &mut plan::Plan, hashes: BTreeMap<String, String>) -> Manifest {
    let history = std::mem::take(&mut plan.lifecycle.history);
    let replacements = plan
        .adoption
        .take()
        .map(|adoption| adoption.replacements)
        .unwrap_or_default();
    let mut manifest = Manifest::new(&loaded.origin, &loaded.validated.tenants, hashes, history);
    manifest.grants = Some(loaded.config.grant_settings());
    manifest.layout = Some(loaded.config.layout.to_map());
    manifest.guard = loaded.config.guard.clone();
    manifest.adoption_replacements = replacements;
    manifest
}
