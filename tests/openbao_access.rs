//! The Vault grants tenantgen renders, applied to a real OpenBao dev server:
//! the `vault_policy` bodies, the entities' policy lists and the
//! `vault_kubernetes_secret_backend_role`s are read from the `.tf` files the
//! binary writes (never from the library's plan), written to the server as
//! the Vault provider would, and each tenant's token is checked path by path
//! with `sys/capabilities`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use hcl::expr::{Expression, HeredocStripMode, TemplateExpr, TraversalOperator};
use hcl::{Block, Body};
use serde_json::{Value, json};

/// Where the deployer roles live: `vault.kubernetes_backend`, whose default
/// (src/config/mod.rs) the example keeps.
const KUBERNETES_MOUNT: &str = "kubernetes";

/// The arguments every deployer role must carry. The provider's argument
/// names are the engine's API fields, so each is sent as is; `backend` (the
/// mount) and `name` (the role) make the path instead.
const ROLE_ARGUMENTS: [&str; 5] = [
    "allowed_kubernetes_namespaces",
    "kubernetes_role_type",
    "kubernetes_role_name",
    "token_default_ttl",
    "token_max_ttl",
];

#[test]
fn rendered_grants_hold_on_a_real_openbao() {
    let workspace = common::example_workspace();
    common::tenantgen(workspace.path(), "render --yes").succeeds();
    let stacks = parse_stacks(&workspace.path().join("stacks-out"));

    let policies = stacks
        .values()
        .flat_map(Stack::policies)
        .collect::<Vec<_>>();
    let entities = stacks
        .values()
        .flat_map(Stack::entities)
        .collect::<Vec<_>>();
    let roles = stacks.values().flat_map(Stack::roles).collect::<Vec<_>>();

    // Who owns what, from the users file (README, "Input": a namespace-owner
    // without `namespaces` owns the namespace named after them).
    let owners = namespace_owners(&common::example_users());
    assert_eq!(
        entities
            .iter()
            .map(|entity| entity.name.clone())
            .collect::<BTreeSet<_>>(),
        owners.keys().cloned().collect::<BTreeSet<_>>(),
        "one vault_identity_entity per namespace-owner"
    );
    let expected_roles = owners
        .values()
        .flatten()
        .map(|namespace| format!("{namespace}-deployer"))
        .collect::<BTreeSet<_>>();
    assert_eq!(
        roles
            .iter()
            .map(|role| role.name.clone())
            .collect::<BTreeSet<_>>(),
        expected_roles,
        "one deployer role per owned namespace"
    );

    let bao = common::bao::Bao::start();
    bao.run(&[
        "secrets",
        "enable",
        &format!("-path={KUBERNETES_MOUNT}"),
        "kubernetes",
    ]);

    for policy in &policies {
        bao.run_with(&["policy", "write", &policy.name, "-"], Some(&policy.body));
    }

    // Roles are written without `kubernetes/config`: the engine checks a role's
    // arguments on write (a missing namespace list, a role type other than
    // Role/ClusterRole, a default TTL above the maximum are refused with 400)
    // but reaches the cluster only when credentials are issued.
    for role in &roles {
        assert_eq!(
            role.backend, KUBERNETES_MOUNT,
            "{}: deployer roles must live on the mount the policies grant",
            role.address
        );
        for argument in ROLE_ARGUMENTS {
            assert!(
                role.arguments.contains_key(argument),
                "{}: no {argument}",
                role.address
            );
        }
        let path = format!("{}/roles/{}", role.backend, role.name);
        let body = Value::Object(role.arguments.clone().into_iter().collect());
        bao.run_with(&["write", &path, "-"], Some(&body.to_string()));
        let stored = bao.read_data(&path);
        for (argument, generated) in &role.arguments {
            // Compared exactly: a value the engine stores differently (a
            // lower-case "role", a TTL as "30m") would show as drift in every
            // `terraform plan`.
            assert_eq!(
                stored.get(argument),
                Some(generated),
                "{path}: {argument} as stored by the server vs as generated in {}",
                role.address
            );
        }
    }

    let policy_names = policies
        .iter()
        .map(|policy| policy.name.as_str())
        .collect::<BTreeSet<_>>();
    let namespaces = owners
        .iter()
        .flat_map(|(owner, namespaces)| namespaces.iter().map(move |ns| (ns.clone(), owner)))
        .collect::<BTreeMap<_, _>>();
    let paths = matrix_paths(namespaces.keys());
    let mut observed = BTreeMap::new();
    let mut wrong = Vec::new();
    for entity in &entities {
        for policy in &entity.policies {
            assert!(
                policy_names.contains(policy.as_str()),
                "entity {} carries policy {policy}, which no vault_policy defines",
                entity.name
            );
        }
        // An OIDC login gets `default` next to the entity's policies; a token
        // created with -policy does too.
        let mut create = vec!["token", "create", "-field=token"];
        let flags = entity
            .policies
            .iter()
            .map(|policy| format!("-policy={policy}"))
            .collect::<Vec<_>>();
        create.extend(flags.iter().map(String::as_str));
        let token = bao.run(&create).trim().to_string();
        let capabilities = bao.capabilities(&token, &paths);
        for (path, kind, namespace) in matrix_cells(namespaces.keys()) {
            let own = namespace.is_some_and(|ns| namespaces[ns] == &entity.name);
            let expected = expected_capabilities(kind, own);
            let got = capabilities
                .get(&path)
                .unwrap_or_else(|| panic!("sys/capabilities did not answer for {path}"));
            if got != &expected {
                wrong.push(format!(
                    "{}: {path}: expected {expected:?}, got {got:?}",
                    entity.name
                ));
            }
            observed.insert((path, entity.name.clone()), got.join(","));
        }
    }
    println!("{}", table(&paths, &entities, &observed));
    assert!(
        wrong.is_empty(),
        "capabilities differ from the grants:\n{}",
        wrong.join("\n")
    );
}

#[derive(Clone, Copy)]
enum Kind {
    Data,
    MetadataFolder,
    Metadata,
    Creds,
    /// The role definition itself: tenants may use it, not change it.
    Role,
    Platform,
}

/// Every cell of the matrix: its path, what it is, and whose namespace it is in.
fn matrix_cells<'a>(
    namespaces: impl Iterator<Item = &'a String>,
) -> Vec<(String, Kind, Option<&'a String>)> {
    let mut cells = Vec::new();
    for namespace in namespaces {
        cells.push((
            format!("secret/data/{namespace}/app"),
            Kind::Data,
            Some(namespace),
        ));
        cells.push((
            format!("secret/metadata/{namespace}/"),
            Kind::MetadataFolder,
            Some(namespace),
        ));
        cells.push((
            format!("secret/metadata/{namespace}/app"),
            Kind::Metadata,
            Some(namespace),
        ));
        cells.push((
            format!("kubernetes/creds/{namespace}-deployer"),
            Kind::Creds,
            Some(namespace),
        ));
        cells.push((
            format!("kubernetes/roles/{namespace}-deployer"),
            Kind::Role,
            Some(namespace),
        ));
    }
    // The users source itself.
    cells.push(("secret/data/platform".to_string(), Kind::Platform, None));
    cells
}

fn matrix_paths<'a>(namespaces: impl Iterator<Item = &'a String>) -> Vec<String> {
    matrix_cells(namespaces)
        .into_iter()
        .map(|(path, _, _)| path)
        .collect()
}

/// What the README promises a namespace-owner: full use of their own secrets
/// folder, listing it, their own deployer credentials; nothing of anyone else.
fn expected_capabilities(kind: Kind, own: bool) -> Vec<String> {
    let granted: &[&str] = match (kind, own) {
        (Kind::Data, true) => &["create", "delete", "list", "read", "update"],
        (Kind::MetadataFolder | Kind::Metadata, true) => &["list"],
        (Kind::Creds, true) => &["read"],
        _ => &["deny"],
    };
    granted
        .iter()
        .map(|capability| capability.to_string())
        .collect()
}

/// Paths down, tenants across.
fn table(
    paths: &[String],
    entities: &[Entity],
    observed: &BTreeMap<(String, String), String>,
) -> String {
    let path_width = paths.iter().map(String::len).max().unwrap_or(0);
    let widths = entities
        .iter()
        .map(|entity| {
            paths
                .iter()
                .map(|path| observed[&(path.clone(), entity.name.clone())].len())
                .chain([entity.name.len()])
                .max()
                .unwrap_or(0)
        })
        .collect::<Vec<_>>();
    let mut out = String::new();
    let _ = write!(out, "{:path_width$}", "path \\ token of");
    for (entity, width) in entities.iter().zip(&widths) {
        let _ = write!(out, " | {:width$}", entity.name);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out.push_str(&"-".repeat(path_width));
    for width in &widths {
        let _ = write!(out, "-+-{}", "-".repeat(*width));
    }
    out.push('\n');
    for path in paths {
        let _ = write!(out, "{path:path_width$}");
        for (entity, width) in entities.iter().zip(&widths) {
            let _ = write!(
                out,
                " | {:width$}",
                observed[&(path.clone(), entity.name.clone())]
            );
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out
}

/// Namespace-owners and their namespaces, from a users file.
fn namespace_owners(users: &Value) -> BTreeMap<String, Vec<String>> {
    users
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, user)| user["role"] == "namespace-owner")
        .map(|(name, user)| {
            let namespaces = match user.get("namespaces") {
                Some(list) => list
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|ns| ns.as_str().unwrap().to_string())
                    .collect(),
                None => vec![name.clone()],
            };
            (name.clone(), namespaces)
        })
        .collect()
}

struct Policy {
    name: String,
    body: String,
}

struct Entity {
    name: String,
    policies: Vec<String>,
}

struct Role {
    address: String,
    backend: String,
    name: String,
    arguments: BTreeMap<String, Value>,
}

/// One Terraform stack (a directory): its resources by type and name, so
/// references resolve within the stack, as Terraform resolves them.
struct Stack {
    dir: String,
    resources: BTreeMap<(String, String), Body>,
}

/// Every stack under `root` that has `.tf` files, by directory.
fn parse_stacks(root: &Path) -> BTreeMap<String, Stack> {
    let mut stacks = BTreeMap::<String, Stack>::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.path().extension().is_none_or(|ext| ext != "tf") {
            continue;
        }
        let dir = entry
            .path()
            .parent()
            .unwrap()
            .strip_prefix(root)
            .unwrap()
            .display()
            .to_string();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let body = hcl::parse(&text)
            .unwrap_or_else(|err| panic!("{} does not parse: {err}", entry.path().display()));
        let stack = stacks.entry(dir.clone()).or_insert_with(|| Stack {
            dir,
            resources: BTreeMap::new(),
        });
        for block in body
            .blocks()
            .filter(|block| block.identifier() == "resource")
        {
            let [kind, name] = block.labels() else {
                panic!(
                    "{}: resource block without two labels",
                    entry.path().display()
                );
            };
            let key = (kind.as_str().to_string(), name.as_str().to_string());
            let previous = stack.resources.insert(key, block.body().clone());
            assert!(
                previous.is_none(),
                "{}: {kind:?}.{name:?} declared twice",
                stack.dir
            );
        }
    }
    stacks
}

impl Stack {
    fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (String, &'a Body)> + 'a {
        self.resources
            .iter()
            .filter(move |((resource_type, _), _)| resource_type == kind)
            .map(move |((resource_type, name), body)| {
                (format!("{}: {resource_type}.{name}", self.dir), body)
            })
    }

    fn policies(&self) -> Vec<Policy> {
        self.of_type("vault_policy")
            .map(|(address, body)| Policy {
                name: string(&self.attribute(&address, body, "name")),
                body: string(&self.attribute(&address, body, "policy")),
            })
            .collect()
    }

    fn entities(&self) -> Vec<Entity> {
        self.of_type("vault_identity_entity")
            .map(|(address, body)| Entity {
                name: string(&self.attribute(&address, body, "name")),
                policies: self
                    .attribute(&address, body, "policies")
                    .as_array()
                    .unwrap_or_else(|| panic!("{address}: policies is not a list"))
                    .iter()
                    .map(string)
                    .collect(),
            })
            .collect()
    }

    fn roles(&self) -> Vec<Role> {
        self.of_type("vault_kubernetes_secret_backend_role")
            .map(|(address, body)| {
                let mut arguments = body
                    .attributes()
                    .map(|attribute| {
                        let value = self.eval(&address, attribute.expr());
                        (attribute.key().to_string(), value)
                    })
                    .collect::<BTreeMap<_, _>>();
                let backend = arguments.remove("backend");
                let name = arguments.remove("name");
                Role {
                    backend: string(&backend.unwrap_or_else(|| panic!("{address}: no backend"))),
                    name: string(&name.unwrap_or_else(|| panic!("{address}: no name"))),
                    address,
                    arguments,
                }
            })
            .collect()
    }

    fn attribute(&self, address: &str, body: &Body, key: &str) -> Value {
        let attribute = body
            .attributes()
            .find(|attribute| attribute.key() == key)
            .unwrap_or_else(|| panic!("{address}: no {key}"));
        self.eval(address, attribute.expr())
    }

    /// The value of an argument: literals as they are, heredocs as Terraform
    /// reads them, references to other resources of the stack followed.
    fn eval(&self, address: &str, expr: &Expression) -> Value {
        match expr {
            Expression::Null => Value::Null,
            Expression::Bool(value) => json!(value),
            Expression::Number(number) => serde_json::to_value(number).unwrap(),
            Expression::String(text) => json!(text),
            Expression::Array(items) => {
                Value::Array(items.iter().map(|item| self.eval(address, item)).collect())
            }
            Expression::TemplateExpr(template) => {
                let text = match template.as_ref() {
                    TemplateExpr::QuotedString(text) => text.clone(),
                    TemplateExpr::Heredoc(heredoc) => match heredoc.strip {
                        HeredocStripMode::Indent => strip_indent(&heredoc.template),
                        HeredocStripMode::None => heredoc.template.clone(),
                    },
                };
                assert!(
                    !text.contains("${") && !text.contains("%{"),
                    "{address}: a template with interpolations cannot be sent as is:\n{text}"
                );
                json!(text)
            }
            Expression::Traversal(traversal) => {
                let Expression::Variable(kind) = &traversal.expr else {
                    panic!("{address}: unsupported reference {expr}");
                };
                let [TraversalOperator::GetAttr(name), rest @ ..] = traversal.operators.as_slice()
                else {
                    panic!("{address}: reference {expr} names no resource");
                };
                let key = (kind.as_str().to_string(), name.as_str().to_string());
                let target = self.resources.get(&key).unwrap_or_else(|| {
                    panic!(
                        "{address}: {expr} refers to a resource not in stack {}",
                        self.dir
                    )
                });
                self.follow(address, expr, target, rest)
            }
            other => panic!("{address}: unsupported expression {other}"),
        }
    }

    /// Follows `.attr`, `.block[n]` from a resource body down to a value.
    fn follow(
        &self,
        address: &str,
        reference: &Expression,
        body: &Body,
        operators: &[TraversalOperator],
    ) -> Value {
        match operators {
            [TraversalOperator::GetAttr(key)] => self.attribute(address, body, key.as_str()),
            [
                TraversalOperator::GetAttr(key),
                TraversalOperator::Index(Expression::Number(index)),
                rest @ ..,
            ] => {
                let index = usize::try_from(index.as_u64().unwrap()).unwrap();
                let blocks = body
                    .blocks()
                    .filter(|block| block.identifier() == key.as_str())
                    .collect::<Vec<&Block>>();
                let block = blocks
                    .get(index)
                    .unwrap_or_else(|| panic!("{address}: {reference}: no block {key}[{index}]"));
                self.follow(address, reference, block.body(), rest)
            }
            _ => panic!("{address}: cannot follow {reference}"),
        }
    }
}

fn string(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
        .to_string()
}

/// A `<<-` heredoc's text: the smallest indentation of its non-blank lines
/// removed from every line, as Terraform does.
fn strip_indent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|line| line.get(indent..).unwrap_or(""))
        .map(|line| format!("{line}\n"))
        .collect()
}
