//! What add-on files grant, read back from their rendered text (add-ons
//! have no objects in the plan): Kubernetes roles and bindings, Vault
//! policies and the entities and groups that carry them. Whatever may grant
//! access but cannot be read as data (an expression where a name or a
//! policy text belongs, a manifest, a module, a resource type not known
//! here) is listed as unknown, never left out.

use std::collections::HashMap;

use hcl::{Block, Body, Expression, TraversalOperator};
use serde::Serialize;

use super::literal::{
    PolicyRules, Rules, attribute, block, literal, policy_rules, reference, role_rules,
};
use super::{KubernetesGrant, Principal, PrincipalKind, Report, VaultGrant};
use crate::plan::{Plan, Spec};

mod vault;

/// One rendered add-on file.
#[derive(Debug, Clone, Copy)]
pub struct AddonFile<'a> {
    /// Relative to the output root: `<stack>/addon-<name>[-<user>].tf`.
    pub path: &'a str,
    /// The add-on's name, or the overridden template's.
    pub addon: &'a str,
    /// Rendered from a `--templates` override, not an add-on.
    pub overridden: bool,
    /// The user a per-user or per-namespace add-on was rendered for.
    pub user: Option<&'a str>,
    pub text: &'a str,
}

/// Something an add-on declares that may grant access and that tenantgen
/// cannot analyse.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UnknownGrant {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addon: Option<String>,
    /// The `--templates` override the file was rendered from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_override: Option<String>,
    pub file: String,
    /// The user a per-user or per-namespace add-on file is rendered for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The block, `type.name`.
    pub address: String,
    pub reason: String,
    /// The block's text, so that two renderings of it compare by content.
    #[serde(skip)]
    pub detail: String,
}

impl UnknownGrant {
    /// `addon "NAME"` or `template override "NAME"`.
    pub fn source(&self) -> String {
        super::via(self.addon.as_deref(), self.template_override.as_deref())
            .trim_start()
            .trim_start_matches("via ")
            .to_string()
    }
}

/// Who an add-on's grant reaches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Holder {
    pub kind: PrincipalKind,
    pub principal: String,
    pub user: String,
}

/// Everything the add-on files grant.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub kubernetes: Vec<(Holder, KubernetesGrant)>,
    pub vault: Vec<(Holder, VaultGrant)>,
    pub unknown: Vec<UnknownGrant>,
    /// Every role the files declare, with its text: an override that
    /// renders a role differently changes what everyone bound to it gets.
    pub roles: Vec<UnknownGrant>,
}

/// Resource types that grant nothing by themselves: they hold data, or
/// reach principals only through what the reader follows (a group alias
/// names the group whose policies are listed, a service account is the
/// subject of the bindings listed; its token secret is unknown).
const INERT: [&str; 16] = [
    "kubernetes_config_map",
    "kubernetes_config_map_v1",
    "kubernetes_namespace",
    "kubernetes_namespace_v1",
    "kubernetes_resource_quota",
    "kubernetes_resource_quota_v1",
    "kubernetes_limit_range",
    "kubernetes_limit_range_v1",
    "kubernetes_network_policy",
    "kubernetes_network_policy_v1",
    "kubernetes_service_account",
    "kubernetes_service_account_v1",
    "vault_transit_secret_backend_key",
    "vault_mount",
    "cloudflare_record",
    "random_password",
];

/// One resource block of an add-on file.
struct Resource<'a> {
    file: AddonFile<'a>,
    stack: &'a str,
    kind: String,
    tf: String,
    block: &'a Block,
}

/// A declared role: kind, namespace, name.
type RoleKey = (&'static str, Option<String>, String);

/// The roles and policies every add-on file declares, by stack.
#[derive(Default)]
struct Index {
    /// (kind, namespace, name) → rules; `None` rules are not literal. A
    /// Role's namespace is `default` when none is written; a ClusterRole
    /// has none.
    roles: HashMap<RoleKey, Rules>,
    /// (stack, Terraform name) and (stack, policy name) → rules.
    policies_by_tf: HashMap<(String, String), (String, PolicyRules)>,
    policies_by_name: HashMap<(String, String), PolicyRules>,
    /// (stack, Terraform name) → the entity or group it is.
    holders: HashMap<(String, String, String), Holder>,
    /// (stack, type, Terraform name) → a service account's literal name,
    /// for subjects that name it by reference.
    service_accounts: HashMap<(String, String, String), String>,
    /// (stack, type, Terraform name) → a role's literal name, for bindings
    /// that name it through its resource.
    role_names: HashMap<(String, String, String), String>,
}

/// Everything `files` grant, their subjects matched with `report`'s
/// principals and their role and policy references with `plan`'s objects.
pub fn read(plan: &Plan, report: &Report, files: &[AddonFile<'_>]) -> Found {
    let mut found = Found::default();
    let bodies: Vec<(AddonFile<'_>, Body)> = files
        .iter()
        .filter_map(|file| match hcl::parse(file.text) {
            Ok(body) => Some((*file, body)),
            Err(err) => {
                found
                    .unknown
                    .push(unknown(file, "(file)", &format!("does not parse: {err}")));
                None
            }
        })
        .collect();
    let mut resources = Vec::new();
    for (file, body) in &bodies {
        let stack = file.path.rsplit_once('/').map_or("", |(stack, _)| stack);
        for block in body.blocks() {
            let labels: Vec<&str> = block.labels().iter().map(|label| label.as_str()).collect();
            match (block.identifier(), labels.as_slice()) {
                ("resource", [kind, tf]) => resources.push(Resource {
                    file: *file,
                    stack,
                    kind: kind.to_string(),
                    tf: tf.to_string(),
                    block,
                }),
                ("module", [name]) => found.unknown.push(unknown(
                    file,
                    &format!("module.{name}"),
                    "a module may declare anything; review what it grants",
                )),
                // These run a program or send a request when Terraform plans.
                ("data", [kind @ ("external" | "http"), name]) => found.unknown.push(unknown(
                    file,
                    &format!("data.{kind}.{name}"),
                    "runs a program or sends a request, with the plan's credentials at hand, whenever Terraform plans; review it by hand",
                )),
                _ => {}
            }
        }
    }
    let index = index(&resources);
    shadowed(plan, &resources, &mut found);
    let context = Context {
        plan,
        users: report
            .principals
            .iter()
            .filter(|principal| principal.kind == PrincipalKind::User)
            .map(|principal| (principal.principal.as_str(), principal.user.as_str()))
            .collect(),
        index,
    };
    for resource in &resources {
        let before = found.unknown.len();
        context.grants_of(resource, &mut found);
        // Two renderings of a block compare by what they say.
        let detail = hcl::format::to_string(resource.block).unwrap_or_default();
        for unknown in &mut found.unknown[before..] {
            unknown.detail.clone_from(&detail);
        }
        if is_role(&resource.kind) {
            let address = format!("{}.{}", resource.kind, resource.tf);
            let reason = "the override renders this role differently: every binding to it, and every token issued for it, gets what it says";
            let mut role = unknown(&resource.file, &address, reason);
            role.detail = detail;
            found.roles.push(role);
        }
    }
    found.kubernetes.sort();
    found.kubernetes.dedup();
    found.vault.sort();
    found.vault.dedup();
    found.unknown.sort();
    found.unknown.dedup();
    found
}

/// Adds what add-on files grant to `report`, each grant marked with its
/// add-on, and the add-ons' names.
pub fn merge(report: &mut Report, found: Found, addons: Vec<String>) {
    let mut at: HashMap<(PrincipalKind, String, String), usize> = report
        .principals
        .iter()
        .enumerate()
        .map(|(index, principal)| {
            let key = (
                principal.kind,
                principal.user.clone(),
                principal.principal.clone(),
            );
            (key, index)
        })
        .collect();
    let mut principal = |report: &mut Report, holder: Holder| -> usize {
        let key = (holder.kind, holder.user.clone(), holder.principal.clone());
        *at.entry(key).or_insert_with(|| {
            report.principals.push(Principal {
                principal: holder.principal,
                user: holder.user,
                kind: holder.kind,
                obtained_through: None,
                kubernetes: Vec::new(),
                vault: Vec::new(),
                other_policies: Vec::new(),
            });
            report.principals.len() - 1
        })
    };
    for (holder, grant) in found.kubernetes {
        let index = principal(report, holder);
        report.principals[index].kubernetes.push(grant);
    }
    for (holder, grant) in found.vault {
        let index = principal(report, holder);
        report.principals[index].vault.push(grant);
    }
    for principal in &mut report.principals {
        principal.kubernetes.sort();
        principal.kubernetes.dedup();
        principal.vault.sort();
        principal.vault.dedup();
    }
    report
        .principals
        .sort_by(|a, b| (a.kind, &a.user, &a.principal).cmp(&(b.kind, &b.user, &b.principal)));
    report.unknown.extend(found.unknown);
    report.unknown.sort();
    report.unknown.dedup();
    report.addons.extend(addons);
}

/// Which add-on, or which template override, a file's grants come from.
fn marks(file: &AddonFile<'_>) -> (Option<String>, Option<String>) {
    let name = Some(file.addon.to_string());
    if file.overridden {
        (None, name)
    } else {
        (name, None)
    }
}

fn unknown(file: &AddonFile<'_>, address: &str, reason: &str) -> UnknownGrant {
    let (addon, template_override) = marks(file);
    UnknownGrant {
        addon,
        template_override,
        detail: String::new(),
        file: file.path.to_string(),
        user: file.user.map(str::to_string),
        address: address.to_string(),
        reason: reason.to_string(),
    }
}

fn is_binding(kind: &str) -> bool {
    matches!(
        kind,
        "kubernetes_cluster_role_binding"
            | "kubernetes_cluster_role_binding_v1"
            | "kubernetes_role_binding"
            | "kubernetes_role_binding_v1"
    )
}

fn is_role(kind: &str) -> bool {
    matches!(
        kind,
        "kubernetes_cluster_role"
            | "kubernetes_cluster_role_v1"
            | "kubernetes_role"
            | "kubernetes_role_v1"
    )
}

/// The roles, policies, entities and groups the add-on files declare.
fn index(resources: &[Resource<'_>]) -> Index {
    let mut index = Index::default();
    for resource in resources {
        let body = resource.block.body();
        let stack = resource.stack.to_string();
        match resource.kind.as_str() {
            kind if is_role(kind) => {
                let metadata = block(body, "metadata");
                let name = metadata.and_then(|metadata| literal(attribute(metadata, "name")?));
                let cluster_wide = kind.starts_with("kubernetes_cluster_role");
                let namespace = if cluster_wide {
                    None
                } else {
                    match metadata.and_then(|metadata| attribute(metadata, "namespace")) {
                        Some(namespace) => literal(namespace),
                        None => Some("default".to_string()),
                    }
                };
                if let Some(name) = name {
                    let key = (stack, resource.kind.clone(), resource.tf.clone());
                    index.role_names.insert(key, name.clone());
                    let kind = if cluster_wide { "ClusterRole" } else { "Role" };
                    index
                        .roles
                        .insert((kind, namespace, name), role_rules(body));
                }
            }
            "vault_policy" => {
                let rules = attribute(body, "policy").and_then(policy_rules);
                let name = attribute(body, "name")
                    .and_then(literal)
                    .unwrap_or_default();
                index.policies_by_tf.insert(
                    (stack.clone(), resource.tf.clone()),
                    (name.clone(), rules.clone()),
                );
                index.policies_by_name.insert((stack, name), rules);
            }
            "kubernetes_service_account" | "kubernetes_service_account_v1" => {
                let name = block(body, "metadata").and_then(|m| literal(attribute(m, "name")?));
                if let Some(name) = name {
                    let key = (stack, resource.kind.clone(), resource.tf.clone());
                    index.service_accounts.insert(key, name);
                }
            }
            "vault_identity_entity" | "vault_identity_group" => {
                let what = if resource.kind == "vault_identity_entity" {
                    "entity"
                } else {
                    "group"
                };
                let name = attribute(body, "name")
                    .and_then(literal)
                    .unwrap_or_else(|| format!("{}.{}", resource.kind, resource.tf));
                index.holders.insert(
                    (stack, resource.kind.clone(), resource.tf.clone()),
                    Holder {
                        kind: PrincipalKind::Other,
                        principal: format!("vault {what} {name}"),
                        user: resource.file.user.unwrap_or_default().to_string(),
                    },
                );
            }
            _ => {}
        }
    }
    index
}

/// Roles and policies the files declare under a name tenantgen generates:
/// both write one object, so whoever tenantgen binds to it may get the
/// file's rules instead of the plan's.
fn shadowed(plan: &Plan, resources: &[Resource<'_>], found: &mut Found) {
    for resource in resources {
        let body = resource.block.body();
        let (name, namespace) = if is_role(&resource.kind) {
            let metadata = block(body, "metadata");
            let name = metadata.and_then(|metadata| literal(attribute(metadata, "name")?));
            let namespace =
                metadata.and_then(|metadata| literal(attribute(metadata, "namespace")?));
            (name, namespace)
        } else if resource.kind == "vault_policy" {
            (attribute(body, "name").and_then(literal), None)
        } else {
            continue;
        };
        let Some(name) = name else {
            continue;
        };
        let policy = resource.kind == "vault_policy";
        let generated = plan.objects.iter().any(|object| {
            let same_kind = match object.spec {
                Spec::Role { .. } => !policy,
                Spec::VaultPolicy { .. } => policy,
                _ => false,
            };
            same_kind && object.name == name && object.namespace == namespace
        });
        if generated {
            found.unknown.push(unknown(
                &resource.file,
                &format!("{}.{}", resource.kind, resource.tf),
                &format!("declares {name:?}, which tenantgen generates too: whoever tenantgen grants it to may get these rules instead"),
            ));
        }
    }
}

/// What the grants are read against.
struct Context<'a> {
    plan: &'a Plan,
    /// A user principal's identity → their user name.
    users: HashMap<&'a str, &'a str>,
    index: Index,
}

impl Context<'_> {
    fn grants_of(&self, resource: &Resource<'_>, found: &mut Found) {
        let body = resource.block.body();
        let address = format!("{}.{}", resource.kind, resource.tf);
        let file = &resource.file;
        if body
            .blocks()
            .any(|inner| matches!(inner.identifier(), "provisioner" | "dynamic"))
        {
            found.unknown.push(unknown(
                file,
                &address,
                "has a provisioner or dynamic block, which tenantgen does not read",
            ));
        }
        match resource.kind.as_str() {
            kind if is_binding(kind) => self.binding(resource, &address, found),
            kind if is_role(kind) => self.role_notes(resource, &address, found),
            "vault_policy" => {}
            "vault_identity_entity" | "vault_identity_group" => {
                let key = (
                    resource.stack.to_string(),
                    resource.kind.clone(),
                    resource.tf.clone(),
                );
                if let Some(holder) = self.index.holders.get(&key) {
                    self.policies(resource, &address, holder, found);
                    if resource.kind == "vault_identity_group" {
                        self.members(resource, &address, found);
                    }
                }
            }
            "vault_identity_entity_policies" | "vault_identity_group_policies" => {
                let key = if resource.kind == "vault_identity_entity_policies" {
                    "entity_id"
                } else {
                    "group_id"
                };
                match attribute(body, key).and_then(|id| self.holder_of(resource.stack, id)) {
                    Some(holder) => self.policies(resource, &address, &holder, found),
                    None => found.unknown.push(unknown(
                        file,
                        &address,
                        &format!(
                            "its {key} is not an entity or group tenantgen or an add-on declares"
                        ),
                    )),
                }
            }
            kind if INERT.contains(&kind) => {}
            kind => found.unknown.push(unknown(
                file,
                &address,
                &format!("tenantgen cannot analyse what a {kind} grants; review it by hand"),
            )),
        }
    }

    /// A binding's role and subjects.
    fn binding(&self, resource: &Resource<'_>, address: &str, found: &mut Found) {
        let body = resource.block.body();
        let file = &resource.file;
        let cluster_wide = resource.kind.starts_with("kubernetes_cluster_role_binding");
        // A RoleBinding without a namespace is in `default`.
        let scope = if cluster_wide {
            Some(None)
        } else {
            match block(body, "metadata").and_then(|metadata| attribute(metadata, "namespace")) {
                Some(namespace) => literal(namespace).map(Some),
                None => Some(Some("default".to_string())),
            }
        };
        let role_ref = block(body, "role_ref");
        let role = role_ref
            .and_then(|role_ref| attribute(role_ref, "name"))
            .and_then(|name| self.role_name(resource.stack, name));
        // Never a default: Terraform would evaluate an expression to either.
        let role_kind = role_ref
            .and_then(|role_ref| literal(attribute(role_ref, "kind")?))
            .and_then(|kind| match kind.as_str() {
                "Role" => Some("Role"),
                "ClusterRole" => Some("ClusterRole"),
                _ => None,
            });
        let (Some(role), Some(role_kind), Some(scope)) = (role, role_kind, scope) else {
            found.unknown.push(unknown(
                file,
                address,
                "its role, role kind or namespace is an expression, not a name",
            ));
            return;
        };
        let via = block(body, "metadata")
            .and_then(|metadata| literal(attribute(metadata, "name")?))
            .unwrap_or_else(|| address.to_string());
        let grant = self.kubernetes_grant(file, scope, &role, role_kind, &via);
        let subjects: Vec<&Block> = body
            .blocks()
            .filter(|inner| inner.identifier() == "subject")
            .collect();
        for subject in subjects {
            match self.subject_holder(file, resource.stack, subject) {
                Some(holder) => found.kubernetes.push((holder, grant.clone())),
                None => found.unknown.push(unknown(
                    file,
                    address,
                    "a subject's kind, name or namespace is an expression, not a name",
                )),
            }
        }
    }

    /// What a declared role does beyond its own rules: aggregating into
    /// Kubernetes' admin, edit or view (which every namespace-owner holds),
    /// or taking the name of one of Kubernetes' own.
    fn role_notes(&self, resource: &Resource<'_>, address: &str, found: &mut Found) {
        let body = resource.block.body();
        let metadata = block(body, "metadata");
        let aggregates = block(body, "aggregation_rule").is_some()
            || metadata
                .and_then(|metadata| attribute(metadata, "labels"))
                .is_some_and(|labels| labels.to_string().contains("aggregate-to-"));
        if aggregates {
            found.unknown.push(unknown(
                &resource.file,
                address,
                "aggregates rules into other ClusterRoles (admin, edit and view among them, which tenants hold): what those grant changes",
            ));
        }
        let name = metadata.and_then(|metadata| literal(attribute(metadata, "name")?));
        if resource.kind.starts_with("kubernetes_cluster_role")
            && name.is_some_and(|name| crate::builtin_roles::is_builtin(&name))
        {
            found.unknown.push(unknown(
                &resource.file,
                address,
                "declares a ClusterRole named like one of Kubernetes' own; bindings to that name get Kubernetes' rules, not these",
            ));
        }
    }

    /// A binding's role name: a literal, or `<type>.<name>.metadata[0].name`
    /// of a role in the same stack, declared by the files or by the plan.
    fn role_name(&self, stack: &str, name: &Expression) -> Option<String> {
        if let Some(name) = literal(name) {
            return Some(name);
        }
        let (kind, tf) = metadata_name_reference(name)?;
        if !is_role(&kind) {
            return None;
        }
        let key = (stack.to_string(), kind, tf);
        if let Some(name) = self.index.role_names.get(&key) {
            return Some(name.clone());
        }
        let address = format!("{}.{}", key.1, key.2);
        self.plan
            .objects
            .iter()
            .find(|object| &*object.stack == stack && object.address() == address)
            .map(|object| object.name.clone())
    }

    fn kubernetes_grant(
        &self,
        file: &AddonFile<'_>,
        scope: Option<String>,
        role: &str,
        role_kind: &'static str,
        via: &str,
    ) -> KubernetesGrant {
        let role_scope = (role_kind == "Role").then(|| scope.clone()).flatten();
        // A role the files declare wins over the plan's: an override or an
        // add-on may give a generated role's name other rules. Never over
        // Kubernetes' own, which exist already (creating one fails).
        let declared = self
            .index
            .roles
            .get(&(role_kind, role_scope.clone(), role.to_string()))
            .filter(|_| role_kind == "Role" || !crate::builtin_roles::is_builtin(role));
        let generated = self.plan.objects.iter().find(|object| {
            matches!(object.spec, Spec::Role { .. })
                && object.name == role
                && object.namespace == role_scope
        });
        let mut grant = super::grant(
            scope,
            role,
            role_kind,
            via,
            generated.filter(|_| declared.is_none()),
        );
        if let Some(rules) = declared {
            grant.write = rules.as_deref().is_none_or(super::rules_write);
            grant.rules.clone_from(rules);
        }
        (grant.addon, grant.template_override) = marks(file);
        grant
    }

    fn subject_holder(&self, file: &AddonFile<'_>, stack: &str, subject: &Block) -> Option<Holder> {
        let body = subject.body();
        let kind = literal(attribute(body, "kind")?)?;
        let name = attribute(body, "name")?;
        let name = literal(name).or_else(|| {
            let (kind, tf) = reference(name)?;
            let key = (stack.to_string(), kind, tf);
            self.index.service_accounts.get(&key).cloned()
        })?;
        let namespace = match attribute(body, "namespace") {
            Some(namespace) => Some(literal(namespace)?),
            None => None,
        };
        let user = file.user.unwrap_or_default().to_string();
        if kind == "User"
            && let Some(owner) = self.users.get(name.as_str())
        {
            return Some(Holder {
                kind: PrincipalKind::User,
                principal: name,
                user: owner.to_string(),
            });
        }
        let principal = match (kind.as_str(), namespace) {
            ("ServiceAccount", Some(namespace)) => format!("ServiceAccount {namespace}/{name}"),
            (kind, _) => format!("{kind} {name}"),
        };
        Some(Holder {
            kind: PrincipalKind::Other,
            principal,
            user,
        })
    }
}

/// `(type, name)` of exactly `<type>.<name>.metadata[0].name`.
fn metadata_name_reference(expr: &Expression) -> Option<(String, String)> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let [
        _,
        TraversalOperator::GetAttr(metadata),
        index,
        TraversalOperator::GetAttr(name),
    ] = traversal.operators.as_slice()
    else {
        return None;
    };
    let first = match index {
        TraversalOperator::LegacyIndex(0) => true,
        TraversalOperator::Index(Expression::Number(number)) => number.as_u64() == Some(0),
        _ => false,
    };
    (metadata.as_str() == "metadata" && first && name.as_str() == "name")
        .then(|| reference(expr))
        .flatten()
}
