//! The fuzz targets' property (see `fuzz/`), checked on every test run over
//! the example and over random user sets: accepted input renders files that
//! hcl-rs parses, holding exactly the planned blocks, with every value
//! carried through escaping unchanged.

mod common;

use common::property;
use serde_json::json;

#[test]
fn the_example_satisfies_the_fuzz_property() {
    let users = common::example_users().to_string();
    assert!(property::check(users.as_bytes()), "the example is accepted");
}

#[test]
fn random_user_sets_satisfy_the_fuzz_property() {
    for seed in 0..16 {
        let users = common::random_users(seed, 12).to_string();
        assert!(property::check(users.as_bytes()), "seed {seed} is accepted");
    }
}

#[test]
fn values_with_escapable_characters_round_trip() {
    let users = json!({
        "eve": {
            "role": "namespace-owner",
            "email": "o.brien+%x|~!#/&*=?^%%日本@example.org",
            "namespaces": ["eve-a"],
            "domains": ["x.eve.example.com"],
            "quota": { "cpu": "1500m", "memory": "1.5Gi", "pods": 7 }
        }
    });
    assert!(property::check(users.to_string().as_bytes()));
}

#[test]
fn rejected_input_is_not_rendered() {
    for bytes in [
        &b""[..],
        b"[]",
        b"{\"a\": {\"role\": \"root\"}}",
        b"\xff\xfe",
        b"{\"k8s_users\": 5}",
    ] {
        assert!(!property::check(bytes), "{bytes:?} is rejected");
    }
}
