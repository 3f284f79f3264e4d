//! Reproductions of an adversarial audit, through the binary: review costs
//! that grow with the square of a churn, unbounded input sources, header
//! values vaultrs panics on, secrets in messages, and settings silently
//! ignored.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::bao;
use common::cli::Cli;
use common::users::random_users;
use common::{edit_users, example_workspace, rendered_workspace, tenantgen};
use serde_json::Value;

/// Writes `users` as the users file of an [`example_workspace`].
fn write_users(dir: &Path, users: &Value) {
    std::fs::write(
        dir.join("examples/k8s_users.json"),
        serde_json::to_string_pretty(users).unwrap(),
    )
    .unwrap();
}

/// Every user of `users` under a new name (the same user, so the same files
/// with every name in them changed).
fn renamed(users: &Value) -> Value {
    let renamed = users
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, user)| (format!("{name}z"), user.clone()))
        .collect();
    Value::Object(renamed)
}

/// Runs `tenantgen ARGS` in `dir` twice and returns the shorter time, so a
/// moment of load from tests running beside it does not decide; exit code 2
/// (changes to review) is the expected outcome.
fn timed(dir: &Path, args: &str) -> Duration {
    (0..2)
        .map(|_| {
            let start = Instant::now();
            tenantgen(dir, args).exits(2);
            start.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn a_churn_of_every_user_is_reviewed_about_as_fast_as_it_is_rendered() {
    let users = random_users(7, 2_000);
    let churned = example_workspace();
    write_users(churned.path(), &users);
    tenantgen(churned.path(), "render --yes").succeeds();
    write_users(churned.path(), &renamed(&users));
    // The same output compared with an empty tree: rendering it, no diff.
    let empty = example_workspace();
    write_users(empty.path(), &renamed(&users));
    let baseline = timed(empty.path(), "diff --format json");
    for args in ["diff --format json", "check --allow-removals 2000"] {
        let took = timed(churned.path(), args);
        assert!(
            took < baseline * 5,
            "`{args}` after renaming 2,000 users took {took:?}, against {baseline:?} to compare the same output with an empty tree"
        );
    }
}

#[test]
fn line_counts_match_the_diffs() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        let alice = &mut users["alice"];
        alice["quota"]["cpu"] = "6".into();
        alice["domains"]
            .as_array_mut()
            .unwrap()
            .push("www.alice.example.com".into());
    });
    let report = tenantgen(dir.path(), "diff --format json").exits(2).json();
    let files = &report["summary"]["files"];
    let (mut added, mut removed) = (0, 0);
    for file in report["files"].as_array().unwrap() {
        for line in file["diff"].as_str().unwrap().lines() {
            if line.starts_with('+') && !line.starts_with("+++ ") {
                added += 1;
            } else if line.starts_with('-') && !line.starts_with("--- ") {
                removed += 1;
            }
        }
    }
    assert!(added > 0 && removed > 0, "{report:#}");
    assert_eq!(files["lines_added"], added, "{report:#}");
    assert_eq!(files["lines_removed"], removed, "{report:#}");
}

/// `validate` on the users at `users` in an [`example_workspace`], which
/// must fail quickly: only a regular file is read.
fn refuses_as_not_regular(users: &Path, kind: &str) {
    let dir = example_workspace();
    tenantgen(dir.path(), "validate --users")
        .arg(users)
        .timeout(Duration::from_secs(20))
        .exits(1)
        .stderr_has(format!(
            "users file {} is {kind}, not a regular file",
            users.display()
        ));
}

#[test]
fn an_endless_device_is_refused_before_it_is_read() {
    refuses_as_not_regular(Path::new("/dev/zero"), "a device");
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("users.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs (apt-get install coreutils)");
    assert!(made.success(), "mkfifo {}", fifo.display());
    refuses_as_not_regular(&fifo, "a FIFO");
}

/// `tenantgen ARGS --vault` in an [`example_workspace`] with no Vault
/// variables but `env`, and HOME inside the workspace.
fn from_vault(dir: &Path, args: &str, env: &[(&str, &str)]) -> Cli {
    let mut cli = tenantgen(dir, &format!("{args} --vault")).env("HOME", dir.join("home"));
    for (name, _) in std::env::vars() {
        if name.starts_with("VAULT_") || name.starts_with("BAO_") {
            cli = cli.env_remove(name);
        }
    }
    for (name, value) in env {
        cli = cli.env(name, value);
    }
    cli
}

/// An address where nothing listens: a request sent there fails to connect.
fn closed_address() -> String {
    format!("http://127.0.0.1:{}", bao::free_port())
}

#[test]
fn control_characters_in_header_values_are_refused_before_any_request() {
    let dir = example_workspace();
    let address = closed_address();
    from_vault(
        dir.path(),
        "diff",
        &[("VAULT_ADDR", &address), ("VAULT_TOKEN", "s.X\r\nY: 1")],
    )
    .exits(1)
    .stderr_has("the Vault token in VAULT_TOKEN (or BAO_TOKEN) contains a control character")
    .stderr_lacks("s.X")
    .stderr_lacks("Y: 1")
    .stderr_lacks("panicked");
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    std::fs::write(dir.path().join("home/.vault-token"), "s.X\nY: 1\n").unwrap();
    from_vault(dir.path(), "diff", &[("VAULT_ADDR", &address)])
        .exits(1)
        .stderr_has(".vault-token contains a control character")
        .stderr_lacks("s.X");
    from_vault(
        dir.path(),
        "diff",
        &[("VAULT_ADDR", &address), ("VAULT_TOKEN", "s.token")],
    )
    .arg("--vault-namespace")
    .arg("team\r\nX-Evil: 1")
    .exits(1)
    .stderr_has(r#"Vault namespace "team\r\nX-Evil: 1" contains a control character"#)
    .stderr_lacks("panicked");
}

#[test]
fn a_password_in_the_vault_address_never_shows() {
    let dir = example_workspace();
    let port = bao::free_port();
    for address in [
        format!("http://user:hunter2@127.0.0.1:{port}"),
        format!("http://user:hunter2@127.0.0.1:{port}/v1/"),
        "http://user:hunter2@".to_string(),
        "ftp://user:hunter2@vault".to_string(),
    ] {
        let ran = from_vault(
            dir.path(),
            "diff",
            &[("VAULT_ADDR", &address), ("VAULT_TOKEN", "s.token")],
        )
        .exits(1)
        .stderr_has("user:*****@")
        .stderr_lacks("hunter2");
        assert!(
            ran.stderr().contains("Vault"),
            "{address}: {}",
            ran.stderr()
        );
    }
}

#[test]
fn vault_version_0_is_refused() {
    let dir = example_workspace();
    let address = closed_address();
    from_vault(
        dir.path(),
        "diff --vault-version 0",
        &[("VAULT_ADDR", &address), ("VAULT_TOKEN", "s.token")],
    )
    .exits(1)
    .stderr_has("--vault-version 0 is not a version")
    .stderr_lacks("cannot reach Vault");
}

#[test]
fn a_dangling_config_link_is_an_error_naming_it() {
    let dir = example_workspace();
    let config = dir.path().join("tenantgen.hcl");
    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink("shared/tenantgen.hcl", &config).unwrap();
    tenantgen(dir.path(), "validate --users examples/k8s_users.json")
        .exits(1)
        .stderr_has("tenantgen.hcl is a symbolic link to shared/tenantgen.hcl that leads nowhere");
}

#[test]
fn an_endless_config_file_is_refused_before_it_is_read() {
    let dir = example_workspace();
    tenantgen(dir.path(), "validate --config /dev/zero")
        .timeout(Duration::from_secs(20))
        .exits(1)
        .stderr_has("config file /dev/zero is a device, not a regular file");
}
