//! Who can do what, read from the plan's one object list (never from
//! template text): every user through their RBAC subject and Vault entity,
//! and every CI deployer role, with the Kubernetes roles and Vault policy
//! rules that reach them. `tenantgen access` prints it; the summary compares
//! it between renders.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use crate::plan::{Object, Plan, RbacRule, Spec};

pub use notes::via;

pub mod addons;
mod literal;
mod notes;
pub mod overrides;
pub mod rendered;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    User,
    CiDeployer,
    /// A subject or Vault entity or group only an add-on grants to.
    Other,
}

impl PrincipalKind {
    pub const fn name(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::CiDeployer => "ci-deployer",
            PrincipalKind::Other => "other",
        }
    }
}

/// One identity and everything it may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// A user's identity (RBAC subject and Vault alias: the email), or a
    /// deployer role's name.
    pub principal: String,
    /// The tenant it belongs to.
    pub user: String,
    pub kind: PrincipalKind,
    /// How a pipeline gets this identity: the Vault path its credentials are
    /// read from, or the shared service account it logs in as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub obtained_through: Option<String>,
    pub kubernetes: Vec<KubernetesGrant>,
    pub vault: Vec<VaultGrant>,
    /// Vault policies its entity carries that tenantgen does not write
    /// (`identity.extra_policies`), so their rules are not listed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_policies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KubernetesGrant {
    /// A namespace, or `cluster`.
    pub scope: String,
    pub role: String,
    /// `ClusterRole` or `Role`.
    pub role_kind: &'static str,
    /// The binding (or, for a deployer token, the Vault role) that grants it.
    pub via: String,
    /// The role's rules when tenantgen generates the role; `None` for
    /// roles that exist on the cluster (`admin`, `cluster-admin`, ...).
    pub rules: Option<Vec<RbacRule>>,
    /// Whether any verb changes something (or runs code, like exec); true for
    /// a role written by hand, whose rules are not known here.
    pub write: bool,
    /// The add-on whose file grants it; `None` for tenantgen's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addon: Option<String>,
    /// The `--templates` override whose rendering grants it beyond what
    /// the built-in template does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_override: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct VaultGrant {
    pub path: String,
    pub capabilities: Vec<String>,
    /// The policy that grants it.
    pub policy: String,
    /// The add-on whose file grants it; `None` for tenantgen's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addon: Option<String>,
    /// The `--templates` override whose rendering grants it beyond what
    /// the built-in template does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_override: Option<String>,
}

impl VaultGrant {
    pub fn writes(&self) -> bool {
        self.capabilities.iter().any(|capability| {
            matches!(
                capability.as_str(),
                "create" | "update" | "patch" | "delete" | "sudo"
            )
        })
    }
}

/// The report: every principal, users first, in name order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub principals: Vec<Principal>,
    /// The add-ons in the config, whose grants are marked with their name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addons: Vec<String>,
    /// What add-ons declare that may grant access but cannot be analysed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<rendered::UnknownGrant>,
}

/// Verbs that change objects or act as someone else.
const WRITE_VERBS: [&str; 9] = [
    "*",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "escalate",
    "bind",
    "impersonate",
];

/// Subresources that run code in a pod, whatever the verb.
const EXECUTING: [&str; 4] = ["pods/exec", "pods/attach", "pods/portforward", "*"];

fn rules_write(rules: &[RbacRule]) -> bool {
    rules.iter().any(|rule| {
        rule.verbs
            .iter()
            .any(|verb| WRITE_VERBS.contains(&verb.as_str()))
            || rule
                .resources
                .iter()
                .any(|resource| EXECUTING.contains(&resource.as_str()))
    })
}

/// Kubernetes' own user-facing ClusterRoles.
const BUILTIN_ROLES: [&str; 4] = ["cluster-admin", "admin", "edit", "view"];

/// Of Kubernetes' own roles only `view` just reads; a role written by hand
/// elsewhere is taken to write, since its rules are not known here.
fn builtin_writes(role: &str) -> bool {
    role != "view"
}

/// Everyone's access in `plan`.
pub fn report(plan: &Plan) -> Report {
    let mut roles: HashMap<(Option<&str>, &str), &Object> = HashMap::new();
    let mut policies: HashMap<&str, &Object> = HashMap::new();
    let mut entities: HashMap<&str, &Object> = HashMap::new();
    let mut subjects: HashMap<(&str, &str, Option<&str>), Vec<&Object>> = HashMap::new();
    let mut by_address: HashMap<String, &Object> = HashMap::new();
    // Secret-backend role name → the policy path its tokens are read at.
    let mut creds: HashMap<&str, &str> = HashMap::new();
    // Every user has a cluster-wide binding, which names their subject.
    let mut identities: HashMap<&str, &str> = HashMap::new();
    for object in &plan.objects {
        match &object.spec {
            Spec::Role { .. } => {
                roles.insert((object.namespace.as_deref(), object.name.as_str()), object);
                by_address.insert(object.address(), object);
            }
            Spec::VaultPolicy { rules } => {
                policies.insert(object.tf.as_str(), object);
                for rule in rules {
                    if let Some((_, role)) = rule.path.rsplit_once("/creds/") {
                        creds.insert(role, rule.path.as_str());
                    }
                }
            }
            Spec::Entity { .. } => {
                if let Some(user) = object.user.as_deref() {
                    entities.insert(user, object);
                }
            }
            Spec::Binding { subject, .. } => {
                if let (Some(user), "User") = (object.user.as_deref(), subject.kind) {
                    identities.entry(user).or_insert(subject.name.as_str());
                }
                subjects
                    .entry((
                        subject.kind,
                        subject.name.as_str(),
                        subject.namespace.as_deref(),
                    ))
                    .or_default()
                    .push(object);
            }
            _ => {}
        }
    }
    let kubernetes_of = |bindings: &[&Object]| -> Vec<KubernetesGrant> {
        let mut grants: Vec<KubernetesGrant> = bindings
            .iter()
            .filter_map(|binding| {
                let Spec::Binding { cluster_role, .. } = &binding.spec else {
                    return None;
                };
                let generated = roles.get(&(None, cluster_role.as_str()));
                Some(grant(
                    binding.namespace.clone(),
                    cluster_role,
                    "ClusterRole",
                    &binding.name,
                    generated.copied(),
                ))
            })
            .collect();
        grants.sort();
        grants
    };
    let vault_of = |policy_tfs: &[String]| -> Vec<VaultGrant> {
        let mut grants: Vec<VaultGrant> = policy_tfs
            .iter()
            .filter_map(|tf| policies.get(tf.as_str()))
            .flat_map(|policy| {
                let Spec::VaultPolicy { rules } = &policy.spec else {
                    return Vec::new();
                };
                rules
                    .iter()
                    .map(|rule| VaultGrant {
                        path: rule.path.clone(),
                        capabilities: rule.capabilities.iter().map(|c| c.to_string()).collect(),
                        policy: policy.name.clone(),
                        addon: None,
                        template_override: None,
                    })
                    .collect()
            })
            .collect();
        grants.sort();
        grants
    };

    let mut principals = Vec::new();
    for user in plan.roles.keys() {
        let Some(&identity) = identities.get(user.as_str()) else {
            continue;
        };
        let bindings = subjects
            .get(&("User", identity, None))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let (vault, other_policies) =
            entities
                .get(user.as_str())
                .map_or_else(Default::default, |entity| match &entity.spec {
                    Spec::Entity {
                        policies,
                        extra_policies,
                    } => (vault_of(policies), extra_policies.clone()),
                    _ => Default::default(),
                });
        principals.push(Principal {
            principal: identity.to_string(),
            user: user.clone(),
            kind: PrincipalKind::User,
            obtained_through: None,
            kubernetes: kubernetes_of(bindings),
            vault,
            other_policies,
        });
    }
    for object in &plan.objects {
        let user = object.user.as_deref().unwrap_or_default().to_string();
        match &object.spec {
            Spec::SecretBackendRole {
                backend: _,
                allowed_namespace,
                role,
                ..
            } => {
                let target = by_address.get(role).copied();
                let role_name = target.map_or(role.as_str(), |target| target.name.as_str());
                principals.push(Principal {
                    principal: object.name.clone(),
                    user,
                    kind: PrincipalKind::CiDeployer,
                    obtained_through: Some(match creds.get(object.name.as_str()) {
                        Some(path) => format!(
                            "a short-lived token from the Kubernetes secrets engine, read at {path}"
                        ),
                        None => format!(
                            "a short-lived token from the Kubernetes secrets engine's role {}",
                            object.name
                        ),
                    }),
                    other_policies: Vec::new(),
                    kubernetes: vec![grant(
                        Some(allowed_namespace.clone()),
                        role_name,
                        "Role",
                        &object.name,
                        target,
                    )],
                    vault: Vec::new(),
                });
            }
            Spec::AuthRole {
                service_account,
                service_account_namespace,
                policies,
                ..
            } => {
                let bindings = subjects
                    .get(&(
                        "ServiceAccount",
                        service_account.as_str(),
                        Some(service_account_namespace.as_str()),
                    ))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                principals.push(Principal {
                    principal: object.name.clone(),
                    user,
                    kind: PrincipalKind::CiDeployer,
                    obtained_through: Some(format!(
                        "service account {service_account_namespace}/{service_account}, shared by every tenant's pipelines"
                    )),
                    kubernetes: kubernetes_of(bindings),
                    vault: vault_of(policies),
                    other_policies: Vec::new(),
                });
            }
            _ => {}
        }
    }
    principals
        .sort_by(|a, b| (a.kind, &a.user, &a.principal).cmp(&(b.kind, &b.user, &b.principal)));
    Report {
        principals,
        addons: Vec::new(),
        unknown: Vec::new(),
    }
}

fn grant(
    namespace: Option<String>,
    role: &str,
    role_kind: &'static str,
    via: &str,
    generated: Option<&Object>,
) -> KubernetesGrant {
    let rules = generated.and_then(|object| match &object.spec {
        Spec::Role { rules, .. } => Some(rules.to_vec()),
        _ => None,
    });
    let write = rules
        .as_deref()
        .map_or_else(|| builtin_writes(role), rules_write);
    KubernetesGrant {
        scope: namespace.unwrap_or_else(|| "cluster".to_string()),
        role: role.to_string(),
        role_kind,
        via: via.to_string(),
        rules,
        write,
        addon: None,
        template_override: None,
    }
}

impl Report {
    /// Only the principals of `users`.
    pub fn only(mut self, users: &BTreeSet<String>) -> Report {
        self.principals
            .retain(|principal| users.contains(&principal.user));
        // What a per-stack add-on declares may reach anyone.
        self.unknown.retain(|unknown| {
            unknown
                .user
                .as_ref()
                .is_none_or(|user| users.contains(user))
        });
        self
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// A table for people, then the rules of each role tenantgen generates.
    pub fn to_text(&self) -> String {
        let mut rows: Vec<[String; 5]> = vec![[
            "PRINCIPAL".into(),
            "KIND".into(),
            "WHERE".into(),
            "GRANT".into(),
            "WRITES".into(),
        ]];
        // Roles with the same rules (a deployer Role per namespace) listed once.
        let mut generated: BTreeMap<(&str, &[RbacRule]), BTreeSet<String>> = BTreeMap::new();
        for principal in &self.principals {
            // [where, grant, writes] per grant; the principal is named once.
            let mut grants: Vec<[String; 3]> = Vec::new();
            for grant in &principal.kubernetes {
                let place = if grant.scope == "cluster" {
                    "cluster-wide".to_string()
                } else {
                    format!("namespace {}", grant.scope)
                };
                grants.push([
                    place,
                    format!(
                        "{} {}{}",
                        grant.role_kind,
                        grant.role,
                        via(grant.addon.as_deref(), grant.template_override.as_deref())
                    ),
                    if grant.rules.is_none() && !BUILTIN_ROLES.contains(&grant.role.as_str()) {
                        "yes? (written by hand; rules unknown)".to_string()
                    } else {
                        yes_no(grant.write)
                    },
                ]);
                if let Some(rules) = &grant.rules {
                    let name = if grant.role_kind == "Role" {
                        format!("{} in {}", grant.role, grant.scope)
                    } else {
                        grant.role.clone()
                    } + &via(grant.addon.as_deref(), grant.template_override.as_deref());
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
        if !generated.is_empty() {
            out.push_str("\nRules of the roles tenantgen generates:\n");
            for ((kind, rules), names) in &generated {
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
        out
    }
}

fn yes_no(write: bool) -> String {
    if write { "yes" } else { "no" }.to_string()
}

/// How much a principal may do somewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    None,
    Read,
    Write,
}

/// Access changes between two reports, in tenant terms: "alice gains write
/// in alice-dev", "dave loses cluster-wide write", "alice gains read on
/// vault kubernetes/creds/alice-dev-deployer".
pub fn changes(before: &Report, after: &Report) -> Vec<String> {
    type Levels<'a> = BTreeMap<(&'a str, &'a str, &'a str), Level>;
    type Capabilities<'a> = BTreeMap<(&'a str, &'a str, &'a str), BTreeSet<&'a str>>;
    fn levels(report: &Report) -> (Levels<'_>, Capabilities<'_>) {
        let mut levels = Levels::new();
        let mut capabilities = Capabilities::new();
        for principal in &report.principals {
            let name = display_name(principal);
            for grant in &principal.kubernetes {
                let level = if grant.write {
                    Level::Write
                } else {
                    Level::Read
                };
                let entry = levels
                    .entry((principal.user.as_str(), name, grant.scope.as_str()))
                    .or_insert(Level::None);
                *entry = (*entry).max(level);
            }
            for grant in &principal.vault {
                capabilities
                    .entry((principal.user.as_str(), name, grant.path.as_str()))
                    .or_default()
                    .extend(grant.capabilities.iter().map(String::as_str));
            }
        }
        (levels, capabilities)
    }
    let (old_levels, old_capabilities) = levels(before);
    let (new_levels, new_capabilities) = levels(after);
    let mut lines = Vec::new();
    let keys: BTreeSet<_> = old_levels.keys().chain(new_levels.keys()).collect();
    for key @ (_, name, scope) in keys {
        let old = old_levels.get(key).copied().unwrap_or(Level::None);
        let new = new_levels.get(key).copied().unwrap_or(Level::None);
        let (verb, what) = match (old, new) {
            (old, new) if old == new => continue,
            (_, Level::Write) => ("gains", "write"),
            (Level::None, Level::Read) => ("gains", "read"),
            (Level::Write, Level::Read) => ("loses", "write"),
            (_, Level::None) => ("loses", "all access"),
            (Level::Read, Level::Read) => continue,
        };
        lines.push(if *scope == "cluster" {
            format!("{name} {verb} cluster-wide {what}")
        } else {
            format!("{name} {verb} {what} in {scope}")
        });
    }
    let empty = BTreeSet::new();
    let keys: BTreeSet<_> = old_capabilities
        .keys()
        .chain(new_capabilities.keys())
        .collect();
    for key @ (_, name, path) in keys {
        let old = old_capabilities.get(key).unwrap_or(&empty);
        let new = new_capabilities.get(key).unwrap_or(&empty);
        let gained: Vec<&str> = new.difference(old).copied().collect();
        let lost: Vec<&str> = old.difference(new).copied().collect();
        if !gained.is_empty() {
            lines.push(format!(
                "{name} gains {} on vault {path}",
                gained.join(", ")
            ));
        }
        if !lost.is_empty() {
            lines.push(format!("{name} loses {} on vault {path}", lost.join(", ")));
        }
    }
    lines
}

fn display_name(principal: &Principal) -> &str {
    match principal.kind {
        PrincipalKind::User => &principal.user,
        PrincipalKind::CiDeployer | PrincipalKind::Other => &principal.principal,
    }
}

/// A change to the rules of a role tenantgen generates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleGrantChange {
    /// `ClusterRole tenantgen-power-user`, or `Role alice-dev-deployer in alice-dev`.
    pub role: String,
    /// `verb resource (group)` triples gained and lost.
    pub gained: Vec<String>,
    pub lost: Vec<String>,
}

impl RoleGrantChange {
    /// More power than before: anything gained.
    pub fn escalation(&self) -> bool {
        !self.gained.is_empty()
    }
}

/// Every generated role whose rules differ between the plans.
pub fn role_changes(before: &Plan, after: &Plan) -> Vec<RoleGrantChange> {
    fn roles(plan: &Plan) -> BTreeMap<String, BTreeSet<String>> {
        plan.objects
            .iter()
            .filter_map(|object| match &object.spec {
                Spec::Role { rules, .. } => {
                    let name = match &object.namespace {
                        Some(namespace) => format!("Role {} in {namespace}", object.name),
                        None => format!("ClusterRole {}", object.name),
                    };
                    Some((name, triples(rules)))
                }
                _ => None,
            })
            .collect()
    }
    let old = roles(before);
    let new = roles(after);
    new.iter()
        .filter_map(|(role, granted)| {
            let previous = old.get(role)?;
            let change = RoleGrantChange {
                role: role.clone(),
                gained: granted.difference(previous).cloned().collect(),
                lost: previous.difference(granted).cloned().collect(),
            };
            (!change.gained.is_empty() || !change.lost.is_empty()).then_some(change)
        })
        .collect()
}

fn triples(rules: &[RbacRule]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in &rule.api_groups {
            for resource in &rule.resources {
                for verb in &rule.verbs {
                    let group = if group.is_empty() {
                        "core"
                    } else {
                        group.as_str()
                    };
                    out.insert(format!("{verb} {resource} ({group})"));
                }
            }
        }
    }
    out
}
