//! Text output for people: unified diffs, the tenant summary, warnings.

use std::fmt::Write as _;

use serde::Serialize;

use crate::diff::{Changes, FileChange, OfflineProblem, Status};
use crate::summary::{AppInstance, Summary, UserRole};

/// Whether output carries ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    pub fn error_prefix(self) -> String {
        self.paint(RED, "error:")
    }

    pub fn warning_prefix(self) -> String {
        self.paint(YELLOW, "warning:")
    }
}

/// Unified diffs of every changed file, paths relative to `root_label`.
pub fn file_diffs(changes: &Changes, root_label: &str, style: Style) -> String {
    let mut out = String::new();
    for change in changes.changed() {
        out.push_str(&file_diff(change, root_label, style));
    }
    out
}

fn file_diff(change: &FileChange, root_label: &str, style: Style) -> String {
    let mut out = String::new();
    if change.hand_edited {
        let note = format!(
            "# {root_label}/{} was edited by hand; this change discards that edit",
            change.path
        );
        out.push_str(&style.paint(YELLOW, &note));
        out.push('\n');
    }
    for line in unified(change, root_label).lines() {
        let painted = if line.starts_with("+++") || line.starts_with("---") {
            style.paint(BOLD, line)
        } else if line.starts_with('+') {
            style.paint(GREEN, line)
        } else if line.starts_with('-') {
            style.paint(RED, line)
        } else if line.starts_with("@@") {
            style.paint(CYAN, line)
        } else {
            line.to_string()
        };
        out.push_str(&painted);
        out.push('\n');
    }
    out
}

/// The unified diff of one file, `a/` and `b/` paths under `root_label`.
fn unified(change: &FileChange, root_label: &str) -> String {
    let old = change.old.as_deref().unwrap_or("");
    let new = change.new.as_deref().unwrap_or("");
    let path = format!("{root_label}/{}", change.path);
    let (from, to) = match change.status {
        Status::Added => ("/dev/null".to_string(), format!("b/{path}")),
        Status::Deleted => (format!("a/{path}"), "/dev/null".to_string()),
        _ => (format!("a/{path}"), format!("b/{path}")),
    };
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&from, &to)
        .to_string()
}

/// One changed file in the JSON report.
#[derive(Debug, Serialize)]
struct JsonFile {
    path: String,
    status: &'static str,
    hand_edited: bool,
    diff: String,
}

/// The JSON document of `diff --format json` and `check --format json`
/// (its shape is documented in the README).
pub fn json_changes(
    command: &str,
    changes: &Changes,
    summary: Option<&Summary>,
    root_label: &str,
) -> String {
    let files: Vec<JsonFile> = changes
        .changed()
        .map(|change| JsonFile {
            path: change.path.clone(),
            status: match change.status {
                Status::Added => "added",
                Status::Modified => "modified",
                Status::Deleted => "deleted",
                Status::Unchanged => "unchanged",
            },
            hand_edited: change.hand_edited,
            diff: unified(change, root_label),
        })
        .collect();
    let up_to_date = files.is_empty();
    let document = serde_json::json!({
        "command": command,
        "output_root": root_label,
        "up_to_date": up_to_date,
        "exit_code": if up_to_date { 0 } else { 2 },
        "summary": summary,
        "files": files,
    });
    pretty(&document)
}

/// The JSON document of `check --offline --format json`.
pub fn json_offline(problems: &[OfflineProblem], root_label: &str) -> String {
    let document = serde_json::json!({
        "command": "check",
        "offline": true,
        "output_root": root_label,
        "up_to_date": problems.is_empty(),
        "exit_code": if problems.is_empty() { 0 } else { 2 },
        "problems": problems,
    });
    pretty(&document)
}

fn pretty(document: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

fn list<T: AsRef<str>>(items: &[T]) -> String {
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tenant-level summary, then file counts, then the steps outside Terraform.
pub fn summary(summary: &Summary, style: Style) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: String| {
        if !value.is_empty() {
            let _ = writeln!(out, "  {label:<22} {value}");
        }
    };
    let users = |pairs: &[UserRole]| {
        pairs
            .iter()
            .map(|entry| format!("{} ({})", entry.user, entry.role))
            .collect::<Vec<_>>()
            .join(", ")
    };
    line("source:", summary.source_change.clone().unwrap_or_default());
    line("users added:", users(&summary.users_added));
    line("users removed:", users(&summary.users_removed));
    line("users changed:", list(&summary.users_changed));
    let role_changes: Vec<String> = summary
        .role_changes
        .iter()
        .map(|change| {
            let text = format!("{}: {} -> {}", change.user, change.from, change.to);
            if change.escalation {
                style.paint(RED, &format!("{text} (ESCALATION)"))
            } else {
                text
            }
        })
        .collect();
    line("role changes:", role_changes.join(", "));
    line("namespaces created:", list(&summary.namespaces_created));
    if !summary.namespaces_removed.is_empty() {
        let warning = format!(
            "{} (their Terraform resources go away: applying deletes these namespaces and their data)",
            list(&summary.namespaces_removed)
        );
        line("namespaces removed:", style.paint(RED, &warning));
    }
    line("domains added:", list(&summary.domains_added));
    line("domains removed:", list(&summary.domains_removed));
    let instances = |pairs: &[AppInstance]| {
        pairs
            .iter()
            .map(|entry| format!("{}/{}", entry.app, entry.user))
            .collect::<Vec<_>>()
            .join(", ")
    };
    line(
        "app instances added:",
        instances(&summary.app_instances_added),
    );
    line(
        "app instances removed:",
        instances(&summary.app_instances_removed),
    );
    let files = &summary.files;
    line(
        "files:",
        format!(
            "{} added, {} changed, {} deleted (+{} -{} lines)",
            files.added, files.modified, files.deleted, files.lines_added, files.lines_removed
        ),
    );
    if files.hand_edited > 0 {
        line(
            "hand-edited files:",
            style.paint(YELLOW, &files.hand_edited.to_string()),
        );
    }
    let mut text = String::new();
    let heading = if summary.has_previous_render {
        "Summary:"
    } else {
        "Summary (first render into this tree: every tenant counts as added):"
    };
    let _ = writeln!(text, "{}", style.paint(BOLD, heading));
    text.push_str(&out);
    if !summary.manual_steps.is_empty() {
        let _ = writeln!(text, "{}", style.paint(BOLD, "Next steps:"));
        for step in &summary.manual_steps {
            let _ = writeln!(text, "  - {step}");
        }
    }
    text
}
