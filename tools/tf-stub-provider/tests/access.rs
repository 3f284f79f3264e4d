//! `tenantgen access` against Terraform's own reading of the rendered
//! stacks: every RBAC binding in `terraform show -json` of a harness plan,
//! add-on files included, is a grant `access` reports, with its scope and
//! role (issue 18, "The proof").

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tf_stub_provider::harness::{self, Mode, Setup};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[allow(dead_code, reason = "these tests need terraform, not bao")]
#[path = "../../../tests/common/tools.rs"]
mod tools;

/// The hand-written files of the committed example.
const HAND_WRITTEN: [&str; 6] = [
    "vault/versions.tf",
    "platform/versions.tf",
    "woodpecker/versions.tf",
    "woodpecker/woodpecker.tf",
    "actualbudget/main.tf",
    "freedify/main.tf",
];

/// Per namespace-owner, in the platform stack: cluster-admin, and `edit`
/// in their first namespace.
const BOOST: &str = r#"resource "kubernetes_cluster_role_binding_v1" "boost_{{ user.name|raw_name }}" {
  metadata {
    name = {{ "boost-" ~ user.name }}
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "cluster-admin"
  }
  subject {
    kind      = "User"
    name      = {{ user.email }}
    api_group = "rbac.authorization.k8s.io"
  }
}

resource "kubernetes_role_binding_v1" "edit_{{ user.name|raw_name }}" {
  metadata {
    name      = {{ "edit-" ~ user.name }}
    namespace = {{ user.namespaces[0] }}
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "edit"
  }
  subject {
    kind      = "User"
    name      = {{ user.email }}
    api_group = "rbac.authorization.k8s.io"
  }
}
"#;

/// Every resource in a plan's planned values, child modules included.
fn planned_resources(plan: &Value) -> Vec<Value> {
    fn walk(module: &Value, into: &mut Vec<Value>) {
        into.extend(
            module["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        for child in module["child_modules"].as_array().into_iter().flatten() {
            walk(child, into);
        }
    }
    let mut resources = Vec::new();
    walk(&plan["planned_values"]["root_module"], &mut resources);
    resources
}

/// (subject, scope, role) of every User subject of every planned binding.
fn planned_bindings(root: &Path, stacks: &[&str]) -> BTreeSet<(String, String, String)> {
    let mut bindings = BTreeSet::new();
    for stack in stacks {
        let text = std::fs::read_to_string(root.join(stack).join("tfplan.json")).unwrap();
        let plan: Value = serde_json::from_str(&text).unwrap();
        for resource in planned_resources(&plan) {
            let kind = resource["type"].as_str().unwrap();
            if !kind.ends_with("role_binding_v1") {
                continue;
            }
            let values = &resource["values"];
            let scope = values["metadata"][0]["namespace"]
                .as_str()
                .unwrap_or("cluster")
                .to_string();
            let role = values["role_ref"][0]["name"].as_str().unwrap().to_string();
            for subject in values["subject"].as_array().unwrap() {
                if subject["kind"] == "User" {
                    let name = subject["name"].as_str().unwrap().to_string();
                    bindings.insert((name, scope.clone(), role.clone()));
                }
            }
        }
    }
    bindings
}

#[test]
fn every_planned_binding_is_in_access() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config = std::fs::read_to_string(repo().join("tenantgen.hcl")).unwrap();
    let config = config.replace(
        "users_file = \"examples/k8s_users.json\"\nout        = \"stacks-out\"",
        "users_file = \"users.json\"\nout        = \"out\"",
    );
    let addon = "\naddon \"boost\" {\n  template = \"boost.tf.j2\"\n  for      = \"user\"\n  roles    = [\"namespace-owner\"]\n  stack    = \"platform\"\n}\n";
    std::fs::write(root.join("tenantgen.hcl"), format!("{config}{addon}")).unwrap();
    std::fs::write(root.join("boost.tf.j2"), BOOST).unwrap();
    std::fs::copy(
        repo().join("examples/k8s_users.json"),
        root.join("users.json"),
    )
    .unwrap();
    for hand_written in HAND_WRITTEN {
        let target = root.join("out").join(hand_written);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(repo().join("stacks-out").join(hand_written), target).unwrap();
    }
    let options = tenantgen::Options {
        working_dir: root.to_path_buf(),
        ..Default::default()
    };
    let loaded = tenantgen::load(&options).unwrap();
    assert_eq!(loaded.out_root, root.join("out"), "the config's out");
    let generation = tenantgen::generate(&loaded, None).unwrap();
    let changes = tenantgen::diff::compare(&loaded.out_root, generation.files).unwrap();
    tenantgen::write::apply(&loaded.out_root, &changes).unwrap();

    let setup = Setup {
        stub: PathBuf::from(env!("CARGO_BIN_EXE_tf-stub-provider")),
        schemas: repo().join("tests/provider-schemas"),
        terraform: tools::terraform().to_path_buf(),
    };
    let outcomes = harness::run(&setup, Mode::Plan, &loaded.out_root).unwrap();
    let (report, passed) = harness::report(Mode::Plan, &outcomes);
    assert!(passed, "{report}");
    let planned = planned_bindings(&loaded.out_root, &["platform", "vault"]);
    assert!(
        planned.contains(&("bob".into(), "cluster".into(), "cluster-admin".into())),
        "the add-on's binding is planned: {planned:#?}"
    );

    let (_, access) = tenantgen::access_report(&loaded, None).unwrap();
    let reported: BTreeSet<(String, String, String)> = access
        .principals
        .iter()
        .flat_map(|principal| {
            principal.kubernetes.iter().map(|grant| {
                let name = principal.principal.trim_start_matches("User ").to_string();
                (name, grant.scope.clone(), grant.role.clone())
            })
        })
        .collect();
    let missing: Vec<_> = planned.difference(&reported).collect();
    assert!(
        missing.is_empty(),
        "planned but not in access: {missing:#?}"
    );
}
