//! Reading `k8s_users` from a Vault (or OpenBao) KV v2 secret with vaultrs's
//! endpoints, sent through tenantgen's bounded client ([`bounded`]).
//!
//! Settings come from flags, then the usual `VAULT_*` variables or OpenBao's
//! `BAO_*` names (which win as they do for `bao`), then `tenantgen.hcl`;
//! where credentials go follows the address ([`routing`]). Every failure is
//! one message that says what to do, and no message ever contains a token.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rustify_derive::Endpoint;
use serde::Deserialize;
use serde_json::Value;
use url::Url;
use vaultrs::api::auth::approle::requests::LoginWithApproleRequest;
use vaultrs::api::auth::kubernetes::requests::LoginWithKubernetesRequest;
use vaultrs::api::kv2::requests::{
    ListSecretsRequest, ReadSecretRequest, SetSecretRequest, SetSecretRequestOptions,
};
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;

use super::{Origin, RawUsers, TenantSpace};
use crate::config::VaultConfig;
use crate::problem::Problem;

mod bounded;
mod credentials;
pub mod routing;

use bounded::Connection;
use credentials::{checked_token, login};
pub use routing::LoginFlags;
use routing::Routing;

/// Vault settings given on the command line; they win over the
/// environment and the config.
#[derive(Debug, Clone, Default)]
pub struct VaultFlags {
    pub address: Option<String>,
    /// Where credentials go: login method, mount, role and files.
    pub login: LoginFlags,
    pub namespace: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub skip_verify: bool,
    /// Pin this KV version instead of reading the latest.
    pub version: Option<u64>,
    pub timeout: Option<Duration>,
}

/// A credential that never shows in `Debug` output or messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    fn expose(&self) -> &str {
        &self.0
    }
}

/// How tenantgen logs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Token(Secret),
    AppRole {
        mount: String,
        role_id: String,
        secret_id: Secret,
    },
    Kubernetes {
        mount: String,
        role: String,
        jwt: Secret,
    },
}

/// Everything needed to read the users, resolved and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub address: Url,
    pub namespace: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub verify: bool,
    pub timeout: Duration,
    pub login: Login,
    pub mount: String,
    pub path: String,
    pub key: String,
    pub version: Option<u64>,
    /// The folder of `mount` listed for what tenants' namespaces would open up.
    pub tenant_prefix: String,
    /// Config settings set aside (`routing`), to show as warnings.
    pub warnings: Vec<Problem>,
}

impl Settings {
    /// Resolves flags, config and environment (`env` looks a variable up).
    pub fn resolve(
        config: &VaultConfig,
        flags: &VaultFlags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings> {
        let var = |name: &str| variable(env, name);
        let routing = Routing::resolve(config, flags, env, &var)?;
        let address = parse_address(&routing.address)?;
        let namespace = routing.namespace.clone();
        if let Some(namespace) = &namespace
            && has_control(namespace)
        {
            bail!(
                "Vault namespace {namespace:?} contains a control character, which cannot be sent in a request header; check --vault-namespace, VAULT_NAMESPACE (or BAO_NAMESPACE) and vault.namespace in tenantgen.hcl"
            );
        }
        let login = login(config, &routing, env)?;
        let skip_verify = flags.skip_verify
            || var("SKIP_VERIFY")
                .is_some_and(|value| !matches!(value.to_lowercase().as_str(), "0" | "f" | "false"));
        Ok(Settings {
            address,
            namespace,
            ca_cert: flags
                .ca_cert
                .clone()
                .or_else(|| var("CACERT").map(PathBuf::from)),
            verify: !skip_verify,
            timeout: flags
                .timeout
                .unwrap_or(Duration::from_secs(config.timeout_seconds)),
            login,
            warnings: routing.warnings,
            mount: config.mount.clone(),
            path: config.path.clone(),
            key: config.key.clone(),
            tenant_prefix: config.tenant_prefix.clone(),
            version: match flags.version {
                Some(0) => bail!(
                    "--vault-version 0 is not a version: KV v2 numbers versions from 1 (and its API reads 0 as the latest); pass a version from `vault kv metadata get`, or drop the flag to read the latest"
                ),
                version => version,
            },
        })
    }

    /// `mount/path` as `vault kv get` shows it.
    fn secret(&self) -> String {
        format!("{}/{}", self.mount, self.path)
    }

    /// The API path a policy must grant `read` on.
    fn api_path(&self) -> String {
        format!("{}/data/{}", self.mount, self.path)
    }

    fn where_(&self) -> String {
        let address = redacted(&self.address);
        match &self.namespace {
            Some(namespace) => format!("{address} (namespace {namespace})"),
            None => address,
        }
    }

    /// `text` with the address's password replaced where the address
    /// shows in it (a client's error may print the URL).
    fn without_password(&self, text: &str) -> String {
        match self.address.password() {
            Some(password) => {
                let user = self.address.username();
                text.replace(
                    &format!("{user}:{password}@"),
                    &format!("{user}:{REDACTED}@"),
                )
            }
            None => text.to_string(),
        }
    }
}

/// What a password in the Vault address shows as in messages, as curl does.
const REDACTED: &str = "*****";

/// Checked before vaultrs sees it: its builder panics on a bad URL.
fn parse_address(text: &str) -> Result<Url> {
    let shown = redacted_text(text);
    let url = Url::parse(text.trim()).map_err(|err| {
        anyhow!("Vault address {shown:?} is not a URL ({err}); write it like https://vault.example.com:8200")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        bail!(
            "Vault address {shown:?} must be an http:// or https:// URL with a host, like https://vault.example.com:8200"
        );
    }
    Ok(url)
}

/// The address for messages: a password in it is replaced.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() && shown.set_password(Some(REDACTED)).is_err() {
        return redacted_text(url.as_str());
    }
    shown.to_string()
}

/// `scheme://user:password@host…` with the password replaced, for text
/// that may not parse as a URL.
fn redacted_text(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{REDACTED}@{host}{path}"),
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// `BAO_NAME`, else `VAULT_NAME`, when set and not blank: OpenBao's `bao`
/// prefers its own names and falls back to Vault's (its `api.ReadBaoVariable`).
fn variable(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    ["BAO_", "VAULT_"]
        .into_iter()
        .filter_map(|prefix| env(&format!("{prefix}{name}")))
        .find(|value| !value.trim().is_empty())
}

/// A line break or other control character in a header value makes the
/// HTTP client panic; tokens are refused before any request is made.
fn has_control(value: &str) -> bool {
    value.chars().any(|c| c.is_control())
}

/// The mount's type and options, as `vault kv` preflights them.
#[derive(Debug, Endpoint)]
#[endpoint(path = "sys/internal/ui/mounts/{self.mount}", response = "MountInfo")]
struct MountInfoRequest {
    #[endpoint(skip)]
    mount: String,
}

#[derive(Debug, Deserialize)]
struct MountInfo {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    options: Option<MountOptions>,
}

#[derive(Debug, Deserialize)]
struct MountOptions {
    #[serde(default)]
    version: Option<String>,
}

/// Reads the users from Vault.
pub fn read(settings: &Settings) -> Result<RawUsers> {
    let runtime = runtime()?;
    // One bound for the whole read: login, preflight and read each carry the
    // client's per-request timeout too, but together they must not add up.
    runtime.block_on(async {
        tokio::time::timeout(settings.timeout, read_async(settings))
            .await
            .unwrap_or_else(|_| Err(silent(settings)))
    })
}

/// The Vault client's runtime: one thread, for one command's requests.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime for the Vault client")
}

/// The whole read took longer than `--vault-timeout`.
fn silent(settings: &Settings) -> anyhow::Error {
    anyhow!(
        "reading {}: {} did not answer within {} s; check the server and network, or raise the limit with --vault-timeout SECONDS",
        settings.secret(),
        settings.where_(),
        settings.timeout.as_secs()
    )
}

async fn read_async(settings: &Settings) -> Result<RawUsers> {
    let client = logged_in(settings).await?;
    read_logged_in(&client, settings).await
}

/// Sends the login `request` to `auth/<mount>` and keeps the token Vault
/// answers with; `what` names the login in a failure.
async fn log_in<E: rustify::Endpoint<Response = ()>>(
    client: &mut Connection,
    settings: &Settings,
    request: E,
    mount: &str,
    what: &str,
    hint: LoginHint,
) -> Result<()> {
    let auth = client
        .auth(request)
        .await
        .map_err(|err| explain(err, settings, what, hint))?;
    let token = checked_token(&auth.client_token, &format!("the answer of auth/{mount}"))?;
    client.set_token(token.expose());
    Ok(())
}

/// A client with a token: the given one, or one from the configured login.
async fn logged_in(settings: &Settings) -> Result<Connection> {
    let mut client = Connection::new(client(settings)?);
    match &settings.login {
        Login::Token(token) => client.set_token(token.expose()),
        Login::AppRole {
            mount,
            role_id,
            secret_id,
        } => {
            let login = LoginWithApproleRequest::builder()
                .mount(mount)
                .role_id(role_id)
                .secret_id(secret_id.expose())
                .build()
                .map_err(|err| anyhow!("cannot build the Vault request: {err}"))?;
            let what = format!("AppRole login at auth/{mount}");
            log_in(
                &mut client,
                settings,
                login,
                mount,
                &what,
                LoginHint::AppRole,
            )
            .await?;
        }
        Login::Kubernetes { mount, role, jwt } => {
            let login = LoginWithKubernetesRequest::builder()
                .mount(mount)
                .role(role)
                .jwt(jwt.expose())
                .build()
                .map_err(|err| anyhow!("cannot build the Vault request: {err}"))?;
            let what = format!("Kubernetes login as role {role:?} at auth/{mount}");
            log_in(
                &mut client,
                settings,
                login,
                mount,
                &what,
                LoginHint::Kubernetes,
            )
            .await?;
        }
    }
    check_kv_version(&client, settings).await?;
    Ok(client)
}

/// The secret's data and its version: `version`, or the latest.
async fn secret_data(
    client: &Connection,
    settings: &Settings,
    version: Option<u64>,
) -> Result<(serde_json::Map<String, Value>, u64)> {
    let request = ReadSecretRequest::builder()
        .mount(settings.mount.as_str())
        .path(settings.path.as_str())
        .version(version)
        .build()
        .map_err(|err| anyhow!("cannot build the Vault request: {err}"))?;
    let response = client.data(request).await.map_err(|err| {
        explain(
            err,
            settings,
            &format!("reading {}", settings.secret()),
            LoginHint::Read,
        )
    })?;
    let version = response.metadata.version;
    match response.data {
        Value::Object(data) => Ok((data, version)),
        _ => bail!(
            "Vault secret {} version {version} holds no data (it may have been deleted); write the users under key {:?}",
            settings.secret(),
            settings.key
        ),
    }
}

async fn read_logged_in(client: &Connection, settings: &Settings) -> Result<RawUsers> {
    let (data, version) = secret_data(client, settings, settings.version).await?;
    let shown = format!("Vault secret {} version {version}", settings.secret());
    let Some(users) = data.get(&settings.key) else {
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        bail!(
            "{shown} has no key {:?} (its keys: {}); store the users there or set vault.key",
            settings.key,
            if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            }
        );
    };
    let what = format!("{shown}, key {:?},", settings.key);
    let text = match users {
        Value::String(text) => text.clone(),
        Value::Object(_) => users.to_string(),
        other => bail!(
            "{what} holds {}, not the users map; store a JSON object keyed by username (or a string holding one)",
            kind_of(other)
        ),
    };
    let (entries, sha256) = super::parse_users(text.as_bytes(), &what)?;
    let tenant_space = list_tenant_space(client, settings).await?;
    Ok(RawUsers {
        entries,
        origin: Origin::Vault {
            namespace: settings.namespace.clone(),
            mount: settings.mount.clone(),
            path: settings.path.clone(),
            key: settings.key.clone(),
            version,
            sha256,
        },
        tenant_space: Some(tenant_space),
    })
}

/// Lists the folder where each tenant namespace gets a folder of secrets,
/// so that no namespace opens up secrets someone else put there.
async fn list_tenant_space(client: &Connection, settings: &Settings) -> Result<TenantSpace> {
    let folder = &settings.tenant_prefix;
    let listed = if folder.is_empty() {
        format!("{}/", settings.mount)
    } else {
        format!("{}/{folder}/", settings.mount)
    };
    let list = ListSecretsRequest::builder()
        .mount(settings.mount.as_str())
        .path(folder.as_str())
        .build()
        .map_err(|err| anyhow!("cannot build the Vault request: {err}"))?;
    let keys = match client.data(list).await {
        Ok(listed) => listed.keys,
        // An empty folder does not exist in KV v2: nothing to collide with.
        Err(err) if status_of(&err) == Some(404) => Vec::new(),
        Err(ClientError::APIError { code: 403, .. }) => bail!(
            "listing {listed} on {}: permission denied; tenantgen lists it to refuse namespaces whose secrets folder already holds someone else's secrets. Grant the token `list` on \"{}/metadata/{}\" (README, \"Reading from Vault\")",
            settings.where_(),
            settings.mount,
            if folder.is_empty() {
                String::new()
            } else {
                format!("{folder}/")
            }
        ),
        Err(err) => {
            return Err(explain(
                err,
                settings,
                &format!("listing {listed}"),
                LoginHint::Read,
            ));
        }
    };
    Ok(TenantSpace {
        listed,
        keys: keys.into_iter().collect(),
    })
}

/// What a check-and-set write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The secret's new version.
    Version(u64),
    /// Someone wrote the secret since the version read: read it again.
    Conflict,
}

/// One logged-in client for `tenantgen users`: it reads the whole secret and
/// writes it back with check-and-set, each call bounded by the timeout.
pub struct Editor {
    runtime: tokio::runtime::Runtime,
    client: Connection,
    settings: Settings,
}

impl Editor {
    pub fn open(settings: &Settings) -> Result<Editor> {
        let runtime = runtime()?;
        let client = runtime.block_on(async {
            tokio::time::timeout(settings.timeout, logged_in(settings))
                .await
                .unwrap_or_else(|_| Err(silent(settings)))
        })?;
        Ok(Editor {
            runtime,
            client,
            settings: settings.clone(),
        })
    }

    /// The secret's data at its latest version, and that version.
    pub fn read(&self) -> Result<(serde_json::Map<String, Value>, u64)> {
        self.bounded(secret_data(&self.client, &self.settings, None))
    }

    /// Writes `data` as the next version after `version`, or reports that
    /// another writer came first.
    pub fn write(&self, data: &serde_json::Map<String, Value>, version: u64) -> Result<Written> {
        let settings = &self.settings;
        let cas = u32::try_from(version)
            .map_err(|_| anyhow!("version {version} is beyond what check-and-set takes"))?;
        let request = SetSecretRequest::builder()
            .mount(settings.mount.as_str())
            .path(settings.path.as_str())
            .data(Value::Object(data.clone()))
            .options(SetSecretRequestOptions { cas })
            .build()
            .map_err(|err| anyhow!("cannot build the Vault request: {err}"))?;
        let written = self.bounded(async { Ok(self.client.data(request).await) })?;
        match written {
            Ok(metadata) => Ok(Written::Version(metadata.version)),
            Err(ClientError::APIError { code: 400, errors })
                if errors.iter().any(|error| error.contains("check-and-set")) =>
            {
                Ok(Written::Conflict)
            }
            Err(ClientError::APIError { code: 403, .. }) => bail!(
                "writing {} on {}: permission denied; the token needs a policy granting `update` on \"{}\" (and `read`, to check the version it replaces)",
                settings.secret(),
                settings.where_(),
                settings.api_path()
            ),
            Err(err) => Err(explain(
                err,
                settings,
                &format!("writing {}", settings.secret()),
                LoginHint::Read,
            )),
        }
    }

    fn bounded<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        self.runtime.block_on(async {
            tokio::time::timeout(self.settings.timeout, work)
                .await
                .unwrap_or_else(|_| Err(silent(&self.settings)))
        })
    }

    /// `secret/platform`, as `vault kv get` names it.
    pub fn secret(&self) -> String {
        self.settings.secret()
    }

    pub fn key(&self) -> &str {
        &self.settings.key
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn client(settings: &Settings) -> Result<VaultClient> {
    let mut builder = VaultClientSettingsBuilder::default();
    builder
        .address(settings.address.as_str())
        .token("")
        .verify(settings.verify)
        .timeout(Some(settings.timeout))
        .ca_certs(
            settings
                .ca_cert
                .iter()
                .map(|path| path.to_string_lossy().into_owned())
                .collect(),
        );
    if let Some(namespace) = &settings.namespace {
        builder.set_namespace(namespace.clone());
    }
    let client_settings = builder
        .build()
        .map_err(|err| anyhow!("invalid Vault client settings: {err}"))?;
    VaultClient::new(client_settings).map_err(|err| match err {
        ClientError::FileReadError { path, .. } | ClientError::ParseCertificateError { path, .. } => anyhow!(
            "cannot use the CA certificate {path}; point VAULT_CACERT (or --vault-cacert) at a readable PEM file"
        ),
        other => anyhow!("cannot set up the Vault client: {other}"),
    })
}

/// A KV v1 mount answers a v2 read with a bare 404; tell the two apart first.
async fn check_kv_version(client: &Connection, settings: &Settings) -> Result<()> {
    let request = MountInfoRequest {
        mount: settings.mount.clone(),
    };
    // Tokens without access to the preflight endpoint still get the read.
    let Ok(info) = client.data(request).await else {
        return Ok(());
    };
    let version = info.options.and_then(|options| options.version);
    if info.kind != "kv" {
        bail!(
            "{}/ at {} is a {:?} secrets engine, not KV; set vault.mount to the KV v2 mount holding the users",
            settings.mount,
            settings.where_(),
            info.kind
        );
    }
    if version.as_deref() != Some("2") {
        bail!(
            "{}/ at {} is a KV version 1 mount; tenantgen reads KV version 2 (upgrade it with `vault kv enable-versioning {}/`, or point vault.mount at a KV v2 mount)",
            settings.mount,
            settings.where_(),
            settings.mount
        );
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum LoginHint {
    AppRole,
    Kubernetes,
    Read,
}

/// One clear message per failure; never includes a token.
fn explain(err: ClientError, settings: &Settings, action: &str, hint: LoginHint) -> anyhow::Error {
    let at = settings.where_();
    match &err {
        ClientError::APIError { code: 403, .. } => {
            let fix = match hint {
                LoginHint::AppRole => "check VAULT_ROLE_ID and VAULT_SECRET_ID (the secret id may have expired or been used up)".to_string(),
                LoginHint::Kubernetes => "check that vault.kubernetes_role binds this service account and namespace".to_string(),
                LoginHint::Read => format!(
                    "the token needs a policy granting `read` on \"{}\", or it is invalid or expired: log in again",
                    settings.api_path()
                ),
            };
            anyhow!("{action} on {at}: permission denied; {fix}")
        }
        ClientError::APIError { code: 404, .. } | ClientError::RestClientError { .. }
            if status_of(&err) == Some(404) =>
        {
            let deleted = deleted_version(&err);
            match (deleted, settings.version) {
                (Some(state), Some(version)) => anyhow!(
                    "{action} on {at}: version {version} was {state}; pin another version with --vault-version or drop the flag"
                ),
                (Some(state), None) => anyhow!(
                    "{action} on {at}: the latest version was {state}; undelete it or write the users again"
                ),
                (None, Some(version)) => anyhow!(
                    "{action} on {at}: there is no version {version} of {}; list versions with `vault kv metadata get {}`",
                    settings.secret(),
                    settings.secret()
                ),
                (None, None) => anyhow!(
                    "{action} on {at}: no secret at {} (KV v2 mount {:?}, path {:?}); check vault.mount and vault.path, or write the users with `vault kv put {} {}=@users.json`",
                    settings.secret(),
                    settings.mount,
                    settings.path,
                    settings.secret(),
                    settings.key
                ),
            }
        }
        ClientError::APIError { code, errors } => anyhow!(
            "{action} on {at}: Vault answered {code}: {}; check the server's logs",
            if errors.is_empty() {
                "no details".to_string()
            } else {
                // The server's words, on one line and with no control characters.
                crate::escape::spelled(&errors.join("; "))
            }
        ),
        _ => transport_error(&err, settings, action),
    }
}

fn status_of(err: &ClientError) -> Option<u16> {
    match err {
        ClientError::APIError { code, .. } => Some(*code),
        ClientError::RestClientError {
            source: rustify::errors::ClientError::ServerResponseError { code, .. },
        } => Some(*code),
        _ => None,
    }
}

/// "deleted" or "destroyed" when a 404 is about a removed version.
fn deleted_version(err: &ClientError) -> Option<&'static str> {
    let ClientError::RestClientError {
        source:
            rustify::errors::ClientError::ServerResponseError {
                content: Some(content),
                ..
            },
    } = err
    else {
        return None;
    };
    let body: Value = serde_json::from_str(content).ok()?;
    let metadata = body.get("data")?.get("metadata")?;
    if metadata.get("destroyed").and_then(Value::as_bool) == Some(true) {
        return Some("destroyed");
    }
    let deletion = metadata
        .get("deletion_time")
        .and_then(Value::as_str)
        .unwrap_or("");
    (!deletion.is_empty()).then_some("deleted")
}

/// Network-level failures: unreachable, timed out, TLS.
fn transport_error(err: &ClientError, settings: &Settings, action: &str) -> anyhow::Error {
    let at = settings.where_();
    let mut chain = Vec::new();
    let mut timed_out = false;
    let mut connect = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(too_large) = current.downcast_ref::<bounded::TooLarge>() {
            return anyhow!(
                "{action} on {at}: {too_large}, so it was abandoned; check that the Vault address points at Vault (README, \"Running check on pull requests\")"
            );
        }
        if let Some(reqwest_err) = current.downcast_ref::<reqwest::Error>() {
            timed_out |= reqwest_err.is_timeout();
            connect |= reqwest_err.is_connect();
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        chain.push(current.to_string());
        source = current.source();
    }
    let lower = chain.join(": ").to_lowercase();
    // The innermost cause says what happened; the layers above repeat the URL.
    let details = crate::escape::spelled(
        &settings.without_password(&chain.last().cloned().unwrap_or_default()),
    );
    if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("invalidcontenttype")
    {
        anyhow!(
            "{action}: TLS with {at} failed ({details}); set VAULT_CACERT (or --vault-cacert) to the CA that signed Vault's certificate, or use http:// for a dev server"
        )
    } else if timed_out {
        anyhow!(
            "{action}: {at} did not answer within {} s; check the server and network, or raise the limit with --vault-timeout SECONDS",
            settings.timeout.as_secs()
        )
    } else if connect {
        anyhow!(
            "{action}: cannot reach Vault at {at} ({details}); check VAULT_ADDR and that the server is running"
        )
    } else {
        anyhow!("{action} on {at} failed: {details}; check VAULT_ADDR and the server")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VaultAuth;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn config() -> VaultConfig {
        crate::config::Config::default().vault
    }

    #[test]
    fn flags_beat_environment_beats_config() {
        let mut config = config();
        config.address = Some("http://config:8200".into());
        config.namespace = Some("config-ns".into());
        config.auth = VaultAuth::Kubernetes;
        config.kubernetes_role = Some("config-role".into());
        config.jwt_path = Some("/config/jwt".into());
        // The config names the address: its routing settings apply.
        let settings_err =
            Settings::resolve(&config, &VaultFlags::default(), &env_of(&[])).unwrap_err();
        assert!(
            format!("{settings_err:#}").contains("/config/jwt"),
            "{settings_err:#}"
        );
        // The environment names it: none of them does, and each is reported.
        let env = env_of(&[
            ("VAULT_ADDR", "http://env:8200"),
            ("VAULT_TOKEN", "t"),
            ("VAULT_NAMESPACE", "env-ns"),
        ]);
        let settings = Settings::resolve(&config, &VaultFlags::default(), &env).unwrap();
        assert_eq!(settings.address.as_str(), "http://env:8200/");
        assert_eq!(settings.namespace.as_deref(), Some("env-ns"));
        assert_eq!(settings.login, Login::Token(Secret("t".into())));
        let warned: Vec<String> = settings.warnings.iter().map(ToString::to_string).collect();
        for key in [
            "vault.address",
            "vault.namespace",
            "vault.auth",
            "vault.kubernetes_role",
            "vault.jwt_path",
        ] {
            assert!(
                warned.iter().any(|warning| warning.contains(key)),
                "{key}: {warned:?}"
            );
        }
        let flags = VaultFlags {
            address: Some("https://flag:8200".into()),
            namespace: Some("flag-ns".into()),
            ..VaultFlags::default()
        };
        let settings = Settings::resolve(&config, &flags, &env).unwrap();
        assert_eq!(settings.address.as_str(), "https://flag:8200/");
        assert_eq!(settings.namespace.as_deref(), Some("flag-ns"));
        // The environment's own routing variables apply.
        let env = env_of(&[
            ("VAULT_ADDR", "http://env:8200"),
            ("TENANTGEN_VAULT_AUTH", "kubernetes"),
            ("TENANTGEN_VAULT_KUBERNETES_ROLE", "env-role"),
            ("TENANTGEN_VAULT_JWT_PATH", "/env/jwt"),
        ]);
        let err = Settings::resolve(&config, &VaultFlags::default(), &env).unwrap_err();
        assert!(format!("{err:#}").contains("/env/jwt"), "{err:#}");
    }

    #[test]
    fn openbao_names_win_over_vault_names() {
        let env = env_of(&[
            ("VAULT_ADDR", "http://vault:8200"),
            ("BAO_ADDR", "http://bao:8200"),
            ("VAULT_TOKEN", "s.vault"),
            ("BAO_TOKEN", "s.bao"),
            ("VAULT_NAMESPACE", "vault-ns"),
            ("BAO_NAMESPACE", "bao-ns"),
            ("VAULT_CACERT", "/vault.pem"),
            ("BAO_CACERT", "/bao.pem"),
            ("BAO_SKIP_VERIFY", "true"),
        ]);
        let settings = Settings::resolve(&config(), &VaultFlags::default(), &env).unwrap();
        assert_eq!(settings.address.as_str(), "http://bao:8200/");
        assert_eq!(settings.login, Login::Token(Secret("s.bao".into())));
        assert_eq!(settings.namespace.as_deref(), Some("bao-ns"));
        assert_eq!(settings.ca_cert, Some(PathBuf::from("/bao.pem")));
        assert!(!settings.verify);
        // A blank BAO_ variable does not hide the VAULT_ one.
        let env = env_of(&[
            ("BAO_ADDR", " "),
            ("VAULT_ADDR", "http://vault:8200"),
            ("VAULT_TOKEN", "t"),
        ]);
        let settings = Settings::resolve(&config(), &VaultFlags::default(), &env).unwrap();
        assert_eq!(settings.address.as_str(), "http://vault:8200/");
    }

    #[test]
    fn bad_addresses_are_rejected_before_vaultrs_sees_them() {
        for address in ["not a url", "vault.example.com", "ftp://vault", "http://"] {
            let env = env_of(&[("VAULT_ADDR", address), ("VAULT_TOKEN", "t")]);
            let err = Settings::resolve(&config(), &VaultFlags::default(), &env).unwrap_err();
            assert!(
                format!("{err:#}").contains("Vault address"),
                "{address}: {err:#}"
            );
        }
        let err = Settings::resolve(&config(), &VaultFlags::default(), &env_of(&[])).unwrap_err();
        assert!(format!("{err:#}").contains("no Vault address"), "{err:#}");
    }

    #[test]
    fn token_from_environment_or_file() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".vault-token"), "s.file-token\n").unwrap();
        let home_text = home.path().to_string_lossy().into_owned();
        let from_file = env_of(&[("VAULT_ADDR", "http://v:1"), ("HOME", &home_text)]);
        let settings = Settings::resolve(&config(), &VaultFlags::default(), &from_file).unwrap();
        assert_eq!(settings.login, Login::Token(Secret("s.file-token".into())));
        let from_env = env_of(&[
            ("VAULT_ADDR", "http://v:1"),
            ("HOME", &home_text),
            ("VAULT_TOKEN", "s.env"),
        ]);
        let settings = Settings::resolve(&config(), &VaultFlags::default(), &from_env).unwrap();
        assert_eq!(settings.login, Login::Token(Secret("s.env".into())));
        let none = env_of(&[("VAULT_ADDR", "http://v:1"), ("HOME", "/nonexistent")]);
        let err = Settings::resolve(&config(), &VaultFlags::default(), &none).unwrap_err();
        assert!(format!("{err:#}").contains("no Vault token"), "{err:#}");
    }

    #[test]
    fn approle_and_kubernetes_need_their_credentials() {
        let mut config = config();
        config.address = Some("http://v:1".into());
        config.auth = VaultAuth::AppRole;
        let env = env_of(&[("VAULT_ROLE_ID", "role")]);
        let err = Settings::resolve(&config, &VaultFlags::default(), &env).unwrap_err();
        assert!(format!("{err:#}").contains("VAULT_SECRET_ID"), "{err:#}");
        config.auth = VaultAuth::Kubernetes;
        let err = Settings::resolve(&config, &VaultFlags::default(), &env).unwrap_err();
        assert!(
            format!("{err:#}").contains("vault.kubernetes_role"),
            "{err:#}"
        );
        config.kubernetes_role = Some("tenantgen".into());
        config.jwt_path = Some("/nonexistent/token".into());
        let err = Settings::resolve(&config, &VaultFlags::default(), &env).unwrap_err();
        assert!(
            format!("{err:#}").contains("service-account token at /nonexistent/token"),
            "{err:#}"
        );
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let env = env_of(&[
            ("VAULT_ADDR", "http://v:1"),
            ("VAULT_TOKEN", "s.supersecret"),
        ]);
        let settings = Settings::resolve(&config(), &VaultFlags::default(), &env).unwrap();
        assert!(!format!("{settings:?}").contains("supersecret"));
    }

    #[test]
    fn skip_verify_follows_vault_conventions() {
        for (value, verify) in [("true", false), ("1", false), ("false", true), ("0", true)] {
            let env = env_of(&[
                ("VAULT_ADDR", "https://v:1"),
                ("VAULT_TOKEN", "t"),
                ("VAULT_SKIP_VERIFY", value),
            ]);
            assert_eq!(
                Settings::resolve(&config(), &VaultFlags::default(), &env)
                    .unwrap()
                    .verify,
                verify,
                "{value}"
            );
        }
    }
}
