//! The hostile-repository fixture (ARCHITECTURE.md's rule: nothing in the
//! repository can make tenantgen read outside it, send a credential where
//! it chose, run unbounded, print raw control sequences or hide a grant).
//!
//! A temporary parent holds the repository (`repo/`, the example workspace
//! after one render), a canary file and a valid users file outside it
//! (`outside/`), a home with a token file and an empty `TMPDIR`. Every run
//! gets a CI-like environment: canary secrets, `VAULT_ADDR` naming the
//! job's own (stand-in) Vault, and nothing else of the caller's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::bounded::{self, Outcome};
use super::canary::{self, Canaries};
use super::capture::Capture;

/// The hang detector: far above any run of the example (well under a second).
pub const TIME_BOUND: Duration = Duration::from_secs(60);
/// The memory bound on a run's peak RSS: the example needs a few tens of MiB.
pub const MEMORY_BOUND_KIB: u64 = 512 * 1024;
/// Starts every value a case plants to route credentials (a Vault
/// namespace, auth mount or role): the CI job's own Vault must never see it.
pub const PLANTED: &str = "planted-";
/// Planted before a newline in untrusted text: a line of output starting
/// with it was forged by the input.
pub const INJECTED: &str = "INJECTED-LINE";

/// What a command must do with the planted repository.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Exit 1, with each word on stderr (case-insensitively), and nothing in
    /// the repository changed.
    Refuses(Vec<&'static str>),
    /// Any exit status, with each text on stdout.
    Shows(Vec<&'static str>),
    /// Any exit status, with each word on stderr (case-insensitively).
    Warns(Vec<&'static str>),
    /// Only the bounds every run is held to.
    Bounded,
}

pub fn refuses(words: &[&'static str]) -> Expect {
    Expect::Refuses(words.to_vec())
}

pub fn shows(texts: &[&'static str]) -> Expect {
    Expect::Shows(texts.to_vec())
}

pub fn warns(words: &[&'static str]) -> Expect {
    Expect::Warns(words.to_vec())
}

pub struct Fixture {
    parent: tempfile::TempDir,
    pub repo: PathBuf,
    /// Outside the repository: a file holding a canary, readable by anyone.
    pub canary_file: PathBuf,
    /// Outside the repository: a valid users map.
    pub outside_users: PathBuf,
    pub canaries: Canaries,
    /// Every address the repository plants: must see no connection.
    pub attacker: Capture,
    /// The CI job's own Vault (`VAULT_ADDR`): may get `VAULT_TOKEN` only.
    pub trusted: Capture,
}

const CANARY_FILE_SECRET: &str = "cf-Wq4\"Zr8\\Yt2${Bn}6%{Kd}1Ls";
const HOME_TOKEN_SECRET: &str = "ht-Pe3\"Ix7\\Ow1${Sa}5%{Lu}2Gj";

impl Fixture {
    /// The fixture with a trusted Vault that answers `permission denied`.
    pub fn new() -> Fixture {
        Fixture::with_trusted(Capture::start())
    }

    /// The fixture with `trusted` as the CI job's Vault.
    pub fn with_trusted(trusted: Capture) -> Fixture {
        let parent = tempfile::tempdir().expect("temp dir");
        let root = parent.path().canonicalize().unwrap();
        let repo = root.join("repo");
        super::example_workspace_at(&repo);
        for dir in ["outside", "home", "tmp"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        let canary_file = root.join("outside/canary.txt");
        // A comment line: a template, HCL and a token file all at once.
        std::fs::write(&canary_file, format!("# {CANARY_FILE_SECRET}\n")).unwrap();
        let outside_users = root.join("outside/users.json");
        std::fs::copy(repo.join("examples/k8s_users.json"), &outside_users).unwrap();
        let token_file = root.join("home/.vault-token");
        std::fs::write(&token_file, HOME_TOKEN_SECRET).unwrap();
        let canaries = Canaries::new(&[
            (&canary_file, CANARY_FILE_SECRET),
            (&token_file, HOME_TOKEN_SECRET),
        ]);
        let fixture = Fixture {
            parent,
            repo,
            canary_file,
            outside_users,
            canaries,
            attacker: Capture::start(),
            trusted,
        };
        let rendered = fixture.command("render --yes").output().unwrap();
        assert!(rendered.status.success(), "{rendered:?}");
        for (path, bytes) in super::tree(&fixture.repo) {
            let leaks = fixture.canaries.leaks(&path, &bytes);
            assert!(
                leaks.is_empty(),
                "the fixture itself holds a canary: {leaks:?}"
            );
        }
        fixture
    }

    pub fn root(&self) -> PathBuf {
        self.repo.parent().unwrap().to_path_buf()
    }

    /// `tenantgen ARGS` in the repository with the CI job's environment only.
    pub fn command(&self, args: &str) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("tenantgen"));
        command
            .args(args.split_whitespace())
            .current_dir(&self.repo);
        self.ci_env(&mut command);
        command
    }

    /// The CI job's environment, and nothing else of the caller's.
    pub fn ci_env(&self, command: &mut Command) {
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root().join("home"))
            .env("TMPDIR", self.root().join("tmp"))
            .env("VAULT_ADDR", self.trusted.url());
        for (name, value) in self.canaries.env() {
            command.env(name, value);
        }
    }

    /// A repository file, relative to the repository.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.repo.join(relative)
    }

    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Appends HCL to `tenantgen.hcl`.
    pub fn append_config(&self, text: &str) {
        let config = std::fs::read_to_string(self.path("tenantgen.hcl")).unwrap();
        self.write("tenantgen.hcl", format!("{config}\n{text}\n"));
    }

    /// Replaces `from` (which must be there) in `tenantgen.hcl`.
    pub fn replace_config(&self, from: &str, to: &str) {
        let config = std::fs::read_to_string(self.path("tenantgen.hcl")).unwrap();
        assert!(config.contains(from), "{from:?} is in the config");
        self.write("tenantgen.hcl", config.replacen(from, to, 1));
    }

    /// Edits the users file as JSON.
    pub fn edit_users(&self, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
        super::edit_users(&self.repo, edit);
    }

    /// Edits the render record as JSON.
    pub fn edit_record(&self, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
        let path = self.path("stacks-out/.tenantgen.json");
        let mut record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(record.as_object_mut().unwrap());
        std::fs::write(path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    }

    /// Runs `args` under the bounds and returns every broken rule.
    pub fn check(&self, args: &str, expect: &Expect) -> (Outcome, Vec<String>) {
        self.check_command(args, self.command(args), expect)
    }

    /// Runs `command` (named `label` in the report) as [`Fixture::check`] does.
    pub fn check_command(
        &self,
        label: &str,
        command: Command,
        expect: &Expect,
    ) -> (Outcome, Vec<String>) {
        let outside = self.outside();
        let inside = snapshot(&self.repo, None);
        let outcome = bounded::run(command, TIME_BOUND, MEMORY_BOUND_KIB);
        let mut broken = bounds(&outcome);
        broken.extend(expectation(&outcome, expect));
        if matches!(expect, Expect::Refuses(_)) && snapshot(&self.repo, None) != inside {
            broken.push("the repository changed although the command refused".into());
        }
        broken.extend(self.leaks(&outcome));
        broken.extend(raw_controls("stdout", &outcome.stdout));
        broken.extend(raw_controls("stderr", &outcome.stderr));
        if self.attacker.connections() != 0 {
            broken.push(format!(
                "the planted address got {} connection(s)",
                self.attacker.connections()
            ));
        }
        if self.outside() != outside {
            broken.push("something outside the repository changed".into());
        }
        let broken = broken
            .into_iter()
            .map(|rule| format!("`{label}`: {rule}"))
            .collect();
        (outcome, broken)
    }

    /// Every canary found in the output, the repository's files or a request.
    fn leaks(&self, outcome: &Outcome) -> Vec<String> {
        let mut leaks = self.canaries.leaks("stdout", &outcome.stdout);
        leaks.extend(self.canaries.leaks("stderr", &outcome.stderr));
        for (path, entry) in snapshot(&self.repo, None) {
            leaks.extend(self.canaries.leaks(&format!("file {path}"), &entry));
        }
        for request in self.attacker.requests() {
            leaks.extend(
                self.canaries
                    .leaks("a request to the planted address", &request),
            );
        }
        for request in self.trusted.requests() {
            if request
                .windows(PLANTED.len())
                .any(|window| window == PLANTED.as_bytes())
            {
                leaks.push("the CI job's Vault got a setting the repository planted".into());
            }
            leaks.extend(self.canaries.leaks_except(
                "a request to the CI job's Vault",
                &request,
                &[canary::VAULT_TOKEN],
            ));
        }
        leaks
    }

    /// Everything under the parent except the repository.
    fn outside(&self) -> BTreeMap<String, Vec<u8>> {
        snapshot(&self.root(), Some(&self.repo))
    }
}

/// Every entry under `root` (not following links), skipping `skip`: its
/// kind and mode, and a file's bytes or a link's target.
fn snapshot(root: &Path, skip: Option<&Path>) -> BTreeMap<String, Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|entry| Some(entry.path()) != skip)
        .filter_map(Result::ok)
        .map(|entry| {
            let path = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            let mode = entry.metadata().map_or(0, |meta| meta.permissions().mode());
            let mut value = format!("{:?} {mode:o}\n", entry.file_type()).into_bytes();
            if entry.file_type().is_file() {
                value.extend(std::fs::read(entry.path()).unwrap_or_default());
            } else if entry.file_type().is_symlink() {
                let target = std::fs::read_link(entry.path()).unwrap_or_default();
                value.extend(target.display().to_string().into_bytes());
            }
            (path, value)
        })
        .collect()
}

/// The time, memory and crash bounds.
fn bounds(outcome: &Outcome) -> Vec<String> {
    let mut broken = Vec::new();
    if let Some(reason) = &outcome.killed {
        broken.push(format!("killed: {reason}"));
    } else if outcome.status.code().is_none() {
        broken.push(format!("ended by a signal: {:?}", outcome.status));
    }
    if outcome.peak_rss_kib > MEMORY_BOUND_KIB {
        broken.push(format!(
            "peak RSS {} KiB over {MEMORY_BOUND_KIB} KiB",
            outcome.peak_rss_kib
        ));
    }
    broken
}

fn expectation(outcome: &Outcome, expect: &Expect) -> Vec<String> {
    let (stdout, stderr) = (outcome.stdout(), outcome.stderr().to_lowercase());
    let mut broken = Vec::new();
    match expect {
        Expect::Refuses(words) => {
            if outcome.status.code() != Some(1) {
                broken.push(format!(
                    "expected a refusal (exit 1), got {:?}",
                    outcome.status
                ));
            }
            for word in words {
                if !stderr.contains(&word.to_lowercase()) {
                    broken.push(format!("stderr does not name {word:?}"));
                }
            }
        }
        Expect::Shows(texts) => {
            for text in texts {
                if !stdout.contains(text) {
                    broken.push(format!("stdout does not show {text:?}"));
                }
            }
        }
        Expect::Warns(words) => {
            for word in words {
                if !stderr.contains(&word.to_lowercase()) {
                    broken.push(format!("stderr does not name {word:?}"));
                }
            }
        }
        Expect::Bounded => {}
    }
    if !broken.is_empty() {
        broken.push(format!(
            "exit {:?}; stdout:\n{}\nstderr:\n{}",
            outcome.status.code(),
            excerpt(&stdout),
            excerpt(&outcome.stderr())
        ));
    }
    broken
}

/// The start of long output, enough to read a failure.
fn excerpt(text: &str) -> String {
    text.chars()
        .take(3000)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

/// Terminal control in output: C0 controls but newline and tab, DEL, C1,
/// bidirectional overrides and isolates, bytes that are not UTF-8, and a
/// line forged by a planted newline.
pub fn raw_controls(what: &str, bytes: &[u8]) -> Vec<String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return vec![format!("{what} is not UTF-8")];
    };
    let mut broken: Vec<String> = text
        .chars()
        .filter(|c| {
            (c.is_control() && !matches!(c, '\n' | '\t'))
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
                || ('\u{202a}'..='\u{202e}').contains(c)
                || ('\u{2066}'..='\u{2069}').contains(c)
        })
        .collect::<std::collections::BTreeSet<char>>()
        .into_iter()
        .map(|c| format!("{what} holds a raw {c:?}"))
        .collect();
    if text
        .lines()
        .any(|line| line.trim_start().starts_with(INJECTED))
    {
        broken.push(format!("{what} has a line forged by a planted newline"));
    }
    broken
}
