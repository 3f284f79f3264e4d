//! The crash sweep, through the real binary: `render --yes` of a change
//! that adds, modifies and deletes files is killed (SIGKILL, by strace's
//! fault injection) at every rename, create, open, remove, mkdir, rmdir and
//! sync it makes, one point per run. After each kill the next `render`
//! settles the tree to exactly the old or exactly the new state, its summary
//! is the true one for that state, and `render --yes` then `check` pass.
//! An I/O error after the commit point rolls forward, never back.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{edit_users, example_workspace, tenantgen, tree};

/// The calls that change the tree or decide what is durable (and every
/// open, so creates are covered), each killed at its every invocation.
const SYSCALLS: [&str; 10] = [
    "rename",
    "renameat",
    "renameat2",
    "openat",
    "unlink",
    "unlinkat",
    "mkdir",
    "rmdir",
    "fsync",
    "syncfs",
];

/// A change touching every kind of write: a user removed (files deleted,
/// a namespace released), a role changed (files modified) and a user added
/// (files and a directory's worth of new objects).
fn change(dir: &Path) {
    edit_users(dir, |users| {
        users.remove("carol");
        users["bob"]["role"] = serde_json::json!("admin");
        users.insert(
            "frank".into(),
            serde_json::json!({"role": "namespace-owner", "apps": ["freedify"]}),
        );
    });
}

fn strace() -> &'static str {
    let runs = Command::new("strace").arg("-V").output();
    assert!(
        runs.is_ok_and(|out| out.status.success()),
        "the crash sweep injects its kills with strace: apt-get install strace"
    );
    "strace"
}

/// The summary `diff --format json` gives, without the file counts (the
/// record's own line counts differ with the source's recorded path).
fn summary(dir: &Path) -> serde_json::Value {
    let report = tenantgen(dir, "diff --format json").exits(2).json();
    let mut summary = report["summary"].clone();
    summary.as_object_mut().unwrap().remove("stacks");
    summary.as_object_mut().unwrap().remove("files");
    summary
}

#[test]
fn a_render_killed_at_any_point_settles_to_the_old_or_the_new_tree() {
    let strace = strace();
    let binary = assert_cmd::cargo::cargo_bin("tenantgen");

    // The two states a killed render may settle to, and the true summary
    // of the change from the old one.
    let reference = example_workspace();
    tenantgen(reference.path(), "render --yes").succeeds();
    let old = tree(&reference.path().join("stacks-out"));
    change(reference.path());
    let old_summary = summary(reference.path());
    tenantgen(reference.path(), "render --yes").succeeds();
    let new = tree(&reference.path().join("stacks-out"));
    assert_ne!(old, new);

    let mut outcomes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for syscall in SYSCALLS {
        for point in 1.. {
            let dir = example_workspace();
            let out = dir.path().join("stacks-out");
            tenantgen(dir.path(), "render --yes").succeeds();
            change(dir.path());
            let killed = Command::new(strace)
                .args(["-f", "-o", "/dev/null", "-e"])
                .arg(format!("inject={syscall}:signal=KILL:when={point}"))
                .arg(&binary)
                .args(["render", "--yes", "--no-pager", "--color", "never"])
                .current_dir(dir.path())
                .output()
                .expect("strace runs");
            if killed.status.success() {
                // The run made fewer than `point` such calls: the sweep of
                // this call is complete, and the render wrote the new tree.
                assert_eq!(tree(&out), new, "{syscall} #{point}: unkilled run");
                break;
            }
            // `render` without --yes and without a terminal settles an
            // unfinished write, then refuses to write anything new.
            let settle = tenantgen(dir.path(), "render --no-pager").output();
            let settled = tree(&out);
            let at = format!("{syscall} #{point}");
            let counts = outcomes.entry(syscall).or_default();
            if settled == old {
                counts.0 += 1;
                assert_eq!(settle.status.code(), Some(1), "{at}");
                assert_eq!(
                    summary(dir.path()),
                    old_summary,
                    "{at}: the summary after recovery"
                );
            } else {
                let differs: Vec<&String> = settled
                    .keys()
                    .chain(new.keys())
                    .filter(|path| settled.get(*path) != new.get(*path))
                    .collect();
                assert!(
                    differs.is_empty(),
                    "{at}: the tree is neither the old nor the new one; against the new one, these differ: {differs:?}\n{}",
                    String::from_utf8_lossy(&settle.stderr)
                );
                counts.1 += 1;
                assert_eq!(settle.status.code(), Some(0), "{at}");
            }
            tenantgen(dir.path(), "render --yes --no-pager").succeeds();
            tenantgen(dir.path(), "check").exits(0);
            assert_eq!(tree(&out), new, "{at}: after the next render");
        }
    }
    // Print the sweep's extent, so a run shows what it covered.
    let total: usize = outcomes.values().map(|(old, new)| old + new).sum();
    eprintln!(
        "crash sweep: {total} kill points; per call (settled old, settled new): {outcomes:?}"
    );
    let settled_old: usize = outcomes.values().map(|(old, _)| old).sum();
    assert!(
        settled_old > 0 && total > settled_old,
        "kills must land on both sides of the commit point: {outcomes:?}"
    );
}

/// An I/O error after the commit point (EIO at the 400th unlink, while the
/// old copies of a 2,000 → 2,200-user render are removed) must not roll
/// back: the tree is already the new one. The message says the write was
/// committed, and the next render finishes the cleanup.
#[test]
fn an_io_error_after_the_commit_point_rolls_forward() {
    let strace = strace();
    let write_users = |dir: &Path, seed: u64, count: usize| {
        std::fs::write(
            dir.join("examples/k8s_users.json"),
            common::random_users(seed, count).to_string(),
        )
        .unwrap();
    };
    let reference = example_workspace();
    write_users(reference.path(), 1, 2_000);
    tenantgen(reference.path(), "render --yes").succeeds();
    write_users(reference.path(), 2, 2_200);
    tenantgen(reference.path(), "render --yes --allow-removals 2000").succeeds();
    let new = tree(&reference.path().join("stacks-out"));

    let dir = example_workspace();
    let out = dir.path().join("stacks-out");
    write_users(dir.path(), 1, 2_000);
    tenantgen(dir.path(), "render --yes").succeeds();
    write_users(dir.path(), 2, 2_200);
    let failed = Command::new(strace)
        .args(["-f", "-o", "/dev/null", "-e", "trace=unlink,unlinkat"])
        .args(["-e", "inject=unlink,unlinkat:error=EIO:when=400"])
        .arg(assert_cmd::cargo::cargo_bin("tenantgen"))
        .args(["render", "--yes", "--allow-removals", "2000", "--no-pager"])
        .args(["--color", "never"])
        .current_dir(dir.path())
        .output()
        .expect("strace runs");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the write was committed"), "{stderr}");
    assert!(stderr.contains("Input/output error"), "{stderr}");
    assert!(!stderr.contains("rolled back"), "{stderr}");
    assert!(!stderr.contains("nothing was written"), "{stderr}");
    assert!(out.join(".tenantgen.journal").exists(), "the journal stays");
    assert!(stderr.contains("then run `tenantgen render`"), "{stderr}");
    // The next render rolls forward: the new tree, and nothing to do.
    tenantgen(dir.path(), "render --no-pager")
        .succeeds()
        .stderr_has("settled a write that an earlier run left unfinished")
        .stdout_has("No changes");
    assert_eq!(tree(&out), new);
    tenantgen(dir.path(), "check").succeeds();
}
