//! What a configuration can grant, through the binary (issue 18, N3, N4,
//! N7): generated roles never take a built-in role's name, bindings name
//! their generated role through its resource and wait for their namespace,
//! `access` judges a binding by the role it names, extra Vault policies are
//! never a tenant's, and no platform namespace becomes a tenant's, whatever
//! the render record says.

mod common;

use std::path::Path;

use common::{edit_users, example_workspace, rendered_workspace, tenantgen, tree};
use serde_json::{Value, json};

fn add_config(dir: &Path, extra: &str) {
    let path = dir.join("tenantgen.hcl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, format!("{text}\n{extra}\n")).unwrap();
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join("stacks-out").join(path)).unwrap()
}

#[test]
fn a_generated_role_named_like_a_builtin_or_hand_written_one_is_refused() {
    for (config, expected) in [
        (
            "names {\n  read_only_role = \"cluster-admin\"\n}",
            "names.read_only_role: \"cluster-admin\" is a ClusterRole Kubernetes creates itself",
        ),
        (
            "names {\n  power_user_role = \"view\"\n}",
            "names.power_user_role: \"view\" is a ClusterRole Kubernetes creates itself",
        ),
        (
            "names {\n  read_only_role = \"system:aggregate-to-edit\"\n}",
            "names.read_only_role: \"system:aggregate-to-edit\" is a ClusterRole Kubernetes creates itself",
        ),
        (
            "names {\n  deployer = \"system:{namespace}\"\n}",
            "names.deployer: \"system:{namespace}\" is a ClusterRole Kubernetes creates itself",
        ),
        (
            "namespace_owner {\n  cluster_role = \"ops-admin\"\n}\nnames {\n  power_user_role = \"ops-admin\"\n}",
            "names.power_user_role: \"ops-admin\" is also namespace_owner.cluster_role, a ClusterRole written by hand",
        ),
        (
            "names {\n  power_user_role = \"tenantgen-read-only\"\n}",
            "names.power_user_role: \"tenantgen-read-only\" is also names.read_only_role",
        ),
    ] {
        let dir = example_workspace();
        add_config(dir.path(), config);
        let before = tree(dir.path());
        for command in ["check", "render --yes", "access bob", "diff"] {
            tenantgen(dir.path(), command)
                .exits(1)
                .stderr_has(expected)
                .stdout_lacks("cluster-admin");
        }
        assert_eq!(tree(dir.path()), before, "{config}");
    }
}

#[test]
fn bindings_take_a_generated_roles_name_from_its_resource() {
    let dir = rendered_workspace();
    for (file, role) in [
        ("platform/tenant-alice.tf", "tenantgen_read_only"),
        ("platform/tenant-dave.tf", "tenantgen_power_user"),
    ] {
        let text = read(dir.path(), file);
        assert!(
            text.contains(&format!(
                "name      = kubernetes_cluster_role_v1.{role}.metadata[0].name"
            )),
            "{text}"
        );
        assert!(!text.contains("name      = \"tenantgen-"), "{text}");
    }
    let shared = read(dir.path(), "platform/tenantgen.tf");
    assert!(
        shared.contains("resource \"kubernetes_cluster_role_v1\" \"tenantgen_read_only\""),
        "{shared}"
    );
    // A role tenantgen does not write is named as it is.
    let erin = read(dir.path(), "platform/tenant-erin.tf");
    assert!(erin.contains("name      = \"cluster-admin\""), "{erin}");
}

#[test]
fn access_judges_a_binding_by_the_role_it_names() {
    let dir = example_workspace();
    add_config(
        dir.path(),
        "namespace_owner {\n  cluster_role = \"cluster-admin\"\n}",
    );
    let table = tenantgen(dir.path(), "access bob").succeeds().stdout();
    let row = table
        .lines()
        .find(|line| line.contains("ClusterRole cluster-admin"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.trim_end().ends_with("yes"), "{row}");
    assert!(
        table.contains("Kubernetes v1.31 bootstrap policy"),
        "{table}"
    );
    let report = tenantgen(dir.path(), "access bob --format json")
        .succeeds()
        .json();
    let grants = report["principals"][0]["kubernetes"].as_array().unwrap();
    let cluster = grants
        .iter()
        .find(|grant| grant["scope"] == "cluster")
        .unwrap();
    assert_eq!(cluster["role"], "cluster-admin");
    assert_eq!(cluster["origin"], "built-in");
    assert_eq!(cluster["write"], true);
    assert_eq!(
        cluster["rules"],
        json!([{"api_groups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    );
    // `admin` in the namespace: aggregated on the cluster, rules unknown.
    let admin = grants
        .iter()
        .find(|grant| grant["role"] == "admin")
        .unwrap();
    assert_eq!(admin["origin"], "aggregated");
    assert_eq!(admin["rules"], Value::Null);
    assert_eq!(admin["write"], true);
    assert!(table.contains("yes (aggregated; rules unknown)"), "{table}");

    // A `system:` role bound by hand is Kubernetes', its rules not listed.
    let dir = example_workspace();
    add_config(
        dir.path(),
        "power_user {\n  cluster_role = \"system:aggregate-to-edit\"\n}",
    );
    let table = tenantgen(dir.path(), "access dave").succeeds().stdout();
    assert!(
        table.contains("yes? (a Kubernetes system: role; rules not listed)"),
        "{table}"
    );

    // The generated role, through its resource, reads only.
    let dir = example_workspace();
    let report = tenantgen(dir.path(), "access bob --format json")
        .succeeds()
        .json();
    let grants = report["principals"][0]["kubernetes"].as_array().unwrap();
    let cluster = grants
        .iter()
        .find(|grant| grant["scope"] == "cluster")
        .unwrap();
    assert_eq!(cluster["role"], "tenantgen-read-only");
    assert_eq!(cluster["origin"], "generated");
    assert_eq!(cluster["write"], false);
}

#[test]
fn an_extra_policy_naming_a_tenants_generated_policy_is_refused() {
    for (extra, expected) in [
        (
            "\"{user}-x\"",
            "\"{user}-x\" gives user \"alice\" the policy \"alice-x\", which is user \"alice-x\"'s generated policy (names.policy = \"{user}\")",
        ),
        (
            "\"bob\"",
            "\"bob\" gives user \"carol\" the policy \"bob\", which is user \"bob\"'s generated policy",
        ),
    ] {
        let dir = example_workspace();
        add_config(
            dir.path(),
            &format!(
                "names {{\n  policy = \"{{user}}\"\n}}\nidentity {{\n  extra_policies = [{extra}]\n}}"
            ),
        );
        edit_users(dir.path(), |users| {
            users.insert("alice-x".into(), json!({"role": "namespace-owner"}));
        });
        let before = tree(dir.path());
        for command in ["check", "render --yes", "access"] {
            tenantgen(dir.path(), command).exits(1).stderr_has(expected);
        }
        assert_eq!(tree(dir.path()), before);
    }
    // Names that are no tenant's policy are fine.
    let dir = example_workspace();
    add_config(
        dir.path(),
        "identity {\n  extra_policies = [\"sops-user-{user}\"]\n}",
    );
    tenantgen(dir.path(), "check").exits(2);
}

#[test]
fn platform_namespaces_are_reserved_and_the_floor_cannot_be_lifted() {
    for namespace in [
        "longhorn-system",
        "flux-system",
        "argocd",
        "metallb-system",
        "authentik",
        "openbao",
        "k8s-portal",
        "kube-node-lease",
        "default",
    ] {
        let dir = example_workspace();
        edit_users(dir.path(), |users| {
            users["alice"]["namespaces"] = json!([namespace]);
        });
        tenantgen(dir.path(), "check").exits(1).stderr_has(format!(
            "namespaces[0] = \"{namespace}\": is reserved for the platform"
        ));
    }

    // `allow` gives a well-known name to a tenant, and the summary says so.
    let dir = example_workspace();
    add_config(dir.path(), "namespaces {\n  allow = [\"argocd\"]\n}");
    edit_users(dir.path(), |users| {
        users["alice"]["namespaces"] = json!(["argocd"]);
    });
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_has("namespaces.allow gives platform namespaces to tenants: argocd");
    let report = tenantgen(dir.path(), "diff --format json").exits(2).json();
    assert_eq!(report["summary"]["namespaces_allowed"], json!(["argocd"]));

    // `reserved` adds to the defaults; `allow` never lifts the floor.
    let dir = example_workspace();
    add_config(dir.path(), "namespaces {\n  reserved = [\"payments\"]\n}");
    for namespace in ["payments", "argocd"] {
        edit_users(dir.path(), |users| {
            users["alice"]["namespaces"] = json!([namespace]);
        });
        tenantgen(dir.path(), "check")
            .exits(1)
            .stderr_has("is reserved for the platform");
    }
    let dir = example_workspace();
    add_config(
        dir.path(),
        "namespaces {\n  allow = [\"longhorn-system\", \"woodpecker\"]\n}",
    );
    tenantgen(dir.path(), "check")
        .exits(1)
        .stderr_has("namespaces.allow: \"longhorn-system\" is always reserved")
        .stderr_has("namespaces.allow: \"woodpecker\" is always reserved");
}

#[test]
fn a_planted_render_record_never_imports_a_platform_namespace() {
    let dir = rendered_workspace();
    let record_path = dir.path().join("stacks-out/.tenantgen.json");
    let mut record: Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    record["released"] = json!({"longhorn-system": "alice", "argocd": "alice"});
    std::fs::write(&record_path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    edit_users(dir.path(), |users| {
        users["alice"]["namespaces"] = json!(["alice-dev", "longhorn-system", "argocd"]);
    });
    let before = tree(dir.path());
    for command in ["diff --color never", "render --yes", "check"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("namespaces[1] = \"longhorn-system\": is reserved for the platform")
            .stderr_has("namespaces[2] = \"argocd\": is reserved for the platform")
            .stdout_lacks("import {");
    }
    assert_eq!(tree(dir.path()), before);
    assert!(
        !dir.path()
            .join("stacks-out/vault/tenantgen-lifecycle.tf")
            .exists()
    );
}

#[test]
fn bindings_in_a_tenant_namespace_wait_for_it_in_the_same_stack() {
    let dir = example_workspace();
    add_config(dir.path(), "layout {\n  rbac = \"vault\"\n}");
    tenantgen(dir.path(), "render --yes").succeeds();
    let text = read(dir.path(), "vault/tenant-alice.tf");
    let binding = text
        .split("resource \"kubernetes_role_binding_v1\" \"alice_dev_admin\"")
        .nth(1)
        .and_then(|rest| rest.split("\n}\n").next())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        binding.contains("depends_on = [kubernetes_namespace_v1.alice_dev]"),
        "{binding}"
    );
    tenantgen(dir.path(), "check").exits(0);
}
