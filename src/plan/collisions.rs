//! Two objects of one kind with one name. The `names` patterns are the
//! operator's, so two of them (or one, for two users) can give the same
//! name: that is a configuration problem, reported with the patterns and
//! the users. Only a collision no pattern explains is tenantgen's bug
//! (`plan::check`).

use crate::config::{NamesConfig, name_from};
use crate::escape;
use crate::model::Role;
use crate::problem::Problem;

use super::{Object, Plan, Spec};

/// Every name two objects share (in their kind and scope) that the
/// `names` patterns explain, one problem per name; `plan::check` reports
/// the others, as a tenantgen bug.
pub fn find(plan: &Plan, names: &NamesConfig) -> Vec<Problem> {
    let mut first: rustc_hash::FxHashMap<(&str, Option<&str>, &str), &Object> = Default::default();
    let mut reported = rustc_hash::FxHashSet::default();
    let mut problems = Vec::new();
    // Modules name no server object: one user has one in every app's stack.
    for object in plan.objects.iter().filter(|object| object.kind != "module") {
        let key = (object.kind, object.scope(), object.name.as_str());
        let Some(earlier) = first.get(&key) else {
            first.insert(key, object);
            continue;
        };
        if reported.insert(key) {
            problems.extend(explain(plan, names, earlier, object));
        }
    }
    problems
}

/// The two patterns and users behind a shared name, when patterns explain it.
fn explain(plan: &Plan, names: &NamesConfig, a: &Object, b: &Object) -> Option<Problem> {
    let a_keys = pattern_keys(plan, names, a);
    let b_keys = pattern_keys(plan, names, b);
    let a_key = *a_keys.first()?;
    // One pattern can stand for both (the same text under two keys): prefer
    // another key for the second object when it has one.
    let b_key = b_keys
        .iter()
        .find(|key| **key != a_key)
        .or(b_keys.first())
        .copied()?;
    let pattern = |key: &str| {
        names
            .patterns()
            .into_iter()
            .find(|(pattern, _)| pattern.key == key)
            .map(|(_, text)| escape::shown(text))
            .unwrap_or_default()
    };
    let whose = |object: &Object| match &object.user {
        Some(user) => format!("user {}", escape::shown(user)),
        None => "every tenant".to_string(),
    };
    let place = a
        .scope()
        .map(|scope| format!(" in {}", escape::spelled(scope)))
        .unwrap_or_default();
    let same_key = if a_key == b_key {
        format!("names.{a_key} = {} gives them", pattern(a_key))
    } else {
        format!(
            "names.{a_key} = {} and names.{b_key} = {} give them",
            pattern(a_key),
            pattern(b_key)
        )
    };
    Some(
        Problem::new(
            format!("{} and {}", whose(a), whose(b)),
            format!(
                "{same_key} the same {} name {}{place}",
                a.kind,
                escape::shown(&a.name),
            ),
        )
        .hint(if a_key == b_key {
            format!(
                "change names.{a_key} in {} so that no two users get one name from it (a separator between its placeholders), or rename one of the two users",
                crate::config::DEFAULT_FILE
            )
        } else {
            format!(
                "change names.{b_key} in {} so that it cannot give another pattern's names (a fixed part the others lack), or rename one of the two users",
                crate::config::DEFAULT_FILE
            )
        }),
    )
}

/// The `names` keys whose pattern gives `object`'s name, of those that name
/// its kind (for bindings, the one of its user's role).
fn pattern_keys(plan: &Plan, names: &NamesConfig, object: &Object) -> Vec<&'static str> {
    let role = object
        .user
        .as_deref()
        .and_then(|user| plan.roles.get(user))
        .copied();
    let user = object.user.as_deref().unwrap_or_default();
    let namespaces = namespaces(plan, object);
    names
        .patterns()
        .into_iter()
        .filter(|(pattern, _)| names_kind(pattern.key, object.kind, role))
        .filter(|(pattern, text)| {
            namespaces.iter().any(|namespace| {
                name_from(text, user, *namespace, pattern.kind.dns()) == object.name
            })
        })
        .map(|(pattern, _)| pattern.key)
        .collect()
}

/// The namespaces `{namespace}` may have stood for in `object`'s name: its
/// own; a Vault role's keeps it in its values, or not at all (an auth role:
/// then any of its user's).
fn namespaces<'a>(plan: &'a Plan, object: &'a Object) -> Vec<Option<&'a str>> {
    match (&object.namespace, &object.spec) {
        (Some(namespace), _) => vec![Some(namespace.as_str())],
        (
            None,
            Spec::SecretBackendRole {
                allowed_namespace, ..
            },
        ) => vec![Some(allowed_namespace.as_str())],
        (None, Spec::AuthRole { .. }) => plan
            .objects
            .iter()
            .filter(|other| other.kind == "Namespace" && other.user == object.user)
            .map(|namespace| Some(namespace.name.as_str()))
            .collect(),
        (None, _) => vec![None],
    }
}

/// Whether the pattern `key` names objects of `kind` (of a user of `role`).
fn names_kind(key: &str, kind: &str, role: Option<Role>) -> bool {
    match key {
        "policy" => kind == "policy",
        "entity" => kind == "entity",
        "deployer" => matches!(kind, "Role" | "auth role" | "secret backend role"),
        "namespace_admin" => kind == "RoleBinding",
        "quota" => kind == "ResourceQuota",
        "certificate" => kind == "Certificate",
        "read_only_binding" => kind == "ClusterRoleBinding" && role == Some(Role::NamespaceOwner),
        "power_user_binding" => kind == "ClusterRoleBinding" && role == Some(Role::PowerUser),
        "admin_binding" => kind == "ClusterRoleBinding" && role == Some(Role::Admin),
        "read_only_role" | "power_user_role" => kind == "ClusterRole",
        "network_policy" => kind == "NetworkPolicy",
        "limit_range" => kind == "LimitRange",
        _ => false,
    }
}
