//! Stage 3: what each stack gets.
//!
//! Every name that reaches Terraform, Kubernetes or Vault is decided here,
//! so templates only lay things out and the plan can be checked as a whole.

use std::collections::BTreeMap;

use serde::Serialize;

pub mod adoption;
pub mod lifecycle;

use crate::config::{CloudflareVersion, Config};
use crate::escape::identifier;
use crate::model::{Role, Tenants, User};
use crate::names::{MANAGED_BY_LABEL, TENANT_LABEL};

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub types: ResourceTypes,
    pub vault: VaultStack,
    pub platform: PlatformStack,
    pub woodpecker: WoodpeckerStack,
    pub factories: Vec<Factory>,
    /// `moved` blocks from a `for_each` deployment, when the config adopts one.
    pub adoption: Option<adoption::Adoption>,
}

/// The Kubernetes resource types of tenant objects: the `_v1` types, or the
/// legacy ones an adopted `for_each` deployment used (moves keep their type).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceTypes {
    pub namespace: &'static str,
    pub role_binding: &'static str,
    pub cluster_role_binding: &'static str,
    pub resource_quota: &'static str,
}

impl ResourceTypes {
    pub fn new(legacy: bool) -> ResourceTypes {
        if legacy {
            ResourceTypes {
                namespace: "kubernetes_namespace",
                role_binding: "kubernetes_role_binding",
                cluster_role_binding: "kubernetes_cluster_role_binding",
                resource_quota: "kubernetes_resource_quota",
            }
        } else {
            ResourceTypes {
                namespace: "kubernetes_namespace_v1",
                role_binding: "kubernetes_role_binding_v1",
                cluster_role_binding: "kubernetes_cluster_role_binding_v1",
                resource_quota: "kubernetes_resource_quota_v1",
            }
        }
    }
}

/// A Terraform variable a generated stack declares for itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variable {
    pub name: String,
    pub description: String,
}

/// A Terraform expression from the config, written into HCL unquoted.
pub type Expression = String;

#[derive(Debug, Clone, Serialize)]
pub struct VaultStack {
    pub variables: Vec<Variable>,
    pub tenants: Vec<VaultTenant>,
    /// Namespaces released from or re-adopted into Terraform's state.
    pub lifecycle: lifecycle::Lifecycle,
}

#[derive(Debug, Clone, Serialize)]
pub struct VaultTenant {
    pub user: String,
    pub role: Role,
    pub namespaces: Vec<Namespace>,
    pub policy: Policy,
    pub entity: Entity,
    pub alias: EntityAlias,
    pub deployer_roles: Vec<DeployerRole>,
    /// Labels of every namespace of the tenant (kept once, not per namespace).
    pub namespace_labels: BTreeMap<String, String>,
    pub namespace_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Namespace {
    pub tf: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub tf: String,
    pub name: String,
    pub rules: Vec<PolicyRule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyRule {
    pub path: String,
    pub capabilities: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entity {
    pub tf: String,
    pub name: String,
    /// Terraform names of the `vault_policy` resources the entity carries.
    pub policies: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityAlias {
    pub tf: String,
    /// The user's OIDC identity.
    pub name: String,
    pub mount_accessor: Expression,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployerRole {
    pub tf: String,
    pub name: String,
    pub namespace: String,
    /// Terraform names of the `vault_policy` resources the role's tokens get.
    pub policies: Vec<String>,
    pub backend: String,
    pub service_account: String,
    pub service_account_namespace: String,
    pub ttl_seconds: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlatformStack {
    pub variables: Vec<Variable>,
    /// The cluster read-only role, generated once when a namespace-owner needs it.
    pub read_only_role: Option<SharedClusterRole>,
    /// The shared power-user role, generated once when a power-user needs it.
    pub power_user_role: Option<SharedClusterRole>,
    pub tenants: Vec<PlatformTenant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SharedClusterRole {
    pub tf: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlatformTenant {
    pub user: String,
    pub role: Role,
    pub subject: String,
    /// Labels of every object the tenant gets in this stack.
    pub labels: BTreeMap<String, String>,
    pub namespaces: Vec<TenantNamespace>,
    pub cluster_binding: ClusterBinding,
    pub dns_records: Vec<DnsRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantNamespace {
    pub name: String,
    pub admin_binding: Binding,
    pub quota: Quota,
    pub certificate: Certificate,
    pub network_policy: Option<NetworkPolicy>,
    pub limit_range: Option<LimitRange>,
}

/// A namespaced RoleBinding to a ClusterRole.
#[derive(Debug, Clone, Serialize)]
pub struct Binding {
    pub tf: String,
    pub name: String,
    pub cluster_role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quota {
    pub tf: String,
    pub name: String,
    /// `spec.hard`, sorted by resource name.
    pub hard: BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    pub tf: String,
    pub name: String,
    pub secret_name: String,
    pub dns_names: Vec<String>,
    pub issuer: String,
    pub issuer_kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NetworkPolicy {
    pub tf: String,
    pub name: String,
    pub allow_from_namespaces: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitRange {
    pub tf: String,
    pub name: String,
    pub default_cpu: String,
    pub default_memory: String,
    pub default_request_cpu: String,
    pub default_request_memory: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterBinding {
    pub tf: String,
    pub name: String,
    pub cluster_role: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DnsRecord {
    /// `cloudflare_record` (provider 4) or `cloudflare_dns_record` (provider 5).
    pub resource_type: &'static str,
    pub tf: String,
    pub zone_id: Expression,
    pub name: String,
    pub record_type: String,
    pub content: String,
    pub proxied: bool,
    pub comment: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WoodpeckerStack {
    /// Static admins and every namespace-owner, sorted and unique.
    pub admins: Vec<String>,
    pub tenants: Vec<WoodpeckerTenant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WoodpeckerTenant {
    pub user: String,
    /// Labels of every object the tenant gets in this stack.
    pub labels: BTreeMap<String, String>,
    /// Lets the CI deployer deploy into each of the tenant's namespaces.
    pub deployer_bindings: Vec<DeployerBinding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployerBinding {
    pub tf: String,
    pub name: String,
    pub namespace: String,
    pub cluster_role: String,
    pub service_account: String,
    pub service_account_namespace: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Factory {
    pub app: String,
    pub instances: Vec<AppInstance>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AppInstance {
    pub tf: String,
    pub user: String,
    pub domain: String,
    pub nfs_path: String,
}

/// Name of the read-only ClusterRole every namespace-owner is bound to.
pub const READ_ONLY_ROLE: &str = "tenantgen-read-only";
/// Name of the shared power-user ClusterRole.
pub const POWER_USER_ROLE: &str = "tenantgen-power-user";

/// Decides every stack's content from the validated tenants.
pub fn build(tenants: &Tenants, config: &Config) -> Plan {
    let users = &tenants.users;
    let types = ResourceTypes::new(
        config
            .adopt
            .as_ref()
            .is_some_and(|adopt| adopt.legacy_resource_types),
    );
    let vault = vault_stack(users, config);
    let platform = platform_stack(users, config);
    let adoption = config
        .adopt
        .as_ref()
        .map(|adopt| adoption::plan(adopt, &types, &vault.tenants, &platform.tenants));
    Plan {
        types,
        vault,
        platform,
        woodpecker: woodpecker_stack(users, config),
        factories: factories(users, config),
        adoption,
    }
}

fn labels_for(user: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), "tenantgen".to_string()),
        (TENANT_LABEL.to_string(), user.to_string()),
    ])
}

fn managed_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(MANAGED_BY_LABEL.to_string(), "tenantgen".to_string())])
}

/// `var.tenantgen_x` expressions name variables the stack declares itself.
fn own_variable(expression: &str, description: &str) -> Option<Variable> {
    let name = expression.strip_prefix("var.")?;
    let is_identifier = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (name.starts_with("tenantgen_") && is_identifier).then(|| Variable {
        name: name.to_string(),
        description: description.to_string(),
    })
}

fn vault_stack(users: &[User], config: &Config) -> VaultStack {
    let tenants: Vec<VaultTenant> = users
        .iter()
        .filter(|user| !user.namespaces.is_empty())
        .map(|user| vault_tenant(user, config))
        .collect();
    let variables = if tenants.is_empty() {
        Vec::new()
    } else {
        own_variable(
            &config.vault.oidc_accessor,
            "Accessor of the OIDC auth mount that tenant identities log in through.",
        )
        .into_iter()
        .collect()
    };
    VaultStack {
        variables,
        tenants,
        lifecycle: lifecycle::Lifecycle::default(),
    }
}

fn vault_tenant(user: &User, config: &Config) -> VaultTenant {
    let user_tf = identifier(&user.name);
    let mount = &config.vault.mount;
    let data_rules = user.namespaces.iter().map(|namespace| PolicyRule {
        path: format!("{mount}/data/{namespace}/*"),
        capabilities: vec!["create", "read", "update", "delete", "list"],
    });
    let metadata_rules = user.namespaces.iter().map(|namespace| PolicyRule {
        path: format!("{mount}/metadata/{namespace}/*"),
        capabilities: vec!["list"],
    });
    let mut labels = labels_for(&user.name);
    labels.extend(config.namespaces.labels.clone());
    VaultTenant {
        user: user.name.clone(),
        role: user.role,
        namespaces: user
            .namespaces
            .iter()
            .map(|namespace| Namespace {
                tf: identifier(namespace),
                name: namespace.clone(),
            })
            .collect(),
        namespace_labels: labels,
        namespace_annotations: config.namespaces.annotations.clone(),
        policy: Policy {
            tf: user_tf.clone(),
            name: format!("namespace-owner-{}", user.name),
            rules: data_rules.chain(metadata_rules).collect(),
        },
        entity: Entity {
            tf: user_tf.clone(),
            name: user.name.clone(),
            policies: vec![user_tf.clone()],
        },
        alias: EntityAlias {
            tf: user_tf,
            name: user.email.clone(),
            mount_accessor: config.vault.oidc_accessor.clone(),
        },
        deployer_roles: user
            .namespaces
            .iter()
            .map(|namespace| DeployerRole {
                tf: format!("{}_deployer", identifier(namespace)),
                name: format!("{namespace}-deployer"),
                namespace: namespace.clone(),
                policies: vec![identifier(&user.name)],
                backend: config.vault.kubernetes_backend.clone(),
                service_account: config.deployer.service_account.clone(),
                service_account_namespace: config.deployer.namespace.clone(),
                ttl_seconds: config.deployer.ttl_seconds,
            })
            .collect(),
    }
}

fn platform_stack(users: &[User], config: &Config) -> PlatformStack {
    let tenants: Vec<PlatformTenant> = users
        .iter()
        .map(|user| platform_tenant(user, config))
        .collect();
    let needs_role = |role: Role| users.iter().any(|user| user.role == role);
    let shared_role = |name: &str| SharedClusterRole {
        tf: identifier(name),
        name: name.to_string(),
        labels: managed_labels(),
    };
    let has_records = tenants.iter().any(|tenant| !tenant.dns_records.is_empty());
    let variables = if has_records {
        own_variable(
            &config.dns.zone_id,
            "Cloudflare zone id of the managed zone.",
        )
        .into_iter()
        .collect()
    } else {
        Vec::new()
    };
    PlatformStack {
        variables,
        read_only_role: needs_role(Role::NamespaceOwner).then(|| shared_role(READ_ONLY_ROLE)),
        power_user_role: needs_role(Role::PowerUser).then(|| shared_role(POWER_USER_ROLE)),
        tenants,
    }
}

fn platform_tenant(user: &User, config: &Config) -> PlatformTenant {
    let user_tf = identifier(&user.name);
    let labels = labels_for(&user.name);
    let cluster_binding = match user.role {
        Role::NamespaceOwner => ClusterBinding {
            tf: format!("{user_tf}_read_only"),
            name: format!("{}-read-only", user.name),
            cluster_role: READ_ONLY_ROLE.to_string(),
        },
        Role::PowerUser => ClusterBinding {
            tf: format!("{user_tf}_power_user"),
            name: format!("{}-power-user", user.name),
            cluster_role: POWER_USER_ROLE.to_string(),
        },
        Role::Admin => ClusterBinding {
            tf: format!("{user_tf}_cluster_admin"),
            name: format!("{}-cluster-admin", user.name),
            cluster_role: "cluster-admin".to_string(),
        },
    };
    let namespaces = user
        .namespaces
        .iter()
        .map(|namespace| {
            let namespace_tf = identifier(namespace);
            TenantNamespace {
                name: namespace.clone(),
                admin_binding: Binding {
                    tf: format!("{namespace_tf}_admin"),
                    name: format!("{}-admin", user.name),
                    cluster_role: "admin".to_string(),
                },
                quota: Quota {
                    tf: namespace_tf.clone(),
                    name: format!("{namespace}-quota"),
                    hard: user
                        .quota
                        .iter()
                        .map(|(key, value)| (key.resource(), value.clone()))
                        .collect(),
                },
                certificate: Certificate {
                    tf: format!("{namespace_tf}_tls"),
                    name: format!("tls-{namespace}"),
                    secret_name: format!("tls-{namespace}"),
                    dns_names: vec![format!("*.{namespace}.{}", config.zone)],
                    issuer: config.tls.issuer.clone(),
                    issuer_kind: config.tls.issuer_kind.clone(),
                },
                network_policy: config.network_policy.as_ref().map(|policy| NetworkPolicy {
                    tf: namespace_tf.clone(),
                    name: "tenantgen-isolation".to_string(),
                    allow_from_namespaces: policy.allow_from_namespaces.clone(),
                }),
                limit_range: config.limit_range.as_ref().map(|limits| LimitRange {
                    tf: namespace_tf.clone(),
                    name: "tenantgen-defaults".to_string(),
                    default_cpu: limits.default_cpu.clone(),
                    default_memory: limits.default_memory.clone(),
                    default_request_cpu: limits.default_request_cpu.clone(),
                    default_request_memory: limits.default_request_memory.clone(),
                }),
            }
        })
        .collect();
    let resource_type = match config.dns.provider_version {
        CloudflareVersion::V4 => "cloudflare_record",
        CloudflareVersion::V5 => "cloudflare_dns_record",
    };
    let dns_records = user
        .domains
        .iter()
        .map(|domain| {
            let relative = domain
                .strip_suffix(&format!(".{}", config.zone))
                .unwrap_or(domain);
            DnsRecord {
                resource_type,
                tf: dns_identifier(relative),
                zone_id: config.dns.zone_id.clone(),
                name: domain.clone(),
                record_type: config.dns.record_type.clone(),
                content: config.dns.target.clone(),
                proxied: config.dns.proxied,
                comment: format!("tenantgen: {}", user.name),
            }
        })
        .collect();
    PlatformTenant {
        user: user.name.clone(),
        role: user.role,
        subject: user.email.clone(),
        labels,
        namespaces,
        cluster_binding,
        dns_records,
    }
}

/// Identifier for a name relative to the zone: labels joined by `_`, dashes
/// kept (both are valid in Terraform names), so distinct names never collide.
fn dns_identifier(relative: &str) -> String {
    let mut out = String::with_capacity(relative.len() + 1);
    if relative.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(relative.chars().map(|c| if c == '.' { '_' } else { c }));
    out
}

fn woodpecker_stack(users: &[User], config: &Config) -> WoodpeckerStack {
    let mut admins: Vec<String> = config.woodpecker.static_admins.clone();
    admins.extend(
        users
            .iter()
            .filter(|user| user.role == Role::NamespaceOwner)
            .map(|user| user.name.clone()),
    );
    admins.sort();
    admins.dedup();
    let tenants = users
        .iter()
        .filter(|user| !user.namespaces.is_empty())
        .map(|user| WoodpeckerTenant {
            user: user.name.clone(),
            labels: labels_for(&user.name),
            deployer_bindings: user
                .namespaces
                .iter()
                .map(|namespace| DeployerBinding {
                    tf: format!("{}_deployer", identifier(namespace)),
                    name: format!("{namespace}-deployer"),
                    namespace: namespace.clone(),
                    cluster_role: "edit".to_string(),
                    service_account: config.deployer.service_account.clone(),
                    service_account_namespace: config.deployer.namespace.clone(),
                })
                .collect(),
        })
        .collect();
    WoodpeckerStack { admins, tenants }
}

fn factories(users: &[User], config: &Config) -> Vec<Factory> {
    config
        .apps
        .iter()
        .map(|(app, app_config)| Factory {
            app: app.clone(),
            instances: users
                .iter()
                .filter(|user| user.apps.contains(app))
                .map(|user| AppInstance {
                    tf: identifier(&user.name),
                    user: user.name.clone(),
                    domain: app_config.domain_for(&user.name, &config.zone),
                    nfs_path: app_config.nfs_path_for(&user.name),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_plan() -> (Plan, Config) {
        let users = serde_json::json!({
            "alice": {"role": "namespace-owner", "namespaces": ["alice-a", "alice-b"], "domains": ["alice.example.com"], "apps": ["freedify"]},
            "dave": {"role": "power-user"},
            "erin": {"role": "admin"}
        });
        let raw = crate::source::parse(users.to_string().as_bytes(), "test").unwrap();
        let config = Config::default();
        let tenants = crate::model::build(&raw, &config, false).unwrap().tenants;
        (build(&tenants, &config), config)
    }

    fn problems(plan: &Plan, config: &Config) -> Vec<String> {
        check(plan, &config.woodpecker.static_admins)
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn a_plan_from_valid_users_is_consistent() {
        let (plan, config) = example_plan();
        assert_eq!(problems(&plan, &config), Vec::<String>::new());
        // vault 2 namespaces, policy, entity, alias, 2 roles; platform 2 shared roles, 3 per
        // namespace, 3 cluster bindings, 1 record; woodpecker 2 bindings; 1 module.
        assert_eq!(plan.addresses().len(), 7 + 12 + 2 + 1);
    }

    #[test]
    fn every_cross_stack_rule_is_enforced() {
        let (mut plan, config) = example_plan();
        plan.vault.tenants[0].namespaces.pop();
        plan.vault.tenants[0].entity.policies = vec!["ghost".into()];
        plan.vault.tenants[0].deployer_roles[1].policies = vec!["phantom".into()];
        plan.woodpecker.admins.push("mallory".into());
        let duplicate = plan.platform.tenants[0].dns_records[0].clone();
        plan.platform.tenants[0].dns_records.push(duplicate);
        let binding = plan.platform.tenants[1].cluster_binding.clone();
        plan.platform.tenants[2].cluster_binding.name = binding.name;
        let role = plan.vault.tenants[0].deployer_roles[0].name.clone();
        plan.vault.tenants[0].deployer_roles[1].name = role;
        let found = problems(&plan, &config).join("\n");
        for expected in [
            "platform binds and limits namespace \"alice-b\" of alice, which the vault stack does not create",
            "woodpecker lets the deployer into namespace \"alice-b\"",
            "entity alice names policy vault_policy.ghost, which is not generated",
            "names policy vault_policy.phantom",
            "CI admin \"mallory\" is neither a namespace-owner nor a static admin",
            "two blocks share the address platform: cloudflare_record.alice",
            "two Kubernetes ClusterRoleBinding objects are named \"dave-power-user\"",
            "two Vault auth role objects are named \"alice-a-deployer\" on kubernetes",
        ] {
            assert!(
                found.contains(expected),
                "missing {expected:?} in:\n{found}"
            );
        }
    }

    #[test]
    fn lifecycle_and_adoption_blocks_are_checked_against_the_plan() {
        let (mut plan, config) = example_plan();
        let managed = plan.vault.tenants[0].namespaces[0].clone();
        let reference = |tf: &str, name: &str| lifecycle::NamespaceRef {
            tf: tf.into(),
            name: name.into(),
            user: "alice".into(),
        };
        plan.vault
            .lifecycle
            .removed
            .push(reference(&managed.tf, &managed.name));
        plan.vault
            .lifecycle
            .imports
            .push(reference("ghost", "ghost"));
        plan.adoption = Some(adoption::Adoption {
            vault: vec![adoption::Move {
                from: "kubernetes_namespace.user_namespace".into(),
                key: "ghost".into(),
                to: "kubernetes_namespace_v1.ghost".into(),
            }],
            ..Default::default()
        });
        let found = problems(&plan, &config).join("\n");
        for expected in [
            format!("namespace {} is both managed and released", managed.name),
            "namespace ghost is imported but not managed".to_string(),
            "vault: a moved block targets kubernetes_namespace_v1.ghost, which is not generated"
                .to_string(),
        ] {
            assert!(
                found.contains(&expected),
                "missing {expected:?} in:\n{found}"
            );
        }
    }

    #[test]
    fn dns_identifiers_never_collide() {
        assert_eq!(dns_identifier("app.alice"), "app_alice");
        assert_ne!(dns_identifier("a-b.c"), dns_identifier("a.b-c"));
        assert_eq!(dns_identifier("1.alice"), "_1_alice");
    }

    #[test]
    fn only_tenantgen_variables_are_declared() {
        assert_eq!(
            own_variable("var.tenantgen_zone", "d").map(|v| v.name),
            Some("tenantgen_zone".into())
        );
        assert!(own_variable("var.zone", "d").is_none());
        assert!(own_variable("vault_jwt_auth_backend.oidc.accessor", "d").is_none());
    }
}

/// A Terraform block a stack directory gets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// The stack directory, relative to the output root.
    pub dir: String,
    /// `resource` or `module`.
    pub block: &'static str,
    /// The resource type (empty for modules).
    pub kind: String,
    pub name: String,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.block {
            "module" => write!(f, "{}: module.{}", self.dir, self.name),
            _ => write!(f, "{}: {}.{}", self.dir, self.kind, self.name),
        }
    }
}

impl Plan {
    /// Every resource and module block the plan implies, stack by stack.
    pub fn addresses(&self) -> Vec<Address> {
        let mut out = Vec::new();
        self.visit_addresses(|dir, dir_suffix, kind, name| {
            out.push(Address {
                dir: format!("{dir}{dir_suffix}"),
                block: if kind.is_empty() {
                    "module"
                } else {
                    "resource"
                },
                kind: kind.to_string(),
                name: name.to_string(),
            });
        });
        out
    }

    /// Calls `visit(dir, dir_suffix, resource_type, name)` for every block;
    /// modules have an empty resource type. Borrowed, so checking is cheap.
    fn visit_addresses<'a>(
        &'a self,
        mut visit: impl FnMut(&'a str, &'static str, &'a str, &'a str),
    ) {
        for tenant in &self.vault.tenants {
            for namespace in &tenant.namespaces {
                visit("vault", "", self.types.namespace, &namespace.tf);
            }
            visit("vault", "", "vault_policy", &tenant.policy.tf);
            visit("vault", "", "vault_identity_entity", &tenant.entity.tf);
            visit("vault", "", "vault_identity_entity_alias", &tenant.alias.tf);
            for role in &tenant.deployer_roles {
                visit("vault", "", "vault_kubernetes_auth_backend_role", &role.tf);
            }
        }
        let platform = &self.platform;
        for role in platform
            .read_only_role
            .iter()
            .chain(&platform.power_user_role)
        {
            visit("platform", "", "kubernetes_cluster_role_v1", &role.tf);
        }
        for tenant in &platform.tenants {
            for namespace in &tenant.namespaces {
                visit(
                    "platform",
                    "",
                    self.types.role_binding,
                    &namespace.admin_binding.tf,
                );
                visit(
                    "platform",
                    "",
                    self.types.resource_quota,
                    &namespace.quota.tf,
                );
                visit(
                    "platform",
                    "",
                    "kubernetes_manifest",
                    &namespace.certificate.tf,
                );
                if let Some(policy) = &namespace.network_policy {
                    visit("platform", "", "kubernetes_network_policy_v1", &policy.tf);
                }
                if let Some(limits) = &namespace.limit_range {
                    visit("platform", "", "kubernetes_limit_range_v1", &limits.tf);
                }
            }
            visit(
                "platform",
                "",
                self.types.cluster_role_binding,
                &tenant.cluster_binding.tf,
            );
            for record in &tenant.dns_records {
                visit("platform", "", record.resource_type, &record.tf);
            }
        }
        for tenant in &self.woodpecker.tenants {
            for binding in &tenant.deployer_bindings {
                visit("woodpecker", "", "kubernetes_role_binding_v1", &binding.tf);
            }
        }
        for factory in &self.factories {
            for instance in &factory.instances {
                visit(&factory.app, "/factory", "", &instance.tf);
            }
        }
    }

    /// Kubernetes objects as `(kind, namespace, name)`; cluster-scoped ones have no namespace.
    fn kubernetes_objects(&self) -> Vec<(&'static str, Option<&str>, &str)> {
        let mut out = Vec::new();
        for tenant in &self.vault.tenants {
            for namespace in &tenant.namespaces {
                out.push(("Namespace", None, namespace.name.as_str()));
            }
        }
        let platform = &self.platform;
        for role in platform
            .read_only_role
            .iter()
            .chain(&platform.power_user_role)
        {
            out.push(("ClusterRole", None, role.name.as_str()));
        }
        for tenant in &platform.tenants {
            for namespace in &tenant.namespaces {
                let ns = Some(namespace.name.as_str());
                out.push(("RoleBinding", ns, namespace.admin_binding.name.as_str()));
                out.push(("ResourceQuota", ns, namespace.quota.name.as_str()));
                out.push(("Certificate", ns, namespace.certificate.name.as_str()));
                if let Some(policy) = &namespace.network_policy {
                    out.push(("NetworkPolicy", ns, policy.name.as_str()));
                }
                if let Some(limits) = &namespace.limit_range {
                    out.push(("LimitRange", ns, limits.name.as_str()));
                }
            }
            out.push((
                "ClusterRoleBinding",
                None,
                tenant.cluster_binding.name.as_str(),
            ));
        }
        for tenant in &self.woodpecker.tenants {
            for binding in &tenant.deployer_bindings {
                out.push((
                    "RoleBinding",
                    Some(binding.namespace.as_str()),
                    binding.name.as_str(),
                ));
            }
        }
        out
    }

    /// Vault objects as `(kind, scope, name)`.
    fn vault_objects(&self) -> Vec<(&'static str, &str, &str)> {
        let mut out = Vec::new();
        for tenant in &self.vault.tenants {
            out.push(("policy", "", tenant.policy.name.as_str()));
            out.push(("entity", "", tenant.entity.name.as_str()));
            out.push((
                "entity alias",
                tenant.alias.mount_accessor.as_str(),
                tenant.alias.name.as_str(),
            ));
            for role in &tenant.deployer_roles {
                out.push(("auth role", role.backend.as_str(), role.name.as_str()));
            }
        }
        out
    }
}

/// The items that occur more than once, each reported once, in input order.
/// (FxHash: std's SipHash or sorting cost more than the rest of the check.)
fn repeats<T: Eq + std::hash::Hash + Copy>(items: Vec<T>) -> Vec<T> {
    let mut seen = rustc_hash::FxHashSet::default();
    seen.reserve(items.len());
    let mut reported = rustc_hash::FxHashSet::default();
    items
        .into_iter()
        .filter(|item| !seen.insert(*item) && reported.insert(*item))
        .collect()
}

/// Checks the plan as a whole before anything is rendered: what one stack
/// refers to, another creates; no two objects share an address or a name.
/// A problem here is a tenantgen bug, never bad input.
pub fn check(plan: &Plan, static_admins: &[String]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    // The namespaces the vault stack creates, by name and by Terraform name.
    let (created, namespace_tfs): (
        std::collections::BTreeSet<&str>,
        std::collections::BTreeSet<&str>,
    ) = plan
        .vault
        .tenants
        .iter()
        .flat_map(|tenant| {
            tenant
                .namespaces
                .iter()
                .map(|namespace| (namespace.name.as_str(), namespace.tf.as_str()))
        })
        .unzip();
    for tenant in &plan.platform.tenants {
        for namespace in &tenant.namespaces {
            if !created.contains(namespace.name.as_str()) {
                problems.push(format!(
                    "platform binds and limits namespace {:?} of {}, which the vault stack does not create",
                    namespace.name, tenant.user
                ));
            }
        }
    }
    for tenant in &plan.woodpecker.tenants {
        for binding in &tenant.deployer_bindings {
            if !created.contains(binding.namespace.as_str()) {
                problems.push(format!(
                    "woodpecker lets the deployer into namespace {:?} of {}, which the vault stack does not create",
                    binding.namespace, tenant.user
                ));
            }
        }
    }
    let policies: std::collections::BTreeSet<&str> = plan
        .vault
        .tenants
        .iter()
        .map(|tenant| tenant.policy.tf.as_str())
        .collect();
    for tenant in &plan.vault.tenants {
        let named = tenant
            .entity
            .policies
            .iter()
            .map(|policy| (format!("entity {}", tenant.entity.name), policy))
            .chain(tenant.deployer_roles.iter().flat_map(|role| {
                role.policies
                    .iter()
                    .map(move |policy| (format!("deployer role {}", role.name), policy))
            }));
        for (holder, policy) in named {
            if !policies.contains(policy.as_str()) {
                problems.push(format!(
                    "{holder} names policy vault_policy.{policy}, which is not generated"
                ));
            }
        }
    }
    let owners: std::collections::BTreeSet<&str> = plan
        .platform
        .tenants
        .iter()
        .filter(|tenant| tenant.role == Role::NamespaceOwner)
        .map(|tenant| tenant.user.as_str())
        .collect();
    for admin in &plan.woodpecker.admins {
        if !owners.contains(admin.as_str()) && !static_admins.contains(admin) {
            problems.push(format!(
                "CI admin {admin:?} is neither a namespace-owner nor a static admin"
            ));
        }
    }
    for released in &plan.vault.lifecycle.removed {
        if namespace_tfs.contains(released.tf.as_str()) {
            problems.push(format!(
                "namespace {} is both managed and released",
                released.name
            ));
        }
    }
    for imported in &plan.vault.lifecycle.imports {
        if !namespace_tfs.contains(imported.tf.as_str()) {
            problems.push(format!(
                "namespace {} is imported but not managed",
                imported.name
            ));
        }
    }
    let mut addresses = Vec::new();
    plan.visit_addresses(|dir, dir_suffix, kind, name| {
        addresses.push((dir, dir_suffix, kind, name))
    });
    if let Some(adoption) = &plan.adoption {
        let targets: std::collections::BTreeSet<(&str, String)> = addresses
            .iter()
            .map(|(dir, _, kind, name)| (*dir, format!("{kind}.{name}")))
            .collect();
        let moves = adoption
            .vault
            .iter()
            .map(|moved| ("vault", moved))
            .chain(adoption.platform.iter().map(|moved| ("platform", moved)));
        for (dir, moved) in moves {
            if !targets.contains(&(dir, moved.to.clone())) {
                problems.push(format!(
                    "{dir}: a moved block targets {}, which is not generated",
                    moved.to
                ));
            }
        }
    }
    for (dir, dir_suffix, kind, name) in repeats(addresses) {
        let what = if kind.is_empty() {
            format!("module.{name}")
        } else {
            format!("{kind}.{name}")
        };
        problems.push(format!(
            "two blocks share the address {dir}{dir_suffix}: {what}"
        ));
    }
    for (kind, namespace, name) in repeats(plan.kubernetes_objects()) {
        let place = namespace
            .map(|ns| format!(" in namespace {ns}"))
            .unwrap_or_default();
        problems.push(format!(
            "two Kubernetes {kind} objects are named {name:?}{place}"
        ));
    }
    for (kind, scope, name) in repeats(plan.vault_objects()) {
        let place = if scope.is_empty() {
            String::new()
        } else {
            format!(" on {scope}")
        };
        problems.push(format!(
            "two Vault {kind} objects are named {name:?}{place}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
