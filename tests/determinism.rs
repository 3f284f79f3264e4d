//! Same input and config, same bytes: whatever the key order, the shape the
//! users are stored in, the run, or the way the source path is spelled.

mod common;

use common::{config_variants, example_users, generate, random_users, tenantgen, tree};
use serde_json::Value;

/// The same JSON with every object's keys in a seeded random order.
fn shuffled(value: &Value, rng: &mut fastrand::Rng) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            rng.shuffle(&mut entries);
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(key, value)| {
                    format!("{}: {}", Value::String(key.clone()), shuffled(value, rng))
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|item| shuffled(item, rng))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn generate_text(users_text: &str, config: &str) -> Vec<tenantgen::verify::GeneratedFile> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.json"), users_text).unwrap();
    std::fs::write(dir.path().join("tenantgen.hcl"), config).unwrap();
    let options = tenantgen::Options {
        working_dir: dir.path().to_path_buf(),
        users: Some("users.json".into()),
        ..Default::default()
    };
    tenantgen::generate(&tenantgen::load(&options).unwrap(), None)
        .unwrap()
        .files
}

#[test]
fn key_order_does_not_matter() {
    let (_, config) = &config_variants()[0];
    for (seed, users) in [(1, example_users()), (2, random_users(7, 40))] {
        let reference = generate(&users, config);
        let mut rng = fastrand::Rng::with_seed(seed);
        for _ in 0..5 {
            assert_eq!(
                generate_text(&shuffled(&users, &mut rng), config),
                reference
            );
        }
    }
}

#[test]
fn string_and_secret_shapes_give_the_same_bytes() {
    let (_, config) = &config_variants()[0];
    let users = example_users();
    let reference = generate(&users, config);
    let as_string = Value::String(users.to_string()).to_string();
    let as_secret =
        serde_json::json!({"k8s_users": users.to_string(), "unrelated": "x"}).to_string();
    assert_eq!(generate_text(&as_string, config), reference);
    assert_eq!(generate_text(&as_secret, config), reference);
}

#[test]
fn repeated_runs_are_identical() {
    for (_, config) in config_variants() {
        let users = random_users(3, 30);
        assert_eq!(generate(&users, &config), generate(&users, &config));
    }
}

#[test]
fn reordering_lists_does_not_churn_output() {
    let (_, config) = &config_variants()[0];
    let users = example_users();
    let mut reordered = users.clone();
    for user in reordered.as_object_mut().unwrap().values_mut() {
        for field in ["namespaces", "domains", "apps"] {
            if let Some(Value::Array(items)) = user.get_mut(field) {
                items.reverse();
            }
        }
    }
    let differing: Vec<String> = generate(&users, config)
        .into_iter()
        .zip(generate(&reordered, config))
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.path)
        .collect();
    // Only the record of the source digest may differ.
    assert_eq!(differing, [tenantgen::manifest::PATH]);
}

#[test]
fn the_way_the_users_path_is_given_does_not_matter() {
    let relative = common::example_workspace();
    tenantgen(relative.path(), "render --yes").succeeds();
    let absolute = common::example_workspace();
    let users = absolute.path().join("examples/k8s_users.json");
    tenantgen(absolute.path(), "render --yes --users")
        .arg(&users)
        .succeeds();
    assert_eq!(
        tree(&relative.path().join("stacks-out")),
        tree(&absolute.path().join("stacks-out"))
    );
}
