//! Reading the users from a real OpenBao dev server on loopback.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::bao::{self, Bao};
use common::{example_users, example_workspace, tree};
use serde_json::json;

fn add_config(dir: &Path, extra: &str) {
    let path = dir.join("tenantgen.hcl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, format!("{text}\n{extra}\n")).unwrap();
}

/// The generated `.tf` files of a tree, and its render record as JSON.
fn outputs(dir: &Path) -> (BTreeMap<String, Vec<u8>>, serde_json::Value) {
    let mut files = tree(&dir.join("stacks-out"));
    let record = files
        .remove(tenantgen::manifest::PATH)
        .expect("render record");
    (files, serde_json::from_slice(&record).unwrap())
}

fn rendered_from_file() -> (BTreeMap<String, Vec<u8>>, serde_json::Value) {
    let dir = example_workspace();
    common::tenantgen(dir.path(), "render --yes").succeeds();
    outputs(dir.path())
}

#[test]
fn string_and_object_storage_render_exactly_like_the_file() {
    let bao = Bao::start();
    let (file_tf, file_record) = rendered_from_file();
    for (shape, version) in [("string", 1), ("object", 2)] {
        if shape == "string" {
            bao.put_users_string(&example_users());
        } else {
            bao.put_users_object(&example_users());
        }
        let dir = example_workspace();
        bao.tenantgen(dir.path(), "render --yes --vault").succeeds();
        let (vault_tf, vault_record) = outputs(dir.path());
        assert_eq!(
            vault_tf, file_tf,
            "{shape}: generated files differ from the file render"
        );
        assert_eq!(vault_record["tenants"], file_record["tenants"]);
        assert_eq!(vault_record["files"], file_record["files"]);
        assert_eq!(
            vault_record["source"],
            json!({"kind": "vault", "mount": "secret", "path": "platform", "key": "k8s_users",
                   "version": version, "sha256": file_record["source"]["sha256"]}),
            "{shape}"
        );
        bao.tenantgen(dir.path(), "check --vault").exits(0);
    }
}

#[test]
fn without_a_users_file_vault_is_the_source() {
    let bao = Bao::start();
    bao.put_users_string(&example_users());
    let dir = example_workspace();
    let config = std::fs::read_to_string(dir.path().join("tenantgen.hcl")).unwrap();
    std::fs::write(
        dir.path().join("tenantgen.hcl"),
        config.replace("users_file = \"examples/k8s_users.json\"", ""),
    )
    .unwrap();
    bao.tenantgen(dir.path(), "render --yes").succeeds();
    assert_eq!(outputs(dir.path()).0, rendered_from_file().0);
    bao::tenantgen_without_vault(dir.path(), "check")
        .exits(1)
        .stderr_has("no Vault address")
        .stderr_has("pass --users FILE or set users_file");
}

#[test]
fn the_token_file_of_vault_login_is_used() {
    let bao = Bao::start();
    bao.put_users_string(&example_users());
    let dir = example_workspace();
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    std::fs::write(
        dir.path().join("home/.vault-token"),
        format!("{}\n", bao.root_token),
    )
    .unwrap();
    bao::tenantgen_without_vault(dir.path(), "render --yes --vault")
        .env("VAULT_ADDR", &bao.address)
        .succeeds();
    assert_eq!(outputs(dir.path()).0, rendered_from_file().0);
}

/// What the README asks of tenantgen's token: read the users, list the
/// folder where tenants' secrets go.
const READER_POLICY: &str = "path \"secret/data/platform\" {\n  capabilities = [\"read\"]\n}\npath \"secret/metadata/\" {\n  capabilities = [\"list\"]\n}\n";

#[test]
fn approle_login() {
    let bao = Bao::start();
    bao.put_users_string(&example_users());
    bao.run_with(
        &["policy", "write", "tenantgen-reader", "-"],
        Some(READER_POLICY),
    );
    bao.run(&["auth", "enable", "approle"]);
    bao.run(&[
        "write",
        "auth/approle/role/tenantgen",
        "token_policies=tenantgen-reader",
        "token_ttl=10m",
    ]);
    let role_id = bao
        .run(&[
            "read",
            "-field=role_id",
            "auth/approle/role/tenantgen/role-id",
        ])
        .trim()
        .to_string();
    let secret_id = bao
        .run(&[
            "write",
            "-f",
            "-field=secret_id",
            "auth/approle/role/tenantgen/secret-id",
        ])
        .trim()
        .to_string();

    let dir = example_workspace();
    bao::tenantgen_without_vault(dir.path(), "render --yes --vault --vault-auth approle")
        .env("VAULT_ADDR", &bao.address)
        .env("VAULT_ROLE_ID", &role_id)
        .env("VAULT_SECRET_ID", &secret_id)
        .succeeds();
    assert_eq!(outputs(dir.path()).0, rendered_from_file().0);

    // The same through the config, which names the address: role id in
    // it, secret id in a file.
    std::fs::write(dir.path().join("secret-id"), &secret_id).unwrap();
    add_config(
        dir.path(),
        &format!(
            "vault {{\n  address = \"{}\"\n  auth = \"approle\"\n  role_id = \"{role_id}\"\n  secret_id_file = \"secret-id\"\n}}",
            bao.address
        ),
    );
    bao::tenantgen_without_vault(dir.path(), "check --vault").exits(0);

    bao::tenantgen_without_vault(dir.path(), "check --vault")
        .env("VAULT_SECRET_ID", "wrong-secret-id")
        .exits(1)
        .stderr_has("AppRole login at auth/approle")
        .stderr_lacks("wrong-secret-id");
}

/// Answers Kubernetes TokenReview requests: `jwt` is the service account
/// `ci/tenantgen`, every other token is unauthenticated.
fn token_review_responder(jwt: String) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reviews = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = reviews.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            let body = loop {
                let read = stream.read(&mut buffer).unwrap_or(0);
                if read == 0 {
                    break None;
                }
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|line| {
                            line.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break Some(body[..length].to_string());
                    }
                }
            };
            let Some(body) = body else { continue };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let review: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let authenticated = review["spec"]["token"] == json!(jwt);
            let response = json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "status": if authenticated {
                    json!({"authenticated": true, "user": {
                        "username": "system:serviceaccount:ci:tenantgen",
                        "uid": "d77f89bc-9055-11e7-a068-0800276d99bf",
                        "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]}})
                } else {
                    json!({"authenticated": false, "error": "invalid token"})
                }
            })
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{response}",
                response.len()
            );
        }
    });
    (port, reviews)
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A service-account token as the kubelet mounts it (the signature is never
/// checked locally: the TokenReview responder vouches for it).
fn service_account_jwt(signature_byte: u8) -> String {
    let header = base64url(br#"{"alg":"RS256","kid":"test"}"#);
    let claims = json!({
        "iss": "kubernetes/serviceaccount",
        "sub": "system:serviceaccount:ci:tenantgen",
        "kubernetes.io/serviceaccount/namespace": "ci",
        "kubernetes.io/serviceaccount/secret.name": "tenantgen-token",
        "kubernetes.io/serviceaccount/service-account.name": "tenantgen",
        "kubernetes.io/serviceaccount/service-account.uid": "d77f89bc-9055-11e7-a068-0800276d99bf"
    });
    let payload = base64url(claims.to_string().as_bytes());
    let signature = base64url(&[signature_byte; 256]);
    format!("{header}.{payload}.{signature}")
}

#[test]
fn kubernetes_login_end_to_end() {
    let bao = Bao::start();
    bao.put_users_string(&example_users());
    let jwt = service_account_jwt(7);
    let (port, reviews) = token_review_responder(jwt.clone());
    bao.run_with(
        &["policy", "write", "tenantgen-reader", "-"],
        Some(READER_POLICY),
    );
    bao.run(&["auth", "enable", "kubernetes"]);
    bao.run(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host=http://127.0.0.1:{port}"),
        // Parsed but unused: the API server is plain http on loopback.
        &format!(
            "kubernetes_ca_cert=@{}",
            common::repo()
                .join("tests/data/kubernetes-ca.pem")
                .display()
        ),
        "disable_local_ca_jwt=true",
    ]);
    bao.run(&[
        "write",
        "auth/kubernetes/role/tenantgen",
        "bound_service_account_names=tenantgen",
        "bound_service_account_namespaces=ci",
        "token_policies=tenantgen-reader",
        "token_ttl=10m",
    ]);
    let dir = example_workspace();
    std::fs::write(dir.path().join("sa-token"), &jwt).unwrap();
    // The environment names Vault, so the login comes from it too.
    bao::tenantgen_without_vault(dir.path(), "render --yes --vault")
        .env("VAULT_ADDR", &bao.address)
        .env("TENANTGEN_VAULT_AUTH", "kubernetes")
        .env("TENANTGEN_VAULT_KUBERNETES_ROLE", "tenantgen")
        .env("TENANTGEN_VAULT_JWT_PATH", "sa-token")
        .succeeds();
    assert_eq!(outputs(dir.path()).0, rendered_from_file().0);
    assert!(
        reviews.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the TokenReview responder was consulted"
    );

    // Or the config names the address and the login with it.
    add_config(
        dir.path(),
        &format!(
            "vault {{\n  address         = \"{}\"\n  auth            = \"kubernetes\"\n  kubernetes_role = \"tenantgen\"\n  jwt_path        = \"sa-token\"\n}}",
            bao.address
        ),
    );
    bao::tenantgen_without_vault(dir.path(), "check --vault").succeeds();

    // A token the cluster does not vouch for is refused, with a hint.
    std::fs::write(dir.path().join("sa-token"), service_account_jwt(8)).unwrap();
    bao::tenantgen_without_vault(dir.path(), "check --vault")
        .exits(1)
        .stderr_has("Kubernetes login as role \"tenantgen\"");

    // With VAULT_ADDR set, the config's login is set aside, with a warning.
    bao.tenantgen(dir.path(), "check --vault")
        .succeeds()
        .stderr_has("vault.auth = \"kubernetes\" in tenantgen.hcl is not used")
        .stderr_has("vault.jwt_path");
}

#[test]
fn vault_namespaces() {
    let bao = Bao::start();
    bao.run(&["namespace", "create", "team1"]);
    bao.run(&["secrets", "enable", "-ns=team1", "-path=secret", "kv-v2"]);
    let data = json!({"k8s_users": example_users().to_string()}).to_string();
    bao.run_with(
        &["kv", "put", "-ns=team1", "-mount=secret", "platform", "-"],
        Some(&data),
    );
    let dir = example_workspace();
    bao.tenantgen(dir.path(), "render --yes --vault")
        .env("VAULT_NAMESPACE", "team1")
        .succeeds();
    let (files, record) = outputs(dir.path());
    assert_eq!(files, rendered_from_file().0);
    assert_eq!(record["source"]["namespace"], "team1");
    bao.tenantgen(dir.path(), "check --vault --vault-namespace team1")
        .exits(0);
    // The root namespace holds no such secret.
    bao.tenantgen(dir.path(), "check --vault")
        .exits(1)
        .stderr_has("no secret at secret/platform");
}

#[test]
fn versions_are_pinned_and_recorded() {
    let bao = Bao::start();
    let users = example_users();
    bao.put_users_string(&users);
    let mut without_carol = users.clone();
    without_carol.as_object_mut().unwrap().remove("carol");
    bao.put_users_string(&without_carol);

    let dir = example_workspace();
    bao.tenantgen(dir.path(), "render --yes --vault-version 1")
        .succeeds();
    let (files, record) = outputs(dir.path());
    assert_eq!(files, rendered_from_file().0);
    assert_eq!(record["source"]["version"], 1);

    bao.tenantgen(dir.path(), "check --vault")
        .exits(2)
        .stdout_has("the users changed since the last render (rendered from Vault secret/platform version 1, now Vault secret/platform version 2)")
        .stdout_has("users removed:         carol");
    bao.tenantgen(dir.path(), "render --yes --vault").succeeds();
    assert_eq!(outputs(dir.path()).1["source"]["version"], 2);

    // An unrelated write to the secret (a new version with the same users) churns nothing.
    let data = json!({"k8s_users": without_carol.to_string(), "unrelated": "x"}).to_string();
    bao.run_with(
        &["kv", "put", "-mount=secret", "platform", "-"],
        Some(&data),
    );
    let before = tree(dir.path());
    bao.tenantgen(dir.path(), "check --vault").exits(0);
    bao.tenantgen(dir.path(), "render --yes --vault")
        .succeeds()
        .stdout_has("No changes");
    assert_eq!(tree(dir.path()), before);

    bao.tenantgen(dir.path(), "check --vault-version 99")
        .exits(1)
        .stderr_has("there is no version 99 of secret/platform");
    bao.run(&["kv", "delete", "-mount=secret", "-versions=1", "platform"]);
    bao.tenantgen(dir.path(), "check --vault-version 1")
        .exits(1)
        .stderr_has("version 1 was deleted");
}

#[test]
fn tls_with_the_right_ca_and_failure_without() {
    let bao = Bao::start_tls();
    bao.put_users_string(&example_users());
    let dir = example_workspace();
    bao.tenantgen(dir.path(), "render --yes --vault").succeeds();
    assert_eq!(outputs(dir.path()).0, rendered_from_file().0);
    let before = tree(dir.path());
    bao.tenantgen(dir.path(), "render --yes --vault")
        .env_remove("VAULT_CACERT")
        .exits(1)
        .stderr_has("TLS with")
        .stderr_has("set VAULT_CACERT")
        .stderr_lacks(&bao.root_token);
    assert_eq!(tree(dir.path()), before);
    bao.tenantgen(dir.path(), "check --vault --vault-skip-verify")
        .env_remove("VAULT_CACERT")
        .exits(0);
}

/// Each failure: exit 1, one clear message, no token in it, nothing written.
#[test]
fn failures_are_clear_and_write_nothing() {
    let bao = Bao::start();
    bao.put_users_string(&example_users());
    bao.run(&["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    bao.run(&["secrets", "enable", "-path=other", "kv-v2"]);
    bao.run_with(
        &["kv", "put", "-mount=other", "nokey", "-"],
        Some(r#"{"users": "{}", "admins": "x"}"#),
    );
    bao.run_with(
        &["kv", "put", "-mount=other", "badjson", "-"],
        Some(r#"{"k8s_users": "{\"alice\": "}"#),
    );
    bao.run_with(
        &["kv", "put", "-mount=other", "list", "-"],
        Some(r#"{"k8s_users": "[1, 2]"}"#),
    );
    bao.run_with(
        &["kv", "put", "-mount=other", "blank", "-"],
        Some(r#"{"k8s_users": ""}"#),
    );
    bao.run_with(
        &["kv", "put", "-mount=other", "number", "-"],
        Some(r#"{"k8s_users": 42}"#),
    );
    bao.run_with(
        &["kv", "put", "-mount=other", "invalid", "-"],
        Some(&json!({"k8s_users": {"bob": {"role": "root"}}}).to_string()),
    );
    let weak_token = bao.token_with_policy(
        "nothing",
        "path \"secret/data/elsewhere\" {\n  capabilities = [\"read\"]\n}\n",
    );
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_address = format!("http://{}", silent.local_addr().unwrap());
    let closed_address = format!("http://127.0.0.1:{}", bao::free_port());

    struct Case {
        name: &'static str,
        config: &'static str,
        env: Vec<(&'static str, String)>,
        args: Vec<&'static str>,
        expected: &'static str,
    }
    let case =
        |name, config, env: Vec<(&'static str, String)>, args: Vec<&'static str>, expected| Case {
            name,
            config,
            env,
            args,
            expected,
        };
    let cases = vec![
        case(
            "unreachable",
            "",
            vec![("VAULT_ADDR", closed_address.clone())],
            vec![],
            "cannot reach Vault at http://127.0.0.1:",
        ),
        case(
            "timeout",
            "",
            vec![("VAULT_ADDR", silent_address.clone())],
            vec!["--vault-timeout", "1"],
            "did not answer within 1 s",
        ),
        case(
            "tls",
            "",
            vec![("VAULT_ADDR", bao.address.replace("http://", "https://"))],
            vec![],
            "TLS with https://127.0.0.1",
        ),
        case(
            "bad address",
            "",
            vec![("VAULT_ADDR", "vault.example.com:8200".into())],
            vec![],
            "must be an http:// or https:// URL",
        ),
        case(
            "403",
            "",
            vec![("VAULT_TOKEN", weak_token.clone())],
            vec![],
            "permission denied; the token needs a policy granting `read` on \"secret/data/platform\"",
        ),
        case(
            "bad token",
            "",
            vec![("VAULT_TOKEN", "s.not-a-token".into())],
            vec![],
            "permission denied",
        ),
        case(
            "missing path",
            "vault {\n  path = \"nothing\"\n}",
            vec![],
            vec![],
            "no secret at secret/nothing",
        ),
        case(
            "missing key",
            "vault {\n  mount = \"other\"\n  path = \"nokey\"\n}",
            vec![],
            vec![],
            "has no key \"k8s_users\" (its keys: admins, users)",
        ),
        case(
            "kv v1",
            "vault {\n  mount = \"kv1\"\n}",
            vec![],
            vec![],
            "is a KV version 1 mount",
        ),
        case(
            "not json",
            "vault {\n  mount = \"other\"\n  path = \"badjson\"\n}",
            vec![],
            vec![],
            "key \"k8s_users\", is not valid JSON",
        ),
        case(
            "a list",
            "vault {\n  mount = \"other\"\n  path = \"list\"\n}",
            vec![],
            vec![],
            "must hold a JSON object keyed by username",
        ),
        case(
            "an empty string",
            "vault {\n  mount = \"other\"\n  path = \"blank\"\n}",
            vec![],
            vec![],
            "key \"k8s_users\", is empty, not a users map",
        ),
        case(
            "a number",
            "vault {\n  mount = \"other\"\n  path = \"number\"\n}",
            vec![],
            vec![],
            "holds a number, not the users map",
        ),
        case(
            "invalid users",
            "vault {\n  mount = \"other\"\n  path = \"invalid\"\n}",
            vec![],
            vec![],
            "k8s_users (Vault other/invalid version 1) has 1 problem:\n  - user \"bob\": role = \"root\": unknown role",
        ),
    ];
    let dir = example_workspace();
    bao.tenantgen(dir.path(), "render --yes --vault").succeeds();
    let config = std::fs::read_to_string(dir.path().join("tenantgen.hcl")).unwrap();
    for case in cases {
        std::fs::write(
            dir.path().join("tenantgen.hcl"),
            format!("{config}\n{}\n", case.config),
        )
        .unwrap();
        let before = tree(&dir.path().join("stacks-out"));
        let started = Instant::now();
        let mut command = bao
            .tenantgen(dir.path(), "render --yes --vault")
            .args(&case.args);
        for (name, value) in &case.env {
            command = command.env(name, value);
        }
        let output = command.output();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{}: {stderr}", case.name);
        assert!(
            stderr.contains(case.expected),
            "{}: expected {:?} in:\n{stderr}",
            case.name,
            case.expected
        );
        let errors = stderr
            .lines()
            .filter(|line| line.starts_with("error:"))
            .count();
        assert_eq!(errors, 1, "{}: one message, got:\n{stderr}", case.name);
        for secret in [&bao.root_token, &weak_token] {
            assert!(
                !stderr.contains(secret.as_str()),
                "{}: the token leaked:\n{stderr}",
                case.name
            );
        }
        assert_eq!(
            tree(&dir.path().join("stacks-out")),
            before,
            "{}",
            case.name
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}: took {:?}",
            case.name,
            started.elapsed()
        );
    }
    drop(silent);
}

/// A server that accepts connections and never answers: the whole read,
/// preflight and secret read together, gives up after `--vault-timeout`.
#[test]
fn the_timeout_bounds_the_whole_read() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    listener.set_nonblocking(true).unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline
            && held.len() < 16
            && !stop.load(std::sync::atomic::Ordering::Relaxed)
        {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        held.len()
    });
    let dir = example_workspace();
    let started = Instant::now();
    let output = bao::tenantgen_without_vault(dir.path(), "diff --vault --vault-timeout 2")
        .env("VAULT_ADDR", &address)
        .env("VAULT_TOKEN", "s.never-used")
        .output();
    let elapsed = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        elapsed < Duration::from_millis(3500),
        "--vault-timeout 2 took {elapsed:?}:\n{stderr}"
    );
    assert!(
        stderr.contains(&address) && stderr.contains("did not answer within 2 s"),
        "the message names the address and the timeout:\n{stderr}"
    );
    assert!(
        holder.join().unwrap() >= 1,
        "tenantgen never connected to the silent server"
    );
}

/// OpenBao's own variable names are enough.
#[test]
fn bao_addr_and_bao_token_are_honoured() {
    let bao = Bao::start();
    bao.put_users_string(&example_users());
    let dir = example_workspace();
    bao::tenantgen_without_vault(dir.path(), "render --yes --vault")
        .env("BAO_ADDR", &bao.address)
        .env("BAO_TOKEN", &bao.root_token)
        .succeeds();
    assert_eq!(outputs(dir.path()).0, rendered_from_file().0);
    // BAO_ wins over VAULT_, as for `bao` itself.
    bao::tenantgen_without_vault(dir.path(), "check --vault")
        .env("BAO_ADDR", &bao.address)
        .env("BAO_TOKEN", &bao.root_token)
        .env(
            "VAULT_ADDR",
            format!("http://127.0.0.1:{}", bao::free_port()),
        )
        .env("VAULT_TOKEN", "s.not-a-token")
        .exits(0);
}

/// A namespace's secrets folder must not open up secrets that are not its
/// owner's: the platform's own secrets beside it, a folder nobody rendered,
/// or another tenant's folder.
#[test]
fn namespaces_that_would_open_up_existing_secrets_are_refused() {
    let bao = Bao::start();
    bao.put_users_string(&example_users());
    let dir = example_workspace();
    bao.tenantgen(dir.path(), "render --yes --vault").succeeds();
    bao.run(&["kv", "put", "secret/billing", "token=platform-owned"]);
    bao.run(&[
        "kv",
        "put",
        "secret/ops/database",
        "password=platform-owned",
    ]);
    // alice's own secrets, in her namespace's folder.
    bao.run(&["kv", "put", "secret/alice-dev/app", "key=alice"]);
    bao.tenantgen(dir.path(), "check --vault").exits(0);

    let before = tree(dir.path());
    let mut users = example_users();
    users["bob"]["namespaces"] = json!(["bob-staging", "ops", "billing"]);
    users["carol"]["namespaces"] = json!(["alice-dev"]);
    users["alice"]["namespaces"] = json!(["alice-prod"]);
    bao.put_users_string(&users);
    bao.tenantgen(dir.path(), "render --yes --vault")
        .exits(1)
        .stderr_has("k8s_users (against secret/) has 3 problems")
        .stderr_has("user \"bob\": namespaces[0] = \"billing\": would give bob the Vault secrets under secret/billing/, beside the existing secret secret/billing")
        .stderr_has("user \"bob\": namespaces[2] = \"ops\": would give bob create, read, update and delete on the secrets already in secret/ops/, which no render gave them")
        .stderr_has("user \"carol\": namespaces[0] = \"alice-dev\": would give carol create, read, update and delete on the secrets already in secret/alice-dev/, which were \"alice\"'s at the last render")
        .stderr_has("`bao kv list secret/ops`");
    assert_eq!(tree(dir.path()), before, "nothing is written");

    // Under a tenant prefix, tenants' folders are apart from the platform's.
    add_config(dir.path(), "vault {\n  tenant_prefix = \"tenants\"\n}");
    bao.put_users_string(&example_users());
    bao.tenantgen(dir.path(), "render --yes --vault").succeeds();
    let policy =
        std::fs::read_to_string(dir.path().join("stacks-out/vault/tenant-alice.tf")).unwrap();
    assert!(
        policy.contains("path \"secret/data/tenants/alice-dev/*\""),
        "{policy}"
    );
    users["carol"]["namespaces"] = json!(["ops", "billing"]);
    users["alice"]["namespaces"] = json!(["alice-prod", "alice-dev"]);
    users["bob"]["namespaces"] = json!(["bob-staging"]);
    bao.put_users_string(&users);
    bao.tenantgen(dir.path(), "render --yes --vault").succeeds();

    // A token that reads the users but may not list gets told what to grant.
    let reader = bao.token_with_policy(
        "reads-only",
        "path \"secret/data/platform\" {\n  capabilities = [\"read\"]\n}\n",
    );
    bao.tenantgen(dir.path(), "check --vault")
        .env("VAULT_TOKEN", &reader)
        .exits(1)
        .stderr_has("listing secret/tenants/ on")
        .stderr_has("permission denied")
        .stderr_has("Grant the token `list` on \"secret/metadata/tenants/\"")
        .stderr_lacks(&reader);
}
