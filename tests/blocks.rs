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
        if file.path.ends_with(".tf") {
            let body = hcl::parse(&file.contents).unwrap();
            common::property::insert_blocks(&file.path, &body, &mut rendered);
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
