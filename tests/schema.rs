//! Generated Terraform conforms to the real providers' schemas.

mod common;

use common::schema::Schemas;
use common::{config_variants, example_users, generate, random_users, write_files};

/// Hand-written code a stack using the `references` variant would have.
const HAND_WRITTEN_REFERENCES: [(&str, &str); 2] = [
    (
        "vault/oidc.tf",
        "resource \"vault_jwt_auth_backend\" \"oidc\" {\n  path = \"oidc\"\n  type = \"oidc\"\n}\n",
    ),
    (
        "platform/zone.tf",
        "data \"cloudflare_zone\" \"main\" {\n  name = \"example.com\"\n}\n",
    ),
];

fn check_rendered(label: &str, files: &[tenantgen::verify::GeneratedFile], schemas: &Schemas) {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in common::hand_written_files() {
        let target = dir.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, contents).unwrap();
    }
    if label.contains("references") {
        for (path, contents) in HAND_WRITTEN_REFERENCES {
            std::fs::write(dir.path().join(path), contents).unwrap();
        }
    }
    write_files(dir.path(), files);
    let problems = schemas.check_tree(dir.path());
    assert!(problems.is_empty(), "{label}:\n{}", problems.join("\n"));
}

#[test]
fn committed_example_conforms() {
    let problems = Schemas::load().check_tree(&common::repo().join("stacks-out"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_config_variant_conforms() {
    let schemas = Schemas::load();
    for (name, config) in config_variants() {
        check_rendered(name, &generate(&example_users(), &config), &schemas);
    }
}

#[test]
fn random_user_sets_conform() {
    let schemas = Schemas::load();
    let variants = config_variants();
    for seed in 100..112 {
        let (name, config) = &variants[seed as usize % variants.len()];
        check_rendered(
            &format!("seed {seed}, config {name}"),
            &generate(&random_users(seed, 25), config),
            &schemas,
        );
    }
}

#[test]
fn the_checker_finds_real_problems() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("mod")).unwrap();
    std::fs::write(
        dir.path().join("mod/main.tf"),
        "variable \"user\" {\n  type = string\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        r#"
resource "kubernetes_namespace_v1" "a" {
  metadata {
    name = "a"
    uid  = "x"
  }
  metadata {
    name = "b"
  }
  colour = "blue"
}

resource "vault_policy" "p" {
  name = 3
}

resource "vault_policy" "q" {
  name   = "q"
  policy = "path \"x\" { capabilities = [\"fly\"] }"
}

resource "kubernetes_role_binding_v1" "b" {
  metadata {
    name = "b"
  }
  role_ref = {}
}

resource "vault_identity_entity" "e" {
  policies = [vault_policy.missing.name, var.undeclared]
  disabled = True
}

resource "kubernetes_namspace" "typo" {}

module "m" {
  source = "./mod"
  domain = "x"
}
"#,
    )
    .unwrap();
    let problems = Schemas::load().check_module(dir.path()).join("\n");
    for expected in [
        "attribute \"uid\" is computed and cannot be set",
        "block \"metadata\" may appear once, found 2",
        "unknown attribute \"colour\"",
        "vault_policy.p: name: expected string, found a number",
        "vault_policy.p: missing required attribute \"policy\"",
        "unknown policy capability \"fly\"",
        "\"role_ref\" is a block",
        "missing required block \"subject\"",
        "reference `vault_policy.missing.name` names nothing declared here",
        "reference `var.undeclared` names nothing declared here",
        "bare identifier `True`",
        "kubernetes_namspace.typo: unknown resource type",
        "argument \"domain\" is not a variable of ./mod",
        "missing required variable \"user\"",
    ] {
        assert!(
            problems.contains(expected),
            "missing {expected:?} in:\n{problems}"
        );
    }
}

#[test]
fn mixing_cloudflare_versions_in_one_stack_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"cloudflare_record\" \"a\" {\n  zone_id = \"z\"\n  name    = \"a\"\n  type    = \"A\"\n}\n\nresource \"cloudflare_dns_record\" \"b\" {\n  zone_id = \"z\"\n  name    = \"b\"\n  type    = \"A\"\n  ttl     = 1\n}\n",
    )
    .unwrap();
    let problems = Schemas::load().check_module(dir.path());
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

/// The vendored schemas are exactly the files recorded in
/// `tests/provider-schemas/SHA256SUMS`: none missing, none changed, none extra.
#[test]
fn vendored_schemas_are_the_recorded_files() {
    use sha2::{Digest, Sha256};
    let dir = common::repo().join("tests/provider-schemas");
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap_or_else(|err| {
        panic!(
            "cannot read {}: {err}; the schema tests need the vendored schemas",
            dir.join("SHA256SUMS").display()
        )
    });
    let mut recorded = std::collections::BTreeSet::new();
    for line in sums.lines() {
        let (digest, name) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("SHA256SUMS: {line:?} is not `<sha256>  <file>`"));
        let bytes = std::fs::read(dir.join(name))
            .unwrap_or_else(|err| panic!("{name} is recorded in SHA256SUMS but unreadable: {err}"));
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(
            actual, digest,
            "{name} changed since it was recorded in SHA256SUMS"
        );
        recorded.insert(name.to_string());
    }
    let present: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(
        present, recorded,
        "schemas present vs recorded in SHA256SUMS"
    );
    assert_eq!(
        recorded.len(),
        6,
        "kubernetes, vault, cloudflare 4 and 5, helm, random"
    );
}
