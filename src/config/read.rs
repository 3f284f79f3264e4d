//! From HCL text to [`Config`], every mistake a [`Problem`] at its key path.
//!
//! The HCL shape is checked on the parsed body (which keys are blocks, block
//! labels, blocks given twice, values that are expressions rather
//! than plain values) while it becomes an `hcl::Value`. serde then reads the
//! value into the types of `config/mod.rs`. serde stops at the first key it
//! rejects (unknown, wrong type, failed check), so that key is reported,
//! removed, and the value read again until it reads: one pass reports every
//! mistake.

use std::fmt::Write as _;

use anyhow::anyhow;
use hcl::{Body, Expression, Map, ObjectKey, Value};
use serde::de::IntoDeserializer;
use serde_path_to_error::Segment;

use super::Config;
use crate::names;
use crate::problem::Problem;

/// Top-level keys written `key = value`; every other top-level key is a block.
const TOP_ATTRIBUTES: [&str; 4] = ["users_file", "out", "zone", "default_apps"];

/// The blocks that take a label (a name), with an example of one; the
/// others take none.
const LABELLED_BLOCKS: [(&str, &str); 2] = [
    ("app", "app \"actualbudget\" { ... }"),
    ("addon", "addon \"sops\" { ... }"),
];

/// Reads the config, adding every mistake to `problems`; only a syntax
/// error, which leaves nothing to read, is returned as an error.
pub(super) fn read(text: &str, problems: &mut Vec<Problem>) -> anyhow::Result<Config> {
    let body = hcl::parse(text).map_err(|err| {
        anyhow!("{err}\nfix the HCL syntax; every key is described in the README's configuration reference")
    })?;
    let value = shape(&body, problems);
    let declares_apps = value.contains_key("app");
    let mut config = deserialize(value, problems);
    if !config.default_apps && !declares_apps {
        config.apps.clear();
    }
    Ok(config)
}

/// The body as a value serde can read, without what is not valid HCL for
/// the config (each reported).
fn shape(body: &Body, problems: &mut Vec<Problem>) -> Map<String, Value> {
    let mut top = attributes(body, "", problems);
    top.retain(|key, _| {
        let known = TOP_ATTRIBUTES.contains(&key.as_str());
        if !known {
            problems.push(unknown(key, "key", &TOP_ATTRIBUTES, "at the top level"));
        }
        known
    });
    let mut labelled: Map<String, Map<String, Value>> = Map::new();
    for block in body.blocks() {
        let name = block.identifier();
        if TOP_ATTRIBUTES.contains(&name) {
            problems.push(Problem::new(
                name,
                format!("is a key, not a block; write `{name} = \"...\"`"),
            ));
        } else if let Some((_, example)) = LABELLED_BLOCKS.iter().find(|(kind, _)| *kind == name) {
            let [label] = block.labels() else {
                problems.push(Problem::new(
                    name,
                    format!("needs exactly one label, its name: {example}"),
                ));
                continue;
            };
            let label = label.as_str();
            let path = format!("{name}.{label}");
            let named = labelled.entry(name.to_string()).or_default();
            if named.contains_key(label) {
                problems.push(Problem::new(path, "is configured twice; keep one block"));
                continue;
            }
            let settings = attributes(block.body(), &path, problems);
            named.insert(label.to_string(), Value::Object(settings));
        } else if !block.labels().is_empty() {
            problems.push(Problem::new(
                name,
                "is a block that takes no labels; remove them",
            ));
        } else if top.contains_key(name) {
            problems.push(Problem::new(
                name,
                "appears twice; merge the two blocks into one",
            ));
        } else {
            let section = attributes(block.body(), name, problems);
            top.insert(name.to_string(), Value::Object(section));
        }
    }
    for (name, named) in labelled {
        top.insert(name, Value::Object(named));
    }
    top
}

/// The `key = value` settings of a body at `path` (empty: the top level);
/// inside a block, nested blocks are mistakes.
fn attributes(body: &Body, path: &str, problems: &mut Vec<Problem>) -> Map<String, Value> {
    // The HCL parser already rejects a key set twice in one body.
    let mut map = Map::new();
    for attribute in body.attributes() {
        let key = attribute.key();
        match plain(attribute.expr()) {
            Some(value) => {
                map.insert(key.to_string(), value);
            }
            None => problems.push(Problem::new(
                join(path, key),
                "is not a plain value; write a quoted string, a number, true or false, or a list or map of those (expressions are not evaluated)",
            )),
        }
    }
    if !path.is_empty() {
        for block in body.blocks() {
            problems.push(Problem::new(
                join(path, block.identifier()),
                format!("is a block; `{path}` takes only key = value settings"),
            ));
        }
    }
    map
}

/// The value of a literal; `None` for null, references, templates and
/// every other expression.
fn plain(expr: &Expression) -> Option<Value> {
    Some(match expr {
        Expression::Bool(value) => Value::Bool(*value),
        Expression::Number(number) => Value::Number(*number),
        Expression::String(text) => Value::String(text.clone()),
        Expression::Array(items) => Value::Array(items.iter().map(plain).collect::<Option<_>>()?),
        Expression::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| {
                    let key = match key {
                        ObjectKey::Identifier(ident) => ident.to_string(),
                        ObjectKey::Expression(Expression::String(text)) => text.clone(),
                        _ => return None,
                    };
                    Some((key, plain(value)?))
                })
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// Reads `value` into a config; each key serde rejects is reported and
/// removed, and the rest read again.
fn deserialize(mut value: Map<String, Value>, problems: &mut Vec<Problem>) -> Config {
    loop {
        let deserializer = Value::Object(value.clone()).into_deserializer();
        let error = match serde_path_to_error::deserialize::<_, Config>(deserializer) {
            Ok(config) => return config,
            Err(error) => error,
        };
        // The key that holds the mistake: the path up to its first list index.
        let keys: Vec<&str> = error
            .path()
            .iter()
            .map_while(|segment| match segment {
                Segment::Map { key } => Some(key.as_str()),
                Segment::Seq { .. } | Segment::Enum { .. } | Segment::Unknown => None,
            })
            .collect();
        let found = problem(&path_text(error.path()), &keys, &error.inner().to_string());
        // A required key reported and removed is then missing: said once.
        if !problems.iter().any(|known| known.subject == found.subject) {
            problems.push(found);
        }
        if !remove(&mut value, &keys) {
            // The mistake is in no key: nothing smaller to read again.
            return Config::default();
        }
    }
}

fn remove(value: &mut Map<String, Value>, keys: &[&str]) -> bool {
    let Some((last, parents)) = keys.split_last() else {
        return false;
    };
    let mut map = value;
    for key in parents {
        match map.get_mut(*key) {
            Some(Value::Object(inner)) => map = inner,
            _ => return false,
        }
    }
    map.shift_remove(*last).is_some()
}

/// `dns.zone_id`, `woodpecker.static_admins[1]`.
fn path_text(path: &serde_path_to_error::Path) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Map { key } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Seq { index } => {
                let _ = write!(text, "[{index}]");
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    text
}

/// A serde error at `path` in the terms of the config file. serde's own
/// messages have fixed forms (`serde::de::Error`'s provided methods); the
/// config's checks write theirs whole.
fn problem(path: &str, keys: &[&str], message: &str) -> Problem {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // "unknown field `x`, expected one of `a`, `b`" (or "expected `a`")
        let known: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        return match keys.split_last() {
            Some((name, [])) => {
                let blocks: Vec<&str> = known
                    .into_iter()
                    .filter(|key| !TOP_ATTRIBUTES.contains(key))
                    .collect();
                unknown(name, "block", &blocks, "at the top level")
            }
            Some((_, parents)) => unknown(
                path,
                "key",
                &known,
                &format!("in block `{}`", parents.join(".")),
            ),
            None => Problem::new(path, message),
        };
    }
    if let Some(field) = message.strip_prefix("missing field `") {
        let field = field.trim_end_matches('`');
        return Problem::new(join(path, field), "is missing; this key has no default");
    }
    let mismatch = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.rsplit_once(", expected "));
    match mismatch {
        Some((found, expected)) => Problem::new(
            path,
            format!("must be {}, not {found}", in_hcl_terms(expected)),
        ),
        None => Problem::new(path, message),
    }
}

/// serde's names of the expected types, in HCL terms.
fn in_hcl_terms(expected: &str) -> &str {
    match expected {
        "a boolean" => "true or false",
        "a string" | "path string" => "a quoted string",
        "a sequence" => "a list of quoted strings, e.g. [\"a\", \"b\"]",
        "a map" => "a map such as { key = \"value\" }",
        "usize" | "u64" => "a whole number of 0 or more",
        other if other.starts_with("struct ") => "a block",
        other => other,
    }
}

fn unknown(path: &str, kind: &str, known: &[&str], place: &str) -> Problem {
    let name = path.rsplit('.').next().unwrap_or(path);
    let mut message = format!("unknown {kind}");
    if let Some(close) = names::closest(name, known.iter().copied()) {
        let _ = write!(message, "; did you mean `{close}`?");
    }
    Problem::new(path, message).hint(format!("known {kind}s {place}: {}", known.join(", ")))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
