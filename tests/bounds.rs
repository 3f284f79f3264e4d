//! Templates run within bounds (README "Add-on templates"): a step budget,
//! an output cap per file and a memory limit on renderings, whatever an
//! add-on template or a `--templates` override does. These are hang and
//! memory detectors: generous kill timeouts, and memory as the children's
//! peak RSS.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{example_workspace, tenantgen};

/// Far above any run here, far below what an unbounded one takes.
const PEAK_RSS_LIMIT_MIB: i64 = 300;

const KILL_AFTER: Duration = Duration::from_secs(300);

/// The example workspace with a per-stack add-on `bomb` rendering `template`.
fn workspace_with_addon(template: &str) -> tempfile::TempDir {
    let dir = example_workspace();
    let root = dir.path();
    let hcl = std::fs::read_to_string(root.join("tenantgen.hcl")).unwrap();
    let addon = "\naddon \"bomb\" {\n  template = \"addons/bomb.tf.j2\"\n  for = \"stack\"\n  stack = \"vault\"\n}\n";
    std::fs::write(root.join("tenantgen.hcl"), format!("{hcl}{addon}")).unwrap();
    std::fs::create_dir_all(root.join("addons")).unwrap();
    std::fs::write(root.join("addons/bomb.tf.j2"), template).unwrap();
    dir
}

/// The largest peak RSS of any child this test process has waited for.
fn children_peak_rss_mib() -> i64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let status = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(status, 0, "getrusage");
    usage.ru_maxrss / 1024
}

/// Runs `check` and asserts it fails, within the bounds, naming the
/// template and one of `limits`; returns stderr.
fn fails_within_bounds(root: &Path, template: &str, limits: &[&str]) -> String {
    let output = tenantgen(root, "check").timeout(KILL_AFTER).output();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(template), "{stderr}");
    assert!(stderr.contains("with template "), "{stderr}");
    assert!(
        limits.iter().any(|limit| stderr.contains(limit)),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    let peak = children_peak_rss_mib();
    assert!(peak < PEAK_RSS_LIMIT_MIB, "peak RSS {peak} MiB");
    stderr
}

#[test]
fn nested_loops_run_out_of_steps() {
    let dir = workspace_with_addon(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    );
    let stderr = fails_within_bounds(
        dir.path(),
        "addons/bomb.tf.j2",
        &["took more than 10000000 steps, the limit for one file"],
    );
    assert!(stderr.contains("rendering vault/addon-bomb.tf"), "{stderr}");
}

#[test]
fn huge_values_stop_at_the_output_cap() {
    let dir = workspace_with_addon("{% for i in range(1000) %}{{ \"x\" * 90000000 }}{% endfor %}");
    fails_within_bounds(
        dir.path(),
        "addons/bomb.tf.j2",
        &[
            "16 MiB, the limit for one file",
            "more than 128 MiB of memory",
        ],
    );
}

#[test]
fn output_past_the_cap_is_refused() {
    // Each value is small; together they pass 16 MiB.
    let dir = workspace_with_addon("{% for i in range(100000) %}{{ \"x\" * 1000 }}\n{% endfor %}");
    fails_within_bounds(
        dir.path(),
        "addons/bomb.tf.j2",
        &["its output passed 16 MiB, the limit for one file"],
    );
}

#[test]
fn a_doubling_string_stops_at_the_memory_limit() {
    // 50 doublings of one byte would be a petabyte; `set` in a loop is
    // scoped to one iteration, so the doublings are written out.
    let template = format!(
        "{{% set s = \"x\" %}}\n{}{{{{ s|length }}}}\n",
        "{% set s = s ~ s %}\n".repeat(50)
    );
    let dir = workspace_with_addon(&template);
    fails_within_bounds(
        dir.path(),
        "addons/bomb.tf.j2",
        &["used more than 128 MiB of memory, the limit for the renderings running at once"],
    );
}

#[test]
fn a_template_override_runs_within_the_same_bounds() {
    let dir = example_workspace();
    let root = dir.path();
    std::fs::create_dir_all(root.join("overrides")).unwrap();
    std::fs::write(
        root.join("overrides/tenantgen.tf.j2"),
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    )
    .unwrap();
    let output = tenantgen(root, "check --templates overrides")
        .timeout(KILL_AFTER)
        .output();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("with template tenantgen.tf.j2 failed: it took more than 10000000 steps"),
        "{stderr}"
    );
    let peak = children_peak_rss_mib();
    assert!(peak < PEAK_RSS_LIMIT_MIB, "peak RSS {peak} MiB");
}

#[test]
fn work_inside_a_filter_is_bounded() {
    // One step: `sum` iterates a trillion-item lazy sequence by itself.
    let dir = workspace_with_addon("{{ ([1] * 1000000000000)|sum }}");
    fails_within_bounds(
        dir.path(),
        "addons/bomb.tf.j2",
        &["made more than 10000000 allocations, the limit for one file"],
    );
}

#[test]
fn long_work_between_allocations_is_stopped_by_the_clock() {
    // One allocation per 100,000 items: the count alone would allow 10^12.
    let dir =
        workspace_with_addon("{% set big = range(100000)|list %}{{ (big * 100000000000)|sum }}");
    fails_within_bounds(
        dir.path(),
        "addons/bomb.tf.j2",
        &[
            "took more than 30 s, the limit for one file",
            "made more than 10000000 allocations",
        ],
    );
}
