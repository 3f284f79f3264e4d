//! No raw control sequence reaches the terminal or a CI log (ESC, BEL, C1
//! CSI, bidi overrides), from any untrusted text: a Vault error body,
//! render-record keys, a users file's values, a hand-edited file in a diff.
//! Each is shown spelled out, so a reader sees that something is there.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

use common::bao::tenantgen_without_vault;
use common::{example_workspace, rendered_workspace, tenantgen};

/// Hostile text: an OSC title change ended by BEL, a screen clear, one of
/// the style's colours (raw only when colour is on, never in a CI log), a
/// C1 CSI, a right-to-left override and an isolate, and a forged log line.
const HOSTILE: &str =
    "x\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[32m\u{9b}31m\u{202E}\u{2066}\nFORGED: ok";

/// Asserts `output` holds no raw control sequence.
fn no_raw_controls(what: &str, output: &[u8]) {
    let text = String::from_utf8_lossy(output);
    for byte in [0x1b_u8, 0x07, 0x9b] {
        assert!(
            !output.contains(&byte),
            "{what}: byte {byte:#04x} in {text}"
        );
    }
    for c in [
        '\u{9b}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
    ] {
        assert!(
            !text.contains(c),
            "{what}: U+{:04X} in {text}",
            u32::from(c)
        );
    }
}

/// A loopback server answering every request with a 500 and `body`.
fn failing_server(body: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    address
}

fn check_against(dir: &Path, address: &str) -> std::process::Output {
    tenantgen_without_vault(dir, "check --vault")
        .env("VAULT_ADDR", address)
        .env("VAULT_TOKEN", "not-a-token")
        .output()
}

#[test]
fn a_vault_error_body_is_spelled_out() {
    let dir = example_workspace();
    let json =
        br#"{"errors":["denied\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202e\u2066\nFORGED: ok"]}"#;
    let output = check_against(dir.path(), &failing_server(json));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    no_raw_controls("stderr", &output.stderr);
    no_raw_controls("stdout", &output.stdout);
    assert!(
        stderr.contains("Vault answered 500: denied\\u{001B}]0;pwned\\u{0007}"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\\u{202E}\\u{2066}\\u{000A}FORGED"),
        "{stderr}"
    );
    assert!(!stderr.contains("\nFORGED"), "{stderr}");

    // A body that is not JSON, raw bytes and all.
    let raw = "denied\u{1b}]0;pwned\u{7}\u{9b}\u{202E}\nFORGED: ok".as_bytes();
    let output = check_against(dir.path(), &failing_server(raw.to_vec().leak()));
    assert_eq!(output.status.code(), Some(1));
    no_raw_controls("stderr", &output.stderr);
    no_raw_controls("stdout", &output.stdout);
}

#[test]
fn render_record_keys_are_spelled_out_by_check_offline() {
    let dir = rendered_workspace();
    let record = dir.path().join("stacks-out/.tenantgen.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    let hash = "0".repeat(64);
    value["files"][format!("vault/{HOSTILE}.tf")] = hash.into();
    std::fs::write(&record, value.to_string()).unwrap();

    let output = tenantgen(dir.path(), "check --offline").output();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_ne!(output.status.code(), Some(0), "{stdout}");
    no_raw_controls("stdout", &output.stdout);
    no_raw_controls("stderr", &output.stderr);
    // tenantgen never writes such a name: the record is not read at all.
    let shown = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        shown.contains("cannot be read as a tenantgen render record"),
        "{shown}"
    );
    assert!(!shown.contains("\nFORGED"), "{shown}");

    let output = tenantgen(dir.path(), "check --offline --format json").output();
    assert_ne!(output.status.code(), Some(0));
    no_raw_controls("json", &output.stdout);
    no_raw_controls("stderr", &output.stderr);
}

#[test]
fn a_users_remove_diff_spells_out_the_users_values() {
    let dir = example_workspace();
    common::edit_users(dir.path(), |users| {
        users["carol"]["email"] = HOSTILE.into();
    });
    let output = tenantgen(dir.path(), "users remove carol --yes").output();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    no_raw_controls("stdout", &output.stdout);
    no_raw_controls("stderr", &output.stderr);
    assert!(stdout.contains("\\u001b]0;pwned\\u0007"), "{stdout}");
    assert!(stdout.contains("\\u202E\\u2066"), "{stdout}");
}

#[test]
fn a_hand_edited_file_is_spelled_out_in_the_diff() {
    let dir = rendered_workspace();
    let path = dir.path().join("stacks-out/vault/tenant-alice.tf");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!("# {HOSTILE}\n"));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"# a raw C1 byte \x9b and BEL \x07\n");
    std::fs::write(&path, bytes).unwrap();

    let output = tenantgen(dir.path(), "diff --no-pager").output();
    let stdout = String::from_utf8_lossy(&output.stdout);
    no_raw_controls("stdout", &output.stdout);
    no_raw_controls("stderr", &output.stderr);
    assert!(stdout.contains("\\u001B]0;pwned\\u0007"), "{stdout}");
    assert!(stdout.contains("\\u202E\\u2066"), "{stdout}");
}
