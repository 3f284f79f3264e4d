//! A Terraform conformance checker over the provider schemas in
//! `tests/provider-schemas/`: every resource and data source type exists,
//! every attribute and block exists and is settable, required ones are
//! present, block counts and literal types fit, references name declared
//! things, module arguments match the module's variables, and Vault policy
//! documents parse.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::expr::{Expression, ObjectKey, TemplateExpr, TraversalOperator};
use hcl::{Block, Body};
use serde_json::Value;

pub struct Schemas {
    /// Provider short name → version → schema document.
    providers: BTreeMap<String, BTreeMap<String, Value>>,
}

const RESOURCE_META_ATTRIBUTES: [&str; 4] = ["count", "for_each", "provider", "depends_on"];
const LIFECYCLE_KEYS: [&str; 6] = [
    "create_before_destroy",
    "prevent_destroy",
    "ignore_changes",
    "replace_triggered_by",
    "precondition",
    "postcondition",
];
const POLICY_CAPABILITIES: [&str; 10] = [
    "create",
    "read",
    "update",
    "patch",
    "delete",
    "list",
    "sudo",
    "deny",
    "subscribe",
    "recover",
];

impl Schemas {
    pub fn load() -> Schemas {
        let dir = super::repo().join("tests/provider-schemas");
        let mut providers: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|err| {
            panic!("cannot read the schemas folder {}: {err}", dir.display())
        });
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            let document: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let source = document["provider"].as_str().unwrap();
            let name = source.rsplit('/').next().unwrap().to_string();
            let version = document["version"].as_str().unwrap().to_string();
            providers.entry(name).or_default().insert(version, document);
        }
        assert!(!providers.is_empty(), "{} holds no schema", dir.display());
        Schemas { providers }
    }

    /// Checks every directory under `root` that holds `.tf` files.
    pub fn check_tree(&self, root: &Path) -> Vec<String> {
        let mut dirs = BTreeSet::new();
        for entry in walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(Result::ok)
        {
            if entry.path().extension().is_some_and(|ext| ext == "tf") {
                dirs.insert(entry.path().parent().unwrap().to_path_buf());
            }
        }
        dirs.iter().flat_map(|dir| self.check_module(dir)).collect()
    }

    /// Checks the Terraform module (one directory) at `dir`.
    pub fn check_module(&self, dir: &Path) -> Vec<String> {
        let module = Module::read(dir);
        let mut problems = module.parse_problems.clone();
        // Versions of each provider that accept every block of this module.
        let mut candidates: BTreeMap<&str, BTreeMap<&str, Vec<String>>> = BTreeMap::new();
        for (file, block) in &module.blocks {
            let kind = block.identifier();
            if kind != "resource" && kind != "data" {
                if kind == "module" {
                    problems.extend(check_module_call(dir, file, block));
                }
                continue;
            }
            let labels: Vec<&str> = block.labels().iter().map(|label| label.as_str()).collect();
            let [type_name, name] = labels[..] else {
                problems.push(format!("{file}: {kind} block needs two labels"));
                continue;
            };
            let what = if kind == "resource" {
                "resource"
            } else {
                "data"
            };
            let prefix = format!("{file}: {what} {type_name}.{name}");
            let provider = type_name.split('_').next().unwrap();
            let Some(versions) = self.providers.get(provider) else {
                problems.push(format!("{prefix}: no provider schema for `{provider}`"));
                continue;
            };
            let collection = if kind == "resource" {
                "resources"
            } else {
                "data_sources"
            };
            for (version, document) in versions {
                let found = match document[collection].get(type_name) {
                    None => vec![format!(
                        "{prefix}: unknown {what} type (not in {provider} {version})"
                    )],
                    Some(schema) => {
                        let mut found = Vec::new();
                        check_body(block.body(), schema, &prefix, true, &mut found);
                        if type_name == "vault_policy" {
                            check_policy(block.body(), &prefix, &mut found);
                        }
                        found
                    }
                };
                candidates
                    .entry(provider_key(provider, versions.len()))
                    .or_default()
                    .entry(version.as_str())
                    .or_default()
                    .extend(found);
            }
        }
        for (_, by_version) in candidates {
            // A module must agree on one version of each provider.
            let best = by_version
                .values()
                .min_by_key(|found| found.len())
                .cloned()
                .unwrap_or_default();
            problems.extend(best);
        }
        problems.extend(module.reference_problems(self));
        problems
    }

    fn is_resource_type(&self, name: &str) -> bool {
        self.providers
            .values()
            .flat_map(|versions| versions.values())
            .any(|document| document["resources"].get(name).is_some())
    }
}

fn provider_key(provider: &str, _versions: usize) -> &str {
    provider
}

struct Module {
    /// `(file name, top-level block)`.
    blocks: Vec<(String, Block)>,
    parse_problems: Vec<String>,
}

impl Module {
    fn read(dir: &Path) -> Module {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "tf"))
            .collect();
        files.sort();
        let mut blocks = Vec::new();
        let mut parse_problems = Vec::new();
        for path in files {
            let file = path.strip_prefix(dir).unwrap().display().to_string();
            let label = format!(
                "{}/{file}",
                dir.file_name()
                    .map_or("module".into(), |name| name.to_string_lossy())
            );
            match hcl::parse(&std::fs::read_to_string(&path).unwrap()) {
                Ok(body) => {
                    for attribute in body.attributes() {
                        parse_problems.push(format!(
                            "{label}: top-level attribute `{}`",
                            attribute.key()
                        ));
                    }
                    blocks.extend(body.into_blocks().map(|block| (label.clone(), block)));
                }
                Err(err) => parse_problems.push(format!("{label}: does not parse: {err}")),
            }
        }
        Module {
            blocks,
            parse_problems,
        }
    }

    fn declared(&self, kind: &str) -> BTreeSet<String> {
        self.blocks
            .iter()
            .filter(|(_, block)| block.identifier() == kind)
            .map(|(_, block)| {
                block
                    .labels()
                    .iter()
                    .map(|label| label.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }

    fn locals(&self) -> BTreeSet<String> {
        self.blocks
            .iter()
            .filter(|(_, block)| block.identifier() == "locals")
            .flat_map(|(_, block)| {
                block
                    .body()
                    .attributes()
                    .map(|attribute| attribute.key().to_string())
            })
            .collect()
    }

    /// Every `var.x`, `local.x`, `module.x`, `data.t.n` and `type.name`
    /// reference must name something declared in the module.
    fn reference_problems(&self, schemas: &Schemas) -> Vec<String> {
        let variables = self.declared("variable");
        let locals = self.locals();
        let modules = self.declared("module");
        let resources = self.declared("resource");
        let data = self.declared("data");
        let mut problems = Vec::new();
        for (file, block) in &self.blocks {
            let mut references = Vec::new();
            if block.identifier() == "variable" {
                // `type = string` is a type constraint, not a reference.
                block
                    .body()
                    .attributes()
                    .filter(|attribute| attribute.key() != "type")
                    .for_each(|attribute| collect_references(attribute.expr(), &mut references));
            } else if block.identifier() == "moved" {
                // `from` names an address that is no longer declared.
                block
                    .body()
                    .attributes()
                    .filter(|attribute| attribute.key() == "to")
                    .for_each(|attribute| collect_references(attribute.expr(), &mut references));
            } else {
                collect_body_references(block.body(), &mut references);
            }
            for path in references {
                let ok = match path.first().map(String::as_str) {
                    Some("var") => path.get(1).is_some_and(|name| variables.contains(name)),
                    Some("local") => path.get(1).is_some_and(|name| locals.contains(name)),
                    Some("module") => path.get(1).is_some_and(|name| modules.contains(name)),
                    Some("data") => {
                        path.len() >= 3 && data.contains(&format!("{}.{}", path[1], path[2]))
                    }
                    Some("each" | "count" | "path" | "terraform" | "self") => true,
                    Some(root) if schemas.is_resource_type(root) => {
                        path.len() >= 2 && resources.contains(&format!("{root}.{}", path[1]))
                    }
                    Some(root) => {
                        problems.push(format!(
                            "{file}: bare identifier `{root}` is not a valid reference"
                        ));
                        continue;
                    }
                    None => true,
                };
                if !ok {
                    problems.push(format!(
                        "{file}: reference `{}` names nothing declared here",
                        path.join(".")
                    ));
                }
            }
        }
        problems
    }
}

fn collect_body_references(body: &Body, out: &mut Vec<Vec<String>>) {
    for attribute in body.attributes() {
        collect_references(attribute.expr(), out);
    }
    for block in body.blocks() {
        if block.identifier() == "lifecycle" {
            // `ignore_changes` names the resource's own attributes, not objects.
            for attribute in block.body().attributes() {
                if attribute.key() != "ignore_changes" {
                    collect_references(attribute.expr(), out);
                }
            }
            continue;
        }
        collect_body_references(block.body(), out);
    }
}

fn collect_references(expr: &Expression, out: &mut Vec<Vec<String>>) {
    match expr {
        Expression::Variable(variable) => out.push(vec![variable.to_string()]),
        Expression::Traversal(traversal) => {
            if let Expression::Variable(root) = &traversal.expr {
                let mut path = vec![root.to_string()];
                for operator in &traversal.operators {
                    match operator {
                        TraversalOperator::GetAttr(name) => path.push(name.to_string()),
                        TraversalOperator::Index(index) => {
                            collect_references(index, out);
                            break;
                        }
                        _ => break,
                    }
                }
                out.push(path);
            } else {
                collect_references(&traversal.expr, out);
            }
        }
        Expression::Array(items) => items.iter().for_each(|item| collect_references(item, out)),
        Expression::Object(object) => object.iter().for_each(|(key, value)| {
            if let ObjectKey::Expression(key) = key
                && !matches!(key, Expression::Variable(_))
            {
                collect_references(key, out);
            }
            collect_references(value, out);
        }),
        Expression::FuncCall(call) => call
            .args
            .iter()
            .for_each(|arg| collect_references(arg, out)),
        Expression::Parenthesis(inner) => collect_references(inner, out),
        Expression::Conditional(cond) => {
            collect_references(&cond.cond_expr, out);
            collect_references(&cond.true_expr, out);
            collect_references(&cond.false_expr, out);
        }
        Expression::Operation(operation) => match operation.as_ref() {
            hcl::expr::Operation::Unary(unary) => collect_references(&unary.expr, out),
            hcl::expr::Operation::Binary(binary) => {
                collect_references(&binary.lhs_expr, out);
                collect_references(&binary.rhs_expr, out);
            }
        },
        Expression::TemplateExpr(template) => {
            if let Ok(template) = hcl::Template::from_expr(template) {
                collect_template_references(&template, out);
            }
        }
        _ => {}
    }
}

fn collect_template_references(template: &hcl::Template, out: &mut Vec<Vec<String>>) {
    for element in template.elements() {
        if let hcl::template::Element::Interpolation(interpolation) = element {
            collect_references(&interpolation.expr, out);
        }
    }
}

/// Checks a body (resource, data source or nested block) against its schema.
fn check_body(
    body: &Body,
    schema: &Value,
    prefix: &str,
    top_level: bool,
    problems: &mut Vec<String>,
) {
    let attributes = schema["attributes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let blocks = schema["blocks"].as_object().cloned().unwrap_or_default();
    let mut present = BTreeSet::new();
    for attribute in body.attributes() {
        let key = attribute.key();
        present.insert(key.to_string());
        if top_level && RESOURCE_META_ATTRIBUTES.contains(&key) {
            continue;
        }
        match attributes.get(key) {
            Some(spec) if spec["computed"] == true => {
                problems.push(format!(
                    "{prefix}: attribute \"{key}\" is computed and cannot be set"
                ));
            }
            Some(spec) => check_value(
                attribute.expr(),
                spec,
                &format!("{prefix}: {key}"),
                problems,
            ),
            None if blocks.contains_key(key) => {
                problems.push(format!(
                    "{prefix}: \"{key}\" is a block; write `{key} {{ ... }}`"
                ));
            }
            None => problems.push(format!("{prefix}: unknown attribute \"{key}\"")),
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for block in body.blocks() {
        let id = block.identifier();
        *counts.entry(id).or_default() += 1;
        if top_level && id == "lifecycle" {
            for attribute in block.body().attributes() {
                if !LIFECYCLE_KEYS.contains(&attribute.key()) {
                    problems.push(format!(
                        "{prefix}: unknown lifecycle argument \"{}\"",
                        attribute.key()
                    ));
                }
            }
            continue;
        }
        if !block.labels().is_empty() {
            problems.push(format!("{prefix}: block \"{id}\" takes no labels"));
        }
        match (blocks.get(id), attributes.get(id)) {
            (Some(spec), _) => check_body(
                block.body(),
                spec,
                &format!("{prefix}: {id}"),
                false,
                problems,
            ),
            (None, Some(spec)) if spec["blocks_allowed"] == true => {
                let fields = serde_json::json!({"attributes": spec["attributes"], "blocks": {}});
                check_body(
                    block.body(),
                    &fields,
                    &format!("{prefix}: {id}"),
                    false,
                    problems,
                );
            }
            (None, Some(_)) => problems.push(format!(
                "{prefix}: \"{id}\" is an attribute; write `{id} = ...`"
            )),
            (None, None) => problems.push(format!("{prefix}: unknown block \"{id}\"")),
        }
    }
    for (id, count) in &counts {
        if let Some(spec) = blocks.get(*id) {
            let single = spec["nesting"] == "single";
            if single && *count > 1 {
                problems.push(format!(
                    "{prefix}: block \"{id}\" may appear once, found {count}"
                ));
            }
        }
    }
    for (name, spec) in &attributes {
        if spec["required"] == true && !present.contains(name) {
            problems.push(format!("{prefix}: missing required attribute \"{name}\""));
        }
    }
    for (name, spec) in &blocks {
        let required = spec["required"] == true || spec["min_items"].as_u64().unwrap_or(0) > 0;
        // cdktf marks single-nested blocks required only by heuristic (see the schemas README).
        let heuristic_only = spec["nesting"] == "single" && spec.get("max_items").is_none();
        if required && !heuristic_only && !counts.contains_key(name.as_str()) {
            problems.push(format!("{prefix}: missing required block \"{name}\""));
        }
    }
}

/// Checks a literal value against an attribute schema; expressions that
/// need evaluation (references, calls) are left to Terraform.
fn check_value(expr: &Expression, spec: &Value, prefix: &str, problems: &mut Vec<String>) {
    let ty = spec["type"].as_str().unwrap_or("any");
    check_typed(expr, ty, spec, prefix, problems);
}

fn check_typed(
    expr: &Expression,
    ty: &str,
    spec: &Value,
    prefix: &str,
    problems: &mut Vec<String>,
) {
    let mismatch = |problems: &mut Vec<String>, found: &str| {
        problems.push(format!("{prefix}: expected {ty}, found {found}"));
    };
    if ty == "any" {
        return;
    }
    let element = ty
        .split_once('(')
        .map(|(_, rest)| rest.strip_suffix(')').unwrap_or(rest))
        .unwrap_or("any");
    match expr {
        Expression::String(_) | Expression::TemplateExpr(_) if ty != "string" => {
            mismatch(problems, "a string")
        }
        Expression::Number(_) if ty != "number" => mismatch(problems, "a number"),
        Expression::Bool(_) if ty != "bool" => mismatch(problems, "a bool"),
        Expression::Null => {}
        Expression::Array(items) => {
            if !(ty.starts_with("list") || ty.starts_with("set")) {
                mismatch(problems, "a list");
                return;
            }
            for item in items {
                if element == "object" {
                    check_object(item, spec, prefix, problems);
                } else {
                    check_typed(item, element, spec, prefix, problems);
                }
            }
        }
        Expression::Object(object) => {
            if ty == "object" {
                check_object(expr, spec, prefix, problems);
            } else if ty.starts_with("map") {
                for value in object.values() {
                    if element == "object" {
                        check_object(value, spec, prefix, problems);
                    } else {
                        check_typed(value, element, spec, prefix, problems);
                    }
                }
            } else {
                mismatch(problems, "an object");
            }
        }
        _ => {}
    }
}

/// Checks an object literal against the fields of a struct-typed attribute.
fn check_object(expr: &Expression, spec: &Value, prefix: &str, problems: &mut Vec<String>) {
    let Expression::Object(object) = expr else {
        return;
    };
    let Some(fields) = spec["attributes"].as_object() else {
        return;
    };
    let mut present = BTreeSet::new();
    for (key, value) in object {
        let name = match key {
            ObjectKey::Identifier(ident) => ident.to_string(),
            ObjectKey::Expression(Expression::String(name)) => name.clone(),
            ObjectKey::Expression(Expression::Variable(name)) => name.to_string(),
            _ => continue,
        };
        match fields.get(&name) {
            Some(field) if field["computed"] == true => {
                problems.push(format!(
                    "{prefix}: field \"{name}\" is computed and cannot be set"
                ));
            }
            Some(field) => check_value(value, field, &format!("{prefix}.{name}"), problems),
            None => problems.push(format!("{prefix}: unknown field \"{name}\"")),
        }
        present.insert(name);
    }
    for (name, field) in fields {
        if field["required"] == true && !present.contains(name) {
            problems.push(format!("{prefix}: missing required field \"{name}\""));
        }
    }
}

/// A `vault_policy` whose policy is a literal must hold a valid policy document.
fn check_policy(body: &Body, prefix: &str, problems: &mut Vec<String>) {
    let Some(policy) = body
        .attributes()
        .find(|attribute| attribute.key() == "policy")
    else {
        return;
    };
    let text = match policy.expr() {
        Expression::String(text) => text.clone(),
        Expression::TemplateExpr(template) => match template.as_ref() {
            TemplateExpr::Heredoc(heredoc) => strip_heredoc_indent(heredoc),
            TemplateExpr::QuotedString(text) => text.clone(),
        },
        _ => return,
    };
    let document = match hcl::parse(&text) {
        Ok(document) => document,
        Err(err) => {
            problems.push(format!("{prefix}: policy document does not parse: {err}"));
            return;
        }
    };
    let mut paths = 0;
    for block in document.blocks() {
        if block.identifier() != "path" || block.labels().len() != 1 {
            problems.push(format!(
                "{prefix}: policy may only hold `path \"...\" {{}}` blocks"
            ));
            continue;
        }
        paths += 1;
        let capabilities = block
            .body()
            .attributes()
            .find(|attribute| attribute.key() == "capabilities");
        let Some(Expression::Array(items)) = capabilities.map(|attribute| attribute.expr()) else {
            problems.push(format!("{prefix}: policy path without a capabilities list"));
            continue;
        };
        for item in items {
            match item {
                Expression::String(capability)
                    if POLICY_CAPABILITIES.contains(&capability.as_str()) => {}
                other => problems.push(format!("{prefix}: unknown policy capability {other}")),
            }
        }
    }
    if paths == 0 {
        problems.push(format!("{prefix}: policy grants nothing"));
    }
}

fn strip_heredoc_indent(heredoc: &hcl::expr::Heredoc) -> String {
    let text = heredoc.template.as_str();
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|line| line.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `module` block with a local source must pass exactly declared variables.
fn check_module_call(dir: &Path, file: &str, block: &Block) -> Vec<String> {
    let name = block
        .labels()
        .first()
        .map(|label| label.as_str())
        .unwrap_or("?");
    let prefix = format!("{file}: module {name}");
    let source = block
        .body()
        .attributes()
        .find(|attribute| attribute.key() == "source");
    let Some(Expression::String(source)) = source.map(|attribute| attribute.expr()) else {
        return vec![format!("{prefix}: needs a literal source")];
    };
    if !(source.starts_with("./") || source.starts_with("../")) {
        return Vec::new();
    }
    let Ok(module_dir) = dir.join(source).canonicalize() else {
        return vec![format!("{prefix}: source {source} is not a directory")];
    };
    let module = Module::read(&module_dir);
    let mut problems = Vec::new();
    let mut required = BTreeSet::new();
    let mut declared = BTreeSet::new();
    for (_, variable) in module
        .blocks
        .iter()
        .filter(|(_, block)| block.identifier() == "variable")
    {
        let variable_name = variable.labels()[0].as_str().to_string();
        if !variable
            .body()
            .attributes()
            .any(|attribute| attribute.key() == "default")
        {
            required.insert(variable_name.clone());
        }
        declared.insert(variable_name);
    }
    let meta = [
        "source",
        "version",
        "count",
        "for_each",
        "providers",
        "depends_on",
    ];
    let mut passed = BTreeSet::new();
    for attribute in block.body().attributes() {
        let key = attribute.key();
        if meta.contains(&key) {
            continue;
        }
        if !declared.contains(key) {
            problems.push(format!(
                "{prefix}: argument \"{key}\" is not a variable of {source}"
            ));
        }
        passed.insert(key.to_string());
    }
    for missing in required.difference(&passed) {
        problems.push(format!("{prefix}: missing required variable \"{missing}\""));
    }
    problems
}
