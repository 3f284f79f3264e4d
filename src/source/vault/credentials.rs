//! The credential tenantgen logs in with: a token (from the environment or
//! `~/.vault-token`), or an AppRole or Kubernetes login whose settings
//! [`routing`](super::routing) chose. Credential files are read through
//! `source::read_regular`, bounded: the path may name a device or a FIFO.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::routing::Routing;
use super::{Login, Secret, has_control, variable};
use crate::config::{VaultAuth, VaultConfig};
use crate::source::{Bounded, read_regular};

/// The login the routing settings name (`routing`).
pub(super) fn login(
    config: &VaultConfig,
    routing: &Routing,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Login> {
    let var = |name: &str| variable(env, name);
    Ok(match routing.auth {
        VaultAuth::Token => Login::Token(token(env)?),
        VaultAuth::AppRole => {
            let role_id = var("ROLE_ID").or_else(|| config.role_id.clone()).ok_or_else(|| {
                anyhow!("AppRole login needs a role id: set VAULT_ROLE_ID or vault.role_id in tenantgen.hcl")
            })?;
            let secret_id = match (var("SECRET_ID"), &routing.secret_id_file) {
                (Some(secret_id), _) => secret_id,
                (None, Some(file)) => read_secret_file(
                    file,
                    "AppRole secret id",
                    "--vault-secret-id-file, TENANTGEN_VAULT_SECRET_ID_FILE or vault.secret_id_file",
                )?,
                (None, None) => bail!(
                    "AppRole login needs a secret id: set VAULT_SECRET_ID, or name its file with --vault-secret-id-file, TENANTGEN_VAULT_SECRET_ID_FILE or vault.secret_id_file"
                ),
            };
            Login::AppRole {
                mount: routing
                    .auth_mount
                    .clone()
                    .unwrap_or_else(|| "approle".into()),
                role_id: role_id.trim().to_string(),
                secret_id: Secret(secret_id.trim().to_string()),
            }
        }
        VaultAuth::Kubernetes => {
            let role = routing.kubernetes_role.clone().ok_or_else(|| {
                anyhow!(
                    "Kubernetes login needs a role: pass --vault-kubernetes-role, set TENANTGEN_VAULT_KUBERNETES_ROLE or vault.kubernetes_role in tenantgen.hcl"
                )
            })?;
            let jwt = read_secret_file(
                &routing.jwt_path,
                "service-account token",
                "--vault-jwt-path, TENANTGEN_VAULT_JWT_PATH or vault.jwt_path",
            )?;
            Login::Kubernetes {
                mount: routing
                    .auth_mount
                    .clone()
                    .unwrap_or_else(|| "kubernetes".into()),
                role,
                jwt: Secret(jwt.trim().to_string()),
            }
        }
    })
}

/// `BAO_TOKEN` or `VAULT_TOKEN`, else the token `vault login` (or `bao
/// login`) leaves in `~/.vault-token`.
fn token(env: &dyn Fn(&str) -> Option<String>) -> Result<Secret> {
    if let Some(token) = variable(env, "TOKEN") {
        return checked_token(&token, "VAULT_TOKEN (or BAO_TOKEN)");
    }
    if let Some(home) = env("HOME").filter(|home| !home.is_empty()) {
        let file = Path::new(&home).join(".vault-token");
        if let Ok(token) = read_text_bounded(&file)
            && !token.trim().is_empty()
        {
            return checked_token(&token, &file.display().to_string());
        }
    }
    bail!(
        "no Vault token: set VAULT_TOKEN (or BAO_TOKEN) or run `vault login` (which writes ~/.vault-token), or configure vault.auth = \"approle\" or \"kubernetes\""
    )
}

/// Most bytes read from a token or secret-id file: far more than any token.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// The text of a credential file, read through a bounded reader: `path`
/// may name a device or a FIFO.
fn read_text_bounded(path: &Path) -> std::io::Result<String> {
    let bytes = match read_regular(path, MAX_SECRET_BYTES)? {
        Bounded::Read(bytes) => bytes,
        Bounded::NotRegular(kind) => {
            return Err(std::io::Error::other(format!(
                "it is {kind}, not a regular file"
            )));
        }
        Bounded::TooLarge(_) => {
            return Err(std::io::Error::other(format!(
                "it holds more than {} KiB, too much for a credential",
                MAX_SECRET_BYTES / 1024
            )));
        }
    };
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("it is not UTF-8 text"))
}

/// The token found in `origin`, trimmed; never printed.
pub(super) fn checked_token(token: &str, origin: &str) -> Result<Secret> {
    let token = token.trim();
    if has_control(token) {
        bail!(
            "the Vault token in {origin} contains a control character (such as a line break), so it is not a token; set it again to the token alone"
        );
    }
    Ok(Secret(token.to_string()))
}

fn read_secret_file(path: &Path, what: &str, key: &str) -> Result<String> {
    let text = read_text_bounded(path)
        .with_context(|| format!("cannot read the {what} at {}; check {key}", path.display()))?;
    if text.trim().is_empty() {
        bail!("the {what} file {} is empty; check {key}", path.display());
    }
    Ok(text)
}
