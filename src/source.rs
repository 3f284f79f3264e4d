//! Stage 1: read the raw `k8s_users` map from its source, a file or Vault
//! ([`vault`]).
//!
//! Accepts the map itself, a JSON string holding the map (how Vault KV
//! usually stores it), or a secret-shaped object with a `k8s_users` key.
//! Duplicate keys anywhere are rejected: with JSON's "last one wins" a
//! second `"role"` could silently grant a different role.

use std::fmt;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub mod vault;

/// Largest users source read, in bytes: ten times what 10,000 users take.
pub const MAX_INPUT_BYTES: u64 = 32 * 1024 * 1024;
/// Most users rendered at once; the benchmark measures 10,000.
pub const MAX_USERS: usize = 20_000;

/// The key of the users map inside a Vault secret.
pub const USERS_KEY: &str = "k8s_users";

/// The users map as read, before any validation.
#[derive(Debug, Clone)]
pub struct RawUsers {
    /// Username → the user's JSON object, in input order.
    pub entries: Vec<(String, Value)>,
    pub origin: Origin,
    /// What already sits where tenants' secrets go; listed when the users
    /// come from Vault.
    pub tenant_space: Option<TenantSpace>,
}

/// The keys of the KV folder that holds one folder per tenant namespace.
#[derive(Debug, Clone)]
pub struct TenantSpace {
    /// The folder as `vault kv list` names it: `secret/`, `secret/tenants/`.
    pub listed: String,
    /// Secrets by name; folders with a trailing `/`.
    pub keys: std::collections::BTreeSet<String>,
}

/// Where the users came from, as recorded once per output root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
// Read back from the render record, which a contributor can edit: strict.
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Origin {
    /// A users file: recorded by the digest of its canonical JSON, so key
    /// order and whitespace do not matter, and the path is left out so that
    /// rendering from another checkout gives the same bytes.
    File { sha256: String },
    /// A Vault KV v2 secret, at the version that was read, with the digest of
    /// the users it held.
    Vault {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        mount: String,
        path: String,
        key: String,
        version: u64,
        sha256: String,
    },
}

impl Origin {
    /// Digest of the canonical users JSON.
    pub fn sha256(&self) -> &str {
        match self {
            Origin::File { sha256 } | Origin::Vault { sha256, .. } => sha256,
        }
    }

    /// The source in a few words, for messages.
    pub fn describe(&self) -> String {
        match self {
            Origin::File { .. } => "the users file".to_string(),
            Origin::Vault {
                namespace,
                mount,
                path,
                version,
                ..
            } => {
                let namespace = namespace
                    .as_deref()
                    .map(|ns| format!("{ns}/"))
                    .unwrap_or_default();
                format!("Vault {namespace}{mount}/{path} version {version}")
            }
        }
    }
}

/// Reads the users file at `path`: every users file tenantgen reads, in
/// every command, comes through here.
pub fn read_file(path: &Path) -> Result<RawUsers> {
    let what = format!("users file {}", path.display());
    let bytes = read_users_bytes(path, &what)?;
    parse(&bytes, &what)
}

/// The bytes of the users file at `path`, bounded by [`MAX_INPUT_BYTES`];
/// `what` names it in errors.
pub(crate) fn read_users_bytes(path: &Path, what: &str) -> Result<Vec<u8>> {
    let cannot = || format!("cannot read {what}; check the path given with --users or users_file");
    match read_regular(path, MAX_INPUT_BYTES).with_context(cannot)? {
        Bounded::Read(bytes) => Ok(bytes),
        Bounded::NotRegular(kind) => bail!(
            "{what} is {kind}, not a regular file; pass the JSON file itself with --users FILE"
        ),
        Bounded::TooLarge(size) => Err(too_large(size, what)),
    }
}

/// What [`read_regular`] found.
pub(crate) enum Bounded {
    Read(Vec<u8>),
    /// What the path is instead: "a directory", "a FIFO", ...
    NotRegular(&'static str),
    /// More than the cap: the file's size (or the cap + 1 when it grew).
    TooLarge(u64),
}

/// Reads the regular file at `path`, at most `cap` bytes. Opened without
/// blocking, so a FIFO cannot hang the open, and refused unless the open
/// handle is a regular file: a device or FIFO has no end to wait for.
pub(crate) fn read_regular(path: &Path, cap: u64) -> std::io::Result<Bounded> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    let kind = metadata.file_type();
    let not_regular = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        ""
    };
    if !not_regular.is_empty() {
        return Ok(Bounded::NotRegular(not_regular));
    }
    if metadata.len() > cap {
        return Ok(Bounded::TooLarge(metadata.len()));
    }
    let bytes = read_bounded(file, cap)?;
    if bytes.len() as u64 > cap {
        return Ok(Bounded::TooLarge(bytes.len() as u64));
    }
    Ok(Bounded::Read(bytes))
}

/// Reads `source` to its end or to one byte past `cap`, whichever comes
/// first: a device, a FIFO or a file still growing has no size to check
/// beforehand, so a longer read means too large.
pub(crate) fn read_bounded(source: impl Read, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    source.take(cap + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Parses users JSON from a file; `what` names the source in errors.
pub fn parse(bytes: &[u8], what: &str) -> Result<RawUsers> {
    let (entries, sha256) = parse_users(bytes, what)?;
    Ok(RawUsers {
        entries,
        origin: Origin::File { sha256 },
        tenant_space: None,
    })
}

/// The users map in `bytes` and the digest of its canonical JSON.
/// Refuses sources too large to be a real users map before reading them.
pub(crate) fn check_size(size: u64, what: &str) -> Result<()> {
    if size > MAX_INPUT_BYTES {
        return Err(too_large(size, what));
    }
    Ok(())
}

fn too_large(size: u64, what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} is {:.1} MB; tenantgen reads at most {} MB of users (about ten times 10,000 users), so this is not a users map",
        size as f64 / 1e6,
        MAX_INPUT_BYTES / (1024 * 1024)
    )
}

pub(crate) fn parse_users(bytes: &[u8], what: &str) -> Result<(Vec<(String, Value)>, String)> {
    check_size(bytes.len() as u64, what)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        bail!(
            "{what} is empty, not a users map: an empty source would revoke every user; restore it (`{{}}` is the map of no users)"
        );
    }
    let document: Document = serde_json::from_slice(bytes).map_err(|err| {
        anyhow::anyhow!("{what} is not valid JSON: {err}; fix it (a JSON object keyed by username)")
    })?;
    let entries = match document.0 {
        Json::Object(entries) => {
            let mut entries = entries;
            match entries.iter().position(|(key, _)| key == USERS_KEY) {
                // A whole secret: the users are under `k8s_users`, other keys are ignored.
                Some(index) => match entries.swap_remove(index).1 {
                    Json::Object(users) => users,
                    Json::String(text) => parse_embedded(&text, what)?,
                    _ => {
                        bail!("{what}: `{USERS_KEY}` must be a JSON object or a string holding one")
                    }
                },
                None => entries,
            }
        }
        Json::String(text) => parse_embedded(&text, what)?,
        _ => {
            bail!("{what} must hold a JSON object keyed by username, or a JSON string holding one")
        }
    };
    if entries.len() > MAX_USERS {
        bail!(
            "{what} has {} users; tenantgen renders at most {MAX_USERS} at once; split them across several output roots",
            entries.len()
        );
    }
    let entries: Vec<(String, Value)> = entries
        .into_iter()
        .map(|(name, json)| (name, json.into_value()))
        .collect();
    // Sorted by user, and serde_json's inner maps are sorted: the canonical
    // form of the input, hashed as it is serialised (no copy of the users).
    let canonical: std::collections::BTreeMap<&str, &Value> = entries
        .iter()
        .map(|(name, value)| (name.as_str(), value))
        .collect();
    let mut hasher = Sha256::new();
    serde_json::to_writer(&mut hasher, &canonical)
        .context("cannot serialise the users to compute their digest")?;
    Ok((entries, hex(&hasher.finalize())))
}

fn parse_embedded(text: &str, what: &str) -> Result<Vec<(String, Json)>> {
    if text.trim().is_empty() {
        bail!(
            "{what}: `{USERS_KEY}` is an empty string, not a users map: an empty value would revoke every user; restore it (`{{}}` is the map of no users)"
        );
    }
    let document: Document = serde_json::from_str(text).map_err(|err| {
        anyhow::anyhow!("{what}: the string holding k8s_users is not valid JSON: {err}; store the users map as a JSON object or a JSON-encoded string")
    })?;
    match document.0 {
        Json::Object(entries) => Ok(entries),
        _ => bail!(
            "{what}: the string holding k8s_users must encode a JSON object keyed by username"
        ),
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    // A lookup table: this runs once per generated file.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// A JSON document whose objects keep their order and refuse duplicate keys.
struct Document(Json);

enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn into_value(self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(value) => Value::Bool(value),
            Json::Number(number) => Value::Number(number),
            Json::String(text) => Value::String(text),
            Json::Array(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Object(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, value.into_value()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Json::deserialize(deserializer).map(Document)
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(value)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries: Vec<(String, Json)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?}; each key may appear once per object"
                )));
            }
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<RawUsers> {
        parse(text.as_bytes(), "test input")
    }

    #[test]
    fn object_string_and_secret_shapes_agree() {
        let object = r#"{"alice": {"role": "admin"}}"#;
        let string = serde_json::to_string(object).unwrap();
        let secret = format!(r#"{{"other": 1, "k8s_users": {string}}}"#);
        let secret_object = format!(r#"{{"k8s_users": {object}}}"#);
        let origins: Vec<Origin> = [object.to_string(), string, secret, secret_object]
            .iter()
            .map(|text| read(text).unwrap().origin)
            .collect();
        assert!(
            origins.windows(2).all(|pair| pair[0] == pair[1]),
            "{origins:?}"
        );
    }

    #[test]
    fn key_order_does_not_change_the_digest() {
        let a =
            read(r#"{"a": {"role": "admin", "email": "a@x.io"}, "b": {"role": "admin"}}"#).unwrap();
        let b =
            read(r#"{"b": {"role": "admin"}, "a": {"email": "a@x.io", "role": "admin"}}"#).unwrap();
        assert_eq!(a.origin, b.origin);
    }

    #[test]
    fn duplicate_keys_are_rejected_at_any_depth() {
        let error = read(r#"{"a": {"role": "admin", "role": "namespace-owner"}}"#).unwrap_err();
        assert!(
            format!("{error:#}").contains("duplicate key \"role\""),
            "{error:#}"
        );
        assert!(read(r#"{"a": {}, "a": {}}"#).is_err());
    }

    #[test]
    fn non_objects_are_rejected() {
        assert!(read("[1, 2]").is_err());
        assert!(read("\"[1]\"").is_err());
        assert!(read("\"not json\"").is_err());
        assert!(read(r#"{"k8s_users": 3}"#).is_err());
        assert!(format!("{:#}", read(" \n").unwrap_err()).contains("is empty"));
        let blank = read(r#"{"k8s_users": " "}"#).unwrap_err();
        assert!(format!("{blank:#}").contains("is an empty string"));
    }
}
