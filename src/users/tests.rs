use super::*;
use serde_json::json;

fn map(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn every_form_is_kept() {
    let users = json!({"alice": {"role": "admin"}});
    let added = {
        let mut users = map(users.clone());
        users.insert("bob".into(), json!({"role": "admin"}));
        users
    };
    for (root, form) in [
        (users.clone(), Form::Bare),
        (Value::String(users.to_string()), Form::String),
        (
            json!({"k8s_users": users.clone(), "other": 1}),
            Form::KeyObject,
        ),
        (
            json!({"k8s_users": users.to_string(), "other": 1}),
            Form::KeyString,
        ),
    ] {
        let document = Document::from_file(root, "k8s_users").unwrap();
        assert_eq!(document.form, form);
        assert_eq!(document.users().unwrap(), map(users.clone()));
        let edited = document.with_users(added.clone()).unwrap();
        assert_eq!(edited.form, form);
        assert_eq!(edited.users().unwrap(), added);
        if matches!(form, Form::KeyObject | Form::KeyString) {
            assert_eq!(edited.root["other"], 1, "other keys are kept");
            assert_eq!(
                edited.root["k8s_users"].is_string(),
                form == Form::KeyString
            );
        }
    }
}

#[test]
fn adding_twice_and_changing_the_missing_are_told_apart() {
    let mut users = map(json!({"alice": {"role": "admin"}}));
    let same = Edit::Add {
        name: "alice".into(),
        fields: map(json!({"role": "admin"})),
    };
    assert_eq!(apply(&mut users, &same).unwrap(), Applied::Unchanged);
    let other = Edit::Add {
        name: "alice".into(),
        fields: map(json!({"role": "power-user"})),
    };
    assert!(
        apply(&mut users, &other)
            .unwrap_err()
            .to_string()
            .contains("tenantgen users set alice")
    );
    let missing = Edit::Remove { name: "bob".into() };
    assert!(
        apply(&mut users, &missing)
            .unwrap_err()
            .to_string()
            .contains("no user \"bob\"")
    );
    let set = Edit::Set {
        name: "alice".into(),
        replace: map(json!({"role": "namespace-owner"})),
        add: BTreeMap::from([(
            "namespaces".into(),
            vec!["alice-a".into(), "alice-b".into()],
        )]),
        remove: BTreeMap::from([("namespaces".into(), vec!["alice-b".into()])]),
    };
    assert_eq!(apply(&mut users, &set).unwrap(), Applied::Changed);
    assert_eq!(
        users["alice"],
        json!({"role": "namespace-owner", "namespaces": ["alice-a"]})
    );
}

/// Whatever sequence of edits is tried, every one accepted leaves a map that
/// `render` accepts, and every one refused leaves the map as it was.
#[test]
fn random_edit_sequences_keep_the_map_renderable() {
    let config = Config::default();
    let roles = ["namespace-owner", "power-user", "admin"];
    for seed in 0..40u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut users = Map::new();
        for step in 0..30 {
            let name = format!("u{}", rng.usize(..8));
            let namespace = format!("{name}-{}", rng.usize(..3));
            let edit = match rng.usize(..4) {
                0 => Edit::Remove { name },
                1 => Edit::Set {
                    name,
                    replace: map(json!({"role": roles[rng.usize(..3)]})),
                    add: BTreeMap::from([("namespaces".into(), vec![namespace])]),
                    remove: BTreeMap::new(),
                },
                2 => Edit::Set {
                    name: name.clone(),
                    replace: Map::new(),
                    add: BTreeMap::new(),
                    remove: BTreeMap::from([("namespaces".into(), vec![namespace])]),
                },
                _ => Edit::Add {
                    name,
                    fields: map(json!({"role": roles[rng.usize(..3)], "namespaces": [namespace]})),
                },
            };
            let mut edited = users.clone();
            let applied = apply(&mut edited, &edit);
            let Ok(Applied::Changed) = applied else {
                assert_eq!(
                    edited, users,
                    "seed {seed} step {step}: a refused edit changed the map"
                );
                continue;
            };
            let Ok(validated) = validate(&edited, &config, false) else {
                continue;
            };
            // What the edit asked for holds, and the plan render makes is whole.
            match &edit {
                Edit::Remove { name } => assert!(!edited.contains_key(name)),
                Edit::Add { name, fields } => {
                    assert_eq!(edited[name], Value::Object(fields.clone()))
                }
                Edit::Set { name, replace, .. } => {
                    for (key, value) in replace {
                        assert_eq!(&edited[name][key], value);
                    }
                }
            }
            let plan = crate::plan::build(&validated.tenants, &config);
            assert_eq!(
                crate::plan::check(&plan, &config.woodpecker.static_admins),
                Ok(()),
                "seed {seed} step {step}: {edit:?}"
            );
            users = edited;
        }
    }
}
