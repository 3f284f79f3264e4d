//! The review output of `render`, `diff` and `check`, through the binary:
//! diffs first (through a pager on a terminal), then the summary, then the
//! prompt; the render record in one line; every change to a user; where
//! the users came from; offboarding steps; plurals; colours.

mod common;

use std::path::Path;

use common::bao::Bao;
use common::{edit_users, example_users, example_workspace, rendered_workspace, tenantgen};
use serde_json::{Value, json};

/// Runs `tenantgen ARGS` on a terminal (`script` from util-linux), with
/// `env` set and `answer` typed at the prompt; returns what the terminal showed.
fn on_a_terminal(dir: &Path, args: &str, env: &[(&str, &str)], answer: &str) -> (String, i32) {
    use std::io::Write;
    let binary = assert_cmd::cargo::cargo_bin("tenantgen");
    let mut command = std::process::Command::new("script");
    command
        .args([
            "-qec",
            &format!("{} {args} --color never", binary.display()),
            "/dev/null",
        ])
        .current_dir(dir)
        .env_remove("LESS")
        .env_remove("LV")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .spawn()
        .expect("`script` runs (apt-get install util-linux)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    (shown, output.status.code().unwrap_or(-1))
}

/// A pager that records what it is given, and the LESS it was started with;
/// with `interrupt`, it first sends tenantgen the SIGINT of a Ctrl-C.
fn recording_pager(dir: &Path, interrupt: bool) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let pager = dir.join("record-pager");
    let ctrl_c = if interrupt { "kill -INT $PPID\n" } else { "" };
    std::fs::write(
        &pager,
        format!(
            "#!/bin/sh\n{ctrl_c}printf '%s\\n' \"$LESS\" > '{0}/pager-less'\ncat > '{0}/paged'\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pager, std::fs::Permissions::from_mode(0o755)).unwrap();
    pager
}

/// The summary ends the output right above the prompt: nothing but its own
/// lines between its heading and the question.
fn assert_summary_right_above_prompt(shown: &str) {
    let summary = shown.rfind("Summary").expect("a summary");
    let prompt = shown.find("Write these changes").expect("a prompt");
    assert!(summary < prompt, "{shown}");
    let between = &shown[summary..prompt];
    assert!(
        between
            .lines()
            .skip(1)
            .all(|line| line.is_empty() || line.starts_with("  ") || line == "Next steps:"),
        "only the summary between its heading and the prompt:\n{between}"
    );
}

#[test]
fn the_diff_goes_to_the_pager_and_the_summary_ends_above_the_prompt() {
    let dir = example_workspace();
    // Ctrl-C in the pager is the pager's: tenantgen still asks afterwards.
    let pager = recording_pager(dir.path(), true);
    let (shown, code) = on_a_terminal(
        dir.path(),
        "render",
        &[("PAGER", pager.to_str().unwrap())],
        "n\n",
    );
    assert_eq!(code, 1, "{shown}");
    let paged = std::fs::read_to_string(dir.path().join("paged")).expect("the pager ran");
    assert!(
        paged.contains("+++ b/stacks-out/vault/tenant-alice.tf"),
        "{paged}"
    );
    assert!(
        paged.contains("+ stacks-out/.tenantgen.json: render record created"),
        "{paged}"
    );
    assert!(!paged.contains("Summary"), "the summary is not paged");
    assert!(
        !shown.contains("+++ b/"),
        "the diff went to the pager only:\n{shown}"
    );
    // As git starts less: quit on one screen, colours, no screen clearing.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pager-less")).unwrap(),
        "FRX\n"
    );
    assert_summary_right_above_prompt(&shown);
    assert!(
        shown.contains(
            "Write these changes to stacks-out (14 files: 14 added, 0 changed, 0 deleted)? [y/N]"
        ),
        "{shown}"
    );
    assert!(shown.contains("Nothing written."), "{shown}");

    // A pager given as a shell command runs through the shell, as in git.
    let shell_paged = dir.path().join("shell-paged");
    let command = format!("cat > '{}'", shell_paged.display());
    let (shown, code) = on_a_terminal(dir.path(), "diff", &[("PAGER", &command)], "");
    assert_eq!(code, 2, "{shown}");
    assert!(
        std::fs::read_to_string(&shell_paged)
            .unwrap()
            .contains("+++ b/stacks-out/vault/tenant-alice.tf")
    );
    assert!(shown.contains("Summary"), "{shown}");
}

#[test]
fn no_pager_without_a_terminal_with_no_pager_or_an_empty_pager() {
    let dir = example_workspace();
    let pager = recording_pager(dir.path(), false);
    let pager = pager.to_str().unwrap();
    let paged = dir.path().join("paged");

    // Not a terminal: the diffs and then the summary, straight to stdout.
    let assert = tenantgen(dir.path(), "diff").env("PAGER", pager).exits(2);
    let stdout = assert.stdout();
    assert!(!paged.exists(), "no pager without a terminal");
    let summary = stdout.find("Summary").unwrap();
    assert!(
        stdout.find("+++ b/stacks-out/").unwrap() < summary,
        "{stdout}"
    );
    assert!(
        stdout.find("render record created").unwrap() < summary,
        "{stdout}"
    );

    for (args, env_pager) in [
        ("render --no-pager", pager),
        ("render", ""),
        ("render", "cat"),
    ] {
        let (shown, code) = on_a_terminal(dir.path(), args, &[("PAGER", env_pager)], "n\n");
        assert_eq!(code, 1, "{args} with PAGER={env_pager:?}: {shown}");
        assert!(!paged.exists(), "{args} with PAGER={env_pager:?} paged");
        let diff = shown
            .find("+++ b/stacks-out/vault/tenant-alice.tf")
            .unwrap();
        assert!(diff < shown.rfind("Summary").unwrap(), "{shown}");
        assert_summary_right_above_prompt(&shown);
    }
}

#[test]
fn check_prints_the_summary_after_the_diffs() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.remove("bob");
    });
    let assert = tenantgen(dir.path(), "check").exits(2);
    let stdout = assert.stdout();
    let summary = stdout.find("Summary").unwrap();
    assert!(
        stdout.find("--- a/stacks-out/vault/tenant-bob.tf").unwrap() < summary,
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("then platform, then woodpecker")
    );
}

#[test]
fn the_render_record_is_one_line_unless_asked_for() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users["alice"]["quota"]["cpu"] = json!("6");
    });
    for command in ["diff", "check"] {
        tenantgen(dir.path(), "")
            .arg(command)
            .exits(2)
            .stdout_has("\n~ stacks-out/.tenantgen.json: render record updated (--show-record shows its diff)\n")
            .stdout_lacks("stacks-out/.tenantgen.json\n")
            .stdout_has("render record:       0 added, 1 changed");
        tenantgen(dir.path(), "")
            .args([command, "--show-record"])
            .exits(2)
            .stdout_has("--- a/stacks-out/.tenantgen.json\n+++ b/stacks-out/.tenantgen.json\n")
            .stdout_has("-        \"cpu\": \"4\",\n+        \"cpu\": \"6\",")
            .stdout_lacks("render record updated");
    }
    let assert = tenantgen(dir.path(), "render --yes").succeeds();
    assert!(
        assert
            .stdout()
            .contains("~ stacks-out/.tenantgen.json: render record updated")
    );
}

#[test]
fn every_change_to_a_user_is_in_the_summary() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users["alice"]["quota"]["cpu"] = json!("6");
        users["alice"]["quota"]
            .as_object_mut()
            .unwrap()
            .remove("pods");
        users["bob"]["email"] = json!("bob@example.org");
        users["bob"]["domains"] = json!(["bob.example.com", "www.bob.example.com"]);
        users["dave"]["apps"] = json!(["freedify"]);
        users["erin"]["role"] = json!("power-user");
    });
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_has(
            "  users changed:         alice (quota), bob (email, domains), dave (apps), erin (role)\n",
        )
        .stdout_has("  role changes:          erin: admin -> power-user\n")
        .stdout_has("  email changes:         bob: bob -> bob@example.org\n")
        // alice's pods fall back to quota_defaults, which hold what she had.
        .stdout_has("  quota changes:         alice: cpu 4 -> 6\n")
        .stdout_has("  domains added:         www.bob.example.com\n")
        .stdout_has("  app instances removed: actualbudget/dave\n");

    let assert = tenantgen(dir.path(), "diff --format json").exits(2);
    let report: Value = assert.json();
    let summary = &report["summary"];
    assert_eq!(
        summary["users_changed"],
        json!([
            {"user": "alice", "fields": ["quota"]},
            {"user": "bob", "fields": ["email", "domains"]},
            {"user": "dave", "fields": ["apps"]},
            {"user": "erin", "fields": ["role"]},
        ])
    );
    assert_eq!(
        summary["quota_changes"],
        json!([{"user": "alice", "key": "cpu", "from": "4", "to": "6"}])
    );
    assert_eq!(
        summary["email_changes"],
        json!([{"user": "bob", "from": "bob", "to": "bob@example.org"}])
    );
    assert_eq!(summary["role_changes"][0]["escalation"], json!(false));

    // A quota removed entirely falls back to quota_defaults.
    tenantgen(dir.path(), "render --yes").succeeds();
    edit_users(dir.path(), |users| {
        users["bob"].as_object_mut().unwrap().remove("quota");
    });
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_has("  users changed:         bob (quota)\n")
        .stdout_has("  quota changes:         bob: storage 10Gi -> 20Gi\n");
}

#[test]
fn another_users_file_with_the_same_users_is_not_a_change() {
    let dir = rendered_workspace();
    // The same users, in another order and layout, at another path.
    let users: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("examples/k8s_users.json")).unwrap(),
    )
    .unwrap();
    let reversed: serde_json::Map<String, Value> = users.into_iter().rev().collect();
    std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
    std::fs::write(
        dir.path().join("elsewhere/users.json"),
        serde_json::to_string(&reversed).unwrap(),
    )
    .unwrap();
    let record = std::fs::read(dir.path().join("stacks-out/.tenantgen.json")).unwrap();
    tenantgen(dir.path(), "check --users elsewhere/users.json").exits(0);
    tenantgen(dir.path(), "render --yes --users elsewhere/users.json")
        .exits(0)
        .stdout_has("No changes");
    assert_eq!(
        std::fs::read(dir.path().join("stacks-out/.tenantgen.json")).unwrap(),
        record
    );
}

#[test]
fn switching_between_a_users_file_and_vault_is_not_a_change() {
    let bao = Bao::start();
    bao.put_users_string(&example_users());

    let dir = rendered_workspace();
    let record_path = dir.path().join("stacks-out/.tenantgen.json");
    let record = std::fs::read(&record_path).unwrap();
    bao.tenantgen(dir.path(), "check --vault").exits(0);
    bao.tenantgen(dir.path(), "render --yes --vault")
        .exits(0)
        .stdout_has("No changes");
    assert_eq!(std::fs::read(&record_path).unwrap(), record);

    // And back: a tree rendered from Vault checks clean from the file.
    let dir = example_workspace();
    bao.tenantgen(dir.path(), "render --yes --vault").succeeds();
    tenantgen(dir.path(), "check").exits(0);
    tenantgen(dir.path(), "diff")
        .exits(0)
        .stdout_has("No changes");
}

#[test]
fn offboarding_lists_every_cleanup_step() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_has("  - Authentik: remove carol from the Kubernetes and Headscale groups\n")
        .stdout_has("then run `tenantgen render --forget-released carol`\n")
        .stdout_has("  - actualbudget for carol: remove the NFS export of /mnt/data/actualbudget/carol (its data stays until you delete it) and the Cloudflare route budget.carol.example.com\n");
}

#[test]
fn counts_agree_with_their_nouns() {
    let dir = example_workspace();
    std::fs::write(
        dir.path().join("one.json"),
        json!({"zed": {"role": "namespace-owner", "domains": ["zed.example.com"]}}).to_string(),
    )
    .unwrap();
    let one = tenantgen(dir.path(), "validate --users one.json").succeeds();
    assert_eq!(
        one.stdout(),
        "k8s_users is valid: 1 user, 1 namespace, 1 domain\n"
    );
    let five = tenantgen(dir.path(), "validate").succeeds();
    assert_eq!(
        five.stdout(),
        "k8s_users is valid: 5 users, 4 namespaces, 5 domains\n"
    );

    tenantgen(dir.path(), "render --yes").succeeds();
    let edited = dir.path().join("stacks-out/platform/tenant-bob.tf");
    let text = std::fs::read_to_string(&edited)
        .unwrap()
        .replace("\"4Gi\"", "\"40Gi\"");
    std::fs::write(&edited, text).unwrap();
    tenantgen(dir.path(), "check")
        .exits(2)
        .stderr_has("error: 1 generated file edited by hand: platform/tenant-bob.tf\n");
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("error: 1 generated file edited by hand");
    // One line changed in one file: the noun agrees.
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_has("  files:                 0 added, 1 changed, 0 deleted (+1 -1 lines)\n");
}

#[test]
fn namespace_notes_agree_with_their_number() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.remove("alice");
        users.remove("carol");
    });
    tenantgen(dir.path(), "diff --color never")
        .exits(2)
        .stdout_has("  namespaces released:   alice-dev, alice-prod, carol (Terraform forgets them; the namespaces and their data stay)\n");
    tenantgen(dir.path(), "diff --color never --destroy-namespace alice-dev")
        .exits(2)
        .stdout_has("  namespaces released:   alice-prod, carol (Terraform forgets them;")
        .stdout_has("  namespaces DESTROYED:  alice-dev (--destroy-namespace: applying DELETES this namespace and all its data)\n");
    edit_users(dir.path(), |users| {
        users.insert(
            "alice".into(),
            json!({"role": "namespace-owner", "namespaces": ["alice-dev", "alice-prod"]}),
        );
    });
    tenantgen(dir.path(), "diff --color never --destroy-namespace carol")
        .exits(2)
        .stdout_lacks("namespaces released")
        .stdout_has("  namespaces DESTROYED:  carol (--destroy-namespace: applying DELETES this namespace and all its data)\n");
}

#[test]
fn every_coloured_line_resets_before_its_newline() {
    let dir = rendered_workspace();
    // Multi-line colour: the adoption notes; yellow and red lines besides.
    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap() + "\nadopt {}\n";
    std::fs::write(&config, text).unwrap();
    edit_users(dir.path(), |users| {
        users.remove("carol");
        users["bob"]["role"] = json!("admin");
    });
    let assert = tenantgen(dir.path(), "diff --color always").exits(2);
    let stdout = assert.stdout();
    assert!(stdout.contains("adoption replaces:"), "{stdout}");
    assert!(stdout.contains("(ESCALATION)"), "{stdout}");
    let mut coloured = 0;
    for line in stdout.lines() {
        let opened = line.matches("\x1b[").count() - line.matches("\x1b[0m").count();
        let reset = line.matches("\x1b[0m").count();
        assert_eq!(opened, reset, "unbalanced colour on {line:?}");
        if opened > 0 {
            coloured += 1;
            assert!(line.ends_with("\x1b[0m"), "colour left open on {line:?}");
        }
    }
    let replaced = stdout
        .lines()
        .filter(|line| {
            line.contains("kubernetes_role_binding.alice_dev_admin: namespace-owner-alice")
        })
        .collect::<Vec<_>>();
    assert_eq!(replaced.len(), 1, "{stdout}");
    assert!(replaced[0].contains("\x1b[33m"), "{:?}", replaced[0]);
    assert!(coloured > 20, "{stdout}");
}

/// The summary counts planned objects the way `terraform plan` counts
/// resources, from the plans of the last render's users and this one's; a
/// released namespace is not destroyed.
#[test]
fn the_summary_counts_objects_like_a_plan() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.remove("carol");
        users.insert("frank".into(), json!({"role": "admin"}));
    });
    let assert = tenantgen(dir.path(), "diff --format json").exits(2);
    let report: Value = assert.json();
    let objects = &report["summary"]["objects"];
    // frank: one ClusterRoleBinding. carol: binding, quota and certificate of
    // her namespace, her ClusterRoleBinding, policy, entity, alias, deployer
    // role and binding, and her actualbudget instance; her namespace stays.
    assert_eq!(objects["add"], 1, "{objects}");
    assert_eq!(objects["change"], 0, "{objects}");
    assert_eq!(objects["destroy"], 10, "{objects}");
    assert_eq!(
        objects["kinds"]["ClusterRoleBinding"],
        json!({"add": 1, "change": 0, "destroy": 1})
    );
    assert!(objects["kinds"].get("Namespace").is_none(), "{objects}");
    tenantgen(dir.path(), "diff --no-pager --color never")
        .exits(2)
        .stdout_has("objects:               1 to add, 0 to change, 10 to destroy (");
}
