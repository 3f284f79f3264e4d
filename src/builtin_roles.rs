//! Kubernetes' own ClusterRoles, as the API server bootstraps them, so that
//! a generated role is never named like one and `access` judges a binding
//! to one by what it really grants.
//!
//! Pinned to the bootstrap policy of Kubernetes v1.31
//! (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`). Every role
//! it creates is named `system:…`, except `cluster-admin`, `admin`, `edit`
//! and `view`.

use crate::config::RbacRule;

/// The release whose bootstrap policy [`known`] describes.
pub const RELEASE: &str = "Kubernetes v1.31 bootstrap policy";

/// The bootstrap ClusterRoles not named `system:…`.
const USER_FACING: [&str; 4] = ["cluster-admin", "admin", "edit", "view"];

/// Whether `name` is, or may be, a ClusterRole the API server creates itself.
pub fn is_builtin(name: &str) -> bool {
    USER_FACING.contains(&name) || name.starts_with("system:")
}

/// What a built-in ClusterRole grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builtin {
    /// Its rules, as bootstrapped.
    Rules(Vec<RbacRule>),
    /// An aggregated role: its rules are whatever ClusterRoles carrying its
    /// aggregation label hold on the cluster, so they are not known here.
    /// `writes` is what its bootstrap content does (`view` only reads).
    Aggregated { writes: bool },
}

/// A user-facing built-in ClusterRole by name; `None` for any other.
pub fn known(name: &str) -> Option<Builtin> {
    match name {
        // `*` on every resource of every group, and on every non-resource
        // URL (a rule `RbacRule` cannot hold; `*` on `*` already writes).
        "cluster-admin" => Some(Builtin::Rules(vec![RbacRule::new(&["*"], &["*"], &["*"])])),
        // Aggregated from `system:aggregate-to-admin`, `-edit` and `-view`.
        "admin" | "edit" => Some(Builtin::Aggregated { writes: true }),
        "view" => Some(Builtin::Aggregated { writes: false }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_facing_roles_and_every_system_role_are_builtin() {
        for name in [
            "cluster-admin",
            "admin",
            "edit",
            "view",
            "system:basic-user",
        ] {
            assert!(is_builtin(name), "{name}");
        }
        for name in ["system:aggregate-to-admin", "system:node", "system:"] {
            assert!(is_builtin(name), "{name}");
        }
        for name in [
            "tenantgen-read-only",
            "cluster-admins",
            "Admin",
            "xsystem:node",
        ] {
            assert!(!is_builtin(name), "{name}");
        }
    }

    #[test]
    fn cluster_admin_is_known_to_grant_everything() {
        let Some(Builtin::Rules(rules)) = known("cluster-admin") else {
            panic!("cluster-admin has rules");
        };
        assert_eq!(rules, [RbacRule::new(&["*"], &["*"], &["*"])]);
        assert_eq!(known("view"), Some(Builtin::Aggregated { writes: false }));
        assert_eq!(known("edit"), Some(Builtin::Aggregated { writes: true }));
        assert_eq!(known("system:node"), None);
    }
}
