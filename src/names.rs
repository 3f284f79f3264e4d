//! Syntax rules for the names tenants choose: DNS-1123 labels, DNS names,
//! Kubernetes label keys and values.

/// Label every tenantgen-managed Kubernetes object carries.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Prefix of tenantgen's own label keys.
pub const TENANTGEN_LABEL_PREFIX: &str = "tenantgen.io/";
/// Label naming the tenant an object belongs to.
pub const TENANT_LABEL: &str = "tenantgen.io/tenant";

use crate::escape;

const LABEL_RULE: &str = "lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63 characters";

/// A DNS-1123 label: what Kubernetes requires of namespace names.
pub fn check_dns_label(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("is empty; use {LABEL_RULE}"));
    }
    if name.len() > 63 {
        return Err(format!("is {} characters long; use at most 63", name.len()));
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        let hint = if bad.is_ascii_uppercase() {
            " (use lowercase)"
        } else {
            ""
        };
        return Err(format!(
            "contains {}{hint}; use {LABEL_RULE}",
            escape::shown_char(bad)
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(format!("starts or ends with `-`; use {LABEL_RULE}"));
    }
    Ok(())
}

/// A username: a DNS-1123 label, or what the real deployment's provisioning
/// pipeline accepts (`^[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]$`), underscores included.
pub fn check_username(name: &str) -> Result<(), String> {
    let label = check_dns_label(name);
    let pipeline = name.len() >= 2
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    match label {
        Err(problem) if !pipeline => Err(problem.replace("and `-`", "`-` and `_`")),
        _ => Ok(()),
    }
}

/// The form of a username inside Kubernetes object names and DNS names,
/// which allow no `_`: each becomes `-` (the model refuses two users whose
/// forms collide).
pub fn kubernetes_form(user: &str) -> std::borrow::Cow<'_, str> {
    if user.contains('_') {
        std::borrow::Cow::Owned(user.replace('_', "-"))
    } else {
        std::borrow::Cow::Borrowed(user)
    }
}

/// A Forgejo login, as Woodpecker compares it: letters of either case,
/// digits, `-`, `_` and `.`, kept exactly as written.
pub fn check_forgejo_login(login: &str) -> Result<(), String> {
    if login.is_empty() || login.len() > 40 {
        return Err("must be 1 to 40 characters long".into());
    }
    match login
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        Some(bad) => Err(format!(
            "contains {}; a Forgejo login has letters, digits, `-`, `_` and `.`",
            escape::shown_char(bad)
        )),
        None => Ok(()),
    }
}

/// A lowercase DNS name of DNS-1123 labels, at most 253 characters, no trailing dot.
pub fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > 253 {
        return Err(format!(
            "is {} characters long; DNS names have at most 253",
            name.len()
        ));
    }
    if name.ends_with('.') {
        return Err("ends with `.`; write the name without the trailing dot".into());
    }
    if name.starts_with("*.") {
        return Err("is a wildcard; list each name explicitly".into());
    }
    for label in name.split('.') {
        check_dns_label(label).map_err(|problem| {
            if label.is_empty() {
                "has an empty label (`..` or a leading `.`)".to_string()
            } else {
                format!("has the label {}, which {problem}", escape::shown(label))
            }
        })?;
    }
    Ok(())
}

/// A Kubernetes label or annotation key: `[prefix/]name`.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        check_dns_name(prefix).map_err(|problem| format!("has a prefix that {problem}"))?;
    }
    if name.is_empty() || !is_label_value(name) {
        return Err("is not a valid key: the name part needs 1-63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit".into());
    }
    Ok(())
}

/// A Kubernetes label value (may be empty).
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_value(value) {
        Ok(())
    } else {
        Err("is not a valid label value: at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit".into())
    }
}

fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    value.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The candidate closest to `input`, when one is close enough to be a typo.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(input, candidate), candidate))
        .filter(|&(similarity, _)| similarity >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert!(check_dns_label("alice-prod").is_ok());
        assert!(check_dns_label("1a").is_ok());
        assert!(check_dns_label(&"a".repeat(63)).is_ok());
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "a.b",
            "../x",
            "*",
            &"a".repeat(64),
        ] {
            assert!(check_dns_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_names() {
        assert!(check_dns_name("app.alice.example.com").is_ok());
        for bad in ["", "a..b", ".a", "a.", "*.a.b", "a b.c", "A.b", "${x}.com"] {
            assert!(check_dns_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_keys_and_values() {
        assert!(check_label_key("pod-security.kubernetes.io/enforce").is_ok());
        assert!(check_label_key("team").is_ok());
        assert!(check_label_key("bad key").is_err());
        assert!(check_label_key("Bad.Prefix/x").is_err());
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("baseline").is_ok());
        assert!(check_label_value("-x").is_err());
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("zome", ["zone", "out"]), Some("zone"));
        assert_eq!(closest("xyz", ["zone", "out"]), None);
        assert_eq!(closest("proxy", ["type", "proxied"]), Some("proxied"));
    }
}
