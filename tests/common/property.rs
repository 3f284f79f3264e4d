//! The property the fuzz targets check, shared with the regression tests:
//! any input the validator accepts renders files that hcl-rs parses, hold
//! exactly the blocks the plan implies, and carry every user value through
//! escaping unchanged.

use std::collections::BTreeSet;

use tenantgen::plan::Address;

/// A config with every optional feature on, so all templates run.
fn config() -> tenantgen::config::Config {
    let text = "zone = \"example.com\"\n\
        network_policy {\n  allow_from_namespaces = [\"ingress-nginx\"]\n}\n\
        limit_range {}\n\
        namespaces {\n  labels = {\n    \"pod-security.kubernetes.io/enforce\" = \"baseline\"\n  }\n}\n";
    tenantgen::config::Config::parse(text, std::path::Path::new("/fuzz"))
        .expect("the fuzz config parses")
}

/// Runs the whole pipeline on `bytes`; returns whether the input was
/// accepted, and panics when an accepted input breaks the property.
pub fn check(bytes: &[u8]) -> bool {
    let Ok(raw) = tenantgen::source::parse(bytes, "fuzz input") else {
        return false;
    };
    let config = config();
    let Ok(validated) = tenantgen::model::build(&raw, &config, false) else {
        return false;
    };
    let plan = tenantgen::plan::build(&validated.tenants, &config);
    let expected: BTreeSet<Address> = plan.addresses().into_iter().collect();
    let loaded = tenantgen::Loaded {
        config,
        out_root: "/fuzz/out".into(),
        origin: raw.origin,
        validated,
        previous: None,
        previous_namespaces: Default::default(),
        namespaces: Default::default(),
        record_notes: Vec::new(),
    };
    let generation = tenantgen::generate(&loaded, None)
        .unwrap_or_else(|err| panic!("accepted input failed to render: {err:#}"));

    let mut blocks = BTreeSet::new();
    let mut strings = BTreeSet::new();
    for file in generation
        .files
        .iter()
        .filter(|file| file.path.ends_with(".tf"))
    {
        let body = hcl::parse(&file.contents)
            .unwrap_or_else(|err| panic!("{} does not parse: {err}\n{}", file.path, file.contents));
        insert_blocks(&file.path, &body, &mut blocks);
        collect_strings(&body, &mut strings);
    }
    assert_eq!(blocks, expected, "rendered blocks differ from the plan");

    for user in &loaded.validated.tenants.users {
        let mut values: Vec<&str> = vec![&user.name, &user.email];
        values.extend(user.namespaces.iter().map(String::as_str));
        values.extend(user.domains.iter().map(String::as_str));
        if !user.namespaces.is_empty() {
            values.extend(user.quota.values().map(String::as_str));
        }
        for value in values {
            assert!(
                strings.contains(value),
                "{value:?} of user {} did not come through escaping unchanged",
                user.name
            );
        }
    }
    true
}

/// Adds the `resource` and `module` blocks of the file at `path` (relative
/// to the output root) to `blocks`; a block found twice fails.
pub fn insert_blocks(path: &str, body: &hcl::Body, blocks: &mut BTreeSet<Address>) {
    let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
    for block in body.blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|label| label.as_str()).collect();
        let (block_kind, kind, name) = match (block.identifier(), labels.as_slice()) {
            ("resource", [kind, name]) => ("resource", kind.to_string(), name.to_string()),
            ("module", [name]) => ("module", String::new(), name.to_string()),
            _ => continue,
        };
        let fresh = blocks.insert(Address {
            dir: dir.to_string(),
            block: block_kind,
            kind,
            name,
        });
        assert!(fresh, "{path} holds a block twice");
    }
}

fn collect_strings(body: &hcl::Body, out: &mut BTreeSet<String>) {
    for attribute in body.attributes() {
        collect_expression(attribute.expr(), out);
    }
    for block in body.blocks() {
        collect_strings(block.body(), out);
    }
}

fn collect_expression(expr: &hcl::Expression, out: &mut BTreeSet<String>) {
    match expr {
        hcl::Expression::String(text) => {
            out.insert(text.clone());
        }
        hcl::Expression::Array(items) => {
            items.iter().for_each(|item| collect_expression(item, out))
        }
        hcl::Expression::Object(object) => {
            for (key, value) in object {
                if let hcl::ObjectKey::Expression(key) = key {
                    collect_expression(key, out);
                }
                collect_expression(value, out);
            }
        }
        _ => {}
    }
}
