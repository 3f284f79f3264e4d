//! The values of rendered HCL that the access reader takes as data:
//! literal strings and lists, `type.name` references, a role's rules and a
//! Vault policy's paths. Anything else is `None`, which the reader lists as
//! unknown.

use hcl::{Block, Body, Expression, TraversalOperator};

use crate::config::RbacRule;

/// A role's rules; `None` when they are not literal.
pub type Rules = Option<Vec<RbacRule>>;
/// A policy's (path, capabilities); `None` when its text is not literal.
pub type PolicyRules = Option<Vec<(String, Vec<String>)>>;

pub fn attribute<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes()
        .find(|attribute| attribute.key() == key)
        .map(|attribute| attribute.expr())
}

pub fn block<'a>(body: &'a Body, name: &str) -> Option<&'a Body> {
    body.blocks()
        .find(|inner| inner.identifier() == name)
        .map(Block::body)
}

/// A string written as a literal (quoted or heredoc, no interpolation).
pub fn literal(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(text) => Some(text.clone()),
        Expression::TemplateExpr(template) => {
            let template = hcl::Template::from_expr(template).ok()?;
            let mut text = String::new();
            for element in template.elements() {
                let hcl::template::Element::Literal(part) = element else {
                    return None;
                };
                text.push_str(part);
            }
            Some(text)
        }
        _ => None,
    }
}

pub fn strings(expr: &Expression) -> Option<Vec<String>> {
    let Expression::Array(items) = expr else {
        return None;
    };
    items.iter().map(literal).collect()
}

/// `type.name` of a reference like `vault_policy.x.name` or `vault_identity_entity.x.id`.
pub fn reference(expr: &Expression) -> Option<(String, String)> {
    let Expression::Traversal(traversal) = expr else {
        return None;
    };
    let Expression::Variable(kind) = &traversal.expr else {
        return None;
    };
    let TraversalOperator::GetAttr(tf) = traversal.operators.first()? else {
        return None;
    };
    Some((kind.as_str().to_string(), tf.as_str().to_string()))
}

/// A role's `rule` blocks; `None` when any is not literal or the role
/// aggregates others.
pub fn role_rules(body: &Body) -> Rules {
    if block(body, "aggregation_rule").is_some() {
        return None;
    }
    let mut rules = Vec::new();
    for rule in body.blocks() {
        match rule.identifier() {
            "rule" => {
                let list = |key: &str| match attribute(rule.body(), key) {
                    Some(expr) => strings(expr),
                    None => Some(Vec::new()),
                };
                rules.push(RbacRule {
                    api_groups: list("api_groups")?,
                    resources: list("resources")?,
                    verbs: list("verbs")?,
                });
            }
            "metadata" => {}
            _ => return None,
        }
    }
    Some(rules)
}

/// Keys of a Vault policy's path that only narrow what `capabilities` grant.
const RESTRICTING: [&str; 5] = [
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
];

/// A Vault policy text's `path` blocks: (path, capabilities); `None` when
/// any part is not understood.
pub fn policy_rules(policy: &Expression) -> PolicyRules {
    let text = literal(policy)?;
    let body = hcl::parse(&text).ok()?;
    let mut rules = Vec::new();
    for structure in body.iter() {
        let hcl::Structure::Block(path) = structure else {
            return None;
        };
        let [label] = path.labels() else {
            return None;
        };
        if path.identifier() != "path" {
            return None;
        }
        // Vault reads keys case-insensitively and adds capabilities for
        // the legacy `policy = "sudo"` (and "read", "write"): only keys
        // that grant nothing beyond `capabilities`, once, are understood.
        let mut capabilities = None;
        for inner in path.body().iter() {
            match inner {
                hcl::Structure::Attribute(attribute)
                    if attribute.key() == "capabilities" && capabilities.is_none() =>
                {
                    capabilities = Some(strings(attribute.expr())?);
                }
                hcl::Structure::Attribute(attribute) if RESTRICTING.contains(&attribute.key()) => {}
                _ => return None,
            }
        }
        rules.push((label.as_str().to_string(), capabilities?));
    }
    Some(rules)
}
