//! Adoption of a deployment in the dynamic `for_each` style (SPEC §7):
//! `moved` blocks from its addresses to tenantgen's, same type to same
//! type, so namespaces, policies, entities and aliases come through with no
//! destroy and no create. Objects whose Kubernetes name changes are moved
//! too, then replaced; the summary lists them.

use serde::Serialize;

use crate::config::AdoptConfig;
use crate::model::Role;

use super::{PlatformTenant, ResourceTypes, VaultTenant};

/// `moved { from = <from>[<key>]  to = <to> }`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub from: String,
    pub key: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Adoption {
    pub vault: Vec<Move>,
    pub platform: Vec<Move>,
    /// `address: old name -> new name`, for objects the move cannot keep.
    #[serde(skip)]
    pub replacements: Vec<String>,
}

/// Why the adopt block cannot work with the types tenantgen generates.
pub fn type_problems(adopt: &AdoptConfig, types: &ResourceTypes) -> Vec<String> {
    let expected = [
        ("namespaces", &adopt.namespaces, types.namespace),
        ("policies", &adopt.policies, "vault_policy"),
        ("entities", &adopt.entities, "vault_identity_entity"),
        (
            "entity_aliases",
            &adopt.entity_aliases,
            "vault_identity_entity_alias",
        ),
        (
            "namespace_owner_bindings",
            &adopt.namespace_owner_bindings,
            types.role_binding,
        ),
        (
            "read_only_bindings",
            &adopt.read_only_bindings,
            types.cluster_role_binding,
        ),
        ("quotas", &adopt.quotas, types.resource_quota),
        (
            "admin_bindings",
            &adopt.admin_bindings,
            types.cluster_role_binding,
        ),
        (
            "power_user_bindings",
            &adopt.power_user_bindings,
            types.cluster_role_binding,
        ),
    ];
    expected
        .into_iter()
        .filter(|(_, address, kind)| address.split('.').next() != Some(*kind))
        .map(|(key, address, kind)| {
            format!(
                "adopt.{key} = {address:?}: tenantgen generates {kind} here, and Terraform cannot move state between resource types; set adopt.legacy_resource_types = true or correct the address"
            )
        })
        .collect()
}

pub fn plan(
    adopt: &AdoptConfig,
    types: &ResourceTypes,
    vault: &[VaultTenant],
    platform: &[PlatformTenant],
) -> Adoption {
    let mut adoption = Adoption::default();
    let module = |address: &str| {
        if adopt.module_prefix.is_empty() {
            address.to_string()
        } else {
            format!("{}.{address}", adopt.module_prefix)
        }
    };
    let moved = |from: &str, key: &str, kind: &str, tf: &str| Move {
        from: from.to_string(),
        key: key.to_string(),
        to: format!("{kind}.{tf}"),
    };
    for tenant in vault {
        for namespace in &tenant.namespaces {
            adoption.vault.push(moved(
                &adopt.namespaces,
                &namespace.name,
                types.namespace,
                &namespace.tf,
            ));
        }
        adoption.vault.push(moved(
            &adopt.policies,
            &tenant.user,
            "vault_policy",
            &tenant.policy.tf,
        ));
        adoption.vault.push(moved(
            &adopt.entities,
            &tenant.user,
            "vault_identity_entity",
            &tenant.entity.tf,
        ));
        adoption.vault.push(moved(
            &adopt.entity_aliases,
            &tenant.user,
            "vault_identity_entity_alias",
            &tenant.alias.tf,
        ));
    }
    let old_name = |pattern: &str, user: &str| pattern.replace("{user}", user);
    for tenant in platform {
        let user = tenant.user.as_str();
        for namespace in &tenant.namespaces {
            let key = format!("{user}-{}", namespace.name);
            let binding = moved(
                &module(&adopt.namespace_owner_bindings),
                &key,
                types.role_binding,
                &namespace.admin_binding.tf,
            );
            note_rename(
                &mut adoption.replacements,
                &binding,
                &old_name(&adopt.namespace_owner_binding_name, user),
                &namespace.admin_binding.name,
            );
            adoption.platform.push(binding);
            let quota = moved(
                &module(&adopt.quotas),
                &key,
                types.resource_quota,
                &namespace.quota.tf,
            );
            note_rename(
                &mut adoption.replacements,
                &quota,
                &old_name(&adopt.quota_name, user),
                &namespace.quota.name,
            );
            adoption.platform.push(quota);
        }
        let (from, old) = match tenant.role {
            Role::NamespaceOwner => (
                &adopt.read_only_bindings,
                Some(old_name(&adopt.read_only_binding_name, user)),
            ),
            Role::Admin => (&adopt.admin_bindings, None),
            Role::PowerUser => (&adopt.power_user_bindings, None),
        };
        let binding = moved(
            &module(from),
            user,
            types.cluster_role_binding,
            &tenant.cluster_binding.tf,
        );
        match old {
            Some(old) => note_rename(
                &mut adoption.replacements,
                &binding,
                &old,
                &tenant.cluster_binding.name,
            ),
            None => adoption.replacements.push(format!(
                "{}: replaced unless its old name was {}",
                binding.to, tenant.cluster_binding.name
            )),
        }
        adoption.platform.push(binding);
    }
    adoption
}

fn note_rename(replacements: &mut Vec<String>, moved: &Move, old: &str, new: &str) {
    if old != new {
        replacements.push(format!("{}: {old} -> {new}", moved.to));
    }
}
