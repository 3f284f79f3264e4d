//! Hostile and broken input: each case exits 1 with a clear message, never
//! crashes, and writes nothing.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{example_workspace, tenantgen, tree};
use serde_json::json;

/// Runs `render --yes` on `users_bytes`; asserts exit 1, `expected` in the
/// message, a bounded time, and an untouched tree.
fn rejected(users_bytes: &[u8], expected: &str) {
    let dir = example_workspace();
    tenantgen(dir.path(), "render --yes").succeeds();
    std::fs::write(dir.path().join("examples/k8s_users.json"), users_bytes).unwrap();
    let before = tree(&dir.path().join("stacks-out"));
    let started = Instant::now();
    let stderr = tenantgen(dir.path(), "render --yes")
        .timeout(Duration::from_secs(60))
        .exits(1)
        .stderr_has(expected)
        .stderr();
    assert!(
        stderr.len() < 4_000,
        "{expected}: a message of reasonable length, got:\n{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{expected}: took {:?}",
        started.elapsed()
    );
    assert_eq!(tree(&dir.path().join("stacks-out")), before, "{expected}");
}

#[test]
fn a_50_megabyte_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..50 {
        file.write_all(&chunk).unwrap();
    }
    file.write_all(b"{}").unwrap();
    drop(file);
    let work = example_workspace();
    tenantgen(work.path(), "validate --users")
        .arg(&path)
        .exits(1)
        .stderr_has("is 52.4 MB; tenantgen reads at most 32 MB");
}

#[test]
fn a_100000_user_map_is_refused() {
    let users: serde_json::Map<String, serde_json::Value> = (0..100_000)
        .map(|index| (format!("u{index}"), json!({"role": "admin"})))
        .collect();
    rejected(
        serde_json::to_string(&users).unwrap().as_bytes(),
        "has 100000 users; tenantgen renders at most 20000",
    );
}

#[test]
fn ten_thousand_character_fields() {
    let long = "a".repeat(10_000);
    rejected(
        json!({ long.clone(): {"role": "admin"} })
            .to_string()
            .as_bytes(),
        "(10002 characters)",
    );
    rejected(
        json!({"bob": {"role": "admin", "email": format!("{long}@example.com")}})
            .to_string()
            .as_bytes(),
        "emails have at most 254",
    );
    rejected(
        json!({"bob": {"role": "namespace-owner", "namespaces": [long]}})
            .to_string()
            .as_bytes(),
        "is 10000 characters long; use at most 63",
    );
    rejected(
        json!({"bob": {"role": "admin", "domains": [format!("{long}.example.com")]}})
            .to_string()
            .as_bytes(),
        "DNS names have at most 253",
    );
    rejected(
        json!({"bob": {"role": "namespace-owner", "quota": {"cpu": long}}})
            .to_string()
            .as_bytes(),
        "longer than 64 characters",
    );
}

#[test]
fn invalid_utf8_and_malformed_json() {
    rejected(
        b"{\"bob\": {\"role\": \"adm\xff\xfein\"}}",
        "is not valid JSON",
    );
    rejected(b"\xef\xbb\xbf{}", "is not valid JSON");
    rejected(&b"[".repeat(10_000), "recursion limit exceeded");
    rejected(b"", "is empty, not a users map");
    rejected(
        b"{\"bob\": {\"role\": \"admin\"}} trailing",
        "trailing characters",
    );
    rejected(
        b"{\"bob\": {\"role\": \"admin\", \"role\": \"admin\"}}",
        "duplicate key \"role\"",
    );
}

#[test]
fn the_users_file_is_a_directory() {
    let dir = example_workspace();
    std::fs::remove_file(dir.path().join("examples/k8s_users.json")).unwrap();
    std::fs::create_dir(dir.path().join("examples/k8s_users.json")).unwrap();
    tenantgen(dir.path(), "render --yes").exits(1).stderr_has(
        "is a directory, not a regular file; pass the JSON file itself with --users FILE",
    );
    assert!(!dir.path().join("stacks-out/vault/tenant-alice.tf").exists());
}

#[cfg(unix)]
#[test]
fn an_unreadable_output_root() {
    use std::os::unix::fs::PermissionsExt;
    let dir = example_workspace();
    tenantgen(dir.path(), "render --yes").succeeds();
    let vault = dir.path().join("stacks-out/vault");
    std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o000)).unwrap();
    let result =
        common::cli::tenantgen_without_root_file_access(dir.path(), "render --yes").output();
    std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot read the output tree"), "{stderr}");
}

/// A look-alike email renders (it may be real) but never silently: the
/// warning names the user, the field and both scripts.
#[test]
fn a_mixed_script_email_is_warned_about() {
    let dir = example_workspace();
    common::edit_users(dir.path(), |users| {
        users["alice"]["email"] = json!("\u{0430}dmin@example.com");
        users["bob"]["email"] = json!("\u{0438}\u{0432}\u{0430}\u{043d}@example.com");
    });
    let ran = tenantgen(dir.path(), "validate").succeeds().stderr_has(
        "warning: user \"alice\": email = \"\u{0430}dmin@example.com\": \"\u{0430}dmin\" mixes the Cyrillic and Latin scripts",
    );
    // One script per part is an ordinary address.
    assert!(!ran.stderr().contains("user \"bob\""), "{}", ran.stderr());
    tenantgen(dir.path(), "render --yes")
        .succeeds()
        .stderr_has("mixes the Cyrillic and Latin scripts");
    tenantgen(
        dir.path(),
        "users add mallory --role admin --email admin@ex\u{0430}mple.com --yes",
    )
    .exits(0)
    .stderr_has("\"ex\u{0430}mple\" mixes the");
}
