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
            // bidi marks, line separators, fillers, tags) are spelled out so a
            // reviewer sees them; past U+FFFF, HCL's `\u` takes no more digits.
            c if is_invisible(c) && u32::from(c) > 0xFFFF => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
            c if is_invisible(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
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

/// Characters that show as nothing or as a blank, or change the direction
/// of the text around them: controls, whitespace but the space, format
/// characters (soft hyphen, bidi marks and overrides, zero-width ones,
/// tags), Hangul fillers and variation selectors.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// `text` with every [invisible](is_invisible) character spelled out as
/// `\u{202E}`, for messages: a terminal never gets one raw.
pub fn spelled(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_invisible(c) {
            let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// `value` quoted for a message, as `{:?}` would, but with every invisible
/// character spelled out.
pub fn shown(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if is_invisible(c) {
            let _ = write!(out, "\\u{{{:04X}}}", u32::from(c));
        } else {
            out.extend(c.escape_debug());
        }
    }
    out.push('"');
    out
}

/// `c` quoted for a message, as `{:?}` would, but spelled out when invisible.
pub fn shown_char(c: char) -> String {
    if is_invisible(c) {
        format!("'\\u{{{:04X}}}'", u32::from(c))
    } else {
        format!("{c:?}")
    }
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
            "arabic\u{061C}mark",
            "soft\u{00AD}hyphen",
            "hangul\u{3164}filler",
            "tag\u{E0041}letter",
            "ünïcødé",
        ] {
            let literal = quoted(value);
            assert!(!literal[1..literal.len() - 1].contains('\n'), "{literal}");
            assert_eq!(parse_back(&literal), value, "literal {literal}");
        }
    }

    #[test]
    fn invisible_characters_are_spelled_out() {
        assert_eq!(quoted("a\u{061C}b"), "\"a\\u061Cb\"");
        assert_eq!(quoted("a\u{E0041}b"), "\"a\\U000E0041b\"");
        for c in [
            '\u{00AD}', '\u{3164}', '\u{2028}', '\u{2029}', '\u{202E}', '\u{A0}',
        ] {
            assert!(quoted(&c.to_string()).is_ascii(), "{:04X}", u32::from(c));
            assert!(shown(&c.to_string()).is_ascii(), "{:04X}", u32::from(c));
            assert!(shown_char(c).is_ascii(), "{:04X}", u32::from(c));
        }
        assert_eq!(spelled("x\u{202E}y"), "x\\u{202E}y");
        assert_eq!(shown("é\"\u{61C}"), "\"é\\\"\\u{061C}\"");
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
