//! insta snapshots of every file rendered for the example and for each
//! config variant; they live in the top-level `snapshots/` folder.

mod common;

fn snapshot_files(prefix: &str, files: &[tenantgen::verify::GeneratedFile]) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for file in files {
            let name = format!("{prefix}__{}", file.path.replace('/', "__"));
            insta::assert_snapshot!(name, &file.contents);
        }
    });
}

#[test]
fn example_output() {
    let files = common::generate(
        &common::example_users(),
        &std::fs::read_to_string(common::repo().join("tenantgen.hcl")).unwrap(),
    );
    snapshot_files("example", &files);
}

#[test]
fn config_variants_output() {
    for (name, config) in common::config_variants().into_iter().skip(1) {
        let files = common::generate(&common::example_users(), &config);
        // Only the files a variant changes are worth a snapshot of their own.
        let platform: Vec<_> = files
            .into_iter()
            .filter(|file| {
                [
                    "platform/",
                    "rbac/",
                    "vault/tenant-alice",
                    "cloudflared/tenant-alice",
                ]
                .iter()
                .any(|prefix| file.path.starts_with(prefix))
            })
            .collect();
        snapshot_files(name, &platform);
    }
}
