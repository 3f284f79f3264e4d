//! Add-on templates (README, "Add-on templates"): the operator's own
//! templates, rendered per user, per namespace or once into a stack of
//! their choice, for the extras of a deployment that tenantgen has no kind
//! for. They render in the built-in templates' environment
//! ([`render::environment`]), so values print as escaped HCL literals, and
//! their files go through the same pipeline (header, formatter, ownership,
//! render record). What they declare is checked against the plan before
//! anything is written ([`check`]).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Result, anyhow};
use minijinja::Value;
use minijinja::context;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::config::{AddonConfig, AddonScope, Config};
use crate::escape;
use crate::model::{Tenants, User};
use crate::plan::{Object, Plan, Spec};
use crate::problem::{Problem, Problems};
use crate::render::{self, Job, RenderedFile, Templates};
use crate::source::Bounded;
use crate::verify::{self, GeneratedFile};

/// Most characters of minijinja's message quoted in an error: it may quote
/// the template, which could be any file (README, "Running check on pull
/// requests").
const MAX_MESSAGE_CHARS: usize = 200;

/// Reads and compiles every add-on's template, its path resolved inside the
/// repository (`base`, [`crate::repo`]), keeping its text in the config;
/// each failure is a problem at `addon.<name>.template`.
pub fn load_templates(addons: &mut BTreeMap<String, AddonConfig>, base: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (name, addon) in addons.iter_mut() {
        let subject = format!("addon.{name}.template");
        let read = crate::repo::inside(base, &addon.template).and_then(|path| {
            addon.template = path;
            read_template(&addon.template)
        });
        match read {
            Ok(source) => {
                let mut env = render::environment();
                match env.add_template_owned(template_name(addon), source.clone()) {
                    Ok(()) => addon.source = source,
                    Err(err) => problems.push(Problem::new(
                        subject,
                        format!(
                            "{} does not compile: {}; fix its template syntax",
                            addon.template.display(),
                            minijinja_message(&err)
                        ),
                    )),
                }
            }
            Err(message) => problems.push(Problem::new(subject, message)),
        }
    }
    problems
}

fn read_template(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let cannot = |err: std::io::Error| {
        format!("cannot read {shown}: {err}; give the template's path relative to the config file")
    };
    match crate::source::read_regular(path, render::MAX_TEMPLATE_BYTES).map_err(cannot)? {
        Bounded::Read(bytes) => {
            String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))
        }
        Bounded::NotRegular(kind) => Err(format!(
            "{shown} is {kind}, not a regular file; name the template file"
        )),
        Bounded::TooLarge(_) => Err(format!(
            "{shown} holds more than 1 MiB, so it is not a template; check the path"
        )),
    }
}

/// minijinja's message with its causes, on one line: what it quotes of the
/// template cut short and with control characters escaped, then where.
pub(crate) fn minijinja_message(err: &minijinja::Error) -> String {
    let mut message = match err.detail() {
        Some(detail) => format!("{}: {}", err.kind(), excerpt(detail)),
        None => err.kind().to_string(),
    };
    if let Some(name) = err.name() {
        let line = err.line().unwrap_or(0);
        message.push_str(&format!(" (in {}:{line})", escaped(name)));
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&excerpt(&cause.to_string()));
        source = cause.source();
    }
    message
}

/// At most [`MAX_MESSAGE_CHARS`] of `text`, escaped.
fn excerpt(text: &str) -> String {
    let mut shown: String = escaped(&text.chars().take(MAX_MESSAGE_CHARS).collect::<String>());
    if text.chars().nth(MAX_MESSAGE_CHARS).is_some() {
        shown.push_str("...");
    }
    shown
}

/// Control and bidirectional-override characters as `\u{..}` escapes.
fn escaped(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let hidden = c.is_control()
                || matches!(c, '\u{200e}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            let escaped: Vec<char> = if hidden {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// The add-on's template in the environment: its file, which errors name.
fn template_name(addon: &AddonConfig) -> String {
    addon.template.display().to_string()
}

/// The template that renders a per-namespace add-on once for each of the
/// user's namespaces, one after the other.
fn namespaces_template_name(addon: &AddonConfig) -> String {
    format!("{} (once per namespace)", template_name(addon))
}

/// Adds every add-on's template to the environment of the built-in ones.
pub fn register(templates: &mut Templates, config: &Config) -> Result<()> {
    for addon in config.addons.values() {
        let compiled = |err: minijinja::Error| {
            anyhow!(
                "add-on template {} does not compile: {}",
                addon.template.display(),
                minijinja_message(&err)
            )
        };
        templates
            .add_addon(template_name(addon), addon.source.clone())
            .map_err(compiled)?;
        if addon.scope == AddonScope::Namespace {
            // `include` renders the add-on with this template's context, the
            // loop's `namespace` included. Its output has lost its last
            // newline, and trim_blocks takes the first one after the tag: a
            // blank line is left between renderings (the formatter drops
            // the one after the last).
            let each = format!(
                "{{% for namespace in user.namespaces %}}{{% include {:?} %}}\n\n\n{{% endfor %}}",
                template_name(addon)
            );
            templates
                .add_addon(namespaces_template_name(addon), each)
                .map_err(compiled)?;
        }
    }
    Ok(())
}

/// A user as add-on templates see them.
#[derive(Serialize)]
struct UserContext<'a> {
    name: &'a str,
    role: &'static str,
    email: &'a str,
    namespaces: &'a [String],
    domains: &'a [String],
    /// By the short names of `quota_defaults`, every entry filled in.
    quota: BTreeMap<&'static str, &'a str>,
    apps: &'a [String],
}

fn user_value(user: &User) -> Value {
    Value::from_serialize(UserContext {
        name: &user.name,
        role: user.role.as_str(),
        email: &user.email,
        namespaces: &user.namespaces,
        domains: &user.domains,
        quota: user
            .quota
            .iter()
            .map(|(key, value)| (key.name(), value.as_str()))
            .collect(),
        apps: &user.apps,
    })
}

/// The file of `user`'s rendering of add-on `name` in `stack`.
fn user_file(stack: &str, name: &str, user: &str) -> String {
    format!("{stack}/addon-{name}-{user}.tf")
}

/// The file of a per-stack add-on.
fn stack_file(stack: &str, name: &str) -> String {
    format!("{stack}/addon-{name}.tf")
}

/// Every add-on file `tenants` make: path → (add-on, the user it is
/// rendered for).
pub fn owners(config: &Config, tenants: &Tenants) -> BTreeMap<String, (String, Option<String>)> {
    let mut owners = BTreeMap::new();
    for (name, addon) in &config.addons {
        match addon.scope {
            AddonScope::Stack => {
                owners.insert(stack_file(&addon.stack, name), (name.clone(), None));
            }
            AddonScope::User | AddonScope::Namespace => {
                for user in tenants.users.iter().filter(|user| addon.covers(user.role)) {
                    owners.insert(
                        user_file(&addon.stack, name, &user.name),
                        (name.clone(), Some(user.name.clone())),
                    );
                }
            }
        }
    }
    owners
}

/// Every add-on file to render, add-on by add-on, user by user.
pub fn jobs<'a>(config: &'a Config, tenants: &'a Tenants) -> Vec<Job<'a>> {
    let zone = config.zone.as_str();
    let mut jobs = Vec::new();
    for (name, addon) in &config.addons {
        let covered = move || tenants.users.iter().filter(|user| addon.covers(user.role));
        match addon.scope {
            AddonScope::Stack => {
                jobs.push(Job::new(
                    stack_file(&addon.stack, name),
                    template_name(addon),
                    move || {
                        let users: Vec<Value> = covered().map(user_value).collect();
                        context! { users, zone }
                    },
                ));
            }
            AddonScope::User | AddonScope::Namespace => {
                let template = match addon.scope {
                    AddonScope::Namespace => namespaces_template_name(addon),
                    _ => template_name(addon),
                };
                for user in covered() {
                    jobs.push(Job::new(
                        user_file(&addon.stack, name, &user.name),
                        template.clone(),
                        move || {
                            let user = user_value(user);
                            context! { user, zone }
                        },
                    ));
                }
            }
        }
    }
    jobs
}

/// What an add-on file declares, for [`check`].
#[derive(Debug, Clone)]
pub struct Declared {
    path: String,
    stack: String,
    /// `type.name`, `data.type.name`, `module.name`, `var.name`,
    /// `output.name` and `local.name`: what a stack may declare once.
    addresses: Vec<String>,
    moves: Vec<Move>,
    /// `import` blocks: where each imports to, and the block that holds it.
    imports: Vec<(String, Option<String>)>,
    /// `removed` blocks: the address each makes Terraform forget.
    removals: Vec<(String, Option<String>)>,
    /// Blocks [`check`] refuses: `provider` and `terraform` settings, and
    /// what runs programs or fetches addresses when Terraform plans or
    /// applies (`data "external"`, `data "http"`, provisioners).
    settings: Vec<String>,
}

#[derive(Debug, Clone)]
struct Move {
    from: String,
    to: String,
    /// The resource or module `to` falls in, `type.name` or `module.name`.
    to_block: Option<String>,
}

impl Declared {
    /// Nothing declared yet by the file at `path`, in its stack.
    fn new(path: &str) -> Declared {
        Declared {
            path: path.to_string(),
            stack: path
                .rsplit_once('/')
                .map_or("", |(stack, _)| stack)
                .to_string(),
            addresses: Vec::new(),
            moves: Vec::new(),
            imports: Vec::new(),
            removals: Vec::new(),
            settings: Vec::new(),
        }
    }
}

/// Formats and stamps a rendered add-on file like any other, and reads what
/// it declares; `None` when its body is empty (no file is written).
pub fn verify(rendered: RenderedFile) -> Result<Option<(GeneratedFile, Declared)>> {
    if rendered.text.trim().is_empty() {
        return Ok(None);
    }
    let body = hcl::parse(&rendered.text).map_err(|err| {
        anyhow!(
            "add-on template {} made {}, which is not valid HCL: {}\nfix the template; `tenantgen render` prints values as HCL literals, so write `{{{{ value }}}}` without quotes around it",
            rendered.template,
            rendered.path,
            // The parser quotes the line, which may be long: cut short.
            excerpt(&err.to_string())
        )
    })?;
    let mut declared = Declared::new(&rendered.path);
    for block in body.blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|label| label.as_str()).collect();
        let end = |key: &str| {
            block
                .body()
                .attributes()
                .find(|attribute| attribute.key() == key)
                .map(|attribute| attribute.expr())
        };
        let missing = |what: &str| {
            anyhow!(
                "{}: {what}; fix add-on template {}",
                rendered.path,
                rendered.template
            )
        };
        if let Some(refused) = refused_block(block, &labels) {
            declared.settings.push(refused);
        }
        match (block.identifier(), labels.as_slice()) {
            ("resource", [kind, name]) => declared.addresses.push(format!("{kind}.{name}")),
            ("data", [kind, name]) => declared.addresses.push(format!("data.{kind}.{name}")),
            ("module", [name]) => declared.addresses.push(format!("module.{name}")),
            ("variable", [name]) => declared.addresses.push(format!("var.{name}")),
            ("output", [name]) => declared.addresses.push(format!("output.{name}")),
            ("locals", []) => declared.addresses.extend(
                block
                    .body()
                    .attributes()
                    .map(|attribute| format!("local.{}", attribute.key())),
            ),
            ("moved", []) => {
                let (Some(from), Some(to)) = (end("from"), end("to")) else {
                    return Err(missing("a moved block needs both `from` and `to`"));
                };
                declared.moves.push(Move {
                    from: address_text(from),
                    to: address_text(to),
                    to_block: block_of(to),
                });
            }
            ("import", []) => {
                let to = end("to").ok_or_else(|| missing("an import block needs `to`"))?;
                declared.imports.push((address_text(to), block_of(to)));
            }
            ("removed", []) => {
                let from = end("from").ok_or_else(|| missing("a removed block needs `from`"))?;
                declared.removals.push((address_text(from), block_of(from)));
            }
            _ => {}
        }
    }
    Ok(Some((verify::verify(rendered)?, declared)))
}

/// What an add-on may not declare: settings of the stack, and anything that
/// runs a program or reaches an address with the credentials of whoever
/// runs Terraform (CI plans a pull request's files).
fn refused_block(block: &hcl::Block, labels: &[&str]) -> Option<String> {
    match (block.identifier(), labels) {
        ("provider" | "terraform", _) => Some(block.identifier().to_string()),
        ("data", [kind @ ("external" | "http"), _]) => Some(format!("data \"{kind}\"")),
        // A `check` block's scoped data sources run at plan time too.
        ("check", _) => block.body().blocks().find_map(|inner| {
            let labels: Vec<&str> = inner.labels().iter().map(|label| label.as_str()).collect();
            refused_block(inner, &labels).map(|refused| format!("{refused} block in a check"))
        }),
        ("resource", [kind, _]) => block
            .body()
            .blocks()
            .find(|inner| matches!(inner.identifier(), "provisioner" | "connection"))
            .map(|inner| format!("{} block in resource {kind}", inner.identifier())),
        _ => None,
    }
}

/// An address as one string, keys quoted the way `moved` blocks of the
/// built-in templates write them.
fn address_text(expr: &hcl::Expression) -> String {
    let hcl::Expression::Traversal(traversal) = expr else {
        return expr.to_string();
    };
    let mut text = traversal.expr.to_string();
    for operator in &traversal.operators {
        match operator {
            hcl::TraversalOperator::GetAttr(name) => {
                text.push('.');
                text.push_str(name.as_str());
            }
            hcl::TraversalOperator::Index(hcl::Expression::String(key)) => {
                text.push('[');
                escape::push_quoted(&mut text, key);
                text.push(']');
            }
            hcl::TraversalOperator::Index(key) => text.push_str(&format!("[{key}]")),
            hcl::TraversalOperator::LegacyIndex(index) => text.push_str(&format!("[{index}]")),
            hcl::TraversalOperator::AttrSplat | hcl::TraversalOperator::FullSplat => {
                text.push_str("[*]")
            }
        }
    }
    text
}

/// The resource or module block an address is in: `module.a` of
/// `module.a["x"].b.c`, `type.name` of `type.name["key"]`.
fn block_of(expr: &hcl::Expression) -> Option<String> {
    let hcl::Expression::Traversal(traversal) = expr else {
        return None;
    };
    let hcl::Expression::Variable(root) = &traversal.expr else {
        return None;
    };
    let hcl::TraversalOperator::GetAttr(name) = traversal.operators.first()? else {
        return None;
    };
    Some(format!("{}.{}", root.as_str(), name.as_str()))
}

/// The file a built-in object is rendered into (src/render.rs `jobs`).
fn builtin_file(object: &Object) -> String {
    let stack = &*object.stack;
    if matches!(object.spec, Spec::AppInstance { .. }) {
        format!("{stack}/main.tf")
    } else if let Some(user) = &object.user {
        render::tenant_file(stack, user)
    } else {
        format!("{stack}/{}", render::SHARED_FILE)
    }
}

/// The plan-wide check of add-on files: every address they declare is
/// unique in its stack, among add-on files and tenantgen's own objects and
/// variables, and
/// every `moved` block moves to an address its own file declares, from an
/// address no other `moved` block in the stack names.
pub fn check(plan: &Plan, mut files: Vec<Declared>) -> Result<(), Problems> {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut problems = Vec::new();
    // (stack, address) → the file that declares it.
    let mut owners: FxHashMap<(&str, &str), &str> = FxHashMap::default();
    for file in &files {
        for address in &file.addresses {
            match owners.entry((&file.stack, address)) {
                Entry::Occupied(other) => {
                    problems.push(clash(&file.path, address, other.get(), "add-on file"));
                }
                Entry::Vacant(entry) => {
                    entry.insert(&file.path);
                }
            }
        }
    }
    if !owners.is_empty() {
        for object in &plan.objects {
            let address = object.address();
            if let Some(file) = owners.get(&(&*object.stack, address.as_str())) {
                let generated = builtin_file(object);
                problems.push(clash(file, &address, &generated, "tenantgen file"));
            }
        }
        for (stack, variables) in &plan.variables {
            for variable in variables {
                let address = format!("var.{}", variable.name);
                if let Some(file) = owners.get(&(stack.as_str(), address.as_str())) {
                    let generated = format!("{stack}/{}", render::SHARED_FILE);
                    problems.push(clash(file, &address, &generated, "tenantgen file"));
                }
            }
        }
    }
    check_blocks(plan, &files, &owners, &mut problems);
    // (stack, from) → the file of the `moved` block; tenantgen's adoption first.
    let mut moved_from: FxHashMap<(String, String), String> = FxHashMap::default();
    let moves = files.iter().any(|file| !file.moves.is_empty());
    if let (true, Some(adoption)) = (moves, &plan.adoption) {
        for (stack, moved) in adoption.moves() {
            let from = format!("{}[{}]", moved.from, escape::quoted(&moved.key));
            moved_from.insert(
                (stack.to_string(), from),
                format!("{stack}/{}", render::ADOPT_FILE),
            );
        }
    }
    for file in &files {
        for moved in &file.moves {
            let declared = moved
                .to_block
                .as_ref()
                .is_some_and(|block| file.addresses.contains(block));
            if !declared {
                problems.push(
                    Problem::new(
                        &file.path,
                        format!(
                            "moved block to {}, which this file does not declare",
                            moved.to
                        ),
                    )
                    .hint("an add-on's `moved` blocks may only move objects into addresses its own template declares"),
                );
            }
            let key = (file.stack.clone(), moved.from.clone());
            if let Some(other) = moved_from.get(&key) {
                problems.push(Problem::new(
                    &file.path,
                    format!(
                        "moved block from {}, which {other} moves too; Terraform refuses two moves of one address",
                        moved.from
                    ),
                ));
            } else {
                moved_from.insert(key, file.path.clone());
            }
        }
    }
    Problems::new("the add-on templates", problems)
        .hint("nothing was written; change the add-on templates or their config so that every address is declared once per stack")
        .into_result()
}

/// An add-on's `import`, `removed`, `provider` and `terraform` blocks:
/// an import lands only in its own file's addresses; a removal never makes
/// Terraform forget (and so keep on the server) an object of a type
/// tenantgen generates or another file's; and provider or backend settings
/// are the stack's, not an add-on's, since they would re-point tenantgen's
/// own objects or send the state elsewhere.
fn check_blocks(
    plan: &Plan,
    files: &[Declared],
    owners: &FxHashMap<(&str, &str), &str>,
    problems: &mut Vec<Problem>,
) {
    let generated: BTreeSet<&str> = plan
        .objects
        .iter()
        .map(|object| object.resource_type)
        .filter(|kind| *kind != "module")
        .collect();
    let modules: BTreeSet<(&str, String)> = plan
        .objects
        .iter()
        .filter(|object| object.resource_type == "module")
        .map(|object| (&*object.stack, object.address()))
        .collect();
    for file in files {
        for (to, block) in &file.imports {
            if !block
                .as_ref()
                .is_some_and(|block| file.addresses.contains(block))
            {
                problems.push(
                    Problem::new(
                        &file.path,
                        format!("import block to {to}, which this file does not declare"),
                    )
                    .hint("an add-on's `import` blocks may only import into addresses its own template declares"),
                );
            }
        }
        for (from, block) in &file.removals {
            let block = block.as_deref().unwrap_or(from);
            let kind = block.split('.').next().unwrap_or_default();
            let whose = if generated.contains(kind) {
                Some(format!("tenantgen generates {kind} resources"))
            } else if modules.contains(&(file.stack.as_str(), block.to_string())) {
                Some("tenantgen declares that module".to_string())
            } else {
                owners
                    .get(&(file.stack.as_str(), block))
                    .filter(|owner| **owner != file.path)
                    .map(|owner| format!("add-on file {owner} declares it"))
            };
            if let Some(whose) = whose {
                problems.push(
                    Problem::new(&file.path, format!("removed block from {from}: {whose}"))
                        .hint("an add-on's `removed` blocks may only forget objects of types tenantgen does not generate, and no other file's; a forgotten object stays on the server with whatever access it grants"),
                );
            }
        }
        for setting in &file.settings {
            problems.push(
                Problem::new(&file.path, format!("declares a {setting} block"))
                    .hint("provider, backend and required_providers settings belong to the stack, in a hand-written file beside the generated ones; in an add-on they could re-point tenantgen's own objects or send the state elsewhere; programs and fetches (data \"external\", data \"http\", provisioners) would run with the credentials of whoever runs Terraform"),
            );
        }
    }
}

fn clash(path: &str, address: &str, other: &str, what: &str) -> Problem {
    Problem::new(
        path,
        format!("declares {address}, which {what} {other} declares too in the same stack"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> hcl::Expression {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_read_as_the_built_in_moved_blocks_write_them() {
        assert_eq!(
            address_text(&parsed(r#"module.rbac.kubernetes_role_binding.x["a-b"]"#)),
            r#"module.rbac.kubernetes_role_binding.x["a-b"]"#
        );
        assert_eq!(
            address_text(&parsed("vault_policy.p[0]")),
            "vault_policy.p[0]"
        );
    }

    #[test]
    fn a_move_lands_in_its_resource_or_module() {
        let block = |text: &str| block_of(&parsed(text));
        assert_eq!(block("vault_policy.p"), Some("vault_policy.p".into()));
        assert_eq!(
            block(r#"vault_policy.p["k"]"#),
            Some("vault_policy.p".into())
        );
        assert_eq!(
            block(r#"module.m["k"].vault_policy.p"#),
            Some("module.m".into())
        );
        assert_eq!(block("\"vault_policy.p\""), None);
    }
}
