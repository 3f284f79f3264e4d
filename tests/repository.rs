//! A hostile repository (README, "Running check on pull requests"): paths
//! in tenantgen.hcl stay inside the directory holding it, the config never
//! decides where a credential goes once VAULT_ADDR or a flag names Vault,
//! and no input (users file, Vault answer) is read without a bound.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cli::{Cli, Ran};
use common::{example_workspace, tenantgen};

/// In the environment of every run; it must never show in any output.
const CANARY: &str = "canary-7f3a9c1e5b2d4086";

fn config_with(dir: &Path, extra: &str) {
    let path = dir.join("tenantgen.hcl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, format!("{text}\n{extra}\n")).unwrap();
}

fn addon(template: &str) -> String {
    format!(
        "addon \"leak\" {{\n  template = \"{template}\"\n  for      = \"stack\"\n  stack    = \"vault\"\n}}"
    )
}

/// `tenantgen ARGS` with the canary in its environment and no Vault variables.
fn run(dir: &Path, args: &str) -> Cli {
    let mut cli = tenantgen(dir, args)
        .env("CI_SECRET", CANARY)
        .env("HOME", dir.join("home"))
        .timeout(Duration::from_secs(60));
    for (name, _) in std::env::vars() {
        if name.starts_with("VAULT_") || name.starts_with("BAO_") || name.starts_with("TENANTGEN_")
        {
            cli = cli.env_remove(name);
        }
    }
    cli
}

fn lacks_canary(ran: &Ran) {
    let all = format!("{}{}", ran.stdout(), ran.stderr());
    for start in 0..=CANARY.len() - 8 {
        assert!(
            !all.contains(&CANARY[start..start + 8]),
            "the canary leaked:\n{all}"
        );
    }
}

#[test]
fn an_addon_template_outside_the_repository_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let secret_file = outside.path().join("secret.j2");
    std::fs::write(&secret_file, format!("# {CANARY}\n")).unwrap();
    let cases = [
        ("/proc/self/environ".to_string(), "is absolute"),
        (secret_file.display().to_string(), "is absolute"),
        (
            "../../../../../../proc/self/environ".to_string(),
            "leads out of the directory",
        ),
        (
            "addons/link.j2".to_string(),
            "symbolic link leading outside",
        ),
    ];
    for (template, expected) in cases {
        let dir = example_workspace();
        std::fs::create_dir(dir.path().join("addons")).unwrap();
        std::os::unix::fs::symlink(&secret_file, dir.path().join("addons/link.j2")).unwrap();
        config_with(dir.path(), &addon(&template));
        for command in ["check", "render --yes", "diff"] {
            let ran = run(dir.path(), command)
                .exits(1)
                .stderr_has("addon.leak.template")
                .stderr_has(expected);
            lacks_canary(&ran);
        }
    }
}

#[test]
fn a_config_or_users_file_linked_out_of_its_directory_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let environ = outside.path().join("environ");
    std::fs::write(&environ, format!("PATH=/usr/bin\0CI_TOKEN={CANARY}\0")).unwrap();
    let dir = example_workspace();
    std::fs::remove_file(dir.path().join("tenantgen.hcl")).unwrap();
    std::os::unix::fs::symlink(&environ, dir.path().join("tenantgen.hcl")).unwrap();
    for command in ["check", "validate --config tenantgen.hcl"] {
        let ran = run(dir.path(), command)
            .exits(1)
            .stderr_has("tenantgen.hcl is a symbolic link leading outside");
        lacks_canary(&ran);
    }
    let dir = example_workspace();
    std::os::unix::fs::symlink(&environ, dir.path().join("users.json")).unwrap();
    let ran = run(dir.path(), "validate --users users.json")
        .exits(1)
        .stderr_has("users.json is a symbolic link leading outside");
    lacks_canary(&ran);
    // A link within its directory, as Kubernetes mounts secrets, is read.
    std::fs::copy(
        dir.path().join("examples/k8s_users.json"),
        dir.path().join("examples/real.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink("real.json", dir.path().join("examples/users.json")).unwrap();
    run(dir.path(), "validate --users examples/users.json").succeeds();
}

#[test]
fn an_addon_template_that_is_not_a_regular_file_is_refused_without_waiting() {
    let dir = example_workspace();
    std::fs::create_dir(dir.path().join("addons")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("addons/fifo.j2"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    config_with(dir.path(), &addon("addons/fifo.j2"));
    run(dir.path(), "check")
        .exits(1)
        .stderr_has("addons/fifo.j2 is a FIFO, not a regular file");
}

/// `--templates` is the job's flag, but the folder may sit in the pull
/// request's repository: its files are read as add-on templates are.
#[test]
fn template_overrides_are_regular_files_of_bounded_size() {
    let dir = example_workspace();
    let over = dir.path().join("over");
    std::fs::create_dir(&over).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), CANARY).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), over.join("objects.tf.j2")).unwrap();
    let ran = run(dir.path(), "check --templates over")
        .exits(1)
        .stderr_has("objects.tf.j2 is not a regular file");
    lacks_canary(&ran);
    std::fs::remove_file(over.join("objects.tf.j2")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(over.join("objects.tf.j2"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    run(dir.path(), "check --templates over")
        .exits(1)
        .stderr_has("objects.tf.j2 is not a regular file");
    std::fs::remove_file(over.join("objects.tf.j2")).unwrap();
    let file = std::fs::File::create(over.join("objects.tf.j2")).unwrap();
    file.set_len(3 << 30).unwrap();
    run(dir.path(), "check --templates over")
        .exits(1)
        .stderr_has("holds more than 1 MiB, so it is not a template");
}

#[test]
fn a_template_error_quotes_only_a_short_escaped_excerpt() {
    let dir = example_workspace();
    std::fs::create_dir(dir.path().join("addons")).unwrap();
    let long_name = format!("{}\u{1b}]0;{CANARY}\u{7}", "x".repeat(300));
    std::fs::write(
        dir.path().join("addons/bad.j2"),
        format!("{{{{ {long_name} | no_such_filter }}}}\n{{% if %}}"),
    )
    .unwrap();
    config_with(dir.path(), &addon("addons/bad.j2"));
    let ran = run(dir.path(), "check")
        .exits(1)
        .stderr_has("does not compile");
    assert!(!ran.stderr().contains('\u{1b}'), "{}", ran.stderr());
    assert!(ran.stderr().len() < 2_000, "{}", ran.stderr());
}

#[test]
fn a_render_error_quotes_only_a_short_excerpt_and_says_where() {
    let dir = example_workspace();
    std::fs::create_dir(dir.path().join("addons")).unwrap();
    let filter = "a".repeat(5_000);
    std::fs::write(
        dir.path().join("addons/bad.j2"),
        format!("{{{{ users | {filter} }}}}\n"),
    )
    .unwrap();
    config_with(dir.path(), &addon("addons/bad.j2"));
    let ran = run(dir.path(), "check")
        .exits(1)
        .stderr_has("unknown filter")
        .stderr_has("addons/bad.j2:1)");
    assert!(!ran.stderr().contains(&filter[..300]), "{}", ran.stderr());
}

#[test]
fn config_paths_stay_in_the_repository() {
    let cases = [
        ("users_file = \"/etc/passwd\"", "users_file", "is absolute"),
        (
            "users_file = \"../users.json\"",
            "users_file",
            "leads out of",
        ),
        ("out = \"../elsewhere\"", "out", "leads out of"),
        ("out = \"/tmp/tenantgen-elsewhere\"", "out", "is absolute"),
        (
            "vault {\n  secret_id_file = \"/etc/hostname\"\n}",
            "vault.secret_id_file",
            "is absolute",
        ),
        (
            "vault {\n  jwt_path = \"/proc/self/environ\"\n}",
            "vault.jwt_path",
            "is absolute",
        ),
        (
            "vault {\n  jwt_path = \"../token\"\n}",
            "vault.jwt_path",
            "leads out of",
        ),
    ];
    for (setting, key, expected) in cases {
        let dir = example_workspace();
        let path = dir.path().join("tenantgen.hcl");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("users_file = \"examples/k8s_users.json\"", "")
            .replace("out        = \"stacks-out\"", "");
        std::fs::write(&path, format!("{setting}\n{text}")).unwrap();
        run(dir.path(), "check")
            .exits(1)
            .stderr_has(key)
            .stderr_has(expected);
    }
    // A link out of the repository on the way to the output root.
    let dir = example_workspace();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let path = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("out        = \"stacks-out\"", "out = \"link/stacks\"");
    std::fs::write(&path, text).unwrap();
    run(dir.path(), "render --yes")
        .exits(1)
        .stderr_has("symbolic link leading outside");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

#[test]
fn users_input_that_is_not_a_regular_file_is_refused_in_every_command() {
    let dir = example_workspace();
    let fifo = dir.path().join("users.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for users in [Path::new("/dev/zero"), fifo.as_path(), Path::new("/tmp")] {
        for command in [
            "users add frank --role admin --email frank@example.com --yes",
            "users set alice --role admin --yes",
            "users remove bob --yes",
            "users list",
            "validate",
            "check",
            "diff",
            "render --yes",
            "access alice",
        ] {
            run(dir.path(), command)
                .arg("--users")
                .arg(users)
                .timeout(Duration::from_secs(20))
                .exits(1)
                .stderr_has("not a regular file");
        }
    }
    // And through users_file in the config.
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.json")).unwrap();
    let path = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("examples/k8s_users.json", "zero.json");
    std::fs::write(&path, text).unwrap();
    run(
        dir.path(),
        "users add frank --role admin --email frank@example.com --yes",
    )
    .exits(1)
    .stderr_has("symbolic link leading outside");
}

/// A loopback server that counts connections and keeps what it received;
/// each connection gets `answer` after its request's headers.
struct Capture {
    port: u16,
    connections: Arc<Mutex<usize>>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Capture {
    fn start(answer: fn(&mut TcpStream)) -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(Mutex::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (count, kept) = (connections.clone(), received.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                *count.lock().unwrap() += 1;
                let kept = kept.clone();
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut byte = [0u8; 4096];
                    stream
                        .set_read_timeout(Some(Duration::from_secs(2)))
                        .unwrap();
                    while let Ok(read) = stream.read(&mut byte) {
                        if read == 0 {
                            break;
                        }
                        request.extend_from_slice(&byte[..read]);
                        if request.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    kept.lock().unwrap().extend_from_slice(&request);
                    answer(&mut stream);
                });
            }
        });
        Capture {
            port,
            connections,
            received,
        }
    }

    fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

fn forbidden(stream: &mut TcpStream) {
    let body = r#"{"errors":["permission denied"]}"#;
    let _ = write!(
        stream,
        "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
fn the_config_never_chooses_where_credentials_go_once_the_environment_names_vault() {
    let capture = Capture::start(forbidden);
    let real = Capture::start(forbidden);
    let dir = example_workspace();
    std::fs::write(dir.path().join("sa-token"), CANARY).unwrap();
    let path = dir.path().join("tenantgen.hcl");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("users_file = \"examples/k8s_users.json\"", "");
    std::fs::write(
        &path,
        format!(
            "{text}\nvault {{\n  address = \"{}\"\n  auth = \"kubernetes\"\n  kubernetes_role = \"x\"\n  auth_mount = \"evil\"\n  jwt_path = \"sa-token\"\n  namespace = \"evil-ns\"\n}}\n",
            capture.address(),
        ),
    )
    .unwrap();
    for command in [
        "check",
        "validate",
        "users list",
        "users add frank --role admin --email f@example.com --yes",
    ] {
        let ran = run(dir.path(), command)
            .env("VAULT_ADDR", real.address())
            .env("VAULT_TOKEN", "s.ci-token")
            .exits(1)
            .stderr_has("vault.address")
            .stderr_has("vault.jwt_path")
            .stderr_has("permission denied");
        lacks_canary(&ran);
    }
    assert_eq!(
        capture.connections(),
        0,
        "the config's address was contacted"
    );
    assert!(real.connections() > 0);
    let sent = String::from_utf8_lossy(&real.received.lock().unwrap()).into_owned();
    assert!(!sent.contains(&CANARY[..8]), "{sent}");
    assert!(
        !sent.contains("evil"),
        "the config's mount or namespace was used:\n{sent}"
    );
    assert!(
        sent.contains("X-Vault-Token: s.ci-token")
            || sent.to_lowercase().contains("x-vault-token: s.ci-token")
    );
}

fn huge_length(stream: &mut TcpStream) {
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2000000000\r\n\r\n",
    );
    let chunk = vec![b' '; 64 * 1024];
    while stream.write_all(&chunk).is_ok() {}
}

fn endless_chunks(stream: &mut TcpStream) {
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
    while stream.write_all(chunk.as_bytes()).is_ok() {}
}

/// The largest peak RSS of any waited-for child so far, in bytes.
fn children_peak_rss() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss as u64 * 1024
}

#[test]
fn vault_answers_are_read_up_to_the_users_cap() {
    for answer in [huge_length as fn(&mut TcpStream), endless_chunks] {
        let server = Capture::start(answer);
        let dir = example_workspace();
        for command in [
            "validate --vault",
            "users add frank --role admin --email f@example.com --yes --vault",
        ] {
            run(dir.path(), command)
                .arg("--vault-addr")
                .arg(server.address())
                .args(["--vault-timeout", "600"])
                .env("VAULT_TOKEN", "t")
                .timeout(Duration::from_secs(120))
                .exits(1)
                .stderr_has("the answer is larger than 32 MB");
        }
    }
    let peak = children_peak_rss();
    assert!(
        peak < 200 * 1024 * 1024,
        "peak RSS {} MiB",
        peak / (1024 * 1024)
    );
}
