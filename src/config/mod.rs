//! `tenantgen.hcl`: every key optional, every unknown key an error (a typo
//! must never fall back to a default silently).
//!
//! Each key is declared once below: its name, type, default and, where its
//! value needs one, the check that reads it (`check::*`). `read` turns the
//! HCL into those types and every mistake into a [`Problem`]; `check` holds
//! the value checks and the checks that look at several keys at once.

mod check;
mod namespaces;
mod read;
mod roles;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::Role;
use crate::problem::{Problem, Problems};
use crate::source::Bounded;

pub use check::parse_duration;

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_FILE: &str = "tenantgen.hcl";

/// Declares a config block: the struct, its serde reading (every key
/// optional, unknown keys rejected) and its `Default`, each field written
/// once as `name: type = default`.
macro_rules! block {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $type:ty = $default:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $( $(#[$field_meta])* pub $field: $type, )*
        }

        impl Default for $name {
            fn default() -> $name {
                $name { $( $field: $default, )* }
            }
        }
    };
}

block! {
    pub struct Config {
        /// Users file, resolved against the config file's directory.
        pub users_file: Option<PathBuf> = None,
        /// Output root, resolved against the config file's directory.
        pub out: PathBuf = PathBuf::from("stacks-out"),
        #[serde(deserialize_with = "check::zone")]
        pub zone: String = "example.com".into(),
        pub vault: VaultConfig = VaultConfig::default(),
        pub identity: IdentityConfig = IdentityConfig::default(),
        pub layout: LayoutConfig = LayoutConfig::default(),
        pub onboarding: OnboardingConfig = OnboardingConfig::default(),
        pub quota: QuotaConfig = QuotaConfig::default(),
        pub names: NamesConfig = NamesConfig::default(),
        pub deployer: DeployerConfig = DeployerConfig::default(),
        pub power_user: PowerUserConfig = PowerUserConfig::default(),
        pub namespace_owner: NamespaceOwnerConfig = NamespaceOwnerConfig::default(),
        /// A `quota_defaults` block changes only the entries it sets.
        #[serde(deserialize_with = "check::quota_defaults")]
        pub quota_defaults: BTreeMap<QuotaKey, String> = default_quotas(),
        pub namespaces: NamespacesConfig = NamespacesConfig::default(),
        pub tls: TlsConfig = TlsConfig::default(),
        pub dns: DnsConfig = DnsConfig::default(),
        pub woodpecker: WoodpeckerConfig = WoodpeckerConfig::default(),
        /// Whether a config with no `app` block gets the two default apps;
        /// `false` with no `app` block: no apps, no factory stack.
        pub default_apps: bool = true,
        /// Factory apps by name, one `app "NAME" { ... }` block each; any
        /// `app` block replaces the default apps.
        #[serde(rename = "app")]
        pub apps: BTreeMap<String, AppConfig> = default_apps(),
        pub network_policy: Option<NetworkPolicyConfig> = None,
        pub limit_range: Option<LimitRangeConfig> = None,
        /// Adoption of a deployment in the dynamic `for_each` style.
        pub adopt: Option<AdoptConfig> = None,
        /// The operator's own templates, one `addon "NAME" { ... }` block
        /// each (README, "Add-on templates").
        #[serde(rename = "addon")]
        pub addons: BTreeMap<String, AddonConfig> = BTreeMap::new(),
        pub guard: GuardConfig = GuardConfig::default(),
    }
}

block! {
    /// How many users one render may revoke (README, "Guard against
    /// revoking everyone"); kept in the render record, so the summary shows
    /// a change to it.
    #[derive(Serialize)]
    pub struct GuardConfig {
        /// Most users one render may remove without `--allow-removals`.
        pub max_removed: usize = 3,
    }
}

impl GuardConfig {
    pub fn is_default(&self) -> bool {
        *self == GuardConfig::default()
    }
}

block! {
    /// Where the `for_each` style kept each object, as `type.name` (keyed by
    /// namespace, user, or `<user>-<namespace>`), and the names it gave them.
    pub struct AdoptConfig {
        /// Generate `kubernetes_namespace`, `kubernetes_role_binding`, ... rather
        /// than the `_v1` types, so every move keeps its resource type.
        pub legacy_resource_types: bool = true,
        /// Module of the old platform stack's RBAC objects (`module.rbac`), or empty.
        #[serde(deserialize_with = "check::module_prefix")]
        pub module_prefix: String = "module.rbac".into(),
        #[serde(deserialize_with = "check::address")]
        pub namespaces: String = "kubernetes_namespace.user_namespace".into(),
        #[serde(deserialize_with = "check::address")]
        pub policies: String = "vault_policy.namespace_owner".into(),
        #[serde(deserialize_with = "check::address")]
        pub entities: String = "vault_identity_entity.namespace_owner".into(),
        #[serde(deserialize_with = "check::address")]
        pub entity_aliases: String = "vault_identity_entity_alias.namespace_owner".into(),
        #[serde(deserialize_with = "check::address")]
        pub namespace_owner_bindings: String = "kubernetes_role_binding.namespace_owner".into(),
        #[serde(deserialize_with = "check::address")]
        pub read_only_bindings: String =
            "kubernetes_cluster_role_binding.namespace_owner_readonly".into(),
        #[serde(deserialize_with = "check::address")]
        pub quotas: String = "kubernetes_resource_quota.user_namespace_quota".into(),
        #[serde(deserialize_with = "check::address")]
        pub admin_bindings: String = "kubernetes_cluster_role_binding.admin_users".into(),
        /// The deployer's Roles and secret-backend roles, keyed by namespace.
        #[serde(deserialize_with = "check::address")]
        pub deployer_roles: String = "kubernetes_role.user_deployer".into(),
        #[serde(deserialize_with = "check::address")]
        pub deployer_backend_roles: String =
            "vault_kubernetes_secret_backend_role.user_deployer".into(),
        #[serde(deserialize_with = "check::address")]
        pub power_user_bindings: String = "kubernetes_cluster_role_binding.power_users".into(),
        /// The TLS module calls of `tls.mode = "module"`, keyed by namespace,
        /// inside `module_prefix` like the RBAC objects.
        #[serde(deserialize_with = "check::module_address")]
        pub tls_modules: String = "module.user_namespace_tls".into(),
        /// DNS records, keyed by the name relative to the zone; the full
        /// address, module path included (`module_prefix` does not apply).
        #[serde(deserialize_with = "check::address")]
        pub dns_records: String = "module.cloudflared.cloudflare_record.dns_record".into(),
        /// Old Kubernetes names, `{user}` standing for the username; an object
        /// whose old name differs from tenantgen's is replaced.
        pub namespace_owner_binding_name: String = "namespace-owner-{user}".into(),
        pub read_only_binding_name: String = "oidc-ns-owner-readonly-{user}".into(),
        pub quota_name: String = "user-quota".into(),
    }
}

block! {
    pub struct VaultConfig {
        /// `None`: taken from `VAULT_ADDR` when Vault is read.
        pub address: Option<String> = None,
        #[serde(deserialize_with = "check::vault_path")]
        pub mount: String = "secret".into(),
        #[serde(deserialize_with = "check::vault_path")]
        pub path: String = "platform".into(),
        #[serde(deserialize_with = "check::secret_key")]
        pub key: String = "k8s_users".into(),
        /// Folder of `mount` holding one folder of secrets per tenant
        /// namespace; empty (the design): the mount's top level.
        #[serde(deserialize_with = "check::vault_folder")]
        pub tenant_prefix: String = String::new(),
        /// Whose folder a tenant policy grants: one per namespace (the
        /// design) or one per user (`<mount>/data/<user>/*`).
        pub policy_scope: PolicyScope = PolicyScope::Namespace,
        /// Capabilities on the folders' metadata paths.
        #[serde(deserialize_with = "check::capabilities")]
        pub metadata_capabilities: Vec<String> = vec!["list".into()],
        pub auth: VaultAuth = VaultAuth::Token,
        pub kubernetes_role: Option<String> = None,
        /// `None`: the in-cluster token (`source::vault::routing::DEFAULT_JWT_PATH`).
        pub jwt_path: Option<PathBuf> = None,
        /// Terraform expression for the OIDC auth mount accessor.
        #[serde(deserialize_with = "check::expression")]
        pub oidc_accessor: String = "var.tenantgen_oidc_accessor".into(),
        /// Auth backend path of the deployer roles in auth-role mode.
        #[serde(deserialize_with = "check::vault_path")]
        pub kubernetes_backend: String = "kubernetes".into(),
        /// `None`: taken from `VAULT_NAMESPACE`.
        pub namespace: Option<String> = None,
        /// Mount of tenantgen's own login method; `None`: the method's name.
        #[serde(deserialize_with = "check::optional_vault_path")]
        pub auth_mount: Option<String> = None,
        /// AppRole role id (not a secret); `VAULT_ROLE_ID` overrides it.
        pub role_id: Option<String> = None,
        /// File holding the AppRole secret id; `VAULT_SECRET_ID` overrides it.
        pub secret_id_file: Option<PathBuf> = None,
        /// Bound on each request to Vault, in seconds.
        #[serde(rename = "timeout", deserialize_with = "check::timeout")]
        pub timeout_seconds: u64 = 10,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum VaultAuth {
    Token,
    Kubernetes,
    AppRole,
}

impl TryFrom<String> for VaultAuth {
    type Error = String;

    fn try_from(name: String) -> Result<VaultAuth, String> {
        match name.as_str() {
            "token" => Ok(VaultAuth::Token),
            "kubernetes" => Ok(VaultAuth::Kubernetes),
            "approle" => Ok(VaultAuth::AppRole),
            _ => Err(format!(
                "must be \"token\", \"kubernetes\" or \"approle\", not {name:?}"
            )),
        }
    }
}

block! {
    pub struct IdentityConfig {
        pub require_email: bool = false,
        /// What RBAC bindings name as the user: the OIDC `email` (default)
        /// or the `username`, as the cluster's OIDC username claim gives it.
        pub subject: SubjectClaim = SubjectClaim::Email,
        /// Policies attached to each user's Vault entity besides tenantgen's
        /// own, by name pattern (`{user}`), e.g. "sops-user-{user}".
        pub extra_policies: Vec<String> = Vec::new(),
    }
}

block! {
    /// The name of every Kubernetes and Vault object tenantgen creates, as a
    /// pattern: `{user}` is the username (with `_` written `-` in
    /// Kubernetes names), `{namespace}` the tenant namespace.
    pub struct NamesConfig {
        pub policy: String = "namespace-owner-{user}".into(),
        pub entity: String = "{user}".into(),
        /// The deployer's Role and Vault role in each namespace.
        pub deployer: String = "{namespace}-deployer".into(),
        /// The RoleBinding that makes a namespace-owner admin of a namespace.
        pub namespace_admin: String = "{user}-admin".into(),
        pub quota: String = "{namespace}-quota".into(),
        /// The Certificate and its Secret.
        pub certificate: String = "tls-{namespace}".into(),
        pub read_only_binding: String = "{user}-read-only".into(),
        pub power_user_binding: String = "{user}-power-user".into(),
        pub admin_binding: String = "{user}-cluster-admin".into(),
        pub read_only_role: String = "tenantgen-read-only".into(),
        pub power_user_role: String = "tenantgen-power-user".into(),
        pub network_policy: String = "tenantgen-isolation".into(),
        pub limit_range: String = "tenantgen-defaults".into(),
    }
}

/// Which placeholders a name pattern may use, and which it must use so
/// that the names it gives are unique where they must be.
pub struct NamePattern {
    pub key: &'static str,
    pub placeholders: &'static [&'static str],
    pub required: &'static [&'static str],
    /// What kind of name it gives, for the check of the result.
    pub kind: NameKind,
}

/// The rules a name follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A Kubernetes object named like a DNS subdomain (`_` not allowed, so
    /// a username's `_` is written `-`).
    Dns,
    /// An RBAC object (Role, binding): any path segment, `_` kept.
    Rbac,
    /// A Vault policy, entity or role.
    Vault,
}

impl NameKind {
    /// Whether `{user}` has its `_` written `-`.
    pub fn dns(self) -> bool {
        self == NameKind::Dns
    }
}

impl NamesConfig {
    pub fn patterns(&self) -> [(&NamePattern, &str); 13] {
        const USER: &[&str] = &["{user}"];
        const BOTH: &[&str] = &["{user}", "{namespace}"];
        const NONE: &[&str] = &[];
        const NAMESPACE: &[&str] = &["{namespace}"];
        macro_rules! pattern {
            ($key:ident, $placeholders:expr, $required:expr, $kind:ident) => {
                (
                    &NamePattern {
                        key: stringify!($key),
                        placeholders: $placeholders,
                        required: $required,
                        kind: NameKind::$kind,
                    },
                    self.$key.as_str(),
                )
            };
        }
        [
            pattern!(policy, USER, USER, Vault),
            pattern!(entity, USER, USER, Vault),
            pattern!(deployer, BOTH, NAMESPACE, Rbac),
            pattern!(namespace_admin, BOTH, NONE, Rbac),
            pattern!(quota, BOTH, NONE, Dns),
            pattern!(certificate, BOTH, NONE, Dns),
            pattern!(read_only_binding, USER, USER, Rbac),
            pattern!(power_user_binding, USER, USER, Rbac),
            pattern!(admin_binding, USER, USER, Rbac),
            pattern!(read_only_role, NONE, NONE, Rbac),
            pattern!(power_user_role, NONE, NONE, Rbac),
            pattern!(network_policy, BOTH, NONE, Dns),
            pattern!(limit_range, BOTH, NONE, Dns),
        ]
    }
}

/// A name from a pattern: `{user}` in names like DNS subdomains
/// (`dns_form`) has `_` written `-`.
pub fn name_from(pattern: &str, user: &str, namespace: Option<&str>, dns_form: bool) -> String {
    let user = if dns_form {
        crate::names::kubernetes_form(user)
    } else {
        std::borrow::Cow::Borrowed(user)
    };
    let named = pattern.replace("{user}", &user);
    match namespace {
        Some(namespace) => named.replace("{namespace}", namespace),
        None => named,
    }
}

block! {
    /// The stack directory each group of objects goes to.
    pub struct LayoutConfig {
        /// Tenant namespaces, and the blocks that release or re-import them.
        #[serde(deserialize_with = "check::stack")]
        pub namespaces: String = "vault".into(),
        /// Vault policies, entities and aliases.
        #[serde(deserialize_with = "check::stack")]
        pub vault: String = "vault".into(),
        /// The deployer: its Roles and Vault roles.
        #[serde(deserialize_with = "check::stack")]
        pub deployer: String = "vault".into(),
        /// Role bindings, cluster roles and their bindings, quotas, network
        /// policies and limit ranges.
        #[serde(deserialize_with = "check::stack")]
        pub rbac: String = "platform".into(),
        #[serde(deserialize_with = "check::stack")]
        pub tls: String = "platform".into(),
        #[serde(deserialize_with = "check::stack")]
        pub dns: String = "platform".into(),
        /// The CI admin list, and in auth-role mode the deployer's bindings.
        #[serde(deserialize_with = "check::stack")]
        pub ci: String = "woodpecker".into(),
    }
}

/// A group of objects that [`LayoutConfig`] places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Namespaces,
    Vault,
    Deployer,
    Rbac,
    Tls,
    Dns,
    Ci,
}

impl Group {
    /// In apply order: what later groups refer to comes first.
    pub const ALL: [Group; 7] = [
        Group::Namespaces,
        Group::Vault,
        Group::Deployer,
        Group::Rbac,
        Group::Tls,
        Group::Dns,
        Group::Ci,
    ];

    /// Its key in the `layout` block.
    pub const fn name(self) -> &'static str {
        match self {
            Group::Namespaces => "namespaces",
            Group::Vault => "vault",
            Group::Deployer => "deployer",
            Group::Rbac => "rbac",
            Group::Tls => "tls",
            Group::Dns => "dns",
            Group::Ci => "ci",
        }
    }

    /// What a tenant file's heading says the group holds.
    pub const fn describe(self) -> &'static str {
        match self {
            Group::Namespaces => "namespaces",
            Group::Vault => "secrets policy, identity",
            Group::Deployer => "CI deployer roles",
            Group::Rbac => "RBAC, quotas",
            Group::Tls => "TLS",
            Group::Dns => "DNS",
            Group::Ci => "CI deployer bindings",
        }
    }
}

impl LayoutConfig {
    /// Group name → stack, as the render record keeps it.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        Group::ALL
            .into_iter()
            .map(|group| (group.name().to_string(), self.stack(group).to_string()))
            .collect()
    }

    /// The layout a render record kept; groups it does not name keep ours.
    pub fn with_map(&self, map: &BTreeMap<String, String>) -> LayoutConfig {
        let mut layout = self.clone();
        for group in Group::ALL {
            if let Some(stack) = map.get(group.name()) {
                *layout.stack_mut(group) = stack.clone();
            }
        }
        layout
    }

    fn stack_mut(&mut self, group: Group) -> &mut String {
        match group {
            Group::Namespaces => &mut self.namespaces,
            Group::Vault => &mut self.vault,
            Group::Deployer => &mut self.deployer,
            Group::Rbac => &mut self.rbac,
            Group::Tls => &mut self.tls,
            Group::Dns => &mut self.dns,
            Group::Ci => &mut self.ci,
        }
    }

    pub fn stack(&self, group: Group) -> &str {
        match group {
            Group::Namespaces => &self.namespaces,
            Group::Vault => &self.vault,
            Group::Deployer => &self.deployer,
            Group::Rbac => &self.rbac,
            Group::Tls => &self.tls,
            Group::Dns => &self.dns,
            Group::Ci => &self.ci,
        }
    }

    /// Every stack directory once, in apply order.
    pub fn stacks(&self) -> Vec<&str> {
        let mut stacks: Vec<&str> = Vec::new();
        for group in Group::ALL {
            let stack = self.stack(group);
            if !stacks.contains(&stack) {
                stacks.push(stack);
            }
        }
        stacks
    }

    /// The groups a stack holds, in apply order.
    pub fn groups(&self, stack: &str) -> Vec<Group> {
        Group::ALL
            .into_iter()
            .filter(|group| self.stack(*group) == stack)
            .collect()
    }
}

block! {
    pub struct QuotaConfig {
        /// The entries every ResourceQuota has, exactly (`cpu`, `memory`,
        /// `memory_limits`, `storage`, `pods`, `persistentvolumeclaims`).
        pub keys: Vec<QuotaKey> = QuotaKey::ALL.to_vec(),
    }
}

block! {
    /// What `tenantgen users add` gives a new user unless flags say
    /// otherwise; `{user}` stands for the name.
    pub struct OnboardingConfig {
        pub role: Option<String> = None,
        pub email: Option<String> = None,
        pub namespaces: Option<Vec<String>> = None,
        pub quota: BTreeMap<String, String> = BTreeMap::new(),
    }
}

/// What RBAC bindings name as a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectClaim {
    Email,
    Username,
}

/// Whose secrets folder a tenant policy covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyScope {
    Namespace,
    User,
}

/// How CI pipelines get Kubernetes credentials for a tenant namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum DeployerMode {
    /// Vault's Kubernetes secrets engine issues a token bound to one
    /// namespace's `<ns>-deployer` Role.
    SecretsEngine,
    /// The design's literal variant: a Kubernetes auth role per namespace,
    /// all logging in as one shared service account.
    AuthRole,
}

impl DeployerMode {
    pub const fn name(self) -> &'static str {
        match self {
            DeployerMode::SecretsEngine => "secrets-engine",
            DeployerMode::AuthRole => "auth-role",
        }
    }
}

impl From<DeployerMode> for &'static str {
    fn from(mode: DeployerMode) -> &'static str {
        mode.name()
    }
}

impl TryFrom<String> for DeployerMode {
    type Error = String;

    fn try_from(name: String) -> Result<DeployerMode, String> {
        match name.as_str() {
            "secrets-engine" => Ok(DeployerMode::SecretsEngine),
            "auth-role" => Ok(DeployerMode::AuthRole),
            _ => Err(format!(
                "must be \"secrets-engine\" or \"auth-role\", not {name:?}"
            )),
        }
    }
}

/// A Kubernetes RBAC rule, as generated and as configured
/// (`{ api_groups = ["apps"], resources = ["deployments"], verbs = ["get"] }`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbacRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

impl RbacRule {
    pub fn new(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> RbacRule {
        let owned = |items: &[&str]| items.iter().map(|item| item.to_string()).collect();
        RbacRule {
            api_groups: owned(api_groups),
            resources: owned(resources),
            verbs: owned(verbs),
        }
    }
}

/// The deployer Role of the real deployment: roll out and watch.
fn default_deployer_rules() -> Vec<RbacRule> {
    vec![
        RbacRule::new(
            &["apps"],
            &["deployments"],
            &["get", "list", "patch", "update"],
        ),
        RbacRule::new(&[""], &["pods"], &["get", "list"]),
    ]
}

block! {
    pub struct DeployerConfig {
        pub mode: DeployerMode = DeployerMode::SecretsEngine,
        /// Path of the Kubernetes secrets engine, as tenant policies name it.
        #[serde(deserialize_with = "check::vault_path")]
        pub mount: String = "kubernetes".into(),
        /// Terraform expression for the secret-backend roles' `backend`;
        /// `None`: `mount` as a string.
        #[serde(deserialize_with = "check::optional_expression")]
        pub backend: Option<String> = None,
        /// Rules of each namespace's `<ns>-deployer` Role.
        #[serde(deserialize_with = "check::rbac_rules")]
        pub rules: Vec<RbacRule> = default_deployer_rules(),
        /// Auth-role mode: the one service account every pipeline runs as.
        #[serde(deserialize_with = "check::dns_label")]
        pub service_account: String = "woodpecker-deployer".into(),
        #[serde(deserialize_with = "check::dns_label")]
        pub namespace: String = "woodpecker".into(),
        /// Default token TTL in seconds.
        #[serde(rename = "ttl", deserialize_with = "check::ttl")]
        pub ttl_seconds: u64 = 1800,
        /// Longest token TTL in seconds.
        #[serde(rename = "max_ttl", deserialize_with = "check::ttl")]
        pub max_ttl_seconds: u64 = 3600,
    }
}

impl DeployerConfig {
    /// The `backend` argument of the secret-backend roles.
    pub fn backend_expression(&self) -> String {
        self.backend
            .clone()
            .unwrap_or_else(|| format!("{:?}", self.mount))
    }
}

/// The settings that decide what the generated roles and policies grant,
/// kept in the render record so that the next summary can tell what a
/// config change did to anyone's access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
// Read back from the render record, which a pull request can edit: each
// value is checked as tenantgen.hcl's is, so none reaches the summary raw.
pub struct GrantSettings {
    pub deployer_mode: DeployerMode,
    #[serde(deserialize_with = "check::vault_path")]
    pub deployer_mount: String,
    #[serde(deserialize_with = "check::rbac_rules")]
    pub deployer_rules: Vec<RbacRule>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "check::optional_rbac_name"
    )]
    pub power_user_cluster_role: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "check::rbac_rules"
    )]
    pub power_user_extra_rules: Vec<RbacRule>,
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "check::vault_folder"
    )]
    pub tenant_prefix: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "check::optional_rbac_name"
    )]
    pub namespace_owner_cluster_role: Option<String>,
    /// `identity.extra_policies`: policies written outside tenantgen on
    /// every entity, whose change the summary lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_policies: Vec<String>,
    /// `woodpecker.static_admins`: Forgejo logins with admin rights on
    /// every repository's pipelines, whose change the summary lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub woodpecker_static_admins: Vec<String>,
}

/// A layout as the render record keeps it (group → stack), checked as the
/// `layout` block is.
pub fn recorded_layout<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    use serde::de::Error as _;
    let map = BTreeMap::<String, String>::deserialize(deserializer)?;
    for (group, stack) in &map {
        if !Group::ALL.iter().any(|known| known.name() == group) {
            return Err(D::Error::custom(format!(
                "layout: {group:?} is not a group"
            )));
        }
        check::stack_path(stack).map_err(D::Error::custom)?;
    }
    Ok(Some(map))
}

impl Config {
    pub fn grant_settings(&self) -> GrantSettings {
        GrantSettings {
            deployer_mode: self.deployer.mode,
            deployer_mount: self.deployer.mount.clone(),
            deployer_rules: self.deployer.rules.clone(),
            power_user_cluster_role: self.power_user.cluster_role.clone(),
            power_user_extra_rules: self.power_user.extra_rules.clone(),
            tenant_prefix: self.vault.tenant_prefix.clone(),
            namespace_owner_cluster_role: self.namespace_owner.cluster_role.clone(),
            extra_policies: self.identity.extra_policies.clone(),
            woodpecker_static_admins: self.woodpecker.static_admins.clone(),
        }
    }

    /// This config with the grant settings of an earlier render.
    pub fn with_grant_settings(&self, grants: &GrantSettings) -> Config {
        let mut config = self.clone();
        config.deployer.mode = grants.deployer_mode;
        config.deployer.mount = grants.deployer_mount.clone();
        config.deployer.rules = grants.deployer_rules.clone();
        config.power_user.cluster_role = grants.power_user_cluster_role.clone();
        config.power_user.extra_rules = grants.power_user_extra_rules.clone();
        config.vault.tenant_prefix = grants.tenant_prefix.clone();
        config.namespace_owner.cluster_role = grants.namespace_owner_cluster_role.clone();
        config.identity.extra_policies = grants.extra_policies.clone();
        config.woodpecker.static_admins = grants.woodpecker_static_admins.clone();
        config
    }
}

block! {
    pub struct NamespaceOwnerConfig {
        /// An existing ClusterRole to bind namespace-owners to cluster-wide
        /// instead of the generated read-only `tenantgen-read-only`.
        #[serde(deserialize_with = "check::optional_rbac_name")]
        pub cluster_role: Option<String> = None,
    }
}

block! {
    pub struct PowerUserConfig {
        /// An existing ClusterRole to bind power-users to instead of the
        /// generated read-only `tenantgen-power-user`.
        #[serde(deserialize_with = "check::optional_rbac_name")]
        pub cluster_role: Option<String> = None,
        /// Rules added to `tenantgen-power-user`'s read-only ones.
        #[serde(deserialize_with = "check::rbac_rules")]
        pub extra_rules: Vec<RbacRule> = Vec::new(),
    }
}

/// ResourceQuota entries a user can set, in the terms of the users' input.
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

    /// The short names, in the order of [`QuotaKey::ALL`].
    pub const NAMES: [&'static str; 6] = {
        let mut names = [""; 6];
        let mut i = 0;
        while i < names.len() {
            names[i] = QuotaKey::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The short name used in `quota_defaults` and the seed's quota objects.
    pub const fn name(self) -> &'static str {
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

fn default_quotas() -> BTreeMap<QuotaKey, String> {
    [
        (QuotaKey::Cpu, "2"),
        (QuotaKey::Memory, "4Gi"),
        (QuotaKey::MemoryLimits, "8Gi"),
        (QuotaKey::Storage, "20Gi"),
        (QuotaKey::Pods, "20"),
        (QuotaKey::PersistentVolumeClaims, "10"),
    ]
    .into_iter()
    .map(|(key, value)| (key, value.to_string()))
    .collect()
}

block! {
    pub struct NamespacesConfig {
        /// Namespaces of this deployment no tenant may claim, besides
        /// `namespaces::WELL_KNOWN` and the floor (`default`, `kube-*`,
        /// `*-system`, the deployer's).
        pub reserved: Vec<String> = Vec::new(),
        /// Well-known platform namespaces this deployment gives to tenants.
        pub allow: Vec<String> = Vec::new(),
        pub require_prefix: bool = false,
        pub max_per_user: usize = 10,
        /// Labels forced onto every tenant namespace.
        pub labels: BTreeMap<String, String> = BTreeMap::new(),
        /// Annotations forced onto every tenant namespace.
        pub annotations: BTreeMap<String, String> = BTreeMap::new(),
        /// Label keys another controller stamps on namespaces, which
        /// Terraform leaves alone (`ignore_changes`).
        pub ignore_label_changes: Vec<String> = Vec::new(),
    }
}

block! {
    pub struct TlsConfig {
        pub mode: TlsMode = TlsMode::CertManager,
        pub issuer: String = "letsencrypt-prod".into(),
        #[serde(deserialize_with = "check::issuer_kind")]
        pub issuer_kind: String = "ClusterIssuer".into(),
        /// `mode = "module"`: the module each tenant namespace calls,
        /// relative to the TLS stack's directory.
        #[serde(deserialize_with = "check::module_source")]
        pub module_source: String = "../../modules/kubernetes/setup_tls_secret".into(),
        /// Argument name → Terraform expression, passed to every call.
        #[serde(deserialize_with = "check::module_arguments")]
        pub module_arguments: BTreeMap<String, String> = BTreeMap::new(),
        /// The argument that gets the namespace, as a string.
        #[serde(deserialize_with = "check::argument_name")]
        pub namespace_argument: String = "namespace".into(),
    }
}

/// What each tenant namespace gets for TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum TlsMode {
    /// A cert-manager Certificate for `*.<namespace>.<zone>`.
    CertManager,
    /// A call of a hand-written module (`tls.module_source`).
    Module,
    /// Nothing: TLS is handled outside tenantgen.
    None,
}

impl TryFrom<String> for TlsMode {
    type Error = String;

    fn try_from(name: String) -> Result<TlsMode, String> {
        match name.as_str() {
            "cert-manager" => Ok(TlsMode::CertManager),
            "module" => Ok(TlsMode::Module),
            "none" => Ok(TlsMode::None),
            _ => Err(format!(
                "must be \"cert-manager\", \"module\" or \"none\", not {name:?}"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub enum CloudflareVersion {
    V4,
    V5,
}

impl TryFrom<u64> for CloudflareVersion {
    type Error = String;

    fn try_from(version: u64) -> Result<CloudflareVersion, String> {
        match version {
            4 => Ok(CloudflareVersion::V4),
            5 => Ok(CloudflareVersion::V5),
            _ => Err(format!(
                "must be 4 (cloudflare_record) or 5 (cloudflare_dns_record), not {version}"
            )),
        }
    }
}

block! {
    pub struct DnsConfig {
        pub provider_version: CloudflareVersion = CloudflareVersion::V4,
        /// Terraform expression for the zone id.
        #[serde(deserialize_with = "check::expression")]
        pub zone_id: String = "var.tenantgen_cloudflare_zone_id".into(),
        /// `CNAME`, `A` or `AAAA`; checked with `target` (`check::dns`).
        #[serde(rename = "type")]
        pub record_type: String = "CNAME".into(),
        pub target: String = "ingress.example.com".into(),
        /// A Terraform expression for the target instead of `target`, e.g.
        /// "\"${var.cloudflare_tunnel_id}.cfargotunnel.com\"".
        #[serde(deserialize_with = "check::optional_expression")]
        pub target_expression: Option<String> = None,
        pub proxied: bool = true,
        /// 1 is Cloudflare's "automatic"; otherwise seconds, 30 to 86400.
        #[serde(deserialize_with = "check::dns_ttl")]
        pub ttl: u64 = 1,
        /// Record names in full, or relative to the zone.
        pub names: DnsNames = DnsNames::Fqdn,
        /// Whose domains get records.
        #[serde(rename = "for")]
        pub scope: DnsScope = DnsScope::Everyone,
    }
}

/// How a record's name is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DnsNames {
    /// `myapp.example.com`.
    Fqdn,
    /// `myapp`, relative to the zone.
    Short,
}

impl TryFrom<String> for DnsNames {
    type Error = String;

    fn try_from(name: String) -> Result<DnsNames, String> {
        match name.as_str() {
            "fqdn" => Ok(DnsNames::Fqdn),
            "short" => Ok(DnsNames::Short),
            _ => Err(format!("must be \"fqdn\" or \"short\", not {name:?}")),
        }
    }
}

/// Which users' domains get DNS records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum DnsScope {
    Everyone,
    NamespaceOwners,
}

impl TryFrom<String> for DnsScope {
    type Error = String;

    fn try_from(name: String) -> Result<DnsScope, String> {
        match name.as_str() {
            "everyone" => Ok(DnsScope::Everyone),
            "namespace-owners" => Ok(DnsScope::NamespaceOwners),
            _ => Err(format!(
                "must be \"everyone\" or \"namespace-owners\", not {name:?}"
            )),
        }
    }
}

impl DnsConfig {
    /// Whether users of `role` get records for their domains.
    pub fn covers(&self, role: Role) -> bool {
        self.scope == DnsScope::Everyone || role == Role::NamespaceOwner
    }
}

block! {
    pub struct WoodpeckerConfig {
        pub static_admins: Vec<String> = vec!["admin".into()],
    }
}

/// One `app "NAME" { ... }` block; both keys are required.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Pattern with `{user}` and `{zone}` placeholders.
    pub domain: String,
    /// Pattern with `{user}` placeholder, reported as a manual step.
    pub nfs_path: String,
}

fn default_apps() -> BTreeMap<String, AppConfig> {
    [
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
    .collect()
}

/// One `addon "NAME" { ... }` block: a template of the operator's, rendered
/// into `stack` per user, per namespace or once (src/addon.rs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddonConfig {
    /// Relative to the config file's directory until resolved.
    pub template: PathBuf,
    #[serde(rename = "for")]
    pub scope: AddonScope,
    /// Only users of these roles; `None`: every role.
    #[serde(default, deserialize_with = "check::roles")]
    pub roles: Option<Vec<Role>>,
    /// Stack directory under the output root, plain relative segments.
    #[serde(deserialize_with = "check::stack")]
    pub stack: String,
    /// The template's text, read when the config is loaded.
    #[serde(skip)]
    pub source: String,
}

/// What one rendering of an add-on template covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum AddonScope {
    User,
    Namespace,
    Stack,
}

impl TryFrom<String> for AddonScope {
    type Error = String;

    fn try_from(name: String) -> Result<AddonScope, String> {
        match name.as_str() {
            "user" => Ok(AddonScope::User),
            "namespace" => Ok(AddonScope::Namespace),
            "stack" => Ok(AddonScope::Stack),
            _ => Err(format!(
                "must be \"user\", \"namespace\" or \"stack\", not {name:?}"
            )),
        }
    }
}

impl AddonConfig {
    /// Whether users of `role` get this add-on.
    pub fn covers(&self, role: Role) -> bool {
        self.roles
            .as_ref()
            .is_none_or(|roles| roles.contains(&role))
    }
}

block! {
    /// Optional isolation extra: a NetworkPolicy per tenant namespace.
    pub struct NetworkPolicyConfig {
        /// Namespaces besides the tenant's own that may send traffic in.
        pub allow_from_namespaces: Vec<String> = Vec::new(),
    }
}

block! {
    /// Optional isolation extra: a LimitRange with container defaults per tenant namespace.
    pub struct LimitRangeConfig {
        #[serde(deserialize_with = "check::quantity")]
        pub default_cpu: String = "500m".into(),
        #[serde(deserialize_with = "check::quantity")]
        pub default_memory: String = "512Mi".into(),
        #[serde(deserialize_with = "check::quantity")]
        pub default_request_cpu: String = "100m".into(),
        #[serde(deserialize_with = "check::quantity")]
        pub default_request_memory: String = "128Mi".into(),
    }
}

impl AppConfig {
    /// The instance's domain; a `_` of the username is written `-`.
    pub fn domain_for(&self, user: &str, zone: &str) -> String {
        self.domain
            .replace("{user}", &crate::names::kubernetes_form(user))
            .replace("{zone}", zone)
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
                // `exists` follows links: a dangling one would look like no
                // config at all and silently give the built-in defaults.
                match std::fs::symlink_metadata(&candidate) {
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        return Ok((Config::default(), None));
                    }
                    Ok(metadata) if metadata.is_symlink() && !candidate.exists() => {
                        let target = std::fs::read_link(&candidate)
                            .map(|target| format!(" to {}", target.display()))
                            .unwrap_or_default();
                        anyhow::bail!(
                            "config file {} is a symbolic link{target} that leads nowhere; fix the link, or remove it to use the built-in defaults",
                            candidate.display()
                        );
                    }
                    _ => {}
                }
                candidate
            }
        };
        // Parse errors quote the text: a link must not make it another file.
        crate::repo::link_stays_beside(&path)
            .map_err(|why| anyhow::anyhow!("config file: {why}"))?;
        let cannot = || {
            format!(
                "cannot read config file {}; check the path given to --config",
                path.display()
            )
        };
        // Bounded like the users file (src/source.rs): the path may name a
        // device or a FIFO.
        const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
        let bytes = match crate::source::read_regular(&path, MAX_CONFIG_BYTES)
            .with_context(cannot)?
        {
            Bounded::Read(bytes) => bytes,
            Bounded::NotRegular(kind) => anyhow::bail!(
                "config file {} is {kind}, not a regular file; check the path given to --config",
                path.display()
            ),
            Bounded::TooLarge(_) => anyhow::bail!(
                "config file {} holds more than 1 MiB, so it is not a tenantgen.hcl; check the path given to --config",
                path.display()
            ),
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!(
                "config file {} is not UTF-8 text; save it as UTF-8",
                path.display()
            )
        })?;
        let base = path.parent().unwrap_or(working_dir);
        let what = format!("config file {}", path.display());
        let config = Config::read(&text, base, &what)?;
        Ok((config, Some(path)))
    }

    /// Parses config text; relative paths in it are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        Config::read(text, base, "config file")
    }

    /// `what` names the text in the error, e.g. `config file ./tenantgen.hcl`.
    fn read(text: &str, base: &Path, what: &str) -> Result<Config> {
        let mut problems: Vec<Problem> = Vec::new();
        let mut config =
            read::read(text, &mut problems).with_context(|| format!("invalid {what}"))?;
        problems.extend(check::across_keys(&config));
        problems.extend(config.resolve_paths(base));
        problems.extend(crate::addon::load_templates(&mut config.addons, base));
        Problems::new(what, problems)
            .hint("every key is described in the README's configuration reference")
            .into_result()?;
        Ok(config)
    }

    /// Resolves the config's paths against `base`, the repository
    /// ([`crate::repo`]): each must stay inside it.
    fn resolve_paths(&mut self, base: &Path) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut confine = |key: &str, path: &mut PathBuf, is_root: bool| {
            let resolved = if is_root {
                crate::repo::root_inside(base, path)
            } else {
                crate::repo::inside(base, path)
            };
            match resolved {
                Ok(inside) => *path = inside,
                Err(why) => problems.push(Problem::new(key, why)),
            }
        };
        if let Some(path) = &mut self.users_file {
            confine("users_file", path, false);
        }
        confine("out", &mut self.out, true);
        if let Some(path) = &mut self.vault.secret_id_file {
            confine("vault.secret_id_file", path, false);
        }
        // Unset, the in-cluster token is built in (source/vault/routing.rs).
        if let Some(path) = &mut self.vault.jwt_path {
            confine("vault.jwt_path", path, false);
        }
        problems
    }

    /// The folder of the KV mount whose secrets `namespace`'s owner may
    /// manage: `alice-dev`, or `tenants/alice-dev` under a tenant prefix.
    pub fn tenant_folder(&self, namespace: &str) -> String {
        if self.vault.tenant_prefix.is_empty() {
            namespace.to_string()
        } else {
            format!("{}/{namespace}", self.vault.tenant_prefix)
        }
    }

    /// The folders of KV secrets a user's policy covers.
    pub fn tenant_folders(&self, user: &crate::model::User) -> Vec<String> {
        match self.vault.policy_scope {
            PolicyScope::Namespace => user
                .namespaces
                .iter()
                .map(|namespace| self.tenant_folder(namespace))
                .collect(),
            PolicyScope::User if user.namespaces.is_empty() => Vec::new(),
            PolicyScope::User => vec![self.tenant_folder(&user.name)],
        }
    }

    /// Whether the users secret (`vault.path`) is `namespace`'s folder or
    /// inside it, or a secret of that name beside it at the same level.
    pub fn users_secret_beside(&self, namespace: &str) -> bool {
        let folder = self.tenant_folder(namespace);
        let path = &self.vault.path;
        path == &folder || path.starts_with(&format!("{folder}/"))
    }
}

#[cfg(test)]
mod tests;
