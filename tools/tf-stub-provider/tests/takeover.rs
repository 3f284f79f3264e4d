//! Taking over the tenant code of a real deployment: the reconstruction of
//! ViktorBarzin/infra's `for_each` tenant code (tests/fixtures/upstream/,
//! whose README lists every tenant address) applies through the harness
//! with the upstream-shaped users of examples/infra/k8s_users.json, holds
//! the objects upstream would create under upstream's addresses and keys,
//! and plans nothing afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tf_stub_provider::harness::{self, Counts, Mode, Setup, StackOutcome};

#[allow(dead_code, reason = "the harness needs terraform, not bao")]
#[path = "../../../tests/common/tools.rs"]
mod tools;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The harness setup; fails the test, naming how to install it, when
/// terraform is missing.
fn setup() -> Setup {
    Setup {
        stub: PathBuf::from(env!("CARGO_BIN_EXE_tf-stub-provider")),
        schemas: repo().join("tests/provider-schemas"),
        terraform: tools::terraform().to_path_buf(),
    }
}

/// The reconstruction's stacks, as the harness names them (sorted).
const STACKS: [&str; 4] = [
    "stacks/cloudflared",
    "stacks/rbac",
    "stacks/vault",
    "stacks/woodpecker",
];

/// Copies `from` into `to`, without terraform's working files.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".terraform" || name == "terraform.tfstate" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The reconstruction in a temp dir, each stack fed the users file as
/// upstream's stacks read it from Vault: one JSON string, `k8s_users`
/// (terraform.tfvars.json outranks the harness's `TF_VAR_` placeholders).
fn upstream_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream"),
        dir.path(),
    );
    let users_path = repo().join("examples/infra/k8s_users.json");
    let users: Value = serde_json::from_str(&std::fs::read_to_string(&users_path).unwrap())
        .unwrap_or_else(|error| panic!("{}: {error}", users_path.display()));
    let tfvars = json!({ "k8s_users": users.to_string() }).to_string();
    for stack in STACKS {
        std::fs::write(
            dir.path().join(stack).join("terraform.tfvars.json"),
            &tfvars,
        )
        .unwrap();
    }
    dir
}

fn assert_clean(mode: Mode, outcomes: &[StackOutcome]) {
    let (report, passed) = harness::report(mode, outcomes);
    assert!(passed, "{report}");
    // The summaries, for `cargo test -- --nocapture`.
    println!("{report}");
}

/// Every managed resource instance in `stack`'s state: its full address
/// (`module.rbac.kubernetes_role_binding.namespace_owner["alice-alice"]`)
/// and its attributes.
fn state(root: &Path, stack: &str) -> BTreeMap<String, Value> {
    let path = root.join(stack).join("terraform.tfstate");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let state: Value = serde_json::from_str(&text).unwrap();
    let mut instances = BTreeMap::new();
    for resource in state["resources"].as_array().unwrap() {
        if resource["mode"] != "managed" {
            continue;
        }
        let mut address = String::new();
        if let Some(module) = resource["module"].as_str() {
            address.push_str(module);
            address.push('.');
        }
        address.push_str(&format!(
            "{}.{}",
            resource["type"].as_str().unwrap(),
            resource["name"].as_str().unwrap()
        ));
        for instance in resource["instances"].as_array().unwrap() {
            let key = match &instance["index_key"] {
                Value::Null => String::new(),
                key => format!("[{key}]"),
            };
            instances.insert(format!("{address}{key}"), instance["attributes"].clone());
        }
    }
    instances
}

/// Instances per resource block (the address without its key).
fn per_block(instances: &BTreeMap<String, Value>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for address in instances.keys() {
        let block = match address.rfind('[') {
            Some(index) if address.ends_with(']') => &address[..index],
            _ => address.as_str(),
        };
        *counts.entry(block.to_string()).or_insert(0) += 1;
    }
    counts
}

/// Every resource block of each stack with its instance count, for the
/// users of examples/infra/k8s_users.json: 3 namespace-owners (alice with
/// 2 namespaces, bob, carol), 1 power-user (dan_ops), 1 admin (erin), so
/// 4 tenant namespaces and 3 tenant domains.
fn expected_blocks() -> BTreeMap<&'static str, BTreeMap<String, usize>> {
    let table: [(&str, &[(&str, usize)]); 4] = [
        (
            "stacks/cloudflared",
            // The platform's own name "status" and the 3 tenant domains.
            &[("module.cloudflared.cloudflare_record.dns_record", 4)],
        ),
        (
            "stacks/rbac",
            &[
                (
                    "module.rbac.kubernetes_cluster_role.dashboard_nav_readonly",
                    1,
                ),
                (
                    "module.rbac.kubernetes_cluster_role.namespace_owner_readonly",
                    1,
                ),
                ("module.rbac.kubernetes_cluster_role.power_user_readonly", 1),
                ("module.rbac.kubernetes_cluster_role_binding.admin_users", 1),
                (
                    "module.rbac.kubernetes_cluster_role_binding.dashboard_owner_readonly",
                    4,
                ),
                (
                    "module.rbac.kubernetes_cluster_role_binding.namespace_owner_readonly",
                    3,
                ),
                ("module.rbac.kubernetes_cluster_role_binding.power_users", 1),
                ("module.rbac.kubernetes_config_map.user_roles", 1),
                (
                    "module.rbac.kubernetes_resource_quota.user_namespace_quota",
                    4,
                ),
                (
                    "module.rbac.kubernetes_role_binding.dashboard_owner_admin",
                    4,
                ),
                ("module.rbac.kubernetes_role_binding.namespace_owner", 4),
                ("module.rbac.kubernetes_secret.dashboard_owner_token", 4),
                ("module.rbac.kubernetes_service_account.dashboard_owner", 4),
                (
                    "module.rbac.module.user_namespace_tls[\"alice\"].kubernetes_secret.tls_secret",
                    1,
                ),
                (
                    "module.rbac.module.user_namespace_tls[\"alice-staging\"].kubernetes_secret.tls_secret",
                    1,
                ),
                (
                    "module.rbac.module.user_namespace_tls[\"bob\"].kubernetes_secret.tls_secret",
                    1,
                ),
                (
                    "module.rbac.module.user_namespace_tls[\"carol-ml\"].kubernetes_secret.tls_secret",
                    1,
                ),
            ],
        ),
        (
            "stacks/vault",
            &[
                ("kubernetes_namespace.user_namespace", 4),
                ("kubernetes_role.user_deployer", 4),
                ("vault_identity_entity.namespace_owner", 3),
                ("vault_identity_entity_alias.namespace_owner", 3),
                ("vault_identity_group.sops_user", 3),
                ("vault_identity_group_alias.sops_user", 3),
                ("vault_jwt_auth_backend.oidc", 1),
                ("vault_kubernetes_secret_backend.k8s", 1),
                ("vault_kubernetes_secret_backend_role.user_deployer", 4),
                ("vault_mount.transit", 1),
                ("vault_policy.namespace_owner", 3),
                ("vault_policy.sops_user", 3),
                ("vault_transit_secret_backend_key.sops_user_stack", 4),
            ],
        ),
        ("stacks/woodpecker", &[("helm_release.woodpecker", 1)]),
    ];
    table
        .into_iter()
        .map(|(stack, blocks)| {
            let blocks = blocks
                .iter()
                .map(|(block, count)| (block.to_string(), *count))
                .collect();
            (stack, blocks)
        })
        .collect()
}

/// The object at `address` in `instances`, failing with what is there.
fn object<'a>(instances: &'a BTreeMap<String, Value>, address: &str) -> &'a Value {
    instances.get(address).unwrap_or_else(|| {
        panic!(
            "{address} is not in the state; it holds:\n{}",
            instances.keys().cloned().collect::<Vec<_>>().join("\n")
        )
    })
}

#[test]
fn the_upstream_reconstruction_applies_under_upstream_addresses_then_plans_nothing() {
    let setup = setup();
    let dir = upstream_workspace();
    let root = dir.path();

    let outcomes = harness::run(&setup, Mode::Apply, root).unwrap();
    assert_clean(Mode::Apply, &outcomes);
    let stacks: Vec<&str> = outcomes
        .iter()
        .map(|outcome| outcome.stack.as_str())
        .collect();
    assert_eq!(
        stacks, STACKS,
        "the module folders (rbac's, cloudflared's, setup_tls_secret) are not stacks"
    );

    let expected = expected_blocks();
    let mut states = BTreeMap::new();
    for outcome in &outcomes {
        let stack = outcome.stack.as_str();
        let instances = state(root, stack);
        assert_eq!(per_block(&instances), expected[stack], "{stack}");
        // The apply created exactly what the state holds.
        assert_eq!(
            outcome.counts,
            Some(Counts {
                add: instances.len(),
                ..Counts::default()
            }),
            "{stack}"
        );
        states.insert(stack, instances);
    }

    // Upstream's keys: "<user>-<namespace>" for RBAC and quotas, the
    // namespace for per-namespace objects, the username for per-user ones,
    // the short name for DNS.
    let rbac = &states["stacks/rbac"];
    let binding = object(
        rbac,
        "module.rbac.kubernetes_role_binding.namespace_owner[\"alice-alice-staging\"]",
    );
    assert_eq!(binding["metadata"][0]["name"], "namespace-owner-alice");
    assert_eq!(binding["metadata"][0]["namespace"], "alice-staging");
    assert_eq!(binding["subject"][0]["name"], "alice@example.com");
    assert_eq!(binding["role_ref"][0]["name"], "admin");
    let power_user = object(
        rbac,
        "module.rbac.kubernetes_cluster_role_binding.power_users[\"dan_ops\"]",
    );
    assert_eq!(
        power_user["metadata"][0]["name"],
        "oidc-power-user-readonly-dan_ops"
    );
    assert_eq!(
        power_user["role_ref"][0]["name"],
        "oidc-power-user-readonly"
    );
    // A partial quota gets the module's defaults for the missing keys.
    let quota = object(
        rbac,
        "module.rbac.kubernetes_resource_quota.user_namespace_quota[\"carol-carol-ml\"]",
    );
    assert_eq!(
        quota["spec"][0]["hard"],
        json!({"requests.cpu": "8", "requests.memory": "4Gi", "limits.memory": "8Gi", "pods": "10"})
    );
    let tls = object(
        rbac,
        "module.rbac.module.user_namespace_tls[\"bob\"].kubernetes_secret.tls_secret",
    );
    assert_eq!(tls["metadata"][0]["namespace"], "bob");
    assert_eq!(tls["metadata"][0]["name"], "harness-tls_secret_name");
    let token = object(
        rbac,
        "module.rbac.kubernetes_secret.dashboard_owner_token[\"bob-bob\"]",
    );
    assert_eq!(token["metadata"][0]["name"], "dashboard-bob-token");
    let portal = object(rbac, "module.rbac.kubernetes_config_map.user_roles");
    let roles: Value =
        serde_json::from_str(portal["data"]["users.json"].as_str().unwrap()).unwrap();
    assert_eq!(
        roles["dan.ops@example.com"],
        json!({"role": "power-user", "namespaces": []})
    );
    assert_eq!(
        roles["alice@example.com"]["namespaces"],
        json!(["alice", "alice-staging"])
    );
    assert_eq!(roles.as_object().unwrap().len(), 5);

    let vault = &states["stacks/vault"];
    let deployer = object(
        vault,
        "vault_kubernetes_secret_backend_role.user_deployer[\"carol-ml\"]",
    );
    assert_eq!(deployer["name"], "carol-ml-deployer");
    assert_eq!(deployer["backend"], "kubernetes");
    assert_eq!(
        deployer["allowed_kubernetes_namespaces"],
        json!(["carol-ml"])
    );
    assert_eq!(deployer["kubernetes_role_name"], "carol-ml-deployer");
    let namespace = object(
        vault,
        "kubernetes_namespace.user_namespace[\"alice-staging\"]",
    );
    assert_eq!(namespace["metadata"][0]["labels"]["tier"], "4-aux");
    let policy = object(vault, "vault_policy.namespace_owner[\"alice\"]");
    let text = policy["policy"].as_str().unwrap();
    assert!(text.contains("path \"secret/data/alice/*\""), "{text}");
    assert!(
        text.contains("path \"kubernetes/creds/alice-staging-deployer\""),
        "{text}"
    );
    let entity = object(vault, "vault_identity_entity.namespace_owner[\"alice\"]");
    assert_eq!(
        entity["policies"],
        json!(["namespace-owner-alice", "sops-user-alice"])
    );
    let alias = object(
        vault,
        "vault_identity_entity_alias.namespace_owner[\"bob\"]",
    );
    assert_eq!(alias["name"], "bob@example.com");
    assert_eq!(
        alias["mount_accessor"],
        object(vault, "vault_jwt_auth_backend.oidc")["accessor"]
    );
    let key = object(
        vault,
        "vault_transit_secret_backend_key.sops_user_stack[\"bob\"]",
    );
    assert_eq!(key["name"], "sops-state-bob");

    let cloudflared = &states["stacks/cloudflared"];
    let record = object(
        cloudflared,
        "module.cloudflared.cloudflare_record.dns_record[\"myapp\"]",
    );
    assert_eq!(record["name"], "myapp");
    assert_eq!(record["proxied"], true);
    assert_eq!(record["type"], "CNAME");
    assert_eq!(
        record["content"],
        "harness-cloudflare_tunnel_id.cfargotunnel.com"
    );
    // Only namespace-owners' domains, besides the platform's own name.
    let names: Vec<&str> = cloudflared
        .values()
        .map(|record| record["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice-blog", "myapp", "notebooks", "status"]);

    // The static admin in its exact case, then every namespace-owner.
    let release = object(&states["stacks/woodpecker"], "helm_release.woodpecker");
    let values = release["values"][0].as_str().unwrap();
    assert!(
        values.contains("\"WOODPECKER_ADMIN\": \"ViktorBarzin,alice,bob,carol\"\n"),
        "{values}"
    );

    // Applied, the reconstruction is at rest.
    let outcomes = harness::run(&setup, Mode::Plan, root).unwrap();
    assert_clean(Mode::Plan, &outcomes);
    for outcome in &outcomes {
        assert_eq!(outcome.counts, Some(Counts::default()), "{}", outcome.stack);
        assert!(
            outcome.actions.is_empty(),
            "{}: {:?}",
            outcome.stack,
            outcome.actions
        );
    }
}

/// Replaces the reconstruction with examples/infra: its hand-written
/// remainder of each stack (the ClusterRoles stay in the rbac module, the
/// cloudflared module keeps the platform's names) and tenantgen's output,
/// committed there and rendered again here, which must change nothing.
fn take_over(root: &Path) {
    for stack in STACKS {
        remove_tf_files(&root.join(stack));
    }
    let example = repo().join("examples/infra");
    copy_tree(&example.join("stacks"), &root.join("stacks"));
    copy_tree(&example.join("modules"), &root.join("modules"));
    let options = tenantgen::Options {
        working_dir: root.to_path_buf(),
        config: Some(example.join("tenantgen.hcl")),
        out: Some(root.join("stacks")),
        ..Default::default()
    };
    let loaded = tenantgen::load(&options).unwrap_or_else(|err| panic!("{err:#}"));
    let generation = tenantgen::generate(&loaded, None).unwrap_or_else(|err| panic!("{err:#}"));
    let changes = tenantgen::diff::compare(&loaded.out_root, generation.files).unwrap();
    assert!(
        !changes.has_changes(),
        "examples/infra/stacks is not up to date; run `tenantgen render` in examples/infra"
    );
}

/// Every `.tf` file under `dir`, the old configuration; state and
/// terraform's working files stay.
fn remove_tf_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.ends_with(".terraform") {
            remove_tf_files(&path);
        } else if path.extension().is_some_and(|ext| ext == "tf") {
            std::fs::remove_file(path).unwrap();
        }
    }
}

/// The proof of issue 13: with the real deployment's state applied, its
/// for_each tenant code replaced by examples/infra's output plans nothing
/// to add, nothing to destroy and no replacement in any stack; every other
/// change is an in-place update, each listed here (and in the README).
#[test]
fn taking_over_the_upstream_deployment_adds_and_destroys_nothing() {
    let setup = setup();
    let dir = upstream_workspace();
    let root = dir.path();
    assert_clean(
        Mode::Apply,
        &harness::run(&setup, Mode::Apply, root).unwrap(),
    );

    take_over(root);
    let outcomes = harness::run(&setup, Mode::Plan, root).unwrap();
    let (report, _) = harness::report(Mode::Plan, &outcomes);
    println!("{report}");
    let mut updates: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for outcome in &outcomes {
        assert!(outcome.failure.is_none(), "{}: {report}", outcome.stack);
        let counts = outcome.counts.expect("planned");
        assert_eq!(
            (counts.add, counts.destroy, counts.replace),
            (0, 0, 0),
            "{}: {:?}\n{report}",
            outcome.stack,
            outcome.actions
        );
        for (address, action) in &outcome.actions {
            assert_eq!(action, "update", "{}: {address} {action}", outcome.stack);
            updates
                .entry(outcome.stack.as_str())
                .or_default()
                .push(address.as_str());
        }
    }
    // What each update changes, by resource type: the attributes whose
    // planned value differs (README, "Taking over an existing deployment").
    let mut changed: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for stack in updates.keys() {
        let plan: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(stack).join("tfplan.json")).unwrap(),
        )
        .unwrap();
        for change in plan["resource_changes"].as_array().unwrap() {
            let (before, after) = (&change["change"]["before"], &change["change"]["after"]);
            let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
                continue;
            };
            let unknown = &change["change"]["after_unknown"];
            for (key, value) in after {
                let label = if unknown[key].as_bool() == Some(true) {
                    format!("{key} (known after apply)")
                } else if key == "metadata" && value.is_array() && before.get(key) != Some(value) {
                    // Which parts of the Kubernetes metadata block differ.
                    let inner = |side: Option<&Value>| side.and_then(|m| m[0].as_object().cloned());
                    let (old, new) = (inner(before.get(key)).unwrap(), inner(Some(value)).unwrap());
                    let parts: Vec<&String> = new
                        .iter()
                        .filter(|(part, value)| old.get(*part) != Some(value))
                        .map(|(part, _)| part)
                        .collect();
                    format!("metadata {parts:?}")
                } else if before.get(key) != Some(value) {
                    key.clone()
                } else if change["change"]["before_sensitive"][key]
                    != change["change"]["after_sensitive"][key]
                {
                    format!("{key} (marked sensitive before, same value)")
                } else {
                    continue;
                };
                changed
                    .entry(format!("{stack}: {}", change["type"].as_str().unwrap()))
                    .or_default()
                    .insert(label);
            }
        }
    }
    println!("in-place updates: {updates:#?}\nchanged attributes: {changed:#?}");
    // Every tenant object comes across by a move (or stays where it was).
    let mut moved = BTreeMap::new();
    for stack in STACKS {
        let plan: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(stack).join("tfplan.json")).unwrap(),
        )
        .unwrap();
        let count = plan["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|change| change.get("previous_address").is_some())
            .count();
        moved.insert(stack, count);
    }
    println!("moved: {moved:?}");
    assert_eq!(
        moved,
        BTreeMap::from([
            ("stacks/cloudflared", 3),
            ("stacks/rbac", 37 - 3),
            ("stacks/vault", 37 - 3),
            ("stacks/woodpecker", 0),
        ]),
        "every tenant object is moved; the ClusterRoles and stand-ins stay"
    );
    let expected: BTreeMap<String, std::collections::BTreeSet<String>> = [
        // tenantgen's comment on each record it owns.
        ("stacks/cloudflared: cloudflare_record", "comment"),
        // tenantgen's managed-by and tenant labels.
        (
            "stacks/rbac: kubernetes_cluster_role_binding",
            "metadata [\"labels\"]",
        ),
        (
            "stacks/rbac: kubernetes_resource_quota",
            "metadata [\"labels\"]",
        ),
        (
            "stacks/rbac: kubernetes_role_binding",
            "metadata [\"labels\"]",
        ),
        (
            "stacks/vault: kubernetes_namespace",
            "metadata [\"labels\"]",
        ),
        ("stacks/vault: kubernetes_role", "metadata [\"labels\"]"),
        // The users came from a sensitive value; tenantgen writes them plainly.
        (
            "stacks/rbac: kubernetes_config_map",
            "data (marked sensitive before, same value)",
        ),
        (
            "stacks/woodpecker: helm_release",
            "values (marked sensitive before, same value)",
        ),
        // The entity's managed-by metadata.
        ("stacks/vault: vault_identity_entity", "metadata"),
        // The policy text: tenantgen's layout of the same paths.
        ("stacks/vault: vault_policy", "policy"),
    ]
    .into_iter()
    .map(|(resource, attribute)| (resource.to_string(), [attribute.to_string()].into()))
    .collect();
    assert_eq!(changed, expected);
}
