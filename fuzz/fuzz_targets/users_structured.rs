//! Users maps that are mostly valid, with hostile strings where validation
//! lets odd characters through, so the renderer and escaping get exercised.
//! Invalid choices are rare: one bad field rejects the whole map.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value, json};

#[path = "../../tests/common/property.rs"]
mod property;

/// Whether to make this field invalid on purpose (about one in 25).
fn break_it(u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    u.ratio(1, 25)
}

/// A DNS-label-like name, rarely broken on purpose.
fn name(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
    let mut out = String::new();
    out.push(*u.choose(FIRST)? as char);
    for _ in 0..u.int_in_range(0..=10)? {
        out.push(*u.choose(REST)? as char);
    }
    if out.ends_with('-') {
        out.push('x');
    }
    if break_it(u)? {
        out.push_str(&String::arbitrary(u)?);
    }
    Ok(out)
}

/// Local parts with every character validation allows, and some it must refuse.
fn email(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    const LOCAL: &[&str] = &[
        "a", "b.c", "x+y", "%", "&", "*", "=", "?", "^", "|", "~", "!", "#", "/", "ü", "ß", "日本",
        "\u{202e}", "é", "%%", "-",
    ];
    const HOSTILE: &[&str] = &["${", "%{", "\"", "'", "\\", "{", "}", " ", "\n", "$"];
    let mut local = String::new();
    for _ in 0..u.int_in_range(1..=6)? {
        local.push_str(u.choose(LOCAL)?);
    }
    if break_it(u)? {
        local.push_str(u.choose(HOSTILE)?);
    }
    let domain = name(u)?;
    let tld = u.choose(&["org", "example.com", "dev"])?;
    Ok(format!("{local}@{domain}.{tld}"))
}

fn quantity(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    if break_it(u)? {
        return Ok(match u.int_in_range(0..=2)? {
            0 => json!(u.arbitrary::<f32>()?),
            1 => json!(String::arbitrary(u)?),
            _ => json!(-1),
        });
    }
    let suffixes = ["", "m", "Ki", "Mi", "Gi", "k", "M", "G", "e3"];
    Ok(match u.int_in_range(0..=2)? {
        0 => json!(u.int_in_range(1..=1_000_000u32)?),
        1 => json!(format!(
            "{}{}",
            u.int_in_range(1..=512u32)?,
            u.choose(&suffixes)?
        )),
        _ => json!(format!(
            "{}.{}",
            u.int_in_range(0..=99u32)?,
            u.int_in_range(1..=99u32)?
        )),
    })
}

fn users(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    const ROLES: &[&str] = &["namespace-owner", "namespace-owner", "power-user", "admin"];
    let mut users = Map::new();
    for _ in 0..u.int_in_range(0..=12)? {
        let user = name(u)?;
        let mut fields = Map::new();
        let role = if break_it(u)? {
            "root"
        } else {
            *u.choose(ROLES)?
        };
        fields.insert("role".into(), json!(role));
        if u.ratio(9, 10)? {
            fields.insert("email".into(), json!(email(u)?));
        }
        if u.arbitrary()? {
            let namespaces = (0..u.int_in_range(0..=3)?)
                .map(|_| Ok(format!("{user}-{}", name(u)?)))
                .collect::<arbitrary::Result<Vec<_>>>()?;
            fields.insert("namespaces".into(), json!(namespaces));
        }
        if u.arbitrary()? {
            let domains = (0..u.int_in_range(0..=3)?)
                .map(|_| Ok(format!("{}.{user}.example.com", name(u)?)))
                .collect::<arbitrary::Result<Vec<_>>>()?;
            fields.insert("domains".into(), json!(domains));
        }
        if u.arbitrary()? {
            let mut quota = Map::new();
            for _ in 0..u.int_in_range(0..=4)? {
                quota.insert(
                    u.choose(&tenantgen::config::QuotaKey::INPUT_NAMES)?
                        .to_string(),
                    quantity(u)?,
                );
            }
            fields.insert("quota".into(), Value::Object(quota));
        }
        if u.arbitrary()? {
            let mut apps = Vec::new();
            for app in ["actualbudget", "freedify"] {
                if u.arbitrary()? {
                    apps.push(app);
                }
            }
            fields.insert("apps".into(), json!(apps));
        }
        users.insert(user, Value::Object(fields));
    }
    Ok(Value::Object(users))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(users) = users(&mut u) {
        property::check(users.to_string().as_bytes());
    }
});
