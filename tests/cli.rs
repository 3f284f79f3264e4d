//! The binary, run in temporary directories: exit codes, confirmation,
//! stale files, and the protection of hand-written and hand-edited files.

mod common;

use common::{edit_users, example_workspace, rendered_workspace, tenantgen, tree};
use serde_json::json;

#[test]
fn render_then_check_and_diff_are_clean() {
    let dir = example_workspace();
    tenantgen(dir.path(), "render --yes")
        .succeeds()
        .stdout_has("users added:")
        .stdout_has("+++ b/stacks-out/vault/tenant-alice.tf")
        .stdout_has("Wrote stacks-out.");
    assert!(dir.path().join("stacks-out/vault/tenant-alice.tf").exists());
    tenantgen(dir.path(), "check").exits(0);
    tenantgen(dir.path(), "diff")
        .exits(0)
        .stdout_has("No changes");
    tenantgen(dir.path(), "render --yes")
        .exits(0)
        .stdout_has("No changes");
}

#[test]
fn the_committed_example_is_up_to_date() {
    tenantgen(&common::repo(), "check").exits(0);
}

#[test]
fn render_matches_the_committed_example() {
    let dir = rendered_workspace();
    assert_eq!(
        tree(&dir.path().join("stacks-out")),
        tree(&common::repo().join("stacks-out"))
    );
}

#[test]
fn removing_a_user_shows_their_files_going_away() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    tenantgen(dir.path(), "diff")
        .exits(2)
        .stdout_has("--- a/stacks-out/vault/tenant-carol.tf\n+++ /dev/null")
        .stdout_has("--- a/stacks-out/platform/tenant-carol.tf\n+++ /dev/null")
        .stdout_has("users removed:         carol (namespace-owner)")
        .stdout_has("-    \"carol\",");
    tenantgen(dir.path(), "check")
        .exits(2)
        .stderr_has("run `tenantgen render`");
    tenantgen(dir.path(), "render --yes").succeeds();
    let files = tree(&dir.path().join("stacks-out"));
    assert!(
        !files.keys().any(|path| path.contains("carol")),
        "{:?}",
        files.keys()
    );
    assert!(!String::from_utf8_lossy(&files["actualbudget/factory/main.tf"]).contains("carol"));
    tenantgen(dir.path(), "check").exits(0);
}

#[test]
fn adding_a_user_adds_files_and_touches_only_aggregates() {
    let dir = rendered_workspace();
    let before = tree(&dir.path().join("stacks-out"));
    edit_users(dir.path(), |users| {
        users.insert(
            "frank".into(),
            json!({"role": "namespace-owner", "apps": ["freedify"]}),
        );
    });
    tenantgen(dir.path(), "render --yes").succeeds();
    let after = tree(&dir.path().join("stacks-out"));
    let added: Vec<&String> = after
        .keys()
        .filter(|path| !before.contains_key(*path))
        .collect();
    assert_eq!(
        added,
        ["platform/tenant-frank.tf", "vault/tenant-frank.tf",]
    );
    let changed: Vec<&String> = before
        .keys()
        .filter(|path| after.get(*path) != before.get(*path))
        .collect();
    assert_eq!(
        changed,
        [
            ".tenantgen.json",
            "freedify/factory/main.tf",
            "woodpecker/tenantgen.tf"
        ]
    );
}

#[test]
fn render_refuses_without_a_terminal_or_yes() {
    let dir = example_workspace();
    let before = tree(dir.path());
    tenantgen(dir.path(), "render")
        .exits(1)
        .stderr_has("re-run with --yes");
    assert_eq!(tree(dir.path()), before);
    // An output root the refused run would have created is not left behind.
    tenantgen(dir.path(), "render --out new-root").exits(1);
    assert!(!dir.path().join("new-root").exists());
}

#[test]
fn diff_exit_codes() {
    let dir = example_workspace();
    tenantgen(dir.path(), "diff").exits(2);
    assert!(
        !dir.path().join("stacks-out/vault/tenant-alice.tf").exists(),
        "diff never writes"
    );
}

#[test]
fn hand_written_files_are_never_touched() {
    let dir = rendered_workspace();
    let hand_written = dir.path().join("stacks-out/platform/versions.tf");
    let original = std::fs::read(&hand_written).unwrap();
    edit_users(dir.path(), |users| users.clear());
    tenantgen(dir.path(), "render --yes --allow-removals 5").succeeds();
    assert_eq!(std::fs::read(&hand_written).unwrap(), original);
    assert!(dir.path().join("stacks-out/actualbudget/main.tf").exists());
    assert!(
        !dir.path()
            .join("stacks-out/platform/tenant-alice.tf")
            .exists()
    );
}

#[test]
fn a_hand_written_file_in_the_way_is_an_error() {
    let dir = example_workspace();
    let in_the_way = dir.path().join("stacks-out/vault/tenant-alice.tf");
    std::fs::write(&in_the_way, "# mine\n").unwrap();
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("stacks-out/vault/tenant-alice.tf")
        .stderr_has("never overwrites hand-written files");
    assert_eq!(tree(dir.path()), before);
    tenantgen(dir.path(), "check").exits(1);
}

#[test]
fn hand_edits_are_detected_and_need_force() {
    let dir = rendered_workspace();
    let edited = dir.path().join("stacks-out/platform/tenant-bob.tf");
    let text = std::fs::read_to_string(&edited)
        .unwrap()
        .replace("\"4Gi\"", "\"40Gi\"");
    std::fs::write(&edited, &text).unwrap();
    tenantgen(dir.path(), "check")
        .exits(2)
        .stderr_has("edited by hand: platform/tenant-bob.tf")
        .stdout_has("was edited by hand");
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("stacks-out/platform/tenant-bob.tf")
        .stderr_has("--force");
    assert_eq!(tree(dir.path()), before);
    tenantgen(dir.path(), "render --yes --force").succeeds();
    tenantgen(dir.path(), "check").exits(0);
}

#[test]
fn an_edited_stale_file_is_not_deleted_without_force() {
    let dir = rendered_workspace();
    let stale = dir.path().join("stacks-out/vault/tenant-carol.tf");
    let text = std::fs::read_to_string(&stale).unwrap() + "# note\n";
    std::fs::write(&stale, text).unwrap();
    edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    tenantgen(dir.path(), "render --yes").exits(1);
    assert!(stale.exists());
    tenantgen(dir.path(), "render --yes --force").succeeds();
    assert!(!stale.exists());
}

#[test]
fn orphaned_generated_files_fail_check() {
    let dir = rendered_workspace();
    let orphan = dir.path().join("stacks-out/vault/tenant-zed.tf");
    std::fs::copy(dir.path().join("stacks-out/vault/tenant-bob.tf"), &orphan).unwrap();
    tenantgen(dir.path(), "check")
        .exits(2)
        .stdout_has("--- a/stacks-out/vault/tenant-zed.tf");
}

/// Each bad input exits 1 with a message naming the problem and leaves the tree alone.
#[test]
fn invalid_input_changes_nothing() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        (
            "one namespace, two users",
            json!({"bob": {"role": "namespace-owner", "namespaces": ["alice-prod"]}}),
            "claimed by both user \"alice\" and user \"bob\"",
        ),
        (
            "kube-system",
            json!({"bob": {"role": "namespace-owner", "namespaces": ["kube-system"]}}),
            "namespaces[0] = \"kube-system\": is reserved",
        ),
        (
            "foreign domain",
            json!({"bob": {"role": "namespace-owner", "domains": ["bob.evil.org"]}}),
            "outside the managed zone",
        ),
        (
            "zone apex",
            json!({"bob": {"role": "namespace-owner", "domains": ["example.com"]}}),
            "zone apex",
        ),
        (
            "domain twice",
            json!({"bob": {"role": "namespace-owner", "domains": ["alice.example.com"]}}),
            "domain \"alice.example.com\": claimed by both",
        ),
        (
            "8GB",
            json!({"bob": {"role": "namespace-owner", "quota": {"memory": "8GB"}}}),
            "quota.memory = \"8GB\"",
        ),
        (
            "* username",
            json!({"*": {"role": "admin"}}),
            "user \"*\": the username",
        ),
        (
            "../x namespace",
            json!({"bob": {"role": "namespace-owner", "namespaces": ["../x"]}}),
            "namespaces[0] = \"../x\"",
        ),
        (
            "email quote newline",
            json!({"bob": {"role": "admin", "email": "bob\"\n@example.com"}}),
            "email = \"bob\\\"\\n@example.com\"",
        ),
        (
            "interpolation in domain",
            json!({"bob": {"role": "admin", "domains": ["${var.x}.example.com"]}}),
            "domains[0] = \"${var.x}.example.com\"",
        ),
        (
            "unknown role",
            json!({"bob": {"role": "root"}}),
            "unknown role",
        ),
        (
            "unknown app",
            json!({"bob": {"role": "admin", "apps": ["wordpress"]}}),
            "not a configured factory app",
        ),
    ];
    for (name, change, expected) in cases {
        let dir = rendered_workspace();
        edit_users(dir.path(), |users| {
            users.extend(change.as_object().unwrap().clone());
        });
        let before = tree(dir.path());
        for command in ["render --yes", "diff", "check", "validate"] {
            tenantgen(dir.path(), command)
                .exits(1)
                .stderr_has(expected)
                .stderr_has("nothing was written");
        }
        assert_eq!(tree(dir.path()), before, "{name}");
    }
}

#[test]
fn malformed_json_changes_nothing() {
    let dir = rendered_workspace();
    std::fs::write(
        dir.path().join("examples/k8s_users.json"),
        "{\"alice\": {\"role\": ",
    )
    .unwrap();
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("is not valid JSON")
        .stderr_has("line 1");
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn validate_reports_counts_and_warnings() {
    let dir = example_workspace();
    tenantgen(dir.path(), "validate")
        .exits(0)
        .stdout_has("k8s_users is valid: 5 users, 4 namespaces, 5 domains");
    edit_users(dir.path(), |users| {
        users.insert("frank".into(), json!({"role": "admin", "team": "x"}));
    });
    tenantgen(dir.path(), "validate")
        .exits(0)
        .stderr_has("warning: user \"frank\": unknown field \"team\"");
    tenantgen(dir.path(), "validate --strict").exits(1);
}

#[test]
fn flags_override_the_config() {
    let dir = example_workspace();
    std::fs::rename(
        dir.path().join("examples/k8s_users.json"),
        dir.path().join("people.json"),
    )
    .unwrap();
    std::fs::rename(
        dir.path().join("tenantgen.hcl"),
        dir.path().join("other.hcl"),
    )
    .unwrap();
    tenantgen(
        dir.path(),
        "render --yes --config other.hcl --users people.json --out elsewhere",
    )
    .succeeds();
    assert!(dir.path().join("elsewhere/vault/tenant-alice.tf").exists());
    tenantgen(dir.path(), "validate")
        .exits(1)
        .stderr_has("pass --users FILE");
}

#[test]
fn config_errors_name_the_file_and_key() {
    let dir = example_workspace();
    std::fs::write(dir.path().join("tenantgen.hcl"), "users_file = \"examples/k8s_users.json\"\nzone = \"example.com\"\ndns {\n  proxy = true\n}\n").unwrap();
    tenantgen(dir.path(), "validate")
        .exits(1)
        .stderr_has("tenantgen.hcl")
        .stderr_has("dns.proxy: unknown key; did you mean `proxied`?");
}

#[test]
fn templates_can_be_overridden() {
    let dir = example_workspace();
    let overrides = dir.path().join("my-templates/factory");
    std::fs::create_dir_all(&overrides).unwrap();
    std::fs::write(
        overrides.join("main.tf.j2"),
        "{% for object in objects %}\nmodule {{ object.tf }} {\nsource = \"../\"\nuser = {{ object.user }}\ndomain = {{ object.domain }}\nextra = \"custom\"\n}\n{% endfor %}\n",
    )
    .unwrap();
    tenantgen(dir.path(), "render --yes --templates my-templates").succeeds();
    let factory =
        std::fs::read_to_string(dir.path().join("stacks-out/actualbudget/factory/main.tf"))
            .unwrap();
    assert!(factory.contains("  extra  = \"custom\"\n"), "{factory}");
    std::fs::write(dir.path().join("my-templates/typo.tf.j2"), "").unwrap();
    tenantgen(dir.path(), "diff --templates my-templates")
        .exits(1)
        .stderr_has("matches no built-in template");
}

#[test]
fn colour_follows_the_flag() {
    let dir = example_workspace();
    tenantgen(dir.path(), "diff --color always")
        .exits(2)
        .stdout_has("\x1b[32m+");
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_lacks("\x1b[");
}

/// `script` (util-linux) gives render a terminal; the answer comes on stdin.
fn render_on_a_terminal(dir: &std::path::Path, answer: &str) -> std::process::Output {
    use std::io::Write;
    let binary = assert_cmd::cargo::cargo_bin("tenantgen");
    let mut child = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} render --color never", binary.display()),
            "/dev/null",
        ])
        .current_dir(dir)
        // No pager waiting for keys on this terminal (tests/review.rs tests it).
        .env("PAGER", "cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("`script` from util-linux runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn render_asks_before_writing() {
    let dir = example_workspace();
    let declined = render_on_a_terminal(dir.path(), "n\n");
    let stdout = String::from_utf8_lossy(&declined.stdout);
    assert!(
        stdout.contains(
            "Write these changes to stacks-out (14 files: 14 added, 0 changed, 0 deleted)? [y/N]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("Nothing written."), "{stdout}");
    let summary_at = stdout.find("Summary").unwrap();
    assert!(
        summary_at > stdout.find("+++ b/stacks-out/").unwrap(),
        "the summary comes after the diff"
    );
    assert_eq!(declined.status.code(), Some(1));
    assert!(!dir.path().join("stacks-out/vault/tenant-alice.tf").exists());

    let accepted = render_on_a_terminal(dir.path(), "y\n");
    assert_eq!(
        accepted.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&accepted.stdout)
    );
    tenantgen(dir.path(), "check").exits(0);
}

#[test]
fn the_summary_speaks_in_tenant_terms() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users["bob"]["role"] = json!("admin");
        users["dave"]["apps"] = json!(["freedify"]);
        users.insert("frank".into(), json!({"role": "namespace-owner", "domains": ["frank.example.com"], "apps": ["actualbudget"]}));
    });
    tenantgen(dir.path(), "diff")
        .exits(2)
        .stdout_has("users added:           frank (namespace-owner)")
        .stdout_has("role changes:          bob: namespace-owner -> admin (ESCALATION)")
        .stdout_has("namespaces created:    frank")
        .stdout_has("domains added:         frank.example.com")
        .stdout_has("app instances added:   actualbudget/frank")
        .stdout_has("app instances removed: actualbudget/dave")
        .stdout_has("Authentik: add frank to the groups kubernetes-namespace-owners and Headscale Users")
        .stdout_has("export the NFS share /mnt/data/actualbudget/frank and add the Cloudflare route budget.frank.example.com")
        .stdout_has("apply in this order: vault, then platform, then woodpecker, then actualbudget/factory")
        .stdout_matches(r"\n    vault: +1 added, 1 changed, 0 deleted \(\+\d+ -\d+ lines\)\n    platform: +1 added, 1 changed")
        .stdout_matches(r"\n    actualbudget/factory: +0 added, 1 changed, 0 deleted \(\+\d+ -\d+ lines\)\n");
}

#[test]
fn a_broken_template_override_is_caught_before_writing() {
    for (template, expected) in [
        (
            "module {{ object.tf }} {\nsource = \"../\"\n",
            "bracket(s) opened but never closed",
        ),
        ("module {{ object.tf }} {\nsource \"../\"\n}\n", "expected"),
    ] {
        let dir = example_workspace();
        let overrides = dir.path().join("my-templates/factory");
        std::fs::create_dir_all(&overrides).unwrap();
        std::fs::write(
            overrides.join("main.tf.j2"),
            format!("{{% for object in objects %}}\n{template}{{% endfor %}}\n"),
        )
        .unwrap();
        tenantgen(dir.path(), "render --yes --templates my-templates")
            .exits(1)
            .stderr_has("generated actualbudget/factory/main.tf is not valid HCL")
            .stderr_has(expected)
            .stderr_has("factory/main.tf.j2");
        assert!(!dir.path().join("stacks-out/vault/tenant-alice.tf").exists());
        tenantgen(
            dir.path(),
            "render --yes --templates my-templates --out new-root",
        )
        .exits(1);
        assert!(!dir.path().join("new-root").exists());
    }
}

#[test]
fn completions_and_man_page_come_from_clap() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        tenantgen(dir.path(), "completions")
            .arg(shell)
            .succeeds()
            .stdout_has("render")
            .stdout_has("vault-addr");
    }
    tenantgen(dir.path(), "man")
        .succeeds()
        .stdout_has(".TH tenantgen 1")
        .stdout_has("check");
}

#[test]
fn removed_namespaces_are_released_unless_destroyed_by_name() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_has(
            "namespaces released:   carol (Terraform forgets it; the namespace and its data stay)",
        )
        .stdout_has("tenantgen render --forget-released carol")
        .stdout_has("+removed {\n+  from = kubernetes_namespace_v1.carol")
        .stdout_lacks("DESTROYED");
    tenantgen(dir.path(), "diff --color never --destroy-namespace carol")
        .exits(2)
        .stdout_has("namespaces DESTROYED:  carol (--destroy-namespace")
        .stdout_lacks("removed {");
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes --destroy-namespace alice-dev")
        .exits(1)
        .stderr_has("--destroy-namespace alice-dev: it is still in the users source");
    assert_eq!(tree(dir.path()), before);

    // Released stays released, render after render, until forgotten.
    tenantgen(dir.path(), "render --yes").succeeds();
    let lifecycle = dir.path().join("stacks-out/vault/tenantgen-lifecycle.tf");
    assert!(
        std::fs::read_to_string(&lifecycle)
            .unwrap()
            .contains("kubernetes_namespace_v1.carol")
    );
    tenantgen(dir.path(), "check").exits(0);
    tenantgen(dir.path(), "render --yes --forget-released carol").succeeds();
    assert!(!lifecycle.exists());
}

#[test]
fn adoption_moves_keep_the_resource_type() {
    let dir = example_workspace();
    let config = dir.path().join("tenantgen.hcl");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{original}\nadopt {{}}\n")).unwrap();
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_has("+moved {\n+  from = kubernetes_namespace.user_namespace[\"alice-dev\"]\n+  to   = kubernetes_namespace.alice_dev\n+}")
        .stdout_has("+  from = module.rbac.kubernetes_role_binding.namespace_owner[\"alice-alice-dev\"]")
        .stdout_has("kubernetes_role_binding.alice_dev_admin: namespace-owner-alice -> alice-admin")
        .stdout_has("resource \"kubernetes_namespace\" \"carol\"")
        // The deployer of the real deployment, keyed by namespace.
        .stdout_has("+moved {\n+  from = kubernetes_role.user_deployer[\"alice-dev\"]\n+  to   = kubernetes_role.alice_dev_deployer\n+}")
        .stdout_has("+moved {\n+  from = vault_kubernetes_secret_backend_role.user_deployer[\"alice-dev\"]\n+  to   = vault_kubernetes_secret_backend_role.alice_dev_deployer\n+}");
    tenantgen(dir.path(), "render --yes").succeeds();
    tenantgen(dir.path(), "check").exits(0);

    // In auth-role mode adoption moves the same identities; the deployer's
    // auth roles and bindings are new (the design kept no for_each of them).
    let auth_role = original.replace("mode    = \"secrets-engine\"", "mode    = \"auth-role\"");
    assert_ne!(auth_role, original);
    std::fs::write(&config, format!("{auth_role}\nadopt {{}}\n")).unwrap();
    tenantgen(dir.path(), "render --yes --color never")
        .succeeds()
        .stdout_has("+resource \"vault_kubernetes_auth_backend_role\" \"alice_dev_deployer\" {");
    tenantgen(dir.path(), "check").exits(0);
    let moves =
        std::fs::read_to_string(dir.path().join("stacks-out/vault/tenantgen-adopt.tf")).unwrap();
    assert!(moves.contains("from = kubernetes_namespace.user_namespace[\"alice-dev\"]"));
    assert!(!moves.contains("user_deployer"), "{moves}");
    std::fs::write(&config, format!("{original}\nadopt {{}}\n")).unwrap();

    for (block, expected) in [
        (
            "adopt {\n  legacy_resource_types = false\n}\n",
            "adopt.namespaces = \"kubernetes_namespace.user_namespace\": tenantgen generates kubernetes_namespace_v1 here",
        ),
        (
            "adopt {\n  policies = \"namespace_owner\"\n}\n",
            "adopt.policies: \"namespace_owner\" must be a resource address `TYPE.NAME`",
        ),
        (
            "adopt {\n  module_prefix = \"rbac\"\n}\n",
            "adopt.module_prefix: \"rbac\" must be empty or `module.NAME`",
        ),
    ] {
        std::fs::write(&config, format!("{original}\n{block}")).unwrap();
        tenantgen(dir.path(), "diff").exits(1).stderr_has(expected);
    }
}

#[test]
fn an_unreadable_render_record_stops_the_render() {
    // The record keeps released namespaces from being deleted: a damaged
    // one must not be mistaken for a first render.
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    std::fs::write(
        dir.path().join("stacks-out/.tenantgen.json"),
        "{\"generator\": \"tenantgen\", \"format\": 1}",
    )
    .unwrap();
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("cannot be read as a tenantgen render record; restore it from version control");
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_missing_render_record_beside_generated_files_stops_the_render() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    std::fs::remove_file(dir.path().join("stacks-out/.tenantgen.json")).unwrap();
    let before = tree(dir.path());
    for command in ["render --yes", "diff", "check"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("holds generated files but no render record (.tenantgen.json)");
    }
    assert_eq!(tree(dir.path()), before);
}

/// What the real deployment feeds its for_each code: usernames with `_`,
/// short domains, a static admin with capitals.
#[test]
fn input_as_the_real_deployment_writes_it() {
    let dir = example_workspace();
    edit_users(dir.path(), |users| {
        users.insert(
            "jane_doe".into(),
            json!({"role": "namespace-owner", "email": "jane@example.com", "namespaces": ["jane"], "domains": ["myapp"]}),
        );
    });
    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "static_admins = [\"admin\"]",
            "static_admins = [\"ViktorBarzin\"]",
        ),
    )
    .unwrap();
    tenantgen(dir.path(), "render --yes").succeeds();
    let out = dir.path().join("stacks-out");
    let platform = std::fs::read_to_string(out.join("platform/tenant-jane_doe.tf")).unwrap();
    // RBAC names are path segments and keep the `_`; a DNS-style name
    // (the quota's, from a pattern with {user}) writes it `-`.
    assert!(
        platform.contains("name      = \"jane_doe-admin\""),
        "{platform}"
    );
    assert!(
        platform.contains("name = \"jane_doe-read-only\""),
        "{platform}"
    );
    assert!(
        platform.contains("name    = \"myapp.example.com\""),
        "{platform}"
    );
    let vault = std::fs::read_to_string(out.join("vault/tenant-jane_doe.tf")).unwrap();
    assert!(
        vault.contains("name     = \"jane_doe\""),
        "the entity keeps the username: {vault}"
    );
    let admins = std::fs::read_to_string(out.join("woodpecker/tenantgen.tf")).unwrap();
    assert!(admins.contains("\"ViktorBarzin\""), "{admins}");
    assert!(admins.contains("\"jane_doe\""), "{admins}");
    tenantgen(dir.path(), "check").exits(0);
}

/// A layout like the real deployment's: RBAC and quotas in `rbac`, DNS in
/// `cloudflared`; each stack's tenant file holds its groups, and released
/// namespaces stay in the namespaces stack.
#[test]
fn layout_places_each_group_in_its_stack() {
    let dir = rendered_workspace();
    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\nlayout {{\n  namespaces = \"ns\"\n  rbac = \"rbac\"\n  tls = \"rbac\"\n  dns = \"cloudflared\"\n}}\n"),
    )
    .unwrap();
    tenantgen(dir.path(), "diff --color never --no-pager")
        .exits(2)
        .stdout_has("stacks changed:        5 objects from platform to cloudflared (layout changed; their state must move too)")
        .stdout_has("19 objects from platform to rbac")
        .stdout_has("before applying, move the state of 4 objects from vault to ns")
        .stdout_has("apply in this order: ns, then vault, then rbac, then cloudflared\n");
    tenantgen(dir.path(), "render --yes").succeeds();
    let out = dir.path().join("stacks-out");
    let read = |path: &str| std::fs::read_to_string(out.join(path)).unwrap_or_default();
    let rbac = read("rbac/tenant-alice.tf");
    assert!(rbac.starts_with("# Generated by tenantgen"), "{rbac}");
    assert!(
        rbac.contains("# Tenant alice (namespace-owner): RBAC, quotas, TLS.\n"),
        "{rbac}"
    );
    assert!(rbac.contains("resource \"kubernetes_role_binding_v1\" \"alice_dev_admin\""));
    assert!(rbac.contains("resource \"kubernetes_manifest\" \"alice_dev_tls\""));
    assert!(
        read("rbac/tenantgen.tf")
            .contains("resource \"kubernetes_cluster_role_v1\" \"tenantgen_read_only\"")
    );
    let dns = read("cloudflared/tenant-alice.tf");
    assert!(
        dns.contains("# Tenant alice (namespace-owner): DNS.\n"),
        "{dns}"
    );
    assert!(dns.contains("resource \"cloudflare_record\""), "{dns}");
    assert!(
        read("ns/tenant-alice.tf").contains("resource \"kubernetes_namespace_v1\" \"alice_dev\"")
    );
    let vault = read("vault/tenant-alice.tf");
    assert!(
        vault.contains(
            "# Tenant alice (namespace-owner): secrets policy, identity, CI deployer roles.\n"
        ),
        "{vault}"
    );
    assert!(!vault.contains("kubernetes_namespace_v1"), "{vault}");
    for gone in [
        "platform/tenant-alice.tf",
        "platform/tenantgen.tf",
        "vault/tenant-dave.tf",
    ] {
        assert!(!out.join(gone).exists(), "{gone} is gone");
    }
    tenantgen(dir.path(), "check").exits(0);

    edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    tenantgen(dir.path(), "render --yes").succeeds();
    assert!(read("ns/tenantgen-lifecycle.tf").contains("kubernetes_namespace_v1.carol"));
    tenantgen(dir.path(), "check").exits(0);

    std::fs::write(
        &config,
        format!("{text}\nlayout {{\n  rbac = \"../rbac\"\n  dns = \"actualbudget\"\n}}\n"),
    )
    .unwrap();
    tenantgen(dir.path(), "diff")
        .exits(1)
        .stderr_has("layout.rbac: \"../rbac\" is not a stack directory")
        .stderr_has("stack \"actualbudget\" is app \"actualbudget\"'s directory");
}

/// Every Kubernetes and Vault name follows `names`; the defaults give the
/// names of the design, and a pattern that would merge two tenants' objects
/// is refused.
#[test]
fn names_follow_the_configured_patterns() {
    let dir = example_workspace();
    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}\nnames {{\n  policy = \"tenant-{{user}}\"\n  namespace_admin = \"namespace-owner-{{user}}\"\n  quota = \"user-quota\"\n  read_only_binding = \"oidc-ns-owner-readonly-{{user}}\"\n  read_only_role = \"oidc-namespace-owner-readonly\"\n  deployer = \"{{namespace}}-ci\"\n}}\n"
        ),
    )
    .unwrap();
    tenantgen(dir.path(), "render --yes").succeeds();
    let out = dir.path().join("stacks-out");
    let read = |path: &str| std::fs::read_to_string(out.join(path)).unwrap();
    let platform = read("platform/tenant-alice.tf");
    for expected in [
        "name      = \"namespace-owner-alice\"",
        "name      = \"user-quota\"",
        "name = \"oidc-ns-owner-readonly-alice\"",
        // The binding takes the role's name from the generated role.
        "name      = kubernetes_cluster_role_v1.tenantgen_read_only.metadata[0].name",
    ] {
        assert!(platform.contains(expected), "{expected}:\n{platform}");
    }
    let vault = read("vault/tenant-alice.tf");
    for expected in [
        "name   = \"tenant-alice\"",
        "name                          = \"alice-dev-ci\"",
        "path \"kubernetes/creds/alice-dev-ci\"",
    ] {
        assert!(vault.contains(expected), "{expected}:\n{vault}");
    }
    assert!(read("platform/tenantgen.tf").contains("name = \"oidc-namespace-owner-readonly\""));
    tenantgen(dir.path(), "check").exits(0);

    std::fs::write(
        &config,
        format!("{text}\nnames {{\n  policy = \"owners\"\n  quota = \"{{tenant}}-quota\"\n  entity = \"{{user}}/x\"\n}}\n"),
    )
    .unwrap();
    tenantgen(dir.path(), "diff")
        .exits(1)
        .stderr_has("names.policy: \"owners\" lacks {user}, so two tenants' objects would share its name")
        .stderr_has("names.quota: \"{tenant}-quota\" has an unknown placeholder; it may use {user} and {namespace}")
        .stderr_has("names.entity: \"{user}/x\" does not give a valid name");
}

/// The real deployment's variants: namespace labels with placeholders and a
/// label another controller stamps, one Vault folder per user with its
/// metadata capabilities, extra entity policies, usernames as RBAC subjects.
#[test]
fn variants_the_real_deployment_needs() {
    let dir = example_workspace();
    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}\nnamespaces {{\n  labels = {{ tier = \"4-aux\", owner = \"{{user}}\" }}\n  ignore_label_changes = [\"goldilocks.fairwinds.com/vpa-update-mode\"]\n}}\n\
             vault {{\n  policy_scope = \"user\"\n  metadata_capabilities = [\"list\", \"read\", \"delete\"]\n}}\n\
             identity {{\n  subject = \"username\"\n  extra_policies = [\"sops-user-{{user}}\"]\n}}\n\
             quota {{\n  keys = [\"cpu\", \"memory\", \"memory_limits\", \"pods\"]\n}}\n\
             namespace_owner {{\n  cluster_role = \"oidc-namespace-owner-readonly\"\n}}\n"
        ),
    )
    .unwrap();
    edit_users(dir.path(), |users| {
        for user in users.values_mut() {
            user.as_object_mut().unwrap().remove("quota");
        }
    });
    tenantgen(dir.path(), "render --yes").succeeds();
    let quota =
        std::fs::read_to_string(dir.path().join("stacks-out/platform/tenant-bob.tf")).unwrap();
    let hard = quota
        .split("hard = {")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    let keys: Vec<&str> = hard
        .lines()
        .filter_map(|line| line.split('"').nth(1))
        .collect();
    assert_eq!(
        keys,
        ["limits.memory", "pods", "requests.cpu", "requests.memory"],
        "{quota}"
    );
    let out = dir.path().join("stacks-out");
    let read = |path: &str| std::fs::read_to_string(out.join(path)).unwrap();
    let vault = read("vault/tenant-alice.tf");
    for expected in [
        "\"owner\"                        = \"alice\"",
        "\"tier\"                         = \"4-aux\"",
        "ignore_changes = [metadata[0].labels[\"goldilocks.fairwinds.com/vpa-update-mode\"]]",
        "path \"secret/data/alice\" {",
        "path \"secret/data/alice/*\" {",
        "path \"secret/metadata/alice/*\" {\n      capabilities = [\"list\", \"read\", \"delete\"]",
        "policies = [vault_policy.alice.name, \"sops-user-alice\"]",
    ] {
        assert!(vault.contains(expected), "{expected}:\n{vault}");
    }
    assert!(!vault.contains("secret/data/alice-dev"), "{vault}");
    let platform = read("platform/tenant-carol.tf");
    assert!(
        platform.contains("name      = \"carol\"\n"),
        "the subject is the username:\n{platform}"
    );
    assert!(!platform.contains("carol@example.com"), "{platform}");
    assert!(
        platform.contains("name      = \"oidc-namespace-owner-readonly\""),
        "{platform}"
    );
    assert!(
        !read("platform/tenantgen.tf").contains("tenantgen_read_only"),
        "a ClusterRole that exists by hand is not generated"
    );
    tenantgen(dir.path(), "check").exits(0);
    tenantgen(dir.path(), "access alice")
        .succeeds()
        .stdout_has("vault policy sops-user-alice")
        .stdout_has(
            "ClusterRole oidc-namespace-owner-readonly  yes? (written by hand; rules unknown)",
        );

    std::fs::write(
        &config,
        format!(
            "{text}\nvault {{\n  metadata_capabilities = [\"lst\"]\n}}\nidentity {{\n  extra_policies = [\"{{owner}}\"]\n}}\nnamespaces {{\n  labels = {{ team = \"{{team}}\" }}\n}}\n"
        ),
    )
    .unwrap();
    tenantgen(dir.path(), "diff")
        .exits(1)
        .stderr_has("vault.metadata_capabilities: \"lst\" is not a Vault capability")
        .stderr_has("identity.extra_policies: \"{owner}\" has an unknown placeholder")
        .stderr_has("namespaces.labels.team: \"{team}\" has an unknown placeholder");

    std::fs::write(
        &config,
        format!("{text}\nquota {{\n  keys = [\"cpu\", \"pods\"]\n}}\n"),
    )
    .unwrap();
    edit_users(dir.path(), |users| {
        users["bob"]["quota"] = json!({"storage": "50Gi"});
    });
    tenantgen(dir.path(), "diff")
        .exits(1)
        .stderr_has("user \"bob\": quota.storage = \"50Gi\": sets requests.storage, which quota.keys in tenantgen.hcl leaves out of every ResourceQuota");
}

/// The record's layout and grant settings come from the tree a pull request
/// can edit: a planted value is refused, never printed or obeyed.
#[test]
fn planted_layout_and_grants_in_the_record_are_refused() {
    let dir = rendered_workspace();
    let path = dir.path().join("stacks-out/.tenantgen.json");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (field, value) in [
        ("layout", json!({"rbac": "\u{1b}[2J../../etc"})),
        ("layout", json!({"nonsense": "rbac"})),
        (
            "grants",
            json!({"deployer_mode": "secrets-engine", "deployer_mount": "kubernetes",
                   "deployer_rules": [{"api_groups": [""], "resources": ["pods\u{202e}"], "verbs": ["get"]}]}),
        ),
    ] {
        let mut record = original.clone();
        record[field] = value;
        std::fs::write(&path, record.to_string()).unwrap();
        tenantgen(dir.path(), "diff")
            .exits(1)
            .stderr_has("cannot be read as a tenantgen render record")
            .stderr_lacks("\u{1b}[2J")
            .stderr_lacks("\u{202e}");
    }
}
