//! `tenantgen.hcl`: every key optional, every default from SPEC §3, every
//! unknown key an error (a typo must never fall back to a default silently).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use hcl::{Block, BlockLabel, Expression};

use crate::names;
use crate::quantity;

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "tenantgen.hcl";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Users file, resolved against the config file's directory.
    pub users_file: Option<PathBuf>,
    /// Output root, resolved against the config file's directory.
    pub out: PathBuf,
    pub zone: String,
    pub vault: VaultConfig,
    pub identity: IdentityConfig,
    pub deployer: DeployerConfig,
    pub quota_defaults: BTreeMap<QuotaKey, String>,
    pub namespaces: NamespacesConfig,
    pub tls: TlsConfig,
    pub dns: DnsConfig,
    pub woodpecker: WoodpeckerConfig,
    /// Factory apps by name.
    pub apps: BTreeMap<String, AppConfig>,
    pub network_policy: Option<NetworkPolicyConfig>,
    pub limit_range: Option<LimitRangeConfig>,
    /// Adoption of a deployment in the dynamic `for_each` style (SPEC §7).
    pub adopt: Option<AdoptConfig>,
}

/// Where the `for_each` style kept each object, as `type.name` (keyed by
/// namespace, user, or `<user>-<namespace>`), and the names it gave them.
#[derive(Debug, Clone, PartialEq)]
pub struct AdoptConfig {
    /// Generate `kubernetes_namespace`, `kubernetes_role_binding`, ... rather
    /// than the `_v1` types, so every move keeps its resource type.
    pub legacy_resource_types: bool,
    /// Module of the old platform stack's RBAC objects (`module.rbac`), or empty.
    pub module_prefix: String,
    pub namespaces: String,
    pub policies: String,
    pub entities: String,
    pub entity_aliases: String,
    pub namespace_owner_bindings: String,
    pub read_only_bindings: String,
    pub quotas: String,
    pub admin_bindings: String,
    pub power_user_bindings: String,
    /// Old Kubernetes names, `{user}` standing for the username; an object
    /// whose old name differs from tenantgen's is replaced.
    pub namespace_owner_binding_name: String,
    pub read_only_binding_name: String,
    pub quota_name: String,
}

impl Default for AdoptConfig {
    fn default() -> AdoptConfig {
        AdoptConfig {
            legacy_resource_types: true,
            module_prefix: "module.rbac".into(),
            namespaces: "kubernetes_namespace.user_namespace".into(),
            policies: "vault_policy.namespace_owner".into(),
            entities: "vault_identity_entity.namespace_owner".into(),
            entity_aliases: "vault_identity_entity_alias.namespace_owner".into(),
            namespace_owner_bindings: "kubernetes_role_binding.namespace_owner".into(),
            read_only_bindings: "kubernetes_cluster_role_binding.namespace_owner_readonly".into(),
            quotas: "kubernetes_resource_quota.user_namespace_quota".into(),
            admin_bindings: "kubernetes_cluster_role_binding.admin_users".into(),
            power_user_bindings: "kubernetes_cluster_role_binding.power_users".into(),
            namespace_owner_binding_name: "namespace-owner-{user}".into(),
            read_only_binding_name: "oidc-ns-owner-readonly-{user}".into(),
            quota_name: "user-quota".into(),
        }
    }
}

/// The adopt keys holding `type.name` addresses.
pub const ADOPT_ADDRESS_KEYS: [&str; 9] = [
    "namespaces",
    "policies",
    "entities",
    "entity_aliases",
    "namespace_owner_bindings",
    "read_only_bindings",
    "quotas",
    "admin_bindings",
    "power_user_bindings",
];

impl AdoptConfig {
    fn address_mut(&mut self, key: &str) -> &mut String {
        match key {
            "namespaces" => &mut self.namespaces,
            "policies" => &mut self.policies,
            "entities" => &mut self.entities,
            "entity_aliases" => &mut self.entity_aliases,
            "namespace_owner_bindings" => &mut self.namespace_owner_bindings,
            "read_only_bindings" => &mut self.read_only_bindings,
            "quotas" => &mut self.quotas,
            "admin_bindings" => &mut self.admin_bindings,
            _ => &mut self.power_user_bindings,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VaultConfig {
    /// `None`: taken from `VAULT_ADDR` when Vault is read.
    pub address: Option<String>,
    pub mount: String,
    pub path: String,
    pub key: String,
    pub auth: VaultAuth,
    pub kubernetes_role: Option<String>,
    pub jwt_path: PathBuf,
    /// Terraform expression for the OIDC auth mount accessor.
    pub oidc_accessor: String,
    /// Auth backend path of the deployer roles.
    pub kubernetes_backend: String,
    /// `None`: taken from `VAULT_NAMESPACE`.
    pub namespace: Option<String>,
    /// Mount of tenantgen's own login method; `None`: the method's name.
    pub auth_mount: Option<String>,
    /// AppRole role id (not a secret); `VAULT_ROLE_ID` overrides it.
    pub role_id: Option<String>,
    /// File holding the AppRole secret id; `VAULT_SECRET_ID` overrides it.
    pub secret_id_file: Option<PathBuf>,
    /// Bound on each request to Vault, in seconds.
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultAuth {
    Token,
    Kubernetes,
    AppRole,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IdentityConfig {
    pub require_email: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeployerConfig {
    pub service_account: String,
    pub namespace: String,
    /// Token TTL in seconds.
    pub ttl_seconds: u64,
}

/// ResourceQuota entries a user can set, in SPEC §2 terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaKey {
    Cpu,
    Memory,
    MemoryLimits,
    Storage,
    Pods,
    PersistentVolumeClaims,
}

impl QuotaKey {
    pub const ALL: [QuotaKey; 6] = [
        QuotaKey::Cpu,
        QuotaKey::Memory,
        QuotaKey::MemoryLimits,
        QuotaKey::Storage,
        QuotaKey::Pods,
        QuotaKey::PersistentVolumeClaims,
    ];

    /// The short name used in `quota_defaults` and the seed's quota objects.
    pub fn name(self) -> &'static str {
        match self {
            QuotaKey::Cpu => "cpu",
            QuotaKey::Memory => "memory",
            QuotaKey::MemoryLimits => "memory_limits",
            QuotaKey::Storage => "storage",
            QuotaKey::Pods => "pods",
            QuotaKey::PersistentVolumeClaims => "persistentvolumeclaims",
        }
    }

    /// The ResourceQuota `spec.hard` key.
    pub fn resource(self) -> &'static str {
        match self {
            QuotaKey::Cpu => "requests.cpu",
            QuotaKey::Memory => "requests.memory",
            QuotaKey::MemoryLimits => "limits.memory",
            QuotaKey::Storage => "requests.storage",
            QuotaKey::Pods => "pods",
            QuotaKey::PersistentVolumeClaims => "persistentvolumeclaims",
        }
    }

    /// Every name [`QuotaKey::from_input_name`] accepts.
    pub const INPUT_NAMES: [&str; 9] = [
        "cpu",
        "cpu_requests",
        "memory",
        "memory_requests",
        "memory_limits",
        "storage",
        "storage_requests",
        "pods",
        "persistentvolumeclaims",
    ];

    /// Accepts the seed's short names and the long names of existing deployments.
    pub fn from_input_name(name: &str) -> Option<QuotaKey> {
        Some(match name {
            "cpu" | "cpu_requests" => QuotaKey::Cpu,
            "memory" | "memory_requests" => QuotaKey::Memory,
            "memory_limits" => QuotaKey::MemoryLimits,
            "storage" | "storage_requests" => QuotaKey::Storage,
            "pods" => QuotaKey::Pods,
            "persistentvolumeclaims" => QuotaKey::PersistentVolumeClaims,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NamespacesConfig {
    pub reserved: Vec<String>,
    pub require_prefix: bool,
    pub max_per_user: usize,
    /// Labels forced onto every tenant namespace.
    pub labels: BTreeMap<String, String>,
    /// Annotations forced onto every tenant namespace.
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    pub issuer: String,
    pub issuer_kind: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudflareVersion {
    V4,
    V5,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DnsConfig {
    pub provider_version: CloudflareVersion,
    /// Terraform expression for the zone id.
    pub zone_id: String,
    pub record_type: String,
    pub target: String,
    pub proxied: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct WoodpeckerConfig {
    pub static_admins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    /// Pattern with `{user}` and `{zone}` placeholders.
    pub domain: String,
    /// Pattern with `{user}` placeholder, reported as a manual step.
    pub nfs_path: String,
}

/// Optional isolation extra: a NetworkPolicy per tenant namespace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NetworkPolicyConfig {
    /// Namespaces besides the tenant's own that may send traffic in.
    pub allow_from_namespaces: Vec<String>,
}

/// Optional isolation extra: a LimitRange with container defaults per tenant namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitRangeConfig {
    pub default_cpu: String,
    pub default_memory: String,
    pub default_request_cpu: String,
    pub default_request_memory: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            users_file: None,
            out: PathBuf::from("stacks-out"),
            zone: "example.com".into(),
            vault: VaultConfig {
                address: None,
                mount: "secret".into(),
                path: "platform".into(),
                key: "k8s_users".into(),
                auth: VaultAuth::Token,
                kubernetes_role: None,
                jwt_path: PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token"),
                oidc_accessor: "var.tenantgen_oidc_accessor".into(),
                kubernetes_backend: "kubernetes".into(),
                namespace: None,
                auth_mount: None,
                role_id: None,
                secret_id_file: None,
                timeout_seconds: 10,
            },
            identity: IdentityConfig::default(),
            deployer: DeployerConfig {
                service_account: "woodpecker-deployer".into(),
                namespace: "woodpecker".into(),
                ttl_seconds: 3600,
            },
            quota_defaults: [
                (QuotaKey::Cpu, "2"),
                (QuotaKey::Memory, "4Gi"),
                (QuotaKey::MemoryLimits, "8Gi"),
                (QuotaKey::Storage, "20Gi"),
                (QuotaKey::Pods, "20"),
                (QuotaKey::PersistentVolumeClaims, "10"),
            ]
            .into_iter()
            .map(|(key, value)| (key, value.to_string()))
            .collect(),
            namespaces: NamespacesConfig {
                reserved: [
                    "vault",
                    "woodpecker",
                    "cert-manager",
                    "ingress-nginx",
                    "monitoring",
                ]
                .map(String::from)
                .to_vec(),
                require_prefix: false,
                max_per_user: 10,
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
            },
            tls: TlsConfig {
                issuer: "letsencrypt-prod".into(),
                issuer_kind: "ClusterIssuer".into(),
            },
            dns: DnsConfig {
                provider_version: CloudflareVersion::V4,
                zone_id: "var.tenantgen_cloudflare_zone_id".into(),
                record_type: "CNAME".into(),
                target: "ingress.example.com".into(),
                proxied: true,
            },
            woodpecker: WoodpeckerConfig {
                static_admins: vec!["admin".into()],
            },
            apps: [
                (
                    "actualbudget",
                    "budget.{user}.{zone}",
                    "/mnt/data/actualbudget/{user}",
                ),
                (
                    "freedify",
                    "music.{user}.{zone}",
                    "/mnt/data/freedify/{user}",
                ),
            ]
            .into_iter()
            .map(|(name, domain, nfs_path)| {
                let app = AppConfig {
                    domain: domain.into(),
                    nfs_path: nfs_path.into(),
                };
                (name.to_string(), app)
            })
            .collect(),
            network_policy: None,
            adopt: None,
            limit_range: None,
        }
    }
}

impl AppConfig {
    pub fn domain_for(&self, user: &str, zone: &str) -> String {
        self.domain.replace("{user}", user).replace("{zone}", zone)
    }

    pub fn nfs_path_for(&self, user: &str) -> String {
        self.nfs_path.replace("{user}", user)
    }
}

impl Config {
    /// Loads the config: `explicit` when given (it must exist), otherwise
    /// `tenantgen.hcl` in `working_dir` when present, otherwise the defaults.
    pub fn discover(
        explicit: Option<&Path>,
        working_dir: &Path,
    ) -> Result<(Config, Option<PathBuf>)> {
        let path = match explicit {
            Some(path) => working_dir.join(path),
            None => {
                let candidate = working_dir.join(DEFAULT_FILE);
                if !candidate.exists() {
                    return Ok((Config::default(), None));
                }
                candidate
            }
        };
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read config file {}; check the path given to --config",
                path.display()
            )
        })?;
        let base = path.parent().unwrap_or(working_dir);
        let config = Config::parse(&text, base)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        Ok((config, Some(path)))
    }

    /// Parses config text; relative paths in it are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        let body = hcl::parse(text).map_err(|err| {
            anyhow::anyhow!("{err}\nfix the HCL syntax; every key is described in the README's configuration reference")
        })?;
        let mut errors = Vec::new();
        let config = read_config(&body, base, &mut errors);
        if errors.is_empty() {
            Ok(config)
        } else {
            let mut message = format!("{} problem(s):", errors.len());
            for error in &errors {
                let _ = write!(message, "\n  - {error}");
            }
            bail!(message)
        }
    }

    /// Names that tenants may not claim as namespaces, besides `default` and `kube-*`.
    pub fn is_reserved_namespace(&self, namespace: &str) -> bool {
        namespace == "default"
            || namespace.starts_with("kube-")
            || namespace == self.deployer.namespace
            || self
                .namespaces
                .reserved
                .iter()
                .any(|reserved| reserved == namespace)
    }
}

const TOP_KEYS: &[&str] = &["users_file", "out", "zone"];
const TOP_BLOCKS: &[&str] = &[
    "vault",
    "identity",
    "deployer",
    "quota_defaults",
    "namespaces",
    "tls",
    "dns",
    "woodpecker",
    "app",
    "network_policy",
    "limit_range",
    "adopt",
];

fn read_config(body: &hcl::Body, base: &Path, errors: &mut Vec<String>) -> Config {
    let mut config = Config::default();
    let mut top = Section::new("", body, errors);
    if let Some(path) = top.string("users_file") {
        config.users_file = Some(base.join(path));
    }
    if let Some(path) = top.string("out") {
        config.out = PathBuf::from(path);
    }
    config.out = base.join(&config.out);
    if let Some(zone) = top.string("zone") {
        config.zone = zone;
    }
    top.finish(TOP_KEYS);
    if let Err(problem) = names::check_dns_name(&config.zone) {
        errors.push(format!(
            "zone = {:?}: {problem}; set zone to the managed DNS zone, e.g. \"example.com\"",
            config.zone
        ));
    }

    let mut seen_blocks = BTreeSet::new();
    let mut apps_configured = false;
    for block in body.blocks() {
        let name = block.identifier();
        if !TOP_BLOCKS.contains(&name) {
            errors.push(unknown("block", name, "the top level", TOP_BLOCKS));
            continue;
        }
        if name == "app" {
            if !apps_configured {
                config.apps.clear();
                apps_configured = true;
            }
            read_app(block, &mut config, errors);
            continue;
        }
        if !block.labels().is_empty() {
            errors.push(format!("block `{name}` takes no labels; remove them"));
        }
        if !seen_blocks.insert(name) {
            errors.push(format!(
                "block `{name}` appears twice; merge the two into one"
            ));
            continue;
        }
        let mut section = Section::new(name, block.body(), errors);
        match name {
            "vault" => read_vault(&mut section, &mut config.vault, base),
            "identity" => {
                section.set_bool("require_email", &mut config.identity.require_email);
                section.finish(&["require_email"]);
            }
            "deployer" => read_deployer(&mut section, &mut config.deployer),
            "quota_defaults" => read_quota_defaults(&mut section, &mut config.quota_defaults),
            "namespaces" => read_namespaces(&mut section, &mut config.namespaces),
            "tls" => {
                section.set_string("issuer", &mut config.tls.issuer);
                section.set_string("issuer_kind", &mut config.tls.issuer_kind);
                section.finish(&["issuer", "issuer_kind"]);
                if !matches!(config.tls.issuer_kind.as_str(), "ClusterIssuer" | "Issuer") {
                    errors.push(format!(
                        "tls.issuer_kind = {:?}: must be \"ClusterIssuer\" or \"Issuer\"",
                        config.tls.issuer_kind
                    ));
                }
            }
            "dns" => read_dns(&mut section, &mut config.dns),
            "woodpecker" => {
                section.set_string_list("static_admins", &mut config.woodpecker.static_admins);
                section.finish(&["static_admins"]);
                for admin in &config.woodpecker.static_admins {
                    if let Err(problem) = names::check_dns_label(admin) {
                        errors.push(format!(
                            "woodpecker.static_admins: {admin:?} {problem}; use the Forgejo username"
                        ));
                    }
                }
            }
            "network_policy" => {
                let mut policy = NetworkPolicyConfig::default();
                section.set_string_list("allow_from_namespaces", &mut policy.allow_from_namespaces);
                section.finish(&["allow_from_namespaces"]);
                for namespace in &policy.allow_from_namespaces {
                    if let Err(problem) = names::check_dns_label(namespace) {
                        errors.push(format!(
                            "network_policy.allow_from_namespaces: {namespace:?} {problem}"
                        ));
                    }
                }
                config.network_policy = Some(policy);
            }
            "limit_range" => config.limit_range = Some(read_limit_range(&mut section)),
            "adopt" => config.adopt = Some(read_adopt(&mut section)),
            _ => unreachable_block(name, errors),
        }
    }
    check_vault_paths(&config.vault, errors);
    check_deployer(&config.deployer, errors);
    check_dns(&config.dns, errors);
    config
}

fn unreachable_block(name: &str, errors: &mut Vec<String>) {
    errors.push(format!(
        "block `{name}` is not handled; this is a tenantgen bug, please report it"
    ));
}

fn read_vault(section: &mut Section<'_, '_>, vault: &mut VaultConfig, base: &Path) {
    if let Some(address) = section.string("address") {
        vault.address = Some(address);
    }
    section.set_string("mount", &mut vault.mount);
    section.set_string("path", &mut vault.path);
    section.set_string("key", &mut vault.key);
    if let Some(auth) = section.string("auth") {
        match auth.as_str() {
            "token" => vault.auth = VaultAuth::Token,
            "kubernetes" => vault.auth = VaultAuth::Kubernetes,
            "approle" => vault.auth = VaultAuth::AppRole,
            other => section.error(format!(
                "vault.auth = {other:?}: must be \"token\", \"kubernetes\" or \"approle\""
            )),
        }
    }
    if let Some(role) = section.string("kubernetes_role") {
        vault.kubernetes_role = Some(role);
    }
    if let Some(path) = section.string("jwt_path") {
        vault.jwt_path = base.join(path);
    }
    section.set_expression("oidc_accessor", &mut vault.oidc_accessor);
    section.set_string("kubernetes_backend", &mut vault.kubernetes_backend);
    if let Some(namespace) = section.string("namespace") {
        vault.namespace = Some(namespace);
    }
    if let Some(mount) = section.string("auth_mount") {
        vault.auth_mount = Some(mount);
    }
    if let Some(role_id) = section.string("role_id") {
        vault.role_id = Some(role_id);
    }
    if let Some(path) = section.string("secret_id_file") {
        vault.secret_id_file = Some(base.join(path));
    }
    if let Some(timeout) = section.string("timeout") {
        match parse_duration(&timeout) {
            Some(seconds) => vault.timeout_seconds = seconds,
            None => section.error(format!(
                "vault.timeout = {timeout:?}: not a duration; write it like \"10s\" or \"1m\""
            )),
        }
    }
    section.finish(&[
        "address",
        "mount",
        "path",
        "key",
        "auth",
        "kubernetes_role",
        "jwt_path",
        "oidc_accessor",
        "kubernetes_backend",
        "namespace",
        "auth_mount",
        "role_id",
        "secret_id_file",
        "timeout",
    ]);
}

fn check_vault_paths(vault: &VaultConfig, errors: &mut Vec<String>) {
    let auth_mount = vault.auth_mount.clone().unwrap_or_else(|| "approle".into());
    for (key, value) in [
        ("vault.mount", &vault.mount),
        ("vault.path", &vault.path),
        ("vault.kubernetes_backend", &vault.kubernetes_backend),
        ("vault.auth_mount", &auth_mount),
    ] {
        let valid = !value.is_empty()
            && value.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            });
        if !valid {
            errors.push(format!(
                "{key} = {value:?}: must be a Vault path of letters, digits, `-`, `_` and `.` segments separated by `/`"
            ));
        }
    }
    if vault.key.is_empty() {
        errors.push("vault.key is empty; name the key of the secret that holds the users, e.g. \"k8s_users\"".into());
    }
}

fn read_deployer(section: &mut Section<'_, '_>, deployer: &mut DeployerConfig) {
    section.set_string("service_account", &mut deployer.service_account);
    section.set_string("namespace", &mut deployer.namespace);
    if let Some(ttl) = section.string("ttl") {
        match parse_duration(&ttl) {
            Some(seconds) => deployer.ttl_seconds = seconds,
            None => section.error(format!(
                "deployer.ttl = {ttl:?}: not a duration; write it like \"1h\", \"30m\" or \"1h30m\""
            )),
        }
    }
    section.finish(&["service_account", "namespace", "ttl"]);
}

fn check_deployer(deployer: &DeployerConfig, errors: &mut Vec<String>) {
    for (key, value) in [
        ("deployer.service_account", &deployer.service_account),
        ("deployer.namespace", &deployer.namespace),
    ] {
        if let Err(problem) = names::check_dns_label(value) {
            errors.push(format!("{key} = {value:?}: {problem}"));
        }
    }
}

/// Parses Vault-style durations: `3600`, `90s`, `30m`, `1h30m`, `7d`.
pub fn parse_duration(text: &str) -> Option<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let amount: u64 = digits.parse().ok()?;
        total = total.checked_add(amount.checked_mul(unit)?)?;
        digits.clear();
    }
    (digits.is_empty() && total > 0).then_some(total)
}

fn read_quota_defaults(section: &mut Section<'_, '_>, defaults: &mut BTreeMap<QuotaKey, String>) {
    for key in QuotaKey::ALL {
        if let Some(value) = section.quantity(key.name()) {
            if let Err(problem) = quantity::check(&value) {
                section.error(format!(
                    "quota_defaults.{} = {value:?}: {problem}",
                    key.name()
                ));
            }
            defaults.insert(key, value);
        }
    }
    section.finish(&QuotaKey::ALL.map(QuotaKey::name));
}

fn read_namespaces(section: &mut Section<'_, '_>, namespaces: &mut NamespacesConfig) {
    section.set_string_list("reserved", &mut namespaces.reserved);
    section.set_bool("require_prefix", &mut namespaces.require_prefix);
    if let Some(max) = section.integer("max_per_user") {
        namespaces.max_per_user = max;
    }
    section.set_string_map("labels", &mut namespaces.labels);
    section.set_string_map("annotations", &mut namespaces.annotations);
    section.finish(&[
        "reserved",
        "require_prefix",
        "max_per_user",
        "labels",
        "annotations",
    ]);
    for (kind, map) in [
        ("labels", &namespaces.labels),
        ("annotations", &namespaces.annotations),
    ] {
        for key in map.keys() {
            if let Err(problem) = names::check_label_key(key) {
                section.error(format!("namespaces.{kind}: key {key:?} {problem}"));
            }
            if key.starts_with(names::TENANTGEN_LABEL_PREFIX) || key == names::MANAGED_BY_LABEL {
                section.error(format!(
                    "namespaces.{kind}: key {key:?} is set by tenantgen itself; remove it"
                ));
            }
        }
    }
    for (key, value) in &namespaces.labels {
        if let Err(problem) = names::check_label_value(value) {
            section.error(format!("namespaces.labels.{key} = {value:?}: {problem}"));
        }
    }
}

fn read_dns(section: &mut Section<'_, '_>, dns: &mut DnsConfig) {
    if let Some(version) = section.integer("provider_version") {
        match version {
            4 => dns.provider_version = CloudflareVersion::V4,
            5 => dns.provider_version = CloudflareVersion::V5,
            other => section.error(format!(
                "dns.provider_version = {other}: must be 4 (cloudflare_record) or 5 (cloudflare_dns_record)"
            )),
        }
    }
    section.set_expression("zone_id", &mut dns.zone_id);
    section.set_string("type", &mut dns.record_type);
    section.set_string("target", &mut dns.target);
    section.set_bool("proxied", &mut dns.proxied);
    section.finish(&["provider_version", "zone_id", "type", "target", "proxied"]);
}

fn check_dns(dns: &DnsConfig, errors: &mut Vec<String>) {
    let target_ok = match dns.record_type.as_str() {
        "CNAME" => names::check_dns_name(&dns.target).is_ok(),
        "A" => std::net::Ipv4Addr::from_str(&dns.target).is_ok(),
        "AAAA" => std::net::Ipv6Addr::from_str(&dns.target).is_ok(),
        other => {
            errors.push(format!(
                "dns.type = {other:?}: must be \"CNAME\", \"A\" or \"AAAA\""
            ));
            return;
        }
    };
    if !target_ok {
        errors.push(format!(
            "dns.target = {:?}: not a valid target for a {} record (a host name for CNAME, an IPv4 address for A, an IPv6 address for AAAA)",
            dns.target, dns.record_type
        ));
    }
}

fn read_app(block: &Block, config: &mut Config, errors: &mut Vec<String>) {
    let [label] = block.labels() else {
        errors.push(
            "block `app` needs exactly one label, the app's name: app \"actualbudget\" { ... }"
                .into(),
        );
        return;
    };
    let name = match label {
        BlockLabel::String(name) => name.clone(),
        BlockLabel::Identifier(ident) => ident.to_string(),
    };
    if let Err(problem) = names::check_dns_label(&name) {
        errors.push(format!(
            "app {name:?}: the app name {problem}; it names the app's directory"
        ));
        return;
    }
    if config.apps.contains_key(&name) {
        errors.push(format!("app {name:?} is configured twice; keep one block"));
        return;
    }
    let section_name = format!("app \"{name}\"");
    let mut section = Section::new(&section_name, block.body(), errors);
    let domain = section.string("domain");
    let nfs_path = section.string("nfs_path");
    section.finish(&["domain", "nfs_path"]);
    let (Some(domain), Some(nfs_path)) = (domain, nfs_path) else {
        errors.push(format!(
            "app {name:?}: needs both `domain` (e.g. \"{name}.{{user}}.{{zone}}\") and `nfs_path` (e.g. \"/mnt/data/{name}/{{user}}\")"
        ));
        return;
    };
    check_pattern(&name, "domain", &domain, &["{user}", "{zone}"], errors);
    check_pattern(&name, "nfs_path", &nfs_path, &["{user}"], errors);
    let app = AppConfig { domain, nfs_path };
    if let Err(problem) = names::check_dns_name(&app.domain_for("user", &config.zone)) {
        errors.push(format!(
            "app {name:?}: domain {:?} does not give a valid DNS name: {problem}",
            app.domain
        ));
    }
    config.apps.insert(name, app);
}

fn check_pattern(
    app: &str,
    key: &str,
    pattern: &str,
    placeholders: &[&str],
    errors: &mut Vec<String>,
) {
    if !pattern.contains("{user}") {
        errors.push(format!(
            "app {app:?}: {key} = {pattern:?} must contain {{user}} so every user gets their own"
        ));
    }
    let mut rest = pattern.to_string();
    for placeholder in placeholders {
        rest = rest.replace(placeholder, "");
    }
    if rest.contains(['{', '}']) {
        errors.push(format!(
            "app {app:?}: {key} = {pattern:?} has an unknown placeholder; only {} are replaced",
            placeholders.join(" and ")
        ));
    }
}

fn read_adopt(section: &mut Section<'_, '_>) -> AdoptConfig {
    let mut adopt = AdoptConfig::default();
    section.set_bool("legacy_resource_types", &mut adopt.legacy_resource_types);
    section.set_string("module_prefix", &mut adopt.module_prefix);
    let prefix_ok = adopt.module_prefix.is_empty()
        || adopt
            .module_prefix
            .split('.')
            .collect::<Vec<_>>()
            .chunks(2)
            .all(|pair| matches!(pair, ["module", name] if is_identifier(name)));
    if !prefix_ok {
        section.error(format!(
            "adopt.module_prefix = {:?}: must be empty or `module.NAME` (nested: `module.a.module.b`)",
            adopt.module_prefix
        ));
    }
    for key in ADOPT_ADDRESS_KEYS {
        let slot = adopt.address_mut(key);
        section.set_string(key, slot);
        let valid = matches!(slot.split('.').collect::<Vec<_>>().as_slice(), [kind, name] if is_identifier(kind) && is_identifier(name));
        if !valid {
            let value = slot.clone();
            section.error(format!(
                "adopt.{key} = {value:?}: must be a resource address `TYPE.NAME`, e.g. \"kubernetes_namespace.user_namespace\""
            ));
        }
    }
    section.set_string(
        "namespace_owner_binding_name",
        &mut adopt.namespace_owner_binding_name,
    );
    section.set_string("read_only_binding_name", &mut adopt.read_only_binding_name);
    section.set_string("quota_name", &mut adopt.quota_name);
    let mut keys = vec![
        "legacy_resource_types",
        "module_prefix",
        "namespace_owner_binding_name",
        "read_only_binding_name",
        "quota_name",
    ];
    keys.extend(ADOPT_ADDRESS_KEYS);
    section.finish(&keys);
    adopt
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn read_limit_range(section: &mut Section<'_, '_>) -> LimitRangeConfig {
    let mut limit_range = LimitRangeConfig {
        default_cpu: "500m".into(),
        default_memory: "512Mi".into(),
        default_request_cpu: "100m".into(),
        default_request_memory: "128Mi".into(),
    };
    let keys = [
        "default_cpu",
        "default_memory",
        "default_request_cpu",
        "default_request_memory",
    ];
    for key in keys {
        if let Some(value) = section.quantity(key) {
            if let Err(problem) = quantity::check(&value) {
                section.error(format!("limit_range.{key} = {value:?}: {problem}"));
            }
            let slot = match key {
                "default_cpu" => &mut limit_range.default_cpu,
                "default_memory" => &mut limit_range.default_memory,
                "default_request_cpu" => &mut limit_range.default_request_cpu,
                _ => &mut limit_range.default_request_memory,
            };
            *slot = value;
        }
    }
    section.finish(&keys);
    limit_range
}

/// One block (or the top level) of the config, read key by key.
struct Section<'body, 'errors> {
    name: String,
    attributes: Vec<&'body hcl::Attribute>,
    used: BTreeSet<&'body str>,
    errors: &'errors mut Vec<String>,
}

impl<'body, 'errors> Section<'body, 'errors> {
    fn new(name: &str, body: &'body hcl::Body, errors: &'errors mut Vec<String>) -> Self {
        let attributes: Vec<_> = body.attributes().collect();
        let mut seen = BTreeSet::new();
        for attribute in &attributes {
            if !seen.insert(attribute.key()) {
                errors.push(format!(
                    "{} is set twice; keep one",
                    qualified(name, attribute.key())
                ));
            }
        }
        if !name.is_empty() {
            for block in body.blocks() {
                errors.push(format!(
                    "{} is not a block; `{name}` takes only key = value settings",
                    qualified(name, block.identifier())
                ));
            }
        }
        Section {
            name: name.to_string(),
            attributes,
            used: BTreeSet::new(),
            errors,
        }
    }

    fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    fn get(&mut self, key: &'static str) -> Option<&'body Expression> {
        let attribute = self
            .attributes
            .iter()
            .find(|attribute| attribute.key() == key)?;
        self.used.insert(key);
        Some(attribute.expr())
    }

    fn type_error(&mut self, key: &str, expected: &str) {
        let message = format!("{} must be {expected}", qualified(&self.name, key));
        self.errors.push(message);
    }

    fn string(&mut self, key: &'static str) -> Option<String> {
        match self.get(key)? {
            Expression::String(value) => Some(value.clone()),
            _ => {
                self.type_error(key, "a quoted string");
                None
            }
        }
    }

    fn set_string(&mut self, key: &'static str, slot: &mut String) {
        if let Some(value) = self.string(key) {
            *slot = value;
        }
    }

    /// A Terraform expression given as a string; it must parse as one
    /// single-line HCL expression.
    fn set_expression(&mut self, key: &'static str, slot: &mut String) {
        let Some(value) = self.string(key) else {
            return;
        };
        let trimmed = value.trim();
        let parses = !trimmed.is_empty()
            && !trimmed.contains(['\n', '\r', '#'])
            && !trimmed.contains("//")
            && Expression::from_str(trimmed).is_ok();
        if parses {
            *slot = trimmed.to_string();
        } else {
            let message = format!(
                "{} = {value:?} is not a Terraform expression; write a variable or reference such as \"var.tenantgen_{key}\" or \"vault_jwt_auth_backend.oidc.accessor\"",
                qualified(&self.name, key)
            );
            self.errors.push(message);
        }
    }

    fn set_bool(&mut self, key: &'static str, slot: &mut bool) {
        match self.get(key) {
            None => {}
            Some(Expression::Bool(value)) => *slot = *value,
            Some(_) => self.type_error(key, "true or false"),
        }
    }

    fn integer(&mut self, key: &'static str) -> Option<usize> {
        match self.get(key)? {
            Expression::Number(number) => {
                match number.as_u64().and_then(|n| usize::try_from(n).ok()) {
                    Some(value) => Some(value),
                    None => {
                        self.type_error(key, "a whole number of 0 or more");
                        None
                    }
                }
            }
            _ => {
                self.type_error(key, "a whole number");
                None
            }
        }
    }

    /// A quantity may be written as a string or a bare number.
    fn quantity(&mut self, key: &'static str) -> Option<String> {
        match self.get(key)? {
            Expression::String(value) => Some(value.clone()),
            Expression::Number(number) => Some(number.to_string()),
            _ => {
                self.type_error(key, "a quantity such as \"4Gi\" or \"500m\"");
                None
            }
        }
    }

    fn set_string_list(&mut self, key: &'static str, slot: &mut Vec<String>) {
        match self.get(key) {
            None => {}
            Some(Expression::Array(items)) => {
                let strings: Option<Vec<String>> = items
                    .iter()
                    .map(|item| match item {
                        Expression::String(value) => Some(value.clone()),
                        _ => None,
                    })
                    .collect();
                match strings {
                    Some(strings) => *slot = strings,
                    None => self.type_error(key, "a list of quoted strings"),
                }
            }
            Some(_) => self.type_error(key, "a list of quoted strings, e.g. [\"a\", \"b\"]"),
        }
    }

    fn set_string_map(&mut self, key: &'static str, slot: &mut BTreeMap<String, String>) {
        match self.get(key) {
            None => {}
            Some(Expression::Object(object)) => {
                let mut map = BTreeMap::new();
                for (object_key, value) in object {
                    let name = match object_key {
                        hcl::ObjectKey::Identifier(ident) => ident.to_string(),
                        hcl::ObjectKey::Expression(Expression::String(name)) => name.clone(),
                        _ => {
                            self.type_error(key, "a map with quoted string keys");
                            return;
                        }
                    };
                    let Expression::String(value) = value else {
                        self.type_error(key, "a map of quoted strings");
                        return;
                    };
                    map.insert(name, value.clone());
                }
                *slot = map;
            }
            Some(_) => self.type_error(key, "a map such as { \"key\" = \"value\" }"),
        }
    }

    /// Reports every key that was not read.
    fn finish(&mut self, known: &[&str]) {
        for attribute in &self.attributes {
            if !self.used.contains(attribute.key()) {
                let location = if self.name.is_empty() {
                    "the top level".to_string()
                } else {
                    format!("block `{}`", self.name)
                };
                self.errors
                    .push(unknown("key", attribute.key(), &location, known));
            }
        }
    }
}

fn qualified(section: &str, key: &str) -> String {
    if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    }
}

fn unknown(kind: &str, name: &str, location: &str, known: &[&str]) -> String {
    let suggestion = names::closest(name, known.iter().copied())
        .map(|close| format!("did you mean `{close}`? "))
        .unwrap_or_default();
    format!(
        "unknown {kind} `{name}` in {location}; {suggestion}known {kind}s: {}",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/repo"))
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("config must be rejected"))
    }

    #[test]
    fn empty_config_gives_spec_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.out, PathBuf::from("/repo/stacks-out"));
        assert_eq!(config.zone, "example.com");
        assert_eq!(config.vault.mount, "secret");
        assert_eq!(config.deployer.ttl_seconds, 3600);
        assert_eq!(config.quota_defaults[&QuotaKey::MemoryLimits], "8Gi");
        assert_eq!(config.apps.len(), 2);
        assert_eq!(config.dns.provider_version, CloudflareVersion::V4);
    }

    #[test]
    fn the_spec_example_config_parses() {
        let text = include_str!("../tests/data/spec-config.hcl");
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
    fn unknown_keys_and_blocks_are_errors_with_suggestions() {
        let message = error_of("zome = \"example.com\"\nvault {\n  mout = \"kv\"\n}\nvalt {}\n");
        assert!(message.contains("unknown key `zome`"), "{message}");
        assert!(message.contains("did you mean `zone`"), "{message}");
        assert!(
            message.contains("unknown key `mout` in block `vault`"),
            "{message}"
        );
        assert!(message.contains("did you mean `mount`"), "{message}");
        assert!(message.contains("unknown block `valt`"), "{message}");
    }

    #[test]
    fn expressions_must_parse() {
        let message = error_of("vault {\n  oidc_accessor = \"var.x }\"\n}\n");
        assert!(message.contains("vault.oidc_accessor"), "{message}");
        let config = parse("dns {\n  zone_id = \"cloudflare_zone.main.id\"\n}\n").unwrap();
        assert_eq!(config.dns.zone_id, "cloudflare_zone.main.id");
    }

    #[test]
    fn wrong_types_and_values_are_reported_together() {
        let message = error_of(
            "identity {\n  require_email = \"yes\"\n}\ndns {\n  provider_version = 3\n}\ndeployer {\n  ttl = \"soon\"\n}\n",
        );
        assert!(message.contains("3 problem(s)"), "{message}");
        assert!(
            message.contains("identity.require_email must be true or false"),
            "{message}"
        );
        assert!(message.contains("dns.provider_version = 3"), "{message}");
        assert!(message.contains("deployer.ttl"), "{message}");
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
        assert!(message.contains("must contain {user}"), "{message}");
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
            message.contains("quota_defaults.memory = \"8GB\""),
            "{message}"
        );
        let config = parse("quota_defaults {\n  pods = 50\n}\n").unwrap();
        assert_eq!(config.quota_defaults[&QuotaKey::Pods], "50");
    }
}
