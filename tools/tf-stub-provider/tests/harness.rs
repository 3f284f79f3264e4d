//! The real `terraform` over generated stacks, offline, through the stub
//! providers: the example and random user sets validate and plan, apply
//! then re-render plans nothing, a new user plans only additions, and
//! broken stacks fail, so the harness provably checks something.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tf_stub_provider::harness::{self, Counts, Mode, Setup, StackOutcome};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[allow(dead_code, reason = "the harness needs terraform, not bao")]
#[path = "../../../tests/common/tools.rs"]
mod tools;

#[allow(dead_code, reason = "the harness uses the seeded valid users only")]
#[path = "../../../tests/common/users.rs"]
mod users;

use users::random_users;

/// The harness setup; fails the test, naming how to install it, when
/// terraform is missing.
fn setup() -> Setup {
    Setup {
        stub: PathBuf::from(env!("CARGO_BIN_EXE_tf-stub-provider")),
        schemas: repo().join("tests/provider-schemas"),
        terraform: tools::terraform().to_path_buf(),
    }
}

/// The hand-written files of the committed example.
const HAND_WRITTEN: [&str; 6] = [
    "vault/versions.tf",
    "platform/versions.tf",
    "woodpecker/versions.tf",
    "woodpecker/woodpecker.tf",
    "actualbudget/main.tf",
    "freedify/main.tf",
];

/// A workspace with the repository's config, `users` as the users file and
/// the hand-written files of the committed example, rendered into `out/`.
fn workspace(users: &Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("tenantgen.hcl"),
        dir.path().join("tenantgen.hcl"),
    )
    .unwrap();
    for hand_written in HAND_WRITTEN {
        let target = dir.path().join("out").join(hand_written);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(repo().join("stacks-out").join(hand_written), target).unwrap();
    }
    render(dir.path(), users);
    dir
}

fn render(dir: &Path, users: &Value) {
    render_with(dir, users, &[]);
}

/// Renders with `--destroy-namespace` for each of `destroy`.
fn render_with(dir: &Path, users: &Value, destroy: &[&str]) {
    std::fs::write(dir.join("users.json"), users.to_string()).unwrap();
    let options = tenantgen::Options {
        working_dir: dir.to_path_buf(),
        users: Some("users.json".into()),
        out: Some("out".into()),
        namespaces: tenantgen::plan::lifecycle::NamespaceOptIns {
            destroy: destroy.iter().map(|name| name.to_string()).collect(),
            forget: Vec::new(),
        },
        ..Default::default()
    };
    let loaded = tenantgen::load(&options).unwrap();
    let generation = tenantgen::generate(&loaded, None).unwrap();
    let changes = tenantgen::diff::compare(&loaded.out_root, generation.files).unwrap();
    tenantgen::write::apply(&loaded.out_root, &changes).unwrap();
}

fn example_users() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo().join("examples/k8s_users.json")).unwrap())
        .unwrap()
}

fn run(setup: &Setup, mode: Mode, root: &Path) -> Vec<StackOutcome> {
    harness::run(setup, mode, root).unwrap()
}

fn assert_clean(outcomes: &[StackOutcome]) {
    let (report, passed) = harness::report(Mode::Plan, outcomes);
    assert!(passed, "{report}");
    // The plan summaries, for `cargo test -- --nocapture`.
    println!("{report}");
}

fn counts(outcomes: &[StackOutcome], stack: &str) -> Counts {
    outcomes
        .iter()
        .find(|outcome| outcome.stack == stack)
        .and_then(|outcome| outcome.counts)
        .unwrap_or_else(|| panic!("no plan for {stack}"))
}

fn failure<'a>(outcomes: &'a [StackOutcome], stack: &str) -> &'a str {
    outcomes
        .iter()
        .find(|outcome| outcome.stack == stack)
        .and_then(|outcome| outcome.failure.as_deref())
        .unwrap_or_else(|| panic!("{stack} did not fail"))
}

#[test]
fn the_committed_example_validates_and_plans() {
    let setup = setup();
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("stacks-out"), dir.path());
    let outcomes = run(&setup, Mode::Plan, dir.path());
    assert_clean(&outcomes);
    let stacks: Vec<&str> = outcomes
        .iter()
        .map(|outcome| outcome.stack.as_str())
        .collect();
    assert_eq!(
        stacks,
        [
            "actualbudget/factory",
            "freedify/factory",
            "platform",
            "vault",
            "woodpecker"
        ],
        "the app modules are not stacks; their factories are"
    );
    let additions = |stack| {
        let counts = counts(&outcomes, stack);
        assert_eq!((counts.change, counts.destroy), (0, 0), "{stack}");
        counts.add
    };
    // Per tenant namespace a Role and a secrets-engine role (8), besides
    // namespaces, policies, entities and aliases; the woodpecker stack holds
    // only the hand-written release, the deployer being no shared account.
    assert_eq!(additions("vault"), 21);
    assert_eq!(additions("platform"), 24);
    assert_eq!(additions("woodpecker"), 1);

    let plans: BTreeMap<&str, Value> = stacks
        .iter()
        .map(|stack| (*stack, planned(dir.path(), stack)))
        .collect();
    assert_deployers(&plans["vault"], &EXAMPLE_NAMESPACES);
    assert_no_service_account_is_bound(&plans);
}

/// The tenant namespaces of examples/k8s_users.json.
const EXAMPLE_NAMESPACES: [&str; 4] = ["alice-dev", "alice-prod", "bob-staging", "carol"];

/// The saved plan of `stack` under `root`, as `terraform show -json` printed it.
fn planned(root: &Path, stack: &str) -> Value {
    let path = root.join(stack).join("tfplan.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Every resource in a plan's planned values, child modules included.
fn planned_resources(plan: &Value) -> Vec<&Value> {
    fn walk<'a>(module: &'a Value, into: &mut Vec<&'a Value>) {
        into.extend(module["resources"].as_array().into_iter().flatten());
        for child in module["child_modules"].as_array().into_iter().flatten() {
            walk(child, into);
        }
    }
    let mut resources = Vec::new();
    walk(&plan["planned_values"]["root_module"], &mut resources);
    resources
}

/// The planned vault stack gives each of `namespaces` exactly the default
/// deployer: a Role `<ns>-deployer` there with the default rules, and a
/// secrets-engine role issuing tokens for that Role in that namespace only,
/// which the tenant's policy may read; nothing else is a deployer.
fn assert_deployers(vault: &Value, namespaces: &[&str]) {
    let resources = planned_resources(vault);
    let of_type = |kind: &str| -> BTreeMap<String, &Value> {
        resources
            .iter()
            .filter(|resource| resource["type"] == kind)
            .map(|resource| {
                let values = &resource["values"];
                let name = match kind {
                    "kubernetes_role_v1" => &values["metadata"][0]["name"],
                    _ => &values["name"],
                };
                (name.as_str().unwrap().to_string(), values)
            })
            .collect()
    };
    let roles = of_type("kubernetes_role_v1");
    let backend_roles = of_type("vault_kubernetes_secret_backend_role");
    let expected: Vec<String> = namespaces
        .iter()
        .map(|namespace| format!("{namespace}-deployer"))
        .collect();
    assert_eq!(
        roles.keys().collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    assert_eq!(
        backend_roles.keys().collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    assert!(
        !resources
            .iter()
            .any(|resource| resource["type"] == "vault_kubernetes_auth_backend_role"),
        "no shared deployer service account in secrets-engine mode"
    );
    let policies: Vec<&str> = resources
        .iter()
        .filter(|resource| resource["type"] == "vault_policy")
        .map(|resource| resource["values"]["policy"].as_str().unwrap())
        .collect();
    for namespace in namespaces {
        let name = format!("{namespace}-deployer");
        let role = roles[&name];
        assert_eq!(role["metadata"][0]["namespace"], *namespace, "{name}");
        assert_eq!(
            role["rule"],
            json!([
                {"api_groups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "patch", "update"], "resource_names": null},
                {"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list"], "resource_names": null},
            ]),
            "{name}"
        );
        let backend_role = backend_roles[&name];
        for (key, value) in [
            ("backend", json!("kubernetes")),
            ("allowed_kubernetes_namespaces", json!([namespace])),
            ("kubernetes_role_type", json!("Role")),
            // Known at plan time: it is the Role's configured name.
            ("kubernetes_role_name", json!(name)),
            ("token_default_ttl", json!(1800)),
            ("token_max_ttl", json!(3600)),
            ("allowed_kubernetes_namespace_selector", Value::Null),
            ("service_account_name", Value::Null),
            ("generated_role_rules", Value::Null),
        ] {
            assert_eq!(backend_role[key], value, "{name}: {key}");
        }
        let creds = format!("path \"kubernetes/creds/{name}\" {{\n  capabilities = [\"read\"]\n}}");
        assert_eq!(
            policies
                .iter()
                .filter(|policy| policy.contains(&creds))
                .count(),
            1,
            "one tenant policy reads {name}'s credentials: {policies:?}"
        );
    }
}

/// No planned role binding, in any stack, binds a ServiceAccount; the
/// bindings are there to be checked (users' admin and cluster-wide roles).
fn assert_no_service_account_is_bound(plans: &BTreeMap<&str, Value>) {
    let mut bindings = 0;
    for (stack, plan) in plans {
        for resource in planned_resources(plan) {
            let values = &resource["values"];
            let subjects = if resource["type"].as_str().unwrap().contains("role_binding") {
                &values["subject"]
            } else if resource["type"] == "kubernetes_manifest"
                && values["manifest"]["kind"]
                    .as_str()
                    .is_some_and(|kind| kind.ends_with("RoleBinding"))
            {
                &values["manifest"]["subjects"]
            } else {
                continue;
            };
            bindings += 1;
            let subjects = subjects.as_array().unwrap();
            assert!(!subjects.is_empty(), "{stack} {}", resource["address"]);
            for subject in subjects {
                assert_ne!(
                    subject["kind"], "ServiceAccount",
                    "{stack} {} binds {subject}",
                    resource["address"]
                );
            }
        }
    }
    assert_eq!(bindings, 9, "role bindings planned");
}

/// Generated files alone are not a stack: the harness names what is
/// missing, without running terraform, and passes once it is added.
#[test]
fn missing_hand_written_files_are_named_before_terraform_runs() {
    let setup = setup();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("tenantgen.hcl"),
        dir.path().join("tenantgen.hcl"),
    )
    .unwrap();
    render(dir.path(), &example_users());
    let out = dir.path().join("out");
    let outcomes = run(&setup, Mode::Validate, &out);
    let platform = failure(&outcomes, "platform");
    for expected in [
        "terraform was not run",
        "no file here has a `required_providers` entry for cloudflare (used by cloudflare_record.",
        "add a versions.tf like:",
        "cloudflare = { source = \"cloudflare/cloudflare\", version = \"~> 4.52\" } # or \"~> 5.14\"",
        "kubernetes = { source = \"hashicorp/kubernetes\", version = \"~> 2.38\" }",
    ] {
        assert!(platform.contains(expected), "{expected:?} in:\n{platform}");
    }
    let vault = failure(&outcomes, "vault");
    assert!(
        vault.contains("vault      = { source = \"hashicorp/vault\", version = \"~> 4.8\" }"),
        "{vault}"
    );
    let factory = failure(&outcomes, "actualbudget/factory");
    for expected in [
        "the shared module actualbudget/: module \"carol\" in main.tf (source = \"../\") calls it, but it holds no .tf file",
        "a main.tf declaring variable \"domain\" and variable \"user\"",
    ] {
        assert!(factory.contains(expected), "{expected:?} in:\n{factory}");
    }
    // The generated woodpecker stack is only a local and an output: it
    // needs no provider, so no hand-written file, and validates alone.
    let woodpecker = outcomes
        .iter()
        .find(|outcome| outcome.stack == "woodpecker")
        .unwrap();
    assert_eq!(woodpecker.failure, None);
    assert!(
        !out.join("vault/.terraform").exists(),
        "terraform init ran in a stack that lacks its versions.tf"
    );

    for hand_written in HAND_WRITTEN {
        let target = out.join(hand_written);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(repo().join("stacks-out").join(hand_written), target).unwrap();
    }
    assert_clean(&run(&setup, Mode::Validate, &out));
}

#[test]
fn random_user_sets_validate_and_plan() {
    let setup = setup();
    for seed in [3, 11] {
        let dir = workspace(&random_users(seed, 12));
        let outcomes = run(&setup, Mode::Plan, &dir.path().join("out"));
        assert_clean(&outcomes);
        assert!(counts(&outcomes, "platform").add > 0, "seed {seed}");
    }
}

#[test]
fn apply_then_rerender_plans_nothing_and_a_new_user_only_adds() {
    let setup = setup();
    let mut users = example_users();
    let dir = workspace(&users);
    let out = dir.path().join("out");
    assert_clean(&run(&setup, Mode::Apply, &out));

    render(dir.path(), &users);
    let outcomes = run(&setup, Mode::Plan, &out);
    assert_clean(&outcomes);
    for outcome in &outcomes {
        assert_eq!(outcome.counts, Some(Counts::default()), "{}", outcome.stack);
    }

    users.as_object_mut().unwrap().insert(
        "grace".into(),
        json!({"role": "namespace-owner", "email": "grace@example.com", "namespaces": ["grace-dev"], "domains": ["grace.example.com"], "apps": ["freedify"]}),
    );
    render(dir.path(), &users);
    let outcomes = run(&setup, Mode::Plan, &out);
    assert_clean(&outcomes);
    for outcome in &outcomes {
        assert_eq!(outcome.counts.unwrap().destroy, 0, "{}", outcome.stack);
        for (address, action) in &outcome.actions {
            // The hand-written Woodpecker release carries the CI admin list,
            // which a new namespace-owner joins; everything else is new.
            if address == "helm_release.woodpecker" {
                assert_eq!(action, "update");
                continue;
            }
            assert_eq!(action, "create", "{} {address}", outcome.stack);
            assert!(address.contains("grace"), "{} {address}", outcome.stack);
        }
    }
    assert!(counts(&outcomes, "vault").add >= 5);
}

#[test]
fn a_force_new_change_plans_a_replacement() {
    let setup = setup();
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("stacks-out"), dir.path());
    assert_clean(&run(&setup, Mode::Apply, dir.path()));
    // Same address, new object name: the entity and the secrets-engine
    // role are replaced.
    let tenant = dir.path().join("vault/tenant-carol.tf");
    let original = std::fs::read_to_string(&tenant).unwrap();
    let entity = "  name     = \"carol\"\n";
    let backend_role = "  name                          = \"carol-deployer\"\n";
    assert!(original.contains(entity) && original.contains(backend_role));
    std::fs::write(
        &tenant,
        original
            .replace(entity, "  name     = \"carol-x\"\n")
            .replace(
                backend_role,
                "  name                          = \"carol-x-deployer\"\n",
            ),
    )
    .unwrap();
    let outcomes = run(&setup, Mode::Plan, dir.path());
    assert_clean(&outcomes);
    let vault = outcomes
        .iter()
        .find(|outcome| outcome.stack == "vault")
        .unwrap();
    let replaced: Vec<&str> = vault
        .actions
        .iter()
        .filter(|(_, action)| action == "replace")
        .map(|(address, _)| address.as_str())
        .collect();
    assert_eq!(
        replaced,
        [
            "vault_identity_entity.carol",
            "vault_kubernetes_secret_backend_role.carol_deployer"
        ],
        "{:?}",
        vault.actions
    );

    // A renamed namespace would be replaced too, which prevent_destroy stops.
    let namespace = "    name = \"carol\"\n";
    assert!(original.contains(namespace));
    std::fs::write(
        &tenant,
        original.replace(namespace, "    name = \"carol-x\"\n"),
    )
    .unwrap();
    let outcomes = run(&setup, Mode::Plan, dir.path());
    let message = failure(&outcomes, "vault");
    assert!(message.contains("# forces replacement"), "{message}");
    assert!(
        message.contains("kubernetes_namespace_v1.carol has lifecycle.prevent_destroy set"),
        "{message}"
    );
}

#[test]
fn broken_stacks_fail_validation() {
    let setup = setup();
    let cases: [(&str, &str, &str); 3] = [
        (
            "vault/broken.tf",
            "resource \"vault_policy\" \"broken\" {\n  name   = \"x\"\n  policy = \"\"\n  colour = \"red\"\n}\n",
            "An argument named \"colour\" is not expected here",
        ),
        (
            "platform/broken.tf",
            "output \"ghost\" {\n  value = kubernetes_namespace_v1.ghost.id\n}\n",
            "Reference to undeclared resource",
        ),
        (
            "freedify/factory/broken.tf",
            "module \"broken\" {\n  source = \"../\"\n  user   = \"x\"\n  domain = \"x.example.com\"\n  size   = 3\n}\n",
            "An argument named \"size\" is not expected here",
        ),
    ];
    for (path, text, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo().join("stacks-out"), dir.path());
        std::fs::write(dir.path().join(path), text).unwrap();
        let outcomes = run(&setup, Mode::Validate, dir.path());
        let stack = Path::new(path).parent().unwrap().to_str().unwrap();
        let message = failure(&outcomes, stack);
        assert!(message.contains(expected), "{path}: {message}");
        let (report, passed) = harness::report(Mode::Validate, &outcomes);
        assert!(
            !passed && report.contains("1 of 5 stacks failed"),
            "{report}"
        );
    }
}

#[test]
fn a_missing_required_block_and_a_cross_type_move_fail() {
    let setup = setup();
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("stacks-out"), dir.path());
    std::fs::write(
        dir.path().join("vault/broken.tf"),
        "resource \"kubernetes_namespace_v1\" \"headless\" {\n}\n",
    )
    .unwrap();
    let outcomes = run(&setup, Mode::Validate, dir.path());
    assert!(
        failure(&outcomes, "vault").contains("Insufficient metadata blocks"),
        "metadata is a required max-1 list block"
    );

    // Moving state between resource types needs the provider, and the
    // real ones (and so the stubs) refuse.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("stacks-out"), dir.path());
    assert_clean(&run(&setup, Mode::Apply, dir.path()));
    let tenant = dir.path().join("vault/tenant-carol.tf");
    // The resource and the deployer Role's depends_on on it.
    let text = std::fs::read_to_string(&tenant)
        .unwrap()
        .replace(
            "resource \"kubernetes_namespace_v1\" \"carol\"",
            "resource \"kubernetes_namespace\" \"carol\"",
        )
        .replace(
            "depends_on = [kubernetes_namespace_v1.carol]",
            "depends_on = [kubernetes_namespace.carol]",
        );
    assert!(!text.contains("kubernetes_namespace_v1.carol"), "{text}");
    std::fs::write(
        &tenant,
        format!("{text}\nmoved {{\n  from = kubernetes_namespace_v1.carol\n  to   = kubernetes_namespace.carol\n}}\n"),
    )
    .unwrap();
    let outcomes = run(&setup, Mode::Plan, dir.path());
    assert!(
        failure(&outcomes, "vault").contains("Unsupported `moved` across resource types"),
        "{}",
        failure(&outcomes, "vault")
    );
}

/// The plan's actions in one stack, by address.
fn actions<'a>(outcomes: &'a [StackOutcome], stack: &str) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut by_address: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (address, action) in &outcomes
        .iter()
        .find(|outcome| outcome.stack == stack)
        .unwrap()
        .actions
    {
        by_address.entry(address).or_default().push(action);
    }
    by_address
}

#[test]
fn offboarding_releases_namespaces_and_returning_imports_them() {
    let setup = setup();
    let mut users = example_users();
    let dir = workspace(&users);
    let out = dir.path().join("out");
    assert_clean(&run(&setup, Mode::Apply, &out));

    let carol = users.as_object_mut().unwrap().remove("carol").unwrap();
    render(dir.path(), &users);
    let outcomes = run(&setup, Mode::Plan, &out);
    assert_clean(&outcomes);
    let vault = actions(&outcomes, "vault");
    let released = counts(&outcomes, "vault");
    assert_eq!((released.destroy, released.forget), (5, 1), "{vault:?}");
    assert_eq!(
        vault["kubernetes_namespace_v1.carol"],
        ["forget"],
        "{vault:?}"
    );
    for revoked in [
        "vault_policy.carol",
        "vault_identity_entity.carol",
        "vault_identity_entity_alias.carol",
        "kubernetes_role_v1.carol_deployer",
        "vault_kubernetes_secret_backend_role.carol_deployer",
    ] {
        assert_eq!(vault[revoked], ["delete"], "{revoked}: {vault:?}");
    }
    assert!(
        !vault.iter().any(
            |(address, actions)| address.starts_with("kubernetes_namespace")
                && actions.contains(&"delete")
        ),
        "no namespace is destroyed: {vault:?}"
    );
    let platform = actions(&outcomes, "platform");
    assert!(
        platform.keys().any(|address| address.contains("carol")),
        "{platform:?}"
    );
    assert!(
        platform.values().all(|actions| actions == &["delete"]),
        "{platform:?}"
    );
    // No binding of carol's there to delete: the release's CI admin list
    // only loses her.
    assert_eq!(
        actions(&outcomes, "woodpecker"),
        BTreeMap::from([("helm_release.woodpecker", vec!["update"])])
    );
    assert_clean(&run(&setup, Mode::Apply, &out));

    users.as_object_mut().unwrap().insert("carol".into(), carol);
    render(dir.path(), &users);
    let outcomes = run(&setup, Mode::Plan, &out);
    assert_clean(&outcomes);
    let vault = actions(&outcomes, "vault");
    let namespace = &vault["kubernetes_namespace_v1.carol"];
    assert!(
        namespace.contains(&"import") && !namespace.contains(&"create"),
        "{vault:?}"
    );
    assert_eq!(counts(&outcomes, "vault").import, 1);
    for granted in [
        "kubernetes_role_v1.carol_deployer",
        "vault_kubernetes_secret_backend_role.carol_deployer",
    ] {
        assert_eq!(vault[granted], ["create"], "{granted}: {vault:?}");
    }
}

/// A binding to a generated role names it through the role's resource
/// (issue 18, N3), and with namespaces and bindings in one stack a binding
/// waits for its namespace (N7): terraform plans and applies both.
#[test]
fn bindings_name_their_generated_role_and_wait_for_their_namespace() {
    let setup = setup();
    let users = example_users();
    let dir = workspace(&users);
    let out = dir.path().join("out");
    assert_clean(&run(&setup, Mode::Plan, &out));
    let platform = planned(&out, "platform");
    let role_of = |plan: &Value, address: &str| -> Value {
        planned_resources(plan)
            .into_iter()
            .find(|resource| resource["address"] == address)
            .map(|resource| resource["values"]["role_ref"][0]["name"].clone())
            .unwrap_or_else(|| panic!("{address} is not planned"))
    };
    for (binding, role) in [
        ("alice_read_only", "tenantgen-read-only"),
        ("dave_power_user", "tenantgen-power-user"),
    ] {
        let address = format!("kubernetes_cluster_role_binding_v1.{binding}");
        assert_eq!(role_of(&platform, &address), role, "{address}");
    }

    let config = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\nlayout {{\n  rbac = \"vault\"\n}}\n"),
    )
    .unwrap();
    render(dir.path(), &users);
    let tenant = std::fs::read_to_string(out.join("vault/tenant-alice.tf")).unwrap();
    assert!(
        tenant.contains("depends_on = [kubernetes_namespace_v1.alice_dev]"),
        "{tenant}"
    );
    assert_clean(&run(&setup, Mode::Apply, &out));
}

#[test]
fn destroying_a_namespace_takes_a_named_opt_in() {
    let setup = setup();
    let mut users = example_users();
    let dir = workspace(&users);
    let out = dir.path().join("out");
    assert_clean(&run(&setup, Mode::Apply, &out));
    users.as_object_mut().unwrap().remove("alice");
    render_with(dir.path(), &users, &["alice-dev"]);
    let outcomes = run(&setup, Mode::Plan, &out);
    assert_clean(&outcomes);
    let vault = actions(&outcomes, "vault");
    let namespaces: BTreeMap<&str, &Vec<&str>> = vault
        .iter()
        .filter(|(address, _)| address.starts_with("kubernetes_namespace"))
        .map(|(address, actions)| (*address, actions))
        .collect();
    assert_eq!(
        namespaces,
        BTreeMap::from([
            ("kubernetes_namespace_v1.alice_dev", &vec!["delete"]),
            ("kubernetes_namespace_v1.alice_prod", &vec!["forget"]),
        ])
    );
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".terraform" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else if entry.path().extension().is_some_and(|ext| ext == "tf") {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The seed's dynamic style: `jsondecode` of the users and `for_each`.
const LEGACY_VAULT: &str = r#"
variable "k8s_users" {
  type = string
}

locals {
  users  = jsondecode(var.k8s_users)
  owners = { for name, user in local.users : name => user if user.role == "namespace-owner" }
  namespaces = merge([
    for name, user in local.owners : { for namespace in user.namespaces : namespace => name }
  ]...)
}

resource "kubernetes_namespace" "user_namespace" {
  for_each = local.namespaces
  metadata {
    name = each.key
  }
}

resource "vault_policy" "namespace_owner" {
  for_each = local.owners
  name     = "namespace-owner-${each.key}"
  policy   = "path \"secret/data/${each.key}/*\" { capabilities = [\"read\"] }"
}

resource "vault_identity_entity" "namespace_owner" {
  for_each = local.owners
  name     = each.key
  policies = [vault_policy.namespace_owner[each.key].name]
}

resource "vault_identity_entity_alias" "namespace_owner" {
  for_each       = local.owners
  name           = each.value.email
  mount_accessor = "auth_oidc_legacy"
  canonical_id   = vault_identity_entity.namespace_owner[each.key].id
}

resource "kubernetes_role" "user_deployer" {
  for_each = local.namespaces
  metadata {
    name      = "${each.key}-deployer"
    namespace = kubernetes_namespace.user_namespace[each.key].metadata[0].name
  }
  rule {
    api_groups = ["apps"]
    resources  = ["deployments"]
    verbs      = ["get", "list", "patch", "update"]
  }
  rule {
    api_groups = [""]
    resources  = ["pods"]
    verbs      = ["get", "list"]
  }
}

resource "vault_kubernetes_secret_backend_role" "user_deployer" {
  for_each                      = local.namespaces
  backend                       = "kubernetes"
  name                          = "${each.key}-deployer"
  allowed_kubernetes_namespaces = [each.key]
  kubernetes_role_type          = "Role"
  kubernetes_role_name          = kubernetes_role.user_deployer[each.key].metadata[0].name
  token_default_ttl             = 1800
  token_max_ttl                 = 3600
}
"#;

const LEGACY_PLATFORM: &str = r#"
variable "k8s_users" {
  type = string
}

module "rbac" {
  source    = "./rbac"
  k8s_users = var.k8s_users
}
"#;

const LEGACY_RBAC: &str = r#"
variable "k8s_users" {
  type = string
}

locals {
  users  = jsondecode(var.k8s_users)
  owners = { for name, user in local.users : name => user if user.role == "namespace-owner" }
  owner_namespaces = merge([
    for name, user in local.owners : { for namespace in user.namespaces : "${name}-${namespace}" => { user = name, namespace = namespace } }
  ]...)
  admins      = { for name, user in local.users : name => user if user.role == "admin" }
  power_users = { for name, user in local.users : name => user if user.role == "power-user" }
}

resource "kubernetes_role_binding" "namespace_owner" {
  for_each = local.owner_namespaces
  metadata {
    name      = "namespace-owner-${each.value.user}"
    namespace = each.value.namespace
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "admin"
  }
  subject {
    kind = "User"
    name = local.users[each.value.user].email
  }
}

resource "kubernetes_resource_quota" "user_namespace_quota" {
  for_each = local.owner_namespaces
  metadata {
    name      = "user-quota"
    namespace = each.value.namespace
  }
  spec {
    hard = { pods = "10" }
  }
}

resource "kubernetes_cluster_role_binding" "namespace_owner_readonly" {
  for_each = local.owners
  metadata {
    name = "oidc-ns-owner-readonly-${each.key}"
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "view"
  }
  subject {
    kind = "User"
    name = each.value.email
  }
}

resource "kubernetes_cluster_role_binding" "admin_users" {
  for_each = local.admins
  metadata {
    name = "${each.key}-cluster-admin"
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "cluster-admin"
  }
  subject {
    kind = "User"
    name = each.value.email
  }
}

resource "kubernetes_cluster_role_binding" "power_users" {
  for_each = local.power_users
  metadata {
    name = "${each.key}-power-user"
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "edit"
  }
  subject {
    kind = "User"
    name = each.value.email
  }
}
"#;

#[test]
fn adopting_a_for_each_deployment_keeps_namespaces_and_identities() {
    let setup = setup();
    let users = example_users();
    let dir = workspace(&users);
    // The legacy deployment, applied with the same users.
    let legacy = dir.path().join("legacy");
    for (path, text) in [
        ("vault/legacy.tf", LEGACY_VAULT),
        ("platform/legacy.tf", LEGACY_PLATFORM),
        ("platform/rbac/main.tf", LEGACY_RBAC),
    ] {
        let target = legacy.join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
    for stack in ["vault", "platform"] {
        std::fs::copy(
            repo().join("stacks-out").join(stack).join("versions.tf"),
            legacy.join(stack).join("versions.tf"),
        )
        .unwrap();
    }
    // The legacy style needs explicit namespaces and emails (tenantgen's defaults).
    let mut legacy_users = users.clone();
    for (name, user) in legacy_users.as_object_mut().unwrap() {
        if user["role"] == "namespace-owner" && user.get("namespaces").is_none() {
            user["namespaces"] = json!([name]);
        }
        // tenantgen's default identity is the username, too.
        if user.get("email").is_none() {
            user["email"] = json!(name);
        }
    }
    // terraform.tfvars outranks the harness's TF_VAR_ placeholders.
    for stack in ["vault", "platform"] {
        let tfvars = format!(
            "k8s_users = {}\n",
            serde_json::Value::from(legacy_users.to_string())
        );
        std::fs::write(legacy.join(stack).join("terraform.tfvars"), tfvars).unwrap();
    }
    let outcomes = run(&setup, Mode::Apply, &legacy);
    assert_clean(&outcomes);
    // Per namespace (4) a namespace, a deployer Role and a secrets-engine
    // role; per namespace-owner (3) a policy, an entity and an alias.
    assert_eq!(counts(&outcomes, "vault").add, 21);

    // Switch: tenantgen's output in adoption mode takes over the state.
    let config = dir.path().join("tenantgen.hcl");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\nadopt {}\n");
    std::fs::write(&config, text).unwrap();
    render(dir.path(), &users);
    let out = dir.path().join("out");
    for stack in ["vault", "platform"] {
        std::fs::copy(
            legacy.join(stack).join("terraform.tfstate"),
            out.join(stack).join("terraform.tfstate"),
        )
        .unwrap();
    }
    let outcomes = run(&setup, Mode::Plan, &out);
    assert_clean(&outcomes);
    let vault = actions(&outcomes, "vault");
    for (address, actions) in &vault {
        let kept = [
            "kubernetes_namespace.",
            "vault_policy.",
            "vault_identity_entity.",
            "vault_identity_entity_alias.",
            "kubernetes_role.",
            "vault_kubernetes_secret_backend_role.",
        ];
        if kept.iter().any(|prefix| address.starts_with(prefix)) {
            assert!(
                !actions.contains(&"create")
                    && !actions.contains(&"delete")
                    && !actions.contains(&"replace"),
                "{address}: {actions:?}"
            );
        }
    }
    assert!(
        vault
            .keys()
            .any(|address| address.starts_with("kubernetes_namespace.")),
        "{vault:?}"
    );
    // The deployer roles, keyed by namespace, are moved to tenantgen's
    // addresses and kept.
    let plan = planned(&out, "vault");
    let changes = plan["resource_changes"].as_array().unwrap();
    for namespace in EXAMPLE_NAMESPACES {
        let deployer = format!("{}_deployer", namespace.replace('-', "_"));
        // The Roles gain tenantgen's labels; the secrets-engine roles are
        // the same and only move.
        for (kind, expected) in [
            ("kubernetes_role", "update"),
            ("vault_kubernetes_secret_backend_role", "no-op"),
        ] {
            let address = format!("{kind}.{deployer}");
            let change = changes
                .iter()
                .find(|change| change["address"] == address.as_str())
                .unwrap_or_else(|| panic!("{address} is not planned: {vault:?}"));
            assert_eq!(
                change["previous_address"],
                format!("{kind}.user_deployer[\"{namespace}\"]"),
                "{address}"
            );
            assert_eq!(change["change"]["actions"], json!([expected]), "{address}");
        }
    }
    // The counts the README quotes ("Adopting a `for_each` deployment"):
    // in the vault stack nothing is created or destroyed.
    assert_eq!(
        counts(&outcomes, "vault"),
        Counts {
            change: 17,
            ..Counts::default()
        },
        "{vault:?}"
    );
    // Bindings and quotas whose names change are moved, then replaced; nothing is left behind.
    let platform = actions(&outcomes, "platform");
    assert_eq!(
        platform["kubernetes_role_binding.alice_dev_admin"],
        ["replace"]
    );
    assert_eq!(platform["kubernetes_resource_quota.carol"], ["replace"]);
    // Every legacy object has a new home: nothing is only deleted.
    assert!(
        platform.values().all(|actions| actions != &["delete"]),
        "{platform:?}"
    );
    let names_kept = [
        "kubernetes_cluster_role_binding.erin_cluster_admin",
        "kubernetes_cluster_role_binding.dave_power_user",
    ];
    for address in names_kept {
        assert_eq!(
            platform[address],
            ["update"],
            "{address}: same name, moved in place"
        );
    }
    assert_eq!(
        counts(&outcomes, "platform"),
        Counts {
            add: 22,
            change: 2,
            destroy: 11,
            replace: 11,
            ..Counts::default()
        },
        "{platform:?}"
    );
}
