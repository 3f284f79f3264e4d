use serde_json::json;

use super::*;
use crate::source;

fn config() -> Config {
    Config::default()
}

fn build_json(
    value: serde_json::Value,
    config: &Config,
    strict: bool,
) -> Result<Validated, Invalid> {
    let raw = source::parse(value.to_string().as_bytes(), "test users").expect("parses");
    build(&raw, config, strict)
}

fn valid(value: serde_json::Value) -> Validated {
    build_json(value, &config(), false).unwrap_or_else(|invalid| panic!("{invalid}"))
}

fn problems(value: serde_json::Value) -> Vec<String> {
    problems_with(value, &config())
}

fn problems_with(value: serde_json::Value, config: &Config) -> Vec<String> {
    match build_json(value, config, false) {
        Ok(_) => panic!("input was accepted"),
        Err(invalid) => texts(&invalid.problems.list),
    }
}

/// Each problem as it prints in the list: `subject: message`.
fn texts(list: &[Problem]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// Exactly one problem, containing every fragment.
fn assert_one_problem(value: serde_json::Value, fragments: &[&str]) {
    let problems = problems(value);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    for fragment in fragments {
        assert!(
            problems[0].contains(fragment),
            "{:?} lacks {fragment:?}",
            problems[0]
        );
    }
}

fn owner(extra: serde_json::Value) -> serde_json::Value {
    let mut user = json!({"role": "namespace-owner"});
    user.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    user
}

#[test]
fn seed_example_is_valid_and_normalised() {
    let validated = valid(json!({
        "bob": {"role": "namespace-owner", "namespaces": ["bob-staging"], "domains": ["bob.example.com"],
                "quota": {"cpu": "2", "memory": "4Gi", "storage": "10Gi"}},
        "alice": {"role": "namespace-owner", "namespaces": ["alice-prod", "alice-dev"],
                  "domains": ["app.alice.example.com", "alice.example.com"],
                  "quota": {"cpu": "4", "memory": "8Gi", "storage": "20Gi", "pods": "20"}}
    }));
    let users = &validated.tenants.users;
    assert_eq!(users[0].name, "alice");
    assert_eq!(users[0].namespaces, ["alice-dev", "alice-prod"]);
    assert_eq!(
        users[0].domains,
        ["alice.example.com", "app.alice.example.com"]
    );
    assert_eq!(users[0].email, "alice");
    assert_eq!(users[0].quota[&QuotaKey::Cpu], "4");
    assert_eq!(
        users[0].quota[&QuotaKey::MemoryLimits],
        "8Gi",
        "defaults fill the gaps"
    );
    assert_eq!(users[1].quota[&QuotaKey::Storage], "10Gi");
    assert!(validated.warnings.is_empty());
}

#[test]
fn defaults_for_namespaces_depend_on_role() {
    let validated = valid(json!({
        "carol": {"role": "namespace-owner"},
        "dave": {"role": "power-user"},
        "erin": {"role": "admin"}
    }));
    let namespaces: Vec<&[String]> = validated
        .tenants
        .users
        .iter()
        .map(|u| u.namespaces.as_slice())
        .collect();
    assert_eq!(namespaces, [vec!["carol".to_string()].as_slice(), &[], &[]]);
}

#[test]
fn long_form_quota_keys_and_numbers() {
    let validated = valid(json!({"carol": owner(json!({"quota": {
        "cpu_requests": 3, "memory_requests": "6Gi", "memory_limits": "12Gi",
        "storage_requests": "50Gi", "pods": 30, "persistentvolumeclaims": 5, "cpu_requests_x": 1
    }}))}));
    let quota = &validated.tenants.users[0].quota;
    assert_eq!(quota[&QuotaKey::Cpu], "3");
    assert_eq!(quota[&QuotaKey::Memory], "6Gi");
    assert_eq!(quota[&QuotaKey::MemoryLimits], "12Gi");
    assert_eq!(quota[&QuotaKey::Storage], "50Gi");
    assert_eq!(quota[&QuotaKey::Pods], "30");
    assert_eq!(quota[&QuotaKey::PersistentVolumeClaims], "5");
    assert!(
        texts(&validated.warnings)[0].contains("unknown quota key \"cpu_requests_x\""),
        "{:?}",
        validated.warnings
    );
}

#[test]
fn usernames_must_be_dns_labels() {
    for name in ["*", "Alice", "_a", "a_", "-x", "x-", "a.b", "../x", "${x}"] {
        let problems = problems(json!({ name: {"role": "admin"} }));
        assert_eq!(problems.len(), 1, "{name}: {problems:#?}");
        assert!(problems[0].contains("the username"), "{}", problems[0]);
        assert!(problems[0].contains("rename the key"), "{}", problems[0]);
    }
    let long = "a".repeat(64);
    assert!(problems(json!({ long: {"role": "admin"} }))[0].contains("64 characters"));
}

#[test]
fn users_must_be_objects() {
    assert_one_problem(
        json!({"alice": "namespace-owner"}),
        &["user \"alice\"", "must be a JSON object"],
    );
}

#[test]
fn role_is_required_and_known() {
    assert_one_problem(
        json!({"alice": {}}),
        &[
            "user \"alice\"",
            "`role` is missing",
            "namespace-owner, power-user, admin",
        ],
    );
    assert_one_problem(
        json!({"alice": {"role": "superuser"}}),
        &[
            "user \"alice\": role = \"superuser\"",
            "unknown role",
            "use one of",
        ],
    );
    assert_one_problem(json!({"alice": {"role": 1}}), &["role = 1", "unknown role"]);
}

#[test]
fn emails_must_be_plausible() {
    assert_eq!(
        valid(json!({"a": {"role": "admin", "email": "a.b+c@mail.example.com"}}))
            .tenants
            .users[0]
            .email,
        "a.b+c@mail.example.com"
    );
    for email in [
        "alice\"@example.com",
        "alice@example.com\n",
        "a\"\nresource \"x\" \"y\" {}@x.com",
        "${var.x}@example.com",
        "{a}@example.com",
        "a$b@example.com",
        "a b@example.com",
        "a\u{0}@example.com",
        "a\\b@example.com",
        "no-at-sign",
        "@example.com",
        "a@b@example.com",
        "a@localhost",
        "a@-x.com",
    ] {
        let problems = problems(json!({"alice": {"role": "admin", "email": email}}));
        assert_eq!(problems.len(), 1, "{email:?}: {problems:#?}");
        assert!(
            problems[0].starts_with("user \"alice\": email = "),
            "{}",
            problems[0]
        );
        assert!(
            problems[0].contains("e.g. \"alice@example.com\""),
            "{}",
            problems[0]
        );
    }
    assert_one_problem(
        json!({"alice": {"role": "admin", "email": 7}}),
        &["email = 7", "must be a string"],
    );
}

#[test]
fn email_can_be_required() {
    let mut config = config();
    config.identity.require_email = true;
    let problems = problems_with(json!({"alice": {"role": "admin"}}), &config);
    assert!(
        problems[0].contains("`email` is missing and identity.require_email is set"),
        "{problems:?}"
    );
}

#[test]
fn one_identity_per_user() {
    assert_one_problem(
        json!({"a": {"role": "admin", "email": "x@example.com"}, "b": {"role": "admin", "email": "x@example.com"}}),
        &["email \"x@example.com\"", "user \"a\" and user \"b\""],
    );
}

#[test]
fn namespace_names_are_labels_and_not_reserved() {
    let cases = [
        ("../x", "not a valid namespace name"),
        ("kube-system", "reserved for the platform"),
        ("kube-public", "reserved for the platform"),
        ("default", "reserved for the platform"),
        ("vault", "reserved for the platform"),
        ("woodpecker", "reserved for the platform"),
        ("monitoring", "reserved for the platform"),
        ("Prod", "use lowercase"),
        ("a\"}", "not a valid namespace name"),
        ("${x}", "not a valid namespace name"),
        ("", "is empty"),
    ];
    for (namespace, reason) in cases {
        let problems = problems(json!({"alice": owner(json!({"namespaces": [namespace]}))}));
        assert_eq!(problems.len(), 1, "{namespace}: {problems:#?}");
        assert!(
            problems[0].starts_with("user \"alice\": namespaces[0] = "),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains(reason), "{namespace}: {}", problems[0]);
    }
}

#[test]
fn the_deployer_namespace_is_reserved_even_when_not_listed() {
    let mut config = config();
    config.namespaces.reserved.clear();
    config.deployer.namespace = "ci".into();
    let problems = problems_with(
        json!({"alice": owner(json!({"namespaces": ["ci"]}))}),
        &config,
    );
    assert!(problems[0].contains("reserved"), "{problems:?}");
}

#[test]
fn no_namespace_may_sit_beside_or_around_the_users_secret() {
    let mut config = config();
    for (path, prefix, namespace) in [
        ("platform", "", "platform"),
        ("infra/platform", "", "infra"),
        ("tenants/platform", "tenants", "platform"),
    ] {
        config.vault.path = path.into();
        config.vault.tenant_prefix = prefix.into();
        let problems = problems_with(
            json!({"alice": owner(json!({"namespaces": [namespace]}))}),
            &config,
        );
        assert_eq!(problems.len(), 1, "{path}: {problems:#?}");
        assert!(
            problems[0].contains(&format!("beside the users secret secret/{path} itself")),
            "{}",
            problems[0]
        );
    }
    config.vault.path = "platform".into();
    config.vault.tenant_prefix = "tenants".into();
    let apart = json!({"alice": owner(json!({"namespaces": ["platform"]}))});
    assert!(
        build_json(apart, &config, false).is_ok(),
        "apart under a prefix"
    );
}

#[test]
fn namespace_lists_are_checked() {
    assert_one_problem(
        json!({"alice": owner(json!({"namespaces": []}))}),
        &[
            "namespaces = []",
            "needs at least one namespace",
            "remove the field to get [\"alice\"]",
        ],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"namespaces": "alice"}))}),
        &["must be a list of strings"],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"namespaces": ["a", 1]}))}),
        &["namespaces[1] = 1", "must be a string"],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"namespaces": ["a", "a"]}))}),
        &["namespaces[1] = \"a\"", "listed twice"],
    );
    let many: Vec<String> = (0..11).map(|i| format!("alice-{i}")).collect();
    assert_one_problem(
        json!({"alice": owner(json!({"namespaces": many}))}),
        &["namespaces.max_per_user (10)"],
    );
    assert!(
        valid(json!({"dave": {"role": "power-user", "namespaces": ["dave-lab"]}}))
            .tenants
            .users[0]
            .namespaces
            == ["dave-lab"]
    );
}

#[test]
fn a_namespace_has_one_owner() {
    assert_one_problem(
        json!({"alice": owner(json!({"namespaces": ["shared"]})), "bob": owner(json!({"namespaces": ["shared"]}))}),
        &[
            "namespace \"shared\"",
            "user \"alice\" and user \"bob\"",
            "rename one",
        ],
    );
    // The default namespace of a namespace-owner counts too.
    assert_one_problem(
        json!({"alice": owner(json!({})), "bob": owner(json!({"namespaces": ["alice"]}))}),
        &["namespace \"alice\"", "claimed by both"],
    );
}

#[test]
fn namespace_prefix_rule() {
    let mut config = config();
    config.namespaces.require_prefix = true;
    assert!(
        build_json(
            json!({"alice": owner(json!({"namespaces": ["alice", "alice-dev"]}))}),
            &config,
            false
        )
        .is_ok()
    );
    let problems = problems_with(
        json!({"alice": owner(json!({"namespaces": ["bob-dev"]}))}),
        &config,
    );
    assert!(
        problems[0].contains("must be \"alice\" or start with \"alice-\""),
        "{problems:?}"
    );
}

#[test]
fn domains_are_names_inside_the_zone() {
    let cases = [
        (
            "alice.other.org",
            "outside the managed zone \"example.com\"",
        ),
        ("example.com", "zone apex"),
        ("notexample.com", "outside the managed zone"),
        ("${var.x}.example.com", "not a valid DNS name"),
        ("a\"}.example.com", "not a valid DNS name"),
        ("*.alice.example.com", "wildcard"),
        ("Alice.example.com", "use lowercase"),
        ("alice.example.com.", "trailing dot"),
        ("a..example.com", "empty label"),
    ];
    for (domain, reason) in cases {
        let problems = problems(json!({"alice": owner(json!({"domains": [domain]}))}));
        assert_eq!(problems.len(), 1, "{domain}: {problems:#?}");
        assert!(
            problems[0].starts_with("user \"alice\": domains[0] = "),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains(reason), "{domain}: {}", problems[0]);
    }
    assert_one_problem(
        json!({"alice": owner(json!({"domains": "a.example.com"}))}),
        &["must be a list"],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"domains": ["a.example.com", "a.example.com"]}))}),
        &["domains[1]", "listed twice"],
    );
}

#[test]
fn a_domain_has_one_owner_and_does_not_shadow_app_domains() {
    assert_one_problem(
        json!({"alice": owner(json!({"domains": ["x.example.com"]})), "bob": owner(json!({"domains": ["x.example.com"]}))}),
        &[
            "domain \"x.example.com\"",
            "user \"alice\" and user \"bob\"",
        ],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"domains": ["budget.bob.example.com"]})), "bob": owner(json!({"apps": ["actualbudget"]}))}),
        &[
            "domain \"budget.bob.example.com\"",
            "generated domain of \"bob\"'s actualbudget instance",
        ],
    );
}

#[test]
fn quota_values_are_quantities() {
    for (key, amount, reason) in [
        ("memory", json!("8GB"), "unknown suffix \"GB\""),
        ("cpu", json!("-1"), "negative"),
        ("cpu", json!(-1), "negative"),
        ("storage", json!("8 Gi"), "whitespace"),
        ("pods", json!("${x}"), "does not start with a number"),
        ("memory_limits", json!("1\"}"), "unknown suffix"),
        ("pods", json!(true), "must be a quantity string"),
    ] {
        let problems = problems(json!({"alice": owner(json!({"quota": {key: amount}}))}));
        assert_eq!(problems.len(), 1, "{key}={amount}: {problems:#?}");
        assert!(
            problems[0].starts_with(&format!("user \"alice\": quota.{key} = ")),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains(reason), "{}", problems[0]);
    }
    assert_one_problem(
        json!({"alice": owner(json!({"quota": {"cpu": "1", "cpu_requests": "2"}}))}),
        &["sets the same quota as quota.cpu", "keep only one"],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"quota": ["cpu"]}))}),
        &["quota = [\"cpu\"]", "must be an object"],
    );
}

#[test]
fn apps_must_be_configured() {
    assert_one_problem(
        json!({"alice": owner(json!({"apps": ["actualbudgte"]}))}),
        &[
            "apps[0] = \"actualbudgte\"",
            "not a configured factory app",
            "did you mean \"actualbudget\"",
            "add an `app` block",
        ],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"apps": ["freedify", "freedify"]}))}),
        &["apps[1]", "listed twice"],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"apps": ["\"${x}"]}))}),
        &["not a configured factory app"],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"apps": "freedify"}))}),
        &["must be a list"],
    );
}

#[test]
fn unknown_fields_warn_unless_strict() {
    let input = json!({"alice": owner(json!({"namespace": ["x"], "quota": {"gpu": "1"}}))});
    let validated = build_json(input.clone(), &config(), false).unwrap();
    assert_eq!(validated.warnings.len(), 2, "{:?}", validated.warnings);
    assert!(
        texts(&validated.warnings)[0]
            .contains("user \"alice\": unknown field \"namespace\"; did you mean \"namespaces\"?")
    );
    let strict = build_json(input, &config(), true).unwrap_err();
    let problems = texts(&strict.problems.list);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("--strict"));
}

#[test]
fn warnings_come_with_the_errors() {
    let invalid = build_json(
        json!({"alice": owner(json!({"emial": "a@example.com", "quota": {"cpus": "1"}})),
               "bob": {"role": "boss"}}),
        &config(),
        false,
    )
    .unwrap_err();
    assert_eq!(invalid.problems.list.len(), 1, "{:?}", invalid.problems);
    let warnings = texts(&invalid.warnings);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("unknown field \"emial\"; did you mean \"email\"?"));
    assert!(warnings[1].contains("unknown quota key \"cpus\"; did you mean \"cpu\"?"));
}

#[test]
fn problems_print_as_one_list_with_the_fix() {
    let invalid = build_json(
        json!({"bob": {"role": "root"}, "carol": {"role": "admin", "email": "x"}}),
        &config(),
        false,
    )
    .unwrap_err();
    let text = invalid.to_string();
    assert!(
        text.starts_with(
            "k8s_users has 2 problems:\n  - user \"bob\": role = \"root\": unknown role; use one of"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n  - user \"carol\": email = \"x\": has no `@`"),
        "{text}"
    );
    assert!(
        text.ends_with("\nhint: fix the users source and run the command again"),
        "{text}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let problems = problems(json!({
        "*": {"role": "admin"},
        "alice": {"role": "boss", "email": "a\"@x.io", "namespaces": ["kube-system"],
                  "domains": ["example.com"], "quota": {"memory": "8GB"}, "apps": ["nope"]},
        "bob": owner(json!({"namespaces": ["shared"]})),
        "carol": owner(json!({"namespaces": ["shared"]}))
    }));
    assert_eq!(problems.len(), 8, "{problems:#?}");
}

#[test]
fn huge_values_are_shown_short() {
    let huge = "x".repeat(10_000);
    let problems = problems(json!({"alice": owner(json!({"namespaces": [huge]}))}));
    assert!(problems[0].len() < 400, "{}", problems[0]);
    assert!(
        problems[0].contains("(10002 characters)"),
        "{}",
        problems[0]
    );
}

#[test]
fn quota_without_namespaces_warns() {
    let validated = valid(json!({"dave": {"role": "power-user", "quota": {"cpu": "1"}}}));
    assert!(
        texts(&validated.warnings)[0].contains("quota has no effect"),
        "{:?}",
        validated.warnings
    );
}

#[test]
fn usernames_as_the_provisioning_pipeline_accepts_them() {
    let validated = valid(json!({"jane_doe": owner(json!({"namespaces": ["jane"]}))}));
    assert_eq!(validated.tenants.users[0].name, "jane_doe");
    assert_one_problem(
        json!({"jane_doe": owner(json!({}))}),
        &[
            "user \"jane_doe\"",
            "namespaces is required",
            "e.g. [\"jane-doe\"]",
        ],
    );
    assert_one_problem(
        json!({"jane_doe": {"role": "admin"}, "jane-doe": {"role": "admin", "email": "j@example.com"}}),
        &[
            "user \"jane_doe\"",
            "and user \"jane-doe\" both become \"jane-doe\"",
        ],
    );
    for bad in ["_jane", "jane_", "Jane", "j.ane"] {
        let problems = problems(json!({ bad: {"role": "admin"} }));
        assert!(
            problems.iter().any(|p| p.contains("the username")),
            "{bad}: {problems:?}"
        );
    }
}

#[test]
fn short_domains_are_relative_to_the_zone() {
    let validated = valid(json!({"alice": owner(json!({"domains": ["myapp", "b.example.com"]}))}));
    assert_eq!(
        validated.tenants.users[0].domains,
        ["b.example.com", "myapp.example.com"]
    );
    assert_one_problem(
        json!({"alice": owner(json!({"domains": ["myapp", "myapp.example.com"]}))}),
        &["domains lists \"myapp.example.com\" twice"],
    );
    assert_one_problem(
        json!({"alice": owner(json!({"domains": ["My_App"]}))}),
        &["domains[0] = \"My_App\": is not a valid DNS name"],
    );
}
