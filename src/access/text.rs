//! `tenantgen access` for people: one row per grant, then how CI deployers
//! get their credentials and the rules of each role tenantgen generates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{KubernetesGrant, Principal, PrincipalKind, Report, RoleOrigin, via};
use crate::builtin_roles;
use crate::plan::RbacRule;

/// The generated roles granted, by kind and rules: roles with the same
/// rules (a deployer Role per namespace) are listed once.
type Generated<'a> = BTreeMap<(&'static str, &'a [RbacRule]), BTreeSet<String>>;

impl Report {
    /// A table for people, then the rules of each role tenantgen generates.
    pub fn to_text(&self) -> String {
        let mut rows: Vec<[String; 5]> = vec![[
            "PRINCIPAL".into(),
            "KIND".into(),
            "WHERE".into(),
            "GRANT".into(),
            "WRITES".into(),
        ]];
        let mut generated = Generated::new();
        let mut builtin = false;
        for principal in &self.principals {
            let grants = grant_rows(principal, &mut generated, &mut builtin);
            let name = match principal.kind {
                PrincipalKind::User => format!("{} <{}>", principal.user, principal.principal),
                PrincipalKind::CiDeployer => {
                    format!("{} ({})", principal.principal, principal.user)
                }
                PrincipalKind::Other if principal.user.is_empty() => principal.principal.clone(),
                PrincipalKind::Other => format!("{} ({})", principal.principal, principal.user),
            };
            for (index, [place, what, writes]) in grants.into_iter().enumerate() {
                let (who, kind) = if index == 0 {
                    (name.clone(), principal.kind.name().to_string())
                } else {
                    (String::new(), String::new())
                };
                rows.push([who, kind, place, what, writes]);
            }
        }
        let mut out = crate::report::table(&rows);
        out.push_str(&self.addon_notes());
        self.push_credential_sources(&mut out);
        if builtin {
            let _ = writeln!(
                out,
                "\nKubernetes' own roles are judged by the {}: cluster-admin may do anything; admin, edit and view aggregate rules from the cluster.",
                builtin_roles::RELEASE
            );
        }
        push_generated_rules(&mut out, &generated);
        out
    }

    fn push_credential_sources(&self, out: &mut String) {
        let mut sources: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for principal in &self.principals {
            if let Some(source) = &principal.obtained_through {
                sources
                    .entry(source)
                    .or_default()
                    .push(&principal.principal);
            }
        }
        if !sources.is_empty() {
            out.push_str("\nHow CI deployers get their credentials:\n");
            for (source, deployers) in sources {
                let _ = writeln!(out, "  {}: {source}", deployers.join(", "));
            }
        }
    }
}

/// `[where, grant, writes]` for each of `principal`'s grants; generated
/// roles are noted in `generated`, and `builtin` is set when one of
/// Kubernetes' own roles is granted.
fn grant_rows<'a>(
    principal: &'a Principal,
    generated: &mut Generated<'a>,
    builtin: &mut bool,
) -> Vec<[String; 3]> {
    let mut grants: Vec<[String; 3]> = Vec::new();
    for grant in &principal.kubernetes {
        let place = if grant.scope == "cluster" {
            "cluster-wide".to_string()
        } else {
            format!("namespace {}", grant.scope)
        };
        let marks = via(grant.addon.as_deref(), grant.template_override.as_deref());
        grants.push([
            place,
            format!("{} {}{marks}", grant.role_kind, grant.role),
            grant.writes_column(),
        ]);
        *builtin |= matches!(
            grant.origin,
            RoleOrigin::BuiltIn | RoleOrigin::Aggregated | RoleOrigin::System
        );
        if let (Some(rules), RoleOrigin::Generated) = (&grant.rules, grant.origin) {
            let name = if grant.role_kind == "Role" {
                format!("{} in {}", grant.role, grant.scope)
            } else {
                grant.role.clone()
            } + &marks;
            generated
                .entry((grant.role_kind, rules))
                .or_default()
                .insert(name);
        }
    }
    for grant in &principal.vault {
        grants.push([
            format!("vault {}", grant.path),
            format!(
                "{}{}",
                grant.capabilities.join(", "),
                via(grant.addon.as_deref(), grant.template_override.as_deref())
            ),
            yes_no(grant.writes()),
        ]);
    }
    for policy in &principal.other_policies {
        grants.push([
            format!("vault policy {policy}"),
            "(written outside tenantgen)".into(),
            "?".into(),
        ]);
    }
    if grants.is_empty() {
        grants.push(["nothing".into(), String::new(), String::new()]);
    }
    grants
}

fn push_generated_rules(out: &mut String, generated: &Generated<'_>) {
    if generated.is_empty() {
        return;
    }
    out.push_str("\nRules of the roles tenantgen generates:\n");
    for ((kind, rules), names) in generated {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let _ = writeln!(out, "  {kind} {}:", names.join(", "));
        for rule in *rules {
            let groups: Vec<&str> = rule
                .api_groups
                .iter()
                .map(|group| {
                    if group.is_empty() {
                        "core"
                    } else {
                        group.as_str()
                    }
                })
                .collect();
            let _ = writeln!(
                out,
                "    {} on {} ({})",
                rule.verbs.join(", "),
                rule.resources.join(", "),
                groups.join(", ")
            );
        }
    }
}

impl KubernetesGrant {
    /// The WRITES column: yes or no, and why when the rules are not known.
    fn writes_column(&self) -> String {
        match self.origin {
            RoleOrigin::ByHand => "yes? (written by hand; rules unknown)".to_string(),
            RoleOrigin::System => "yes? (a Kubernetes system: role; rules not listed)".to_string(),
            RoleOrigin::Aggregated => {
                format!("{} (aggregated; rules unknown)", yes_no(self.write))
            }
            RoleOrigin::Generated | RoleOrigin::BuiltIn => yes_no(self.write),
        }
    }
}

fn yes_no(write: bool) -> String {
    if write { "yes" } else { "no" }.to_string()
}
