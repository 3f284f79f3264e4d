//! The real `terraform fmt` must leave every generated file unchanged.

mod common;

use common::{
    config_variants, example_users, generate, random_users, terraform_fmt_check, write_files,
};

fn assert_fmt_clean(label: &str, files: &[tenantgen::verify::GeneratedFile]) {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), files);
    let output = terraform_fmt_check(dir.path());
    assert!(
        output.status.success(),
        "{label}: terraform fmt would change generated files:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn committed_example_is_fmt_clean() {
    let output = terraform_fmt_check(&common::repo().join("stacks-out"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn every_config_variant_is_fmt_clean() {
    for (name, config) in config_variants() {
        assert_fmt_clean(name, &generate(&example_users(), &config));
    }
}

#[test]
fn random_user_sets_are_fmt_clean() {
    let variants = config_variants();
    for seed in 0..12 {
        let (name, config) = &variants[seed as usize % variants.len()];
        let users = random_users(seed, 25);
        assert_fmt_clean(
            &format!("seed {seed} with config {name}"),
            &generate(&users, config),
        );
    }
}

#[test]
fn the_formatter_is_a_fixed_point_of_its_own_output() {
    for (_, config) in config_variants() {
        for file in generate(&random_users(99, 30), &config) {
            if let Some((_, body)) = tenantgen::header::split(&file.contents) {
                assert_eq!(
                    tenantgen::tffmt::format(body).unwrap(),
                    body,
                    "{}",
                    file.path
                );
            }
        }
    }
}
