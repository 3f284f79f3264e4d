//! The command line's clap types: each command takes exactly the flags it uses.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::source::vault::{LoginFlags, VaultFlags};

#[derive(Debug, Parser)]
#[command(
    name = "tenantgen",
    version,
    about = "Render a platform's k8s_users tenant map into deterministic, reviewable Terraform",
    long_about = None,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Each command takes exactly the flags it uses, so a flag that would do
// nothing (`validate --format json`) is an error instead of silently ignored.

/// Where the users come from and how strictly they are read.
#[derive(Debug, Clone, Args)]
pub struct UsersArgs {
    /// Config file [default: ./tenantgen.hcl when present]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Users file (the k8s_users JSON map); overrides users_file
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Treat unknown fields in the users map as errors
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub vault: VaultArgs,
}

#[derive(Debug, Clone, Args)]
pub struct VaultArgs {
    /// Read the users from Vault KV v2 (vault block of the config, VAULT_* or BAO_* variables)
    #[arg(long, conflicts_with = "users")]
    pub vault: bool,
    /// Vault address; overrides vault.address, BAO_ADDR and VAULT_ADDR
    #[arg(long, value_name = "URL")]
    pub vault_addr: Option<String>,
    /// Vault namespace; overrides vault.namespace, BAO_NAMESPACE and VAULT_NAMESPACE
    #[arg(long, value_name = "NAMESPACE")]
    pub vault_namespace: Option<String>,
    /// CA certificate (PEM) that signed Vault's certificate; overrides BAO_CACERT and VAULT_CACERT
    #[arg(long, value_name = "FILE")]
    pub vault_cacert: Option<PathBuf>,
    /// Do not verify Vault's TLS certificate (dev servers only)
    #[arg(long)]
    pub vault_skip_verify: bool,
    /// Read this version of the secret instead of the latest
    #[arg(long, value_name = "N")]
    pub vault_version: Option<u64>,
    /// Give up on the Vault read after this many seconds [default: vault.timeout or 10]
    #[arg(long, value_name = "SECONDS")]
    pub vault_timeout: Option<u64>,
    /// Login method: token, approle or kubernetes; overrides TENANTGEN_VAULT_AUTH (and vault.auth)
    #[arg(long, value_name = "METHOD")]
    pub vault_auth: Option<String>,
    /// Mount of the login method; overrides TENANTGEN_VAULT_AUTH_MOUNT (and vault.auth_mount)
    #[arg(long, value_name = "PATH")]
    pub vault_auth_mount: Option<String>,
    /// Vault role for the Kubernetes login; overrides TENANTGEN_VAULT_KUBERNETES_ROLE (and vault.kubernetes_role)
    #[arg(long, value_name = "ROLE")]
    pub vault_kubernetes_role: Option<String>,
    /// Service-account token sent by the Kubernetes login; overrides TENANTGEN_VAULT_JWT_PATH (and vault.jwt_path)
    #[arg(long, value_name = "FILE")]
    pub vault_jwt_path: Option<PathBuf>,
    /// AppRole secret-id file; overrides TENANTGEN_VAULT_SECRET_ID_FILE (and vault.secret_id_file)
    #[arg(long, value_name = "FILE")]
    pub vault_secret_id_file: Option<PathBuf>,
}

/// The output tree and the templates that fill it.
#[derive(Debug, Default, Args)]
pub struct TreeArgs {
    /// Output root; overrides out
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder of template overrides, named like the built-in templates
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

/// What happens to namespaces this render stops managing.
#[derive(Debug, Default, Args)]
pub struct NamespaceArgs {
    /// Let Terraform delete this namespace (and its data) instead of releasing it; repeatable
    #[arg(long, value_name = "NAMESPACE")]
    pub destroy_namespace: Vec<String>,
    /// Drop an applied release or re-adoption from the record and the generated blocks; repeatable
    #[arg(long, value_name = "NAMESPACE")]
    pub forget_released: Vec<String>,
}

/// The guard against revoking everyone (`guard` in the config).
#[derive(Debug, Default, Args)]
pub struct GuardArgs {
    /// Let this render remove up to N users, beyond guard.max_removed or leaving none
    #[arg(long, value_name = "N")]
    pub allow_removals: Option<usize>,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct ColorArgs {
    /// When to colour the output
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Output: text for people, json for tools
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl VaultArgs {
    /// The Vault overrides, when the users come from Vault.
    pub(super) fn flags(&self) -> Option<VaultFlags> {
        let flags = VaultFlags {
            address: self.vault_addr.clone(),
            namespace: self.vault_namespace.clone(),
            ca_cert: self.vault_cacert.clone(),
            skip_verify: self.vault_skip_verify,
            version: self.vault_version,
            timeout: self.vault_timeout.map(Duration::from_secs),
            login: LoginFlags {
                auth: self.vault_auth.clone(),
                auth_mount: self.vault_auth_mount.clone(),
                kubernetes_role: self.vault_kubernetes_role.clone(),
                jwt_path: self.vault_jwt_path.clone(),
                secret_id_file: self.vault_secret_id_file.clone(),
            },
        };
        let any_flag = flags.address.is_some()
            || flags.namespace.is_some()
            || flags.ca_cert.is_some()
            || flags.skip_verify
            || flags.version.is_some()
            || flags.timeout.is_some()
            || flags.login.any();
        (self.vault || any_flag).then_some(flags)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the diff and a summary, ask, then write the generated files
    Render {
        /// Write without asking
        #[arg(long, short)]
        yes: bool,
        /// Overwrite or delete generated files that were edited by hand
        #[arg(long)]
        force: bool,
        /// Rebuild a lost or damaged render record (.tenantgen.json) from the generated files and the current users
        #[arg(long)]
        rebuild_record: bool,
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        tree: TreeArgs,
        #[command(flatten)]
        namespaces: NamespaceArgs,
        #[command(flatten)]
        guard: GuardArgs,
        #[command(flatten)]
        color: ColorArgs,
        #[command(flatten)]
        review: Review,
    },
    /// Show what render would change; exit 0 when nothing, 2 when something would change
    Diff {
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        tree: TreeArgs,
        #[command(flatten)]
        namespaces: NamespaceArgs,
        #[command(flatten)]
        guard: GuardArgs,
        #[command(flatten)]
        format: FormatArgs,
        #[command(flatten)]
        color: ColorArgs,
        #[command(flatten)]
        review: Review,
    },
    /// For CI: exit 0 when the generated files are up to date, 2 when stale or hand-edited
    Check {
        /// Without reading the users: check headers and the file set against the last render's record
        #[arg(long, conflicts_with_all = ["users", "strict", "VaultArgs", "templates", "NamespaceArgs", "GuardArgs"])]
        offline: bool,
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        tree: TreeArgs,
        #[command(flatten)]
        namespaces: NamespaceArgs,
        #[command(flatten)]
        guard: GuardArgs,
        #[command(flatten)]
        format: FormatArgs,
        #[command(flatten)]
        color: ColorArgs,
        #[command(flatten)]
        review: Review,
    },
    /// Validate the users and the config only
    Validate {
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        color: ColorArgs,
    },
    /// Show who can do what: every user's and CI deployer's Kubernetes and Vault grants
    Access {
        /// Only these users (and their deployers); default: everyone
        #[arg(value_name = "USER")]
        only: Vec<String>,
        /// Folder of template overrides, as render's: what they grant beyond the built-in templates is shown
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        format: FormatArgs,
        #[command(flatten)]
        color: ColorArgs,
    },
    /// Add, change, remove or list users where they are kept (file or Vault), checked before writing
    Users {
        #[command(subcommand)]
        action: Box<UsersAction>,
    },
    /// Print a shell completion script, e.g. `tenantgen completions bash > /etc/bash_completion.d/tenantgen`
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), e.g. `tenantgen man > /usr/local/share/man/man1/tenantgen.1`
    Man,
}

impl Command {
    pub(super) fn color(&self) -> ColorChoice {
        match self {
            Command::Render { color, .. }
            | Command::Diff { color, .. }
            | Command::Check { color, .. }
            | Command::Validate { color, .. }
            | Command::Access { color, .. } => color.color,
            Command::Users { action } => match action.as_ref() {
                UsersAction::List { color, .. } => color.color,
                UsersAction::Add { edit, .. }
                | UsersAction::Set { edit, .. }
                | UsersAction::Remove { edit, .. } => edit.color.color,
            },
            Command::Completions { .. } | Command::Man => ColorChoice::Auto,
        }
    }
}

/// How the commands that show diffs show them.
#[derive(Debug, Clone, Copy, Args)]
pub struct Review {
    /// Print the diffs straight to stdout instead of through PAGER (default `less`) on a terminal
    #[arg(long)]
    pub no_pager: bool,
    /// Show the render record's (.tenantgen.json) own diff instead of one line
    #[arg(long)]
    pub show_record: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// List the users: role, email, namespaces, domains, quota, apps
    List {
        #[command(flatten)]
        users: UsersArgs,
        #[command(flatten)]
        format: FormatArgs,
        #[command(flatten)]
        color: ColorArgs,
    },
    /// Add a user; what no flag gives comes from the config's onboarding block
    Add {
        /// The username (the key in k8s_users)
        name: String,
        #[command(flatten)]
        fields: FieldArgs,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Change a user: each field given replaces that field
    Set {
        /// The username (the key in k8s_users)
        name: String,
        #[command(flatten)]
        fields: FieldArgs,
        #[command(flatten)]
        lists: ListChangeArgs,
        #[command(flatten)]
        edit: EditArgs,
    },
    /// Remove a user (their namespaces are released at the next render, not deleted)
    Remove {
        /// The username (the key in k8s_users)
        name: String,
        #[command(flatten)]
        edit: EditArgs,
    },
}

/// A user's fields, as flags.
#[derive(Debug, Args)]
pub struct FieldArgs {
    /// namespace-owner, power-user or admin
    #[arg(long)]
    pub role: Option<String>,
    /// The OIDC email
    #[arg(long)]
    pub email: Option<String>,
    /// A namespace the user owns (repeatable; the list replaces the field)
    #[arg(long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// A domain, full or short (repeatable; the list replaces the field)
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    /// A quota entry (repeatable; together they replace the quota)
    #[arg(long = "quota", value_name = "KEY=VALUE")]
    pub quota: Vec<String>,
    /// A factory app (repeatable; the list replaces the field)
    #[arg(long = "app", value_name = "APP")]
    pub apps: Vec<String>,
}

/// Additions to and removals from a user's lists.
#[derive(Debug, Args)]
pub struct ListChangeArgs {
    #[arg(long, value_name = "NS")]
    pub add_namespace: Vec<String>,
    #[arg(long, value_name = "NS")]
    pub remove_namespace: Vec<String>,
    #[arg(long, value_name = "DOMAIN")]
    pub add_domain: Vec<String>,
    #[arg(long, value_name = "DOMAIN")]
    pub remove_domain: Vec<String>,
    #[arg(long, value_name = "APP")]
    pub add_app: Vec<String>,
    #[arg(long, value_name = "APP")]
    pub remove_app: Vec<String>,
}

/// What every edit takes: the source, the prompt, and a render after.
#[derive(Debug, Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub users: UsersArgs,
    /// Write without asking
    #[arg(long, short)]
    pub yes: bool,
    /// Run `tenantgen render` after a successful write (asking as render does)
    #[arg(long)]
    pub render: bool,
    #[command(flatten)]
    pub color: ColorArgs,
}
