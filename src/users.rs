//! `tenantgen users`: one edit of the users map where it is kept (a file or
//! a Vault KV v2 secret), validated whole with the rules `render` uses
//! before anything is written. The storage form is kept: a bare map, a JSON
//! string, or the map under its key in a secret-shaped object with other
//! keys.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};

use crate::config::{Config, OnboardingConfig};
use crate::model::{self, Validated};
use crate::source::{Origin, RawUsers};

/// How the users map is stored in its document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The document is the map.
    Bare,
    /// The document is a JSON string holding the map.
    String,
    /// The map is under `key` of an object with other keys, as an object.
    KeyObject,
    /// The map is under `key` as a JSON string, as the real deployment keeps it.
    KeyString,
}

/// A document holding the users map: a users file, or a secret's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: Value,
    pub form: Form,
    pub key: String,
}

impl Document {
    /// A users file's JSON, in whichever form it holds the map.
    pub fn from_file(root: Value, key: &str) -> Result<Document> {
        let form = match &root {
            Value::Object(map) => match map.get(key) {
                Some(Value::String(_)) => Form::KeyString,
                Some(Value::Object(_)) => Form::KeyObject,
                Some(_) => bail!("`{key}` must be a JSON object or a string holding one"),
                None => Form::Bare,
            },
            Value::String(_) => Form::String,
            _ => bail!("the users file must hold a JSON object keyed by username"),
        };
        Ok(Document {
            root,
            form,
            key: key.to_string(),
        })
    }

    /// A Vault secret's data: the map is under `key`, a string or an object.
    pub fn from_secret(data: Map<String, Value>, key: &str) -> Result<Document> {
        let form = match data.get(key) {
            Some(Value::String(_)) => Form::KeyString,
            Some(Value::Object(_)) => Form::KeyObject,
            Some(_) => bail!("key {key:?} of the secret holds neither a JSON object nor a string"),
            None => bail!(
                "the secret has no key {key:?}; write the users there first, or set vault.key"
            ),
        };
        Ok(Document {
            root: Value::Object(data),
            form,
            key: key.to_string(),
        })
    }

    pub fn users(&self) -> Result<Map<String, Value>> {
        let value = match self.form {
            Form::Bare | Form::String => &self.root,
            Form::KeyObject | Form::KeyString => &self.root[self.key.as_str()],
        };
        let map = match value {
            Value::String(text) => serde_json::from_str(text)
                .map_err(|err| anyhow!("the users string is not JSON: {err}"))?,
            other => other.clone(),
        };
        match map {
            Value::Object(users) => Ok(users),
            _ => bail!("the users are not a JSON object keyed by username"),
        }
    }

    /// This document with `users` in place of its map, in the same form.
    pub fn with_users(&self, users: Map<String, Value>) -> Result<Document> {
        let map = Value::Object(users);
        let text = || serde_json::to_string(&map).map(Value::String);
        let mut root = self.root.clone();
        match self.form {
            Form::Bare => root = map.clone(),
            Form::String => root = text()?,
            Form::KeyObject => root[self.key.as_str()] = map.clone(),
            Form::KeyString => root[self.key.as_str()] = text()?,
        }
        Ok(Document {
            root,
            ..self.clone()
        })
    }
}

/// One user's fields as the users map has them.
pub type UserFields = Map<String, Value>;

/// What to do to one user.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    Add {
        name: String,
        fields: UserFields,
    },
    Set {
        name: String,
        /// Fields given whole (`--role`, `--namespace`, …).
        replace: UserFields,
        /// List fields → values to add and to remove.
        add: BTreeMap<String, Vec<String>>,
        remove: BTreeMap<String, Vec<String>>,
    },
    Remove {
        name: String,
    },
}

impl Edit {
    pub fn name(&self) -> &str {
        match self {
            Edit::Add { name, .. } | Edit::Set { name, .. } | Edit::Remove { name } => name,
        }
    }
}

/// Whether an edit changed the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Unchanged,
}

/// The fields `users add` gives a new user: the config's `onboarding`
/// defaults (`{user}` in them stands for the name), then the flags.
pub fn new_user(name: &str, flags: &UserFields, onboarding: &OnboardingConfig) -> UserFields {
    let filled = |text: &str| text.replace("{user}", name);
    let mut fields = Map::new();
    if let Some(role) = &onboarding.role {
        fields.insert("role".into(), Value::from(role.clone()));
    }
    if let Some(email) = &onboarding.email {
        fields.insert("email".into(), Value::from(filled(email)));
    }
    if let Some(namespaces) = &onboarding.namespaces {
        let list: Vec<Value> = namespaces
            .iter()
            .map(|ns| Value::from(filled(ns)))
            .collect();
        fields.insert("namespaces".into(), Value::Array(list));
    }
    if !onboarding.quota.is_empty() {
        let quota: Map<String, Value> = onboarding
            .quota
            .iter()
            .map(|(key, value)| (key.clone(), Value::from(value.clone())))
            .collect();
        fields.insert("quota".into(), Value::Object(quota));
    }
    for (key, value) in flags {
        fields.insert(key.clone(), value.clone());
    }
    fields
}

/// Applies `edit` to `users`; a mistake about the edit itself (adding an
/// existing user, changing a missing one) is an error naming the command
/// that fits.
pub fn apply(users: &mut Map<String, Value>, edit: &Edit) -> Result<Applied> {
    match edit {
        Edit::Add { name, fields } => match users.get(name) {
            Some(existing) if *existing == Value::Object(fields.clone()) => Ok(Applied::Unchanged),
            Some(_) => bail!(
                "user {name:?} already exists with other fields; change them with `tenantgen users set {name} ...`"
            ),
            None => {
                users.insert(name.clone(), Value::Object(fields.clone()));
                Ok(Applied::Changed)
            }
        },
        Edit::Set {
            name,
            replace,
            add,
            remove,
        } => {
            let Some(Value::Object(user)) = users.get_mut(name) else {
                bail!("there is no user {name:?}; add one with `tenantgen users add {name} ...`");
            };
            let before = user.clone();
            for (key, value) in replace {
                user.insert(key.clone(), value.clone());
            }
            for (field, values) in add {
                let list = list_field(user, field)?;
                for value in values {
                    if !list.iter().any(|item| item.as_str() == Some(value)) {
                        list.push(Value::from(value.clone()));
                    }
                }
            }
            for (field, values) in remove {
                let list = list_field(user, field)?;
                list.retain(|item| !values.iter().any(|value| item.as_str() == Some(value)));
            }
            Ok(if *user == before {
                Applied::Unchanged
            } else {
                Applied::Changed
            })
        }
        Edit::Remove { name } => match users.remove(name) {
            Some(_) => Ok(Applied::Changed),
            None => bail!("there is no user {name:?} to remove"),
        },
    }
}

fn list_field<'a>(user: &'a mut Map<String, Value>, field: &str) -> Result<&'a mut Vec<Value>> {
    match user
        .entry(field.to_string())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(list) => Ok(list),
        other => bail!("{field} is {other}, not a list; replace it with --{field}"),
    }
}

/// The whole map, checked with the rules and config `render` uses.
pub fn validate(
    users: &Map<String, Value>,
    config: &Config,
    strict: bool,
) -> Result<Validated, model::Invalid> {
    let raw = RawUsers {
        entries: users
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
        origin: Origin::File {
            sha256: String::new(),
        },
        tenant_space: None,
    };
    model::build(&raw, config, strict)
}

/// The change to one user as a unified diff of its pretty JSON.
pub fn user_diff(old: &Map<String, Value>, new: &Map<String, Value>, name: &str) -> String {
    let shown = |users: &Map<String, Value>| {
        users
            .get(name)
            .map(|user| {
                let entry = serde_json::json!({ name: user });
                let mut text = serde_json::to_string_pretty(&entry).unwrap_or_default();
                text.push('\n');
                text
            })
            .unwrap_or_default()
    };
    let (before, after) = (shown(old), shown(new));
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .header("k8s_users (before)", "k8s_users (after)")
        .to_string()
}

/// Writes `document` to `path` as stable pretty JSON, all or nothing: a new
/// file beside it, synced, then renamed over it. Check-and-set: the file
/// must still hold `read`, the text the edit started from, or nothing is
/// written and the answer is `false` (read it again). The staged file,
/// created exclusively, is the lock: no other edit can stage or replace the
/// file between the comparison and the rename.
pub fn write_file(path: &Path, document: &Document, read: &str) -> Result<bool> {
    let mut text = serde_json::to_string_pretty(&document.root)?;
    text.push('\n');
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
    let staged = dir.join(format!(".{}.tenantgen-new", name.to_string_lossy()));
    let cannot = || format!("cannot write the users file {}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&staged)
        .with_context(|| {
            format!(
                "{}: {} exists (another edit running, or left by one that was killed); remove it once no edit runs",
                cannot(),
                staged.display()
            )
        })?;
    let unchanged = std::fs::read(path).map(|now| now == read.as_bytes());
    let written = match unchanged {
        Ok(false) => {
            drop(file);
            let _ = std::fs::remove_file(&staged);
            return Ok(false);
        }
        Ok(true) => file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&staged, path)),
        Err(err) => Err(err),
    };
    if written.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    written.with_context(cannot)?;
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(true)
}

#[cfg(test)]
mod tests;
