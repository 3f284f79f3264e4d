//! Canary secrets and the scanner that looks for them.
//!
//! A canary leaks when any 8 characters of it appear in output, a file or a
//! request, in its raw form or as JSON or HCL would escape it (the escapes
//! are part of the forms, so a leak through `{:?}`, `serde_json` or
//! `escape::quoted` is found). Each canary holds `"`, `\`, `${` and `%{` so
//! that the escaped forms differ from the raw one.

use std::collections::BTreeSet;
use std::path::Path;

/// How many characters of a canary count as a leak.
pub const WINDOW: usize = 8;

/// One secret the process under test can reach and must never pass on.
#[derive(Debug, Clone)]
pub struct Canary {
    /// Where it lives: an environment variable or a file's path.
    pub source: String,
    pub value: String,
}

impl Canary {
    pub fn new(source: impl Into<String>, value: impl Into<String>) -> Canary {
        let canary = Canary {
            source: source.into(),
            value: value.into(),
        };
        assert!(
            canary.value.is_ascii() && canary.value.len() >= 2 * WINDOW,
            "a canary is ASCII and long enough to have distinct windows"
        );
        canary
    }

    /// Every `WINDOW`-byte piece of the raw, JSON-escaped and HCL-escaped forms.
    pub fn needles(&self) -> BTreeSet<Vec<u8>> {
        [
            self.value.clone(),
            json_escaped(&self.value),
            hcl_escaped(&self.value),
        ]
        .iter()
        .flat_map(|form| {
            form.as_bytes()
                .windows(WINDOW)
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect()
    }

    /// The first piece of this canary found in `haystack`, if any.
    pub fn found_in(&self, haystack: &[u8]) -> Option<String> {
        let needles = self.needles();
        haystack
            .windows(WINDOW)
            .find(|window| needles.contains(*window))
            .map(|window| String::from_utf8_lossy(window).into_owned())
    }
}

/// `value` as a JSON string body (no quotes), as serde_json writes it.
pub fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).expect("a string serialises");
    quoted[1..quoted.len() - 1].to_owned()
}

/// `value` as an HCL quoted-string body: `\`, `"`, and `${`/`%{` doubled.
pub fn hcl_escaped(value: &str) -> String {
    json_escaped(value)
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// The canaries of a hostile run: secrets in the environment and in files
/// outside the repository.
#[derive(Debug, Clone)]
pub struct Canaries {
    pub all: Vec<Canary>,
}

/// The environment variable that a CI job uses to reach Vault: the one
/// canary that may be sent, and only to the Vault the job itself names.
pub const VAULT_TOKEN: &str = "VAULT_TOKEN";

impl Canaries {
    /// The environment's canaries, plus one per file in `files`
    /// (path, value) which the caller writes.
    pub fn new(files: &[(&Path, &str)]) -> Canaries {
        let mut all = vec![
            Canary::new(VAULT_TOKEN, "hvs.Qv7#zK2w\"Lp9\\xR4${Tn}8%{Hc}3Md"),
            Canary::new(
                "KUBERNETES_SERVICE_ACCOUNT_TOKEN",
                "k8s-sa-Yc5\"Fm0\\Gs${Uk}7%{Ob}4Ja",
            ),
            Canary::new("AWS_SECRET_ACCESS_KEY", "aws-Nv3\"Dq6\\Eh${Pw}1%{Ix}9Ck"),
            Canary::new("VAULT_SECRET_ID", "sid-Tb8\"Mo2\\Vu5${Ry}0%{Ag}6Zf"),
        ];
        all.extend(
            files
                .iter()
                .map(|(path, value)| Canary::new(path.display().to_string(), *value)),
        );
        Canaries { all }
    }

    /// The environment variables holding canaries, with their values.
    pub fn env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.all
            .iter()
            .filter(|canary| !canary.source.starts_with('/'))
            .map(|canary| (canary.source.as_str(), canary.value.as_str()))
    }

    /// Every leak in `haystack`, as "SOURCE (piece)", with `what` named.
    pub fn leaks(&self, what: &str, haystack: &[u8]) -> Vec<String> {
        self.leaks_except(what, haystack, &[])
    }

    /// Like [`Canaries::leaks`], ignoring the canaries from `allowed`.
    pub fn leaks_except(&self, what: &str, haystack: &[u8], allowed: &[&str]) -> Vec<String> {
        self.all
            .iter()
            .filter(|canary| !allowed.contains(&canary.source.as_str()))
            .filter_map(|canary| {
                canary
                    .found_in(haystack)
                    .map(|piece| format!("{what} leaks {} ({piece:?})", canary.source))
            })
            .collect()
    }
}
