//! The guard against revoking everyone: an empty or truncated users source
//! is valid input, so a render that would remove many users, or all of
//! them, waits for `--allow-removals` (README, "Guard against revoking
//! everyone").

use std::collections::BTreeSet;

use crate::config::{DEFAULT_FILE, GuardConfig};
use crate::escape;
use crate::manifest::Manifest;
use crate::model::Tenants;
use crate::problem::count;

/// Most removed users a message names; the rest are counted.
const NAMED: usize = 20;

/// What the guard says about one render.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Goes ahead, with this warning.
    Warn(String),
    /// Needs `--allow-removals`; the message says why.
    Refuse(String),
}

/// Judges a render of `tenants` after the one `previous` records.
/// `allowed` is `--allow-removals`; `source` names the users source.
pub fn judge(
    previous: Option<&Manifest>,
    tenants: &Tenants,
    guard: &GuardConfig,
    allowed: Option<usize>,
    source: &str,
) -> Verdict {
    let Some(previous) = previous else {
        return if tenants.users.is_empty() {
            Verdict::Warn(format!(
                "{source} holds no users: this first render grants no one access; check that it is the users map you meant"
            ))
        } else {
            Verdict::Pass
        };
    };
    let kept: BTreeSet<&str> = tenants
        .users
        .iter()
        .map(|user| user.name.as_str())
        .collect();
    let removed: Vec<&str> = previous
        .tenants
        .keys()
        .map(String::as_str)
        .filter(|user| !kept.contains(user))
        .collect();
    let leaves_none = kept.is_empty() && !removed.is_empty();
    let too_many = removed.len() > guard.max_removed;
    if !(leaves_none || too_many) || allowed.is_some_and(|allowed| removed.len() <= allowed) {
        return Verdict::Pass;
    }
    let why = if leaves_none {
        format!("it would remove every user and leave none; {source} may be empty or truncated")
    } else {
        format!(
            "more than guard.max_removed = {} in {DEFAULT_FILE} allows",
            guard.max_removed
        )
    };
    let passed = match allowed {
        Some(allowed) => format!(" (--allow-removals {allowed} is fewer)"),
        None => String::new(),
    };
    Verdict::Refuse(format!(
        "this render would remove {}: {}{passed}; {why}. Check the users source; if these removals are intended, re-run with --allow-removals {}",
        count(removed.len(), "user"),
        named(&removed),
        removed.len()
    ))
}

/// The first [`NAMED`] users, escaped (the record they come from may be
/// planted), and how many more.
fn named(users: &[&str]) -> String {
    let mut shown: Vec<String> = users
        .iter()
        .take(NAMED)
        .map(|user| escape::spelled(user))
        .collect();
    if users.len() > NAMED {
        shown.push(format!("and {} more", users.len() - NAMED));
    }
    shown.join(", ")
}

/// The guard's change since the last render, for the summary: the config
/// is in the pull request, so raising the limit is shown like a grant.
pub fn change(previous: Option<&Manifest>, guard: &GuardConfig) -> Option<String> {
    let before = previous.map(|record| &record.guard);
    let before = before.cloned().unwrap_or_default();
    (before != *guard).then(|| {
        format!(
            "guard.max_removed: {} -> {}",
            before.max_removed, guard.max_removed
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Role, User};
    use crate::plan::lifecycle::NamespaceHistory;
    use crate::source::Origin;

    fn tenants(names: &[&str]) -> Tenants {
        let users = names
            .iter()
            .map(|name| User {
                name: name.to_string(),
                role: Role::Admin,
                email: format!("{name}@example.com"),
                namespaces: Vec::new(),
                domains: Vec::new(),
                quota: std::collections::BTreeMap::new(),
                apps: Vec::new(),
            })
            .collect();
        Tenants { users }
    }

    fn record(names: &[&str]) -> Manifest {
        let origin = Origin::File { sha256: "0".into() };
        Manifest::new(
            &origin,
            &tenants(names),
            Default::default(),
            NamespaceHistory::default(),
        )
    }

    fn judged(before: &[&str], after: &[&str], allowed: Option<usize>) -> Verdict {
        let previous = record(before);
        judge(
            Some(&previous),
            &tenants(after),
            &GuardConfig::default(),
            allowed,
            "the users file",
        )
    }

    #[test]
    fn up_to_the_limit_passes_and_beyond_it_needs_the_flag() {
        let five = ["a", "b", "c", "d", "e"];
        assert_eq!(judged(&five, &["a", "b"], None), Verdict::Pass);
        let Verdict::Refuse(message) = judged(&five, &["a"], None) else {
            panic!("four removals passed");
        };
        assert!(message.contains("remove 4 users: b, c, d, e"), "{message}");
        assert!(matches!(judged(&five, &["a"], Some(3)), Verdict::Refuse(_)));
        assert_eq!(judged(&five, &["a"], Some(4)), Verdict::Pass);
    }

    #[test]
    fn leaving_no_one_needs_the_flag_however_few_are_removed() {
        let Verdict::Refuse(message) = judged(&["a"], &[], None) else {
            panic!("emptying passed");
        };
        assert!(message.contains("leave none"), "{message}");
        assert_eq!(judged(&["a"], &[], Some(1)), Verdict::Pass);
        assert_eq!(judged(&[], &[], None), Verdict::Pass);
    }

    #[test]
    fn a_first_render_of_no_one_warns() {
        let verdict = judge(None, &tenants(&[]), &GuardConfig::default(), None, "x");
        assert!(matches!(verdict, Verdict::Warn(_)), "{verdict:?}");
    }
}
