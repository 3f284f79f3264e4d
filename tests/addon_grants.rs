//! What an adversarial review of issue 18 found: add-on files that granted
//! more than `access` and the summary showed. Each case is the review's
//! reproduction, through the binary.

mod common;

use std::path::Path;

use common::{example_workspace, tenantgen, tree};
use serde_json::Value;

/// The example workspace with one per-stack add-on `NAME` in `stack`.
fn with_addon(name: &str, stack: &str, template: &str) -> tempfile::TempDir {
    let dir = example_workspace();
    let root = dir.path();
    let hcl = std::fs::read_to_string(root.join("tenantgen.hcl")).unwrap();
    let addon = format!(
        "\naddon \"{name}\" {{\n  template = \"addons/{name}.tf.j2\"\n  for      = \"stack\"\n  stack    = \"{stack}\"\n}}\n"
    );
    std::fs::write(root.join("tenantgen.hcl"), hcl + &addon).unwrap();
    std::fs::create_dir_all(root.join("addons")).unwrap();
    std::fs::write(root.join(format!("addons/{name}.tf.j2")), template).unwrap();
    dir
}

fn access_json(dir: &Path) -> Value {
    tenantgen(dir, "access --format json").succeeds().json()
}

/// The reasons `access` gives for what it cannot analyse, by address.
fn unknown(json: &Value) -> Vec<(String, String)> {
    json["unknown"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|entry| {
                    (
                        entry["address"].as_str().unwrap().to_string(),
                        entry["reason"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has_unknown(json: &Value, address: &str, reason: &str) {
    let all = unknown(json);
    assert!(
        all.iter().any(|(a, r)| a == address && r.contains(reason)),
        "{address}: {reason:?} not in {all:#?}"
    );
}

const BIND_BOB: &str = r#"  subject {
    kind      = "User"
    name      = "bob"
    api_group = "rbac.authorization.k8s.io"
  }
}
"#;

/// Terraform ends a `<<EOT` heredoc at an indented `EOT`; hcl-rs did not,
/// so the binding between two heredocs was text to tenantgen and code to
/// Terraform.
#[test]
fn a_heredoc_cannot_hide_blocks() {
    let template = format!(
        "locals {{\n  x = <<EOT\n  EOT\n}}\n\nresource \"kubernetes_cluster_role_binding_v1\" \"hidden\" {{\n  metadata {{\n    name = \"hidden\"\n  }}\n  role_ref {{\n    api_group = \"rbac.authorization.k8s.io\"\n    kind      = \"ClusterRole\"\n    name      = \"cluster-admin\"\n  }}\n{BIND_BOB}\nlocals {{\n  y = <<EOT\nEOT\n}}\n"
    );
    let dir = with_addon("h", "platform", &template);
    let before = tree(dir.path());
    for command in ["check", "diff", "render --yes", "access"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("heredoc <<EOT ends at a line with blanks around its marker");
    }
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_role_kind_written_as_an_expression_is_unknown() {
    let template = format!(
        "resource \"kubernetes_role_binding_v1\" \"a1\" {{\n  metadata {{\n    name      = \"a1\"\n    namespace = \"bob-staging\"\n  }}\n  role_ref {{\n    api_group = \"rbac.authorization.k8s.io\"\n    kind      = \"Ro${{\"\"}}le\"\n    name      = \"view\"\n  }}\n{BIND_BOB}"
    );
    let dir = with_addon("a1", "platform", &template);
    let json = access_json(dir.path());
    has_unknown(
        &json,
        "kubernetes_role_binding_v1.a1",
        "its role, role kind or namespace is an expression",
    );
    assert!(
        !json.to_string().contains("\"via\":\"a1\""),
        "the binding was read as a grant: {json:#}"
    );
}

/// A Role (in `default`) or ClusterRole an add-on names `cluster-admin` does
/// not make a binding to Kubernetes' cluster-admin look read-only.
#[test]
fn a_decoy_role_never_replaces_a_built_in_ones_rules() {
    for decoy in ["kubernetes_role_v1", "kubernetes_cluster_role_v1"] {
        let template = format!(
            "resource \"{decoy}\" \"decoy\" {{\n  metadata {{\n    name = \"cluster-admin\"\n  }}\n  rule {{\n    api_groups = [\"\"]\n    resources  = [\"configmaps\"]\n    verbs      = [\"get\"]\n  }}\n}}\n\nresource \"kubernetes_cluster_role_binding_v1\" \"a4\" {{\n  metadata {{\n    name = \"a4\"\n  }}\n  role_ref {{\n    api_group = \"rbac.authorization.k8s.io\"\n    kind      = \"ClusterRole\"\n    name      = \"cluster-admin\"\n  }}\n{BIND_BOB}"
        );
        let dir = with_addon("a4", "platform", &template);
        let json = access_json(dir.path());
        let bob = json["principals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|principal| principal["user"] == "bob")
            .unwrap();
        let grant = bob["kubernetes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|grant| grant["addon"] == "a4")
            .unwrap_or_else(|| panic!("{decoy}: no add-on grant in {bob:#}"));
        assert_eq!(grant["write"], true, "{decoy}: {grant:#}");
        assert_eq!(grant["origin"], "built-in", "{decoy}: {grant:#}");
        assert!(
            !grant["rules"].to_string().contains("configmaps"),
            "{decoy}: {grant:#}"
        );
        if decoy == "kubernetes_cluster_role_v1" {
            has_unknown(
                &json,
                "kubernetes_cluster_role_v1.decoy",
                "named like one of Kubernetes' own",
            );
        }
    }
}

/// Vault adds capabilities for the legacy `policy = "sudo"` key of a path.
#[test]
fn a_policy_with_keys_beyond_capabilities_is_unknown() {
    let template = "resource \"vault_policy\" \"a2\" {\n  name   = \"a2\"\n  policy = <<-EOT\n    path \"sys/*\" {\n      capabilities = [\"read\"]\n      policy       = \"sudo\"\n    }\n  EOT\n}\n\nresource \"vault_identity_entity_policies\" \"a2\" {\n  entity_id = vault_identity_entity.bob.id\n  policies  = [vault_policy.a2.name]\n  exclusive = false\n}\n";
    let dir = with_addon("a2", "vault", template);
    let json = access_json(dir.path());
    assert!(
        !json.to_string().contains("sys/*"),
        "the policy was read as read-only: {json:#}"
    );
    let all = unknown(&json);
    assert!(
        all.iter()
            .any(|(address, _)| address == "vault_identity_entity_policies.a2"),
        "{all:#?}"
    );
}

#[test]
fn nested_and_external_groups_are_unknown() {
    let template = "resource \"vault_identity_group\" \"ops\" {\n  name             = \"ops\"\n  member_group_ids = [vault_identity_group.readers.id]\n}\n\nresource \"vault_identity_group\" \"readers\" {\n  name              = \"readers\"\n  member_entity_ids = [vault_identity_entity.bob.id]\n}\n\nresource \"vault_identity_group\" \"outside\" {\n  name = \"outside\"\n  type = \"external\"\n}\n";
    let dir = with_addon("a5", "vault", template);
    let json = access_json(dir.path());
    for address in ["vault_identity_group.ops", "vault_identity_group.outside"] {
        has_unknown(&json, address, "which tenantgen does not follow");
    }
}

#[test]
fn a_role_that_aggregates_into_admin_is_unknown() {
    let template = "resource \"kubernetes_cluster_role_v1\" \"wider\" {\n  metadata {\n    name = \"wider\"\n    labels = {\n      \"rbac.authorization.k8s.io/aggregate-to-admin\" = \"true\"\n    }\n  }\n  rule {\n    api_groups = [\"*\"]\n    resources  = [\"*\"]\n    verbs      = [\"*\"]\n  }\n}\n";
    let dir = with_addon("agg", "platform", template);
    has_unknown(
        &access_json(dir.path()),
        "kubernetes_cluster_role_v1.wider",
        "aggregates rules into other ClusterRoles",
    );
}

#[test]
fn a_check_blocks_data_source_is_refused() {
    let template = "check \"up\" {\n  data \"http\" \"probe\" {\n    url = \"http://127.0.0.1:9/\"\n  }\n\n  assert {\n    condition     = true\n    error_message = \"down\"\n  }\n}\n";
    let dir = with_addon("probe", "platform", template);
    tenantgen(dir.path(), "check")
        .exits(1)
        .stderr_has("declares a data \"http\" block in a check block");
}

/// Policies the config attaches to every entity (`identity.extra_policies`)
/// are written outside tenantgen: gaining one is in the summary.
#[test]
fn new_extra_policies_are_in_the_summary() {
    let dir = example_workspace();
    tenantgen(dir.path(), "render --yes").succeeds();
    let path = dir.path().join("tenantgen.hcl");
    let hcl = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{hcl}\nidentity {{\n  extra_policies = [\"root\"]\n}}\n"),
    )
    .unwrap();
    tenantgen(dir.path(), "diff")
        .exits(2)
        .stdout_has("bob gains vault policy root (written outside tenantgen: rules unknown)");
}

/// A KV write can rewrite the users secret itself, so that the next render
/// grants what it says.
#[test]
fn a_secret_written_by_an_addon_is_unknown() {
    let template = "resource \"vault_kv_secret_v2\" \"users\" {\n  mount     = \"secret\"\n  name      = \"platform\"\n  data_json = jsonencode({ k8s_users = \"{}\" })\n}\n";
    let dir = with_addon("kv", "vault", template);
    has_unknown(
        &access_json(dir.path()),
        "vault_kv_secret_v2.users",
        "tenantgen cannot analyse what a vault_kv_secret_v2 grants",
    );
}

/// Woodpecker admins may do anything to every repository's pipelines: a
/// static admin the config adds is in the summary.
#[test]
fn a_new_woodpecker_admin_is_in_the_summary() {
    let dir = example_workspace();
    tenantgen(dir.path(), "render --yes").succeeds();
    let path = dir.path().join("tenantgen.hcl");
    let hcl = std::fs::read_to_string(&path).unwrap();
    let added = hcl.replace(
        "static_admins = [\"admin\"]",
        "static_admins = [\"admin\", \"mallory\"]",
    );
    assert_ne!(added, hcl, "the example's woodpecker block changed");
    std::fs::write(&path, added).unwrap();
    tenantgen(dir.path(), "diff").exits(2).stdout_has(
        "mallory gains Woodpecker admin (every repository's pipelines, secrets and settings)",
    );
}
