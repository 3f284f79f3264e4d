//! Object variants through the binary: the TLS modes, the DNS record
//! settings, and a config with no apps.

mod common;

use common::schema::Schemas;
use common::{edit_users, example_workspace, rendered_workspace, tenantgen, terraform_fmt_check};

/// Appends `extra` to the workspace's tenantgen.hcl, keeping the original.
fn configure(dir: &std::path::Path, extra: &str) -> String {
    let config = dir.join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n{extra}")).unwrap();
    text
}

fn read(dir: &std::path::Path, path: &str) -> String {
    std::fs::read_to_string(dir.join("stacks-out").join(path))
        .unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// `tls.mode = "module"`: one call of the operator's module per tenant
/// namespace in the TLS stack, no Certificate; the output conforms to the
/// schemas (the arguments match the module's variables) and to `terraform fmt`.
#[test]
fn tls_module_mode_calls_the_module_per_namespace() {
    let dir = example_workspace();
    let root = dir.path();
    std::fs::create_dir_all(root.join("modules/setup_tls_secret")).unwrap();
    std::fs::write(
        root.join("modules/setup_tls_secret/main.tf"),
        "variable \"namespace\" {\n  type = string\n}\n\nvariable \"tls_secret_name\" {\n  type = string\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("stacks-out/platform/variables.tf"),
        "variable \"tls_secret_name\" {\n  type = string\n}\n",
    )
    .unwrap();
    configure(
        root,
        "tls {\n  mode             = \"module\"\n  module_source    = \"../../modules/setup_tls_secret\"\n  module_arguments = { tls_secret_name = \"var.tls_secret_name\" }\n}\n",
    );
    tenantgen(root, "render --yes").succeeds();
    let alice = read(root, "platform/tenant-alice.tf");
    assert!(
        alice.contains(
            "module \"alice_dev_tls\" {\n  source = \"../../modules/setup_tls_secret\"\n\n  namespace       = \"alice-dev\"\n  tls_secret_name = var.tls_secret_name\n}\n"
        ),
        "{alice}"
    );
    assert!(alice.contains("module \"alice_prod_tls\" {"), "{alice}");
    assert!(!alice.contains("kubernetes_manifest"), "{alice}");
    assert!(alice.contains("# Tenant alice (namespace-owner): RBAC, quotas, TLS, DNS.\n"));
    tenantgen(root, "check").exits(0);
    let problems = Schemas::load().check_tree(&root.join("stacks-out"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let fmt = terraform_fmt_check(&root.join("stacks-out"));
    assert!(
        fmt.status.success(),
        "terraform fmt: {}{}",
        String::from_utf8_lossy(&fmt.stdout),
        String::from_utf8_lossy(&fmt.stderr)
    );

    // In the namespaces' stack, each call waits for its namespace.
    configure(root, "layout {\n  tls = \"vault\"\n}\n");
    std::fs::rename(
        root.join("stacks-out/platform/variables.tf"),
        root.join("stacks-out/vault/variables.tf"),
    )
    .unwrap();
    tenantgen(root, "render --yes").succeeds();
    let vault = read(root, "vault/tenant-alice.tf");
    assert!(
        vault.contains(
            "  tls_secret_name = var.tls_secret_name\n\n  depends_on = [kubernetes_namespace_v1.alice_dev]\n}\n"
        ),
        "{vault}"
    );
    tenantgen(root, "check").exits(0);
    let problems = Schemas::load().check_tree(&root.join("stacks-out"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let fmt = terraform_fmt_check(&root.join("stacks-out"));
    assert!(
        fmt.status.success(),
        "terraform fmt: {}",
        String::from_utf8_lossy(&fmt.stdout)
    );

    // A call whose argument the module lacks is what the schema check catches.
    std::fs::write(
        root.join("modules/setup_tls_secret/main.tf"),
        "variable \"namespace\" {\n  type = string\n}\n",
    )
    .unwrap();
    let problems = Schemas::load().check_tree(&root.join("stacks-out"));
    assert!(
        problems
            .iter()
            .any(|problem| problem.contains("tls_secret_name")),
        "{problems:?}"
    );
}

#[test]
fn tls_none_mode_generates_no_tls_objects() {
    let dir = rendered_workspace();
    let root = dir.path();
    assert!(read(root, "platform/tenant-alice.tf").contains("kubernetes_manifest"));
    configure(root, "tls {\n  mode = \"none\"\n}\n");
    tenantgen(root, "diff --color never --no-pager")
        .exits(2)
        .stdout_has("-resource \"kubernetes_manifest\" \"alice_dev_tls\" {");
    tenantgen(root, "render --yes").succeeds();
    for user in ["alice", "bob"] {
        let text = read(root, &format!("platform/tenant-{user}.tf"));
        assert!(!text.contains("kubernetes_manifest"), "{text}");
        assert!(!text.contains("module "), "{text}");
        assert!(text.contains("kubernetes_resource_quota_v1"), "{text}");
    }
    tenantgen(root, "check").exits(0);
}

#[test]
fn tls_settings_are_checked() {
    let dir = example_workspace();
    let root = dir.path();
    let original = configure(root, "");
    for (block, expected) in [
        (
            "tls {\n  mode = \"secret\"\n}\n",
            "tls.mode: must be \"cert-manager\", \"module\" or \"none\", not \"secret\"",
        ),
        (
            "tls {\n  module_arguments = { name = \"not an expression(\" }\n}\n",
            "tls.module_arguments: name: \"not an expression(\" is not a Terraform expression",
        ),
        (
            "tls {\n  module_arguments = { depends_on = \"var.x\" }\n}\n",
            "\"depends_on\" is a Terraform meta-argument",
        ),
        (
            "tls {\n  module_arguments = { namespace = \"var.x\" }\n}\n",
            "tls.module_arguments: sets \"namespace\", the argument that gets the namespace",
        ),
        (
            "tls {\n  namespace_argument = \"name space\"\n}\n",
            "tls.namespace_argument: \"name space\" is not a module argument name",
        ),
        (
            "tls {\n  module_source = \"\"\n}\n",
            "tls.module_source: \"\" is not a module source",
        ),
    ] {
        std::fs::write(root.join("tenantgen.hcl"), format!("{original}\n{block}")).unwrap();
        tenantgen(root, "diff").exits(1).stderr_has(expected);
    }
}

/// Adoption moves each TLS module call from the for_each deployment's
/// `module.user_namespace_tls["<namespace>"]`, inside the RBAC module.
#[test]
fn tls_module_calls_are_adopted() {
    let dir = example_workspace();
    let root = dir.path();
    let original = configure(root, "tls {\n  mode = \"module\"\n}\n\nadopt {}\n");
    tenantgen(root, "render --yes").succeeds();
    let moves = read(root, "platform/tenantgen-adopt.tf");
    assert!(
        moves.contains(
            "moved {\n  from = module.rbac.module.user_namespace_tls[\"alice-dev\"]\n  to   = module.alice_dev_tls\n}\n"
        ),
        "{moves}"
    );
    tenantgen(root, "check").exits(0);
    std::fs::write(
        root.join("tenantgen.hcl"),
        format!(
            "{original}\ntls {{\n  mode = \"module\"\n}}\n\nadopt {{\n  tls_modules = \"kubernetes_manifest.tls\"\n}}\n"
        ),
    )
    .unwrap();
    tenantgen(root, "diff").exits(1).stderr_has(
        "adopt.tls_modules: \"kubernetes_manifest.tls\" must be a module address `module.NAME`",
    );
}

/// `dns`: short names, a TTL, and records for namespace-owners only; the
/// Terraform names stay those of full names, so no address changes.
#[test]
fn dns_records_follow_names_ttl_and_for() {
    let dir = rendered_workspace();
    let root = dir.path();
    let before = read(root, "platform/tenant-alice.tf");
    assert!(before.contains("resource \"cloudflare_record\" \"app_alice\" {"));
    assert!(read(root, "platform/tenant-dave.tf").contains("cloudflare_record"));
    let original = configure(root, "");
    std::fs::write(
        root.join("tenantgen.hcl"),
        original.replace(
            "  target           = \"ingress.example.com\"\n",
            "  target           = \"ingress.example.com\"\n  names            = \"short\"\n  ttl              = 300\n  for              = \"namespace-owners\"\n",
        ),
    )
    .unwrap();
    tenantgen(root, "render --yes").succeeds();
    let alice = read(root, "platform/tenant-alice.tf");
    assert!(
        alice.contains(
            "resource \"cloudflare_record\" \"app_alice\" {\n  zone_id = var.tenantgen_cloudflare_zone_id\n  name    = \"app.alice\"\n"
        ),
        "{alice}"
    );
    assert!(alice.contains("  ttl     = 300\n"), "{alice}");
    assert!(!alice.contains("example.com\"\n  type"), "{alice}");
    // dave is a power-user: his domain gets no record.
    assert!(
        !read(root, "platform/tenant-dave.tf").contains("cloudflare_record"),
        "{}",
        read(root, "platform/tenant-dave.tf")
    );
    tenantgen(root, "check").exits(0);

    for (setting, expected) in [
        (
            "ttl = 5",
            "dns.ttl: 5 is not a Cloudflare TTL; use 1 (automatic) or 30 to 86400 seconds",
        ),
        (
            "names = \"relative\"",
            "dns.names: must be \"fqdn\" or \"short\", not \"relative\"",
        ),
        (
            "for = \"admins\"",
            "dns.for: must be \"everyone\" or \"namespace-owners\", not \"admins\"",
        ),
    ] {
        std::fs::write(
            root.join("tenantgen.hcl"),
            original.replace(
                "  target           = \"ingress.example.com\"\n",
                &format!("  target           = \"ingress.example.com\"\n  {setting}\n"),
            ),
        )
        .unwrap();
        tenantgen(root, "diff").exits(1).stderr_has(expected);
    }
}

/// Adoption moves each record from the for_each deployment's module,
/// keyed by the name relative to the zone, whatever `dns.names` says.
#[test]
fn dns_records_are_adopted_from_a_module_address() {
    let dir = example_workspace();
    let root = dir.path();
    let original = configure(root, "adopt {}\n");
    tenantgen(root, "render --yes").succeeds();
    let moves = read(root, "platform/tenantgen-adopt.tf");
    assert!(
        moves.contains(
            "moved {\n  from = module.cloudflared.cloudflare_record.dns_record[\"app.alice\"]\n  to   = cloudflare_record.app_alice\n}\n"
        ),
        "{moves}"
    );
    tenantgen(root, "check").exits(0);

    // Under provider 5 the type differs, and Terraform cannot move between types.
    std::fs::write(
        root.join("tenantgen.hcl"),
        format!(
            "{}\nadopt {{}}\n",
            original.replace("provider_version = 4", "provider_version = 5")
        ),
    )
    .unwrap();
    tenantgen(root, "diff")
        .exits(1)
        .stderr_has("adopt.dns_records = \"module.cloudflared.cloudflare_record.dns_record\": tenantgen generates cloudflare_dns_record here")
        .stderr_has("set dns.provider_version to the provider the old records were made with");
    std::fs::write(
        root.join("tenantgen.hcl"),
        format!("{original}\nadopt {{\n  dns_records = \"module.cloudflared.dns_record\"\n}}\n"),
    )
    .unwrap();
    tenantgen(root, "diff").exits(1).stderr_has(
        "adopt.dns_records: \"module.cloudflared.dns_record\" must be a resource address",
    );
}

/// `default_apps = false` and no `app` block: no apps, so no factory
/// stack; a user listing an app is an error naming both.
#[test]
fn a_config_can_declare_no_apps() {
    let dir = rendered_workspace();
    let root = dir.path();
    assert!(
        root.join("stacks-out/actualbudget/factory/main.tf")
            .exists()
    );
    let config = root.join("tenantgen.hcl");
    let text = std::fs::read_to_string(&config).unwrap();
    let apps_start = text.find("app \"actualbudget\"").unwrap();
    let without_apps = format!("default_apps = false\n\n{}", &text[..apps_start]);
    std::fs::write(&config, &without_apps).unwrap();
    tenantgen(root, "diff")
        .exits(1)
        .stderr_has("user \"carol\": apps[0] = \"actualbudget\": is not a configured factory app; tenantgen.hcl configures none (default_apps = false)")
        .stderr_has("user \"dave\": apps[1] = \"freedify\"");
    edit_users(root, |users| {
        for user in users.values_mut() {
            user.as_object_mut().unwrap().remove("apps");
        }
    });
    tenantgen(root, "render --yes").succeeds();
    for app in ["actualbudget", "freedify"] {
        assert!(
            !root.join(format!("stacks-out/{app}/factory")).exists(),
            "{app}/factory is generated"
        );
        // The hand-written file beside it is untouched.
        assert!(root.join(format!("stacks-out/{app}/main.tf")).exists());
    }
    tenantgen(root, "check").exits(0);

    // Without default_apps = false, no app block still means the two defaults.
    std::fs::write(&config, &text[..apps_start]).unwrap();
    tenantgen(root, "render --yes").succeeds();
    assert!(root.join("stacks-out/freedify/factory/main.tf").exists());
    // An app block with default_apps = false gives exactly that app.
    std::fs::write(
        &config,
        format!(
            "{without_apps}app \"wiki\" {{\n  domain   = \"wiki.{{user}}.{{zone}}\"\n  nfs_path = \"/mnt/data/wiki/{{user}}\"\n}}\n"
        ),
    )
    .unwrap();
    tenantgen(root, "render --yes").succeeds();
    assert!(root.join("stacks-out/wiki/factory/main.tf").exists());
    assert!(!root.join("stacks-out/freedify/factory").exists());
}
