//! Adoption of a deployment in the dynamic `for_each` style (README,
//! "Adopting a for_each deployment"): `moved` blocks from its addresses to
//! tenantgen's, same type to same type, so namespaces, policies, entities
//! and aliases come through with no destroy and no create. Objects whose
//! Kubernetes name changes are moved too, then replaced; the summary lists
//! them. Everything here is read from the plan's object list.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::AdoptConfig;
use crate::model::{Role, User};
use crate::problem::Problem;

use super::{Object, Spec};

/// `moved { from = <from>[<key>]  to = <to> }`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub from: String,
    pub key: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Adoption {
    /// The moves into each stack directory.
    pub moves: BTreeMap<String, Vec<Move>>,
    /// `address: old name -> new name`, for objects the move cannot keep.
    #[serde(skip)]
    pub replacements: Vec<String>,
    /// Adopt settings whose resource type differs from the one generated.
    #[serde(skip)]
    pub type_problems: Vec<Problem>,
}

impl Adoption {
    /// Every move with the stack it belongs to.
    pub fn moves(&self) -> impl Iterator<Item = (&str, &Move)> {
        self.moves
            .iter()
            .flat_map(|(stack, moves)| moves.iter().map(move |moved| (stack.as_str(), moved)))
    }
}

/// Which adopt setting moves an object, and its old name when tenantgen
/// renames it; `None` for objects an adoption leaves alone.
fn source<'a>(
    adopt: &'a AdoptConfig,
    object: &Object,
    role: Role,
) -> Option<(&'static str, &'a str, Option<&'a str>)> {
    let subject_is_user =
        matches!(&object.spec, Spec::Binding { subject, .. } if subject.kind == "User");
    Some(match (object.kind, &*object.stack) {
        ("Namespace", _) => ("namespaces", &adopt.namespaces, None),
        ("policy", _) => ("policies", &adopt.policies, None),
        ("entity", _) => ("entities", &adopt.entities, None),
        ("entity alias", _) => ("entity_aliases", &adopt.entity_aliases, None),
        ("RoleBinding", _) if subject_is_user => (
            "namespace_owner_bindings",
            &adopt.namespace_owner_bindings,
            Some(adopt.namespace_owner_binding_name.as_str()),
        ),
        ("Role", "vault") => ("deployer_roles", &adopt.deployer_roles, None),
        ("secret backend role", _) => (
            "deployer_backend_roles",
            &adopt.deployer_backend_roles,
            None,
        ),
        ("ResourceQuota", _) => ("quotas", &adopt.quotas, Some(adopt.quota_name.as_str())),
        ("TLS module", _) => ("tls_modules", &adopt.tls_modules, None),
        ("DNS record", _) => ("dns_records", &adopt.dns_records, None),
        ("ClusterRoleBinding", _) => match role {
            Role::NamespaceOwner => (
                "read_only_bindings",
                &adopt.read_only_bindings,
                Some(adopt.read_only_binding_name.as_str()),
            ),
            Role::Admin => ("admin_bindings", &adopt.admin_bindings, None),
            Role::PowerUser => ("power_user_bindings", &adopt.power_user_bindings, None),
        },
        _ => return None,
    })
}

/// The resource type of an address, `module` for a module call:
/// `module.cloudflared.cloudflare_record.dns_record` → `cloudflare_record`.
fn resource_type(address: &str) -> &str {
    let mut segments: &[&str] = &address.split('.').collect::<Vec<_>>();
    while let ["module", _, rest @ ..] = segments
        && rest.len() >= 2
    {
        segments = rest;
    }
    segments.first().copied().unwrap_or_default()
}

pub fn plan(adopt: &AdoptConfig, zone: &str, objects: &[Object], users: &[User]) -> Adoption {
    let mut adoption = Adoption::default();
    let role_of = |user: &str| {
        users
            .binary_search_by(|candidate| candidate.name.as_str().cmp(user))
            .map(|index| users[index].role)
            .ok()
    };
    for object in objects {
        let Some(user) = object.user.as_deref() else {
            continue;
        };
        let Some(role) = role_of(user) else {
            continue;
        };
        let Some((setting, from, old_name)) = source(adopt, object, role) else {
            continue;
        };
        let to = object.address();
        if resource_type(from) != object.resource_type {
            let problem = Problem::new(
                format!("adopt.{setting} = {from:?}"),
                format!(
                    "tenantgen generates {} here, and Terraform cannot move state between resource types",
                    object.resource_type
                ),
            )
            .hint(if matches!(object.spec, Spec::DnsRecord { .. }) {
                "set dns.provider_version to the provider the old records were made with, or correct the address"
            } else {
                "set adopt.legacy_resource_types = true, or correct the address"
            });
            if !adoption.type_problems.contains(&problem) {
                adoption.type_problems.push(problem);
            }
        }
        // Keyed as the for_each code kept them: by namespace, by user, or
        // `<user>-<namespace>` for what a user has in each namespace.
        let key = match &object.spec {
            Spec::Namespace { .. } => object.name.clone(),
            Spec::Role { .. } => object.namespace.clone().unwrap_or_default(),
            Spec::SecretBackendRole {
                allowed_namespace, ..
            } => allowed_namespace.clone(),
            Spec::Binding { .. } | Spec::ResourceQuota { .. } => match &object.namespace {
                Some(namespace) => format!("{user}-{namespace}"),
                None => user.to_string(),
            },
            Spec::TlsModule { .. } => object.namespace.clone().unwrap_or_default(),
            // The name relative to the zone, however tenantgen writes it.
            Spec::DnsRecord { .. } => super::relative_name(&object.name, zone).to_string(),
            _ => user.to_string(),
        };
        // The RBAC objects and TLS module calls lived in a module of their
        // stack.
        let in_module = matches!(
            object.spec,
            Spec::Binding { .. } | Spec::ResourceQuota { .. } | Spec::TlsModule { .. }
        );
        let from = if in_module && !adopt.module_prefix.is_empty() {
            format!("{}.{from}", adopt.module_prefix)
        } else {
            from.to_string()
        };
        match old_name.map(|pattern| pattern.replace("{user}", user)) {
            Some(old) if old != object.name => adoption
                .replacements
                .push(format!("{to}: {old} -> {}", object.name)),
            Some(_) => {}
            None if object.kind == "ClusterRoleBinding" => adoption.replacements.push(format!(
                "{to}: replaced unless its old name was {}",
                object.name
            )),
            None => {}
        }
        adoption
            .moves
            .entry(object.stack.to_string())
            .or_default()
            .push(Move { from, key, to });
    }
    adoption
}

#[cfg(test)]
mod tests {
    use super::resource_type;

    #[test]
    fn resource_types_are_read_past_module_paths() {
        assert_eq!(
            resource_type("kubernetes_namespace.user_namespace"),
            "kubernetes_namespace"
        );
        assert_eq!(
            resource_type("module.cloudflared.cloudflare_record.dns_record"),
            "cloudflare_record"
        );
        assert_eq!(resource_type("module.user_namespace_tls"), "module");
        assert_eq!(resource_type("module.a.module.b"), "module");
        assert_eq!(
            resource_type("module.a.module.b.vault_policy.p"),
            "vault_policy"
        );
    }
}
