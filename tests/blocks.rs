//! The rendered files hold exactly the blocks the plan implies: templates
//! neither drop nor invent resources.

mod common;

use std::collections::BTreeSet;

use common::{config_variants, example_users, random_users};
use tenantgen::plan::Address;

fn rendered_and_planned(
    users: &serde_json::Value,
    config: &str,
) -> (BTreeSet<Address>, BTreeSet<Address>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.json"), users.to_string()).unwrap();
    std::fs::write(dir.path().join("tenantgen.hcl"), config).unwrap();
    let options = tenantgen::Options {
        working_dir: dir.path().to_path_buf(),
        users: Some("users.json".into()),
        ..Default::default()
    };
    let loaded = tenantgen::load(&options).unwrap();
    let planned = tenantgen::plan::build(&loaded.validated.tenants, &loaded.config)
        .addresses()
        .into_iter()
        .collect();
    let mut rendered = BTreeSet::new();
    for file in tenantgen::generate(&loaded, None).unwrap().files {
        let Some(dir) = file
            .path
            .strip_suffix(".tf")
            .and_then(|path| path.rsplit_once('/'))
            .map(|(dir, _)| dir)
        else {
            continue;
        };
        for block in hcl::parse(&file.contents).unwrap().blocks() {
            let labels: Vec<&str> = block.labels().iter().map(|label| label.as_str()).collect();
            let (block_kind, kind, name) = match (block.identifier(), labels.as_slice()) {
                ("resource", [kind, name]) => ("resource", kind.to_string(), name.to_string()),
                ("module", [name]) => ("module", String::new(), name.to_string()),
                _ => continue,
            };
            let fresh = rendered.insert(Address {
                dir: dir.to_string(),
                block: block_kind,
                kind,
                name,
            });
            assert!(fresh, "{} renders a block twice", file.path);
        }
    }
    (rendered, planned)
}

#[test]
fn every_planned_block_is_rendered_and_nothing_else() {
    for (name, config) in config_variants() {
        for (seed, users) in [
            (0, example_users()),
            (1, random_users(11, 40)),
            (2, random_users(12, 40)),
        ] {
            let (rendered, planned) = rendered_and_planned(&users, &config);
            assert_eq!(rendered, planned, "config {name}, users {seed}");
        }
    }
}
