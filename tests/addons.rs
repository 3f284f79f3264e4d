//! Add-on templates (README, "Add-on templates") through the binary: the
//! three scopes with templates shaped like a real deployment's extras (SOPS
//! transit keys, policy and group per namespace-owner, the portal's
//! `k8s-user-roles` ConfigMap), ownership, the plan-wide check and the
//! config's mistakes.

mod common;

use std::path::Path;

use common::schema::Schemas;
use common::{edit_users, example_workspace, tenantgen, terraform_fmt_check, tree};

/// Per namespace-owner: the SOPS policy over the transit keys of their
/// namespaces, an external group carrying it and the group's OIDC alias;
/// `moved` from the `for_each` addresses they had.
const SOPS_USER: &str = r#"# SOPS state encryption for {{ user.name|raw_name }}: transit keys of their namespaces.
resource "vault_policy" "sops_user_{{ user.name|raw_name }}" {
  name   = {{ "sops-user-" ~ user.name }}
  policy = <<-EOT
{% for namespace in user.namespaces %}
    path {{ "transit/encrypt/sops-state-" ~ namespace }} { capabilities = ["update"] }
    path {{ "transit/decrypt/sops-state-" ~ namespace }} { capabilities = ["update"] }
    path {{ "transit/keys/sops-state-" ~ namespace }} { capabilities = ["read"] }
{% endfor %}
  EOT
}

resource "vault_identity_group" "sops_user_{{ user.name|raw_name }}" {
  name = {{ "sops-" ~ user.name }}
  type = "external"
  policies = [vault_policy.sops_user_{{ user.name|raw_name }}.name]
}

resource "vault_identity_group_alias" "sops_user_{{ user.name|raw_name }}" {
  name = {{ "sops-" ~ user.name }}
  mount_accessor = var.tenantgen_oidc_accessor
  canonical_id = vault_identity_group.sops_user_{{ user.name|raw_name }}.id
}

moved {
  from = vault_policy.sops_user[{{ user.name }}]
  to = vault_policy.sops_user_{{ user.name|raw_name }}
}
"#;

/// Per namespace: its transit key (as in the README).
const SOPS_KEY: &str = r#"resource "vault_transit_secret_backend_key" "sops_state_{{ namespace|raw_name }}" {
  backend = vault_mount.transit.path
  name    = {{ "sops-state-" ~ namespace }}
}

moved {
  from = vault_transit_secret_backend_key.sops_user_stack[{{ namespace }}]
  to   = vault_transit_secret_backend_key.sops_state_{{ namespace|raw_name }}
}
"#;

/// Once per stack: every user's role and namespaces, by email, for the
/// portal (as in the README).
const USER_ROLES: &str = r#"resource "kubernetes_config_map_v1" "k8s_user_roles" {
  metadata {
    name      = "k8s-user-roles"
    namespace = "k8s-portal"
  }
  data = {
    "users.json" = jsonencode({
{% for user in users %}
      {{ user.email }} = { role = {{ user.role }}, namespaces = {{ user.namespaces }} }
{% endfor %}
    })
  }
}
"#;

const ADDONS: &str = r#"
addon "sops" {
  template = "addons/sops.tf.j2"
  for      = "user"
  roles    = ["namespace-owner"]
  stack    = "vault"
}

addon "sops_keys" {
  template = "addons/sops-keys.tf.j2"
  for      = "namespace"
  roles    = ["namespace-owner"]
  stack    = "vault"
}

addon "user_roles" {
  template = "addons/user-roles.tf.j2"
  for      = "stack"
  stack    = "rbac"
}
"#;

/// The example workspace with `config` added to its tenantgen.hcl and
/// `templates` written under `addons/`.
fn workspace_with(config: &str, templates: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = example_workspace();
    let root = dir.path();
    let hcl = std::fs::read_to_string(root.join("tenantgen.hcl")).unwrap();
    std::fs::write(root.join("tenantgen.hcl"), format!("{hcl}{config}")).unwrap();
    std::fs::create_dir_all(root.join("addons")).unwrap();
    for (name, text) in templates {
        std::fs::write(root.join("addons").join(name), text).unwrap();
    }
    dir
}

fn addon_workspace() -> tempfile::TempDir {
    workspace_with(
        ADDONS,
        &[
            ("sops.tf.j2", SOPS_USER),
            ("sops-keys.tf.j2", SOPS_KEY),
            ("user-roles.tf.j2", USER_ROLES),
        ],
    )
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join("stacks-out").join(path))
        .unwrap_or_else(|err| panic!("{path}: {err}"))
}

#[test]
fn addons_render_per_user_per_namespace_and_per_stack() {
    let dir = addon_workspace();
    let root = dir.path();
    tenantgen(root, "render --yes")
        .succeeds()
        .stdout_has("then rbac\n");
    let files = tree(&root.join("stacks-out"));
    let addon_files: Vec<&str> = files
        .keys()
        .map(String::as_str)
        .filter(|path| path.contains("/addon-"))
        .collect();
    // Namespace-owners only; carol's one namespace is her own name.
    assert_eq!(
        addon_files,
        [
            "rbac/addon-user_roles.tf",
            "vault/addon-sops-alice.tf",
            "vault/addon-sops-bob.tf",
            "vault/addon-sops-carol.tf",
            "vault/addon-sops_keys-alice.tf",
            "vault/addon-sops_keys-bob.tf",
            "vault/addon-sops_keys-carol.tf",
        ]
    );
    for path in &addon_files {
        let text = read(root, path);
        assert!(
            text.starts_with(tenantgen::header::MARKER),
            "{path} has no header:\n{text}"
        );
    }

    let sops = read(root, "vault/addon-sops-alice.tf");
    for expected in [
        "resource \"vault_policy\" \"sops_user_alice\" {\n  name   = \"sops-user-alice\"\n",
        "    path \"transit/encrypt/sops-state-alice-dev\" { capabilities = [\"update\"] }\n",
        "    path \"transit/keys/sops-state-alice-prod\" { capabilities = [\"read\"] }\n",
        "  policies = [vault_policy.sops_user_alice.name]\n",
        "moved {\n  from = vault_policy.sops_user[\"alice\"]\n  to   = vault_policy.sops_user_alice\n}\n",
    ] {
        assert!(sops.contains(expected), "{expected:?} not in\n{sops}");
    }
    // Per namespace: one rendering each, in one file per user.
    let keys = read(root, "vault/addon-sops_keys-alice.tf");
    assert_eq!(
        keys.matches("resource \"vault_transit_secret_backend_key\"")
            .count(),
        2
    );
    assert!(
        keys.contains(
            "}\n\nresource \"vault_transit_secret_backend_key\" \"sops_state_alice-prod\""
        ),
        "{keys}"
    );
    assert!(keys.contains("\"sops_state_alice-dev\" {\n  backend = vault_mount.transit.path\n  name    = \"sops-state-alice-dev\"\n}\n"), "{keys}");
    assert!(
        keys.contains("from = vault_transit_secret_backend_key.sops_user_stack[\"alice-prod\"]"),
        "{keys}"
    );
    // Once per stack: every user, any role.
    let roles = read(root, "rbac/addon-user_roles.tf");
    for (email, role, namespaces) in [
        ("carol@example.com", "namespace-owner", "[\"carol\"]"),
        ("dave@example.com", "power-user", "[]"),
        ("erin@example.com", "admin", "[]"),
    ] {
        // The formatter aligns the `=` of the entries.
        let entry = format!("\"{email}\" = {{ role = \"{role}\", namespaces = {namespaces} }}");
        let found = roles
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>().join(" ") == entry);
        assert!(found, "{entry:?} not in\n{roles}");
    }

    // The render record lists them; check agrees; terraform fmt changes nothing.
    let record = read(root, ".tenantgen.json");
    assert!(
        record.contains("\"vault/addon-sops_keys-bob.tf\""),
        "{record}"
    );
    tenantgen(root, "check").exits(0);
    let fmt = terraform_fmt_check(&root.join("stacks-out"));
    assert!(
        fmt.status.success(),
        "terraform fmt would change add-on files:\n{}{}",
        String::from_utf8_lossy(&fmt.stdout),
        String::from_utf8_lossy(&fmt.stderr)
    );
    // The blocks fit the providers' schemas, references included, with the
    // transit mount the deployment writes by hand.
    std::fs::write(
        root.join("stacks-out/vault/transit.tf"),
        "resource \"vault_mount\" \"transit\" {\n  path = \"transit\"\n  type = \"transit\"\n}\n",
    )
    .unwrap();
    let problems = Schemas::load().check_tree(&root.join("stacks-out"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_hand_edited_addon_file_fails_check() {
    let dir = addon_workspace();
    let root = dir.path();
    tenantgen(root, "render --yes").succeeds();
    let edited = root.join("stacks-out/vault/addon-sops-bob.tf");
    let text = std::fs::read_to_string(&edited)
        .unwrap()
        .replace("\"sops-bob\"", "\"sops-mallory\"");
    std::fs::write(&edited, text).unwrap();
    tenantgen(root, "check")
        .exits(2)
        .stderr_has("edited by hand: vault/addon-sops-bob.tf");
    tenantgen(root, "render --yes")
        .exits(1)
        .stderr_has("stacks-out/vault/addon-sops-bob.tf")
        .stderr_has("--force");
}

#[test]
fn a_hand_written_file_at_an_addon_path_is_a_conflict() {
    let dir = addon_workspace();
    let root = dir.path();
    let in_the_way = root.join("stacks-out/rbac/addon-user_roles.tf");
    std::fs::create_dir_all(in_the_way.parent().unwrap()).unwrap();
    std::fs::write(&in_the_way, "# mine\n").unwrap();
    let before = tree(root);
    tenantgen(root, "render --yes")
        .exits(1)
        .stderr_has("stacks-out/rbac/addon-user_roles.tf")
        .stderr_has("never overwrites hand-written files");
    assert_eq!(tree(root), before);
}

#[test]
fn removing_a_user_deletes_their_addon_files() {
    let dir = addon_workspace();
    let root = dir.path();
    tenantgen(root, "render --yes").succeeds();
    edit_users(root, |users| {
        users.remove("bob");
    });
    tenantgen(root, "diff")
        .exits(2)
        .stdout_has("--- a/stacks-out/vault/addon-sops-bob.tf\n+++ /dev/null")
        .stdout_has("--- a/stacks-out/vault/addon-sops_keys-bob.tf\n+++ /dev/null");
    tenantgen(root, "render --yes").succeeds();
    let files = tree(&root.join("stacks-out"));
    assert!(!files.contains_key("vault/addon-sops-bob.tf"));
    assert!(!files.contains_key("vault/addon-sops_keys-bob.tf"));
    assert!(files.contains_key("vault/addon-sops-alice.tf"));
    assert!(!read(root, "rbac/addon-user_roles.tf").contains("bob"));
    tenantgen(root, "check").exits(0);
}

#[test]
fn an_empty_rendering_writes_no_file() {
    let only_bob = "{% if user.name == \"bob\" %}\nresource \"vault_policy\" \"only_{{ user.name|raw_name }}\" {\n  name   = \"x\"\n  policy = \"\"\n}\n{% endif %}\n";
    let dir = workspace_with(
        "\naddon \"only\" {\n  template = \"addons/only.tf.j2\"\n  for      = \"user\"\n  stack    = \"vault\"\n}\n",
        &[("only.tf.j2", only_bob)],
    );
    tenantgen(dir.path(), "render --yes").succeeds();
    let files = tree(&dir.path().join("stacks-out"));
    let addon_files: Vec<&String> = files
        .keys()
        .filter(|path| path.contains("addon-"))
        .collect();
    assert_eq!(addon_files, ["vault/addon-only-bob.tf"]);
}

/// A refused render leaves the tree as it was and exits 1.
fn refused(dir: &Path, messages: &[&str]) {
    let before = tree(dir);
    let mut ran = tenantgen(dir, "render --yes").exits(1);
    for message in messages {
        ran = ran.stderr_has(message);
    }
    assert_eq!(tree(dir), before, "the tree changed");
    assert!(!dir.join("stacks-out/.tenantgen.json").exists());
}

#[test]
fn an_address_clash_with_a_builtin_object_is_refused() {
    // tenantgen's own policy for each user is vault_policy.<user>.
    let clash =
        "resource \"vault_policy\" {{ user.name }} {\n  name   = \"x\"\n  policy = \"\"\n}\n";
    let dir = workspace_with(
        "\naddon \"policy\" {\n  template = \"addons/policy.tf.j2\"\n  for      = \"user\"\n  roles    = [\"namespace-owner\"]\n  stack    = \"vault\"\n}\n",
        &[("policy.tf.j2", clash)],
    );
    refused(
        dir.path(),
        &[
            "the add-on templates has 3 problems",
            "vault/addon-policy-alice.tf: declares vault_policy.alice, which tenantgen file vault/tenant-alice.tf declares too in the same stack",
            "nothing was written",
        ],
    );
}

#[test]
fn an_address_clash_between_addon_files_is_refused() {
    // Every user's file declares the same address in one stack.
    let same =
        "resource \"vault_policy\" \"shared\" {\n  name   = {{ user.name }}\n  policy = \"\"\n}\n";
    let dir = workspace_with(
        "\naddon \"same\" {\n  template = \"addons/same.tf.j2\"\n  for      = \"user\"\n  roles    = [\"power-user\", \"admin\"]\n  stack    = \"vault\"\n}\n",
        &[("same.tf.j2", same)],
    );
    refused(
        dir.path(),
        &[
            "vault/addon-same-erin.tf: declares vault_policy.shared, which add-on file vault/addon-same-dave.tf declares too",
        ],
    );
}

#[test]
fn a_moved_block_to_an_address_the_file_does_not_declare_is_refused() {
    let bad_move = "resource \"vault_policy\" \"sops_{{ user.name|raw_name }}\" {\n  name   = \"x\"\n  policy = \"\"\n}\n\nmoved {\n  from = vault_policy.sops[{{ user.name }}]\n  to   = vault_policy.other_{{ user.name|raw_name }}\n}\n";
    let dir = workspace_with(
        "\naddon \"moves\" {\n  template = \"addons/moves.tf.j2\"\n  for      = \"user\"\n  roles    = [\"admin\"]\n  stack    = \"vault\"\n}\n",
        &[("moves.tf.j2", bad_move)],
    );
    refused(
        dir.path(),
        &[
            "vault/addon-moves-erin.tf: moved block to vault_policy.other_erin, which this file does not declare",
        ],
    );
}

#[test]
fn addon_values_print_as_escaped_literals() {
    // Values are data, never code: a string holding `${` and `"` prints
    // quoted and escaped, and raw_name refuses what is not a name.
    let literal = "resource \"vault_policy\" \"x_{{ user.name|raw_name }}\" {\n  name   = {{ user.email ~ \"${var.secret}\\\"\" }}\n  policy = {{ user.domains }}\n  cpu    = {{ user.quota.cpu }}\n}\n";
    let dir = workspace_with(
        "\naddon \"lit\" {\n  template = \"addons/lit.tf.j2\"\n  for      = \"user\"\n  roles    = [\"admin\"]\n  stack    = \"vault\"\n}\n",
        &[("lit.tf.j2", literal)],
    );
    tenantgen(dir.path(), "render --yes").succeeds();
    let text = read(dir.path(), "vault/addon-lit-erin.tf");
    assert!(
        text.contains(
            "  name   = \"erin@example.com$${var.secret}\\\"\"\n  policy = []\n  cpu    = \"2\"\n"
        ),
        "{text}"
    );

    let unquoted = "resource \"vault_policy\" {{ user.email|raw_name }} {\n}\n";
    let dir = workspace_with(
        "\naddon \"raw\" {\n  template = \"addons/raw.tf.j2\"\n  for      = \"user\"\n  roles    = [\"admin\"]\n  stack    = \"vault\"\n}\n",
        &[("raw.tf.j2", unquoted)],
    );
    refused(
        dir.path(),
        &[
            "vault/addon-raw-erin.tf",
            "raw_name refuses \"erin@example.com\"",
        ],
    );
}

#[test]
fn addon_config_mistakes_are_reported_at_their_keys() {
    let config = r#"
addon "bad-name" {
  template = "addons/ok.tf.j2"
  for      = "user"
  stack    = "vault"
}

addon "scope" {
  template = "addons/ok.tf.j2"
  for      = "tenant"
  stack    = "vault"
}

addon "escape" {
  template = "addons/ok.tf.j2"
  for      = "user"
  stack    = "../elsewhere"
}

addon "roles" {
  template = "addons/ok.tf.j2"
  for      = "user"
  roles    = ["owner"]
  stack    = "vault"
}

addon "missing" {
  template = "addons/missing.tf.j2"
  for      = "stack"
  stack    = "vault"
}

addon "broken" {
  template = "addons/broken.tf.j2"
  for      = "stack"
  stack    = "vault"
}

addon "nostack" {
  template = "addons/ok.tf.j2"
  for      = "stack"
}

addon "typo" {
  template = "addons/ok.tf.j2"
  for      = "stack"
  stack    = "vault"
  role     = ["admin"]
}

addon {
  template = "addons/ok.tf.j2"
}

addon "typo" {
  template = "addons/ok.tf.j2"
}
"#;
    let dir = workspace_with(
        config,
        &[("ok.tf.j2", "# ok\n"), ("broken.tf.j2", "{% for x in %}\n")],
    );
    let before = tree(dir.path());
    tenantgen(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("addon.bad-name: the add-on name must start with a lowercase letter")
        .stderr_has("addon.scope.for: must be \"user\", \"namespace\" or \"stack\", not \"tenant\"")
        .stderr_lacks("addon.scope.for: is missing")
        .stderr_has("addon.escape.stack: \"../elsewhere\" is not a stack directory")
        .stderr_has("addon.roles.roles: \"owner\" is not a role")
        .stderr_has("addon.missing.template: cannot read ")
        .stderr_has("addons/missing.tf.j2")
        .stderr_has("addon.broken.template: ")
        .stderr_has("broken.tf.j2 does not compile")
        .stderr_has("addon.nostack.stack: is missing")
        .stderr_has("addon.typo.role: unknown key; did you mean `roles`?")
        .stderr_has("addon: needs exactly one label, its name: addon \"sops\" { ... }")
        .stderr_has("addon.typo: is configured twice; keep one block");
    assert_eq!(tree(dir.path()), before);

    tenantgen(dir.path(), "validate")
        .exits(1)
        .stderr_has("addon.missing.template");
}

#[test]
fn two_moves_of_one_address_are_refused() {
    // Every user's file moves the same old address.
    let twice = "resource \"vault_policy\" \"p_{{ user.name|raw_name }}\" {\n  name   = {{ user.name }}\n  policy = \"\"\n}\n\nmoved {\n  from = vault_policy.legacy\n  to   = vault_policy.p_{{ user.name|raw_name }}\n}\n";
    let dir = workspace_with(
        "\naddon \"twice\" {\n  template = \"addons/twice.tf.j2\"\n  for      = \"user\"\n  roles    = [\"power-user\", \"admin\"]\n  stack    = \"vault\"\n}\n",
        &[("twice.tf.j2", twice)],
    );
    refused(
        dir.path(),
        &[
            "vault/addon-twice-erin.tf: moved block from vault_policy.legacy, which vault/addon-twice-dave.tf moves too",
        ],
    );
}

#[test]
fn a_move_that_tenantgen_adoption_makes_too_is_refused() {
    // With an adopt block, tenantgen moves each namespace from the
    // for_each address itself.
    let again = "resource \"vault_policy\" \"ns_{{ namespace|raw_name }}\" {\n  name   = {{ namespace }}\n  policy = \"\"\n}\n\nmoved {\n  from = kubernetes_namespace.user_namespace[{{ namespace }}]\n  to   = vault_policy.ns_{{ namespace|raw_name }}\n}\n";
    let dir = workspace_with(
        "\nadopt {}\n\naddon \"again\" {\n  template = \"addons/again.tf.j2\"\n  for      = \"namespace\"\n  stack    = \"vault\"\n}\n",
        &[("again.tf.j2", again)],
    );
    refused(
        dir.path(),
        &[
            "vault/addon-again-bob.tf: moved block from kubernetes_namespace.user_namespace[\"bob-staging\"], which vault/tenantgen-adopt.tf moves too",
        ],
    );
}

#[test]
fn the_one_file_at_a_time_pipeline_makes_the_same_addon_files() {
    // `tenantgen::generate` (one thread, file by file) against the binary's
    // render (every core).
    let dir = addon_workspace();
    let root = dir.path();
    let options = tenantgen::Options {
        working_dir: root.to_path_buf(),
        ..Default::default()
    };
    let loaded = tenantgen::load(&options).unwrap();
    let generated = tenantgen::generate(&loaded, None).unwrap();
    tenantgen(root, "render --yes").succeeds();
    let written = tree(&root.join("stacks-out"));
    let addon_files: Vec<_> = generated
        .files
        .iter()
        .filter(|file| file.path.contains("/addon-"))
        .collect();
    assert_eq!(addon_files.len(), 7);
    for file in addon_files {
        assert_eq!(
            String::from_utf8_lossy(&written[&file.path]),
            file.contents,
            "{}",
            file.path
        );
    }
}

#[test]
fn a_variable_declared_per_user_or_by_tenantgen_is_refused() {
    // tenantgen's vault stack declares var.tenantgen_oidc_accessor, and a
    // per-user template declares its variable once per user.
    let variables = "variable \"tenantgen_oidc_accessor\" {\n  type = string\n}\n\nvariable \"portal\" {\n  type = string\n}\n";
    let dir = workspace_with(
        "\naddon \"vars\" {\n  template = \"addons/vars.tf.j2\"\n  for      = \"user\"\n  roles    = [\"power-user\", \"admin\"]\n  stack    = \"vault\"\n}\n",
        &[("vars.tf.j2", variables)],
    );
    refused(
        dir.path(),
        &[
            "vault/addon-vars-dave.tf: declares var.tenantgen_oidc_accessor, which tenantgen file vault/tenantgen.tf declares too",
            "vault/addon-vars-erin.tf: declares var.portal, which add-on file vault/addon-vars-dave.tf declares too",
        ],
    );
}

/// One per-user add-on for the admin erin in the vault stack.
fn erin_addon(name: &str, template: &str) -> tempfile::TempDir {
    workspace_with(
        &format!(
            "\naddon \"{name}\" {{\n  template = \"addons/{name}.tf.j2\"\n  for      = \"user\"\n  roles    = [\"admin\"]\n  stack    = \"vault\"\n}}\n"
        ),
        &[(&format!("{name}.tf.j2"), template)],
    )
}

#[test]
fn an_import_into_a_core_address_is_refused() {
    // tenantgen's own policy for erin is vault_policy.erin.
    let import = "import {\n  to = vault_policy.{{ user.name|raw_name }}\n  id = \"erin\"\n}\n";
    refused(
        erin_addon("grab", import).path(),
        &[
            "vault/addon-grab-erin.tf: import block to vault_policy.erin, which this file does not declare",
        ],
    );
    // Into an address of its own, an import is fine.
    let own = "resource \"vault_policy\" \"own_{{ user.name|raw_name }}\" {\n  name   = \"own\"\n  policy = \"\"\n}\n\nimport {\n  to = vault_policy.own_{{ user.name|raw_name }}\n  id = \"own\"\n}\n";
    let dir = erin_addon("own", own);
    tenantgen(dir.path(), "render --yes").exits(0);
}

#[test]
fn a_removal_of_a_core_object_is_refused() {
    // Forgetting a departed user's binding would leave it on the cluster.
    let forget = "removed {\n  from = kubernetes_cluster_role_binding_v1.gone\n  lifecycle {\n    destroy = false\n  }\n}\n";
    let dir = workspace_with(
        "\naddon \"forget\" {\n  template = \"addons/forget.tf.j2\"\n  for      = \"stack\"\n  stack    = \"platform\"\n}\n",
        &[("forget.tf.j2", forget)],
    );
    refused(
        dir.path(),
        &[
            "platform/addon-forget.tf: removed block from kubernetes_cluster_role_binding_v1.gone: tenantgen generates kubernetes_cluster_role_binding_v1 resources",
        ],
    );
}

#[test]
fn provider_and_terraform_blocks_in_an_addon_are_refused() {
    let settings = "provider \"vault\" {\n  address = \"https://elsewhere.example.com\"\n}\n\nterraform {\n  backend \"http\" {\n    address = \"https://elsewhere.example.com/state\"\n  }\n}\n";
    refused(
        erin_addon("settings", settings).path(),
        &[
            "vault/addon-settings-erin.tf: declares a provider block",
            "vault/addon-settings-erin.tf: declares a terraform block",
            "could re-point tenantgen's own objects or send the state elsewhere",
        ],
    );
}

#[test]
fn programs_and_fetches_in_an_addon_are_refused() {
    // Each runs with the credentials of whoever plans: CI, on a pull request.
    let runs = "data \"external\" \"env\" {\n  program = [\"sh\", \"-c\", \"env\"]\n}\n\ndata \"http\" \"leak\" {\n  url = \"http://127.0.0.1:9/\"\n}\n\nresource \"terraform_data\" \"run\" {\n  provisioner \"local-exec\" {\n    command = \"env\"\n  }\n}\n";
    refused(
        erin_addon("runs", runs).path(),
        &[
            "vault/addon-runs-erin.tf: declares a data \"external\" block",
            "vault/addon-runs-erin.tf: declares a data \"http\" block",
            "vault/addon-runs-erin.tf: declares a provisioner block in resource terraform_data",
            "would run with the credentials of whoever runs Terraform",
        ],
    );
}

/// Per namespace-owner, in the vault stack: cluster-admin for the user, a
/// policy on another tenant's secrets on their entity, and a manifest.
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

resource "vault_policy" "boost_{{ user.name|raw_name }}" {
  name   = {{ "boost-" ~ user.name }}
  policy = <<-EOT
    path "secret/data/alice-dev/*" {
      capabilities = ["read", "update"]
    }
  EOT
}

resource "vault_identity_entity_policies" "boost_{{ user.name|raw_name }}" {
  entity_id = vault_identity_entity.{{ user.name|raw_name }}.id
  policies  = [vault_policy.boost_{{ user.name|raw_name }}.name]
  exclusive = false
}

resource "kubernetes_manifest" "boost_{{ user.name|raw_name }}" {
  manifest = {}
}
"#;

fn boost_workspace() -> tempfile::TempDir {
    workspace_with(
        "\naddon \"boost\" {\n  template = \"addons/boost.tf.j2\"\n  for      = \"user\"\n  roles    = [\"namespace-owner\"]\n  stack    = \"vault\"\n}\n",
        &[("boost.tf.j2", BOOST)],
    )
}

#[test]
fn an_addon_binding_cluster_admin_shows_in_access() {
    let dir = boost_workspace();
    let ran = tenantgen(dir.path(), "access bob").succeeds();
    let text = ran.stdout();
    let line = text
        .lines()
        .find(|line| line.contains("ClusterRole cluster-admin via addon \"boost\""))
        .unwrap_or_else(|| panic!("no add-on grant in:\n{text}"));
    assert!(
        line.contains("cluster-wide") && line.trim_end().ends_with("yes"),
        "{line}"
    );
    assert!(text.contains("vault secret/data/alice-dev/*"), "{text}");
    assert!(
        text.contains("vault/addon-boost-bob.tf kubernetes_manifest.boost_bob: tenantgen cannot analyse what a kubernetes_manifest grants"),
        "{text}"
    );

    let json = tenantgen(dir.path(), "access bob --format json")
        .succeeds()
        .json();
    let bob = &json["principals"][0];
    assert_eq!(bob["user"], "bob");
    let kubernetes = bob["kubernetes"].as_array().unwrap();
    let admin = kubernetes
        .iter()
        .find(|grant| grant["addon"] == "boost")
        .expect("the add-on's binding");
    assert_eq!(admin["role"], "cluster-admin");
    assert_eq!(admin["scope"], "cluster");
    assert_eq!(admin["write"], true);
    assert_eq!(admin["via"], "boost-bob");
    let vault = bob["vault"].as_array().unwrap();
    assert!(
        vault
            .iter()
            .any(|grant| grant["path"] == "secret/data/alice-dev/*"
                && grant["policy"] == "boost-bob"
                && grant["addon"] == "boost"
                && grant["capabilities"] == serde_json::json!(["read", "update"]))
    );
    assert_eq!(json["addons"], serde_json::json!(["boost"]));
    assert_eq!(
        json["unknown"][0]["address"],
        "kubernetes_manifest.boost_bob"
    );
    // Another user's add-on file is not bob's.
    assert_eq!(json["unknown"].as_array().unwrap().len(), 1);
}

#[test]
fn the_summary_shows_what_addons_grant_and_what_changes() {
    let dir = boost_workspace();
    tenantgen(dir.path(), "diff --no-pager")
        .exits(2)
        .stdout_has("bob gains ClusterRole cluster-admin cluster-wide (write) via addon \"boost\"")
        .stdout_has("bob gains read, update on vault secret/data/alice-dev/* via addon \"boost\"")
        .stdout_has(
            "UNKNOWN vault/addon-boost-bob.tf kubernetes_manifest.boost_bob (addon \"boost\")",
        );
    tenantgen(dir.path(), "render --yes").succeeds();
    // cluster-admin becomes view: a loss of write, a gain of read.
    let template = dir.path().join("addons/boost.tf.j2");
    let text = std::fs::read_to_string(&template).unwrap();
    std::fs::write(&template, text.replace("\"cluster-admin\"", "\"view\"")).unwrap();
    let ran = tenantgen(dir.path(), "diff --format json").exits(2);
    let summary = &ran.json()["summary"];
    let changes = summary["addon_access_changes"].as_array().unwrap();
    assert!(
        changes.contains(
            &"bob loses ClusterRole cluster-admin cluster-wide (write) via addon \"boost\"".into()
        ),
        "{changes:?}"
    );
    assert!(
        changes
            .contains(&"bob gains ClusterRole view cluster-wide (read) via addon \"boost\"".into()),
        "{changes:?}"
    );
    assert!(
        !changes
            .iter()
            .any(|change| change.as_str().unwrap().contains("vault")),
        "{changes:?}"
    );
    let unknown = summary["addon_unknown_grants"].as_array().unwrap();
    assert!(
        unknown
            .iter()
            .any(|unknown| unknown["address"] == "kubernetes_manifest.boost_bob")
    );
}

#[test]
fn what_addons_grant_that_cannot_be_analysed_is_unknown() {
    let opaque = r#"resource "kubernetes_cluster_role_binding_v1" "any" {
  metadata {
    name = "any"
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = var.role
  }
  subject {
    kind      = "Group"
    name      = "system:authenticated"
    api_group = "rbac.authorization.k8s.io"
  }
}

resource "kubernetes_role_binding_v1" "everyone" {
  metadata {
    name      = "everyone"
    namespace = "alice-dev"
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "ClusterRole"
    name      = "edit"
  }
  subject {
    kind      = "Group"
    name      = "system:authenticated"
    api_group = "rbac.authorization.k8s.io"
  }
}

resource "helm_release" "operator" {
  name  = "operator"
  chart = "operator"
}

resource "vault_jwt_auth_backend_role" "ci" {
  role_name      = "ci"
  token_policies = ["root"]
  user_claim     = "sub"
}

resource "vault_policy" "opaque" {
  name   = "opaque"
  policy = data.vault_policy_document.x.hcl
}

resource "vault_identity_group" "opaque" {
  name     = "opaque"
  policies = ["opaque", "written-elsewhere"]
}

resource "kubernetes_cluster_role_v1" "shadow" {
  metadata {
    name = "tenantgen-read-only"
  }
  rule {
    api_groups = ["*"]
    resources  = ["*"]
    verbs      = ["*"]
  }
}
"#;
    let dir = workspace_with(
        "\naddon \"opaque\" {\n  template = \"addons/opaque.tf.j2\"\n  for      = \"stack\"\n  stack    = \"platform\"\n}\n",
        &[("opaque.tf.j2", opaque)],
    );
    let json = tenantgen(dir.path(), "access --format json")
        .succeeds()
        .json();
    let unknown: Vec<(String, String)> = json["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|unknown| {
            (
                unknown["address"].as_str().unwrap().to_string(),
                unknown["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (address, reason) in [
        (
            "kubernetes_cluster_role_binding_v1.any",
            "its role, role kind or namespace is an expression",
        ),
        (
            "helm_release.operator",
            "cannot analyse what a helm_release grants",
        ),
        (
            "vault_jwt_auth_backend_role.ci",
            "cannot analyse what a vault_jwt_auth_backend_role grants",
        ),
        (
            "vault_identity_group.opaque",
            "policy \"opaque\" is not a literal policy text",
        ),
        (
            "vault_identity_group.opaque",
            "policy \"written-elsewhere\" is not one tenantgen or an add-on writes",
        ),
        (
            "kubernetes_cluster_role_v1.shadow",
            "declares \"tenantgen-read-only\", which tenantgen generates too",
        ),
    ] {
        assert!(
            unknown
                .iter()
                .any(|(a, r)| a == address && r.contains(reason)),
            "{address}: {reason} not in {unknown:#?}"
        );
    }
    // A subject that is no tenant is a principal of its own.
    let everyone = json["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|principal| principal["principal"] == "Group system:authenticated")
        .expect("the group");
    assert_eq!(everyone["kind"], "other");
    assert_eq!(everyone["kubernetes"][0]["scope"], "alice-dev");
    assert_eq!(everyone["kubernetes"][0]["role"], "edit");
    assert_eq!(everyone["kubernetes"][0]["addon"], "opaque");
    tenantgen(dir.path(), "access")
        .succeeds()
        .stdout_has("UNKNOWN: add-ons or template overrides declare what may grant access")
        .stdout_has("Group system:authenticated");
}

#[test]
fn the_infra_examples_dashboard_service_accounts_show_in_access() {
    // Subjects that name their service account by reference are read
    // through it; the account's token secret is unknown.
    let json = tenantgen(
        &common::repo(),
        "access alice --config examples/infra/tenantgen.hcl --format json",
    )
    .succeeds()
    .json();
    let account = json["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|principal| principal["principal"] == "ServiceAccount alice/dashboard-alice")
        .expect("the dashboard's service account");
    assert_eq!(account["kind"], "other");
    assert_eq!(account["user"], "alice");
    assert!(
        account["kubernetes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|grant| grant["scope"] == "alice"
                && grant["role"] == "admin"
                && grant["addon"] == "dashboard"
                && grant["write"] == true)
    );
    assert!(
        json["unknown"]
            .as_array()
            .unwrap()
            .iter()
            .any(|unknown| unknown["address"] == "kubernetes_secret.dashboard_alice_alice")
    );
}
