//! `tf-harness validate|plan|apply DIR`: the real `terraform` over every
//! stack directory under DIR, offline, with the stub providers.
//!
//! The stubs are installed in a private filesystem mirror named by a private
//! CLI config, which only the terraform processes started here see; the
//! user's `~/.terraformrc` and `TF_CLI_CONFIG_FILE` are never read or
//! changed. Each stack keeps its own local state, `.terraform/` and lock
//! file, so DIR is treated as a scratch tree.
//!
//! Generated files alone are not a stack: before terraform runs in one, the
//! harness checks that the hand-written files it needs are there (provider
//! requirements, the shared module a factory calls) and otherwise says
//! which to add.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::schema::ProviderSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Validate,
    Plan,
    Apply,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "validate" => Some(Mode::Validate),
            "plan" => Some(Mode::Plan),
            "apply" => Some(Mode::Apply),
            _ => None,
        }
    }
}

/// What a plan does, counted as `terraform plan` counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub import: usize,
    /// Resources Terraform forgets without destroying (`removed` blocks).
    pub forget: usize,
    /// Resources replaced (counted in `add` and `destroy` too).
    pub replace: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        )?;
        if self.import > 0 {
            write!(f, ", {} to import", self.import)?;
        }
        if self.forget > 0 {
            write!(f, ", {} to forget", self.forget)?;
        }
        Ok(())
    }
}

/// The outcome for one stack directory.
#[derive(Debug, Clone)]
pub struct StackOutcome {
    /// Relative to DIR, `/`-separated (`.` for DIR itself).
    pub stack: String,
    /// Set for `plan` and `apply` when planning succeeded.
    pub counts: Option<Counts>,
    /// Why the stack failed, with terraform's own output; `None` when it passed.
    pub failure: Option<String>,
    /// Addresses and actions from the plan (`create`, `update`, `delete`,
    /// `replace`, `import`), for tests and reports.
    pub actions: Vec<(String, String)>,
}

/// Where the stub provider and the schemas are.
#[derive(Debug, Clone)]
pub struct Setup {
    pub stub: PathBuf,
    pub schemas: PathBuf,
    pub terraform: PathBuf,
}

impl Setup {
    /// The stub beside this executable, the repository's schemas, and
    /// `terraform` from PATH; `TF_HARNESS_STUB`, `TF_HARNESS_SCHEMAS` and
    /// `TF_HARNESS_TERRAFORM` override them.
    pub fn from_environment() -> Result<Setup> {
        let stub = match std::env::var_os("TF_HARNESS_STUB") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe()
                .context("cannot find the harness executable")?
                .with_file_name("tf-stub-provider"),
        };
        let schemas = std::env::var_os("TF_HARNESS_SCHEMAS").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/provider-schemas"),
            PathBuf::from,
        );
        let terraform = std::env::var_os("TF_HARNESS_TERRAFORM")
            .map_or_else(|| PathBuf::from("terraform"), PathBuf::from);
        if !stub.is_file() {
            bail!(
                "the stub provider {} does not exist; build it with `cargo build -p tf-stub-provider`",
                stub.display()
            );
        }
        Ok(Setup {
            stub,
            schemas,
            terraform,
        })
    }
}

/// Runs `mode` over every stack under `root`.
pub fn run(setup: &Setup, mode: Mode, root: &Path) -> Result<Vec<StackOutcome>> {
    let stacks = stack_dirs(root)?;
    if stacks.is_empty() {
        bail!("{} holds no directory with .tf files", root.display());
    }
    // Beside the stub, so a stack's `.terraform` (which links into the
    // mirror) and its lock file stay valid for running terraform by hand.
    let private = setup
        .stub
        .parent()
        .context("the stub provider has no parent directory")?
        .join("tf-harness-providers");
    let (cli_config, served) = install_mirror(setup, &private)?;
    stacks
        .iter()
        .map(|dir| {
            let missing = missing_hand_written(root, dir, &served)?;
            if missing.is_empty() {
                return run_stack(setup, mode, root, dir, &cli_config);
            }
            Ok(StackOutcome {
                stack: stack_name(root, dir),
                counts: None,
                failure: Some(format!(
                    "terraform was not run: this stack lacks hand-written files \
                     (tenantgen generates only the tenant files; Terragrunt or you write the rest)\n{}",
                    missing.join("\n")
                )),
                actions: Vec::new(),
            })
        })
        .collect()
}

/// The providers the stubs serve, by local name: source and versions.
type Served = BTreeMap<String, (String, Vec<String>)>;

/// What a stack needs besides the generated files for terraform to check
/// it, one paragraph per missing file saying what to add: provider
/// requirements for every provider its resources use (without them
/// terraform looks for `hashicorp/<name>` at its newest version), and the
/// shared module that a local `module` block calls.
pub fn missing_hand_written(root: &Path, dir: &Path, served: &Served) -> Result<Vec<String>> {
    // Provider local name -> the first block using it.
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    let mut declared = BTreeSet::new();
    // Local module folder -> the calling block and the arguments it passes.
    let mut calls: BTreeMap<PathBuf, (String, BTreeSet<String>)> = BTreeMap::new();
    for (file, body) in parsed_tf_files(dir)? {
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels().iter().map(|label| label.as_str()).collect();
            match (block.identifier(), labels.as_slice()) {
                ("resource" | "data", [kind, name, ..]) => {
                    let provider = kind.split('_').next().unwrap_or(kind);
                    // `terraform_data` and friends are built in.
                    if provider != "terraform" {
                        used.entry(provider.to_string())
                            .or_insert_with(|| format!("{kind}.{name} in {file}"));
                    }
                }
                ("provider", [name, ..]) => {
                    used.entry(name.to_string())
                        .or_insert_with(|| format!("provider \"{name}\" in {file}"));
                }
                ("terraform", _) => {
                    for requirements in block
                        .body()
                        .blocks()
                        .filter(|inner| inner.identifier() == "required_providers")
                    {
                        declared.extend(
                            requirements
                                .body()
                                .attributes()
                                .map(|attribute| attribute.key().to_string()),
                        );
                    }
                }
                ("module", [name, ..]) => {
                    let Some(source) = local_source(block) else {
                        continue;
                    };
                    const META: [&str; 6] = [
                        "source",
                        "version",
                        "providers",
                        "count",
                        "for_each",
                        "depends_on",
                    ];
                    let arguments = block
                        .body()
                        .attributes()
                        .map(|attribute| attribute.key().to_string())
                        .filter(|key| !META.contains(&key.as_str()));
                    calls
                        .entry(dir.join(&source))
                        .or_insert_with(|| {
                            (
                                format!("module \"{name}\" in {file} (source = \"{source}\")"),
                                BTreeSet::new(),
                            )
                        })
                        .1
                        .extend(arguments);
                }
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    let undeclared: Vec<(&String, &String)> = used
        .iter()
        .filter(|(name, _)| !declared.contains(*name))
        .collect();
    if !undeclared.is_empty() {
        let mut text = String::from(
            "- provider requirements: no file here has a `required_providers` entry for ",
        );
        let names: Vec<String> = undeclared
            .iter()
            .map(|(name, first)| format!("{name} (used by {first})"))
            .collect();
        text.push_str(&names.join(", "));
        text.push_str(";\n  add a versions.tf like:\n  terraform {\n    required_providers {\n");
        let width = undeclared
            .iter()
            .map(|(name, _)| name.len())
            .max()
            .unwrap_or(0);
        for (name, _) in &undeclared {
            let line = match served.get(*name) {
                Some((source, versions)) => {
                    let constraints: Vec<String> = versions
                        .iter()
                        .map(|version| format!("\"~> {}\"", minor(version)))
                        .collect();
                    let alternatives = if constraints.len() > 1 {
                        format!(" # or {}", constraints[1..].join(", "))
                    } else {
                        String::new()
                    };
                    format!(
                        "      {name:<width$} = {{ source = \"{source}\", version = {} }}{alternatives}\n",
                        constraints[0]
                    )
                }
                None => format!(
                    "      {name:<width$} = {{ source = \"...\" }} # the stubs serve no such provider\n"
                ),
            };
            text.push_str(&line);
        }
        text.push_str("    }\n  }");
        missing.push(text);
    }
    for (module, (caller, arguments)) in calls {
        let holds_tf = std::fs::read_dir(&module).is_ok_and(|entries| {
            entries.filter_map(Result::ok).any(|entry| {
                entry.path().extension().is_some_and(|ext| ext == "tf")
                    && entry.file_type().is_ok_and(|kind| kind.is_file())
            })
        });
        if !holds_tf {
            let shown = module
                .canonicalize()
                .ok()
                .and_then(|path| {
                    let root = root.canonicalize().ok()?;
                    path.strip_prefix(root).ok().map(Path::to_path_buf)
                })
                .unwrap_or_else(|| module.clone());
            let variables: Vec<String> = arguments
                .iter()
                .map(|argument| format!("variable \"{argument}\""))
                .collect();
            missing.push(format!(
                "- the shared module {}/: {caller} calls it, but it holds no .tf file;\n  \
                 add the app's module there, a main.tf declaring {} \
                 (tenantgen's repository has one in stacks-out/{}/main.tf)",
                shown.display(),
                if variables.is_empty() {
                    "what it needs".to_string()
                } else {
                    variables.join(" and ")
                },
                shown.display()
            ));
        }
    }
    Ok(missing)
}

/// `4.52.0` -> `4.52`.
fn minor(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((index, _)) => &version[..index],
        None => version,
    }
}

/// The `.tf` files directly in `dir` that parse, by file name; terraform
/// itself reports the others.
fn parsed_tf_files(dir: &Path) -> Result<Vec<(String, hcl::Body)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "tf") || !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if let Ok(body) = hcl::parse(&text) {
            let name = path
                .file_name()
                .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
            files.push((name, body));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// The `source` of a module block when it is a local path (`./`, `../`).
fn local_source(block: &hcl::Block) -> Option<String> {
    block
        .body()
        .attributes()
        .find(|attribute| attribute.key() == "source")
        .and_then(|attribute| match attribute.expr() {
            hcl::Expression::String(source) => Some(source.clone()),
            _ => None,
        })
        .filter(|source| source.starts_with("./") || source.starts_with("../"))
}

/// Stack directories: those with `.tf` files that no other directory uses
/// as a local module (Terragrunt runs `<app>/factory`, which calls `../`).
pub fn stack_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut with_tf = BTreeSet::new();
    let mut modules = BTreeSet::new();
    let walker = walk(root)?;
    for file in walker {
        let Some(dir) = file.parent() else { continue };
        with_tf.insert(dir.to_path_buf());
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        // A file terraform cannot parse is reported by terraform itself.
        let Ok(body) = hcl::parse(&text) else {
            continue;
        };
        for block in body.blocks().filter(|block| block.identifier() == "module") {
            if let Some(module) =
                local_source(block).and_then(|source| dir.join(source).canonicalize().ok())
            {
                modules.insert(module);
            }
        }
    }
    Ok(with_tf
        .into_iter()
        .filter(|dir| {
            dir.canonicalize()
                .map_or(true, |canonical| !modules.contains(&canonical))
        })
        .collect())
}

/// Every `.tf` file under `root`, outside `.terraform` directories.
fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if entry.file_name() != ".terraform" {
                    pending.push(path);
                }
            } else if kind.is_file() && path.extension().is_some_and(|ext| ext == "tf") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Installs one launcher per schema file into an unpacked filesystem
/// mirror and writes the CLI config that points terraform at it alone.
fn install_mirror(setup: &Setup, private: &Path) -> Result<(PathBuf, Served)> {
    let mirror = private.join("mirror");
    let platform = platform();
    let mut schemas: Vec<PathBuf> = std::fs::read_dir(&setup.schemas)
        .with_context(|| format!("cannot read the schemas folder {}", setup.schemas.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    schemas.sort();
    let mut served = Served::new();
    for schema_path in schemas {
        let schema = ProviderSchema::load(&schema_path)?;
        served
            .entry(schema.name().to_string())
            .or_insert_with(|| {
                let short = schema.source.strip_prefix("registry.terraform.io/");
                (short.unwrap_or(&schema.source).to_string(), Vec::new())
            })
            .1
            .push(schema.version.clone());
        let dir = mirror
            .join(&schema.source)
            .join(&schema.version)
            .join(&platform);
        std::fs::create_dir_all(&dir)?;
        let launcher = dir.join(format!(
            "terraform-provider-{}_v{}",
            schema.name(),
            schema.version
        ));
        let script = format!(
            "#!/bin/sh\nexec {} --schema {} \"$@\"\n",
            shell_quote(&setup.stub),
            shell_quote(&schema_path.canonicalize()?)
        );
        write_if_changed(&launcher, &script)?;
    }
    let cli_config = private.join("terraformrc");
    let config = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = {}\n    include = [\"*/*/*\"]\n  }}\n}}\n",
        serde_json::Value::from(mirror.display().to_string())
    );
    write_if_changed(&cli_config, &config)?;
    Ok((cli_config, served))
}

/// Concurrent harness runs share the mirror: a file is replaced whole, by
/// rename, and only when its content changes (which keeps lock files valid).
fn write_if_changed(path: &Path, content: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|existing| existing == content) {
        return Ok(());
    }
    let dir = path.parent().context("a mirror file has no parent")?;
    let mut staged = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut staged, content.as_bytes())?;
    make_executable(staged.path())?;
    staged
        .persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{}_{arch}", std::env::consts::OS)
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

/// `dir` relative to `root`, `.` for `root` itself.
fn stack_name(root: &Path, dir: &Path) -> String {
    dir.strip_prefix(root)
        .ok()
        .filter(|relative| !relative.as_os_str().is_empty())
        .map_or_else(
            || ".".to_string(),
            |relative| relative.display().to_string(),
        )
}

fn run_stack(
    setup: &Setup,
    mode: Mode,
    root: &Path,
    dir: &Path,
    cli_config: &Path,
) -> Result<StackOutcome> {
    let mut outcome = StackOutcome {
        stack: stack_name(root, dir),
        counts: None,
        failure: None,
        actions: Vec::new(),
    };
    let variables = required_variables(dir)?;
    let terraform = |args: &[&str]| -> Result<std::process::Output> {
        let mut command = Command::new(&setup.terraform);
        command
            .args(args)
            .current_dir(dir)
            .env("TF_CLI_CONFIG_FILE", cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("TF_DATA_DIR");
        for name in &variables {
            command.env(format!("TF_VAR_{name}"), format!("harness-{name}"));
        }
        command.output().with_context(|| {
            format!(
                "cannot run {}; is terraform installed?",
                setup.terraform.display()
            )
        })
    };
    let step = |args: &[&str]| -> Result<Option<String>> {
        let output = terraform(args)?;
        if output.status.success() {
            return Ok(None);
        }
        let mut failure = format!("terraform {} failed:\n", args.join(" "));
        failure.push_str(&String::from_utf8_lossy(&output.stdout));
        failure.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok(Some(failure))
    };
    let init = ["init", "-input=false", "-no-color"];
    let mut failure = step(&init)?;
    // A lock file recording other packages (the real providers, or stubs
    // built elsewhere) cannot match the stubs: start it afresh.
    if failure
        .as_deref()
        .is_some_and(|text| text.contains("doesn't match any of the checksums"))
    {
        std::fs::remove_file(dir.join(".terraform.lock.hcl"))?;
        failure = step(&init)?;
    }
    if failure.is_none() {
        failure = step(&["validate", "-no-color"])?;
    }
    if let Some(failure) = failure {
        outcome.failure = Some(failure);
        return Ok(outcome);
    }
    if mode == Mode::Validate {
        return Ok(outcome);
    }
    if let Some(failure) = step(&["plan", "-input=false", "-no-color", "-out=tfplan"])? {
        outcome.failure = Some(failure);
        return Ok(outcome);
    }
    let shown = terraform(&["show", "-json", "tfplan"])?;
    if !shown.status.success() {
        outcome.failure = Some(format!(
            "terraform show -json tfplan failed:\n{}",
            String::from_utf8_lossy(&shown.stderr)
        ));
        return Ok(outcome);
    }
    std::fs::write(dir.join("tfplan.json"), &shown.stdout)?;
    let plan: serde_json::Value = serde_json::from_slice(&shown.stdout)
        .context("terraform show -json printed something that is not JSON")?;
    let (counts, actions) = count(&plan);
    outcome.counts = Some(counts);
    outcome.actions = actions;
    if mode == Mode::Apply
        && let Some(failure) = step(&["apply", "-input=false", "-no-color", "tfplan"])?
    {
        outcome.failure = Some(failure);
    }
    Ok(outcome)
}

/// Variables without a default: the harness sets them (`TF_VAR_x=harness-x`).
fn required_variables(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|ext| ext != "tf") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let Ok(body) = hcl::parse(&text) else {
            continue;
        };
        for block in body
            .blocks()
            .filter(|block| block.identifier() == "variable")
        {
            let has_default = block
                .body()
                .attributes()
                .any(|attribute| attribute.key() == "default");
            if let (false, Some(label)) = (has_default, block.labels().first()) {
                names.push(label.as_str().to_string());
            }
        }
    }
    Ok(names)
}

/// Counts a `terraform show -json` plan as `terraform plan` does.
pub fn count(plan: &serde_json::Value) -> (Counts, Vec<(String, String)>) {
    let mut counts = Counts::default();
    let mut actions = Vec::new();
    let changes = plan["resource_changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for change in changes {
        let address = change["address"].as_str().unwrap_or_default().to_string();
        if change["change"]["importing"].is_object() {
            counts.import += 1;
            actions.push((address.clone(), "import".to_string()));
        }
        let list: Vec<&str> = change["change"]["actions"]
            .as_array()
            .map(|list| list.iter().filter_map(|action| action.as_str()).collect())
            .unwrap_or_default();
        let action = match list.as_slice() {
            ["create"] => {
                counts.add += 1;
                "create"
            }
            ["update"] => {
                counts.change += 1;
                "update"
            }
            ["delete"] => {
                counts.destroy += 1;
                "delete"
            }
            ["forget"] => {
                counts.forget += 1;
                "forget"
            }
            ["delete", "create"] | ["create", "delete"] => {
                counts.add += 1;
                counts.destroy += 1;
                counts.replace += 1;
                "replace"
            }
            _ => continue,
        };
        actions.push((address, action.to_string()));
    }
    (counts, actions)
}

/// One line per stack and a summary; returns whether every stack passed.
pub fn report(mode: Mode, outcomes: &[StackOutcome]) -> (String, bool) {
    let width = outcomes
        .iter()
        .map(|outcome| outcome.stack.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    let mut failed = 0;
    for outcome in outcomes {
        let status = match (&outcome.failure, outcome.counts) {
            (Some(_), _) => {
                failed += 1;
                "FAILED".to_string()
            }
            (None, Some(counts)) if mode == Mode::Apply => format!("applied: {counts}"),
            (None, Some(counts)) => format!("planned: {counts}"),
            (None, None) => "valid".to_string(),
        };
        let _ = writeln!(text, "{:<width$}  {status}", outcome.stack);
    }
    for outcome in outcomes {
        if let Some(failure) = &outcome.failure {
            let _ = writeln!(text, "\n--- {}\n{}", outcome.stack, failure.trim_end());
        }
    }
    let verb = match mode {
        Mode::Validate => "validated",
        Mode::Plan => "validated and planned",
        Mode::Apply => "applied",
    };
    if failed == 0 {
        let _ = writeln!(text, "\n{} stacks {verb} cleanly", outcomes.len());
    } else {
        let _ = writeln!(text, "\n{failed} of {} stacks failed", outcomes.len());
    }
    (text, failed == 0)
}
