//! The guard against revoking everyone (README, "Guard against revoking
//! everyone"): an empty or truncated users source must not remove every
//! tenant's access in one `render --yes`.

mod common;

use common::{edit_users, example_workspace, rendered_workspace, tenantgen, tree};

/// The example's five users, all but `alice` removed: one more than the
/// default `guard { max_removed = 3 }`.
#[test]
fn removing_more_users_than_the_guard_allows_is_refused_until_allowed() {
    let dir = rendered_workspace();
    let before = tree(&dir.path().join("stacks-out"));
    edit_users(dir.path(), |users| users.retain(|name, _| name == "alice"));
    for command in ["render --yes", "check"] {
        tenantgen(dir.path(), command)
            .exits(1)
            .stderr_has("this render would remove 4 users: bob, carol, dave, erin")
            .stderr_has("more than guard.max_removed = 3 in tenantgen.hcl allows")
            .stderr_has("re-run with --allow-removals 4");
    }
    assert_eq!(tree(&dir.path().join("stacks-out")), before);
    // `diff` only looks: it warns and shows the change.
    tenantgen(dir.path(), "diff")
        .exits(2)
        .stderr_has("warning: render would refuse: this render would remove 4 users")
        .stdout_has("users removed:");
    tenantgen(dir.path(), "render --yes --allow-removals 3")
        .exits(1)
        .stderr_has("(--allow-removals 3 is fewer)");
    assert_eq!(tree(&dir.path().join("stacks-out")), before);
    tenantgen(dir.path(), "render --yes --allow-removals 4").succeeds();
    tenantgen(dir.path(), "check").succeeds();
}

#[test]
fn up_to_the_limit_renders_without_the_flag() {
    let dir = rendered_workspace();
    edit_users(dir.path(), |users| {
        users.retain(|name, _| matches!(name.as_str(), "alice" | "bob"))
    });
    tenantgen(dir.path(), "render --yes").succeeds();
}

/// An emptied users file leaves no one: refused even for one removal.
#[test]
fn a_render_that_leaves_no_user_is_refused() {
    let dir = example_workspace();
    edit_users(dir.path(), |users| users.retain(|name, _| name == "alice"));
    tenantgen(dir.path(), "render --yes").succeeds();
    let before = tree(&dir.path().join("stacks-out"));
    edit_users(dir.path(), |users| users.clear());
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("this render would remove 1 user: alice")
        .stderr_has(
            "it would remove every user and leave none; the users file may be empty or truncated",
        )
        .stderr_has("nothing was written");
    tenantgen(dir.path(), "check")
        .exits(1)
        .stderr_has("leave none");
    assert_eq!(tree(&dir.path().join("stacks-out")), before);
    tenantgen(dir.path(), "render --yes --allow-removals 1").succeeds();
}

/// A truncated users file is an error, never the map of no users.
#[test]
fn an_empty_users_file_is_an_error() {
    let dir = rendered_workspace();
    std::fs::write(dir.path().join("examples/k8s_users.json"), "\n").unwrap();
    tenantgen(dir.path(), "render --yes --allow-removals 5")
        .exits(1)
        .stderr_has("is empty, not a users map");
    std::fs::write(
        dir.path().join("examples/k8s_users.json"),
        r#"{"k8s_users": ""}"#,
    )
    .unwrap();
    tenantgen(dir.path(), "validate")
        .exits(1)
        .stderr_has("`k8s_users` is an empty string, not a users map");
}

#[test]
fn a_first_render_of_no_users_warns_and_renders() {
    let dir = example_workspace();
    edit_users(dir.path(), |users| users.clear());
    tenantgen(dir.path(), "render --yes").succeeds().stderr_has(
        "warning: the users file holds no users: this first render grants no one access",
    );
}

/// The config is in the pull request: raising the limit shows in the
/// summary, and the record keeps it, so lowering it back shows too.
#[test]
fn a_change_to_the_guard_is_shown_in_the_summary() {
    let dir = rendered_workspace();
    let config = dir.path().join("tenantgen.hcl");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{original}\nguard {{\n  max_removed = 50\n}}\n"),
    )
    .unwrap();
    tenantgen(dir.path(), "check")
        .exits(2)
        .stdout_has("removal guard:")
        .stdout_has("guard.max_removed: 3 -> 50");
    tenantgen(dir.path(), "render --yes").succeeds();
    let record = std::fs::read_to_string(dir.path().join("stacks-out/.tenantgen.json")).unwrap();
    assert!(record.contains("\"max_removed\": 50"), "{record}");
    // With the raised limit, removing four users needs no flag.
    edit_users(dir.path(), |users| users.retain(|name, _| name == "alice"));
    tenantgen(dir.path(), "diff")
        .exits(2)
        .stderr_lacks("refuse");
    std::fs::write(&config, &original).unwrap();
    tenantgen(dir.path(), "diff")
        .exits(2)
        .stdout_has("guard.max_removed: 50 -> 3");
    tenantgen(dir.path(), "check")
        .exits(1)
        .stderr_has("guard.max_removed = 3");
}

#[test]
fn an_unknown_guard_key_is_an_error() {
    let dir = example_workspace();
    let config = dir.path().join("tenantgen.hcl");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{original}\nguard {{\n  max_remove = 5\n}}\n"),
    )
    .unwrap();
    tenantgen(dir.path(), "validate")
        .exits(1)
        .stderr_has("max_remove");
}
