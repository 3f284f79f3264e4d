//! Stage 4: lay the plan out as Terraform text through minijinja templates.
//!
//! Templates are embedded in the binary; `--templates DIR` overrides any of
//! them by relative path. Every `{{ value }}` prints as an escaped HCL
//! literal, so no input can turn into Terraform code.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use minijinja::value::{Value, ValueKind};
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, context,
};

use crate::budget;
use crate::config::Group as ObjectGroup;
use crate::escape;
use crate::plan::{Object, Plan, Variable};

/// The built-in templates, by the relative path an override uses.
pub const BUILTIN_TEMPLATES: &[(&str, &str)] = &[
    ("objects.tf.j2", include_str!("../templates/objects.tf.j2")),
    ("tenant.tf.j2", include_str!("../templates/tenant.tf.j2")),
    (
        "tenantgen.tf.j2",
        include_str!("../templates/tenantgen.tf.j2"),
    ),
    (
        "lifecycle.tf.j2",
        include_str!("../templates/lifecycle.tf.j2"),
    ),
    ("adopt.tf.j2", include_str!("../templates/adopt.tf.j2")),
    (
        "factory/main.tf.j2",
        include_str!("../templates/factory/main.tf.j2"),
    ),
];

/// Name of each stack's file of shared, non-tenant objects.
pub const SHARED_FILE: &str = "tenantgen.tf";

/// A rendered file, before formatting and verification.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedFile {
    /// Relative to the output root, `/`-separated.
    pub path: String,
    pub text: String,
    /// The template it came from.
    pub template: String,
    /// Whether that template came from `--templates` rather than the binary.
    pub from_override: bool,
}

/// The template environment: built-ins plus overrides.
pub struct Templates {
    env: Environment<'static>,
    overridden: Vec<String>,
}

impl Templates {
    /// The built-in templates, with files in `override_dir` replacing them.
    pub fn load(override_dir: Option<&Path>) -> Result<Templates> {
        let mut env = environment();
        for (name, source) in BUILTIN_TEMPLATES {
            env.add_template(name, source).with_context(|| {
                format!("built-in template {name} does not compile; this is a tenantgen bug")
            })?;
        }
        let mut overridden = Vec::new();
        if let Some(dir) = override_dir {
            for (name, source) in read_overrides(dir)? {
                overridden.push(name.clone());
                env.add_template_owned(name.clone(), source)
                    .with_context(|| {
                        format!(
                            "template {} does not compile; fix its syntax",
                            dir.join(&name).display()
                        )
                    })?;
            }
        }
        Ok(Templates { env, overridden })
    }

    /// Adds an operator's add-on template (src/addon.rs) under `name`,
    /// which must not be a built-in template's.
    pub fn add_addon(&mut self, name: String, source: String) -> Result<(), Error> {
        if self.env.get_template(&name).is_ok() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "{name} is the name of a built-in template; give the add-on's file another path"
                ),
            ));
        }
        self.env.add_template_owned(name, source)
    }

    fn render(&self, name: &str, ctx: Value, path: &str) -> Result<String> {
        let template = self.env.get_template(name)?;
        let what = format!(
            "rendering {} with template {}",
            escape::spelled(path),
            escape::spelled(name)
        );
        let mut out = Capped::default();
        let rendered = {
            let _counted = budget::Rendering::start(what.clone());
            template.render_captured_to(ctx, &mut out).map(drop)
        };
        rendered.map_err(|err| {
            let mut message = format!("{what} failed: ");
            if out.over {
                let _ = write!(
                    message,
                    "its output passed {} MiB, the limit for one file",
                    MAX_RENDERED_BYTES >> 20
                );
            } else if err.kind() == ErrorKind::OutOfFuel {
                let _ = write!(
                    message,
                    "it took more than {TEMPLATE_FUEL} steps, the limit for one file"
                );
            } else {
                // minijinja's message may quote the template: cut short, escaped.
                message.push_str(&crate::addon::minijinja_message(&err));
            }
            anyhow::anyhow!(
                "{message}\nif it is an add-on template, or you override templates with --templates, fix that template (README \"Add-on templates\" lists the limits)"
            )
        })?;
        // minijinja writes only whole `str`s.
        String::from_utf8(out.text).context("template output is not UTF-8; this is a tenantgen bug")
    }
}

/// The steps (minijinja fuel) one file's rendering may take: the built-in
/// templates take under 40,000 for the largest file of 20,000 users.
pub const TEMPLATE_FUEL: u64 = 10_000_000;

/// The most text one rendered file may hold.
pub const MAX_RENDERED_BYTES: usize = 16 * 1024 * 1024;

/// A rendering's output, refused past [`MAX_RENDERED_BYTES`].
#[derive(Default)]
struct Capped {
    text: Vec<u8>,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > MAX_RENDERED_BYTES {
            self.over = true;
            return Err(std::io::Error::other("output limit reached"));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The environment every template renders in: values print as escaped
/// HCL literals, undefined values are errors, and the filters below.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_auto_escape_callback(|_| AutoEscape::Custom("hcl"));
    env.set_formatter(hcl_formatter);
    env.add_filter("raw_name", raw_name);
    env.add_filter("expr", expr);
    env.add_filter("comment", comment);
    env
}

fn read_overrides(dir: &Path) -> Result<Vec<(String, String)>> {
    if !dir.is_dir() {
        bail!(
            "--templates {}: not a directory; pass the folder that holds your template overrides",
            dir.display()
        );
    }
    let mut overrides = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry =
            entry.with_context(|| format!("cannot read templates folder {}", dir.display()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        if !entry.file_type().is_file() {
            bail!(
                "template override {} is not a regular file (a symbolic link, FIFO or device); put the template itself there",
                entry.path().display()
            );
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let name = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if !BUILTIN_TEMPLATES
            .iter()
            .any(|(builtin, _)| *builtin == name)
        {
            let known: Vec<&str> = BUILTIN_TEMPLATES
                .iter()
                .map(|(builtin, _)| *builtin)
                .collect();
            bail!(
                "template override {} matches no built-in template; name it after one of: {}",
                entry.path().display(),
                known.join(", ")
            );
        }
        let source = read_override(entry.path())?;
        overrides.push((name, source));
    }
    Ok(overrides)
}

/// The largest template read (add-on or override): larger than any a
/// person writes, and the path may name a device.
pub const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// An override's text: a regular file of at most 1 MiB, as add-on
/// templates (the folder may be in a pull request's repository).
fn read_override(path: &Path) -> Result<String> {
    let cannot = || format!("cannot read template {}", path.display());
    match crate::source::read_regular(path, MAX_TEMPLATE_BYTES).with_context(cannot)? {
        crate::source::Bounded::Read(bytes) => String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("template {} is not UTF-8 text", path.display())),
        crate::source::Bounded::NotRegular(what) => {
            bail!(
                "template override {} is {what}; put the template itself there",
                path.display()
            )
        }
        crate::source::Bounded::TooLarge(_) => bail!(
            "template override {} holds more than 1 MiB, so it is not a template; check the path",
            path.display()
        ),
    }
}

/// Prints values as HCL literals; safe strings (identifiers, expressions,
/// macro output) verbatim.
fn hcl_formatter(out: &mut Output, _state: &State, value: &Value) -> Result<(), Error> {
    // Safe strings are most of the output (macro results): no copy for them.
    if let (ValueKind::String, true) = (value.kind(), value.is_safe()) {
        return out
            .write_str(value.as_str().unwrap_or_default())
            .map_err(Error::from);
    }
    // Quoting copies the value: refuse one that could never fit first.
    if value
        .as_str()
        .is_some_and(|text| text.len() > MAX_RENDERED_BYTES)
    {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "a value of more than {} MiB, the limit for one file, cannot be printed",
                MAX_RENDERED_BYTES >> 20
            ),
        ));
    }
    let mut text = String::new();
    write_literal(&mut text, value)?;
    out.write_str(&text).map_err(Error::from)
}

fn write_literal(text: &mut String, value: &Value) -> Result<(), Error> {
    match value.kind() {
        ValueKind::String if value.is_safe() => text.push_str(value.as_str().unwrap_or_default()),
        ValueKind::String => escape::push_quoted(text, value.as_str().unwrap_or_default()),
        ValueKind::Bool => text.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            let _ = write!(text, "{value}");
        }
        ValueKind::Seq => {
            text.push('[');
            for (index, item) in value.try_iter()?.enumerate() {
                if index > 0 {
                    text.push_str(", ");
                }
                write_literal(text, &item)?;
            }
            text.push(']');
        }
        kind => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("a {kind} value cannot be printed as HCL; iterate over it in the template"),
            ));
        }
    }
    Ok(())
}

/// An identifier or DNS name printed unquoted, after checking it can be nothing else.
fn raw_name(value: &str) -> Result<Value, Error> {
    let valid = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(Value::from_safe_string(value.to_string()))
    } else {
        Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "raw_name refuses {value:?}: only letters, digits, `_`, `-` and `.` may be printed unquoted"
            ),
        ))
    }
}

/// A Terraform expression from the config (already checked to parse), unquoted.
fn expr(value: &str) -> Result<Value, Error> {
    if value.contains(['\n', '\r']) || value.parse::<hcl::Expression>().is_err() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("expr refuses {value:?}: not a single-line Terraform expression"),
        ));
    }
    Ok(Value::from_safe_string(value.to_string()))
}

/// Comment lines, `# ` before each line, so no text can end the comment.
fn comment(value: &str) -> Value {
    let mut out = String::with_capacity(value.len() + 8);
    for (index, line) in value.split(['\n', '\r']).enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str("# ");
        out.push_str(line);
    }
    Value::from_safe_string(out)
}

/// One file to render: its path, its template, and how to build the
/// template's context (built by whichever thread renders it).
pub struct Job<'a> {
    pub path: String,
    template: Cow<'a, str>,
    context: Box<dyn Fn() -> Value + Sync + 'a>,
}

impl<'a> Job<'a> {
    pub fn new(
        path: String,
        template: impl Into<Cow<'a, str>>,
        context: impl Fn() -> Value + Sync + 'a,
    ) -> Job<'a> {
        Job {
            path,
            template: template.into(),
            context: Box::new(context),
        }
    }
}

impl Templates {
    /// Renders one file of the plan.
    pub fn render_job(&self, job: &Job<'_>) -> Result<RenderedFile> {
        let text = self.render(&job.template, (job.context)(), &job.path)?;
        // objects.tf.j2 is in every file, so overriding it makes every file suspect.
        let from_override = self
            .overridden
            .iter()
            .any(|name| *name == job.template || name == OBJECTS_TEMPLATE);
        Ok(RenderedFile {
            path: job.path.clone(),
            text,
            template: job.template.to_string(),
            from_override,
        })
    }
}

/// Renders every file of the plan, handing each to `each` as soon as it is
/// rendered, so the whole tree never sits in memory twice.
pub fn render(
    plan: &Plan,
    templates: &Templates,
    mut each: impl FnMut(RenderedFile) -> Result<()>,
) -> Result<()> {
    for job in jobs(plan) {
        each(templates.render_job(&job)?)?;
    }
    Ok(())
}

static NO_VARIABLES: Vec<Variable> = Vec::new();

/// Every file of the plan, in order; each renders on its own.
pub fn jobs(plan: &Plan) -> Vec<Job<'_>> {
    let mut jobs = Vec::new();
    let variables = |stack: &str| plan.variables.get(stack).unwrap_or(&NO_VARIABLES);
    let groups = file_groups(&plan.objects);
    for stack in &plan.stacks {
        let stack = stack.as_str();
        let stack_groups = groups.iter().filter(|group| group.stack == stack);
        let (shared, tenants): (Vec<&Group>, Vec<&Group>) =
            stack_groups.partition(|group| group.user.is_none());
        let objects = shared.first().map_or(&[][..], |group| group.objects);
        let variables = variables(stack);
        let path = format!("{stack}/{SHARED_FILE}");
        if stack == plan.layout.ci {
            let admins = &plan.woodpecker_admins;
            jobs.push(Job::new(path, "tenantgen.tf.j2", move || {
                context! { admins, objects, variables }
            }));
        } else if !objects.is_empty() || !variables.is_empty() {
            jobs.push(Job::new(path, "tenantgen.tf.j2", move || {
                context! { objects, variables }
            }));
        }
        // What the stack holds for a tenant, from the groups the layout puts there.
        let holds: Vec<&str> = plan
            .layout
            .groups(stack)
            .into_iter()
            .map(ObjectGroup::describe)
            .collect();
        let holds = holds.join(", ");
        for group in tenants {
            let user = group.user.unwrap_or_default();
            let role = plan.roles.get(user);
            let objects = group.objects;
            let heading = match role {
                Some(role) => format!("Tenant {user} ({role}): {holds}."),
                None => format!("Tenant {user}: {holds}."),
            };
            jobs.push(Job::new(
                tenant_file(stack, user),
                "tenant.tf.j2",
                move || {
                    let tenant = context! { user, role };
                    context! { tenant, heading, objects, variables => &NO_VARIABLES }
                },
            ));
        }
        if stack == plan.layout.namespaces && !plan.lifecycle.is_empty() {
            let (lifecycle, namespace_type) = (&plan.lifecycle, plan.namespace_type);
            jobs.push(Job::new(
                format!("{stack}/{LIFECYCLE_FILE}"),
                "lifecycle.tf.j2",
                move || {
                    context! { lifecycle, namespace_type }
                },
            ));
        }
    }

    if let Some(adoption) = &plan.adoption {
        for (stack, moves) in &adoption.moves {
            if !moves.is_empty() {
                jobs.push(Job::new(
                    format!("{stack}/{ADOPT_FILE}"),
                    "adopt.tf.j2",
                    move || {
                        context! { moves }
                    },
                ));
            }
        }
    }

    for app in &plan.apps {
        let stack = format!("{app}/factory");
        let objects: Vec<&Object> = groups
            .iter()
            .filter(|group| group.stack == stack)
            .flat_map(|group| group.objects.iter())
            .collect();
        jobs.push(Job::new(
            format!("{stack}/main.tf"),
            "factory/main.tf.j2",
            move || {
                context! { app, objects, variables => &NO_VARIABLES }
            },
        ));
    }
    jobs
}

/// The template every other built-in template includes for its blocks.
const OBJECTS_TEMPLATE: &str = "objects.tf.j2";

/// A run of objects that go to one file: a stack's shared file (no user)
/// or a tenant's file.
struct Group<'a> {
    stack: &'a str,
    user: Option<&'a str>,
    objects: &'a [Object],
}

/// The plan lists objects grouped by file (checked in `plan`'s tests).
fn file_groups(objects: &[Object]) -> Vec<Group<'_>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for index in 1..=objects.len() {
        let ends = index == objects.len()
            || objects[index].stack != objects[start].stack
            || objects[index].user != objects[start].user;
        if ends {
            groups.push(Group {
                stack: &objects[start].stack,
                user: objects[start].user.as_deref(),
                objects: &objects[start..index],
            });
            start = index;
        }
    }
    groups
}

/// The `moved` blocks of an adoption, in each stack they move objects into.
pub const ADOPT_FILE: &str = "tenantgen-adopt.tf";

/// The namespaces stack's `removed` and `import` blocks for namespaces.
pub const LIFECYCLE_FILE: &str = "tenantgen-lifecycle.tf";

/// The per-tenant file of a stack.
pub fn tenant_file(stack: &str, user: &str) -> String {
    format!("{stack}/tenant-{user}.tf")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_str(source: &str, ctx: Value) -> Result<String, Error> {
        let templates = Templates::load(None).unwrap();
        templates.env.render_str(source, ctx)
    }

    #[test]
    fn values_print_as_escaped_literals() {
        let out = render_str(
            "a = {{ s }}\nb = {{ list }}\nc = {{ n }}\nd = {{ flag }}",
            context! { s => "x\"${y}", list => vec!["p", "q"], n => 3, flag => true },
        )
        .unwrap();
        assert_eq!(
            out,
            "a = \"x\\\"$${y}\"\nb = [\"p\", \"q\"]\nc = 3\nd = true"
        );
    }

    #[test]
    fn raw_names_and_expressions_are_checked() {
        assert!(render_str("{{ x|raw_name }}", context! { x => "a b" }).is_err());
        assert!(render_str("{{ x|raw_name }}", context! { x => "\"}" }).is_err());
        assert_eq!(
            render_str("{{ x|expr }}", context! { x => "var.a" }).unwrap(),
            "var.a"
        );
        assert!(render_str("{{ x|expr }}", context! { x => "var.a\nresource" }).is_err());
    }

    #[test]
    fn undefined_values_are_errors() {
        assert!(render_str("{{ missing }}", context! {}).is_err());
    }

    #[test]
    fn maps_cannot_be_printed_whole() {
        assert!(render_str("{{ m }}", context! { m => context! { a => 1 } }).is_err());
    }
}
