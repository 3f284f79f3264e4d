//! What a change to the add-on files does to access, for the summary: the
//! grants read from each changed add-on file before and after, compared.
//! A file that did not change grants the same before and after.

use std::collections::{BTreeMap, BTreeSet};

use super::rendered::{self, AddonFile, Found, Holder, UnknownGrant};
use super::{PrincipalKind, Report};
use crate::diff::Changes;
use crate::plan::Plan;

/// Add-on grants gained and lost, as lines, and what the changed add-on
/// files declare that cannot be analysed.
#[derive(Debug, Clone, Default)]
pub struct AddonChanges {
    pub access: Vec<String>,
    pub unknown: Vec<UnknownGrant>,
}

/// One side of the change: its plan, its access report, and every add-on
/// file path → (add-on, user).
pub struct Side<'a> {
    pub plan: &'a Plan,
    pub report: &'a Report,
    pub owners: &'a BTreeMap<String, (String, Option<String>)>,
}

/// The add-on grants of the changed add-on files, compared.
pub fn compare(changes: &Changes, before: &Side<'_>, after: &Side<'_>) -> AddonChanges {
    let old = read(changes, before, |change| change.old.as_deref());
    let new = read(changes, after, |change| change.new.as_deref());
    let (old_lines, new_lines) = (lines(&old), lines(&new));
    let mut access: Vec<String> = new_lines
        .difference(&old_lines)
        .map(|(who, what)| format!("{who} gains {what}"))
        .collect();
    access.extend(
        old_lines
            .difference(&new_lines)
            .map(|(who, what)| format!("{who} loses {what}")),
    );
    AddonChanges {
        access,
        unknown: new.unknown,
    }
}

/// What the changed add-on files grant on one side.
fn read<'a>(
    changes: &'a Changes,
    side: &Side<'a>,
    text: impl Fn(&'a crate::diff::FileChange) -> Option<&'a str>,
) -> Found {
    let files: Vec<AddonFile<'a>> = changes
        .changed()
        .filter_map(|change| {
            let text = text(change)?;
            let (addon, user) = match side.owners.get(&change.path) {
                Some((addon, user)) => (addon.as_str(), user.as_deref()),
                None => (addon_of(&change.path)?, None),
            };
            Some(AddonFile {
                path: &change.path,
                addon,
                overridden: false,
                user,
                text,
            })
        })
        .collect();
    rendered::read(side.plan, side.report, &files)
}

/// An add-on file no longer in the config is known by its file name.
fn addon_of(path: &str) -> Option<&str> {
    let name = path.rsplit_once('/')?.1;
    name.strip_prefix("addon-")?.strip_suffix(".tf")
}

/// Every grant as who and what, to print with gains or loses between.
fn lines(found: &Found) -> BTreeSet<(String, String)> {
    let name = |holder: &Holder| match holder.kind {
        PrincipalKind::User => holder.user.clone(),
        _ => holder.principal.clone(),
    };
    let mut lines = BTreeSet::new();
    for (holder, grant) in &found.kubernetes {
        let place = if grant.scope == "cluster" {
            "cluster-wide".to_string()
        } else {
            format!("in {}", grant.scope)
        };
        let writes = if grant.write { "write" } else { "read" };
        lines.insert((
            name(holder),
            format!(
                "{} {} {place} ({writes}){}",
                grant.role_kind,
                grant.role,
                super::via(grant.addon.as_deref(), grant.template_override.as_deref())
            ),
        ));
    }
    for (holder, grant) in &found.vault {
        lines.insert((
            name(holder),
            format!(
                "{} on vault {}{}",
                grant.capabilities.join(", "),
                grant.path,
                super::via(grant.addon.as_deref(), grant.template_override.as_deref())
            ),
        ));
    }
    lines
}
