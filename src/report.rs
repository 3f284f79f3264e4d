//! Text output for people: unified diffs, the tenant summary, warnings.

use std::fmt::Write as _;
use std::io;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::diff::{Changes, FileChange, OfflineProblem, Status};
use crate::manifest;
use crate::summary::{AppInstance, FileCounts, Summary, UserRole};

/// Whether output carries ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

/// Time one file's line diff may take before `similar` stops looking for
/// the shortest diff (a churn of thousands of users took a minute without).
const DIFF_DEADLINE: Duration = Duration::from_millis(100);

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Every escape sequence [`Style`] writes: the only ones output lets
/// through (src/cli/terminal.rs).
pub const STYLE_SEQUENCES: &[&str] = &[RED, GREEN, YELLOW, CYAN, BOLD, RESET];

impl Style {
    /// `text` in colour, line by line as git does: each line opens and
    /// resets its own colour, so no reset lands after a newline, on the
    /// next line, where a pager or a `grep` would see it.
    fn paint(self, code: &str, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        text.split('\n')
            .map(|line| {
                if line.is_empty() {
                    String::new()
                } else {
                    format!("{code}{line}{RESET}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn error_prefix(self) -> String {
        self.paint(RED, "error:")
    }

    pub fn warning_prefix(self) -> String {
        self.paint(YELLOW, "warning:")
    }
}

/// Writes the unified diff of every changed file, paths relative to
/// `root_label`, straight to `out`: a first render's diff is as large as the
/// whole output and is never held in memory twice. The render record is one
/// line, as Terraform shows a change it does not detail, unless `show_record`.
pub fn write_file_diffs(
    out: &mut impl io::Write,
    changes: &Changes,
    root_label: &str,
    style: Style,
    show_record: bool,
) -> io::Result<()> {
    for change in changes.changed() {
        if change.path == manifest::PATH && !show_record {
            let (sign, what, colour) = match change.status {
                Status::Added => ("+", "created", GREEN),
                Status::Deleted => ("-", "deleted", RED),
                _ => ("~", "updated", YELLOW),
            };
            let line = format!(
                "{sign} {root_label}/{}: render record {what} (--show-record shows its diff)",
                change.path
            );
            writeln!(out, "{}", style.paint(colour, &line))?;
            continue;
        }
        if change.hand_edited {
            let note = format!(
                "# {root_label}/{} was edited by hand; this change discards that edit",
                change.path
            );
            writeln!(out, "{}", style.paint(YELLOW, &note))?;
        }
        let mut result = Ok(());
        diff_lines(change, root_label, |prefix, body| {
            if result.is_ok() {
                result = write_painted(out, style, prefix, body);
            }
        });
        result?;
    }
    Ok(())
}

fn write_painted(
    out: &mut impl io::Write,
    style: Style,
    prefix: &str,
    body: &str,
) -> io::Result<()> {
    let line_start = if prefix.is_empty() { body } else { prefix };
    let colour = if !style.color {
        None
    } else if body.starts_with("+++") || body.starts_with("---") {
        Some(BOLD)
    } else if line_start.starts_with('+') {
        Some(GREEN)
    } else if line_start.starts_with('-') {
        Some(RED)
    } else if body.starts_with("@@") {
        Some(CYAN)
    } else {
        None
    };
    match colour {
        Some(code) => writeln!(out, "{code}{prefix}{body}{RESET}"),
        None => {
            out.write_all(prefix.as_bytes())?;
            out.write_all(body.as_bytes())?;
            out.write_all(b"\n")
        }
    }
}

/// The unified diff of one file, `a/` and `b/` paths under `root_label`.
fn unified(change: &FileChange, root_label: &str) -> String {
    let mut text = String::new();
    diff_lines(change, root_label, |prefix, body| {
        text.push_str(prefix);
        text.push_str(body);
        text.push('\n');
    });
    text
}

/// Calls `emit(prefix, body)` for each line of the file's unified diff
/// (the line is `prefix` followed by `body`, without its newline).
fn diff_lines(change: &FileChange, root_label: &str, mut emit: impl FnMut(&str, &str)) {
    let old = change.old.as_deref().unwrap_or("");
    let new = change.new.as_deref().unwrap_or("");
    let path = format!("{root_label}/{}", change.path);
    let (from, to) = match change.status {
        Status::Added => ("/dev/null".to_string(), format!("b/{path}")),
        Status::Deleted => (format!("a/{path}"), "/dev/null".to_string()),
        _ => (format!("a/{path}"), format!("b/{path}")),
    };
    // A file added or deleted whole is printed as `similar` would print it,
    // without running a diff over every line.
    let whole = match change.status {
        Status::Added if new.ends_with('\n') => Some(('+', new)),
        Status::Deleted if old.ends_with('\n') => Some(('-', old)),
        _ => None,
    };
    let Some((sign, text)) = whole else {
        // Past the deadline `similar` settles for a longer diff, so that
        // a file rewritten throughout costs about as much as printing it.
        let diff = similar::TextDiff::configure()
            .deadline(Instant::now() + DIFF_DEADLINE)
            .diff_lines(old, new);
        let diff = diff
            .unified_diff()
            .context_radius(3)
            .header(&from, &to)
            .to_string();
        for line in diff.lines() {
            emit("", line);
        }
        return;
    };
    let count = text.lines().count();
    let range = if sign == '+' {
        format!("@@ -0,0 +1,{count} @@")
    } else {
        format!("@@ -1,{count} +0,0 @@")
    };
    emit("--- ", &from);
    emit("+++ ", &to);
    emit("", &range);
    let sign = if sign == '+' { "+" } else { "-" };
    for line in text.lines() {
        emit(sign, line);
    }
}

/// One changed file in the JSON report.
#[derive(Debug, Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    status: &'static str,
    hand_edited: bool,
    diff: String,
}

/// The JSON document of `diff --format json` and `check --format json`
/// (its shape is documented in the README).
#[derive(Serialize)]
struct JsonReport<'a> {
    command: &'a str,
    output_root: &'a str,
    up_to_date: bool,
    exit_code: u8,
    summary: Option<&'a Summary>,
    files: JsonFiles<'a>,
}

/// The changed files, each diff built only while it is serialised.
struct JsonFiles<'a> {
    changes: &'a Changes,
    root_label: &'a str,
}

impl Serialize for JsonFiles<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.changes.changed().map(|change| JsonFile {
            path: &change.path,
            status: match change.status {
                Status::Added => "added",
                Status::Modified => "modified",
                Status::Deleted => "deleted",
                Status::Unchanged => "unchanged",
            },
            hand_edited: change.hand_edited,
            diff: unified(change, self.root_label),
        }))
    }
}

/// Writes the JSON document of `diff --format json` and `check --format json`.
pub fn write_json_changes(
    out: &mut impl io::Write,
    command: &str,
    changes: &Changes,
    summary: Option<&Summary>,
    root_label: &str,
) -> io::Result<()> {
    let up_to_date = !changes.has_changes();
    let report = JsonReport {
        command,
        output_root: root_label,
        up_to_date,
        exit_code: if up_to_date { 0 } else { 2 },
        summary,
        files: JsonFiles {
            changes,
            root_label,
        },
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
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

/// Rows as aligned columns, two spaces apart, each line trimmed at the end.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Lines after the first aligned under it, in the summary's value column.
fn aligned(lines: &[String]) -> String {
    lines.join(&format!("\n{:25}", ""))
}

/// The summary's lines on what the changed add-on files grant, and on what
/// they declare that cannot be analysed.
fn addon_lines(summary: &Summary, style: Style) -> (Vec<String>, Vec<String>) {
    let access = summary
        .addon_access_changes
        .iter()
        .map(|change| {
            if change.contains(" gains ") && change.contains("(write)") {
                style.paint(RED, change)
            } else {
                change.clone()
            }
        })
        .collect();
    let unknown = summary
        .addon_unknown_grants
        .iter()
        .map(|unknown| {
            style.paint(
                YELLOW,
                &format!(
                    "UNKNOWN {} {} ({}): {}",
                    unknown.file,
                    unknown.address,
                    unknown.source(),
                    unknown.reason
                ),
            )
        })
        .collect();
    (access, unknown)
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
    let changed: Vec<String> = summary
        .users_changed
        .iter()
        .map(|change| format!("{} ({})", change.user, change.fields.join(", ")))
        .collect();
    line("users changed:", changed.join(", "));
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
    let emails: Vec<String> = summary
        .email_changes
        .iter()
        .map(|change| format!("{}: {} -> {}", change.user, change.from, change.to))
        .collect();
    line("email changes:", emails.join(", "));
    let unset = |value: &Option<String>| value.clone().unwrap_or_else(|| "(unset)".to_string());
    let quotas: Vec<String> = summary
        .quota_changes
        .iter()
        .map(|change| {
            format!(
                "{}: {} {} -> {}",
                change.user,
                change.key,
                unset(&change.from),
                unset(&change.to)
            )
        })
        .collect();
    line("quota changes:", quotas.join(", "));
    line("namespaces created:", list(&summary.namespaces_created));
    // Pronouns agree with the number of namespaces, as `count` does for nouns.
    let one = |names: &[String]| names.len() == 1;
    if !summary.namespaces_released.is_empty() {
        let released = &summary.namespaces_released;
        let (them, they, their) = if one(released) {
            ("it", "the namespace", "its")
        } else {
            ("them", "the namespaces", "their")
        };
        let note = format!(
            "{} (Terraform forgets {them}; {they} and {their} data stay)",
            list(released)
        );
        line("namespaces released:", style.paint(YELLOW, &note));
    }
    if !summary.namespaces_destroyed.is_empty() {
        let destroyed = &summary.namespaces_destroyed;
        let (these, their) = if one(destroyed) {
            ("this namespace", "its")
        } else {
            ("these namespaces", "their")
        };
        let warning = format!(
            "{} (--destroy-namespace: applying DELETES {these} and all {their} data)",
            list(destroyed)
        );
        line("namespaces DESTROYED:", style.paint(RED, &warning));
    }
    line(
        "namespaces re-adopted:",
        if summary.namespaces_readopted.is_empty() {
            String::new()
        } else {
            format!(
                "{} (imported, not created)",
                list(&summary.namespaces_readopted)
            )
        },
    );
    if !summary.adoption_replacements.is_empty() {
        // One object per line, aligned under the first.
        let mut note =
            vec!["moved, then replaced because the Kubernetes name changes:".to_string()];
        note.extend(summary.adoption_replacements.iter().cloned());
        line("adoption replaces:", style.paint(YELLOW, &aligned(&note)));
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
    let counts = |files: &FileCounts| {
        let lines = files.lines_added + files.lines_removed;
        format!(
            "{} added, {} changed, {} deleted (+{} -{} {})",
            files.added,
            files.modified,
            files.deleted,
            files.lines_added,
            files.lines_removed,
            if lines == 1 { "line" } else { "lines" }
        )
    };
    const ACCESS_LINES: usize = 40;
    let mut access: Vec<String> = summary
        .access_changes
        .iter()
        .take(ACCESS_LINES)
        .map(|change| {
            if change.contains(" gains write") {
                style.paint(RED, change)
            } else {
                change.clone()
            }
        })
        .collect();
    if summary.access_changes.len() > ACCESS_LINES {
        access.push(format!(
            "... and {} more (all of them in --format json; `tenantgen access` shows everyone's access now)",
            summary.access_changes.len() - ACCESS_LINES
        ));
    }
    line("access:", aligned(&access));
    let role_grants: Vec<String> = summary
        .role_grant_changes
        .iter()
        .flat_map(|change| {
            let gained = (!change.gained.is_empty()).then(|| {
                style.paint(
                    RED,
                    &format!(
                        "{} gains {} (ESCALATION)",
                        change.role,
                        change.gained.join(", ")
                    ),
                )
            });
            let lost = (!change.lost.is_empty()).then(|| {
                format!(
                    "{} loses {} (reduction)",
                    change.role,
                    change.lost.join(", ")
                )
            });
            gained.into_iter().chain(lost)
        })
        .collect();
    line("role grants:", aligned(&role_grants));
    let (addon_access, unknown) = addon_lines(summary, style);
    line("add-on access:", aligned(&addon_access));
    line("add-on grants:", aligned(&unknown));
    let overrides: Vec<String> = summary
        .template_override_grants
        .iter()
        .map(|grant| style.paint(RED, grant))
        .collect();
    line("template overrides:", aligned(&overrides));
    if let Some(identity) = &summary.shared_deployer_identity {
        line(
            "CI deployer:",
            style.paint(
                YELLOW,
                &format!("every tenant's pipelines share one identity, {identity} (deployer {{ mode = \"auth-role\" }}): any pipeline can deploy into every tenant's namespaces"),
            ),
        );
    }
    if let Some(change) = &summary.guard_change {
        line(
            "removal guard:",
            style.paint(
                YELLOW,
                &format!("{change} (users one render may remove without --allow-removals)"),
            ),
        );
    }
    if !summary.namespaces_allowed.is_empty() {
        line(
            "reserved:",
            style.paint(
                YELLOW,
                &format!(
                    "namespaces.allow gives platform namespaces to tenants: {}",
                    summary.namespaces_allowed.join(", ")
                ),
            ),
        );
    }
    let moved: Vec<String> = summary
        .stack_moves
        .iter()
        .map(|(from, to, count)| {
            style.paint(
                YELLOW,
                &format!(
                    "{} from {from} to {to} (layout changed; their state must move too)",
                    crate::problem::count(*count, "object")
                ),
            )
        })
        .collect();
    line("stacks changed:", aligned(&moved));
    let objects = &summary.objects;
    if !objects.is_empty() {
        let kinds: Vec<String> = objects
            .kinds
            .iter()
            .map(|(kind, counts)| {
                let signs = [
                    ("+", counts.add),
                    ("~", counts.change),
                    ("-", counts.destroy),
                ];
                let counts = signs
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(sign, n)| format!(" {sign}{n}"));
                format!("{kind}{}", counts.collect::<String>())
            })
            .collect();
        line(
            "objects:",
            format!(
                "{} to add, {} to change, {} to destroy ({})",
                objects.add,
                objects.change,
                objects.destroy,
                kinds.join(", ")
            ),
        );
    }
    let files = &summary.files;
    line("files:", counts(files));
    // Per stack, in the order they are applied; the render record last.
    let mut stacks: Vec<(&String, &FileCounts)> = summary.stacks.iter().collect();
    stacks.sort_by_key(|(stack, _)| {
        let known = summary.stack_order.len();
        let rank = summary
            .stack_order
            .iter()
            .position(|known| known == *stack)
            .unwrap_or(if stack.as_str() == "." {
                known + 1
            } else {
                known
            });
        (rank, stack.as_str())
    });
    let width = stacks
        .iter()
        .map(|(stack, _)| stack.len() + 3)
        .max()
        .unwrap_or(0)
        .max(22);
    for (stack, files) in stacks {
        let label = if stack == "." {
            "  render record:".to_string()
        } else {
            format!("  {stack}:")
        };
        line(&format!("{label:<width$}"), counts(files));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_file_diffs_match_similar() {
        let text = "a = 1\n\nb {\n  c = 2\n}\n";
        for (status, old, new) in [
            (Status::Added, None, Some(text)),
            (Status::Deleted, Some(text), None),
        ] {
            let change = FileChange {
                path: "x.tf".into(),
                status,
                old: old.map(String::from),
                new: new.map(String::from),
                hand_edited: false,
            };
            let (from, to) = match status {
                Status::Added => ("/dev/null".to_string(), "b/out/x.tf".to_string()),
                _ => ("a/out/x.tf".to_string(), "/dev/null".to_string()),
            };
            let expected = similar::TextDiff::from_lines(old.unwrap_or(""), new.unwrap_or(""))
                .unified_diff()
                .context_radius(3)
                .header(&from, &to)
                .to_string();
            assert_eq!(unified(&change, "out"), expected);
        }
    }
}
