//! The man page: clap_mangen's, plus ENVIRONMENT and EXIT STATUS.

use anyhow::Result;
use clap::CommandFactory;

use super::Cli;

/// Every environment variable tenantgen reads, with what it does.
const ENVIRONMENT: [(&str, &str); 11] = [
    (
        "VAULT_ADDR, BAO_ADDR",
        "Vault (or OpenBao) address, unless --vault-addr; wins over vault.address, and then the config chooses none of the login settings.",
    ),
    (
        "VAULT_TOKEN, BAO_TOKEN",
        "Token for vault.auth = \"token\"; without it, ~/.vault-token as `vault login` leaves it.",
    ),
    (
        "VAULT_NAMESPACE, BAO_NAMESPACE",
        "Vault namespace, unless --vault-namespace; vault.namespace applies only when the config names the address.",
    ),
    (
        "VAULT_CACERT, BAO_CACERT",
        "CA certificate (PEM) that signed Vault's certificate, unless --vault-cacert.",
    ),
    (
        "VAULT_SKIP_VERIFY, BAO_SKIP_VERIFY",
        "Any value but 0, f or false turns off TLS verification (dev servers only).",
    ),
    (
        "VAULT_ROLE_ID, BAO_ROLE_ID, VAULT_SECRET_ID, BAO_SECRET_ID",
        "AppRole credentials for the approle login; they win over vault.role_id and the secret-id file.",
    ),
    (
        "TENANTGEN_VAULT_AUTH, TENANTGEN_VAULT_AUTH_MOUNT, TENANTGEN_VAULT_KUBERNETES_ROLE, TENANTGEN_VAULT_JWT_PATH, TENANTGEN_VAULT_SECRET_ID_FILE",
        "Login method, its mount, Kubernetes role, token file and secret-id file, unless the matching --vault-* flag; the config's values apply only when it names the address.",
    ),
    ("HOME", "Where ~/.vault-token is looked for."),
    (
        "PAGER",
        "Program that long output on a terminal is shown through (--no-pager turns it off).",
    ),
    (
        "NO_COLOR",
        "When set and not empty, --color auto does not colour.",
    ),
    ("TERM", "dumb: --color auto does not colour."),
];

/// What each exit status means, as the README's Commands section says.
const EXIT_STATUS: [(&str, &str); 4] = [
    (
        "0",
        "Success: written or nothing to do (render), no changes (diff), up to date (check), valid (validate).",
    ),
    (
        "1",
        "An error, invalid input, a usage error or a declined render; nothing was written.",
    ),
    (
        "2",
        "diff and check: the tree differs from what tenantgen generates (check --offline: from the render record).",
    ),
    (
        "130",
        "Interrupted (SIGINT, SIGTERM or SIGHUP) at the confirmation prompt or during the write; the tree is whole, old or new.",
    ),
];

/// clap_mangen's page, each command's options, then ENVIRONMENT and EXIT
/// STATUS, which clap knows nothing about.
pub(super) fn man_page() -> Result<Vec<u8>> {
    use clap_mangen::roff::{Roff, bold, roman};
    let cli = Cli::command();
    let man = clap_mangen::Man::new(cli.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    for command in cli.get_subcommands() {
        if command.get_arguments().next().is_none() {
            continue;
        }
        let mut options = Vec::new();
        clap_mangen::Man::new(command.clone()).render_options_section(&mut options)?;
        // clap_mangen heads it OPTIONS; say whose they are.
        let options = String::from_utf8_lossy(&options).replacen(
            ".SH OPTIONS",
            &format!(".SH \"{} OPTIONS\"", command.get_name().to_uppercase()),
            1,
        );
        page.extend_from_slice(options.as_bytes());
    }
    let mut roff = Roff::new();
    for (title, entries) in [
        ("ENVIRONMENT", &ENVIRONMENT[..]),
        ("EXIT STATUS", &EXIT_STATUS[..]),
    ] {
        roff.control("SH", [title]);
        for (name, meaning) in entries {
            roff.control("TP", [])
                .text([bold(*name)])
                .text([roman(*meaning)]);
        }
    }
    roff.to_writer(&mut page)?;
    man.render_version_section(&mut page)?;
    Ok(page)
}
