//! Writing safely: all-or-nothing, one writer at a time, never through a
//! symlink; offline checks against the render record; JSON reports.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use common::{example_workspace, rendered_workspace, tenantgen, tree};
use serde_json::{Value, json};

fn write_users(dir: &Path, name: &str, users: &Value) {
    std::fs::write(dir.join(name), serde_json::to_string_pretty(users).unwrap()).unwrap();
}

/// A file where a stack directory must go is found before anything is
/// written (failures in the middle of a write are injected at every step by
/// the unit tests of `write`).
#[test]
fn a_file_in_place_of_a_stack_directory_changes_nothing() {
    let dir = rendered_workspace();
    // A new factory app needs wiki/factory/, but a regular file is where the directory must go.
    std::fs::write(dir.path().join("stacks-out/wiki"), "not a directory\n").unwrap();
    let config = std::fs::read_to_string(dir.path().join("tenantgen.hcl")).unwrap();
    std::fs::write(
        dir.path().join("tenantgen.hcl"),
        format!("{config}\napp \"wiki\" {{\n  domain   = \"wiki.{{user}}.{{zone}}\"\n  nfs_path = \"/srv/wiki/{{user}}\"\n}}\n"),
    )
    .unwrap();
    let mut users = common::example_users();
    users["alice"]["apps"] = json!(["wiki"]);
    users["frank"] = json!({"role": "namespace-owner"});
    write_users(dir.path(), "examples/k8s_users.json", &users);
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("stacks-out/wiki is a file where a directory must be")
        .stderr_has("nothing was written");
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn symlinks_never_lead_a_write_outside_the_root() {
    let dir = rendered_workspace();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("precious.tf"), "keep me\n").unwrap();
    let vault = dir.path().join("stacks-out/vault");
    std::fs::remove_dir_all(&vault).unwrap();
    std::os::unix::fs::symlink(outside.path(), &vault).unwrap();
    let file_link = dir.path().join("stacks-out/platform/tenant-alice.tf");
    std::fs::remove_file(&file_link).unwrap();
    std::os::unix::fs::symlink(outside.path().join("precious.tf"), &file_link).unwrap();
    let outside_before = tree(outside.path());
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes --force")
        .exits(1)
        .stderr_has("stacks-out/vault is a symlink")
        .stderr_has("tenant-alice.tf is a symlink");
    assert_eq!(tree(outside.path()), outside_before);
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_held_lock_names_its_holder() {
    let dir = rendered_workspace();
    let root = dir.path().join("stacks-out");
    let lock = tenantgen::write::Lock::acquire(&root, "render").unwrap();
    let before = tree(dir.path());
    for command in ["render --yes", "check", "diff"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("stacks-out is locked by another tenantgen run")
            .stderr_has(format!("pid {}", std::process::id()))
            .stderr_has("`tenantgen render`");
    }
    assert_eq!(tree(dir.path()), before);
    drop(lock);
    tenantgen(dir.path(), "check").exits(0);
    assert!(
        !root.join(tenantgen::write::LOCK).exists(),
        "the lock file goes away with its holder"
    );
}

/// The tree `users` renders to from scratch, without the lock file.
fn reference_tree(users: &Value) -> BTreeMap<String, Vec<u8>> {
    let dir = example_workspace();
    write_users(dir.path(), "examples/k8s_users.json", users);
    tenantgen(dir.path(), "render --yes").succeeds();
    tree(&dir.path().join("stacks-out"))
}

/// A tree without what depends on earlier renders: the record and the
/// blocks of released namespaces.
fn without_history(mut tree: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    tree.remove(".tenantgen.json");
    tree.remove("vault/tenantgen-lifecycle.tf");
    tree
}

#[test]
fn concurrent_renders_never_interleave() {
    let inputs: Vec<Value> = (0..4).map(|seed| common::random_users(seed, 60)).collect();
    let references: Vec<_> = inputs
        .iter()
        .map(|users| without_history(reference_tree(users)))
        .collect();
    let dir = example_workspace();
    for (index, users) in inputs.iter().enumerate() {
        write_users(dir.path(), &format!("users-{index}.json"), users);
    }
    let binary = assert_cmd::cargo::cargo_bin("tenantgen");
    for round in 0..4 {
        let children: Vec<_> = (0..inputs.len())
            .map(|index| {
                std::process::Command::new(&binary)
                    .args([
                        "render",
                        "--yes",
                        "--allow-removals",
                        "60",
                        "--color",
                        "never",
                        "--users",
                        &format!("users-{index}.json"),
                    ])
                    .current_dir(dir.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut succeeded = 0;
        for child in children {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.success() {
                succeeded += 1;
            } else {
                assert!(
                    stderr.contains("is locked by another tenantgen run"),
                    "round {round}: {stderr}"
                );
            }
        }
        assert!(succeeded >= 1, "round {round}: no run succeeded");
        // Released namespaces accumulate from round to round (their blocks
        // and the record depend on history), so the tenant files must be
        // exactly one run's, and `check` with that run's users must pass.
        let final_tree = without_history(tree(&dir.path().join("stacks-out")));
        let winner = references
            .iter()
            .position(|reference| *reference == final_tree)
            .unwrap_or_else(|| {
                panic!(
                    "round {round}: the tree is not exactly one run's output ({} files)",
                    final_tree.len()
                )
            });
        tenantgen(dir.path(), "check --users")
            .arg(format!("users-{winner}.json"))
            .exits(0);
    }
}

#[test]
fn check_refuses_a_half_settled_tree_and_render_settles_it() {
    let dir = rendered_workspace();
    let journal = json!({"entries": [{"path": "vault/tenant-zed.tf", "kind": "add"}], "created_dirs": [], "committed": false});
    std::fs::write(
        dir.path()
            .join("stacks-out")
            .join(tenantgen::write::JOURNAL),
        journal.to_string(),
    )
    .unwrap();
    // A killed run leaves a generated file: settling may remove only those.
    std::fs::write(
        dir.path().join("stacks-out/vault/tenant-zed.tf"),
        tenantgen::header::stamp("half written\n"),
    )
    .unwrap();
    tenantgen(dir.path(), "check")
        .exits(1)
        .stderr_has("run `tenantgen render` to settle it first");
    tenantgen(dir.path(), "render --yes")
        .succeeds()
        .stderr_has("settled a write that an earlier run left unfinished");
    assert!(!dir.path().join("stacks-out/vault/tenant-zed.tf").exists());
    tenantgen(dir.path(), "check").exits(0);
}

#[test]
fn offline_check_needs_no_users_source() {
    let dir = rendered_workspace();
    std::fs::remove_file(dir.path().join("examples/k8s_users.json")).unwrap();
    tenantgen(dir.path(), "check --offline")
        .exits(0)
        .stdout_has("matches its render record");
    tenantgen(dir.path(), "check").exits(1);

    let root = dir.path().join("stacks-out");
    std::fs::remove_file(root.join("vault/tenant-bob.tf")).unwrap();
    std::fs::copy(
        root.join("platform/tenant-bob.tf"),
        root.join("platform/tenant-zed.tf"),
    )
    .unwrap();
    let edited = std::fs::read_to_string(root.join("woodpecker/tenantgen.tf"))
        .unwrap()
        .replace("\"alice\",", "\"mallory\",");
    std::fs::write(root.join("woodpecker/tenantgen.tf"), edited).unwrap();
    tenantgen(dir.path(), "check --offline")
        .exits(2)
        .stdout_has("stacks-out/vault/tenant-bob.tf: missing: the last render wrote it")
        .stdout_has("stacks-out/platform/tenant-zed.tf: not produced by the last render")
        .stdout_has("stacks-out/woodpecker/tenantgen.tf: edited by hand");
    let report: Value = tenantgen(dir.path(), "check --offline --format json")
        .exits(2)
        .json();
    assert_eq!(report["up_to_date"], false);
    assert_eq!(
        report["problems"],
        json!([
            {"path": "platform/tenant-zed.tf", "problem": "not-recorded"},
            {"path": "vault/tenant-bob.tf", "problem": "missing"},
            {"path": "woodpecker/tenantgen.tf", "problem": "hand-edited"}
        ])
    );
    std::fs::remove_file(root.join(tenantgen::manifest::PATH)).unwrap();
    tenantgen(dir.path(), "check --offline")
        .exits(1)
        .stderr_has("has no render record");
}

#[test]
fn json_reports_for_diff_and_check() {
    let dir = rendered_workspace();
    let clean: Value = tenantgen(dir.path(), "check --format json").exits(0).json();
    assert_eq!(
        clean,
        json!({"command": "check", "output_root": "stacks-out", "up_to_date": true, "exit_code": 0, "summary": null, "files": []})
    );

    let mut users = common::example_users();
    users.as_object_mut().unwrap().remove("carol");
    users["bob"]["role"] = json!("admin");
    write_users(dir.path(), "examples/k8s_users.json", &users);
    let report: Value = tenantgen(dir.path(), "diff --format json").exits(2).json();
    assert_eq!(report["command"], "diff");
    assert_eq!(report["exit_code"], 2);
    let summary = &report["summary"];
    assert_eq!(
        summary["users_removed"],
        json!([{"user": "carol", "role": "namespace-owner"}])
    );
    assert_eq!(
        summary["role_changes"],
        json!([{"user": "bob", "from": "namespace-owner", "to": "admin", "escalation": true}])
    );
    assert_eq!(summary["namespaces_released"], json!(["carol"]));
    let vault = &summary["stacks"]["vault"];
    assert_eq!(
        (vault["deleted"].as_u64(), vault["added"].as_u64()),
        (Some(1), Some(1)),
        "carol's file goes, the block releasing her namespace comes"
    );
    assert!(vault["lines_removed"].as_u64().unwrap() > 10);
    let platform = &summary["stacks"]["platform"];
    assert_eq!(
        (platform["modified"].as_u64(), platform["deleted"].as_u64()),
        (Some(1), Some(1)),
        "bob's file changes, carol's goes"
    );
    assert_eq!(
        summary["app_instances_removed"],
        json!([{"app": "actualbudget", "user": "carol"}])
    );
    let files = report["files"].as_array().unwrap();
    let deleted: Vec<&str> = files
        .iter()
        .filter(|f| f["status"] == "deleted")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        deleted,
        ["platform/tenant-carol.tf", "vault/tenant-carol.tf"]
    );
    let bob = files
        .iter()
        .find(|f| f["path"] == "platform/tenant-bob.tf")
        .unwrap();
    assert_eq!(bob["status"], "modified");
    assert!(
        bob["diff"]
            .as_str()
            .unwrap()
            .contains("+    name      = \"cluster-admin\""),
        "{}",
        bob["diff"]
    );
    let check: Value = tenantgen(dir.path(), "check --format json").exits(2).json();
    assert_eq!(check["files"], report["files"]);
}

#[test]
fn an_output_root_that_is_a_file_is_refused() {
    let dir = example_workspace();
    std::fs::remove_dir_all(dir.path().join("stacks-out")).unwrap();
    std::fs::write(dir.path().join("stacks-out"), "a file\n").unwrap();
    let before = tree(dir.path());
    for command in ["render --yes", "check", "diff"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("the output root")
            .stderr_has("is not a directory");
    }
    assert_eq!(tree(dir.path()), before);
}

/// D1: a committed `.tenantgen.lock` symlink would have every command,
/// read-only ones included, truncate its target and write the holder there.
#[test]
fn a_planted_lock_symlink_is_never_followed() {
    let dir = rendered_workspace();
    let lock = dir.path().join("stacks-out").join(tenantgen::write::LOCK);
    let commands = ["check", "check --offline", "diff", "render --yes"];
    std::os::unix::fs::symlink("../tenantgen.hcl", &lock).unwrap();
    let before = tree(dir.path());
    for command in commands {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("stacks-out/.tenantgen.lock is a symlink")
            .stderr_has("hint: remove it");
        assert_eq!(tree(dir.path()), before, "{command}");
        assert!(lock.symlink_metadata().unwrap().is_symlink(), "{command}");
    }
    // A dangling link would create its target, outside the root.
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink("../created-through-the-lock", &lock).unwrap();
    for command in commands {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("is a symlink");
        assert!(
            !dir.path().join("created-through-the-lock").exists(),
            "{command}"
        );
    }
    assert_eq!(tree(dir.path()), before);
}

/// D2: every file a write creates (journal, staged files, backups, the
/// record) is created exclusively, never through a link planted in its place.
#[test]
fn planted_links_at_temporary_paths_are_never_written_through() {
    let dir = rendered_workspace();
    let root = dir.path().join("stacks-out");
    let outside = tempfile::tempdir().unwrap();
    let precious = outside.path().join("precious");
    std::fs::write(&precious, "keep me\n").unwrap();
    // A new user adds files and changes the record and the shared stacks.
    common::edit_users(dir.path(), |users| {
        users.insert("frank".into(), json!({"role": "namespace-owner"}));
    });
    let planted = [
        "..tenantgen.journal.tenantgen-new",
        "..tenantgen.json.tenantgen-new",
        "..tenantgen.json.tenantgen-old",
        "vault/.tenant-frank.tf.tenantgen-new",
    ];
    let before = tree(dir.path());
    for name in planted {
        let link = root.join(name);
        std::os::unix::fs::symlink(&precious, &link).unwrap();
        tenantgen(dir.path(), "render --yes")
            .exits(1)
            .stderr_has(format!("stacks-out/{name} is in the way"))
            .stderr_has("remove it and run again");
        assert_eq!(
            std::fs::read_to_string(&precious).unwrap(),
            "keep me\n",
            "{name}"
        );
        assert_eq!(tree(dir.path()), before, "{name}");
        assert!(link.symlink_metadata().unwrap().is_symlink(), "{name}");
        std::fs::remove_file(&link).unwrap();
    }
    // A leftover regular temporary file of ours is cleared, not refused.
    std::fs::write(root.join("..tenantgen.journal.tenantgen-new"), "stale\n").unwrap();
    tenantgen(dir.path(), "render --yes").succeeds();
    assert!(!root.join("..tenantgen.journal.tenantgen-new").exists());
    assert!(root.join("vault/tenant-frank.tf").exists());
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    tenantgen(dir.path(), "check").exits(0);
}

/// D7: the journal lies in the root, so recovery confines its paths as a
/// fresh write would and removes only generated files, or refuses it whole.
#[test]
fn a_planted_journal_is_refused_not_obeyed() {
    let dir = rendered_workspace();
    let root = dir.path().join("stacks-out");
    let journal_path = root.join(tenantgen::write::JOURNAL);
    let outside = tempfile::tempdir().unwrap();
    let relative_dir = dir.path().join("outside/emptydir");
    let absolute_dir = outside.path().join("emptydir");
    std::fs::create_dir_all(&relative_dir).unwrap();
    std::fs::create_dir_all(&absolute_dir).unwrap();
    let absolute = absolute_dir.to_str().unwrap();
    let link_target = outside.path().join("journal");
    std::fs::write(
        &link_target,
        json!({"entries": [], "created_dirs": [], "committed": false}).to_string(),
    )
    .unwrap();
    let journals = [
        (
            json!({"entries": [], "created_dirs": ["../outside/emptydir", absolute], "committed": false}).to_string(),
            "it names the directory ../outside/emptydir: generated paths must be plain relative names",
        ),
        (
            json!({"entries": [{"path": "vault/versions.tf", "kind": "add"}], "created_dirs": [], "committed": false}).to_string(),
            "stacks-out/vault/versions.tf, which tenantgen did not generate",
        ),
        (
            json!({"entries": [{"path": "/etc/hostname", "kind": "delete"}], "created_dirs": [], "committed": true}).to_string(),
            "it names /etc/hostname",
        ),
        ("{\"entries\": [".to_string(), "it is not a tenantgen journal"),
    ];
    let before = tree(dir.path());
    for (journal, expected) in journals {
        std::fs::write(&journal_path, &journal).unwrap();
        let with_journal = tree(dir.path());
        tenantgen(dir.path(), "render --yes")
            .exits(1)
            .stderr_has("refusing the write journal")
            .stderr_has("stacks-out/.tenantgen.journal:")
            .stderr_has(expected)
            .stderr_has("if no tenantgen run left it there, delete it and run again");
        assert_eq!(tree(dir.path()), with_journal, "{journal}");
        assert!(relative_dir.is_dir() && absolute_dir.is_dir(), "{journal}");
    }
    // A journal reached through a symlink is not read at all.
    std::fs::remove_file(&journal_path).unwrap();
    std::os::unix::fs::symlink(&link_target, &journal_path).unwrap();
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("stacks-out/.tenantgen.journal is not a regular file");
    assert!(link_target.exists());
    std::fs::remove_file(&journal_path).unwrap();
    assert_eq!(tree(dir.path()), before);
    tenantgen(dir.path(), "check").exits(0);
}

/// D5: a render that stalls after reading its inputs (here on a full stderr
/// pipe, with a warning per unknown field) holds the lock, so a render that
/// removes carol meanwhile is refused rather than overwritten and lost.
#[test]
fn a_stalled_render_holds_the_lock_so_no_update_is_lost() {
    let dir = rendered_workspace();
    let mut noisy = common::example_users();
    let dave = noisy["dave"].as_object_mut().unwrap();
    for index in 0..3000 {
        dave.insert(format!("unknown_field_{index:04}"), json!(true));
    }
    write_users(dir.path(), "noisy.json", &noisy);
    let mut stalled = std::process::Command::new(assert_cmd::cargo::cargo_bin("tenantgen"))
        .args([
            "render",
            "--yes",
            "--color",
            "never",
            "--users",
            "noisy.json",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lock = dir.path().join("stacks-out").join(tenantgen::write::LOCK);
    let holder = format!("pid {}", stalled.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(&lock).is_ok_and(|text| text.contains(&holder)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the noisy render never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Whatever the stalled run is doing now, it is not done.
    assert!(stalled.try_wait().unwrap().is_none());

    common::edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("stacks-out is locked by another tenantgen run")
        .stderr_has(&holder);

    let output = stalled.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.len() > 64 * 1024,
        "the warnings must overfill a pipe"
    );

    // Run again once the lock is free, carol's removal lands in full.
    tenantgen(dir.path(), "render --yes").succeeds();
    let lifecycle =
        std::fs::read_to_string(dir.path().join("stacks-out/vault/tenantgen-lifecycle.tf"))
            .unwrap();
    assert!(
        lifecycle.contains("kubernetes_namespace_v1.carol"),
        "{lifecycle}"
    );
    assert!(!dir.path().join("stacks-out/vault/tenant-carol.tf").exists());
    tenantgen(dir.path(), "check").exits(0);
}

/// A committed `stacks-out` link would move the lock, the reads and the
/// writes to wherever it points; every command refuses it and touches nothing.
#[test]
fn a_symlinked_output_root_is_refused() {
    let dir = rendered_workspace();
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("stacks");
    std::fs::rename(dir.path().join("stacks-out"), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, dir.path().join("stacks-out")).unwrap();
    common::edit_users(dir.path(), |users| {
        users.remove("carol");
    });
    let before = tree(elsewhere.path());
    for command in ["render --yes", "check", "check --offline", "diff"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("the output root")
            .stderr_has("stacks-out is a symbolic link to")
            .stderr_has(format!("pass --out {}", moved.display()));
    }
    assert_eq!(tree(elsewhere.path()), before);
    tenantgen(dir.path(), "check --out")
        .arg(&moved)
        .exits(2)
        .stdout_has("tenant-carol.tf");
}
