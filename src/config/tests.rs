use super::*;

fn parse(text: &str) -> Result<Config> {
    Config::parse(text, Path::new("/repo"))
}

fn error_of(text: &str) -> String {
    format!("{:#}", parse(text).expect_err("config must be rejected"))
}

fn problems_of(text: &str) -> Problems {
    parse(text)
        .expect_err("config must be rejected")
        .downcast::<Problems>()
        .expect("the error is a list of problems")
}

#[test]
fn empty_config_gives_the_defaults() {
    let config = parse("").unwrap();
    assert_eq!(config.out, PathBuf::from("/repo/stacks-out"));
    assert_eq!(config.zone, "example.com");
    assert_eq!(config.vault.mount, "secret");
    assert_eq!(config.deployer.mode, DeployerMode::SecretsEngine);
    assert_eq!(config.deployer.ttl_seconds, 1800);
    assert_eq!(config.deployer.max_ttl_seconds, 3600);
    assert_eq!(config.deployer.backend_expression(), "\"kubernetes\"");
    assert_eq!(config.power_user, PowerUserConfig::default());
    assert_eq!(config.quota_defaults[&QuotaKey::MemoryLimits], "8Gi");
    assert_eq!(config.apps.len(), 2);
    assert_eq!(config.dns.provider_version, CloudflareVersion::V4);
    let resolved = Config {
        out: PathBuf::from("/repo/stacks-out"),
        ..Config::default()
    };
    assert_eq!(config, resolved);
}

#[test]
fn the_spec_example_config_parses() {
    let text = include_str!("../../tests/data/spec-config.hcl");
    let config = parse(text).unwrap();
    assert_eq!(
        config.users_file,
        Some(PathBuf::from("/repo/examples/k8s_users.json"))
    );
    assert_eq!(config.vault.oidc_accessor, "var.tenantgen_oidc_accessor");
    assert_eq!(
        config.apps["freedify"].domain_for("bob", "example.com"),
        "music.bob.example.com"
    );
}

#[test]
fn every_key_is_read_into_its_field() {
    let config = parse(
        "vault {\n  address = \"https://v\"\n  auth = \"approle\"\n  auth_mount = \"ci/approle\"\n  jwt_path = \"jwt\"\n  secret_id_file = \"sid\"\n  timeout = \"1m\"\n}\n\
         deployer {\n  ttl = \"1h30m\"\n  max_ttl = \"2h\"\n  mode = \"auth-role\"\n  backend = \"vault_kubernetes_secret_backend.k8s.path\"\n  rules = [{ api_groups = [\"\"], resources = [\"pods/log\"], verbs = [\"get\"] }]\n}\n\
         power_user {\n  cluster_role = \"view\"\n}\n\
         dns {\n  provider_version = 5\n  type = \"A\"\n  target = \"192.0.2.1\"\n  proxied = false\n}\n\
         namespaces {\n  max_per_user = 3\n  labels = { team = \"a\" }\n}\n\
         limit_range {\n  default_cpu = 1\n}\n\
         adopt {\n  module_prefix = \"\"\n  quotas = \"kubernetes_resource_quota.q\"\n}\n",
    )
    .unwrap();
    assert_eq!(config.vault.address.as_deref(), Some("https://v"));
    assert_eq!(config.vault.auth, VaultAuth::AppRole);
    assert_eq!(config.vault.auth_mount.as_deref(), Some("ci/approle"));
    assert_eq!(config.vault.jwt_path, Some(PathBuf::from("/repo/jwt")));
    assert_eq!(
        config.vault.secret_id_file,
        Some(PathBuf::from("/repo/sid"))
    );
    assert_eq!(config.vault.timeout_seconds, 60);
    assert_eq!(config.deployer.ttl_seconds, 5400);
    assert_eq!(config.deployer.max_ttl_seconds, 7200);
    assert_eq!(config.deployer.mode, DeployerMode::AuthRole);
    assert_eq!(
        config.deployer.backend_expression(),
        "vault_kubernetes_secret_backend.k8s.path"
    );
    assert_eq!(
        config.deployer.rules,
        vec![RbacRule::new(&[""], &["pods/log"], &["get"])]
    );
    assert_eq!(config.power_user.cluster_role.as_deref(), Some("view"));
    assert_eq!(config.dns.provider_version, CloudflareVersion::V5);
    assert_eq!(config.dns.record_type, "A");
    assert!(!config.dns.proxied);
    assert_eq!(config.namespaces.max_per_user, 3);
    assert_eq!(config.namespaces.labels["team"], "a");
    let limit_range = config.limit_range.unwrap();
    assert_eq!(limit_range.default_cpu, "1");
    assert_eq!(limit_range.default_memory, "512Mi");
    let adopt = config.adopt.unwrap();
    assert_eq!(adopt.module_prefix, "");
    assert_eq!(adopt.quotas, "kubernetes_resource_quota.q");
    assert_eq!(adopt.policies, AdoptConfig::default().policies);
    assert!(config.network_policy.is_none());
}

#[test]
fn unknown_keys_and_blocks_are_errors_with_suggestions() {
    let message = error_of("zome = \"example.com\"\nvault {\n  mout = \"kv\"\n}\nvalt {}\n");
    assert!(
        message.contains("  - zome: unknown key; did you mean `zone`?"),
        "{message}"
    );
    assert!(
        message.contains("  - vault.mout: unknown key; did you mean `mount`?"),
        "{message}"
    );
    assert!(
        message.contains("  - valt: unknown block; did you mean `vault`?"),
        "{message}"
    );
    assert!(
        message.contains("hint: known keys in block `vault`: address, mount,"),
        "{message}"
    );
    let message = error_of("quota_defaults {\n  cpus = \"1\"\n}\n");
    assert!(
        message.contains("quota_defaults.cpus: unknown key; did you mean `cpu`?"),
        "{message}"
    );
}

#[test]
fn several_mistakes_are_reported_together_with_their_key_paths() {
    let problems = problems_of(
        "zone = \"example.com\"\n\
         dns {\n  proxy = true\n  provider_version = \"4\"\n}\n\
         deployer {\n  ttl = \"soon\"\n}\n",
    );
    assert_eq!(problems.what, "config file");
    let listed: Vec<(&str, &str)> = problems
        .list
        .iter()
        .map(|problem| (problem.subject.as_str(), problem.message.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("dns.proxy", "unknown key; did you mean `proxied`?"),
            (
                "dns.provider_version",
                "must be a whole number of 0 or more, not string \"4\""
            ),
            (
                "deployer.ttl",
                "\"soon\" is not a duration; write it like \"1h\", \"30m\" or \"1h30m\""
            ),
        ]
    );
    let text = problems.to_string();
    assert!(text.starts_with("config file has 3 problems:\n"), "{text}");
    assert!(
        text.contains(
            "\nhint: known keys in block `dns`: provider_version, zone_id, type, target, target_expression, proxied"
        ),
        "{text}"
    );
}

#[test]
fn hcl_shape_mistakes_are_reported() {
    let message = error_of(
        "zone = \"a.example\"\nout {}\nvault = {}\n\
         dns \"x\" {}\ntls {}\ntls {}\napp {}\n\
         app \"wiki\" {\n  domain = \"w.{user}.{zone}\"\n  nfs_path = \"/w/{user}\"\n}\n\
         app \"wiki\" {}\n\
         woodpecker {\n  static_admins = var.admins\n  nested {}\n}\n\
         identity {\n  require_email = null\n}\n",
    );
    for expected in [
        "  - vault: unknown key",
        "  - out: is a key, not a block",
        "  - dns: is a block that takes no labels",
        "  - tls: appears twice",
        "  - app: needs exactly one label",
        "  - app.wiki: is configured twice",
        "  - woodpecker.static_admins: is not a plain value",
        "  - woodpecker.nested: is a block; `woodpecker` takes only key = value settings",
        "  - identity.require_email: is not a plain value",
    ] {
        assert!(message.contains(expected), "{expected}\n{message}");
    }
    assert!(message.contains("has 9 problems:"), "{message}");
}

#[test]
fn expressions_must_parse() {
    let message = error_of("vault {\n  oidc_accessor = \"var.x }\"\n}\n");
    assert!(
        message.contains("vault.oidc_accessor: \"var.x }\" is not a Terraform expression"),
        "{message}"
    );
    let config = parse("dns {\n  zone_id = \" cloudflare_zone.main.id \"\n}\n").unwrap();
    assert_eq!(config.dns.zone_id, "cloudflare_zone.main.id");
}

#[test]
fn wrong_types_and_values_are_reported_together() {
    let message = error_of(
        "identity {\n  require_email = \"yes\"\n}\ndns {\n  provider_version = 3\n}\ndeployer {\n  ttl = \"soon\"\n}\n",
    );
    assert!(message.contains("has 3 problems:"), "{message}");
    assert!(
        message.contains("identity.require_email: must be true or false"),
        "{message}"
    );
    assert!(
        message.contains("dns.provider_version: must be 4 (cloudflare_record) or 5 (cloudflare_dns_record), not 3"),
        "{message}"
    );
    assert!(message.contains("deployer.ttl: \"soon\""), "{message}");
}

#[test]
fn checks_across_keys_name_each_key() {
    let message = error_of(
        "dns {\n  type = \"A\"\n  target = \"ingress.example.com\"\n}\n\
         woodpecker {\n  static_admins = [\"ok\", \"Bad name\"]\n}\n\
         namespaces {\n  labels = { \"tenantgen.io/x\" = \"y\" }\n}\n",
    );
    assert!(message.contains("has 3 problems:"), "{message}");
    assert!(
        message.contains(
            "  - dns.target: \"ingress.example.com\" is not a valid target for a A record"
        ),
        "{message}"
    );
    assert!(
        message
            .contains("  - woodpecker.static_admins: \"Bad name\" contains ' '; a Forgejo login"),
        "{message}"
    );
    assert!(
        message
            .contains("  - namespaces.labels: key \"tenantgen.io/x\" is set by tenantgen itself"),
        "{message}"
    );
}

#[test]
fn app_blocks_replace_the_default_apps() {
    let config = parse(
        "app \"wiki\" {\n  domain = \"wiki.{user}.{zone}\"\n  nfs_path = \"/srv/{user}\"\n}\n",
    )
    .unwrap();
    assert_eq!(config.apps.keys().collect::<Vec<_>>(), ["wiki"]);
    let message = error_of(
        "app \"wiki\" {\n  domain = \"wiki.{name}.{zone}\"\n  nfs_path = \"/srv/{user}\"\n}\n",
    );
    assert!(
        message.contains("app.wiki.domain: \"wiki.{name}.{zone}\" must contain {user}"),
        "{message}"
    );
    let message = error_of("app \"wiki\" {\n  domain = \"wiki.{user}.{zone}\"\n}\n");
    assert!(
        message.contains("app.wiki.nfs_path: is missing; this key has no default"),
        "{message}"
    );
}

#[test]
fn durations() {
    assert_eq!(parse_duration("1h"), Some(3600));
    assert_eq!(parse_duration("1h30m"), Some(5400));
    assert_eq!(parse_duration("90"), Some(90));
    assert_eq!(parse_duration("1x"), None);
    assert_eq!(parse_duration("h"), None);
    assert_eq!(parse_duration(""), None);
}

#[test]
fn quota_defaults_are_checked() {
    let message = error_of("quota_defaults {\n  memory = \"8GB\"\n}\n");
    assert!(
        message.contains("quota_defaults.memory: \"8GB\""),
        "{message}"
    );
    let config = parse("quota_defaults {\n  pods = 50\n}\n").unwrap();
    assert_eq!(config.quota_defaults[&QuotaKey::Pods], "50");
    assert_eq!(config.quota_defaults[&QuotaKey::Cpu], "2");
}

#[test]
fn syntax_errors_name_the_file() {
    let message = error_of("zone = \"a.example\"\nzone = \"b.example\"\n");
    assert!(message.contains("redefined attribute"), "{message}");
    assert!(message.starts_with("invalid config file: "), "{message}");
    assert!(message.contains("fix the HCL syntax"), "{message}");
}

#[test]
fn the_tenant_prefix_is_a_folder_or_empty() {
    assert_eq!(parse("").unwrap().vault.tenant_prefix, "");
    let config = parse("vault {\n  tenant_prefix = \"tenants/k8s\"\n}\n").unwrap();
    assert_eq!(config.tenant_folder("alice-dev"), "tenants/k8s/alice-dev");
    for bad in ["/tenants", "tenants/", "a//b", ".."] {
        let message = error_of(&format!("vault {{\n  tenant_prefix = {bad:?}\n}}\n"));
        assert!(
            message.contains("vault.tenant_prefix") && message.contains("is not a Vault path"),
            "{bad}: {message}"
        );
    }
}

#[test]
fn deployer_and_power_user_settings_are_checked() {
    let message = error_of(
        "deployer {\n  mode = \"shared\"\n  ttl = \"2h\"\n  rules = [{ api_groups = [\"apps\"], resources = [], verbs = [\"get\"] }]\n}\npower_user {\n  cluster_role = \"a/b\"\n  extra_rules = [{ api_groups = [\"\"], resources = [\"pods\"], verbs = [\"Get\"] }]\n}\n",
    );
    for expected in [
        "deployer.mode: must be \"secrets-engine\" or \"auth-role\", not \"shared\"",
        "deployer.rules: rule 0: resources is empty",
        "power_user.cluster_role: \"a/b\" is not a ClusterRole name",
        "power_user.extra_rules: rule 0: verbs holds \"Get\"",
    ] {
        assert!(
            message.contains(expected),
            "missing {expected:?} in {message}"
        );
    }
    let message = error_of("deployer {\n  ttl = \"2h\"\n}\n");
    assert!(
        message.contains("deployer.ttl: is longer than deployer.max_ttl (7200 s > 3600 s)"),
        "{message}"
    );
}

#[test]
fn static_admins_are_forgejo_logins_kept_as_written() {
    let config =
        parse("woodpecker {\n  static_admins = [\"ViktorBarzin\", \"ci.bot_2\"]\n}\n").unwrap();
    assert_eq!(
        config.woodpecker.static_admins,
        ["ViktorBarzin", "ci.bot_2"]
    );
    let message = error_of("woodpecker {\n  static_admins = [\"bad name\"]\n}\n");
    assert!(
        message.contains("woodpecker.static_admins: \"bad name\" contains ' '; a Forgejo login"),
        "{message}"
    );
}
