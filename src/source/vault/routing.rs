//! Who may decide where a credential goes (README, "Running check on pull
//! requests"). The address follows the Vault CLI: `--vault-addr`, then
//! `VAULT_ADDR` (or `BAO_ADDR`), then `vault.address` in tenantgen.hcl. A
//! pull request writes tenantgen.hcl, so once the address comes from a flag
//! or the environment, no setting that routes a credential (the login method,
//! its mount and role, the JWT or secret-id file, the namespace) is taken
//! from it: each has its own flag and `TENANTGEN_VAULT_*` variable instead,
//! and a config value that would have differed is reported.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

use super::VaultFlags;
use crate::config::{VaultAuth, VaultConfig};
use crate::problem::Problem;

/// The in-cluster service-account token: built in, never read from the
/// config unless the config also chose the address.
pub const DEFAULT_JWT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Where the Vault address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFrom {
    Flag,
    Environment,
    Config,
}

impl AddressFrom {
    fn describe(self) -> &'static str {
        match self {
            AddressFrom::Flag => "--vault-addr",
            AddressFrom::Environment => "VAULT_ADDR (or BAO_ADDR)",
            AddressFrom::Config => "vault.address",
        }
    }
}

/// The login settings, each from its flag, its variable or (only when the
/// config chose the address) the config.
#[derive(Debug, Clone)]
pub struct Routing {
    pub address: String,
    pub address_from: AddressFrom,
    pub auth: VaultAuth,
    pub auth_mount: Option<String>,
    pub kubernetes_role: Option<String>,
    pub jwt_path: PathBuf,
    pub secret_id_file: Option<PathBuf>,
    pub namespace: Option<String>,
    /// Config values that were set aside, one warning each.
    pub warnings: Vec<Problem>,
}

/// One routing setting: its config key, flag and variable.
struct Setting {
    key: &'static str,
    flag: &'static str,
    variable: &'static str,
}

impl Routing {
    /// `var` looks up `BAO_`/`VAULT_` names, `env` any variable.
    pub fn resolve(
        config: &VaultConfig,
        flags: &VaultFlags,
        env: &dyn Fn(&str) -> Option<String>,
        var: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Routing> {
        let mut warnings = Vec::new();
        let (address, address_from) = address(config, flags, var, &mut warnings)?;
        let mut pick = Picker {
            trusted: address_from == AddressFrom::Config,
            from: address_from,
            env,
            warnings: &mut warnings,
        };
        let auth = pick.text(
            setting("auth", "--vault-auth", "TENANTGEN_VAULT_AUTH"),
            flags.login.auth.clone(),
            config_auth(config.auth),
        );
        let auth = match auth {
            Some(name) => VaultAuth::try_from(name).map_err(|err| {
                anyhow!("the Vault login method (--vault-auth, TENANTGEN_VAULT_AUTH or vault.auth) {err}")
            })?,
            None => VaultAuth::Token,
        };
        let auth_mount = pick.text(
            setting(
                "auth_mount",
                "--vault-auth-mount",
                "TENANTGEN_VAULT_AUTH_MOUNT",
            ),
            flags.login.auth_mount.clone(),
            config.auth_mount.clone(),
        );
        let kubernetes_role = pick.text(
            setting(
                "kubernetes_role",
                "--vault-kubernetes-role",
                "TENANTGEN_VAULT_KUBERNETES_ROLE",
            ),
            flags.login.kubernetes_role.clone(),
            config.kubernetes_role.clone(),
        );
        let jwt_path = pick
            .path(
                setting("jwt_path", "--vault-jwt-path", "TENANTGEN_VAULT_JWT_PATH"),
                flags.login.jwt_path.clone(),
                config.jwt_path.clone(),
            )
            .unwrap_or_else(|| PathBuf::from(DEFAULT_JWT_PATH));
        let secret_id_file = pick.path(
            setting(
                "secret_id_file",
                "--vault-secret-id-file",
                "TENANTGEN_VAULT_SECRET_ID_FILE",
            ),
            flags.login.secret_id_file.clone(),
            config.secret_id_file.clone(),
        );
        let namespace = pick.text(
            setting("namespace", "--vault-namespace", "VAULT_NAMESPACE"),
            flags.namespace.clone().or_else(|| var("NAMESPACE")),
            config.namespace.clone(),
        );
        Ok(Routing {
            address,
            address_from,
            auth,
            auth_mount,
            kubernetes_role,
            jwt_path,
            secret_id_file,
            namespace,
            warnings,
        })
    }
}

/// The address as the Vault CLI takes it, and a warning when the config's
/// differs from the one used.
fn address(
    config: &VaultConfig,
    flags: &VaultFlags,
    var: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<Problem>,
) -> Result<(String, AddressFrom)> {
    let (address, address_from) = match (flags.address.clone(), var("ADDR")) {
        (Some(address), _) => (address, AddressFrom::Flag),
        (None, Some(address)) => (address, AddressFrom::Environment),
        (None, None) => (
            config.address.clone().ok_or_else(|| anyhow!(
                "no Vault address: set VAULT_ADDR (or BAO_ADDR), pass --vault-addr, or set vault.address in tenantgen.hcl (or read a file with --users FILE)"
            ))?,
            AddressFrom::Config,
        ),
    };
    if address_from != AddressFrom::Config
        && let Some(ignored) = &config.address
        && ignored.trim().trim_end_matches('/') != address.trim().trim_end_matches('/')
    {
        warnings.push(Problem::new(
            "vault.address",
            format!(
                "tenantgen.hcl names Vault at {:?}, but {} names another address, which is used: a flag or the environment decides where credentials go, never the config (README, \"Running check on pull requests\"); remove vault.address or make it agree",
                super::redacted_text(ignored),
                address_from.describe()
            ),
        ));
    }
    Ok((address, address_from))
}

fn setting(key: &'static str, flag: &'static str, variable: &'static str) -> Setting {
    Setting {
        key,
        flag,
        variable,
    }
}

/// `vault.auth` as the config holds it; `token` is the default, so it
/// counts as unset.
fn config_auth(auth: VaultAuth) -> Option<String> {
    match auth {
        VaultAuth::Token => None,
        VaultAuth::Kubernetes => Some("kubernetes".into()),
        VaultAuth::AppRole => Some("approle".into()),
    }
}

struct Picker<'a, 'w> {
    trusted: bool,
    from: AddressFrom,
    env: &'a dyn Fn(&str) -> Option<String>,
    warnings: &'w mut Vec<Problem>,
}

impl Picker<'_, '_> {
    /// The flag, else the variable, else the config's value when the config
    /// chose the address; a config value set aside and different is reported.
    fn text(
        &mut self,
        setting: Setting,
        flag: Option<String>,
        config: Option<String>,
    ) -> Option<String> {
        let chosen =
            flag.or_else(|| (self.env)(setting.variable).filter(|value| !value.trim().is_empty()));
        if self.trusted {
            return chosen.or(config);
        }
        if let Some(ignored) = config
            && chosen.as_ref() != Some(&ignored)
        {
            self.warnings.push(Problem::new(
                format!("vault.{}", setting.key),
                format!(
                    "vault.{} = {:?} in tenantgen.hcl is not used: the Vault address comes from {}, so settings that decide where credentials go come from flags and the environment only (README, \"Running check on pull requests\"); pass {} or set {} instead",
                    setting.key,
                    ignored,
                    self.from.describe(),
                    setting.flag,
                    setting.variable
                ),
            ));
        }
        chosen
    }

    fn path(
        &mut self,
        setting: Setting,
        flag: Option<PathBuf>,
        config: Option<PathBuf>,
    ) -> Option<PathBuf> {
        let text = |path: PathBuf| path.to_string_lossy().into_owned();
        self.text(setting, flag.map(text), config.map(text))
            .map(PathBuf::from)
    }
}

/// The routing settings given on the command line.
#[derive(Debug, Clone, Default)]
pub struct LoginFlags {
    pub auth: Option<String>,
    pub auth_mount: Option<String>,
    pub kubernetes_role: Option<String>,
    pub jwt_path: Option<PathBuf>,
    pub secret_id_file: Option<PathBuf>,
}

impl LoginFlags {
    pub fn any(&self) -> bool {
        self.auth.is_some()
            || self.auth_mount.is_some()
            || self.kubernetes_role.is_some()
            || self.jwt_path.is_some()
            || self.secret_id_file.is_some()
    }
}
