//! `tenantgen users list|add|set|remove`: one edit of the users map where
//! it is kept, validated whole, shown as a diff, confirmed as `render`
//! confirms, then written with check-and-set (a file atomically against
//! the text read, Vault by version), re-applied when another writer came
//! first.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use super::args::{
    Cli, Command, EditArgs, FieldArgs, Format, GuardArgs, ListChangeArgs, NamespaceArgs, Review,
    TreeArgs, UsersAction,
};
use super::{Answer, ERROR, OK, Stream, ask, emit, options};
use crate::UsersSource;
use crate::config::Config;
use crate::problem::count;
use crate::report::Style;
use crate::source::vault::{Editor, Written};
use crate::users::{self, Applied, Document, Edit};

/// Check-and-set conflicts re-read and re-applied before giving up.
const MAX_RETRIES: usize = 10;

/// The edit a subcommand asks for, before the config fills in defaults.
enum Asked<'a> {
    Add(&'a FieldArgs),
    Set(&'a FieldArgs, &'a ListChangeArgs),
    Remove,
}

pub(super) fn run(action: &UsersAction, style: Style) -> Result<u8> {
    let (edit, name, asked) = match action {
        UsersAction::List { users, format, .. } => return list(users, format.format, style),
        UsersAction::Add { name, fields, edit } => (edit, name, Asked::Add(fields)),
        UsersAction::Set {
            name,
            fields,
            lists,
            edit,
        } => (edit, name, Asked::Set(fields, lists)),
        UsersAction::Remove { name, edit } => (edit, name, Asked::Remove),
    };
    let options = options(&edit.users, None, None, false)?;
    let (config, _) = Config::discover(options.config.as_deref(), &options.working_dir)?;
    let change = match asked {
        Asked::Add(fields) => Edit::Add {
            name: name.clone(),
            fields: users::new_user(name, &field_values(fields)?, &config.onboarding),
        },
        Asked::Set(fields, lists) => {
            let (add, remove) = list_changes(lists);
            Edit::Set {
                name: name.clone(),
                replace: field_values(fields)?,
                add,
                remove,
            }
        }
        Asked::Remove => Edit::Remove { name: name.clone() },
    };
    let name = change.name().to_string();
    let source = crate::users_source(&options, &config)?;
    if let UsersSource::Vault(settings) = &source {
        for warning in &settings.warnings {
            eprintln!("{} {warning}", style.warning_prefix());
        }
    }
    let store = Store::open(source, &config)?;

    let (document, mut seen) = store.read()?;
    let old_users = document.users()?;
    let Some(new_users) = edited(&old_users, &change, &config, options.strict, style)? else {
        println!(
            "Nothing to do: {} already holds user {name} as given.",
            store.label()
        );
        return Ok(OK);
    };
    print!("{}", users::user_diff(&old_users, &new_users, &name));
    if !confirm(edit, &format!("Write this change to {}?", store.label()))? {
        return Ok(ERROR);
    }
    let mut document = document.with_users(new_users)?;
    let mut retries = 0;
    let written = loop {
        match store.write(&document, &seen)? {
            Written::Version(written) => break written,
            Written::Conflict if retries < MAX_RETRIES => {
                retries += 1;
                eprintln!(
                    "note: {} changed since it was read (another writer); reading it again and re-applying the edit ({retries} of {MAX_RETRIES})",
                    store.label()
                );
                let (fresh, fresh_seen) = store.read()?;
                let fresh_users = fresh.users()?;
                seen = fresh_seen;
                match edited(&fresh_users, &change, &config, options.strict, style)? {
                    Some(users) => document = fresh.with_users(users)?,
                    None => {
                        println!(
                            "Nothing to do: another writer already made this change to {}.",
                            store.label()
                        );
                        return Ok(OK);
                    }
                }
            }
            Written::Conflict => bail!(
                "{} kept changing: {MAX_RETRIES} check-and-set writes in a row lost to other writers; nothing was written, run the command again",
                store.label()
            ),
        }
    };
    match written {
        0 => println!("Wrote {}.", store.label()),
        version => println!("Wrote {} (version {version}).", store.label()),
    }
    if edit.render {
        return render_after(edit, style);
    }
    Ok(OK)
}

/// The users map after `change`, checked whole; `None` when it changes nothing.
fn edited(
    users: &Map<String, Value>,
    change: &Edit,
    config: &Config,
    strict: bool,
    style: Style,
) -> Result<Option<Map<String, Value>>> {
    let mut edited = users.clone();
    if users::apply(&mut edited, change)? == Applied::Unchanged {
        return Ok(None);
    }
    // Warnings (a look-alike email, say) are shown whether or not it is valid.
    let (warnings, valid) = match users::validate(&edited, config, strict) {
        Ok(validated) => (validated.warnings, Ok(Some(edited))),
        Err(invalid) => (invalid.warnings.clone(), Err(invalid.into())),
    };
    for warning in &warnings {
        eprintln!("{} {warning}", style.warning_prefix());
    }
    valid
}

fn field_values(fields: &FieldArgs) -> Result<Map<String, Value>> {
    let mut values = Map::new();
    let strings = |items: &[String]| Value::Array(items.iter().cloned().map(Value::from).collect());
    if let Some(role) = &fields.role {
        values.insert("role".into(), Value::from(role.clone()));
    }
    if let Some(email) = &fields.email {
        values.insert("email".into(), Value::from(email.clone()));
    }
    for (key, items) in [
        ("namespaces", &fields.namespaces),
        ("domains", &fields.domains),
        ("apps", &fields.apps),
    ] {
        if !items.is_empty() {
            values.insert(key.into(), strings(items));
        }
    }
    if !fields.quota.is_empty() {
        let mut quota = Map::new();
        for entry in &fields.quota {
            let Some((key, value)) = entry.split_once('=') else {
                bail!("--quota {entry:?}: write KEY=VALUE, e.g. --quota cpu=4");
            };
            quota.insert(key.to_string(), Value::from(value.to_string()));
        }
        values.insert("quota".into(), Value::Object(quota));
    }
    Ok(values)
}

type ListChanges = BTreeMap<String, Vec<String>>;

fn list_changes(lists: &ListChangeArgs) -> (ListChanges, ListChanges) {
    let pick = |pairs: [(&str, &Vec<String>); 3]| -> ListChanges {
        pairs
            .into_iter()
            .filter(|(_, items)| !items.is_empty())
            .map(|(field, items)| (field.to_string(), items.clone()))
            .collect()
    };
    (
        pick([
            ("namespaces", &lists.add_namespace),
            ("domains", &lists.add_domain),
            ("apps", &lists.add_app),
        ]),
        pick([
            ("namespaces", &lists.remove_namespace),
            ("domains", &lists.remove_domain),
            ("apps", &lists.remove_app),
        ]),
    )
}

/// Asks as `render` asks: `--yes`, or a terminal to answer on.
fn confirm(edit: &EditArgs, question: &str) -> Result<bool> {
    Ok(edit.yes || matches!(ask(question, "this change")?, Answer::Yes))
}

/// `tenantgen render` with the same source, config and prompt rules.
fn render_after(edit: &EditArgs, style: Style) -> Result<u8> {
    let render = Cli {
        command: Command::Render {
            yes: edit.yes,
            force: false,
            rebuild_record: false,
            users: edit.users.clone(),
            tree: TreeArgs::default(),
            namespaces: NamespaceArgs::default(),
            guard: GuardArgs::default(),
            color: edit.color,
            review: Review {
                no_pager: false,
                show_record: false,
            },
        },
    };
    super::run(&render, style)
}

/// What an edit read, for the check-and-set of its write: the secret's
/// version, or the users file's text.
enum Seen {
    Version(u64),
    Text(String),
}

/// Where the users map is read and written.
enum Store {
    File(std::path::PathBuf, String),
    Vault(Box<Editor>),
}

impl Store {
    fn open(source: UsersSource, config: &Config) -> Result<Store> {
        Ok(match source {
            UsersSource::File(path) => Store::File(path, config.vault.key.clone()),
            UsersSource::Vault(settings) => Store::Vault(Box::new(Editor::open(&settings)?)),
        })
    }

    fn label(&self) -> String {
        match self {
            Store::File(path, _) => format!("users file {}", path.display()),
            Store::Vault(editor) => format!("Vault secret {}", editor.secret()),
        }
    }

    /// The document, and what the write must find in place.
    fn read(&self) -> Result<(Document, Seen)> {
        match self {
            Store::File(path, key) => {
                let bytes = crate::source::read_users_bytes(path, &self.label())?;
                let text = String::from_utf8(bytes)
                    .with_context(|| format!("{} is not UTF-8 text", self.label()))?;
                let root: Value = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", self.label()))?;
                Ok((Document::from_file(root, key)?, Seen::Text(text)))
            }
            Store::Vault(editor) => {
                let (data, version) = editor.read()?;
                let document = Document::from_secret(data, editor.key())
                    .with_context(|| format!("{} version {version}", self.label()))?;
                Ok((document, Seen::Version(version)))
            }
        }
    }

    /// Writes `document` if the store still holds what was `seen`.
    fn write(&self, document: &Document, seen: &Seen) -> Result<Written> {
        match (self, seen) {
            (Store::File(path, _), Seen::Text(text)) => {
                Ok(if users::write_file(path, document, text)? {
                    Written::Version(0)
                } else {
                    Written::Conflict
                })
            }
            (Store::Vault(editor), Seen::Version(version)) => {
                let Value::Object(data) = &document.root else {
                    bail!("a secret's data is an object");
                };
                editor.write(data, *version)
            }
            _ => bail!("{} was read as another kind of store", self.label()),
        }
    }
}

/// `users list`: a table, or the map itself as JSON.
fn list(users_args: &super::args::UsersArgs, format: Format, style: Style) -> Result<u8> {
    let options = options(users_args, None, None, false)?;
    let loaded = crate::load_users(&options)?;
    for warning in &loaded.1.warnings {
        eprintln!("{} {warning}", style.warning_prefix());
    }
    match format {
        Format::Json => {
            let map: Map<String, Value> = loaded.0;
            println!("{}", serde_json::to_string_pretty(&map)?);
        }
        Format::Text => {
            let validated = loaded.1;
            let mut rows = vec![[
                "NAME".to_string(),
                "ROLE".into(),
                "EMAIL".into(),
                "NAMESPACES".into(),
                "DOMAINS".into(),
                "QUOTA".into(),
                "APPS".into(),
            ]];
            for user in &validated.tenants.users {
                let quota: Vec<String> = if user.namespaces.is_empty() {
                    Vec::new()
                } else {
                    user.quota
                        .iter()
                        .map(|(key, value)| format!("{}={value}", key.name()))
                        .collect()
                };
                rows.push([
                    user.name.clone(),
                    user.role.to_string(),
                    user.email.clone(),
                    user.namespaces.join(","),
                    user.domains.join(","),
                    quota.join(","),
                    user.apps.join(","),
                ]);
            }
            print!("{}", crate::report::table(&rows));
            println!("{}", count(validated.tenants.users.len(), "user"));
        }
    }
    Ok(OK)
}
