//! The one way tests run the `tenantgen` binary:
//!
//! ```ignore
//! tenantgen(dir, "render --yes").succeeds();
//! tenantgen(dir, "check").exits(2).stderr_has("edited by hand: platform/tenant-bob.tf");
//! tenantgen(dir, "validate --users").arg(&path).exits(1).stderr_has("is 52.4 MB");
//! ```
//!
//! A run ends in `succeeds` or `exits(code)`, which assert the exit status
//! and print the command, stdout and stderr when it is wrong (or in
//! `output()`, for tests that check the process themselves).

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use assert_cmd::assert::Assert;
use predicates::prelude::*;

/// `tenantgen` with `args` (split at spaces) in `dir`; `NO_COLOR` is unset so
/// that only `--color` (and stdout not being a terminal) decides colour.
pub fn tenantgen(dir: &Path, args: &str) -> Cli {
    let mut command = assert_cmd::Command::cargo_bin("tenantgen").expect("binary builds");
    command
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .args(args.split_whitespace());
    Cli { command }
}

/// Like `tenantgen`, but when the tests run as root (as CI does) the binary
/// is started through util-linux's `setpriv` without the capabilities that
/// read and write past file modes, so a permission test checks something.
pub fn tenantgen_without_root_file_access(dir: &Path, args: &str) -> Cli {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return tenantgen(dir, args);
    }
    let mut command = std::process::Command::new("setpriv");
    command
        .args([
            "--bounding-set=-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search",
        ])
        .arg(assert_cmd::cargo::cargo_bin("tenantgen"))
        .args(args.split_whitespace())
        .current_dir(dir)
        .env_remove("NO_COLOR");
    Cli {
        command: assert_cmd::Command::from_std(command),
    }
}

/// A `tenantgen` run being set up.
pub struct Cli {
    command: assert_cmd::Command,
}

impl Cli {
    /// One more argument, for paths and values with spaces.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cli {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cli
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cli {
        self.command.env(name, value);
        self
    }

    pub fn env_remove(mut self, name: impl AsRef<OsStr>) -> Cli {
        self.command.env_remove(name);
        self
    }

    /// Kills the run after `limit`, which then fails the test.
    pub fn timeout(mut self, limit: Duration) -> Cli {
        self.command.timeout(limit);
        self
    }

    /// Runs it and asserts exit status 0.
    pub fn succeeds(mut self) -> Ran {
        Ran(self.command.assert().success())
    }

    /// Runs it and asserts exit status `code`.
    pub fn exits(mut self, code: i32) -> Ran {
        Ran(self.command.assert().code(code))
    }

    /// Runs it and returns the raw output, for checks on the process itself.
    pub fn output(mut self) -> std::process::Output {
        self.command.output().expect("tenantgen runs")
    }
}

/// A finished run whose exit status was checked; its output can be checked next.
pub struct Ran(Assert);

impl Ran {
    pub fn stdout_has(self, text: impl AsRef<str>) -> Ran {
        Ran(self.0.stdout(predicate::str::contains(text.as_ref())))
    }

    pub fn stdout_lacks(self, text: impl AsRef<str>) -> Ran {
        Ran(self.0.stdout(predicate::str::contains(text.as_ref()).not()))
    }

    pub fn stderr_has(self, text: impl AsRef<str>) -> Ran {
        Ran(self.0.stderr(predicate::str::contains(text.as_ref())))
    }

    pub fn stderr_lacks(self, text: impl AsRef<str>) -> Ran {
        Ran(self.0.stderr(predicate::str::contains(text.as_ref()).not()))
    }

    /// Stdout matches the regular expression `pattern`.
    pub fn stdout_matches(self, pattern: &str) -> Ran {
        Ran(self
            .0
            .stdout(predicate::str::is_match(pattern).expect("a valid regex")))
    }

    /// Stdout parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.get_output().stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err}):\n{}", self.stdout()))
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.get_output().stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.get_output().stderr).into_owned()
    }
}
