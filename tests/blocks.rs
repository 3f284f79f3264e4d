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

/// The object variants (tests/variants.rs) under random users: the TLS
/// module calls are module blocks, and nothing is dropped or invented.
#[test]
fn object_variants_render_exactly_the_planned_blocks() {
    let base = std::fs::read_to_string(common::repo().join("tenantgen.hcl")).unwrap();
    let apps_start = base.find("app \"actualbudget\"").unwrap();
    let variants = [
        format!(
            "{base}\ntls {{\n  mode             = \"module\"\n  module_arguments = {{ tls_secret_name = \"var.tls_secret_name\" }}\n}}\n"
        ),
        format!("{base}\ntls {{\n  mode = \"none\"\n}}\n"),
        base.replace(
            "  target           = \"ingress.example.com\"\n",
            "  target           = \"ingress.example.com\"\n  names            = \"short\"\n  ttl              = 120\n  for              = \"namespace-owners\"\n",
        ),
        format!("default_apps = false\n{}", &base[..apps_start]),
    ];
    for (index, config) in variants.iter().enumerate() {
        for (seed, mut users) in [(0, example_users()), (1, random_users(13, 40))] {
            if config.starts_with("default_apps = false") {
                for user in users.as_object_mut().unwrap().values_mut() {
                    user.as_object_mut().unwrap().remove("apps");
                }
            }
            let (rendered, planned) = rendered_and_planned(&users, config);
            assert_eq!(rendered, planned, "variant {index}, users {seed}");
            let modules = planned.iter().filter(|address| address.block == "module");
            match index {
                0 => assert!(
                    modules
                        .clone()
                        .any(|address| address.name.ends_with("_tls"))
                ),
                3 => assert_eq!(modules.count(), 0, "no app, no module"),
                _ => {}
            }
        }
    }
}
