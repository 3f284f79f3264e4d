//! What a change means in tenant terms: who gains or loses access, which
//! namespaces, domains and app instances appear or go, and what an admin
//! must still do by hand.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::access::{self, RoleGrantChange};
use crate::config::{Config, DeployerMode, QuotaKey};
use crate::diff::{Changes, Status};
use crate::manifest::{Manifest, TenantRecord};
use crate::model::{Role, Tenants, User};
use crate::plan::{self, ObjectChanges};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// False on the first render into a tree (no previous record).
    pub has_previous_render: bool,
    /// How the users source moved since the last render, when it did.
    pub source_change: Option<String>,
    pub users_added: Vec<UserRole>,
    pub users_removed: Vec<UserRole>,
    /// Users who stay but changed, with what changed.
    pub users_changed: Vec<UserChange>,
    pub role_changes: Vec<RoleChange>,
    pub email_changes: Vec<EmailChange>,
    pub quota_changes: Vec<QuotaChange>,
    pub namespaces_created: Vec<String>,
    /// No longer managed; Terraform forgets them, the namespaces and data stay.
    pub namespaces_released: Vec<String>,
    /// No longer managed and deleted on apply (`--destroy-namespace`).
    pub namespaces_destroyed: Vec<String>,
    /// Released earlier, managed again: imported, not created.
    pub namespaces_readopted: Vec<String>,
    /// Adopted objects replaced because their Kubernetes name changes.
    pub adoption_replacements: Vec<String>,
    pub domains_added: Vec<String>,
    pub domains_removed: Vec<String>,
    pub app_instances_added: Vec<AppInstance>,
    pub app_instances_removed: Vec<AppInstance>,
    /// Who gains or loses what, in tenant terms ("alice gains write in
    /// alice-dev"); empty on a first render.
    pub access_changes: Vec<String>,
    /// Generated roles whose rules change: an escalation when anything is
    /// gained, a reduction when anything is lost.
    pub role_grant_changes: Vec<RoleGrantChange>,
    /// What the changed add-on files grant that they did not before, and
    /// the reverse ("bob gains ClusterRole cluster-admin cluster-wide
    /// (write) via addon \"boost\""); on a first render, all they grant.
    pub addon_access_changes: Vec<String>,
    /// What the changed add-on files declare that may grant access and
    /// cannot be analysed.
    pub addon_unknown_grants: Vec<access::rendered::UnknownGrant>,
    /// With `--templates`: what the overrides' files grant beyond what the
    /// built-in templates render, every time (the plan cannot show it).
    pub template_override_grants: Vec<String>,
    /// Set when every tenant's pipelines log in as one service account
    /// (`deployer { mode = "auth-role" }`).
    pub shared_deployer_identity: Option<String>,
    /// The `guard` block's change since the last render (or from the
    /// default, on a first render).
    pub guard_change: Option<String>,
    /// Well-known platform namespaces the config lets tenants claim
    /// (`namespaces.allow`), shown on every render since a pull request
    /// can edit the config.
    pub namespaces_allowed: Vec<String>,
    /// Objects whose stack changes with the layout: `(from, to, count)`.
    /// Terraform destroys and recreates them unless their state is moved.
    pub stack_moves: Vec<(String, String, usize)>,
    /// The planned objects (Terraform blocks) this change adds, changes and
    /// destroys, compared between the plans of the last render's users and
    /// this render's.
    pub objects: ObjectChanges,
    /// All files, then per stack directory (`vault`, `actualbudget/factory`,
    /// `.` for the render record).
    pub files: FileCounts,
    pub stacks: BTreeMap<String, FileCounts>,
    /// Stack directories in apply order, for listing `stacks`.
    #[serde(skip)]
    pub stack_order: Vec<String>,
    pub manual_steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UserRole {
    pub user: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AppInstance {
    pub app: String,
    pub user: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserChange {
    pub user: String,
    /// The fields that changed, in the order of the users map's documentation:
    /// `role`, `email`, `namespaces`, `domains`, `quota`, `apps`.
    pub fields: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmailChange {
    pub user: String,
    pub from: String,
    pub to: String,
}

/// One quota entry of a user's namespaces; `None` when it is not set.
#[derive(Debug, Clone, Serialize)]
pub struct QuotaChange {
    pub user: String,
    pub key: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleChange {
    pub user: String,
    pub from: Role,
    pub to: Role,
    /// More cluster power than before.
    pub escalation: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FileCounts {
    pub added: usize,
    pub modified: usize,
    pub deleted: usize,
    pub lines_added: usize,
    pub lines_removed: usize,
    pub hand_edited: usize,
}

fn rank(role: Role) -> u8 {
    match role {
        Role::NamespaceOwner => 0,
        Role::PowerUser => 1,
        Role::Admin => 2,
    }
}

/// Summarises `changes` between the previous record and `current`.
pub fn summarise(changes: &Changes, current: &Manifest, config: &Config) -> Summary {
    let empty = BTreeMap::new();
    let previous = changes
        .previous
        .as_ref()
        .map_or(&empty, |manifest| &manifest.tenants);
    let mut summary = Summary {
        has_previous_render: changes.previous.is_some(),
        source_change: changes
            .previous
            .as_ref()
            .filter(|previous| previous.source.sha256() != current.source.sha256())
            .map(|previous| {
                let (from, to) = (previous.source.describe(), current.source.describe());
                if from == to {
                    "the users changed since the last render".to_string()
                } else {
                    format!(
                        "the users changed since the last render (rendered from {from}, now {to})"
                    )
                }
            }),
        guard_change: crate::guard::change(changes.previous.as_ref(), &config.guard),
        ..Summary::default()
    };
    (summary.files, summary.stacks) = count_files(changes);
    summary.stack_order = config
        .layout
        .stacks()
        .into_iter()
        .map(str::to_string)
        .collect();
    // Only while the moved blocks are being added or changed.
    let adopting = changes.changed().any(|change| {
        change
            .path
            .ends_with(&format!("/{}", crate::render::ADOPT_FILE))
    });
    if adopting {
        summary.adoption_replacements = current.adoption_replacements.clone();
    }
    for (user, record) in &current.tenants {
        let old = previous.get(user);
        match old {
            None => summary.users_added.push(UserRole {
                user: user.clone(),
                role: record.role,
            }),
            Some(old) => compare_user(&mut summary, user, old, record),
        }
        if let Some(old) = old.filter(|old| old.role != record.role) {
            summary.role_changes.push(RoleChange {
                user: user.clone(),
                from: old.role,
                to: record.role,
                escalation: rank(record.role) > rank(old.role),
            });
        }
        let no_items = Vec::new();
        let (old_namespaces, old_domains, old_apps) = old
            .map_or((&no_items, &no_items, &no_items), |old| {
                (&old.namespaces, &old.domains, &old.apps)
            });
        let mut removed = Vec::new();
        compare_lists(
            old_namespaces,
            &record.namespaces,
            &mut summary.namespaces_created,
            &mut removed,
        );
        removed_namespaces(&mut summary, current, removed);
        compare_lists(
            old_domains,
            &record.domains,
            &mut summary.domains_added,
            &mut summary.domains_removed,
        );
        for app in record.apps.iter().filter(|app| !old_apps.contains(app)) {
            summary.app_instances_added.push(AppInstance {
                app: app.clone(),
                user: user.clone(),
            });
        }
        for app in old_apps.iter().filter(|app| !record.apps.contains(app)) {
            summary.app_instances_removed.push(AppInstance {
                app: app.clone(),
                user: user.clone(),
            });
        }
    }
    for (user, old) in previous {
        if current.tenants.contains_key(user) {
            continue;
        }
        summary.users_removed.push(UserRole {
            user: user.clone(),
            role: old.role,
        });
        removed_namespaces(&mut summary, current, old.namespaces.clone());
        summary.domains_removed.extend(old.domains.iter().cloned());
        summary
            .app_instances_removed
            .extend(old.apps.iter().map(|app| AppInstance {
                app: app.clone(),
                user: user.clone(),
            }));
    }
    let readopted_before = changes
        .previous
        .as_ref()
        .map(|previous| previous.namespaces.readopted.clone())
        .unwrap_or_default();
    summary.namespaces_readopted = current
        .namespaces
        .readopted
        .difference(&readopted_before)
        .cloned()
        .collect();
    // A re-adopted namespace is not new, whatever the record says.
    summary
        .namespaces_created
        .retain(|namespace| !current.namespaces.readopted.contains(namespace));
    for list in [
        &mut summary.namespaces_created,
        &mut summary.namespaces_released,
        &mut summary.namespaces_destroyed,
        &mut summary.domains_added,
        &mut summary.domains_removed,
    ] {
        list.sort();
    }
    summary.app_instances_added.sort();
    summary.app_instances_removed.sort();
    let released: BTreeSet<&str> = current
        .namespaces
        .released
        .keys()
        .map(String::as_str)
        .collect();
    // The last render's plan, with the grant settings it had.
    // The last render's plan, with the grant settings and layout it had.
    let mut previous_config = config.clone();
    if let Some(previous) = &changes.previous {
        if let Some(grants) = &previous.grants {
            previous_config = previous_config.with_grant_settings(grants);
        }
        // Records without a layout come from versions with the default one.
        previous_config.layout = match &previous.layout {
            Some(layout) => config.layout.with_map(layout),
            None => crate::config::LayoutConfig::default(),
        };
    }
    let before = plan::build(&users_of(previous, config), &previous_config);
    let after = plan::build(&users_of(&current.tenants, config), config);
    summary.objects = plan::compare_objects(&before.objects, &after.objects, &released);
    summary.stack_moves = plan::stack_moves(&before.objects, &after.objects);
    if summary.has_previous_render {
        summary.access_changes = access::changes(&access::report(&before), &access::report(&after));
        summary
            .access_changes
            .extend(access::woodpecker_admin_changes(&before, &after));
        summary.role_grant_changes = access::role_changes(&before, &after);
    }
    let sides = [(&before, previous), (&after, &current.tenants)];
    let addons = addon_access(changes, sides, config);
    (summary.addon_access_changes, summary.addon_unknown_grants) = (addons.access, addons.unknown);
    if config.deployer.mode == DeployerMode::AuthRole && !after.objects.is_empty() {
        summary.shared_deployer_identity = Some(format!(
            "{}/{}",
            config.deployer.namespace, config.deployer.service_account
        ));
    }
    summary.namespaces_allowed = config.namespaces.allow.clone();
    summary.manual_steps = manual_steps(&summary, changes, config);
    summary
}

/// What the changed add-on files grant before and after, each side with
/// its plan and the users of its record.
fn addon_access(
    changes: &Changes,
    [before, after]: [(&plan::Plan, &BTreeMap<String, TenantRecord>); 2],
    config: &Config,
) -> access::addons::AddonChanges {
    let owners = |records| crate::addon::owners(config, &users_of(records, config));
    let (before_owners, after_owners) = (owners(before.1), owners(after.1));
    let (before_access, after_access) = (access::report(before.0), access::report(after.0));
    access::addons::compare(
        changes,
        &access::addons::Side {
            plan: before.0,
            report: &before_access,
            owners: &before_owners,
        },
        &access::addons::Side {
            plan: after.0,
            report: &after_access,
            owners: &after_owners,
        },
    )
}

/// The tenants a render record describes, as the model has them, so the
/// plan of the last render can be rebuilt and compared with this one. A
/// record without quotas (older versions, or a user without namespaces)
/// takes the config's defaults.
fn users_of(records: &BTreeMap<String, TenantRecord>, config: &Config) -> Tenants {
    let users = records
        .iter()
        .map(|(name, record)| User {
            name: name.clone(),
            role: record.role,
            email: record.email.clone(),
            namespaces: record.namespaces.clone(),
            domains: record.domains.clone(),
            quota: match &record.quota {
                Some(quota) => QuotaKey::ALL
                    .into_iter()
                    .filter_map(|key| Some((key, quota.get(key.name())?.clone())))
                    .collect(),
                None => config.quota_defaults.clone(),
            },
            apps: record.apps.clone(),
        })
        .collect();
    Tenants { users }
}

/// What changed for a user in both renders: the fields, and the old and new
/// email and quota (role, namespaces, domains and apps have lists of their own).
fn compare_user(summary: &mut Summary, user: &str, old: &TenantRecord, new: &TenantRecord) {
    let mut fields = Vec::new();
    if old.role != new.role {
        fields.push("role");
    }
    if old.email != new.email {
        fields.push("email");
        summary.email_changes.push(EmailChange {
            user: user.to_string(),
            from: old.email.clone(),
            to: new.email.clone(),
        });
    }
    if old.namespaces != new.namespaces {
        fields.push("namespaces");
    }
    if old.domains != new.domains {
        fields.push("domains");
    }
    // A record without quota is from an older version, or of a user who owned
    // no namespace (whose quota had no effect): nothing to compare with.
    if let (Some(old_quota), Some(new_quota)) = (&old.quota, &new.quota) {
        let keys: std::collections::BTreeSet<&String> =
            old_quota.keys().chain(new_quota.keys()).collect();
        let before = summary.quota_changes.len();
        for key in keys {
            let (from, to) = (old_quota.get(key), new_quota.get(key));
            if from != to {
                summary.quota_changes.push(QuotaChange {
                    user: user.to_string(),
                    key: key.clone(),
                    from: from.cloned(),
                    to: to.cloned(),
                });
            }
        }
        if summary.quota_changes.len() > before {
            fields.push("quota");
        }
    }
    if old.apps != new.apps {
        fields.push("apps");
    }
    if !fields.is_empty() {
        summary.users_changed.push(UserChange {
            user: user.to_string(),
            fields,
        });
    }
}

/// Namespaces a render stops managing are released unless a
/// `--destroy-namespace` let them go.
fn removed_namespaces(summary: &mut Summary, current: &Manifest, removed: Vec<String>) {
    for namespace in removed {
        if current.namespaces.released.contains_key(&namespace) {
            summary.namespaces_released.push(namespace);
        } else {
            summary.namespaces_destroyed.push(namespace);
        }
    }
}

fn compare_lists(
    old: &[String],
    new: &[String],
    added: &mut Vec<String>,
    removed: &mut Vec<String>,
) {
    added.extend(new.iter().filter(|item| !old.contains(item)).cloned());
    removed.extend(old.iter().filter(|item| !new.contains(item)).cloned());
}

/// File and line counts, in all and per stack directory.
fn count_files(changes: &Changes) -> (FileCounts, BTreeMap<String, FileCounts>) {
    let mut total = FileCounts::default();
    let mut stacks: BTreeMap<String, FileCounts> = BTreeMap::new();
    for change in changes.changed() {
        let mut counts = FileCounts::default();
        match change.status {
            Status::Added => counts.added += 1,
            Status::Modified => counts.modified += 1,
            Status::Deleted => counts.deleted += 1,
            Status::Unchanged => {}
        }
        if change.hand_edited {
            counts.hand_edited += 1;
        }
        let old = change.old.as_deref().unwrap_or("");
        let new = change.new.as_deref().unwrap_or("");
        match change.status {
            // Nothing to align for a whole file coming or going.
            Status::Added => counts.lines_added += new.lines().count(),
            Status::Deleted => counts.lines_removed += old.lines().count(),
            _ => {
                let (added, removed) = count_lines(old, new);
                counts.lines_added += added;
                counts.lines_removed += removed;
            }
        }
        let stack = change.path.rsplit_once('/').map_or(".", |(dir, _)| dir);
        total.add(&counts);
        stacks.entry(stack.to_string()).or_default().add(&counts);
    }
    (total, stacks)
}

/// Lines added and removed from `old` to `new`, counted as the difference
/// of the two multisets of lines: linear in the size of the files, where a
/// line diff is quadratic in the lines changed (a 5,000-user churn took a
/// minute). A line that only moved counts as neither added nor removed.
fn count_lines(old: &str, new: &str) -> (usize, usize) {
    let mut balance: HashMap<&str, isize> = HashMap::new();
    for line in new.lines() {
        *balance.entry(line).or_default() += 1;
    }
    for line in old.lines() {
        *balance.entry(line).or_default() -= 1;
    }
    balance.values().fold((0, 0), |(added, removed), &count| {
        if count > 0 {
            (added + count.unsigned_abs(), removed)
        } else {
            (added, removed + count.unsigned_abs())
        }
    })
}

impl FileCounts {
    fn add(&mut self, other: &FileCounts) {
        self.added += other.added;
        self.modified += other.modified;
        self.deleted += other.deleted;
        self.lines_added += other.lines_added;
        self.lines_removed += other.lines_removed;
        self.hand_edited += other.hand_edited;
    }
}

/// The seed's onboarding steps that happen outside Terraform, for what changed.
fn manual_steps(summary: &Summary, changes: &Changes, config: &Config) -> Vec<String> {
    let mut steps = Vec::new();
    for (from, to, count) in &summary.stack_moves {
        steps.push(format!(
            "before applying, move the state of {} from {from} to {to} (`terraform state rm` there and `import` here, or `removed` and `import` blocks); otherwise Terraform destroys them in {from} and creates them anew in {to}",
            crate::problem::count(*count, "object")
        ));
    }
    for UserRole { user, role } in &summary.users_added {
        let group = match role {
            Role::NamespaceOwner => "kubernetes-namespace-owners",
            Role::PowerUser => "kubernetes-power-users",
            Role::Admin => "kubernetes-admins",
        };
        steps.push(format!(
            "Authentik: add {user} to the groups {group} and Headscale Users"
        ));
    }
    for change in &summary.role_changes {
        steps.push(format!(
            "Authentik: move {} from the {} group to the {} group",
            change.user, change.from, change.to
        ));
    }
    for namespace in &summary.namespaces_released {
        steps.push(format!(
            "namespace {namespace} was released with its data: once applied and no longer needed, delete it with kubectl, then run `tenantgen render --forget-released {namespace}`"
        ));
    }
    for UserRole { user, .. } in &summary.users_removed {
        steps.push(format!(
            "Authentik: remove {user} from the Kubernetes and Headscale groups"
        ));
    }
    for AppInstance { app, user } in &summary.app_instances_added {
        if let Some(app_config) = config.apps.get(app) {
            steps.push(format!(
                "{app} for {user}: export the NFS share {} and add the Cloudflare route {}",
                app_config.nfs_path_for(user),
                app_config.domain_for(user, &config.zone)
            ));
        }
    }
    // The share and the route were set up by hand, so they go by hand; the
    // share's data stays until the admin deletes it.
    for AppInstance { app, user } in &summary.app_instances_removed {
        if let Some(app_config) = config.apps.get(app) {
            steps.push(format!(
                "{app} for {user}: remove the NFS export of {} (its data stays until you delete it) and the Cloudflare route {}",
                app_config.nfs_path_for(user),
                app_config.domain_for(user, &config.zone)
            ));
        }
    }
    let touched = |stack: &str| {
        changes
            .changed()
            .any(|change| change.path.starts_with(&format!("{stack}/")))
    };
    let mut order: Vec<String> = summary
        .stack_order
        .iter()
        .filter(|stack| touched(stack))
        .cloned()
        .collect();
    order.extend(
        config
            .apps
            .keys()
            .filter(|app| touched(&format!("{app}/factory")))
            .map(|app| format!("{app}/factory")),
    );
    // Stacks only add-on templates write to, after tenantgen's own.
    for addon in config.addons.values() {
        if touched(&addon.stack) && !order.contains(&addon.stack) {
            order.push(addon.stack.clone());
        }
    }
    if !order.is_empty() {
        steps.push(format!("apply in this order: {}", order.join(", then ")));
    }
    steps
}
