//! A real OpenBao dev server on a free loopback port, started for one test
//! and stopped when dropped: the one server every Vault test uses. `bao`
//! comes from `tools::bao`, which installs it when it is not on PATH.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cli::Cli;

pub struct Bao {
    child: Child,
    pub address: String,
    pub root_token: String,
    /// HOME of the server and of CLI calls, so no real token file is touched.
    home: tempfile::TempDir,
    /// With `-dev-tls`: the CA that signed the server's certificate.
    pub ca_cert: Option<PathBuf>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Bao {
    pub fn start() -> Bao {
        Bao::start_with(false)
    }

    /// A dev server with TLS and a generated CA.
    pub fn start_tls() -> Bao {
        Bao::start_with(true)
    }

    fn start_with(tls: bool) -> Bao {
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let root_token = format!("root-{}", fastrand::u64(..));
        let mut command = Command::new(super::tools::bao());
        command
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={root_token}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", home.path())
            .env_remove("VAULT_ADDR")
            .env_remove("BAO_ADDR")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let ca_cert = tls.then(|| {
            let cert_dir = home.path().join("tls");
            std::fs::create_dir_all(&cert_dir).unwrap();
            command
                .arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", cert_dir.display()));
            cert_dir.join("vault-ca.pem")
        });
        let scheme = if tls { "https" } else { "http" };
        let child = command.spawn().expect("bao starts");
        let mut bao = Bao {
            child,
            address: format!("{scheme}://127.0.0.1:{port}"),
            root_token,
            home,
            ca_cert,
        };
        bao.wait_until_ready();
        bao
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("bao dev server at {} exited: {status}", self.address);
            }
            if self
                .cli()
                .args(["status"])
                .output()
                .is_ok_and(|out| out.status.success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("bao dev server at {} did not become ready", self.address);
    }

    /// A `bao` CLI command against this server as root.
    pub fn cli(&self) -> Command {
        let mut command = Command::new(super::tools::bao());
        command
            .env("BAO_ADDR", &self.address)
            .env("VAULT_ADDR", &self.address)
            .env("BAO_TOKEN", &self.root_token)
            .env("VAULT_TOKEN", &self.root_token)
            .env("HOME", self.home.path());
        if let Some(ca) = &self.ca_cert {
            command.env("BAO_CACERT", ca).env("VAULT_CACERT", ca);
        }
        command
    }

    /// Runs a CLI command, panicking with its output when it fails; returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        self.run_with(args, None)
    }

    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut command = self.cli();
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::piped());
        let mut child = command.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "bao {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Stores `users` under `secret/platform`, key `k8s_users`, as a JSON string.
    pub fn put_users_string(&self, users: &serde_json::Value) {
        let data = serde_json::json!({ "k8s_users": users.to_string() });
        self.run_with(
            &["kv", "put", "-mount=secret", "platform", "-"],
            Some(&data.to_string()),
        );
    }

    /// Stores `users` under `secret/platform`, key `k8s_users`, as a JSON object.
    pub fn put_users_object(&self, users: &serde_json::Value) {
        let data = serde_json::json!({ "k8s_users": users });
        self.run_with(
            &["kv", "put", "-mount=secret", "platform", "-"],
            Some(&data.to_string()),
        );
    }

    /// A token limited to `policy` (HCL).
    pub fn token_with_policy(&self, name: &str, policy: &str) -> String {
        self.run_with(&["policy", "write", name, "-"], Some(policy));
        self.run(&[
            "token",
            "create",
            "-field=token",
            &format!("-policy={name}"),
        ])
        .trim()
        .to_string()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bao {
    /// The `data` of a read at `path`, as root.
    pub fn read_data(&self, path: &str) -> serde_json::Value {
        let out = self.run(&["read", "-format=json", path]);
        let response: serde_json::Value = serde_json::from_str(&out).unwrap();
        response["data"].clone()
    }

    /// What `token` may do at each of `paths` (`sys/capabilities`), each
    /// list sorted.
    pub fn capabilities(
        &self,
        token: &str,
        paths: &[String],
    ) -> std::collections::BTreeMap<String, Vec<String>> {
        let request = serde_json::json!({ "token": token, "paths": paths });
        let out = self.run_with(
            &["write", "-format=json", "sys/capabilities", "-"],
            Some(&request.to_string()),
        );
        let response: serde_json::Value = serde_json::from_str(&out).unwrap();
        paths
            .iter()
            .filter_map(|path| {
                let list = response["data"].get(path)?.as_array()?;
                let mut capabilities = list
                    .iter()
                    .map(|capability| capability.as_str().unwrap().to_string())
                    .collect::<Vec<_>>();
                capabilities.sort();
                Some((path.clone(), capabilities))
            })
            .collect()
    }
}

/// `tenantgen ARGS` in `dir` with none of the caller's Vault, OpenBao or
/// `TENANTGEN_` variables and HOME inside `dir`, so no real token file is read.
pub fn tenantgen_without_vault(dir: &Path, args: &str) -> Cli {
    let mut cli = super::cli::tenantgen(dir, args);
    for (name, _) in std::env::vars() {
        if name.starts_with("VAULT_") || name.starts_with("BAO_") || name.starts_with("TENANTGEN_")
        {
            cli = cli.env_remove(name);
        }
    }
    cli.env("HOME", dir.join("home"))
}

impl Bao {
    /// `tenantgen ARGS` in `dir` reading Vault from this server as root,
    /// with no other Vault settings.
    pub fn tenantgen(&self, dir: &Path, args: &str) -> Cli {
        let cli = tenantgen_without_vault(dir, args)
            .env("VAULT_ADDR", &self.address)
            .env("VAULT_TOKEN", &self.root_token);
        match &self.ca_cert {
            Some(ca) => cli.env("VAULT_CACERT", ca),
            None => cli,
        }
    }
}
