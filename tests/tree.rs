//! What a pull request may have planted in the output tree: symlinks at
//! generated paths, and a render record that is not one tenantgen wrote.

mod common;

use common::{edit_users, rendered_workspace, tenantgen, tree};

/// A symlink where bob's vault file was, after a render without bob: every
/// command names it, and `render` leaves the tree as it was.
#[test]
fn a_symlink_where_a_stale_generated_file_was_is_refused() {
    let dir = rendered_workspace();
    let root = dir.path().join("stacks-out");
    edit_users(dir.path(), |users| {
        users.remove("bob");
    });
    tenantgen(dir.path(), "render --yes").succeeds();
    let stale = root.join("vault/tenant-bob.tf");
    assert!(!stale.exists(), "the render deleted bob's vault file");
    std::os::unix::fs::symlink("../platform/tenant-alice.tf", &stale).unwrap();
    let before = tree(dir.path());
    for command in ["check", "diff", "render --yes"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("vault/tenant-bob.tf (a symlink at a path tenantgen generates; remove it");
    }
    tenantgen(dir.path(), "check --offline")
        .exits(2)
        .stdout_has("stacks-out/vault/tenant-bob.tf: not a regular file");
    assert_eq!(tree(dir.path()), before);
    assert!(stale.is_symlink(), "the symlink was left alone");
}

/// A symlink at a path the last render wrote, before the render that would
/// delete it: `render` refuses rather than leave it behind unnoticed.
#[test]
fn a_symlink_at_a_recorded_path_is_refused_by_the_render_that_drops_it() {
    let dir = rendered_workspace();
    let stale = dir.path().join("stacks-out/vault/tenant-bob.tf");
    std::fs::remove_file(&stale).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &stale).unwrap();
    tenantgen(dir.path(), "check --offline")
        .exits(2)
        .stdout_has("stacks-out/vault/tenant-bob.tf: not a regular file")
        .stdout_lacks("tenant-bob.tf: missing");
    edit_users(dir.path(), |users| {
        users.remove("bob");
    });
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("vault/tenant-bob.tf (a symlink at a path tenantgen generates");
    assert_eq!(tree(dir.path()), before);
}

/// A directory where the last render wrote a file is in the way too.
/// A hand-written file may be a symlink (a shared `providers.tf`, say):
/// only paths tenantgen writes or names like its own are refused.
#[test]
fn a_hand_written_symlink_is_left_alone() {
    let dir = rendered_workspace();
    std::os::unix::fs::symlink(
        "versions.tf",
        dir.path().join("stacks-out/vault/providers.tf"),
    )
    .unwrap();
    tenantgen(dir.path(), "check").exits(0);
    tenantgen(dir.path(), "check --offline").exits(0);
}

#[test]
fn a_directory_at_a_recorded_path_is_reported_offline() {
    let dir = rendered_workspace();
    let path = dir.path().join("stacks-out/vault/tenant-bob.tf");
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    tenantgen(dir.path(), "check --offline")
        .exits(2)
        .stdout_has("stacks-out/vault/tenant-bob.tf: not a regular file");
}

fn record_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("stacks-out").join(tenantgen::manifest::PATH)
}

/// A field no tenantgen writes, at the top or inside the source, is refused
/// by `check` and `check --offline`, which name the record and the way out.
#[test]
fn a_record_with_an_unknown_field_is_refused() {
    // JSON pointers to the objects that get the extra field.
    for place in ["", "/source", "/tenants/alice"] {
        let dir = rendered_workspace();
        let path = record_path(dir.path());
        let mut record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        record
            .pointer_mut(place)
            .and_then(serde_json::Value::as_object_mut)
            .expect("the record has this object")
            .insert("padding".into(), "x".repeat(64).into());
        std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
        for command in ["check", "check --offline"] {
            let ran = tenantgen(dir.path(), command)
                .exits(1)
                .stderr_has(
                    "stacks-out/.tenantgen.json cannot be read as a tenantgen render record",
                )
                .stderr_has("render --rebuild-record");
            assert!(
                !ran.stdout().contains("up to date"),
                "at `{place}`: {command}"
            );
        }
    }
}

/// A record past the cap is refused, whatever it starts with.
#[test]
fn an_oversized_record_is_refused() {
    let dir = rendered_workspace();
    let path = record_path(dir.path());
    // Sparse: the valid record, then zeros up to one byte past the cap.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len((64 << 20) + 1).unwrap();
    for command in ["check", "check --offline", "render --yes"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("stacks-out/.tenantgen.json is larger than 64 MiB")
            .stderr_has("render --rebuild-record");
    }
}

/// Characters that print as nothing or turn the text around them.
const INVISIBLE: [(char, &str); 7] = [
    ('\u{061C}', "061C"),
    ('\u{00AD}', "00AD"),
    ('\u{3164}', "3164"),
    ('\u{E0041}', "E0041"),
    ('\u{2028}', "2028"),
    ('\u{2029}', "2029"),
    ('\u{202E}', "202E"),
];

/// Each character in an email (local part and domain), a user name and a
/// namespace is refused, and the refusal spells it out instead of
/// printing it.
#[test]
fn invisible_characters_in_the_users_are_refused_and_spelled_out() {
    for (c, code) in INVISIBLE {
        let dir = common::example_workspace();
        edit_users(dir.path(), |users| {
            users["alice"]["email"] = format!("al{c}ice@example.com").into();
            users["bob"]["email"] = format!("bob@exa{c}mple.com").into();
            users["carol"]["namespaces"] = serde_json::json!([format!("carol{c}dev")]);
            users.insert(format!("ev{c}e"), serde_json::json!({"role": "admin"}));
        });
        let ran = tenantgen(dir.path(), "validate")
            .exits(1)
            .stderr_has(format!("\\u{{{code}}}"));
        let stderr = ran.stderr();
        assert!(!stderr.contains(c), "U+{code} printed raw:\n{stderr}");
        for field in ["alice\": email", "bob\": email", "carol\": namespaces"] {
            assert!(
                stderr.contains(field),
                "U+{code}: no problem at {field}:\n{stderr}"
            );
        }
        assert!(
            stderr.contains(&format!("user \"ev\\u{{{code}}}e\"")),
            "U+{code}: the user name is not spelled out:\n{stderr}"
        );
    }
}

/// Config values that reach the generated HCL (`tls.issuer`, annotation
/// values) are written with the character escaped, never raw.
#[test]
fn invisible_characters_in_config_values_are_escaped_in_the_hcl() {
    for (c, code) in INVISIBLE {
        let dir = common::example_workspace();
        let config = dir.path().join("tenantgen.hcl");
        let text = std::fs::read_to_string(&config)
            .unwrap()
            .replace(
                "zone       = \"example.com\"",
                &format!(
                    "zone       = \"example.com\"\n\nnamespaces {{\n  annotations = {{ \"example.com/team\" = \"pl{c}atform\" }}\n}}\n\ntls {{\n  issuer = \"letsencrypt{c}-prod\"\n}}"
                ),
            );
        assert!(text.contains("tls {"), "the config was edited");
        std::fs::write(&config, text).unwrap();
        tenantgen(dir.path(), "render --yes").succeeds();
        let escaped = if code.len() > 4 {
            format!("\\U{code:0>8}")
        } else {
            format!("\\u{code}")
        };
        let mut seen = 0;
        for (path, bytes) in tree(&dir.path().join("stacks-out")) {
            let text = String::from_utf8(bytes).unwrap();
            assert!(!text.contains(c), "U+{code} written raw into {path}");
            seen += text.matches(&escaped).count();
        }
        assert!(
            seen >= 2,
            "U+{code}: the issuer and the annotation are written as {escaped}"
        );
    }
}
