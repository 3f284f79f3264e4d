//! What `--templates` overrides grant beyond the built-in templates. The
//! plan says what the built-in templates render; an override may render
//! anything. Every file an override renders is read back twice, from the
//! override and from the built-in template, and whatever the override's
//! rendering grants that the built-in one does not (or declares and cannot
//! be analysed) is added to `access` and the summary, marked `via template
//! override "NAME"`.

use std::path::Path;

use anyhow::Result;

use super::rendered::{self, AddonFile, Found};
use super::{PrincipalKind, Report};
use crate::plan::Plan;
use crate::render::{self, Templates};

/// What the overrides in `dir` grant beyond the built-in templates.
pub fn found(plan: &Plan, report: &Report, dir: &Path) -> Result<Found> {
    let overridden = Templates::load(Some(dir))?;
    let builtin = Templates::load(None)?;
    let mut renderings = Vec::new();
    for job in render::jobs(plan) {
        let file = overridden.render_job(&job)?;
        if file.from_override {
            let original = builtin.render_job(&job)?.text;
            renderings.push((file.path, file.template, file.text, original));
        }
    }
    let files = |original: bool| -> Vec<AddonFile<'_>> {
        renderings
            .iter()
            .map(|(path, template, text, builtin_text)| AddonFile {
                path,
                addon: template,
                overridden: true,
                user: None,
                text: if original { builtin_text } else { text },
            })
            .collect()
    };
    let with = rendered::read(plan, report, &files(false));
    let without = rendered::read(plan, report, &files(true));
    Ok(Found {
        kubernetes: with
            .kubernetes
            .into_iter()
            .filter(|grant| !without.kubernetes.contains(grant))
            .collect(),
        vault: with
            .vault
            .into_iter()
            .filter(|grant| !without.vault.contains(grant))
            .collect(),
        unknown: with
            .unknown
            .into_iter()
            .chain(with.roles)
            .filter(|unknown| {
                !without.unknown.contains(unknown) && !without.roles.contains(unknown)
            })
            .collect(),
        roles: Vec::new(),
    })
}

/// The summary's lines for what the overrides grant beyond the built-in
/// templates: every grant, then every unknown.
pub fn lines(found: &Found) -> Vec<String> {
    let name = |kind: PrincipalKind, user: &str, principal: &str| match kind {
        PrincipalKind::User => user.to_string(),
        _ => principal.to_string(),
    };
    let mut lines = Vec::new();
    for (holder, grant) in &found.kubernetes {
        let place = if grant.scope == "cluster" {
            "cluster-wide".to_string()
        } else {
            format!("in {}", grant.scope)
        };
        lines.push(format!(
            "{} gets {} {} {place} ({}){}",
            name(holder.kind, &holder.user, &holder.principal),
            grant.role_kind,
            grant.role,
            if grant.write { "write" } else { "read" },
            super::via(None, grant.template_override.as_deref())
        ));
    }
    for (holder, grant) in &found.vault {
        lines.push(format!(
            "{} gets {} on vault {}{}",
            name(holder.kind, &holder.user, &holder.principal),
            grant.capabilities.join(", "),
            grant.path,
            super::via(None, grant.template_override.as_deref())
        ));
    }
    for unknown in &found.unknown {
        lines.push(format!(
            "UNKNOWN {} {} ({}): {}",
            unknown.file,
            unknown.address,
            unknown.source(),
            unknown.reason
        ));
    }
    lines
}
