//! `tenantgen users`: edits of the users map through the binary, against a
//! real OpenBao (check-and-set, concurrent writers) and users files.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::bao::Bao;
use common::{example_users, example_workspace};
use serde_json::{Value, json};

/// A workspace whose users live in Vault, with another key beside them.
fn vault_workspace(bao: &Bao) -> tempfile::TempDir {
    let dir = example_workspace();
    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("users_file = \"examples/k8s_users.json\"", ""),
    )
    .unwrap();
    let data = json!({ "k8s_users": example_users().to_string(), "other": "kept" });
    bao.run_with(
        &["kv", "put", "-mount=secret", "platform", "-"],
        Some(&data.to_string()),
    );
    dir
}

/// The secret's data and version.
fn secret(bao: &Bao) -> (Value, u64) {
    let read = bao.read_data("secret/data/platform");
    (
        read["data"].clone(),
        read["metadata"]["version"].as_u64().unwrap(),
    )
}

fn users_of(data: &Value) -> Value {
    let text = data["k8s_users"]
        .as_str()
        .expect("the users stay a JSON string");
    serde_json::from_str(text).unwrap()
}

#[test]
fn eight_concurrent_adds_all_land() {
    let bao = Bao::start();
    let dir = vault_workspace(&bao);
    let binary = assert_cmd::cargo::cargo_bin("tenantgen");
    let children: Vec<_> = (0..8)
        .map(|index| {
            let mut command = Command::new(&binary);
            for (name, _) in std::env::vars() {
                if name.starts_with("VAULT_") || name.starts_with("BAO_") {
                    command.env_remove(name);
                }
            }
            command
                .args([
                    "users",
                    "add",
                    &format!("new{index}"),
                    "--role",
                    "admin",
                    "--email",
                ])
                .arg(format!("new{index}@example.com"))
                .args(["--vault", "--yes", "--color", "never"])
                .current_dir(dir.path())
                .env("HOME", dir.path().join("home"))
                .env("VAULT_ADDR", &bao.address)
                .env("VAULT_TOKEN", &bao.root_token)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut retried = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        retried += stderr.matches("reading it again and re-applying").count();
    }
    let (data, version) = secret(&bao);
    let users = users_of(&data);
    for index in 0..8 {
        assert_eq!(users[format!("new{index}")]["role"], "admin", "{users}");
    }
    for earlier in ["alice", "bob", "carol", "dave", "erin"] {
        assert!(users.get(earlier).is_some(), "{earlier} is kept");
    }
    assert_eq!(data["other"], "kept");
    assert_eq!(version, 1 + 8, "one new version per add");
    println!("8 processes, {retried} check-and-set conflicts retried, final version {version}");
}

/// Another writer changes the secret while an edit waits at its prompt: the
/// write loses its check-and-set, reads again, re-applies, and both stay.
/// What a `tenantgen` run on a terminal has shown so far.
type Shown = Arc<Mutex<String>>;

/// Starts `tenantgen ARGS` on a terminal (`script`, so the prompt asks) in
/// `dir`, and returns once it waits at its `[y/N]` prompt: the child, what
/// it shows, and the thread reading it.
fn waiting_at_the_prompt(
    dir: &std::path::Path,
    args: &str,
    env: &[(&str, &str)],
) -> (std::process::Child, Shown, std::thread::JoinHandle<()>) {
    let binary = assert_cmd::cargo::cargo_bin("tenantgen");
    let mut command = Command::new("script");
    command
        .args(["-qec", &format!("{} {args}", binary.display()), "/dev/null"])
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("`script` from util-linux runs");
    let shown = Shown::default();
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stdout.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !shown.lock().unwrap().contains("[y/N]") {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no prompt: {}", shown.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, shown, reader)
}

/// Waits for `child`, killed after a generous bound (a hang detector).
fn finished(child: &mut std::process::Child, shown: &Shown) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after its answer: {}", shown.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_concurrent_write_is_re_applied_not_lost() {
    let bao = Bao::start();
    let dir = vault_workspace(&bao);
    let (mut child, shown, reader) = waiting_at_the_prompt(
        dir.path(),
        "users add frank --role admin --email frank@example.com --vault --color never",
        &[
            ("VAULT_ADDR", bao.address.as_str()),
            ("VAULT_TOKEN", bao.root_token.as_str()),
        ],
    );
    bao.run(&["kv", "patch", "-mount=secret", "platform", "other=changed"]);
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    assert!(
        finished(&mut child, &shown).success(),
        "{}",
        shown.lock().unwrap()
    );
    reader.join().unwrap();
    let shown = shown.lock().unwrap().clone();
    assert!(shown.contains("changed since it was read"), "{shown}");
    assert!(shown.contains("(version 3)"), "{shown}");
    let (data, version) = secret(&bao);
    assert_eq!(version, 3, "1: the users, 2: the other writer, 3: the edit");
    assert_eq!(
        data["other"], "changed",
        "the other writer's change survives"
    );
    assert_eq!(users_of(&data)["frank"]["email"], "frank@example.com");
}

#[test]
fn invalid_edits_and_weak_tokens_write_nothing() {
    let bao = Bao::start();
    let dir = vault_workspace(&bao);
    let (_, before) = secret(&bao);
    for (args, expected) in [
        (
            "users add gina --role namespace-owner --namespace Bad_NS",
            "namespaces[0] = \"Bad_NS\"",
        ),
        (
            "users add gina --role namespace-owner --namespace alice-dev",
            "namespace \"alice-dev\": claimed by both user \"alice\" and user \"gina\"",
        ),
        (
            "users add gina --role admin --domain gina.elsewhere.org",
            "outside the managed zone",
        ),
        (
            "users add gina --role admin --app nextcloud",
            "apps[0] = \"nextcloud\"",
        ),
        ("users add alice --role admin", "tenantgen users set alice"),
    ] {
        bao.tenantgen(dir.path(), &format!("{args} --vault --yes"))
            .exits(1)
            .stderr_has(expected)
            .stderr_has("nothing was written");
        assert_eq!(secret(&bao).1, before, "{args}");
    }
    let reader = bao.token_with_policy(
        "reads-users",
        "path \"secret/data/platform\" {\n  capabilities = [\"read\"]\n}\n",
    );
    bao.tenantgen(dir.path(), "users add gina --role admin --vault --yes",
    )
    .env("VAULT_TOKEN", &reader)
    .exits(1)
    .stderr_has(
        "permission denied; the token needs a policy granting `update` on \"secret/data/platform\"",
    )
    .stderr_lacks(&reader);
    assert_eq!(secret(&bao).1, before);
    // Adding what is there already is nothing to do: no new version.
    bao.tenantgen(
        dir.path(),
        "users add erin --role admin --email erin@example.com --vault --yes",
    )
    .succeeds()
    .stdout_has("Nothing to do");
    assert_eq!(secret(&bao).1, before);
}

#[test]
fn set_and_remove_in_vault() {
    let bao = Bao::start();
    let dir = vault_workspace(&bao);
    bao.tenantgen(
        dir.path(),
        "users set bob --add-namespace bob-prod --role namespace-owner --vault --yes",
    )
    .succeeds()
    .stdout_has("+      \"bob-prod\"")
    .stdout_has("(version 2)");
    bao.tenantgen(dir.path(), "users remove carol --vault --yes")
        .succeeds()
        .stdout_has("(version 3)");
    let (data, _) = secret(&bao);
    let users = users_of(&data);
    assert_eq!(
        users["bob"]["namespaces"],
        json!(["bob-staging", "bob-prod"])
    );
    assert!(users.get("carol").is_none());
    assert_eq!(data["other"], "kept");
    let listed = bao
        .tenantgen(dir.path(), "users list --vault --format json")
        .succeeds()
        .json();
    assert_eq!(listed, users);
    bao.tenantgen(dir.path(), "users set zed --role admin --vault --yes")
        .exits(1)
        .stderr_has("tenantgen users add zed");
}

#[test]
fn a_users_file_keeps_its_form() {
    let users = example_users();
    for (name, document) in [
        ("bare", users.clone()),
        ("string", Value::String(users.to_string())),
        (
            "secret",
            json!({"k8s_users": users.to_string(), "other": 1}),
        ),
        ("object", json!({"k8s_users": users.clone(), "other": 1})),
    ] {
        let dir = example_workspace();
        let path = dir.path().join("examples/k8s_users.json");
        std::fs::write(&path, document.to_string()).unwrap();
        common::tenantgen(
            dir.path(),
            "users set dave --add-domain music.example.com --yes",
        )
        .succeeds();
        common::tenantgen(dir.path(), "users remove erin --yes").succeeds();
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let map = match (&written, name) {
            (Value::Object(_), "bare") => written.clone(),
            (Value::String(text), "string") => serde_json::from_str(text).unwrap(),
            (Value::Object(root), "secret") => {
                assert_eq!(root["other"], 1);
                serde_json::from_str(root["k8s_users"].as_str().unwrap()).unwrap()
            }
            (Value::Object(root), "object") => {
                assert_eq!(root["other"], 1);
                root["k8s_users"].clone()
            }
            _ => panic!("{name}: the form changed: {written}"),
        };
        assert!(map.get("erin").is_none(), "{name}");
        assert_eq!(
            map["dave"]["domains"],
            json!(["dave.example.com", "music.example.com"]),
            "{name}"
        );
        // The edited file renders and checks like any other.
        common::tenantgen(dir.path(), "render --yes").succeeds();
        common::tenantgen(dir.path(), "check").exits(0);
    }
}

#[test]
fn onboarding_defaults_fill_in_an_add() {
    let dir = example_workspace();
    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\nonboarding {{\n  role = \"namespace-owner\"\n  email = \"{{user}}@example.com\"\n  namespaces = [\"{{user}}\"]\n  quota = {{ cpu = \"2\" }}\n}}\n"),
    )
    .unwrap();
    common::tenantgen(dir.path(), "users add frank --yes --render")
        .succeeds()
        .stdout_has("Wrote stacks-out.");
    let users: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("examples/k8s_users.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        users["frank"],
        json!({"role": "namespace-owner", "email": "frank@example.com", "namespaces": ["frank"], "quota": {"cpu": "2"}})
    );
    assert!(dir.path().join("stacks-out/vault/tenant-frank.tf").exists());
    // Without a terminal and without --yes, nothing is written.
    common::tenantgen(dir.path(), "users remove frank")
        .exits(1)
        .stderr_has("re-run with --yes");
}

/// An edit of a users file waiting at its prompt while another edit lands:
/// the write finds the file changed, reads it again and re-applies the
/// edit, so the other change is kept.
#[test]
fn a_users_file_changed_at_the_prompt_is_re_read_not_overwritten() {
    let dir = example_workspace();
    let (mut child, shown, reader) = waiting_at_the_prompt(
        dir.path(),
        "users add frank --role admin --email frank@example.com --color never",
        &[],
    );
    common::edit_users(dir.path(), |users| {
        users.insert("gina".into(), json!({"role": "admin"}));
    });
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    assert!(
        finished(&mut child, &shown).success(),
        "{}",
        shown.lock().unwrap()
    );
    reader.join().unwrap();
    let shown = shown.lock().unwrap().clone();
    assert!(
        shown.contains("examples/k8s_users.json changed since it was read (another writer)"),
        "{shown}"
    );
    let users: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("examples/k8s_users.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(users["gina"]["role"], "admin", "the other edit survives");
    assert_eq!(users["frank"]["email"], "frank@example.com");
    assert!(users["alice"].is_object());
}
