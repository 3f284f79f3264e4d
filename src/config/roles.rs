//! The names of the roles tenantgen generates must name nothing else: a
//! binding applied while its role's create failed (the name was taken)
//! would grant whatever already holds that name.

use crate::builtin_roles;
use crate::problem::Problem;

use super::Config;

/// One problem per generated role name that is a built-in ClusterRole's, a
/// ClusterRole the config binds as written by hand, or another generated one's.
pub(super) fn generated_role_names(config: &Config, problems: &mut Vec<Problem>) {
    let names = &config.names;
    let by_hand = [
        (
            "namespace_owner.cluster_role",
            &config.namespace_owner.cluster_role,
        ),
        ("power_user.cluster_role", &config.power_user.cluster_role),
    ];
    // Only the ClusterRoles this config generates: a hand-written one replaces it.
    let generated = [
        (
            "read_only_role",
            &names.read_only_role,
            config.namespace_owner.cluster_role.is_none(),
            "tenantgen-read-only",
        ),
        (
            "power_user_role",
            &names.power_user_role,
            config.power_user.cluster_role.is_none(),
            "tenantgen-power-user",
        ),
    ];
    for (key, name, in_use, example) in generated {
        if !in_use {
            continue;
        }
        let subject = format!("names.{key}");
        if builtin_roles::is_builtin(name) {
            problems.push(builtin(&subject, name, example));
        }
        for (other, role) in &by_hand {
            if role.as_deref() == Some(name.as_str()) {
                problems.push(
                    Problem::new(
                        &subject,
                        format!("{name:?} is also {other}, a ClusterRole written by hand; a generated role must have a name of its own"),
                    )
                    .hint(format!("rename names.{key}, e.g. to {example:?}")),
                );
            }
        }
    }
    if generated.iter().all(|(_, _, in_use, _)| *in_use)
        && names.read_only_role == names.power_user_role
    {
        problems.push(Problem::new(
            "names.power_user_role",
            format!(
                "{:?} is also names.read_only_role; the two generated ClusterRoles need names of their own",
                names.power_user_role
            ),
        ));
    }
    // The deployer Role is namespaced and referred to by its resource, so
    // only the `system:` names are refused; every instance of a pattern
    // starting so would be one.
    if names.deployer.starts_with("system:") {
        problems.push(builtin(
            "names.deployer",
            &names.deployer,
            "{namespace}-deployer",
        ));
    }
}

fn builtin(subject: &str, name: &str, example: &str) -> Problem {
    Problem::new(
        subject,
        format!("{name:?} is a ClusterRole Kubernetes creates itself (cluster-admin, admin, edit, view and every system: role); a binding to it would grant that role's rights"),
    )
    .hint(format!("choose a name of your own, e.g. {example:?}"))
}
