//! Stage 2: the typed, validated tenants.
//!
//! Every rule of the README's "Input" section is checked and every problem is reported at once,
//! each naming the user, the field, the value and the fix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, PolicyScope, QuotaKey};
use crate::escape;
use crate::names;
use crate::problem::{Problem, Problems};
use crate::quantity;
use crate::source::{Origin, RawUsers, TenantSpace};

mod policies;

/// The validated users, sorted by name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tenants {
    pub users: Vec<User>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// OIDC identity: RBAC subject and Vault alias name.
    pub email: String,
    /// Sorted, so reordering the input list changes nothing.
    pub namespaces: Vec<String>,
    /// Sorted.
    pub domains: Vec<String>,
    /// Every quota entry, with config defaults filled in.
    #[serde(skip)]
    pub quota: BTreeMap<QuotaKey, String>,
    /// Sorted.
    pub apps: Vec<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    NamespaceOwner,
    PowerUser,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::NamespaceOwner, Role::PowerUser, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::NamespaceOwner => "namespace-owner",
            Role::PowerUser => "power-user",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The validated tenants and the warnings validation produced.
#[derive(Debug)]
pub struct Validated {
    pub tenants: Tenants,
    pub warnings: Vec<Problem>,
}

/// The input broke at least one rule; nothing may be rendered from it.
#[derive(Debug)]
pub struct Invalid {
    pub problems: Problems,
    /// Found in the same pass, so they can be fixed together with the errors.
    pub warnings: Vec<Problem>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.problems.fmt(f)
    }
}

impl std::error::Error for Invalid {}

const KNOWN_FIELDS: [&str; 6] = ["role", "email", "namespaces", "domains", "quota", "apps"];

/// Validates the raw users against the rules and the config.
pub fn build(raw: &RawUsers, config: &Config, strict: bool) -> Result<Validated, Invalid> {
    let mut checker = Checker {
        config,
        strict,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let mut users: Vec<User> = raw
        .entries
        .iter()
        .filter_map(|(name, value)| checker.user(name, value))
        .collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    checker.across_users(&users);
    let what = match &raw.origin {
        Origin::File { .. } => "k8s_users".to_string(),
        origin @ Origin::Vault { .. } => format!("k8s_users ({})", origin.describe()),
    };
    match Problems::new(what, checker.problems)
        .hint("fix the users source and run the command again")
        .into_result()
    {
        Ok(()) => Ok(Validated {
            tenants: Tenants { users },
            warnings: checker.warnings,
        }),
        Err(problems) => Err(Invalid {
            problems,
            warnings: checker.warnings,
        }),
    }
}

/// Refuses namespaces whose secrets folder would open up secrets that are
/// not their owner's: a secret of the same name beside it (the platform's),
/// or a folder that already exists but was not the owner's namespace at the
/// last render (`managed`: namespace → user). Without a last render, only
/// adoption (`adopt {}`) takes existing folders as their tenants' own.
pub fn check_tenant_space(
    validated: &Validated,
    config: &Config,
    space: &TenantSpace,
    managed: &BTreeMap<String, String>,
    first_render: bool,
) -> Result<(), Invalid> {
    let mut problems = Vec::new();
    let mount = &config.vault.mount;
    for user in &validated.tenants.users {
        // The folders the user's policy covers, by the name that makes each.
        let named: Vec<(String, &str, Option<&str>)> = match config.vault.policy_scope {
            PolicyScope::Namespace => user
                .namespaces
                .iter()
                .enumerate()
                .map(|(index, namespace)| {
                    (
                        format!("user {:?}: namespaces[{index}] = {namespace:?}", user.name),
                        namespace.as_str(),
                        managed.get(namespace).map(String::as_str),
                    )
                })
                .collect(),
            PolicyScope::User if user.namespaces.is_empty() => Vec::new(),
            PolicyScope::User => {
                let before = managed.values().any(|owner| *owner == user.name);
                vec![(
                    format!("user {:?} (vault.policy_scope = \"user\")", user.name),
                    user.name.as_str(),
                    before.then_some(user.name.as_str()),
                )]
            }
        };
        for (subject, namespace, owner) in named {
            let folder = config.tenant_folder(namespace);
            if space.keys.contains(namespace) {
                problems.push(
                    Problem::new(
                        subject,
                        format!(
                            "would give {} the Vault secrets under {mount}/{folder}/, beside the existing secret {mount}/{folder}, which no tenant owns",
                            user.name
                        ),
                    )
                    .hint(format!(
                        "choose another namespace, e.g. \"{}-{namespace}\", or set vault.tenant_prefix to keep tenants' secrets in a folder of their own",
                        user.name
                    )),
                );
                continue;
            }
            let owned =
                owner == Some(user.name.as_str()) || (first_render && config.adopt.is_some());
            if space.keys.contains(&format!("{namespace}/")) && !owned {
                let before = match owner {
                    Some(owner) => format!("which were {owner:?}'s at the last render"),
                    None => "which no render gave them".to_string(),
                };
                problems.push(
                    Problem::new(
                        subject,
                        format!(
                            "would give {} create, read, update and delete on the secrets already in {mount}/{folder}/, {before}",
                            user.name
                        ),
                    )
                    .hint(format!(
                        "choose another namespace, or move those secrets first (`bao kv list {mount}/{folder}`)"
                    )),
                );
            }
        }
    }
    Problems::new(format!("k8s_users (against {})", space.listed), problems)
        .hint("fix the users source and run the command again")
        .into_result()
        .map_err(|problems| Invalid {
            problems,
            warnings: validated.warnings.clone(),
        })
}

struct Checker<'a> {
    config: &'a Config,
    strict: bool,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

/// A value as it appears in messages: JSON, cut short when long.
/// A value as JSON for a message, invisible characters spelled out.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 80 {
        escape::spelled(&text)
    } else {
        let cut: String = text.chars().take(60).collect();
        format!(
            "{}… ({} characters)",
            escape::spelled(&cut),
            text.chars().count()
        )
    }
}

fn shown_str(value: &str) -> String {
    shown(&Value::String(value.to_string()))
}

/// `user "alice"`, as every problem with a user begins.
fn subject(user: &str) -> String {
    format!("user {}", shown_str(user))
}

impl Checker<'_> {
    fn problem(&mut self, user: &str, field: &str, value: &Value, message: impl fmt::Display) {
        self.problems.push(Problem::new(
            format!("{}: {field} = {}", subject(user), shown(value)),
            message.to_string(),
        ));
    }

    /// A problem with a user as a whole rather than one field's value.
    fn user_problem(&mut self, user: &str, message: impl fmt::Display) {
        self.problems
            .push(Problem::new(subject(user), message.to_string()));
    }

    /// Unknown names are warnings, or errors under `--strict`.
    fn unknown(&mut self, user: &str, message: String) {
        if self.strict {
            self.problems.push(Problem::new(
                subject(user),
                format!("{message} (an error because of --strict)"),
            ));
        } else {
            self.warnings.push(Problem::new(
                subject(user),
                format!("{message} (ignored; --strict makes this an error)"),
            ));
        }
    }

    fn user(&mut self, name: &str, value: &Value) -> Option<User> {
        let mut valid = true;
        if let Err(problem) = names::check_username(name) {
            self.user_problem(
                name,
                format!("the username {problem}; rename the key (it becomes namespace, policy and file names)"),
            );
            valid = false;
        } else if self.config.vault.policy_scope == PolicyScope::User
            && self.config.users_secret_beside(name)
        {
            self.user_problem(
                name,
                format!(
                    "would get the Vault secrets under {}/{}/ (vault.policy_scope = \"user\"), beside the users secret {}/{} itself; rename the user, or set vault.tenant_prefix",
                    self.config.vault.mount,
                    self.config.tenant_folder(name),
                    self.config.vault.mount,
                    self.config.vault.path
                ),
            );
            valid = false;
        }
        let Some(fields) = value.as_object() else {
            self.user_problem(
                name,
                format!(
                    "must be a JSON object such as {{\"role\": \"namespace-owner\"}}, not {}",
                    shown(value)
                ),
            );
            return None;
        };
        for field in fields.keys() {
            if !KNOWN_FIELDS.contains(&field.as_str()) {
                self.unknown_field(name, field, &KNOWN_FIELDS);
            }
        }
        let role = self.role(name, fields.get("role"));
        let email = self.email(name, fields.get("email"));
        let namespaces = self.namespaces(name, role, fields.get("namespaces"));
        let domains = self.domains(name, fields.get("domains"));
        let quota = self.quota(name, fields.get("quota"));
        let apps = self.apps(name, fields.get("apps"));
        if let (Some(role), Some([])) = (role, namespaces.as_deref())
            && fields.contains_key("quota")
        {
            self.warnings.push(Problem::new(
                subject(name),
                format!("quota has no effect because the {role} owns no namespaces"),
            ));
        }
        Some(User {
            name: name.to_string(),
            role: role?,
            email: email?,
            namespaces: namespaces?,
            domains: domains?,
            quota: quota?,
            apps: apps?,
        })
        .filter(|_| valid)
    }

    fn unknown_field(&mut self, user: &str, field: &str, known: &[&str]) {
        let suggestion = names::closest(field, known.iter().copied())
            .map(|close| format!("did you mean {close:?}? "))
            .unwrap_or_default();
        self.unknown(
            user,
            format!(
                "unknown field {}; {suggestion}known fields: {}",
                shown_str(field),
                known.join(", ")
            ),
        );
    }

    fn role(&mut self, user: &str, value: Option<&Value>) -> Option<Role> {
        let allowed = Role::ALL.map(Role::as_str).join(", ");
        let Some(value) = value else {
            self.user_problem(
                user,
                format!("field `role` is missing; add \"role\": one of {allowed}"),
            );
            return None;
        };
        let role = value
            .as_str()
            .and_then(|text| Role::ALL.into_iter().find(|role| role.as_str() == text));
        if role.is_none() {
            self.problem(
                user,
                "role",
                value,
                format!("unknown role; use one of {allowed}"),
            );
        }
        role
    }

    fn email(&mut self, user: &str, value: Option<&Value>) -> Option<String> {
        let Some(value) = value else {
            if self.config.identity.require_email {
                self.user_problem(
                    user,
                    "field `email` is missing and identity.require_email is set; add the user's OIDC email",
                );
                return None;
            }
            return Some(user.to_string());
        };
        let Some(email) = value.as_str() else {
            self.problem(
                user,
                "email",
                value,
                "must be a string such as \"alice@example.com\"",
            );
            return None;
        };
        match check_email(email) {
            Ok(()) => {
                if let Some(warning) = script::mixed(email) {
                    self.warnings.push(Problem::new(
                        format!("{}: email = {}", subject(user), shown(value)),
                        warning,
                    ));
                }
                Some(email.to_string())
            }
            Err(problem) => {
                self.problem(user, "email", value, problem);
                None
            }
        }
    }

    /// A list of strings, or `None` after reporting why not.
    fn string_list(
        &mut self,
        user: &str,
        field: &str,
        value: &Value,
        example: &str,
    ) -> Option<Vec<String>> {
        let Some(items) = value.as_array() else {
            self.problem(
                user,
                field,
                value,
                format!("must be a list of strings such as {example}"),
            );
            return None;
        };
        let mut strings = Vec::with_capacity(items.len());
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(text) => strings.push(text.to_string()),
                None => {
                    self.problem(user, &format!("{field}[{index}]"), item, "must be a string");
                    ok = false;
                }
            }
        }
        ok.then_some(strings)
    }

    /// Reports entries listed more than once in one user's list.
    fn no_repeats(&mut self, user: &str, field: &str, items: &[String]) -> bool {
        let mut seen = BTreeSet::new();
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            if !seen.insert(item.as_str()) {
                self.problem(
                    user,
                    &format!("{field}[{index}]"),
                    &Value::String(item.clone()),
                    "is listed twice; remove the repeat",
                );
                ok = false;
            }
        }
        ok
    }

    fn namespaces(
        &mut self,
        user: &str,
        role: Option<Role>,
        value: Option<&Value>,
    ) -> Option<Vec<String>> {
        let Some(value) = value else {
            return match role {
                // A namespace named after the user, when the name can be one.
                Some(Role::NamespaceOwner) if names::check_dns_label(user).is_err() => {
                    self.user_problem(
                        user,
                        format!(
                            "namespaces is required: the username cannot be a namespace name (only lowercase letters, digits and `-`), so list the namespaces, e.g. [\"{}\"]",
                            names::kubernetes_form(user)
                        ),
                    );
                    None
                }
                Some(Role::NamespaceOwner) => Some(vec![user.to_string()]),
                _ => Some(Vec::new()),
            };
        };
        let mut namespaces = self.string_list(user, "namespaces", value, "[\"alice-prod\"]")?;
        let mut ok = self.no_repeats(user, "namespaces", &namespaces);
        if namespaces.is_empty() && role == Some(Role::NamespaceOwner) {
            self.problem(
                user,
                "namespaces",
                value,
                format!(
                    "a namespace-owner needs at least one namespace; remove the field to get [{}]",
                    shown_str(user)
                ),
            );
            ok = false;
        }
        let max = self.config.namespaces.max_per_user;
        if namespaces.len() > max {
            self.problem(
                user,
                "namespaces",
                &Value::from(namespaces.len()),
                format!("owns more than namespaces.max_per_user ({max}) namespaces; remove some or raise the limit in tenantgen.hcl"),
            );
            ok = false;
        }
        for (index, namespace) in namespaces.iter().enumerate() {
            let field = format!("namespaces[{index}]");
            let shown_value = Value::String(namespace.clone());
            if let Err(problem) = names::check_dns_label(namespace) {
                self.problem(
                    user,
                    &field,
                    &shown_value,
                    format!("is not a valid namespace name: it {problem}"),
                );
                ok = false;
            } else if let Some(why) = self.config.reserved_namespace(namespace) {
                self.problem(
                    user,
                    &field,
                    &shown_value,
                    format!(
                        "is reserved for the platform ({why}); choose another, e.g. \"{user}-{}\"",
                        namespace.trim_end_matches("-system")
                    ),
                );
                ok = false;
            } else if self.config.users_secret_beside(namespace) {
                self.problem(
                    user,
                    &field,
                    &shown_value,
                    format!(
                        "would give {user} the Vault secrets under {mount}/{folder}/, beside the users secret {mount}/{path} itself; choose another, e.g. \"{user}-{namespace}\", or set vault.tenant_prefix to keep tenants' secrets in a folder of their own",
                        mount = self.config.vault.mount,
                        folder = self.config.tenant_folder(namespace),
                        path = self.config.vault.path,
                    ),
                );
                ok = false;
            } else if self.config.namespaces.require_prefix
                && namespace != user
                && !namespace.starts_with(&format!("{user}-"))
            {
                self.problem(
                    user,
                    &field,
                    &shown_value,
                    format!("must be \"{user}\" or start with \"{user}-\" (namespaces.require_prefix is set); rename it, e.g. \"{user}-{namespace}\""),
                );
                ok = false;
            }
        }
        namespaces.sort();
        ok.then_some(namespaces)
    }

    fn domains(&mut self, user: &str, value: Option<&Value>) -> Option<Vec<String>> {
        let Some(value) = value else {
            return Some(Vec::new());
        };
        let mut domains = self.string_list(user, "domains", value, "[\"alice.example.com\"]")?;
        let unrepeated = self.no_repeats(user, "domains", &domains);
        let mut ok = unrepeated;
        let zone = &self.config.zone;
        for (index, domain) in domains.iter_mut().enumerate() {
            let field = format!("domains[{index}]");
            let shown_value = Value::String(domain.clone());
            if let Err(problem) = names::check_dns_name(domain) {
                self.problem(
                    user,
                    &field,
                    &shown_value,
                    format!("is not a valid DNS name: it {problem}"),
                );
                ok = false;
            } else if !domain.contains('.') {
                // Short, relative to the zone, as the real deployment writes them.
                *domain = format!("{domain}.{zone}");
            } else if domain == zone {
                self.problem(
                    user,
                    &field,
                    &shown_value,
                    format!("is the zone apex, which belongs to the platform; use a name under it, e.g. \"{user}.{zone}\""),
                );
                ok = false;
            } else if !domain.ends_with(&format!(".{zone}")) {
                self.problem(
                    user,
                    &field,
                    &shown_value,
                    format!("is outside the managed zone {zone:?}; only names ending in \".{zone}\" can be created"),
                );
                ok = false;
            }
        }
        domains.sort();
        for pair in domains.windows(2) {
            if unrepeated && pair[0] == pair[1] {
                self.user_problem(
                    user,
                    format!(
                        "domains lists {} twice (once short, once in full); keep one",
                        shown_str(&pair[0])
                    ),
                );
                ok = false;
            }
        }
        ok.then_some(domains)
    }

    fn quota(&mut self, user: &str, value: Option<&Value>) -> Option<BTreeMap<QuotaKey, String>> {
        let mut quota = self.config.quota_defaults.clone();
        let Some(value) = value else {
            return Some(quota);
        };
        let Some(entries) = value.as_object() else {
            self.problem(
                user,
                "quota",
                value,
                "must be an object such as {\"cpu\": \"4\", \"memory\": \"8Gi\"}",
            );
            return None;
        };
        let known = QuotaKey::INPUT_NAMES;
        let mut ok = true;
        let mut given: BTreeMap<QuotaKey, &str> = BTreeMap::new();
        for (name, amount) in entries {
            let field = format!("quota.{name}");
            let Some(key) = QuotaKey::from_input_name(name) else {
                let suggestion = names::closest(name, known)
                    .map(|close| format!("did you mean {close:?}? "))
                    .unwrap_or_default();
                self.unknown(
                    user,
                    format!(
                        "unknown quota key {}; {suggestion}known keys: {}",
                        shown_str(name),
                        known.join(", ")
                    ),
                );
                continue;
            };
            if let Some(previous) = given.insert(key, name) {
                self.problem(
                    user,
                    &field,
                    amount,
                    format!("sets the same quota as quota.{previous}; keep only one of them"),
                );
                ok = false;
                continue;
            }
            if !self.config.quota.keys.contains(&key) {
                self.problem(
                    user,
                    &field,
                    amount,
                    format!(
                        "sets {}, which quota.keys in tenantgen.hcl leaves out of every ResourceQuota; remove it, or add {:?} to quota.keys",
                        key.resource(),
                        key.name()
                    ),
                );
                ok = false;
                continue;
            }
            let text = match amount {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                _ => {
                    self.problem(
                        user,
                        &field,
                        amount,
                        "must be a quantity string such as \"4Gi\" or a number",
                    );
                    ok = false;
                    continue;
                }
            };
            match quantity::check(&text) {
                Ok(()) => {
                    quota.insert(key, text);
                }
                Err(problem) => {
                    self.problem(
                        user,
                        &field,
                        amount,
                        format!("is not a Kubernetes quantity: it {problem}"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(quota)
    }

    fn apps(&mut self, user: &str, value: Option<&Value>) -> Option<Vec<String>> {
        let Some(value) = value else {
            return Some(Vec::new());
        };
        let mut apps = self.string_list(user, "apps", value, "[\"actualbudget\"]")?;
        let mut ok = self.no_repeats(user, "apps", &apps);
        for (index, app) in apps.iter().enumerate() {
            if !self.config.apps.contains_key(app) {
                let configured: Vec<&str> = self.config.apps.keys().map(String::as_str).collect();
                let suggestion = names::closest(app, configured.iter().copied())
                    .map(|close| format!("did you mean {close:?}? "))
                    .unwrap_or_default();
                let message = if configured.is_empty() {
                    "is not a configured factory app; tenantgen.hcl configures none (default_apps = false): remove it from the user's apps, or add an `app` block for it".to_string()
                } else {
                    format!(
                        "is not a configured factory app; {suggestion}configured apps: {} (add an `app` block to tenantgen.hcl for a new one)",
                        configured.join(", ")
                    )
                };
                self.problem(
                    user,
                    &format!("apps[{index}]"),
                    &Value::String(app.clone()),
                    message,
                );
                ok = false;
            }
        }
        apps.sort();
        ok.then_some(apps)
    }

    /// Rules that span users: one owner per namespace, domain and identity.
    fn across_users(&mut self, users: &[User]) {
        let mut namespace_owner: BTreeMap<&str, &str> = BTreeMap::new();
        let mut domain_owner: BTreeMap<&str, &str> = BTreeMap::new();
        let mut email_owner: BTreeMap<&str, &str> = BTreeMap::new();
        let mut form_owner: BTreeMap<std::borrow::Cow<'_, str>, &str> = BTreeMap::new();
        for user in users {
            let form = names::kubernetes_form(&user.name);
            if let Some(first) = form_owner.insert(form.clone(), &user.name) {
                self.problems.push(Problem::new(
                    format!("user {}", shown_str(&user.name)),
                    format!(
                        "and user {} both become {} in Kubernetes and DNS names, where `_` is written `-`; rename one of them",
                        shown_str(first),
                        shown_str(&form)
                    ),
                ));
                form_owner.insert(form, first);
            }
            for namespace in &user.namespaces {
                if let Some(first) = namespace_owner.insert(namespace, &user.name) {
                    self.problems.push(Problem::new(
                        format!("namespace {}", shown_str(namespace)),
                        format!(
                            "claimed by both user {} and user {}; a namespace has one owner, so rename one of them",
                            shown_str(first),
                            shown_str(&user.name)
                        ),
                    ));
                    namespace_owner.insert(namespace, first);
                }
            }
            for domain in &user.domains {
                if let Some(first) = domain_owner.insert(domain, &user.name) {
                    self.problems.push(Problem::new(
                        format!("domain {}", shown_str(domain)),
                        format!(
                            "claimed by both user {} and user {}; remove it from one of them",
                            shown_str(first),
                            shown_str(&user.name)
                        ),
                    ));
                    domain_owner.insert(domain, first);
                }
            }
            if let Some(first) = email_owner.insert(&user.email, &user.name) {
                self.problems.push(Problem::new(
                    format!("email {}", shown_str(&user.email)),
                    format!(
                        "used by both user {} and user {}; one OIDC identity maps to one Vault entity, so give each user their own",
                        shown_str(first),
                        shown_str(&user.name)
                    ),
                ));
                email_owner.insert(&user.email, first);
            }
        }
        for user in users {
            for app in &user.apps {
                let Some(app_config) = self.config.apps.get(app) else {
                    continue;
                };
                let generated = app_config.domain_for(&user.name, &self.config.zone);
                if let Some(owner) = domain_owner.get(generated.as_str()) {
                    self.problems.push(Problem::new(
                        format!("domain {}", shown_str(&generated)),
                        format!(
                            "listed by user {} but it is the generated domain of {}'s {app} instance; remove it from the user's domains",
                            shown_str(owner),
                            shown_str(&user.name)
                        ),
                    ));
                }
            }
        }
        let collisions = policies::extra_policy_collisions(users, self.config);
        self.problems.extend(collisions);
    }
}

/// A plausible email: one `@`, a dot-separated domain, and no characters that
/// could break out of generated code (quotes, braces, `$`, `\`, whitespace, controls).
pub fn check_email(email: &str) -> Result<(), String> {
    const FIX: &str = "use the user's plain OIDC email, e.g. \"alice@example.com\"";
    if email.len() > 254 {
        return Err(format!(
            "is {} characters long; emails have at most 254; {FIX}",
            email.len()
        ));
    }
    if let Some(bad) = email.chars().find(|&c| {
        escape::is_invisible(c)
            || c.is_whitespace()
            || matches!(
                c,
                '"' | '\''
                    | '`'
                    | '{'
                    | '}'
                    | '$'
                    | '\\'
                    | '<'
                    | '>'
                    | '('
                    | ')'
                    | ','
                    | ';'
                    | ':'
                    | '['
                    | ']'
            )
    }) {
        return Err(format!(
            "contains {}, which an email address cannot; {FIX}",
            escape::shown_char(bad)
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(format!("has no `@`; {FIX}"));
    };
    if local.is_empty() || domain.contains('@') {
        return Err(format!("is not a single local@domain address; {FIX}"));
    }
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !domain_ok {
        return Err(format!(
            "has the domain {}, which is not a valid host name; {FIX}",
            escape::shown(domain)
        ));
    }
    Ok(())
}

mod script;
#[cfg(test)]
mod tests;
