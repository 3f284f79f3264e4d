//! What the stub does with values: plan computed attributes as unknown,
//! fill them deterministically on apply, and spot changes the real
//! provider would answer with a replacement.
//!
//! Values travel as MessagePack in cty's encoding: objects are maps keyed by
//! attribute name, lists and sets are arrays, an unknown value is extension
//! 0 (12 when refined), a value of dynamic type is `[type JSON, value]`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use rmpv::Value;
use sha2::{Digest, Sha256};

use crate::schema::{Body, Nesting, Type};

/// cty's encoding of an unknown value.
pub fn unknown() -> Value {
    Value::Ext(0, vec![0])
}

pub fn is_unknown(value: &Value) -> bool {
    matches!(value, Value::Ext(0 | 12, _))
}

pub fn decode(bytes: &[u8]) -> Result<Value> {
    if bytes.is_empty() {
        return Ok(Value::Nil);
    }
    rmpv::decode::read_value(&mut &bytes[..]).context("cannot decode a MessagePack value")
}

pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    match object {
        Value::Map(entries) => entries
            .iter()
            .find(|(key, _)| key.as_str() == Some(name))
            .map(|(_, value)| value),
        _ => None,
    }
}

fn field_mut<'a>(object: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    match object {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|(key, _)| key.as_str() == Some(name))
            .map(|(_, value)| value),
        _ => None,
    }
}

/// The elements of a nested collection value, whatever its nesting.
fn elements_mut(nesting: Nesting, value: &mut Value) -> Vec<&mut Value> {
    match (nesting, value) {
        (_, Value::Nil) => Vec::new(),
        (Nesting::Single, value) => vec![value],
        (Nesting::List | Nesting::Set, Value::Array(items)) => items.iter_mut().collect(),
        (Nesting::Map, Value::Map(entries)) => entries.iter_mut().map(|(_, value)| value).collect(),
        _ => Vec::new(),
    }
}

/// Plans a new object: every computed-only attribute the configuration
/// leaves null becomes unknown, as a real provider leaves it to apply.
pub fn plan_computed(body: &Body, object: &mut Value) {
    if !matches!(object, Value::Map(_)) {
        return;
    }
    for (name, attribute) in &body.attributes {
        let Some(value) = field_mut(object, name) else {
            continue;
        };
        if attribute.computed_only() && matches!(value, Value::Nil) {
            *value = unknown();
        } else if let Some((nesting, fields)) = &attribute.nested {
            for element in elements_mut(*nesting, value) {
                plan_computed(fields, element);
            }
        }
    }
    for (name, block) in &body.blocks {
        if let Some(value) = field_mut(object, name) {
            for element in elements_mut(block.nesting, value) {
                plan_computed(&block.body, element);
            }
        }
    }
}

/// Replaces every unknown value with a deterministic known one, as apply
/// does: the same planned object always gets the same ids.
pub fn fill_unknowns(body: &Body, object: &mut Value, seed: &str) {
    if !matches!(object, Value::Map(_)) {
        return;
    }
    for (name, attribute) in &body.attributes {
        let Some(value) = field_mut(object, name) else {
            continue;
        };
        let seed = format!("{seed}.{name}");
        if is_unknown(value) {
            *value = known_value(&attribute.value_type(), &seed);
        } else if let Some((nesting, fields)) = &attribute.nested {
            for (index, element) in elements_mut(*nesting, value).into_iter().enumerate() {
                fill_unknowns(fields, element, &format!("{seed}[{index}]"));
            }
        } else {
            fill_nested_unknowns(&attribute.ty, value, &seed);
        }
    }
    for (name, block) in &body.blocks {
        if let Some(value) = field_mut(object, name) {
            for (index, element) in elements_mut(block.nesting, value).into_iter().enumerate() {
                fill_unknowns(&block.body, element, &format!("{seed}.{name}[{index}]"));
            }
        }
    }
}

/// Unknowns inside a known collection of a plain attribute.
fn fill_nested_unknowns(ty: &Type, value: &mut Value, seed: &str) {
    match (ty, value) {
        (Type::List(inner) | Type::Set(inner), Value::Array(items)) => {
            for (index, item) in items.iter_mut().enumerate() {
                let seed = format!("{seed}[{index}]");
                if is_unknown(item) {
                    *item = known_value(inner, &seed);
                } else {
                    fill_nested_unknowns(inner, item, &seed);
                }
            }
        }
        (Type::Map(inner), Value::Map(entries)) => {
            for (key, item) in entries.iter_mut() {
                let seed = format!("{seed}[{key}]");
                if is_unknown(item) {
                    *item = known_value(inner, &seed);
                } else {
                    fill_nested_unknowns(inner, item, &seed);
                }
            }
        }
        (Type::Object(fields), object @ Value::Map(_)) => {
            for (name, ty) in fields {
                if let Some(item) = field_mut(object, name) {
                    let seed = format!("{seed}.{name}");
                    if is_unknown(item) {
                        *item = known_value(ty, &seed);
                    } else {
                        fill_nested_unknowns(ty, item, &seed);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A known value of `ty`, derived from `seed` alone.
fn known_value(ty: &Type, seed: &str) -> Value {
    match ty {
        Type::String => {
            let digest = Sha256::digest(seed.as_bytes());
            let hex: String = digest[..8]
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            Value::from(format!("stub-{hex}"))
        }
        Type::Number => Value::from(0),
        Type::Bool => Value::from(false),
        Type::List(_) | Type::Set(_) => Value::Array(Vec::new()),
        Type::Map(_) => Value::Map(Vec::new()),
        Type::Object(fields) => Value::Map(
            fields
                .iter()
                .map(|(name, ty)| {
                    (
                        Value::from(name.as_str()),
                        known_value(ty, &format!("{seed}.{name}")),
                    )
                })
                .collect(),
        ),
        // A dynamic value carries its type: `[type JSON, value]`.
        Type::Dynamic => Value::Array(vec![Value::Binary(b"\"string\"".to_vec()), Value::from("")]),
    }
}

/// Attributes whose change the real provider answers with a replacement.
/// Schemas do not say which attributes are force-new, so this follows what
/// the providers do for the objects tenantgen generates.
pub fn force_new_paths(resource_type: &str, body: &Body) -> Vec<Vec<PathStep>> {
    let attribute = |name: &str| vec![PathStep::Attribute(name.to_string())];
    let metadata = |name: &str| {
        vec![
            PathStep::Attribute("metadata".into()),
            PathStep::Index(0),
            PathStep::Attribute(name.into()),
        ]
    };
    let mut paths = Vec::new();
    if resource_type.starts_with("kubernetes_") && body.blocks.contains_key("metadata") {
        paths.push(metadata("name"));
        paths.push(metadata("namespace"));
    }
    match resource_type {
        "vault_policy" | "vault_identity_entity" => paths.push(attribute("name")),
        "vault_kubernetes_auth_backend_role" => paths.push(attribute("role_name")),
        // The role lives at <backend>/roles/<name>.
        "vault_kubernetes_secret_backend_role" => {
            paths.push(attribute("name"));
            paths.push(attribute("backend"));
        }
        "cloudflare_record" | "cloudflare_dns_record" => {
            paths.push(attribute("name"));
            paths.push(attribute("zone_id"));
        }
        _ => {}
    }
    paths
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Attribute(String),
    Index(usize),
}

/// The value at `path`, or `None` when some step is missing.
pub fn at<'a>(value: &'a Value, path: &[PathStep]) -> Option<&'a Value> {
    let mut current = value;
    for step in path {
        current = match (step, current) {
            (PathStep::Attribute(name), object) => field(object, name)?,
            (PathStep::Index(index), Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The force-new paths whose value differs between prior and proposed.
pub fn replacement_paths(
    resource_type: &str,
    body: &Body,
    prior: &Value,
    proposed: &Value,
) -> Vec<Vec<PathStep>> {
    force_new_paths(resource_type, body)
        .into_iter()
        .filter(|path| at(prior, path) != at(proposed, path))
        .collect()
}

/// Import: an object holding only the id, plus the name the id carries for
/// the objects whose import id is their name (Kubernetes `namespace/name`
/// or `name`, and resources with a top-level `name`).
pub fn imported(resource_type: &str, body: &Body, id: &str) -> Value {
    let mut fields: BTreeMap<String, Value> = body
        .attributes
        .keys()
        .map(|name| (name.clone(), Value::Nil))
        .collect();
    for (name, block) in &body.blocks {
        let empty = match block.nesting {
            Nesting::Single => Value::Nil,
            Nesting::Map => Value::Map(Vec::new()),
            Nesting::List | Nesting::Set => Value::Array(Vec::new()),
        };
        fields.insert(name.clone(), empty);
    }
    fields.insert("id".into(), Value::from(id));
    if resource_type.starts_with("kubernetes_")
        && let Some(metadata) = body.blocks.get("metadata")
    {
        let (namespace, name) = match id.split_once('/') {
            Some((namespace, name)) => (Value::from(namespace), Value::from(name)),
            None => (Value::Nil, Value::from(id)),
        };
        let mut object: BTreeMap<String, Value> = metadata
            .body
            .attributes
            .keys()
            .map(|key| (key.clone(), Value::Nil))
            .collect();
        object.insert("name".into(), name);
        if metadata.body.attributes.contains_key("namespace") {
            object.insert("namespace".into(), namespace);
        }
        fields.insert("metadata".into(), Value::Array(vec![map(object)]));
    } else if body
        .attributes
        .get("name")
        .is_some_and(|name| !name.computed_only())
    {
        fields.insert("name".into(), Value::from(id));
    }
    map(fields)
}

fn map(fields: BTreeMap<String, Value>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(name, value)| (Value::from(name), value))
            .collect(),
    )
}

/// The seed a resource's generated ids derive from.
pub fn seed(resource_type: &str, planned: &Value) -> String {
    let digest = Sha256::digest(encode(planned));
    let hex: String = digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{resource_type}:{hex}")
}
