//! The config's checks. Value checks read one key (each a serde
//! `deserialize_with` function named next to its key in `config/mod.rs`;
//! their errors become problems at that key, see `config/read.rs`);
//! `across_keys` looks at the whole config once it is read.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, Error as _};

use super::{Config, QuotaKey, RbacRule, default_quotas};
use crate::model::Role;
use crate::names;
use crate::problem::Problem;
use crate::quantity;

/// Reads a quoted string and converts it with `check`, whose error says
/// what is wrong with the value and how to fix it.
fn checked<'de, D, T>(
    deserializer: D,
    check: impl FnOnce(String) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let text = String::deserialize(deserializer)?;
    check(text).map_err(D::Error::custom)
}

pub(super) fn zone<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, |zone| match names::check_dns_name(&zone) {
        Ok(()) => Ok(zone),
        Err(problem) => Err(format!(
            "{zone:?} {problem}; set zone to the managed DNS zone, e.g. \"example.com\""
        )),
    })
}

pub(super) fn dns_label<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, |name| match names::check_dns_label(&name) {
        Ok(()) => Ok(name),
        Err(problem) => Err(format!("{name:?} {problem}")),
    })
}

fn vault_path_of(path: String) -> Result<String, String> {
    let valid = !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if valid {
        Ok(path)
    } else {
        Err(format!(
            "{path:?} is not a Vault path: use letters, digits, `-`, `_` and `.` in segments separated by `/`"
        ))
    }
}

pub(super) fn vault_path<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, vault_path_of)
}

/// A folder of the KV mount, or empty for its top level.
pub(super) fn vault_folder<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, |path| {
        if path.is_empty() {
            Ok(path)
        } else {
            vault_path_of(path)
        }
    })
}

pub(super) fn optional_vault_path<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    checked(deserializer, vault_path_of).map(Some)
}

pub(super) fn secret_key<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, |key| {
        if key.is_empty() {
            Err(
                "is empty; name the key of the secret that holds the users, e.g. \"k8s_users\""
                    .into(),
            )
        } else {
            Ok(key)
        }
    })
}

/// A Terraform expression given as a string; it must parse as one
/// single-line HCL expression, and is kept trimmed.
pub(super) fn expression<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, expression_of)
}

fn expression_of(text: String) -> Result<String, String> {
    let trimmed = text.trim();
    let parses = !trimmed.is_empty()
        && !trimmed.contains(['\n', '\r', '#'])
        && !trimmed.contains("//")
        && hcl::Expression::from_str(trimmed).is_ok();
    if parses {
        Ok(trimmed.to_string())
    } else {
        Err(format!(
            "{text:?} is not a Terraform expression; write a variable or reference such as \"var.NAME\" or \"vault_jwt_auth_backend.oidc.accessor\""
        ))
    }
}

/// The arguments of `tls.mode = "module"`: each name an argument the
/// module can take, each value a Terraform expression.
pub(super) fn module_arguments<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let arguments = BTreeMap::<String, String>::deserialize(deserializer)?;
    arguments
        .into_iter()
        .map(|(name, value)| {
            let name = argument_name_of(name)?;
            let value = expression_of(value).map_err(|problem| format!("{name}: {problem}"))?;
            Ok((name, value))
        })
        .collect::<Result<_, String>>()
        .map_err(D::Error::custom)
}

pub(super) fn argument_name<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    checked(deserializer, argument_name_of)
}

/// Terraform's meta-arguments of a `module` block, which no module variable
/// can be named.
const MODULE_META_ARGUMENTS: [&str; 6] = [
    "source",
    "version",
    "providers",
    "count",
    "for_each",
    "depends_on",
];

fn argument_name_of(name: String) -> Result<String, String> {
    if !is_identifier(&name) {
        Err(format!(
            "{name:?} is not a module argument name; use letters, digits, `_` and `-`, e.g. \"tls_secret_name\""
        ))
    } else if MODULE_META_ARGUMENTS.contains(&name.as_str()) {
        Err(format!(
            "{name:?} is a Terraform meta-argument of every module block, not one of the module's variables"
        ))
    } else {
        Ok(name)
    }
}

/// A module `source`: printed quoted, so any text is safe; one line, no spaces.
pub(super) fn module_source<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    checked(deserializer, |source| {
        if !source.is_empty() && !source.contains(|c: char| c.is_whitespace() || c.is_control()) {
            Ok(source)
        } else {
            Err(format!(
                "{source:?} is not a module source; write a path relative to the TLS stack, e.g. \"../../modules/kubernetes/setup_tls_secret\""
            ))
        }
    })
}

/// An RBAC object's name: a path segment, no `/` or `%`.
fn rbac_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= 253
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        Ok(())
    } else {
        Err("is not an RBAC name: use letters, digits, `-`, `_`, `.` and `:`".into())
    }
}

/// Cloudflare's record TTL: 1 ("automatic") or 30 to 86400 seconds.
pub(super) fn dns_ttl<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let ttl = u64::deserialize(deserializer)?;
    if ttl == 1 || (30..=86400).contains(&ttl) {
        Ok(ttl)
    } else {
        Err(D::Error::custom(format!(
            "{ttl} is not a Cloudflare TTL; use 1 (automatic) or 30 to 86400 seconds"
        )))
    }
}

/// A Vault policy or entity name: printable, no `/`, quotes or spaces.
fn vault_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'+'))
    {
        Ok(())
    } else {
        Err("is not a Vault name: use letters, digits, `-`, `_`, `.`, `@` and `+`".into())
    }
}

/// Vault policy capabilities.
pub(super) fn capabilities<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    const KNOWN: [&str; 8] = [
        "create", "read", "update", "patch", "delete", "list", "sudo", "deny",
    ];
    let capabilities = Vec::<String>::deserialize(deserializer)?;
    match capabilities.iter().find(|c| !KNOWN.contains(&c.as_str())) {
        Some(unknown) => Err(D::Error::custom(format!(
            "{unknown:?} is not a Vault capability; use {}",
            KNOWN.join(", ")
        ))),
        None => Ok(capabilities),
    }
}

pub(super) fn optional_expression<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    expression(deserializer).map(Some)
}

/// The name of an RBAC role: a path segment Kubernetes accepts.
pub(super) fn optional_rbac_name<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    checked(deserializer, |name| {
        if rbac_name(&name).is_ok() {
            Ok(Some(name))
        } else {
            Err(format!(
                "{name:?} is not a ClusterRole name; write the name of an existing ClusterRole, e.g. \"view\""
            ))
        }
    })
}

/// RBAC rules: each names at least one API group (`""` is the core group),
/// resource and verb, in the characters Kubernetes uses.
pub(super) fn rbac_rules<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<RbacRule>, D::Error> {
    let rules = Vec::<RbacRule>::deserialize(deserializer)?;
    for (index, rule) in rules.iter().enumerate() {
        for (field, items, allowed) in [
            (
                "api_groups",
                &rule.api_groups,
                "lowercase letters, digits, `.`, `-` or \"*\"",
            ),
            (
                "resources",
                &rule.resources,
                "lowercase letters, digits, `/` (subresources), `.`, `-` or \"*\"",
            ),
            ("verbs", &rule.verbs, "lowercase letters or \"*\""),
        ] {
            if items.is_empty() {
                return Err(D::Error::custom(format!(
                    "rule {index}: {field} is empty; name at least one (the core API group is \"\")"
                )));
            }
            let valid = |item: &String| {
                item == "*"
                    || item.bytes().all(|b| match field {
                        "verbs" => b.is_ascii_lowercase(),
                        "resources" => {
                            b.is_ascii_lowercase()
                                || b.is_ascii_digit()
                                || matches!(b, b'/' | b'.' | b'-')
                        }
                        _ => {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-')
                        }
                    }) && (field == "api_groups" || !item.is_empty())
            };
            if let Some(bad) = items.iter().find(|item| !valid(item)) {
                return Err(D::Error::custom(format!(
                    "rule {index}: {field} holds {bad:?}; use {allowed}"
                )));
            }
        }
    }
    Ok(rules)
}

/// A stack directory: plain relative segments of letters, digits, `-`, `_`
/// and `.`, none starting with `.` (no `..`, no hidden tool folders).
pub(super) fn stack<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, |stack| stack_path(&stack).map(|()| stack))
}

pub(super) fn stack_path(stack: &str) -> Result<(), String> {
    let plain = stack.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    });
    if plain {
        Ok(())
    } else {
        Err(format!(
            "{stack:?} is not a stack directory; write a path relative to the output root in plain segments, e.g. \"vault\" or \"stacks/rbac\" (no `..`, no leading `/` or `.`)"
        ))
    }
}

/// A list of role names, checked one by one so that the message names them.
pub(super) fn roles<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Role>>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    let known = || {
        Role::ALL
            .iter()
            .map(|role| format!("{:?}", role.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut roles = Vec::with_capacity(names.len());
    for name in names {
        match Role::ALL.into_iter().find(|role| role.as_str() == name) {
            Some(role) => roles.push(role),
            None => {
                return Err(D::Error::custom(format!(
                    "{name:?} is not a role; use {}",
                    known()
                )));
            }
        }
    }
    if roles.is_empty() {
        return Err(D::Error::custom(
            "is empty, so no user would get the add-on; name at least one role, or remove the key for every role",
        ));
    }
    Ok(Some(roles))
}

pub(super) fn timeout<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    checked(deserializer, |text| {
        parse_duration(&text)
            .ok_or_else(|| format!("{text:?} is not a duration; write it like \"10s\" or \"1m\""))
    })
}

pub(super) fn ttl<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    checked(deserializer, |text| {
        parse_duration(&text).ok_or_else(|| {
            format!("{text:?} is not a duration; write it like \"1h\", \"30m\" or \"1h30m\"")
        })
    })
}

/// Parses Vault-style durations: `3600`, `90s`, `30m`, `1h30m`, `7d`.
pub fn parse_duration(text: &str) -> Option<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let amount: u64 = digits.parse().ok()?;
        total = total.checked_add(amount.checked_mul(unit)?)?;
        digits.clear();
    }
    (digits.is_empty() && total > 0).then_some(total)
}

/// A Kubernetes quantity, written as a string or a bare number.
struct Quantity(String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Quantity, D::Error> {
        let text = match hcl::Value::deserialize(deserializer)? {
            hcl::Value::String(text) => text,
            hcl::Value::Number(number) => number.to_string(),
            _ => {
                return Err(D::Error::custom(
                    "must be a quantity such as \"4Gi\" or \"500m\"",
                ));
            }
        };
        match quantity::check(&text) {
            Ok(()) => Ok(Quantity(text)),
            Err(problem) => Err(D::Error::custom(format!("{text:?} {problem}"))),
        }
    }
}

pub(super) fn quantity<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Quantity::deserialize(deserializer).map(|quantity| quantity.0)
}

/// The entries a `quota_defaults` block sets, over the defaults of the rest.
pub(super) fn quota_defaults<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<QuotaKey, String>, D::Error> {
    let set = BTreeMap::<QuotaKey, Quantity>::deserialize(deserializer)?;
    let mut quotas = default_quotas();
    quotas.extend(set.into_iter().map(|(key, value)| (key, value.0)));
    Ok(quotas)
}

impl<'de> Deserialize<'de> for QuotaKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<QuotaKey, D::Error> {
        let name = String::deserialize(deserializer)?;
        QuotaKey::ALL
            .into_iter()
            .find(|key| key.name() == name)
            .ok_or_else(|| D::Error::unknown_field(&name, &QuotaKey::NAMES))
    }
}

pub(super) fn issuer_kind<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, |kind| match kind.as_str() {
        "ClusterIssuer" | "Issuer" => Ok(kind),
        _ => Err(format!(
            "must be \"ClusterIssuer\" or \"Issuer\", not {kind:?}"
        )),
    })
}

pub(super) fn module_prefix<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    checked(deserializer, |prefix| {
        let valid = prefix.is_empty() || in_modules(&prefix.split('.').collect::<Vec<_>>());
        if valid {
            Ok(prefix)
        } else {
            Err(format!(
                "{prefix:?} must be empty or `module.NAME` (nested: `module.a.module.b`)"
            ))
        }
    })
}

/// A resource address `TYPE.NAME` in the old deployment, inside modules
/// when written `module.a.TYPE.NAME`.
pub(super) fn address<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    checked(deserializer, |address| {
        let segments: Vec<&str> = address.split('.').collect();
        let (modules, resource) = segments.split_at(segments.len().saturating_sub(2));
        let valid = matches!(resource, [kind, name] if *kind != "module" && is_identifier(kind) && is_identifier(name))
            && in_modules(modules);
        if valid {
            Ok(address)
        } else {
            Err(format!(
                "{address:?} must be a resource address `TYPE.NAME`, e.g. \"kubernetes_namespace.user_namespace\", inside modules `module.NAME.TYPE.NAME`"
            ))
        }
    })
}

/// A module call's address `module.NAME` (nested: `module.a.module.b`).
pub(super) fn module_address<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    checked(deserializer, |address| {
        let segments: Vec<&str> = address.split('.').collect();
        if !segments.is_empty() && in_modules(&segments) {
            Ok(address)
        } else {
            Err(format!(
                "{address:?} must be a module address `module.NAME`, e.g. \"module.user_namespace_tls\""
            ))
        }
    })
}

/// `module.a.module.b`, as segments (empty: no module).
fn in_modules(segments: &[&str]) -> bool {
    segments.len().is_multiple_of(2)
        && segments
            .chunks(2)
            .all(|pair| matches!(pair, ["module", name] if is_identifier(name)))
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The checks of entries in lists and maps, and of keys that depend on
/// other keys; one problem for each mistake.
pub(super) fn across_keys(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    namespaces(config, &mut problems);
    for admin in &config.woodpecker.static_admins {
        if let Err(problem) = names::check_forgejo_login(admin) {
            problems.push(Problem::new(
                "woodpecker.static_admins",
                format!("{admin:?} {problem}; use the Forgejo login exactly as written"),
            ));
        }
    }
    if let Some(policy) = &config.network_policy {
        for namespace in &policy.allow_from_namespaces {
            if let Err(problem) = names::check_dns_label(namespace) {
                problems.push(Problem::new(
                    "network_policy.allow_from_namespaces",
                    format!("{namespace:?} {problem}"),
                ));
            }
        }
    }
    let deployer = &config.deployer;
    if deployer.ttl_seconds > deployer.max_ttl_seconds {
        problems.push(Problem::new(
            "deployer.ttl",
            format!(
                "is longer than deployer.max_ttl ({} s > {} s); shorten it or raise max_ttl",
                deployer.ttl_seconds, deployer.max_ttl_seconds
            ),
        ));
    }
    for (pattern, text) in config.names.patterns() {
        let subject = format!("names.{}", pattern.key);
        if has_unknown_placeholder(text, pattern.placeholders) {
            problems.push(Problem::new(
                &subject,
                format!(
                    "{text:?} has an unknown placeholder; it may use {}",
                    if pattern.placeholders.is_empty() {
                        "none".to_string()
                    } else {
                        pattern.placeholders.join(" and ")
                    }
                ),
            ));
            continue;
        }
        if let Some(missing) = pattern.required.iter().find(|p| !text.contains(*p)) {
            problems.push(Problem::new(
                &subject,
                format!("{text:?} lacks {missing}, so two tenants' objects would share its name"),
            ));
            continue;
        }
        // The pattern with placeholders filled in must be a valid name.
        let sample = super::name_from(text, "a_user", Some("namespace"), pattern.kind.dns());
        let valid = match pattern.kind {
            super::NameKind::Dns => names::check_dns_name(&sample),
            super::NameKind::Rbac => rbac_name(&sample),
            super::NameKind::Vault => vault_name(&sample),
        };
        if let Err(problem) = valid {
            problems.push(Problem::new(
                &subject,
                format!("{text:?} does not give a valid name: {sample:?} {problem}"),
            ));
        }
    }
    if config.quota.keys.is_empty() {
        problems.push(Problem::new(
            "quota.keys",
            "is empty; list the entries every ResourceQuota has, e.g. [\"cpu\", \"memory\", \"pods\"]",
        ));
    }
    for pattern in &config.identity.extra_policies {
        let sample = super::name_from(pattern, "user", None, false);
        if has_unknown_placeholder(pattern, &["{user}"]) {
            problems.push(Problem::new(
                "identity.extra_policies",
                format!("{pattern:?} has an unknown placeholder; it may use {{user}}"),
            ));
        } else if let Err(problem) = vault_name(&sample) {
            problems.push(Problem::new(
                "identity.extra_policies",
                format!("{pattern:?} {problem}"),
            ));
        }
    }
    for stack in config.layout.stacks() {
        if let Some(app) = config
            .apps
            .keys()
            .find(|app| stack == format!("{app}/factory") || stack == app.as_str())
        {
            problems.push(Problem::new(
                "layout",
                format!("stack {stack:?} is app {app:?}'s directory; choose another"),
            ));
        }
    }
    dns(config, &mut problems);
    if config
        .tls
        .module_arguments
        .contains_key(&config.tls.namespace_argument)
    {
        problems.push(
            Problem::new(
                "tls.module_arguments",
                format!(
                    "sets {:?}, the argument that gets the namespace (tls.namespace_argument)",
                    config.tls.namespace_argument
                ),
            )
            .hint("remove it from module_arguments, or set tls.namespace_argument to the module's namespace variable"),
        );
    }
    apps(config, &mut problems);
    addon_names(config, &mut problems);
    super::roles::generated_role_names(config, &mut problems);
    super::namespaces::check(config, &mut problems);
    problems
}

/// Add-on names appear in file names, `addon-<name>-<user>.tf`: without
/// `-` in the name, no two add-ons can name the same file.
fn addon_names(config: &Config, problems: &mut Vec<Problem>) {
    for name in config.addons.keys() {
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            problems.push(Problem::new(
                format!("addon.{name}"),
                "the add-on name must start with a lowercase letter and hold only lowercase letters, digits and `_`; it names the add-on's files",
            ));
        }
    }
}

fn namespaces(config: &Config, problems: &mut Vec<Problem>) {
    let namespaces = &config.namespaces;
    for (kind, map) in [
        ("labels", &namespaces.labels),
        ("annotations", &namespaces.annotations),
    ] {
        let subject = format!("namespaces.{kind}");
        for key in map.keys() {
            if let Err(problem) = names::check_label_key(key) {
                problems.push(Problem::new(&subject, format!("key {key:?} {problem}")));
            }
            if key.starts_with(names::TENANTGEN_LABEL_PREFIX) || key == names::MANAGED_BY_LABEL {
                problems.push(Problem::new(
                    &subject,
                    format!("key {key:?} is set by tenantgen itself; remove it"),
                ));
            }
        }
    }
    for key in &namespaces.ignore_label_changes {
        if let Err(problem) = names::check_label_key(key) {
            problems.push(Problem::new(
                "namespaces.ignore_label_changes",
                format!("key {key:?} {problem}"),
            ));
        }
    }
    for (kind, map) in [
        ("labels", &namespaces.labels),
        ("annotations", &namespaces.annotations),
    ] {
        for (key, value) in map {
            if has_unknown_placeholder(value, &["{user}", "{namespace}"]) {
                problems.push(Problem::new(
                    format!("namespaces.{kind}.{key}"),
                    format!("{value:?} has an unknown placeholder; it may use {{user}} and {{namespace}}"),
                ));
            }
        }
    }
    for (key, value) in &namespaces.labels {
        let value = &super::name_from(value, "user", Some("namespace"), true);
        if let Err(problem) = names::check_label_value(value) {
            problems.push(Problem::new(
                format!("namespaces.labels.{key}"),
                format!("{value:?} {problem}"),
            ));
        }
    }
}

/// The record type decides what a valid target is.
fn dns(config: &Config, problems: &mut Vec<Problem>) {
    let dns = &config.dns;
    let target_ok = match dns.record_type.as_str() {
        "CNAME" => names::check_dns_name(&dns.target).is_ok(),
        "A" => Ipv4Addr::from_str(&dns.target).is_ok(),
        "AAAA" => Ipv6Addr::from_str(&dns.target).is_ok(),
        other => {
            problems.push(Problem::new(
                "dns.type",
                format!("must be \"CNAME\", \"A\" or \"AAAA\", not {other:?}"),
            ));
            return;
        }
    };
    // An expression is Terraform's to evaluate.
    if !target_ok && dns.target_expression.is_none() {
        problems.push(Problem::new(
            "dns.target",
            format!(
                "{:?} is not a valid target for a {} record (a host name for CNAME, an IPv4 address for A, an IPv6 address for AAAA)",
                dns.target, dns.record_type
            ),
        ));
    }
}

/// App names name directories; the domain, with the zone, must be a DNS name.
fn apps(config: &Config, problems: &mut Vec<Problem>) {
    for (name, app) in &config.apps {
        let subject = format!("app.{name}");
        if let Err(problem) = names::check_dns_label(name) {
            problems.push(Problem::new(
                subject,
                format!("the app name {problem}; it names the app's directory"),
            ));
            continue;
        }
        pattern(
            &subject,
            "domain",
            &app.domain,
            &["{user}", "{zone}"],
            problems,
        );
        pattern(&subject, "nfs_path", &app.nfs_path, &["{user}"], problems);
        if let Err(problem) = names::check_dns_name(&app.domain_for("user", &config.zone)) {
            problems.push(Problem::new(
                format!("{subject}.domain"),
                format!("{:?} does not give a valid DNS name: {problem}", app.domain),
            ));
        }
    }
}

fn pattern(
    app: &str,
    key: &str,
    pattern: &str,
    placeholders: &[&str],
    problems: &mut Vec<Problem>,
) {
    let subject = format!("{app}.{key}");
    if !pattern.contains("{user}") {
        problems.push(Problem::new(
            &subject,
            format!("{pattern:?} must contain {{user}} so every user gets their own"),
        ));
    }
    if has_unknown_placeholder(pattern, placeholders) {
        problems.push(Problem::new(
            subject,
            format!(
                "{pattern:?} has an unknown placeholder; only {} are replaced",
                placeholders.join(" and ")
            ),
        ));
    }
}

/// Whether `text` has braces left once its known `placeholders` are taken out.
fn has_unknown_placeholder(text: &str, placeholders: &[&str]) -> bool {
    placeholders
        .iter()
        .fold(text.to_string(), |rest, placeholder| {
            rest.replace(placeholder, "")
        })
        .contains(['{', '}'])
}
