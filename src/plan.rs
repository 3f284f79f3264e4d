//! Stage 3: what each stack gets, as one list of objects.
//!
//! Every name that reaches Terraform, Kubernetes or Vault is decided here.
//! Each [`Object`] carries its stack, Terraform type and name, the kind and
//! name of what it manages, and the values its block needs; the templates
//! lay the list out, and the consistency check, adoption and the tests read
//! the same list. A new kind of object is a new [`Spec`] variant pushed
//! here plus a block in `templates/objects.tf.j2` (ARCHITECTURE.md walks
//! through one).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

pub mod adoption;
pub mod collisions;
pub mod lifecycle;

pub use crate::config::RbacRule;
use crate::config::{
    CloudflareVersion, Config, DeployerMode, DnsNames, Group, LayoutConfig, PolicyScope,
    SubjectClaim, TlsMode, name_from,
};
use crate::escape::identifier;
use crate::model::{Role, Tenants, User};
use crate::names::{MANAGED_BY_LABEL, TENANT_LABEL};

/// Kubernetes labels, shared by every object of a tenant.
pub type Labels = Arc<BTreeMap<String, String>>;

/// A Terraform expression from the config, written into HCL unquoted.
pub type Expression = String;

/// The stack each group of objects goes to, shared by the objects.
struct Stacks([Arc<str>; 7]);

impl Stacks {
    fn new(layout: &LayoutConfig) -> Stacks {
        Stacks(Group::ALL.map(|group| Arc::from(layout.stack(group))))
    }

    fn of(&self, group: Group) -> Arc<str> {
        self.0[group as usize].clone()
    }
}

/// Terraform name of the read-only ClusterRole every namespace-owner is
/// bound to (its Kubernetes name is `names.read_only_role`).
const READ_ONLY_ROLE_TF: &str = "tenantgen_read_only";
/// Terraform name of the shared power-user ClusterRole.
const POWER_USER_ROLE_TF: &str = "tenantgen_power_user";

/// Everything a render produces, decided before anything is rendered.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The one list: every resource and module block, grouped by the file
    /// it goes to (stack, then tenant), in file order.
    pub objects: Vec<Object>,
    /// Stack directories of the layout (not the app factories), in apply order.
    pub stacks: Vec<String>,
    pub layout: LayoutConfig,
    /// Variables each stack declares for itself, by stack directory.
    pub variables: BTreeMap<String, Vec<Variable>>,
    /// Forgejo logins with Woodpecker admin rights: static admins and every
    /// namespace-owner, sorted and unique.
    pub woodpecker_admins: Vec<String>,
    /// Every user's role, for the tenant files' headings.
    pub roles: BTreeMap<String, Role>,
    /// Apps in the config: each gets a factory, with or without instances.
    pub apps: Vec<String>,
    /// Namespaces released from or re-adopted into Terraform's state.
    pub lifecycle: lifecycle::Lifecycle,
    /// The namespace resource type, which lifecycle blocks name.
    pub namespace_type: &'static str,
    /// `moved` blocks from a `for_each` deployment, when the config adopts one.
    pub adoption: Option<adoption::Adoption>,
}

/// One block of generated Terraform and the object it manages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Object {
    /// The stack directory, relative to the output root.
    #[serde(skip)]
    pub stack: Arc<str>,
    /// The tenant it belongs to; `None` for objects shared by all.
    #[serde(skip)]
    pub user: Option<Arc<str>>,
    /// The Terraform resource type, or `module` for a module call.
    pub resource_type: &'static str,
    /// The Terraform name (the address is `resource_type.tf`).
    pub tf: String,
    /// What it is on the server: a Kubernetes kind (`RoleBinding`), a Vault
    /// object (`policy`), `DNS record`, `TLS module` (a module call per
    /// namespace) or `module` (an app instance).
    pub kind: &'static str,
    /// Its name on the server.
    pub name: String,
    /// The Kubernetes namespace of a namespaced object.
    pub namespace: Option<String>,
    /// Kubernetes labels (empty for other objects).
    pub labels: Labels,
    #[serde(flatten)]
    pub spec: Spec,
}

/// What a kind of object needs beyond its name, as its block's values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Spec {
    Namespace {
        annotations: BTreeMap<String, String>,
        /// Label keys another controller stamps, left to it.
        ignore_labels: Vec<String>,
    },
    /// A ClusterRole, or a Role in `namespace`.
    Role {
        /// Why the role exists, printed above it.
        comment: &'static str,
        rules: Arc<[RbacRule]>,
        /// Address of the namespace resource in the same stack, which must
        /// exist before a Role can be created in it.
        depends_on: Option<String>,
    },
    /// A RoleBinding or ClusterRoleBinding to a ClusterRole.
    Binding {
        /// The ClusterRole's name.
        cluster_role: String,
        /// Address of the generated ClusterRole in the same stack, which
        /// `role_ref` takes the name from: a binding to a role whose create
        /// failed is never applied. `None`: a role tenantgen does not write.
        role_resource: Option<String>,
        subject: Subject,
        /// Address of the namespace resource in the same stack: a binding
        /// is never applied in a namespace that was not created.
        depends_on: Option<String>,
    },
    ResourceQuota {
        /// `spec.hard`, sorted by resource name.
        hard: BTreeMap<&'static str, String>,
    },
    Certificate {
        secret_name: String,
        dns_names: Vec<String>,
        issuer: String,
        issuer_kind: String,
    },
    /// A call of the operator's TLS module for the object's namespace.
    TlsModule {
        source: String,
        /// The argument that gets the namespace.
        namespace_argument: String,
        /// Argument name → Terraform expression.
        arguments: BTreeMap<String, Expression>,
        /// Address of the namespace resource in the same stack: the
        /// namespace is passed as a string, which orders nothing.
        depends_on: Option<String>,
    },
    NetworkPolicy {
        allow_from_namespaces: Vec<String>,
    },
    LimitRange {
        default_cpu: String,
        default_memory: String,
        default_request_cpu: String,
        default_request_memory: String,
    },
    VaultPolicy {
        rules: Vec<PolicyRule>,
    },
    Entity {
        /// Terraform names of the `vault_policy` resources it carries.
        policies: Vec<String>,
        /// Names of policies written elsewhere that it carries too.
        extra_policies: Vec<String>,
    },
    EntityAlias {
        mount_accessor: Expression,
        /// Terraform name of the entity it belongs to.
        entity: String,
    },
    /// A Kubernetes auth role the CI deployer logs in through.
    AuthRole {
        backend: String,
        service_account: String,
        service_account_namespace: String,
        /// Terraform names of the `vault_policy` resources its tokens get.
        policies: Vec<String>,
        ttl_seconds: u64,
        max_ttl_seconds: u64,
    },
    /// A role of the Kubernetes secrets engine: tokens for one namespace's
    /// deployer Role.
    SecretBackendRole {
        backend: Expression,
        allowed_namespace: String,
        /// Address of the Role it issues tokens for, in this stack.
        role: String,
        role_type: &'static str,
        ttl_seconds: u64,
        max_ttl_seconds: u64,
    },
    DnsRecord {
        zone_id: Expression,
        record_type: String,
        content: String,
        /// Overrides `content` when the config gives an expression.
        content_expression: Option<Expression>,
        proxied: bool,
        ttl: u64,
        comment: String,
    },
    AppInstance {
        user: String,
        domain: String,
    },
}

/// The subject of a binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// `User` or `ServiceAccount`.
    pub kind: &'static str,
    pub name: String,
    pub namespace: Option<String>,
}

/// A Vault policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRule {
    pub path: String,
    pub capabilities: Arc<[String]>,
}

/// A Terraform variable a generated stack declares for itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Variable {
    pub name: String,
    pub description: String,
}

const READ: &[&str] = &["get", "list", "watch"];

/// Cluster-wide read access: no Secrets, and no exec, attach or
/// port-forward, which would let a reader act as the pod's service account.
fn read_only_rules() -> Vec<RbacRule> {
    vec![
        RbacRule::new(
            &[""],
            &[
                "configmaps",
                "endpoints",
                "events",
                "limitranges",
                "namespaces",
                "nodes",
                "persistentvolumeclaims",
                "persistentvolumes",
                "pods",
                "replicationcontrollers",
                "resourcequotas",
                "serviceaccounts",
                "services",
            ],
            READ,
        ),
        RbacRule::new(
            &["apps"],
            &["daemonsets", "deployments", "replicasets", "statefulsets"],
            READ,
        ),
        RbacRule::new(&["batch"], &["cronjobs", "jobs"], READ),
        RbacRule::new(
            &["networking.k8s.io"],
            &["ingressclasses", "ingresses", "networkpolicies"],
            READ,
        ),
        RbacRule::new(&["storage.k8s.io"], &["storageclasses"], READ),
        RbacRule::new(
            &["cert-manager.io"],
            &["certificates", "clusterissuers", "issuers"],
            READ,
        ),
    ]
}

/// Power-users read what namespace-owners read, and logs; the config may
/// add rules (README, "Who can do what").
fn power_user_rules(config: &Config) -> Vec<RbacRule> {
    let mut rules = read_only_rules();
    rules.push(RbacRule::new(
        &[""],
        &["pods/log"],
        &["get", "list", "watch"],
    ));
    rules.extend(config.power_user.extra_rules.iter().cloned());
    rules
}

/// The Kubernetes resource types: the `_v1` types, or the legacy ones an
/// adopted `for_each` deployment used (moves keep their type).
struct ResourceTypes {
    namespace: &'static str,
    role_binding: &'static str,
    cluster_role_binding: &'static str,
    resource_quota: &'static str,
    role: &'static str,
}

impl ResourceTypes {
    fn new(legacy: bool) -> ResourceTypes {
        if legacy {
            ResourceTypes {
                namespace: "kubernetes_namespace",
                role_binding: "kubernetes_role_binding",
                cluster_role_binding: "kubernetes_cluster_role_binding",
                resource_quota: "kubernetes_resource_quota",
                role: "kubernetes_role",
            }
        } else {
            ResourceTypes {
                namespace: "kubernetes_namespace_v1",
                role_binding: "kubernetes_role_binding_v1",
                cluster_role_binding: "kubernetes_cluster_role_binding_v1",
                resource_quota: "kubernetes_resource_quota_v1",
                role: "kubernetes_role_v1",
            }
        }
    }
}

fn legacy_types(config: &Config) -> bool {
    config
        .adopt
        .as_ref()
        .is_some_and(|adopt| adopt.legacy_resource_types)
}

/// Builds objects of one stack and tenant.
struct Placement<'a> {
    objects: &'a mut Vec<Object>,
    stack: Arc<str>,
    user: Option<Arc<str>>,
    labels: Labels,
}

impl Placement<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        resource_type: &'static str,
        tf: String,
        kind: &'static str,
        name: String,
        namespace: Option<&str>,
        spec: Spec,
    ) {
        self.objects.push(Object {
            stack: self.stack.clone(),
            user: self.user.clone(),
            resource_type,
            tf,
            kind,
            name,
            namespace: namespace.map(str::to_string),
            labels: self.labels.clone(),
            spec,
        });
    }
}

fn tenant_labels(user: &str) -> Labels {
    Arc::new(BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), "tenantgen".to_string()),
        (TENANT_LABEL.to_string(), user.to_string()),
    ]))
}

fn no_labels() -> Labels {
    Arc::new(BTreeMap::new())
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

/// Decides every object from the validated tenants.
pub fn build(tenants: &Tenants, config: &Config) -> Plan {
    let users = &tenants.users;
    let types = ResourceTypes::new(legacy_types(config));
    let stacks = Stacks::new(&config.layout);
    // Sized up front: the list is the plan's bulk, and growing it copies it.
    let estimate: usize = users
        .iter()
        .map(|user| 4 + 10 * user.namespaces.len() + user.domains.len() + user.apps.len())
        .sum();
    let mut objects = Vec::with_capacity(estimate + 2);
    let mut variables = BTreeMap::new();

    for user in users.iter().filter(|user| !user.namespaces.is_empty()) {
        vault_tenant(&mut objects, user, config, &types, &stacks);
    }
    if users.iter().any(|user| !user.namespaces.is_empty())
        && let Some(variable) = own_variable(
            &config.vault.oidc_accessor,
            "Accessor of the OIDC auth mount that tenant identities log in through.",
        )
    {
        variables
            .entry(config.layout.vault.clone())
            .or_insert_with(Vec::new)
            .push(variable);
    }

    let has_role = |role: Role| users.iter().any(|user| user.role == role);
    let mut shared = Placement {
        objects: &mut objects,
        stack: stacks.of(Group::Rbac),
        user: None,
        labels: Arc::new(BTreeMap::from([(
            MANAGED_BY_LABEL.to_string(),
            "tenantgen".to_string(),
        )])),
    };
    let names = &config.names;
    let power_user_role = config.power_user.cluster_role.is_none().then(|| {
        (
            Role::PowerUser,
            POWER_USER_ROLE_TF,
            names.power_user_role.as_str(),
            "Cluster-wide read access for power-users: what namespace-owners read, and\npod logs. No Secrets, and no exec, attach or port-forward.",
            power_user_rules(config),
        )
    });
    let read_only_role = config.namespace_owner.cluster_role.is_none().then(|| {
        (
            Role::NamespaceOwner,
            READ_ONLY_ROLE_TF,
            names.read_only_role.as_str(),
            "Cluster-wide read access for namespace-owners. Secrets are deliberately absent,\nand so are exec, attach and port-forward.",
            read_only_rules(),
        )
    });
    for (role, tf, name, comment, rules) in read_only_role.into_iter().chain(power_user_role) {
        if has_role(role) {
            shared.push(
                "kubernetes_cluster_role_v1",
                tf.to_string(),
                "ClusterRole",
                name.to_string(),
                None,
                Spec::Role {
                    comment,
                    rules: rules.into(),
                    depends_on: None,
                },
            );
        }
    }
    for user in users {
        platform_tenant(&mut objects, user, config, &types, &stacks);
    }
    if users
        .iter()
        .any(|user| config.dns.covers(user.role) && !user.domains.is_empty())
    {
        let declared = [
            (
                Some(&config.dns.zone_id),
                "Cloudflare zone id of the managed zone.",
            ),
            (
                config.dns.target_expression.as_ref(),
                "What tenant DNS records point to.",
            ),
        ];
        for (expression, description) in declared {
            if let Some(variable) = expression.and_then(|e| own_variable(e, description)) {
                variables
                    .entry(config.layout.dns.clone())
                    .or_insert_with(Vec::new)
                    .push(variable);
            }
        }
    }

    if config.deployer.mode == DeployerMode::AuthRole {
        for user in users.iter().filter(|user| !user.namespaces.is_empty()) {
            woodpecker_tenant(&mut objects, user, config, &types, &stacks);
        }
    }
    for (app, app_config) in &config.apps {
        let stack: Arc<str> = Arc::from(format!("{app}/factory"));
        for user in users.iter().filter(|user| user.apps.contains(app)) {
            Placement {
                objects: &mut objects,
                stack: stack.clone(),
                user: Some(Arc::from(user.name.as_str())),
                labels: no_labels(),
            }
            .push(
                "module",
                identifier(&user.name),
                "module",
                user.name.clone(),
                None,
                Spec::AppInstance {
                    user: user.name.clone(),
                    domain: app_config.domain_for(&user.name, &config.zone),
                },
            );
        }
    }

    let mut woodpecker_admins = config.woodpecker.static_admins.clone();
    woodpecker_admins.extend(
        users
            .iter()
            .filter(|user| user.role == Role::NamespaceOwner)
            .map(|user| user.name.clone()),
    );
    woodpecker_admins.sort();
    woodpecker_admins.dedup();

    // One file per stack and tenant: a layout may put several groups of a
    // tenant into one stack, so their objects are brought together (stable,
    // so each file keeps its order), stacks in apply order, shared first.
    let order: Vec<String> = config
        .layout
        .stacks()
        .into_iter()
        .map(str::to_string)
        .collect();
    let rank = |stack: &str| {
        order
            .iter()
            .position(|known| known == stack)
            .unwrap_or(order.len())
    };
    objects.sort_by(|a, b| {
        (rank(&a.stack), &a.stack, &a.user).cmp(&(rank(&b.stack), &b.stack, &b.user))
    });
    let adoption = config
        .adopt
        .as_ref()
        .map(|adopt| adoption::plan(adopt, &config.zone, &objects, users));
    Plan {
        objects,
        stacks: order,
        layout: config.layout.clone(),
        variables,
        woodpecker_admins,
        roles: users
            .iter()
            .map(|user| (user.name.clone(), user.role))
            .collect(),
        apps: config.apps.keys().cloned().collect(),
        lifecycle: lifecycle::Lifecycle::default(),
        namespace_type: types.namespace,
        adoption,
    }
}

fn vault_tenant(
    objects: &mut Vec<Object>,
    user: &User,
    config: &Config,
    types: &ResourceTypes,
    stacks: &Stacks,
) {
    let user_tf = identifier(&user.name);
    let mount = &config.vault.mount;
    let settings = &config.namespaces;
    // Values may name the user and namespace: `{user}`, `{namespace}`.
    let filled = |map: &BTreeMap<String, String>, namespace: &str| -> BTreeMap<String, String> {
        map.iter()
            .map(|(key, value)| {
                (
                    key.clone(),
                    name_from(value, &user.name, Some(namespace), true),
                )
            })
            .collect()
    };
    let mut vault = Placement {
        objects,
        stack: stacks.of(Group::Namespaces),
        user: Some(Arc::from(user.name.as_str())),
        labels: no_labels(),
    };
    for namespace in &user.namespaces {
        let mut labels = (*tenant_labels(&user.name)).clone();
        labels.extend(filled(&settings.labels, namespace));
        vault.labels = Arc::new(labels);
        vault.push(
            types.namespace,
            identifier(namespace),
            "Namespace",
            namespace.clone(),
            None,
            Spec::Namespace {
                annotations: filled(&settings.annotations, namespace),
                ignore_labels: settings.ignore_label_changes.clone(),
            },
        );
    }
    vault.labels = no_labels();
    vault.stack = stacks.of(Group::Vault);
    let folders = config.tenant_folders(user);
    // A user's folder is also a secret path of its own, as the real
    // deployment grants it; namespace folders keep the design's globs.
    let paths = |kind: &str| -> Vec<String> {
        folders
            .iter()
            .flat_map(|folder| {
                let exact = (config.vault.policy_scope == PolicyScope::User)
                    .then(|| format!("{mount}/{kind}/{folder}"));
                exact
                    .into_iter()
                    .chain([format!("{mount}/{kind}/{folder}/*")])
            })
            .collect()
    };
    let data_capabilities: Arc<[String]> = ["create", "read", "update", "delete", "list"]
        .map(String::from)
        .into();
    let metadata_capabilities: Arc<[String]> = config.vault.metadata_capabilities.clone().into();
    let data_rules = paths("data").into_iter().map(|path| PolicyRule {
        path,
        capabilities: data_capabilities.clone(),
    });
    let metadata_rules = paths("metadata").into_iter().map(|path| PolicyRule {
        path,
        capabilities: metadata_capabilities.clone(),
    });
    let secrets_engine = config.deployer.mode == DeployerMode::SecretsEngine;
    let read: Arc<[String]> = Arc::new(["read".to_string()]);
    let creds_rules = user
        .namespaces
        .iter()
        .filter(|_| secrets_engine)
        .map(|namespace| PolicyRule {
            path: format!(
                "{}/creds/{}",
                config.deployer.mount,
                name_from(&config.names.deployer, &user.name, Some(namespace), false)
            ),
            capabilities: read.clone(),
        });
    vault.push(
        "vault_policy",
        user_tf.clone(),
        "policy",
        name_from(&config.names.policy, &user.name, None, false),
        None,
        Spec::VaultPolicy {
            rules: data_rules
                .chain(metadata_rules)
                .chain(creds_rules)
                .collect(),
        },
    );
    vault.push(
        "vault_identity_entity",
        user_tf.clone(),
        "entity",
        name_from(&config.names.entity, &user.name, None, false),
        None,
        Spec::Entity {
            policies: vec![user_tf.clone()],
            extra_policies: config
                .identity
                .extra_policies
                .iter()
                .map(|pattern| name_from(pattern, &user.name, None, false))
                .collect(),
        },
    );
    vault.push(
        "vault_identity_entity_alias",
        user_tf.clone(),
        "entity alias",
        user.email.clone(),
        None,
        Spec::EntityAlias {
            mount_accessor: config.vault.oidc_accessor.clone(),
            entity: user_tf.clone(),
        },
    );
    vault.stack = stacks.of(Group::Deployer);
    match config.deployer.mode {
        DeployerMode::SecretsEngine => {
            let rules: Arc<[RbacRule]> = config.deployer.rules.clone().into();
            let backend = config.deployer.backend_expression();
            for namespace in &user.namespaces {
                let role_tf = format!("{}_deployer", identifier(namespace));
                let role_name =
                    name_from(&config.names.deployer, &user.name, Some(namespace), false);
                vault.labels = tenant_labels(&user.name);
                vault.push(
                    types.role,
                    role_tf.clone(),
                    "Role",
                    role_name.clone(),
                    Some(namespace),
                    Spec::Role {
                        comment: "What a pipeline holding this namespace's deployer credentials may do, here only.",
                        rules: rules.clone(),
                        // Another stack's namespace is there by apply order.
                        depends_on: (config.layout.deployer == config.layout.namespaces)
                            .then(|| format!("{}.{}", types.namespace, identifier(namespace))),
                    },
                );
                vault.labels = no_labels();
                vault.push(
                    "vault_kubernetes_secret_backend_role",
                    role_tf.clone(),
                    "secret backend role",
                    role_name,
                    None,
                    Spec::SecretBackendRole {
                        backend: backend.clone(),
                        allowed_namespace: namespace.clone(),
                        role: format!("{}.{role_tf}", types.role),
                        role_type: "Role",
                        ttl_seconds: config.deployer.ttl_seconds,
                        max_ttl_seconds: config.deployer.max_ttl_seconds,
                    },
                );
            }
        }
        DeployerMode::AuthRole => {
            for namespace in &user.namespaces {
                vault.push(
                    "vault_kubernetes_auth_backend_role",
                    format!("{}_deployer", identifier(namespace)),
                    "auth role",
                    name_from(&config.names.deployer, &user.name, Some(namespace), false),
                    None,
                    Spec::AuthRole {
                        backend: config.vault.kubernetes_backend.clone(),
                        service_account: config.deployer.service_account.clone(),
                        service_account_namespace: config.deployer.namespace.clone(),
                        policies: vec![user_tf.clone()],
                        ttl_seconds: config.deployer.ttl_seconds,
                        max_ttl_seconds: config.deployer.max_ttl_seconds,
                    },
                );
            }
        }
    }
}

fn user_subject(user: &User, config: &Config) -> Subject {
    Subject {
        kind: "User",
        name: match config.identity.subject {
            SubjectClaim::Email => user.email.clone(),
            SubjectClaim::Username => user.name.clone(),
        },
        namespace: None,
    }
}

fn platform_tenant(
    objects: &mut Vec<Object>,
    user: &User,
    config: &Config,
    types: &ResourceTypes,
    stacks: &Stacks,
) {
    let user_tf = identifier(&user.name);
    let names = &config.names;
    let mut platform = Placement {
        objects,
        stack: stacks.of(Group::Rbac),
        user: Some(Arc::from(user.name.as_str())),
        labels: tenant_labels(&user.name),
    };
    for namespace in &user.namespaces {
        let namespace_tf = identifier(namespace);
        let ns = Some(namespace.as_str());
        platform.push(
            types.role_binding,
            format!("{namespace_tf}_admin"),
            "RoleBinding",
            name_from(&names.namespace_admin, &user.name, ns, false),
            ns,
            Spec::Binding {
                cluster_role: "admin".to_string(),
                role_resource: None,
                subject: user_subject(user, config),
                depends_on: (config.layout.rbac == config.layout.namespaces)
                    .then(|| format!("{}.{namespace_tf}", types.namespace)),
            },
        );
        platform.push(
            types.resource_quota,
            namespace_tf.clone(),
            "ResourceQuota",
            name_from(&names.quota, &user.name, ns, true),
            ns,
            Spec::ResourceQuota {
                hard: user
                    .quota
                    .iter()
                    .filter(|(key, _)| config.quota.keys.contains(key))
                    .map(|(key, value)| (key.resource(), value.clone()))
                    .collect(),
            },
        );
        platform.stack = stacks.of(Group::Tls);
        match config.tls.mode {
            TlsMode::CertManager => platform.push(
                "kubernetes_manifest",
                format!("{namespace_tf}_tls"),
                "Certificate",
                name_from(&names.certificate, &user.name, ns, true),
                ns,
                Spec::Certificate {
                    secret_name: name_from(&names.certificate, &user.name, ns, true),
                    dns_names: vec![format!("*.{namespace}.{}", config.zone)],
                    issuer: config.tls.issuer.clone(),
                    issuer_kind: config.tls.issuer_kind.clone(),
                },
            ),
            // Named by its namespace: a module call names no server object.
            TlsMode::Module => platform.push(
                "module",
                format!("{namespace_tf}_tls"),
                "TLS module",
                namespace.clone(),
                ns,
                Spec::TlsModule {
                    source: config.tls.module_source.clone(),
                    namespace_argument: config.tls.namespace_argument.clone(),
                    arguments: config.tls.module_arguments.clone(),
                    depends_on: (config.layout.tls == config.layout.namespaces)
                        .then(|| format!("{}.{namespace_tf}", types.namespace)),
                },
            ),
            TlsMode::None => {}
        }
        platform.stack = stacks.of(Group::Rbac);
        if let Some(policy) = &config.network_policy {
            platform.push(
                "kubernetes_network_policy_v1",
                namespace_tf.clone(),
                "NetworkPolicy",
                name_from(&names.network_policy, &user.name, ns, true),
                ns,
                Spec::NetworkPolicy {
                    allow_from_namespaces: policy.allow_from_namespaces.clone(),
                },
            );
        }
        if let Some(limits) = &config.limit_range {
            platform.push(
                "kubernetes_limit_range_v1",
                namespace_tf.clone(),
                "LimitRange",
                name_from(&names.limit_range, &user.name, ns, true),
                ns,
                Spec::LimitRange {
                    default_cpu: limits.default_cpu.clone(),
                    default_memory: limits.default_memory.clone(),
                    default_request_cpu: limits.default_request_cpu.clone(),
                    default_request_memory: limits.default_request_memory.clone(),
                },
            );
        }
    }
    let (suffix, pattern, cluster_role, role_resource) = cluster_binding(user.role, config);
    platform.push(
        types.cluster_role_binding,
        format!("{user_tf}_{suffix}"),
        "ClusterRoleBinding",
        name_from(pattern, &user.name, None, false),
        None,
        Spec::Binding {
            cluster_role,
            role_resource,
            subject: user_subject(user, config),
            depends_on: None,
        },
    );
    let resource_type = match config.dns.provider_version {
        CloudflareVersion::V4 => "cloudflare_record",
        CloudflareVersion::V5 => "cloudflare_dns_record",
    };
    platform.labels = no_labels();
    platform.stack = stacks.of(Group::Dns);
    let domains = user.domains.iter().filter(|_| config.dns.covers(user.role));
    for domain in domains {
        let relative = relative_name(domain, &config.zone);
        let name = match config.dns.names {
            DnsNames::Fqdn => domain.clone(),
            DnsNames::Short => relative.to_string(),
        };
        platform.push(
            resource_type,
            dns_identifier(relative),
            "DNS record",
            name,
            None,
            Spec::DnsRecord {
                zone_id: config.dns.zone_id.clone(),
                record_type: config.dns.record_type.clone(),
                content: config.dns.target.clone(),
                content_expression: config.dns.target_expression.clone(),
                proxied: config.dns.proxied,
                ttl: config.dns.ttl,
                comment: format!("tenantgen: {}", user.name),
            },
        );
    }
}

/// A user's cluster-wide binding: its Terraform suffix, name pattern,
/// ClusterRole, and the generated role's address when tenantgen writes it
/// (always in the RBAC stack, like the binding).
fn cluster_binding(role: Role, config: &Config) -> (&'static str, &str, String, Option<String>) {
    let names = &config.names;
    let generated = |by_hand: &Option<String>, name: &str, tf: &str| match by_hand {
        Some(role) => (role.clone(), None),
        None => (
            name.to_string(),
            Some(format!("kubernetes_cluster_role_v1.{tf}")),
        ),
    };
    let (suffix, pattern, (cluster_role, role_resource)) = match role {
        Role::NamespaceOwner => (
            "read_only",
            &names.read_only_binding,
            generated(
                &config.namespace_owner.cluster_role,
                &names.read_only_role,
                READ_ONLY_ROLE_TF,
            ),
        ),
        Role::PowerUser => (
            "power_user",
            &names.power_user_binding,
            generated(
                &config.power_user.cluster_role,
                &names.power_user_role,
                POWER_USER_ROLE_TF,
            ),
        ),
        Role::Admin => (
            "cluster_admin",
            &names.admin_binding,
            ("cluster-admin".to_string(), None),
        ),
    };
    (suffix, pattern, cluster_role, role_resource)
}

fn woodpecker_tenant(
    objects: &mut Vec<Object>,
    user: &User,
    config: &Config,
    types: &ResourceTypes,
    stacks: &Stacks,
) {
    let mut woodpecker = Placement {
        objects,
        stack: stacks.of(Group::Ci),
        user: Some(Arc::from(user.name.as_str())),
        labels: tenant_labels(&user.name),
    };
    for namespace in &user.namespaces {
        woodpecker.push(
            "kubernetes_role_binding_v1",
            format!("{}_deployer", identifier(namespace)),
            "RoleBinding",
            name_from(&config.names.deployer, &user.name, Some(namespace), false),
            Some(namespace),
            Spec::Binding {
                cluster_role: "edit".to_string(),
                role_resource: None,
                subject: Subject {
                    kind: "ServiceAccount",
                    name: config.deployer.service_account.clone(),
                    namespace: Some(config.deployer.namespace.clone()),
                },
                depends_on: (config.layout.ci == config.layout.namespaces)
                    .then(|| format!("{}.{}", types.namespace, identifier(namespace))),
            },
        );
    }
}

/// A domain's name relative to the zone: `myapp` for `myapp.<zone>`.
fn relative_name<'a>(domain: &'a str, zone: &str) -> &'a str {
    domain
        .strip_suffix(zone)
        .and_then(|name| name.strip_suffix('.'))
        .unwrap_or(domain)
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

impl Object {
    /// `vault_policy.alice` or `module.alice`.
    pub fn address(&self) -> String {
        format!("{}.{}", self.resource_type, self.tf)
    }

    /// Where its name must be unique besides its kind: the namespace of a
    /// namespaced Kubernetes object, the auth mount of a Vault alias or
    /// role, the zone of a DNS record.
    fn scope(&self) -> Option<&str> {
        match &self.spec {
            Spec::EntityAlias { mount_accessor, .. } => Some(mount_accessor),
            Spec::AuthRole { backend, .. } => Some(backend),
            Spec::SecretBackendRole { backend, .. } => Some(backend),
            Spec::DnsRecord { zone_id, .. } => Some(zone_id),
            _ => self.namespace.as_deref(),
        }
    }

    /// The Terraform names of the `vault_policy` resources it refers to.
    fn policy_refs(&self) -> &[String] {
        match &self.spec {
            Spec::Entity { policies, .. } | Spec::AuthRole { policies, .. } => policies,
            _ => &[],
        }
    }
}

impl Plan {
    /// Every resource and module block, stack by stack.
    pub fn addresses(&self) -> Vec<Address> {
        self.objects
            .iter()
            .map(|object| {
                let module = object.resource_type == "module";
                Address {
                    dir: object.stack.to_string(),
                    block: if module { "module" } else { "resource" },
                    kind: if module {
                        String::new()
                    } else {
                        object.resource_type.to_string()
                    },
                    name: object.tf.clone(),
                }
            })
            .collect()
    }
}

/// How one object list becomes another, as Terraform would apply it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObjectChanges {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// The same counts per kind (`RoleBinding`, `policy`, …).
    pub kinds: BTreeMap<&'static str, KindChanges>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindChanges {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl ObjectChanges {
    pub fn is_empty(&self) -> bool {
        self.add + self.change + self.destroy == 0
    }
}

/// Compares two object lists by stack and address; an object at the same
/// address with other values is changed. Released namespaces are not
/// destroyed: `lifecycle` keeps them out of the count.
pub fn compare_objects(
    before: &[Object],
    after: &[Object],
    released: &BTreeSet<&str>,
) -> ObjectChanges {
    let key = |object: &Object| {
        (
            object.stack.clone(),
            object.resource_type,
            object.tf.clone(),
        )
    };
    let before: BTreeMap<_, &Object> = before.iter().map(|object| (key(object), object)).collect();
    let after: BTreeMap<_, &Object> = after.iter().map(|object| (key(object), object)).collect();
    let mut changes = ObjectChanges::default();
    for (address, object) in &after {
        let counts = changes.kinds.entry(object.kind).or_default();
        match before.get(address) {
            None => {
                changes.add += 1;
                counts.add += 1;
            }
            Some(old) if old != object => {
                changes.change += 1;
                counts.change += 1;
            }
            Some(_) => {}
        }
    }
    for (address, object) in &before {
        let kept = object.kind == "Namespace" && released.contains(object.name.as_str());
        if !after.contains_key(address) && !kept {
            changes.destroy += 1;
            changes.kinds.entry(object.kind).or_default().destroy += 1;
        }
    }
    changes
        .kinds
        .retain(|_, counts| *counts != KindChanges::default());
    changes
}

/// Objects at the same address in another stack, counted by old and new
/// stack: a layout change moves them, and their state must follow.
pub fn stack_moves(before: &[Object], after: &[Object]) -> Vec<(String, String, usize)> {
    let key = |object: &Object| (object.resource_type, object.tf.clone(), object.name.clone());
    // App instances share addresses across the factories and never move.
    let placed = |object: &&Object| !matches!(object.spec, Spec::AppInstance { .. });
    let old: BTreeMap<_, &str> = before
        .iter()
        .filter(placed)
        .map(|object| (key(object), &*object.stack))
        .collect();
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for object in after.iter().filter(placed) {
        if let Some(from) = old.get(&key(object))
            && *from != &*object.stack
        {
            *counts
                .entry((from.to_string(), object.stack.to_string()))
                .or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((from, to), count)| (from, to, count))
        .collect()
}

/// The items that occur more than once, each reported once, in input order.
/// (FxHash: std's SipHash or sorting cost more than the rest of the check.)
fn repeats<T: Eq + std::hash::Hash + Copy>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = rustc_hash::FxHashSet::default();
    seen.reserve(items.size_hint().1.unwrap_or_default());
    let mut reported = rustc_hash::FxHashSet::default();
    items
        .filter(|item| !seen.insert(*item) && reported.insert(*item))
        .collect()
}

/// Checks the plan as a whole before anything is rendered: what one object
/// refers to, another creates; no two objects share an address or a name.
/// A binding that names a generated role through an address its stack does
/// not hold, or whose role has another name.
fn unresolved_role(
    object: &Object,
    roles: &rustc_hash::FxHashMap<(&str, &str), &Object>,
) -> Option<String> {
    let Spec::Binding {
        cluster_role,
        role_resource: Some(role),
        ..
    } = &object.spec
    else {
        return None;
    };
    let target = roles.get(&(&*object.stack, role.as_str()));
    target.is_none_or(|target| target.name != *cluster_role).then(|| {
        format!(
            "{} {} binds {cluster_role:?} through {role}, which its stack does not generate under that name",
            object.kind,
            object.address()
        )
    })
}

/// A problem here is a tenantgen bug, never bad input.
pub fn check(plan: &Plan, static_admins: &[String]) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let of_kind = |kind: &'static str| {
        plan.objects
            .iter()
            .filter(move |object| object.kind == kind)
    };
    let namespaces: rustc_hash::FxHashSet<&str> = of_kind("Namespace")
        .map(|object| object.name.as_str())
        .collect();
    let namespace_tfs: BTreeSet<&str> = of_kind("Namespace")
        .map(|object| object.tf.as_str())
        .collect();
    let policies: BTreeSet<&str> = of_kind("policy").map(|object| object.tf.as_str()).collect();
    let entities: BTreeSet<&str> = of_kind("entity").map(|object| object.tf.as_str()).collect();
    // By stack and address, for what refers to them.
    let addresses: Vec<String> = plan.objects.iter().map(Object::address).collect();
    let mut roles: rustc_hash::FxHashMap<(&str, &str), &Object> = Default::default();
    let mut namespace_addresses: rustc_hash::FxHashSet<(&str, &str)> = Default::default();
    for (object, address) in plan.objects.iter().zip(&addresses) {
        match object.kind {
            "Role" | "ClusterRole" => {
                roles.insert((&*object.stack, address.as_str()), object);
            }
            "Namespace" => {
                namespace_addresses.insert((&*object.stack, address.as_str()));
            }
            _ => {}
        }
    }
    for object in &plan.objects {
        let owner = object.user.as_deref().unwrap_or("every tenant");
        if let Some(namespace) = &object.namespace
            && !namespaces.contains(namespace.as_str())
        {
            problems.push(format!(
                "{}: {} {} of {owner} is in namespace {namespace:?}, which no stack creates",
                object.stack,
                object.kind,
                object.address()
            ));
        }
        for policy in object.policy_refs() {
            if !policies.contains(policy.as_str()) {
                problems.push(format!(
                    "{} {} names policy vault_policy.{policy}, which is not generated",
                    object.kind, object.name
                ));
            }
        }
        if let Spec::SecretBackendRole {
            role,
            allowed_namespace,
            ..
        } = &object.spec
        {
            let issues_for = roles.get(&(&*object.stack, role.as_str())).copied();
            match issues_for {
                None => problems.push(format!(
                    "secret backend role {} issues tokens for {role}, which is not generated in its stack",
                    object.name
                )),
                Some(target) if target.namespace.as_deref() != Some(allowed_namespace.as_str()) => {
                    problems.push(format!(
                        "secret backend role {} is confined to {allowed_namespace:?} but its Role is in {:?}",
                        object.name, target.namespace
                    ))
                }
                Some(_) => {}
            }
        }
        if let Spec::Role {
            depends_on: Some(namespace),
            ..
        }
        | Spec::TlsModule {
            depends_on: Some(namespace),
            ..
        }
        | Spec::Binding {
            depends_on: Some(namespace),
            ..
        } = &object.spec
            && !namespace_addresses.contains(&(&*object.stack, namespace.as_str()))
        {
            problems.push(format!(
                "{} {} waits for {namespace}, which its stack does not create",
                object.kind,
                object.address()
            ));
        }
        if let Some(problem) = unresolved_role(object, &roles) {
            problems.push(problem);
        }
        if let Spec::EntityAlias { entity, .. } = &object.spec
            && !entities.contains(entity.as_str())
        {
            problems.push(format!(
                "entity alias {} belongs to vault_identity_entity.{entity}, which is not generated",
                object.name
            ));
        }
    }
    let owners: BTreeSet<&str> = plan
        .roles
        .iter()
        .filter(|(_, role)| **role == Role::NamespaceOwner)
        .map(|(user, _)| user.as_str())
        .collect();
    for admin in &plan.woodpecker_admins {
        if !owners.contains(admin.as_str()) && !static_admins.contains(admin) {
            problems.push(format!(
                "CI admin {admin:?} is neither a namespace-owner nor a static admin"
            ));
        }
    }
    for released in &plan.lifecycle.removed {
        if namespace_tfs.contains(released.tf.as_str()) {
            problems.push(format!(
                "namespace {} is both managed and released",
                released.name
            ));
        }
    }
    for imported in &plan.lifecycle.imports {
        if !namespace_tfs.contains(imported.tf.as_str()) {
            problems.push(format!(
                "namespace {} is imported but not managed",
                imported.name
            ));
        }
    }
    if let Some(adoption) = &plan.adoption {
        let targets: BTreeSet<(&str, String)> = plan
            .objects
            .iter()
            .map(|object| (&*object.stack, object.address()))
            .collect();
        for (stack, moved) in adoption.moves() {
            if !targets.contains(&(stack, moved.to.clone())) {
                problems.push(format!(
                    "{stack}: a moved block targets {}, which is not generated",
                    moved.to
                ));
            }
        }
    }
    let addresses = plan
        .objects
        .iter()
        .map(|object| (&*object.stack, object.resource_type, object.tf.as_str()));
    for (stack, resource_type, tf) in repeats(addresses) {
        problems.push(format!(
            "two blocks share the address {stack}: {resource_type}.{tf}"
        ));
    }
    // Modules name no server object: one user has one in every app's stack.
    let names = plan
        .objects
        .iter()
        .filter(|object| object.kind != "module")
        .map(|object| (object.kind, object.scope(), object.name.as_str()));
    for (kind, scope, name) in repeats(names) {
        let place = scope
            .map(|scope| format!(" in {scope}"))
            .unwrap_or_default();
        problems.push(format!("two {kind} objects are named {name:?}{place}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_plan() -> (Plan, Config) {
        plan_with(Config::default())
    }

    fn plan_with(config: Config) -> (Plan, Config) {
        let users = serde_json::json!({
            "alice": {"role": "namespace-owner", "namespaces": ["alice-a", "alice-b"], "domains": ["alice.example.com"], "apps": ["freedify"]},
            "dave": {"role": "power-user"},
            "erin": {"role": "admin"}
        });
        let raw = crate::source::parse(users.to_string().as_bytes(), "test").unwrap();
        let tenants = crate::model::build(&raw, &config, false).unwrap().tenants;
        (build(&tenants, &config), config)
    }

    fn auth_role_plan() -> (Plan, Config) {
        let mut config = Config::default();
        config.deployer.mode = DeployerMode::AuthRole;
        plan_with(config)
    }

    fn problems(plan: &Plan, config: &Config) -> Vec<String> {
        check(plan, &config.woodpecker.static_admins)
            .err()
            .unwrap_or_default()
    }

    fn find<'a>(plan: &'a mut Plan, address: &str) -> &'a mut Object {
        plan.objects
            .iter_mut()
            .find(|object| object.address() == address)
            .unwrap()
    }

    #[test]
    fn a_plan_from_valid_users_is_consistent() {
        let (plan, config) = example_plan();
        assert_eq!(problems(&plan, &config), Vec::<String>::new());
        // vault 2 namespaces, policy, entity, alias, 2 deployer Roles and 2
        // secret backend roles; platform 2 shared roles, 3 per namespace, 3
        // cluster bindings, 1 record; 1 module.
        assert_eq!(plan.addresses().len(), 9 + 12 + 1);
        // auth-role: 2 auth roles in vault, 2 deployer bindings in woodpecker.
        let (plan, config) = auth_role_plan();
        assert_eq!(problems(&plan, &config), Vec::<String>::new());
        assert_eq!(plan.addresses().len(), 7 + 12 + 2 + 1);
    }

    #[test]
    fn objects_come_grouped_by_file() {
        let (plan, _) = example_plan();
        let files: Vec<(&str, Option<&str>)> = plan
            .objects
            .iter()
            .map(|object| (&*object.stack, object.user.as_deref()))
            .collect();
        let mut runs = files.clone();
        runs.dedup();
        let mut unique = runs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            runs.len(),
            unique.len(),
            "a file's objects are split: {runs:?}"
        );
    }

    #[test]
    fn every_cross_stack_rule_is_enforced() {
        let (mut plan, config) = auth_role_plan();
        plan.objects
            .retain(|object| object.address() != "kubernetes_namespace_v1.alice_b");
        if let Spec::Entity { policies, .. } =
            &mut find(&mut plan, "vault_identity_entity.alice").spec
        {
            *policies = vec!["ghost".into()];
        }
        if let Spec::AuthRole { policies, .. } = &mut find(
            &mut plan,
            "vault_kubernetes_auth_backend_role.alice_b_deployer",
        )
        .spec
        {
            *policies = vec!["phantom".into()];
        }
        plan.woodpecker_admins.push("mallory".into());
        let record = find(&mut plan, "cloudflare_record.alice").clone();
        plan.objects.push(record);
        let name = find(
            &mut plan,
            "kubernetes_cluster_role_binding_v1.dave_power_user",
        )
        .name
        .clone();
        find(
            &mut plan,
            "kubernetes_cluster_role_binding_v1.erin_cluster_admin",
        )
        .name = name;
        let role = find(
            &mut plan,
            "vault_kubernetes_auth_backend_role.alice_a_deployer",
        )
        .name
        .clone();
        find(
            &mut plan,
            "vault_kubernetes_auth_backend_role.alice_b_deployer",
        )
        .name = role;
        let found = problems(&plan, &config).join("\n");
        for expected in [
            "platform: RoleBinding kubernetes_role_binding_v1.alice_b_admin of alice is in namespace \"alice-b\", which no stack creates",
            "woodpecker: RoleBinding kubernetes_role_binding_v1.alice_b_deployer of alice is in namespace \"alice-b\"",
            "entity alice names policy vault_policy.ghost, which is not generated",
            "names policy vault_policy.phantom",
            "CI admin \"mallory\" is neither a namespace-owner nor a static admin",
            "two blocks share the address platform: cloudflare_record.alice",
            "two ClusterRoleBinding objects are named \"dave-power-user\"",
            "two auth role objects are named \"alice-a-deployer\" in kubernetes",
        ] {
            assert!(
                found.contains(expected),
                "missing {expected:?} in:\n{found}"
            );
        }
    }

    #[test]
    fn deployer_roles_are_checked_against_their_kubernetes_roles() {
        let (mut plan, config) = example_plan();
        plan.objects
            .retain(|object| object.address() != "kubernetes_namespace_v1.alice_b");
        if let Spec::SecretBackendRole { role, .. } = &mut find(
            &mut plan,
            "vault_kubernetes_secret_backend_role.alice_a_deployer",
        )
        .spec
        {
            *role = "kubernetes_role_v1.alice_b_deployer".into();
        }
        plan.objects
            .retain(|object| object.address() != "kubernetes_role_v1.alice_a_deployer");
        let found = problems(&plan, &config).join("\n");
        for expected in [
            "secret backend role alice-a-deployer is confined to \"alice-a\" but its Role is in Some(\"alice-b\")",
            "Role kubernetes_role_v1.alice_b_deployer waits for kubernetes_namespace_v1.alice_b, which its stack does not create",
        ] {
            assert!(
                found.contains(expected),
                "missing {expected:?} in:\n{found}"
            );
        }
        let (mut plan, config) = example_plan();
        plan.objects
            .retain(|object| object.address() != "kubernetes_role_v1.alice_a_deployer");
        assert!(
            problems(&plan, &config).join("\n").contains("secret backend role alice-a-deployer issues tokens for kubernetes_role_v1.alice_a_deployer, which is not generated in its stack")
        );
    }

    #[test]
    fn lifecycle_and_adoption_blocks_are_checked_against_the_plan() {
        let (mut plan, config) = example_plan();
        let managed = find(&mut plan, "kubernetes_namespace_v1.alice_a").clone();
        let reference = |tf: &str, name: &str| lifecycle::NamespaceRef {
            tf: tf.into(),
            name: name.into(),
            user: "alice".into(),
        };
        plan.lifecycle
            .removed
            .push(reference(&managed.tf, &managed.name));
        plan.lifecycle.imports.push(reference("ghost", "ghost"));
        plan.adoption = Some(adoption::Adoption {
            moves: BTreeMap::from([(
                "vault".to_string(),
                vec![adoption::Move {
                    from: "kubernetes_namespace.user_namespace".into(),
                    key: "ghost".into(),
                    to: "kubernetes_namespace_v1.ghost".into(),
                }],
            )]),
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
    fn object_changes_count_like_terraform() {
        let (before, _) = example_plan();
        let mut after = before.clone();
        after
            .objects
            .retain(|object| object.address() != "kubernetes_namespace_v1.alice_b");
        after
            .objects
            .retain(|object| object.address() != "cloudflare_record.alice");
        find(&mut after, "vault_policy.alice").name = "renamed".into();
        let extra = find(&mut after, "module.alice").clone();
        after.objects.push(Object {
            stack: Arc::from("actualbudget/factory"),
            ..extra
        });
        let released = BTreeSet::from(["alice-b"]);
        let changes = compare_objects(&before.objects, &after.objects, &released);
        assert_eq!((changes.add, changes.change, changes.destroy), (1, 1, 1));
        let counts = |kind: &str| {
            let counts = changes.kinds[kind];
            (counts.add, counts.change, counts.destroy)
        };
        assert_eq!(counts("module"), (1, 0, 0));
        assert_eq!(counts("policy"), (0, 1, 0));
        assert_eq!(counts("DNS record"), (0, 0, 1));
        assert!(
            !changes.kinds.contains_key("Namespace"),
            "released, not destroyed"
        );
        let none = compare_objects(&before.objects, &before.objects, &BTreeSet::new());
        assert!(none.is_empty());
    }

    #[test]
    fn tls_modules_are_per_namespace_and_follow_the_layout() {
        let mut config = Config::default();
        config.tls.mode = TlsMode::Module;
        let (before, config) = plan_with(config);
        assert_eq!(problems(&before, &config), Vec::<String>::new());
        let calls: Vec<(&str, &str, Option<&str>)> = before
            .objects
            .iter()
            .filter(|object| object.kind == "TLS module")
            .map(|object| {
                (
                    &*object.stack,
                    object.tf.as_str(),
                    object.namespace.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            calls,
            [
                ("platform", "alice_a_tls", Some("alice-a")),
                ("platform", "alice_b_tls", Some("alice-b"))
            ]
        );
        assert!(
            before
                .objects
                .iter()
                .all(|object| object.kind != "Certificate")
        );
        // In the namespaces' stack a call waits for its namespace.
        let mut moved = config.clone();
        moved.layout.tls = "vault".into();
        let (mut after, moved) = plan_with(moved);
        assert_eq!(problems(&after, &moved), Vec::<String>::new());
        assert_eq!(
            stack_moves(&before.objects, &after.objects),
            [("platform".to_string(), "vault".to_string(), 2)]
        );
        after
            .objects
            .retain(|object| object.address() != "kubernetes_namespace_v1.alice_b");
        assert!(
            problems(&after, &moved).contains(
                &"TLS module module.alice_b_tls waits for kubernetes_namespace_v1.alice_b, which its stack does not create".to_string()
            ),
            "{:?}",
            problems(&after, &moved)
        );
        let mut none = config;
        none.tls.mode = TlsMode::None;
        let (plan, _) = plan_with(none);
        assert!(plan.objects.iter().all(|object| !matches!(
            object.spec,
            Spec::Certificate { .. } | Spec::TlsModule { .. }
        )));
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
