//! `identity.extra_policies` name policies written outside tenantgen: one
//! that is a tenant's generated policy would give every user that tenant's
//! secrets and deployer credentials.

use std::collections::BTreeMap;

use crate::config::{Config, name_from};
use crate::problem::Problem;

use super::{User, shown_str};

/// One problem per user whose extra policy is some user's generated policy.
pub(super) fn extra_policy_collisions(users: &[User], config: &Config) -> Vec<Problem> {
    let generated: BTreeMap<String, &str> = users
        .iter()
        .map(|user| {
            let name = name_from(&config.names.policy, &user.name, None, false);
            (name, user.name.as_str())
        })
        .collect();
    let mut problems = Vec::new();
    for user in users {
        for pattern in &config.identity.extra_policies {
            let name = name_from(pattern, &user.name, None, false);
            if let Some(owner) = generated.get(&name) {
                problems.push(
                    Problem::new(
                        "identity.extra_policies",
                        format!(
                            "{pattern:?} gives user {} the policy {name:?}, which is user {owner}'s generated policy (names.policy = {:?}); it would grant {owner}'s secrets",
                            shown_str(&user.name),
                            config.names.policy,
                            owner = shown_str(owner),
                        ),
                    )
                    .hint("rename the extra policy, or change names.policy so no tenant's policy can take its name"),
                );
            }
        }
    }
    problems
}
