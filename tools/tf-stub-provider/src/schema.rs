//! The provider schema files of `provider-schemas/` (see its README), read
//! into a tree the stub walks values with, and served to Terraform as the
//! real provider would serve them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value as Json;

use crate::tfplugin6 as proto;

/// A value type, as Terraform's type system (cty) has it.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Dynamic,
}

/// How a nested attribute or block repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    Single,
    List,
    Set,
    Map,
}

#[derive(Debug, Clone)]
pub struct Attribute {
    /// Set for plain attributes; nested attributes have `nested` instead.
    pub ty: Type,
    /// Nested attributes (plugin-framework objects): how they repeat and their fields.
    pub nested: Option<(Nesting, Body)>,
    pub required: bool,
    pub computed: bool,
    pub sensitive: bool,
}

impl Attribute {
    /// Set only by the provider, never in configuration.
    pub fn computed_only(&self) -> bool {
        self.computed && !self.required
    }

    /// The attribute's value type, nested attributes included.
    pub fn value_type(&self) -> Type {
        match &self.nested {
            None => self.ty.clone(),
            Some((nesting, body)) => wrap(*nesting, body.object_type()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Block {
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
    pub body: Body,
}

#[derive(Debug, Clone, Default)]
pub struct Body {
    pub attributes: BTreeMap<String, Attribute>,
    pub blocks: BTreeMap<String, Block>,
}

impl Body {
    /// The object type of one instance of this body.
    pub fn object_type(&self) -> Type {
        let mut fields: BTreeMap<String, Type> = self
            .attributes
            .iter()
            .map(|(name, attribute)| (name.clone(), attribute.value_type()))
            .collect();
        for (name, block) in &self.blocks {
            fields.insert(name.clone(), wrap(block.nesting, block.body.object_type()));
        }
        Type::Object(fields)
    }
}

fn wrap(nesting: Nesting, object: Type) -> Type {
    match nesting {
        Nesting::Single => object,
        Nesting::List => Type::List(Box::new(object)),
        Nesting::Set => Type::Set(Box::new(object)),
        Nesting::Map => Type::Map(Box::new(object)),
    }
}

/// One provider's schema file.
#[derive(Debug, Clone)]
pub struct ProviderSchema {
    /// `registry.terraform.io/hashicorp/kubernetes`
    pub source: String,
    pub version: String,
    pub provider: Body,
    pub resources: BTreeMap<String, Body>,
    pub data_sources: BTreeMap<String, Body>,
}

impl ProviderSchema {
    pub fn load(path: &Path) -> Result<ProviderSchema> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the schema file {}", path.display()))?;
        let json: Json = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let string = |key: &str| {
            json[key]
                .as_str()
                .map(String::from)
                .with_context(|| format!("{}: no {key:?}", path.display()))
        };
        let bodies = |key: &str| -> Result<BTreeMap<String, Body>> {
            let Some(map) = json[key].as_object() else {
                bail!("{}: no {key:?} object", path.display());
            };
            map.iter()
                .map(|(name, body)| {
                    Ok((
                        name.clone(),
                        body_from(body).with_context(|| format!("{key}.{name}"))?,
                    ))
                })
                .collect()
        };
        Ok(ProviderSchema {
            source: string("provider")?,
            version: string("version")?,
            provider: optional_everywhere(
                body_from(&json["provider_config"]).context("provider_config")?,
            ),
            resources: bodies("resources")?,
            data_sources: bodies("data_sources")?,
        })
    }

    /// The provider's type name, e.g. `kubernetes`.
    pub fn name(&self) -> &str {
        self.source.rsplit('/').next().unwrap_or(&self.source)
    }
}

/// The provider's own configuration, with nothing required: generated
/// stacks leave provider blocks to Terragrunt, and the real providers fill
/// a missing `address` or `host` from the environment (`VAULT_ADDR`, ...).
fn optional_everywhere(mut body: Body) -> Body {
    for attribute in body.attributes.values_mut() {
        attribute.required = false;
    }
    for block in body.blocks.values_mut() {
        block.min_items = 0;
        block.body = optional_everywhere(std::mem::take(&mut block.body));
    }
    body
}

fn body_from(json: &Json) -> Result<Body> {
    let mut body = Body::default();
    if let Some(attributes) = json["attributes"].as_object() {
        for (name, attribute) in attributes {
            body.attributes.insert(
                name.clone(),
                attribute_from(attribute).with_context(|| format!("attribute {name}"))?,
            );
        }
    }
    if let Some(blocks) = json["blocks"].as_object() {
        for (name, block) in blocks {
            body.blocks.insert(
                name.clone(),
                block_from(block).with_context(|| format!("block {name}"))?,
            );
        }
    }
    Ok(body)
}

/// The README's mapping: `single` with `max_items` 1 is a list block.
fn block_from(json: &Json) -> Result<Block> {
    let max_one = json["max_items"].as_i64() == Some(1);
    let min_items = json["min_items"].as_i64().unwrap_or(0);
    let (nesting, max_items) = match json["nesting"].as_str() {
        Some("single") if max_one => (Nesting::List, 1),
        Some("single") => (Nesting::Single, 0),
        Some("list") => (Nesting::List, 0),
        Some("set") => (Nesting::Set, 0),
        Some("map") => (Nesting::Map, 0),
        other => bail!("unknown nesting {other:?}"),
    };
    let min_items = if nesting == Nesting::Single {
        0
    } else {
        min_items
    };
    Ok(Block {
        nesting,
        min_items,
        max_items,
        body: body_from(json)?,
    })
}

fn attribute_from(json: &Json) -> Result<Attribute> {
    let type_name = json["type"].as_str().context("no type")?;
    let required = json["required"].as_bool().unwrap_or(false);
    let computed = json["computed"].as_bool().unwrap_or(false);
    let sensitive = json["sensitive"].as_bool().unwrap_or(false);
    let nested = match type_name {
        "object" => Some(Nesting::Single),
        "list(object)" => Some(Nesting::List),
        "set(object)" => Some(Nesting::Set),
        "map(object)" => Some(Nesting::Map),
        _ => None,
    };
    let (ty, nested) = match nested {
        Some(nesting) => {
            let mut fields = body_from(json)?;
            fields.blocks.clear();
            (Type::Dynamic, Some((nesting, fields)))
        }
        None => (parse_type(type_name)?, None),
    };
    Ok(Attribute {
        ty,
        nested,
        required,
        computed,
        sensitive,
    })
}

/// `string`, `list(map(string))`, `any`, ...
pub fn parse_type(text: &str) -> Result<Type> {
    let text = text.trim();
    Ok(match text {
        "string" => Type::String,
        "number" => Type::Number,
        "bool" => Type::Bool,
        "any" => Type::Dynamic,
        _ => {
            let Some((outer, rest)) = text.split_once('(') else {
                bail!("unknown type {text:?}");
            };
            let inner = rest
                .strip_suffix(')')
                .with_context(|| format!("unbalanced type {text:?}"))?;
            let inner = Box::new(parse_type(inner)?);
            match outer {
                "list" => Type::List(inner),
                "set" => Type::Set(inner),
                "map" => Type::Map(inner),
                _ => bail!("unknown type {text:?}"),
            }
        }
    })
}

/// The type as Terraform's JSON type notation, which the protocol carries.
pub fn type_json(ty: &Type) -> Json {
    match ty {
        Type::String => Json::from("string"),
        Type::Number => Json::from("number"),
        Type::Bool => Json::from("bool"),
        Type::Dynamic => Json::from("dynamic"),
        Type::List(inner) => serde_json::json!(["list", type_json(inner)]),
        Type::Set(inner) => serde_json::json!(["set", type_json(inner)]),
        Type::Map(inner) => serde_json::json!(["map", type_json(inner)]),
        Type::Object(fields) => {
            let fields: serde_json::Map<String, Json> = fields
                .iter()
                .map(|(name, ty)| (name.clone(), type_json(ty)))
                .collect();
            serde_json::json!(["object", fields])
        }
    }
}

/// The body as the protocol's schema, version 0.
pub fn to_proto(body: &Body) -> proto::Schema {
    proto::Schema {
        version: 0,
        block: Some(block_proto(body)),
    }
}

fn block_proto(body: &Body) -> proto::schema::Block {
    proto::schema::Block {
        version: 0,
        attributes: attributes_proto(body),
        block_types: body
            .blocks
            .iter()
            .map(|(name, block)| proto::schema::NestedBlock {
                type_name: name.clone(),
                block: Some(block_proto(&block.body)),
                nesting: match block.nesting {
                    Nesting::Single => proto::schema::nested_block::NestingMode::Single,
                    Nesting::List => proto::schema::nested_block::NestingMode::List,
                    Nesting::Set => proto::schema::nested_block::NestingMode::Set,
                    Nesting::Map => proto::schema::nested_block::NestingMode::Map,
                } as i32,
                min_items: block.min_items,
                max_items: block.max_items,
            })
            .collect(),
        ..Default::default()
    }
}

fn attributes_proto(body: &Body) -> Vec<proto::schema::Attribute> {
    body.attributes
        .iter()
        .map(|(name, attribute)| {
            let computed_only = attribute.computed_only();
            let (ty, nested_type) = match &attribute.nested {
                None => (type_json(&attribute.ty).to_string().into_bytes(), None),
                Some((nesting, fields)) => (
                    Vec::new(),
                    Some(proto::schema::Object {
                        attributes: attributes_proto(fields),
                        nesting: match nesting {
                            Nesting::Single => proto::schema::object::NestingMode::Single,
                            Nesting::List => proto::schema::object::NestingMode::List,
                            Nesting::Set => proto::schema::object::NestingMode::Set,
                            Nesting::Map => proto::schema::object::NestingMode::Map,
                        } as i32,
                        ..Default::default()
                    }),
                ),
            };
            proto::schema::Attribute {
                name: name.clone(),
                r#type: ty,
                nested_type,
                required: attribute.required,
                optional: !attribute.required && !computed_only,
                computed: computed_only,
                sensitive: attribute.sensitive,
                ..Default::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse() {
        assert_eq!(
            parse_type("list(map(string))").unwrap(),
            Type::List(Box::new(Type::Map(Box::new(Type::String))))
        );
        assert_eq!(
            type_json(&parse_type("set(number)").unwrap()).to_string(),
            r#"["set","number"]"#
        );
        assert!(parse_type("tuple(string)").is_err());
    }

    #[test]
    fn blocks_follow_the_readme_mapping() {
        let metadata = block_from(&serde_json::json!({"nesting": "single", "required": true, "max_items": 1, "min_items": 1, "attributes": {}, "blocks": {}})).unwrap();
        assert_eq!(
            (metadata.nesting, metadata.min_items, metadata.max_items),
            (Nesting::List, 1, 1)
        );
        let timeouts = block_from(&serde_json::json!({"nesting": "single", "required": false, "attributes": {}, "blocks": {}})).unwrap();
        assert_eq!(
            (timeouts.nesting, timeouts.min_items, timeouts.max_items),
            (Nesting::Single, 0, 0)
        );
        let subject = block_from(&serde_json::json!({"nesting": "list", "required": true, "min_items": 1, "attributes": {}, "blocks": {}})).unwrap();
        assert_eq!(
            (subject.nesting, subject.min_items, subject.max_items),
            (Nesting::List, 1, 0)
        );
    }
}
