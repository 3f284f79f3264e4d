//! The record of a render, kept once per output root: where the users came
//! from, who the tenants were, and every generated file with its hash.
//!
//! It lets the summary speak in tenant terms (who was added, whose role
//! changed) and lets a check without the users source verify the file set.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::{GrantSettings, GuardConfig};
use crate::model::{Role, Tenants};
use crate::plan::lifecycle::NamespaceHistory;
use crate::source::Origin;
use crate::verify::GeneratedFile;

/// Path of the record, relative to the output root.
pub const PATH: &str = ".tenantgen.json";
const GENERATOR: &str = "tenantgen";
const FORMAT: u32 = 1;
/// The largest record read: far above what the largest users source
/// allows (its tenants and one hash per file), so a larger file is not a
/// record but something planted in a pull request.
pub const MAX_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored")]
pub struct Manifest {
    pub generator: String,
    pub format: u32,
    pub source: Origin,
    pub tenants: BTreeMap<String, TenantRecord>,
    /// Generated file → SHA-256 of its body, as in its header.
    pub files: BTreeMap<String, String>,
    /// Namespaces released from and re-adopted into Terraform's state.
    #[serde(default, flatten)]
    pub namespaces: NamespaceHistory,
    /// What the config granted; absent in records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<GrantSettings>,
    /// Which stack each group of objects went to (`layout`); absent in
    /// records of older versions, which used the default layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<BTreeMap<String, String>>,
    /// The `guard` block; left out when it is the default, as in records
    /// of older versions.
    #[serde(default, skip_serializing_if = "GuardConfig::is_default")]
    pub guard: GuardConfig,
    /// Objects an adoption moves and then replaces (`address: old -> new
    /// name`); for the summary of this render, not recorded.
    #[serde(skip)]
    pub adoption_replacements: Vec<String>,
}

/// A record as read: strict, every field known. `flatten` cannot be
/// combined with `deny_unknown_fields`, so the namespace history's fields
/// are spelled out here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    generator: String,
    format: u32,
    source: Origin,
    tenants: BTreeMap<String, TenantRecord>,
    files: BTreeMap<String, String>,
    #[serde(default)]
    released: BTreeMap<String, String>,
    #[serde(default)]
    readopted: std::collections::BTreeSet<String>,
    #[serde(default)]
    grants: Option<GrantSettings>,
    #[serde(default, deserialize_with = "crate::config::recorded_layout")]
    layout: Option<BTreeMap<String, String>>,
    #[serde(default)]
    guard: GuardConfig,
}

impl From<Stored> for Manifest {
    fn from(stored: Stored) -> Manifest {
        Manifest {
            generator: stored.generator,
            format: stored.format,
            source: stored.source,
            tenants: stored.tenants,
            files: stored.files,
            namespaces: NamespaceHistory {
                released: stored.released,
                readopted: stored.readopted,
            },
            grants: stored.grants,
            layout: stored.layout,
            guard: stored.guard,
            adoption_replacements: Vec::new(),
        }
    }
}

/// What the summary compares between renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRecord {
    pub role: Role,
    pub email: String,
    pub namespaces: Vec<String>,
    pub domains: Vec<String>,
    pub apps: Vec<String>,
    /// The ResourceQuota of each of the user's namespaces, by the short key
    /// of `quota_defaults`; absent when the user owns no namespace (the
    /// quota has no effect) and in records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// `files` maps each generated path to the hash in its header.
    pub fn new(
        source: &Origin,
        tenants: &Tenants,
        files: BTreeMap<String, String>,
        namespaces: NamespaceHistory,
    ) -> Manifest {
        Manifest {
            generator: GENERATOR.to_string(),
            format: FORMAT,
            source: source.clone(),
            tenants: tenants
                .users
                .iter()
                .map(|user| {
                    let record = TenantRecord {
                        role: user.role,
                        email: user.email.clone(),
                        namespaces: user.namespaces.clone(),
                        domains: user.domains.clone(),
                        apps: user.apps.clone(),
                        quota: (!user.namespaces.is_empty()).then(|| {
                            user.quota
                                .iter()
                                .map(|(key, value)| (key.name().to_string(), value.clone()))
                                .collect()
                        }),
                    };
                    (user.name.clone(), record)
                })
                .collect(),
            files,
            namespaces,
            grants: None,
            layout: None,
            guard: GuardConfig::default(),
            adoption_replacements: Vec::new(),
        }
    }

    /// The manifest as the generated file written beside the stacks.
    pub fn to_file(&self) -> Result<GeneratedFile> {
        let mut contents =
            serde_json::to_string_pretty(self).context("cannot serialise the render record")?;
        contents.push('\n');
        Ok(GeneratedFile {
            path: PATH.to_string(),
            contents,
        })
    }

    /// Reads a record; `None` when the text is not one this version understands.
    pub fn parse(text: &str) -> Option<Manifest> {
        serde_json::from_str::<Manifest>(text)
            .ok()
            .filter(|manifest| manifest.generator == GENERATOR && manifest.format == FORMAT)
            .filter(Manifest::names_are_visible)
    }

    /// Whether every name the summary prints from the record (users,
    /// namespaces, domains, apps, emails, files) is free of the invisible
    /// characters tenantgen never writes: a planted newline or escape
    /// sequence would otherwise forge lines of the review.
    fn names_are_visible(&self) -> bool {
        let visible = |name: &str| !name.chars().any(crate::escape::is_invisible);
        let tenants = self.tenants.iter().all(|(user, record)| {
            visible(user)
                && visible(&record.email)
                && [&record.namespaces, &record.domains, &record.apps]
                    .iter()
                    .all(|names| names.iter().all(|name| visible(name)))
        });
        let history = &self.namespaces;
        tenants
            && self.files.keys().all(|path| visible(path))
            && history
                .released
                .iter()
                .all(|(namespace, user)| visible(namespace) && visible(user))
            && history.readopted.iter().all(|namespace| visible(namespace))
    }

    /// Whether two records describe the same render. Where the users came
    /// from is not content: the same users read from another file, from
    /// Vault instead of a file (or back), or from a newer Vault version
    /// after an unrelated write to the secret, churn nothing. The record
    /// keeps the origin of the render that last changed the tree.
    pub fn same_render(old_text: &str, new_text: &str) -> bool {
        let (Some(mut old), Some(new)) = (Manifest::parse(old_text), Manifest::parse(new_text))
        else {
            return false;
        };
        if old.source.sha256() == new.source.sha256() {
            old.source = new.source.clone();
        }
        old == new
    }

    /// Whether a file at [`PATH`] was written by tenantgen (of any version).
    /// Every namespace this render manages, with its user.
    pub fn managed_namespaces(&self) -> BTreeMap<String, String> {
        self.tenants
            .iter()
            .flat_map(|(user, record)| {
                record
                    .namespaces
                    .iter()
                    .map(move |namespace| (namespace.clone(), user.clone()))
            })
            .collect()
    }

    pub fn is_ours(text: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|value| {
                value
                    .get("generator")
                    .and_then(|g| g.as_str().map(|g| g == GENERATOR))
            })
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(source: Origin) -> String {
        let tenants = Tenants { users: Vec::new() };
        let files = BTreeMap::from([("vault/x.tf".to_string(), "00".to_string())]);
        let manifest = Manifest::new(&source, &tenants, files, NamespaceHistory::default());
        manifest.to_file().map(|file| file.contents).unwrap()
    }

    fn vault(version: u64, sha256: &str) -> Origin {
        Origin::Vault {
            namespace: None,
            mount: "secret".into(),
            path: "platform".into(),
            key: "k8s_users".into(),
            version,
            sha256: sha256.into(),
        }
    }

    #[test]
    fn the_origin_of_the_same_users_is_not_a_change() {
        let file = record(Origin::File { sha256: "a".into() });
        assert!(Manifest::same_render(&file, &record(vault(3, "a"))));
        assert!(Manifest::same_render(&record(vault(3, "a")), &file));
        assert!(Manifest::same_render(
            &record(vault(3, "a")),
            &record(vault(4, "a"))
        ));
        assert!(!Manifest::same_render(&file, &record(vault(3, "b"))));
        assert!(!Manifest::same_render(
            &file,
            &record(Origin::File { sha256: "b".into() })
        ));
    }
}
