//! The command line under adverse conditions: closed pipes, flags a
//! command does not use, warnings beside errors, a lost render record,
//! an interrupted prompt, and the man page.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{edit_users, example_workspace, tenantgen};

/// Runs the binary in `dir` with stdout and stderr both writing into a pipe
/// whose reader is already closed; returns the exit code.
fn run_with_closed_pipes(dir: &Path, args: &[&str]) -> Option<i32> {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = Command::new(assert_cmd::cargo::cargo_bin("tenantgen"))
        .current_dir(dir)
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .status()
        .unwrap();
    status.code()
}

#[test]
fn exit_codes_hold_when_the_reader_has_gone() {
    let dir = example_workspace();
    let root = dir.path();
    let cases: [(&[&str], i32); 6] = [
        (&["--help"], 0),
        (&["man"], 0),
        (&["completions", "bash"], 0),
        (&["validate"], 0),
        (&["diff"], 2),
        (&["check"], 2),
    ];
    for (args, code) in cases {
        assert_eq!(run_with_closed_pipes(root, args), Some(code), "{args:?}");
    }
    // Writing goes on when nobody reads the diff.
    assert_eq!(run_with_closed_pipes(root, &["render", "--yes"]), Some(0));
    assert!(root.join("stacks-out/.tenantgen.json").is_file());
    let after: [(&[&str], i32); 5] = [
        (&["check"], 0),
        (&["diff", "--format", "json"], 0),
        (&["check", "--offline"], 0),
        (&["render", "--yes"], 0),
        (&["check", "--users", "missing.json"], 1),
    ];
    for (args, code) in after {
        assert_eq!(run_with_closed_pipes(root, args), Some(code), "{args:?}");
    }
    let edited = root.join("stacks-out/vault/tenant-alice.tf");
    let text = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(&edited, format!("{text}# edited by hand\n")).unwrap();
    assert_eq!(run_with_closed_pipes(root, &["check"]), Some(2));
    assert_eq!(
        run_with_closed_pipes(root, &["check", "--offline"]),
        Some(2)
    );
    // A full disk is not a reader leaving: the output is lost, so say so.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let output = Command::new(assert_cmd::cargo::cargo_bin("tenantgen"))
        .current_dir(root)
        .arg("validate")
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("error: cannot write to standard output"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The same runs with a reader print what they print.
    tenantgen(root, "check")
        .exits(2)
        .stderr_has("run `tenantgen render`");
}

/// Typos that are only warnings show up beside the errors, so one edit
/// fixes both.
#[test]
fn warnings_are_reported_with_the_errors() {
    let dir = example_workspace();
    let users_path = dir.path().join("examples/k8s_users.json");
    let mut users: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&users_path).unwrap()).unwrap();
    users["frank"] = serde_json::json!({
        "role": "namespace-owner",
        "emial": "frank@example.com",
        "quota": {"cpus": "2"}
    });
    users["gina"] = serde_json::json!({"role": "superuser"});
    std::fs::write(&users_path, users.to_string()).unwrap();
    for command in ["validate", "diff", "check", "render"] {
        let output = tenantgen(dir.path(), command).output();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        for expected in [
            "warning: user \"frank\": unknown field \"emial\"; did you mean \"email\"?",
            "warning: user \"frank\": unknown quota key \"cpus\"; did you mean \"cpu\"?",
            "error: k8s_users has 1 problem:\n  - user \"gina\": role = \"superuser\": unknown role",
            "\nhint: fix the users source and run the command again",
        ] {
            assert!(
                stderr.contains(expected),
                "{command}: {expected:?} missing from:\n{stderr}"
            );
        }
    }
    assert!(!dir.path().join("stacks-out/.tenantgen.json").exists());
}

/// A flag a command would ignore is a usage error (exit 1, not 2, which
/// means "the tree differs"), named the way clap names it.
#[test]
fn flags_a_command_does_not_use_are_rejected() {
    let dir = example_workspace();
    let rejected: [(&[&str], &str); 12] = [
        (
            &["render", "--format", "json"],
            "unexpected argument '--format'",
        ),
        (
            &["validate", "--format", "json"],
            "unexpected argument '--format'",
        ),
        (&["validate", "--out", "x"], "unexpected argument '--out'"),
        (
            &["validate", "--templates", "x"],
            "unexpected argument '--templates'",
        ),
        (
            &["validate", "--destroy-namespace", "x"],
            "unexpected argument '--destroy-namespace'",
        ),
        (
            &["check", "--offline", "--vault"],
            "'--offline' cannot be used with",
        ),
        (
            &["check", "--offline", "--users", "u.json"],
            "'--offline' cannot be used with '--users <FILE>'",
        ),
        (
            &["check", "--offline", "--forget-released", "x"],
            "'--offline' cannot be used with",
        ),
        (
            &["check", "--offline", "--strict"],
            "'--offline' cannot be used with",
        ),
        (
            &["completions", "bash", "--color", "never"],
            "unexpected argument '--color'",
        ),
        (&["man", "--vault"], "unexpected argument '--vault'"),
        (&["diff", "--yes"], "unexpected argument '--yes'"),
    ];
    for (args, expected) in rejected {
        let ran = tenantgen(dir.path(), "")
            .args(args)
            .exits(1)
            .stderr_has(expected);
        assert_eq!(ran.stdout(), "", "{args:?}");
    }
    assert!(!dir.path().join("stacks-out/.tenantgen.json").exists());
}

/// Every invocation the README documents still parses: clap stops at
/// `--help` (exit 0) only when everything before it was accepted.
#[test]
fn documented_invocations_parse() {
    let dir = example_workspace();
    let accepted: [&[&str]; 18] = [
        &["render"],
        &["render", "--yes", "--force", "--color", "never"],
        &[
            "render",
            "--vault",
            "--vault-version",
            "7",
            "--vault-timeout",
            "5",
        ],
        &["render", "--forget-released", "carol"],
        &[
            "render",
            "--destroy-namespace",
            "alice-dev",
            "--templates",
            "t",
        ],
        &[
            "render", "--config", "c.hcl", "--users", "u.json", "--out", "o", "--strict",
        ],
        &[
            "diff",
            "--vault",
            "--vault-addr",
            "https://v",
            "--vault-namespace",
            "n",
        ],
        &["diff", "--format", "json", "--destroy-namespace", "x"],
        &["check"],
        &[
            "check",
            "--vault-auth",
            "kubernetes",
            "--vault-kubernetes-role",
            "tenantgen",
            "--vault-jwt-path",
            "token",
            "--vault-auth-mount",
            "k8s",
        ],
        &[
            "diff",
            "--vault-auth",
            "approle",
            "--vault-secret-id-file",
            "secret-id",
        ],
        &[
            "check",
            "--vault",
            "--vault-skip-verify",
            "--vault-cacert",
            "ca.pem",
        ],
        &["check", "--format", "json", "--forget-released", "x"],
        &[
            "check",
            "--offline",
            "--format",
            "json",
            "--out",
            "o",
            "--config",
            "c.hcl",
        ],
        &[
            "validate", "--users", "u.json", "--strict", "--color", "always",
        ],
        &["validate", "--vault"],
        &["completions", "bash"],
        &["man"],
    ];
    for args in accepted {
        tenantgen(dir.path(), "")
            .args(args)
            .arg("--help")
            .exits(0)
            .stdout_has("Usage: tenantgen");
    }
}

/// The roff sections of `tenantgen man`, by `.SH` title.
fn man_sections(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let output = tenantgen(dir, "man").output();
    assert_eq!(output.status.code(), Some(0));
    let page = String::from_utf8(output.stdout).unwrap();
    let mut sections = std::collections::BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in page.lines() {
        if let Some(title) = line.strip_prefix(".SH ") {
            sections.extend(current.take());
            current = Some((title.trim_matches('"').to_string(), String::new()));
        } else if let Some((_, body)) = &mut current {
            body.push_str(line);
            body.push('\n');
        }
    }
    sections.extend(current);
    sections
}

#[test]
fn the_man_page_documents_the_environment_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let sections = man_sections(dir.path());
    let environment = sections
        .get("ENVIRONMENT")
        .unwrap_or_else(|| panic!("no ENVIRONMENT section in {:?}", sections.keys()));
    for variable in [
        "VAULT_ADDR",
        "BAO_ADDR",
        "VAULT_TOKEN",
        "BAO_TOKEN",
        "PAGER",
        "NO_COLOR",
    ] {
        assert!(
            environment.contains(variable),
            "{variable} missing from ENVIRONMENT:\n{environment}"
        );
    }
    let exit_status = sections
        .get("EXIT STATUS")
        .unwrap_or_else(|| panic!("no EXIT STATUS section in {:?}", sections.keys()));
    for code in ["0", "1", "2"] {
        assert!(
            exit_status.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "exit status {code} missing from:\n{exit_status}"
        );
    }
    // Flags live on the commands now; the page still lists them.
    let render = &sections["RENDER OPTIONS"];
    assert!(
        render.contains("yes") && render.contains("destroy\\-namespace"),
        "{render}"
    );
    assert!(sections["CHECK OPTIONS"].contains("offline"));
}

/// `render --out new-out` on a terminal (`script` from util-linux gives it
/// one), stopped at the prompt by `interrupt`; returns the exit status and
/// everything the terminal showed.
fn interrupt_at_the_prompt(
    dir: &Path,
    interrupt: impl FnOnce(&mut std::process::ChildStdin),
) -> (Option<i32>, String) {
    use std::io::Read;
    let binary = assert_cmd::cargo::cargo_bin("tenantgen");
    let mut child = Command::new("script")
        .args([
            "-qec",
            &format!("{} render --color never --out new-out", binary.display()),
            "/dev/null",
        ])
        .current_dir(dir)
        // The diff would otherwise wait in `less` on this terminal.
        .env("PAGER", "cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("`script` from util-linux runs (apt-get install util-linux)");
    let mut stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut chunk) {
            if sender.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut shown = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !String::from_utf8_lossy(&shown).contains("[y/N]") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match receiver.recv_timeout(left) {
            Ok(bytes) => shown.extend(bytes),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no prompt within 60 s:\n{}",
                    String::from_utf8_lossy(&shown)
                );
            }
        }
    }
    assert!(
        dir.join("new-out/.tenantgen.lock").is_file(),
        "the lock is held at the prompt"
    );
    let mut stdin = child.stdin.take().unwrap();
    interrupt(&mut stdin);
    let status = child.wait().unwrap();
    drop(stdin);
    while let Ok(bytes) = receiver.recv_timeout(std::time::Duration::from_secs(5)) {
        shown.extend(bytes);
    }
    (status.code(), String::from_utf8_lossy(&shown).into_owned())
}

/// Ctrl-C (or SIGTERM) at the prompt leaves no new output directory and no
/// lock behind, as answering "no" does.
#[test]
fn an_interrupt_at_the_prompt_removes_the_new_output_root() {
    use std::io::Write;
    let dir = example_workspace();
    // Ctrl-C typed at the terminal: the line discipline sends SIGINT.
    let (code, shown) = interrupt_at_the_prompt(dir.path(), |terminal| {
        terminal.write_all(&[0x03]).unwrap();
        terminal.flush().unwrap();
    });
    // `script -e` reports a death by SIGINT as 130 too; the directory tells
    // them apart (a killed run leaves it holding the lock). The message
    // after ^C may be lost as `script` exits, so it is not asserted here.
    assert_eq!(code, Some(130), "{shown}");
    assert!(!dir.path().join("new-out").exists(), "{shown}");

    // SIGTERM to the pid the lock file names.
    let root = dir.path().to_path_buf();
    let (code, shown) = interrupt_at_the_prompt(dir.path(), |_| {
        let holder = std::fs::read_to_string(root.join("new-out/.tenantgen.lock")).unwrap();
        let pid: i32 = holder
            .strip_prefix("pid ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("no pid in the lock file: {holder:?}"));
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    });
    // A death by SIGTERM would be 143.
    assert_eq!(code, Some(130), "{shown}");
    assert!(!dir.path().join("new-out").exists(), "{shown}");
    // The existing root and its hand-written files are untouched.
    assert!(
        dir.path()
            .join("stacks-out/woodpecker/woodpecker.tf")
            .is_file()
    );
}

/// A history of renders: carol leaves and comes back (re-adopted), bob
/// leaves (released), then alice leaves, rendered last.
fn render_history(dir: &Path, lose_the_record: bool) {
    let render = |args: &[&str]| {
        tenantgen(dir, "render --yes").args(args).exits(0);
    };
    render(&[]);
    let carol = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(dir.join("examples/k8s_users.json")).unwrap(),
    )
    .unwrap()["carol"]
        .clone();
    edit_users(dir, |users| {
        users.remove("carol");
    });
    render(&[]);
    edit_users(dir, |users| {
        users.insert("carol".into(), carol);
    });
    render(&[]);
    edit_users(dir, |users| {
        users.remove("bob");
    });
    render(&[]);
    edit_users(dir, |users| {
        users.remove("alice");
    });
    if lose_the_record {
        std::fs::remove_file(dir.join("stacks-out/.tenantgen.json")).unwrap();
        let before = common::tree(dir);
        tenantgen(dir, "render --yes")
            .exits(1)
            .stderr_has("restore it from version control\nhint: with no copy to restore, `tenantgen render --rebuild-record` rebuilds it");
        assert_eq!(common::tree(dir), before, "nothing written");
        render(&["--rebuild-record"]);
    } else {
        render(&[]);
    }
}

/// `render --rebuild-record` recovers what the generated files hold, so
/// the tree ends exactly as if the record had never been lost; it says
/// what it recovered and what is lost.
#[test]
fn a_lost_record_is_rebuilt_from_the_generated_files() {
    let kept = example_workspace();
    render_history(kept.path(), false);
    let lost = example_workspace();
    render_history(lost.path(), true);
    assert_eq!(
        common::tree(&lost.path().join("stacks-out")),
        common::tree(&kept.path().join("stacks-out")),
        "the rebuilt record leads to the same tree"
    );
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(lost.path().join("stacks-out/.tenantgen.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        record["released"],
        serde_json::json!({"alice-dev": "alice", "alice-prod": "alice", "bob-staging": "bob"})
    );
    assert_eq!(record["readopted"], serde_json::json!(["carol"]));

    // What the rebuild says, seen again on a second loss.
    std::fs::remove_file(lost.path().join("stacks-out/.tenantgen.json")).unwrap();
    let output = tenantgen(lost.path(), "render --yes --rebuild-record").output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for expected in [
        "warning: rebuilding the render record of stacks-out (--rebuild-record):",
        "3 released namespaces (alice-dev, alice-prod, bob-staging), 1 re-adopted namespace (carol)",
        "lost with the record: who the tenants were at the last render",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing:\n{stderr}");
    }
    assert_eq!(
        common::tree(&lost.path().join("stacks-out")),
        common::tree(&kept.path().join("stacks-out"))
    );
    // A damaged record is rebuilt the same way.
    std::fs::write(
        lost.path().join("stacks-out/.tenantgen.json"),
        r#"{"generator": "tenantgen", "format": 99}"#,
    )
    .unwrap();
    tenantgen(lost.path(), "render --yes")
        .exits(1)
        .stderr_has("cannot be read as a tenantgen render record")
        .stderr_has("--rebuild-record");
    tenantgen(lost.path(), "render --yes --rebuild-record").exits(0);
    assert_eq!(
        common::tree(&lost.path().join("stacks-out")),
        common::tree(&kept.path().join("stacks-out"))
    );
    // A record that is there is never replaced.
    tenantgen(lost.path(), "render --yes --rebuild-record")
        .exits(1)
        .stderr_has("is present and readable");
}

/// Two `names` patterns that give two users one name are the config's
/// mistake, not tenantgen's: the message names both patterns and users.
#[test]
fn a_name_pattern_collision_names_the_patterns_and_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = |names: &str, users: serde_json::Value| {
        std::fs::write(
            dir.path().join("tenantgen.hcl"),
            format!("users_file = \"users.json\"\nnames {{\n  {names}\n}}\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("users.json"), users.to_string()).unwrap();
    };
    workspace(
        "power_user_binding = \"{user}-only\"",
        serde_json::json!({
            "bob": {"role": "namespace-owner", "namespaces": ["bob"]},
            "bob-read": {"role": "power-user"},
        }),
    );
    for command in ["render --yes", "check"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("the names block of tenantgen.hcl has 1 problem")
            .stderr_has("user \"bob\" and user \"bob-read\": names.read_only_binding = \"{user}-read-only\" and names.power_user_binding = \"{user}-only\" give them the same ClusterRoleBinding name \"bob-read-only\"")
            .stderr_has("change names.power_user_binding in tenantgen.hcl")
            .stderr_lacks("tenantgen bug");
    }
    // One pattern for two users: no separator between its placeholders.
    workspace(
        "deployer = \"{user}{namespace}\"",
        serde_json::json!({
            "ab": {"role": "namespace-owner", "namespaces": ["c"]},
            "a": {"role": "namespace-owner", "namespaces": ["bc"]},
        }),
    );
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("user \"a\" and user \"ab\": names.deployer = \"{user}{namespace}\" gives them the same secret backend role name \"abc\"")
        .stderr_has("a separator between its placeholders")
        .stderr_lacks("tenantgen bug");
    assert!(!dir.path().join("stacks-out").exists());
}
