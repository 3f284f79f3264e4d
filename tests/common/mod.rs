//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[allow(unused_imports, reason = "each test binary uses some of them")]
pub use {cli::tenantgen, users::random_users};

pub mod bao;
pub mod bounded;
pub mod canary;
pub mod capture;
pub mod cli;
pub mod hostile;
pub mod property;
pub mod schema;
pub mod tools;
pub mod users;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A workspace like the repository: the example users, a config pointing
/// at them and output `stacks-out`, the hand-written files of `stacks-out`.
pub fn example_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    example_workspace_at(dir.path());
    dir
}

/// Writes an [`example_workspace`] into the existing directory `root`.
pub fn example_workspace_at(root: &Path) {
    std::fs::create_dir_all(root.join("examples")).unwrap();
    std::fs::copy(
        repo().join("examples/k8s_users.json"),
        root.join("examples/k8s_users.json"),
    )
    .unwrap();
    std::fs::copy(repo().join("tenantgen.hcl"), root.join("tenantgen.hcl")).unwrap();
    for (path, contents) in hand_written_files() {
        let target = root.join("stacks-out").join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, contents).unwrap();
    }
}

/// [`example_workspace`] after `tenantgen render --yes`.
pub fn rendered_workspace() -> tempfile::TempDir {
    let dir = example_workspace();
    cli::tenantgen(dir.path(), "render --yes").succeeds();
    dir
}

/// Edits the users file of an [`example_workspace`] in place.
pub fn edit_users(dir: &Path, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let path = dir.join("examples/k8s_users.json");
    let mut users: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(users.as_object_mut().unwrap());
    std::fs::write(path, serde_json::to_string_pretty(&users).unwrap()).unwrap();
}

/// The hand-written files of the committed `stacks-out/`, by relative path.
pub fn hand_written_files() -> BTreeMap<String, String> {
    tree(&repo().join("stacks-out"))
        .into_iter()
        .filter_map(|(path, bytes)| {
            let text = String::from_utf8(bytes).ok()?;
            let generated =
                text.starts_with(tenantgen::header::MARKER) || path == tenantgen::manifest::PATH;
            (!generated).then_some((path, text))
        })
        .collect()
}

/// What `scripts/tf-harness` leaves in a stack directory (see
/// `stacks-out/.gitignore`): never part of a tree under test.
const HARNESS_FILES: [&str; 5] = [
    ".terraform.lock.hcl",
    "terraform.tfstate",
    "terraform.tfstate.backup",
    "tfplan",
    "tfplan.json",
];

/// Every file under `root`, by `/`-separated relative path.
pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|entry| entry.file_name() != ".terraform")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter(|entry| !HARNESS_FILES.iter().any(|name| entry.file_name() == *name))
        .map(|entry| {
            let relative = entry.path().strip_prefix(root).unwrap();
            let key = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            (key, std::fs::read(entry.path()).unwrap())
        })
        .collect()
}

/// Renders `users` with `config_text` through the library, in memory.
pub fn generate(users: &Value, config_text: &str) -> Vec<tenantgen::verify::GeneratedFile> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.json"), users.to_string()).unwrap();
    std::fs::write(dir.path().join("tenantgen.hcl"), config_text).unwrap();
    let options = tenantgen::Options {
        working_dir: dir.path().to_path_buf(),
        users: Some("users.json".into()),
        ..Default::default()
    };
    let loaded = tenantgen::load(&options).unwrap_or_else(|err| panic!("{err:#}\n{users:#}"));
    tenantgen::generate(&loaded, None).unwrap().files
}

/// Writes generated files under `root`.
pub fn write_files(root: &Path, files: &[tenantgen::verify::GeneratedFile]) {
    for file in files {
        let target = root.join(&file.path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, &file.contents).unwrap();
    }
}

/// The example users file.
pub fn example_users() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("examples/k8s_users.json")).unwrap())
        .unwrap()
}

/// Config variants every output property is checked under.
pub fn config_variants() -> Vec<(&'static str, String)> {
    let base = std::fs::read_to_string(repo().join("tenantgen.hcl")).unwrap();
    vec![
        ("example", base.clone()),
        ("cloudflare5", base.replace("provider_version = 4", "provider_version = 5")),
        (
            "isolation",
            format!(
                "{base}\nnetwork_policy {{\n  allow_from_namespaces = [\"ingress-nginx\", \"monitoring\"]\n}}\n\nlimit_range {{\n  default_cpu = \"1\"\n}}\n\nnamespaces {{\n  labels = {{\n    \"pod-security.kubernetes.io/enforce\" = \"baseline\"\n  }}\n  annotations = {{\n    \"owner.example.com/contact\" = \"platform team\"\n  }}\n}}\n"
            ),
        ),
        (
            "layout",
            format!(
                "{}\nlayout {{\n  namespaces = \"vault\"\n  rbac       = \"rbac\"\n  tls        = \"rbac\"\n  dns        = \"cloudflared\"\n  ci         = \"woodpecker\"\n}}\n",
                base.replace("mode    = \"secrets-engine\"", "mode    = \"auth-role\"")
            ),
        ),
        (
            "deployment",
            format!(
                "{}\nnamespaces {{\n  labels = {{ tier = \"4-aux\", owner = \"{{user}}\" }}\n  ignore_label_changes = [\"goldilocks.fairwinds.com/vpa-update-mode\"]\n}}\n\nvault {{\n  policy_scope = \"user\"\n  metadata_capabilities = [\"list\", \"read\", \"delete\"]\n}}\n\nidentity {{\n  subject = \"username\"\n  extra_policies = [\"sops-user-{{user}}\"]\n}}\n\nnames {{\n  namespace_admin = \"namespace-owner-{{user}}\"\n  quota = \"user-quota\"\n  read_only_binding = \"oidc-ns-owner-readonly-{{user}}\"\n}}\n",
                base.replace(
                    "target           = \"ingress.example.com\"",
                    "target_expression = \"var.tenantgen_dns_target\"\n  names = \"short\"\n  for = \"namespace-owners\"",
                )
            ),
        ),
        (
            "references",
            format!(
                "{}\nvault {{\n  oidc_accessor = \"vault_jwt_auth_backend.oidc.accessor\"\n  mount         = \"kv\"\n}}\n",
                base.replace("provider_version = 4", "provider_version = 4\n  zone_id          = \"data.cloudflare_zone.main.id\"\n  type             = \"A\"")
                    .replace("target           = \"ingress.example.com\"", "target           = \"192.0.2.10\"")
            ),
        ),
    ]
}

/// `terraform fmt -check -recursive -diff` over `dir`, with an empty CLI
/// config of its own (never the user's, and nothing written into `dir`).
pub fn terraform_fmt_check(dir: &Path) -> std::process::Output {
    let terraform = tools::terraform();
    let cli_config = tempfile::NamedTempFile::new().unwrap();
    Command::new(terraform)
        .args(["fmt", "-check", "-recursive", "-diff"])
        .arg(dir)
        .env("TF_CLI_CONFIG_FILE", cli_config.path())
        .output()
        .expect("terraform runs")
}
