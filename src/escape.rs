//! Turning untrusted values into HCL literals that can never become code.
//!
//! Every value from the users source reaches generated Terraform through
//! [`quoted`], so quotes, backslashes, control characters and the template
//! markers `${` / `%{` are always neutralised.

use std::fmt::Write;

/// The value as a quoted HCL string literal that evaluates to exactly `value`.
pub fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_quoted(&mut out, value);
    out
}

/// Appends the quoted HCL string literal for `value` to `out`.
pub fn push_quoted(out: &mut String, value: &str) {
    // Nearly every value is plain: copy it in one go.
    if value.bytes().all(is_plain) {
        out.reserve(value.len() + 2);
        out.push('"');
        out.push_str(value);
        out.push('"');
        return;
    }
    out.push('"');
    for ch in hcl_primitives::template::escape_markers(value).chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // HCL knows no `\b` or `\f`; other invisible characters (controls,
            // bidi overrides, line separators) are spelled out so a reviewer sees them.
            c if is_invisible(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Printable ASCII that needs no escape and cannot start a template marker.
fn is_plain(byte: u8) -> bool {
    matches!(byte, b' '..=b'~') && !matches!(byte, b'"' | b'\\' | b'$' | b'%')
}

fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// A Terraform identifier (resource, module or local name) for a DNS-1123 name.
///
/// `-` becomes `_`, which is injective because DNS-1123 names have no `_`;
/// a leading digit gets a `_` prefix because identifiers must not start with one.
pub fn identifier(dns_name: &str) -> String {
    let mut out = String::with_capacity(dns_name.len() + 1);
    if dns_name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(dns_name.chars().map(|c| if c == '-' { '_' } else { c }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_back(literal: &str) -> String {
        let body = hcl::parse(&format!("x = {literal}\n")).expect("literal parses");
        let attr = body.attributes().next().expect("one attribute");
        match attr.expr() {
            hcl::Expression::String(s) => s.clone(),
            hcl::Expression::TemplateExpr(t) => {
                panic!("{literal} parsed as a template, not a literal: {t:?}")
            }
            other => panic!("unexpected expression {other:?}"),
        }
    }

    #[test]
    fn plain_values_are_quoted() {
        assert_eq!(quoted("alice-prod"), "\"alice-prod\"");
    }

    #[test]
    fn hostile_values_round_trip_exactly() {
        for value in [
            "a\"b",
            "back\\slash",
            "new\nline",
            "${var.secret}",
            "%{ if true }x%{ endif }",
            "$${already}",
            "a$${b",
            "$$",
            "\" }\nresource \"x\" \"y\" {\n",
            "tab\there\r",
            "\u{7}bell\u{1b}[31m",
            "rtl\u{202E}override",
            "ünïcødé",
        ] {
            let literal = quoted(value);
            assert!(!literal[1..literal.len() - 1].contains('\n'), "{literal}");
            assert_eq!(parse_back(&literal), value, "literal {literal}");
        }
    }

    #[test]
    fn markers_are_doubled() {
        assert_eq!(quoted("${x}"), "\"$${x}\"");
        assert_eq!(quoted("%{x}"), "\"%%{x}\"");
    }

    #[test]
    fn identifiers_are_valid_and_distinct() {
        assert_eq!(identifier("alice-prod"), "alice_prod");
        assert_eq!(identifier("1password"), "_1password");
        assert_ne!(identifier("a-b"), identifier("ab"));
    }
}
