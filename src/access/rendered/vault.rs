//! The Vault side of the add-on reader: the entities and groups a file's
//! policies reach, and the rules of the policies it names.

use hcl::Expression;

use super::{Context, Found, Holder, PrincipalKind, Resource, VaultGrant, marks, unknown};
use crate::access::literal::{PolicyRules, attribute, literal, reference};
use crate::plan::{Object, Spec};

impl Context<'_> {
    /// The entity or group an `entity_id`, `group_id` or member id names.
    pub(super) fn holder_of(&self, stack: &str, id: &Expression) -> Option<Holder> {
        let (kind, tf) = reference(id)?;
        if let Some(holder) = self
            .index
            .holders
            .get(&(stack.to_string(), kind.clone(), tf.clone()))
        {
            return Some(holder.clone());
        }
        let entity = self.plan_object(stack, &kind, &tf)?;
        let user = entity.user.as_deref()?;
        let principal = self
            .users
            .iter()
            .find(|(_, owner)| **owner == user)
            .map(|(identity, _)| identity.to_string())?;
        Some(Holder {
            kind: PrincipalKind::User,
            principal,
            user: user.to_string(),
        })
    }

    pub(super) fn plan_object(&self, stack: &str, kind: &str, tf: &str) -> Option<&Object> {
        self.plan.objects.iter().find(|object| {
            &*object.stack == stack && object.resource_type == kind && object.tf == tf
        })
    }

    /// A group's member entities get its policies.
    pub(super) fn members(&self, resource: &Resource<'_>, address: &str, found: &mut Found) {
        let body = resource.block.body();
        // Members of member groups, and logins an external group maps,
        // inherit its policies: principals tenantgen does not follow.
        let external = attribute(body, "type")
            .is_some_and(|kind| literal(kind).is_none_or(|kind| kind != "internal"));
        if external || attribute(body, "member_group_ids").is_some() {
            found.unknown.push(unknown(
                &resource.file,
                address,
                "its policies reach the members of its member groups or the logins of an external group, which tenantgen does not follow",
            ));
        }
        let Some(members) = attribute(body, "member_entity_ids") else {
            return;
        };
        let Expression::Array(ids) = members else {
            found.unknown.push(unknown(
                &resource.file,
                address,
                "its member_entity_ids is not a list",
            ));
            return;
        };
        for id in ids {
            match self.holder_of(resource.stack, id) {
                Some(holder) => self.policies(resource, address, &holder, found),
                None => found.unknown.push(unknown(
                    &resource.file,
                    address,
                    "a member entity is not one tenantgen or an add-on declares",
                )),
            }
        }
    }

    /// The rules of the policies a resource's `policies` lists, for `holder`.
    pub(super) fn policies(
        &self,
        resource: &Resource<'_>,
        address: &str,
        holder: &Holder,
        found: &mut Found,
    ) {
        let file = &resource.file;
        let Some(list) = attribute(resource.block.body(), "policies") else {
            return;
        };
        let Expression::Array(items) = list else {
            found
                .unknown
                .push(unknown(file, address, "its policies is not a list"));
            return;
        };
        for item in items {
            match self.policy(resource.stack, item) {
                Some((name, Some(rules))) => {
                    for (path, capabilities) in rules {
                        found.vault.push((
                            holder.clone(),
                            VaultGrant {
                                path,
                                capabilities,
                                policy: name.clone(),
                                addon: marks(file).0,
                                template_override: marks(file).1,
                            },
                        ));
                    }
                }
                Some((name, None)) => found.unknown.push(unknown(
                    file,
                    address,
                    &format!("policy {name:?} is not a literal policy text"),
                )),
                None => found.unknown.push(unknown(
                    file,
                    address,
                    &format!(
                        "policy {item} is not one tenantgen or an add-on writes, so its rules are unknown"
                    ),
                )),
            }
        }
    }

    /// A policy by its name or `vault_policy.<tf>.name`: its name and rules.
    fn policy(&self, stack: &str, item: &Expression) -> Option<(String, PolicyRules)> {
        let from_plan = |object: &Object| match &object.spec {
            Spec::VaultPolicy { rules } => Some((
                object.name.clone(),
                Some(
                    rules
                        .iter()
                        .map(|rule| (rule.path.clone(), rule.capabilities.to_vec()))
                        .collect(),
                ),
            )),
            _ => None,
        };
        if let Some(name) = literal(item) {
            if let Some(rules) = self
                .index
                .policies_by_name
                .get(&(stack.to_string(), name.clone()))
            {
                return Some((name, rules.clone()));
            }
            return self
                .plan
                .objects
                .iter()
                .filter(|object| &*object.stack == stack && object.name == name)
                .find_map(from_plan);
        }
        let (kind, tf) = reference(item)?;
        if kind != "vault_policy" {
            return None;
        }
        if let Some(found) = self
            .index
            .policies_by_tf
            .get(&(stack.to_string(), tf.clone()))
        {
            return Some(found.clone());
        }
        from_plan(self.plan_object(stack, &kind, &tf)?)
    }
}
