//! What happens to namespaces across renders (README, "Offboarding").
//!
//! A namespace tenantgen stops managing (its user left, or it left the
//! user's list) is *released*: a `removed` block with `destroy = false` makes
//! Terraform forget it while the namespace and its data stay. Released
//! namespaces are kept in the render record, and their `removed` blocks in
//! the generated file, until `--forget-released` says otherwise. A
//! namespace managed again is *re-adopted* with an `import` block (its name
//! is its import id), so it is never created anew. Deleting a namespace
//! takes `--destroy-namespace NAME` in the render that stops managing it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::escape::identifier;
use crate::model::Tenants;
use crate::problem::Problem;

/// The history a render carries forward in its record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceHistory {
    /// Released namespace → the user it belonged to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub released: BTreeMap<String, String>,
    /// Namespaces managed again after a release, imported rather than created.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub readopted: BTreeSet<String>,
}

/// What the command line asks for namespaces.
#[derive(Debug, Clone, Default)]
pub struct NamespaceOptIns {
    /// `--destroy-namespace`: let Terraform delete these instead of releasing them.
    pub destroy: Vec<String>,
    /// `--forget-released`: drop these from the record and the generated blocks.
    pub forget: Vec<String>,
}

/// A namespace in a `removed` or `import` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceRef {
    /// The Terraform name of its `kubernetes_namespace_v1`.
    pub tf: String,
    pub name: String,
    pub user: String,
}

/// The vault stack's lifecycle blocks, and the history to record.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Lifecycle {
    pub removed: Vec<NamespaceRef>,
    pub imports: Vec<NamespaceRef>,
    /// Namespaces this render lets Terraform delete (`--destroy-namespace`).
    #[serde(skip)]
    pub destroyed: Vec<String>,
    #[serde(skip)]
    pub history: NamespaceHistory,
}

impl Lifecycle {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.imports.is_empty()
    }
}

/// Decides the lifecycle blocks from the tenants now, the namespaces the
/// last render managed (namespace → user) and its history. An opt-in that
/// names no namespace it could apply to is an error, so a typo never
/// silently deletes or keeps the wrong thing.
pub fn decide(
    tenants: &Tenants,
    previously_managed: &BTreeMap<String, String>,
    previous: &NamespaceHistory,
    opt_ins: &NamespaceOptIns,
) -> Result<Lifecycle, Vec<Problem>> {
    let managed: BTreeMap<&str, &str> = tenants
        .users
        .iter()
        .flat_map(|user| {
            user.namespaces
                .iter()
                .map(|namespace| (namespace.as_str(), user.name.as_str()))
        })
        .collect();
    let leaving: BTreeMap<&str, &str> = previously_managed
        .iter()
        .filter(|(namespace, _)| !managed.contains_key(namespace.as_str()))
        .map(|(namespace, user)| (namespace.as_str(), user.as_str()))
        .collect();
    let mut problems = Vec::new();
    for name in &opt_ins.destroy {
        if !leaving.contains_key(name.as_str()) {
            let why = if managed.contains_key(name.as_str()) {
                "it is still in the users source; remove it there first"
            } else if previous.released.contains_key(name) {
                "it was released by an earlier render and Terraform no longer manages it; delete it with kubectl if it must go"
            } else {
                "the last render did not manage it"
            };
            problems.push(Problem::new(format!("--destroy-namespace {name}"), why));
        }
    }
    for name in &opt_ins.forget {
        if !previous.released.contains_key(name) && !previous.readopted.contains(name) {
            problems.push(Problem::new(
                format!("--forget-released {name}"),
                "it is neither released nor re-adopted in the render record",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let forget = |name: &str| opt_ins.forget.iter().any(|forgotten| forgotten == name);
    let mut history = NamespaceHistory::default();
    for (name, user) in &previous.released {
        if !managed.contains_key(name.as_str()) && !forget(name) {
            history.released.insert(name.clone(), user.clone());
        }
    }
    let mut destroyed = Vec::new();
    for (name, user) in &leaving {
        if opt_ins.destroy.iter().any(|destroy| destroy == name) {
            destroyed.push(name.to_string());
        } else {
            history.released.insert(name.to_string(), user.to_string());
        }
    }
    for name in managed.keys() {
        let readopted = previous.released.contains_key(*name) || previous.readopted.contains(*name);
        if readopted && !forget(name) {
            history.readopted.insert(name.to_string());
        }
    }
    let reference = |name: &str, user: &str| NamespaceRef {
        tf: identifier(name),
        name: name.to_string(),
        user: user.to_string(),
    };
    Ok(Lifecycle {
        removed: history
            .released
            .iter()
            .map(|(name, user)| reference(name, user))
            .collect(),
        imports: history
            .readopted
            .iter()
            .map(|name| {
                reference(
                    name,
                    managed.get(name.as_str()).copied().unwrap_or_default(),
                )
            })
            .collect(),
        destroyed,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Role, User};

    fn tenants(users: &[(&str, &[&str])]) -> Tenants {
        Tenants {
            users: users
                .iter()
                .map(|(name, namespaces)| User {
                    name: name.to_string(),
                    role: Role::NamespaceOwner,
                    email: format!("{name}@example.com"),
                    namespaces: namespaces.iter().map(|ns| ns.to_string()).collect(),
                    domains: Vec::new(),
                    quota: BTreeMap::new(),
                    apps: Vec::new(),
                })
                .collect(),
        }
    }

    fn managed(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(ns, user)| (ns.to_string(), user.to_string()))
            .collect()
    }

    #[test]
    fn a_removed_user_releases_their_namespaces_and_a_returning_one_imports_them() {
        let before = managed(&[
            ("alice-dev", "alice"),
            ("alice-prod", "alice"),
            ("bob", "bob"),
        ]);
        let removed = decide(
            &tenants(&[("bob", &["bob"])]),
            &before,
            &NamespaceHistory::default(),
            &NamespaceOptIns::default(),
        )
        .unwrap();
        let names: Vec<&str> = removed.removed.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["alice-dev", "alice-prod"]);
        assert_eq!(removed.removed[0].tf, "alice_dev");
        assert!(removed.imports.is_empty());

        // Still released a render later, whatever else happens.
        let later = decide(
            &tenants(&[("bob", &["bob"])]),
            &managed(&[("bob", "bob")]),
            &removed.history,
            &NamespaceOptIns::default(),
        )
        .unwrap();
        assert_eq!(later.removed, removed.removed);

        let back = decide(
            &tenants(&[("alice", &["alice-dev"]), ("bob", &["bob"])]),
            &managed(&[("bob", "bob")]),
            &later.history,
            &NamespaceOptIns::default(),
        )
        .unwrap();
        assert_eq!(back.imports.len(), 1);
        assert_eq!(back.imports[0].name, "alice-dev");
        let still: Vec<&str> = back.removed.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(still, ["alice-prod"]);
    }

    #[test]
    fn opt_ins_name_exactly_what_they_change() {
        let before = managed(&[("alice-dev", "alice"), ("alice-prod", "alice")]);
        let destroy = NamespaceOptIns {
            destroy: vec!["alice-dev".into()],
            forget: Vec::new(),
        };
        let lifecycle = decide(
            &tenants(&[]),
            &before,
            &NamespaceHistory::default(),
            &destroy,
        )
        .unwrap();
        assert_eq!(lifecycle.destroyed, ["alice-dev"]);
        let names: Vec<&str> = lifecycle.removed.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["alice-prod"]);

        let typo = NamespaceOptIns {
            destroy: vec!["alice-stage".into(), "bob".into()],
            forget: vec!["carol".into()],
        };
        let problems = decide(
            &tenants(&[("bob", &["bob"])]),
            &managed(&[("bob", "bob")]),
            &NamespaceHistory::default(),
            &typo,
        )
        .unwrap_err()
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n");
        assert!(
            problems.contains("--destroy-namespace alice-stage: the last render did not manage it")
        );
        assert!(problems.contains("--destroy-namespace bob: it is still in the users source"));
        assert!(problems.contains("--forget-released carol"));

        let forget = NamespaceOptIns {
            destroy: Vec::new(),
            forget: vec!["alice-prod".into()],
        };
        let forgotten =
            decide(&tenants(&[]), &BTreeMap::new(), &lifecycle.history, &forget).unwrap();
        assert!(forgotten.removed.is_empty() && forgotten.history.released.is_empty());
    }
}
