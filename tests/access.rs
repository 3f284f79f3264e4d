//! `tenantgen access` and the access lines of the summary, through the
//! binary: who can do what, computed from the plan, and the least-privilege
//! properties over random user sets.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{edit_users, example_workspace, rendered_workspace, tenantgen};
use serde_json::{Value, json};

fn add_config(dir: &Path, extra: &str) {
    let path = dir.join("tenantgen.hcl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, format!("{text}\n{extra}\n")).unwrap();
}

fn set_deployer_mode(dir: &Path, mode: &str) {
    let path = dir.join("tenantgen.hcl");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replace(
        "mode    = \"secrets-engine\"",
        &format!("mode    = \"{mode}\""),
    );
    assert_ne!(text, changed, "tenantgen.hcl sets the deployer mode");
    std::fs::write(path, changed).unwrap();
}

#[test]
fn the_example_access_table() {
    let dir = example_workspace();
    let table = tenantgen(dir.path(), "access").succeeds().stdout();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!("access__example", table));
}

#[test]
fn the_json_document_lists_every_principal() {
    let dir = example_workspace();
    let report = tenantgen(dir.path(), "access --format json")
        .succeeds()
        .json();
    let principals = report["principals"].as_array().unwrap();
    let names: Vec<(&str, &str, &str)> = principals
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap(),
                p["user"].as_str().unwrap(),
                p["principal"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("user", "alice", "alice"),
            ("user", "bob", "bob"),
            ("user", "carol", "carol@example.com"),
            ("user", "dave", "dave@example.com"),
            ("user", "erin", "erin@example.com"),
            ("ci-deployer", "alice", "alice-dev-deployer"),
            ("ci-deployer", "alice", "alice-prod-deployer"),
            ("ci-deployer", "bob", "bob-staging-deployer"),
            ("ci-deployer", "carol", "carol-deployer"),
        ]
    );
    let deployer = &principals[5];
    assert_eq!(
        deployer["kubernetes"],
        json!([{
            "scope": "alice-dev", "role": "alice-dev-deployer", "role_kind": "Role",
            "via": "alice-dev-deployer", "origin": "generated", "write": true,
            "rules": [
                {"api_groups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch", "update"]},
                {"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list"]}
            ]
        }])
    );
    assert_eq!(deployer["vault"], json!([]));
    let erin = &principals[4];
    assert_eq!(
        erin["kubernetes"],
        json!([{"scope": "cluster", "role": "cluster-admin", "role_kind": "ClusterRole",
                "via": "erin-cluster-admin", "origin": "built-in",
                "rules": [{"api_groups": ["*"], "resources": ["*"], "verbs": ["*"]}], "write": true}])
    );
    let alice_vault: Vec<(&str, Vec<&str>)> = principals[0]["vault"]
        .as_array()
        .unwrap()
        .iter()
        .map(|grant| {
            let capabilities = grant["capabilities"].as_array().unwrap();
            (
                grant["path"].as_str().unwrap(),
                capabilities.iter().map(|c| c.as_str().unwrap()).collect(),
            )
        })
        .collect();
    assert!(alice_vault.contains(&("kubernetes/creds/alice-dev-deployer", vec!["read"])));
    assert!(alice_vault.contains(&(
        "secret/data/alice-prod/*",
        vec!["create", "read", "update", "delete", "list"]
    )));

    // Only the named users, with their deployers.
    let only = tenantgen(dir.path(), "access bob dave --format json")
        .succeeds()
        .json();
    let users: BTreeSet<&str> = only["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, BTreeSet::from(["bob", "dave"]));
    assert_eq!(only["principals"].as_array().unwrap().len(), 3);
    tenantgen(dir.path(), "access bob zed")
        .exits(1)
        .stderr_has("no user \"zed\" in k8s_users");
}

/// Kubernetes grants and Vault capabilities of one principal, as the JSON
/// report has them.
struct Grants<'a> {
    user: &'a str,
    kind: &'a str,
    kubernetes: Vec<(&'a str, &'a str, bool, Option<&'a Vec<Value>>)>,
    vault: Vec<&'a str>,
}

fn grants(report: &Value) -> Vec<Grants<'_>> {
    report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Grants {
            user: p["user"].as_str().unwrap(),
            kind: p["kind"].as_str().unwrap(),
            kubernetes: p["kubernetes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    (
                        g["scope"].as_str().unwrap(),
                        g["role_kind"].as_str().unwrap(),
                        g["write"].as_bool().unwrap(),
                        // Only generated roles' rules: a built-in one's are Kubernetes'.
                        g["rules"].as_array().filter(|_| g["origin"] == "generated"),
                    )
                })
                .collect(),
            vault: p["vault"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["path"].as_str().unwrap())
                .collect(),
        })
        .collect()
}

/// Every namespace and its owner, from a users map.
fn owners(users: &Value) -> BTreeMap<String, String> {
    let mut owners = BTreeMap::new();
    for (name, user) in users.as_object().unwrap() {
        let namespaces = match (&user["role"], &user["namespaces"]) {
            (Value::String(role), Value::Array(list)) if role == "namespace-owner" => list
                .iter()
                .map(|ns| ns.as_str().unwrap().to_string())
                .collect(),
            (Value::String(role), Value::Null) if role == "namespace-owner" => vec![name.clone()],
            _ => Vec::new(),
        };
        for namespace in namespaces {
            owners.insert(namespace, name.clone());
        }
    }
    owners
}

/// The tenant whose namespace a Vault path is about, if any.
fn vault_path_owner<'a>(path: &str, owners: &'a BTreeMap<String, String>) -> Option<&'a str> {
    let segments: Vec<&str> = path.split('/').collect();
    owners.iter().find_map(|(namespace, owner)| {
        let about = segments.contains(&namespace.as_str())
            || path.ends_with(&format!("/creds/{namespace}-deployer"));
        about.then_some(owner.as_str())
    })
}

#[test]
fn random_user_sets_grant_no_more_than_each_tenant_should_have() {
    let dir = example_workspace();
    for seed in 0..24 {
        let users = common::random_users(seed, 14);
        std::fs::write(
            dir.path().join("examples/k8s_users.json"),
            serde_json::to_string(&users).unwrap(),
        )
        .unwrap();
        let report = tenantgen(dir.path(), "access --format json")
            .succeeds()
            .json();
        let owners = owners(&users);
        let roles: BTreeMap<&str, &str> = users
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, user)| (name.as_str(), user["role"].as_str().unwrap()))
            .collect();
        let mut deployers = 0;
        for principal in grants(&report) {
            let user = principal.user;
            for &(scope, role_kind, write, rules) in &principal.kubernetes {
                if let Some(owner) = owners.get(scope) {
                    assert_eq!(
                        owner, user,
                        "seed {seed}: {user} has a grant in {owner}'s {scope}"
                    );
                }
                if scope == "cluster" && write {
                    assert_eq!(
                        roles[user], "admin",
                        "seed {seed}: {user} writes cluster-wide"
                    );
                }
                // Generated roles never reach Secrets, exec, attach or port-forward.
                for rule in rules.into_iter().flatten() {
                    let text = rule.to_string();
                    for forbidden in [
                        "\"secrets\"",
                        "\"*\"",
                        "pods/exec",
                        "pods/attach",
                        "pods/portforward",
                    ] {
                        assert!(
                            !text.contains(forbidden),
                            "seed {seed}: {user}'s {role_kind} in {scope}: {text}"
                        );
                    }
                }
            }
            for path in &principal.vault {
                if let Some(owner) = vault_path_owner(path, &owners) {
                    assert_eq!(owner, user, "seed {seed}: {user} may use {path} of {owner}");
                }
                assert!(
                    !path.contains("platform"),
                    "seed {seed}: {user} reaches {path}"
                );
            }
            if principal.kind == "ci-deployer" {
                deployers += 1;
                let [(scope, "Role", _, Some(_))] = principal.kubernetes[..] else {
                    panic!(
                        "seed {seed}: a deployer of {user} holds {:?}",
                        principal.kubernetes
                    );
                };
                assert_eq!(owners.get(scope).map(String::as_str), Some(user));
                assert!(principal.vault.is_empty());
            }
        }
        assert_eq!(
            deployers,
            owners.len(),
            "seed {seed}: one deployer per namespace"
        );
    }
}

/// The check above is not blind: in auth-role mode every deployer writes
/// into every tenant's namespaces, and it says so.
#[test]
fn auth_role_mode_shares_one_identity_and_says_so() {
    let dir = rendered_workspace();
    set_deployer_mode(dir.path(), "auth-role");
    let report = tenantgen(dir.path(), "access --format json")
        .succeeds()
        .json();
    let alice_deployer = grants(&report)
        .into_iter()
        .find(|p| p.kind == "ci-deployer" && p.user == "alice")
        .unwrap();
    let scopes: BTreeSet<&str> = alice_deployer.kubernetes.iter().map(|g| g.0).collect();
    assert!(scopes.contains("bob-staging"), "{scopes:?}");
    tenantgen(dir.path(), "diff --color never --no-pager")
        .exits(2)
        .stdout_has("CI deployer:           every tenant's pipelines share one identity, woodpecker/woodpecker-deployer (deployer { mode = \"auth-role\" }): any pipeline can deploy into every tenant's namespaces")
        .stdout_has("alice-dev-deployer gains write in bob-staging")
        .stdout_has("alice loses read on vault kubernetes/creds/alice-dev-deployer");
    tenantgen(dir.path(), "access alice")
        .succeeds()
        .stdout_has("service account")
        .stdout_has("namespace bob-staging");
}

#[test]
fn the_summary_lists_access_and_role_grant_changes() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users["erin"]["role"] = json!("power-user");
        users["dave"]["role"] = json!("admin");
        users["bob"]["namespaces"] = json!(["bob-staging", "bob-prod"]);
    });
    add_config(
        dir.path(),
        "power_user {\n  extra_rules = [{ api_groups = [\"apps\"], resources = [\"deployments\"], verbs = [\"patch\"] }]\n}",
    );
    tenantgen(dir.path(), "diff --color never --no-pager")
        .exits(2)
        .stdout_has("access:                bob gains write in bob-prod\n")
        .stdout_has("                         bob-prod-deployer gains write in bob-prod\n")
        .stdout_has("                         dave gains cluster-wide write\n")
        .stdout_has("                         bob gains read on vault kubernetes/creds/bob-prod-deployer\n")
        .stdout_has("role grants:           ClusterRole tenantgen-power-user gains patch deployments (apps) (ESCALATION)");
    let summary = tenantgen(dir.path(), "diff --format json").exits(2).json()["summary"].clone();
    assert_eq!(
        summary["role_grant_changes"],
        json!([{"role": "ClusterRole tenantgen-power-user", "gained": ["patch deployments (apps)"], "lost": []}])
    );
    assert!(
        summary["access_changes"]
            .as_array()
            .unwrap()
            .contains(&json!("dave gains cluster-wide write"))
    );
    // erin keeps cluster-wide write as a power-user who may patch deployments.
    assert!(!summary["access_changes"].to_string().contains("erin"));

    tenantgen(dir.path(), "render --yes").succeeds();
    edit_users(dir.path(), |users| {
        users["dave"]["role"] = json!("power-user");
    });
    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "resources = [\"deployments\"], verbs = [\"patch\"]",
            "resources = [\"deployments/scale\"], verbs = [\"get\"]",
        ),
    )
    .unwrap();
    tenantgen(dir.path(), "diff --color never --no-pager")
        .exits(2)
        .stdout_has("dave loses cluster-wide write")
        .stdout_has("erin loses cluster-wide write")
        .stdout_has(
            "ClusterRole tenantgen-power-user gains get deployments/scale (apps) (ESCALATION)",
        )
        .stdout_has("ClusterRole tenantgen-power-user loses patch deployments (apps) (reduction)");
}
