//! `cargo bench`: the speed and memory targets in the README's "Performance" section, measured.
//!
//! For 10, 1,000 and 10,000 generated users it runs the release binary as a
//! child process and reads the child's own CPU time and peak memory: render
//! and diff against an empty and an up-to-date tree, and `check` of an
//! up-to-date tree beside the I/O floor (`cat` of every file) and
//! `terraform fmt -check -recursive` on the same tree. Then it times each
//! pipeline stage in-process for the largest size.
//!
//! `cargo bench -- 1000 5000` picks other sizes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[allow(dead_code, reason = "the bench uses the full mix only")]
#[path = "../tests/common/users.rs"]
mod users;

/// A realistic users map (`Mix::FULL`): 60 % namespace-owners (two
/// namespaces, two domains, a quota), 20 % power-users, 20 % admins; apps
/// for three in four. Seeded, so every run measures the same input.
fn users(count: usize) -> Value {
    users::users(&mut fastrand::Rng::with_seed(1), &users::Mix::FULL, count)
}

/// What a child process cost.
#[derive(Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
    max_rss_kb: i64,
}

/// Runs `command` to completion and reads its rusage; the best of `runs`.
#[expect(
    clippy::zombie_processes,
    reason = "wait4 reaps the child, which std's wait would not let us measure"
)]
fn measure(make: impl Fn() -> Command, runs: usize) -> Cost {
    let mut best: Option<Cost> = None;
    for _ in 0..runs {
        let mut command = make();
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let started = Instant::now();
        let child = command.spawn().expect("the measured command starts");
        let mut status = 0;
        // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on the pid we just spawned, with valid out-pointers.
        let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
        let wall = started.elapsed();
        assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
        let timeval = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
        let cost = Cost {
            wall,
            cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
            max_rss_kb: usage.ru_maxrss,
        };
        if best.is_none_or(|best| cost.cpu < best.cpu) {
            best = Some(cost);
        }
    }
    best.expect("at least one run")
}

fn tenantgen(dir: &Path, args: &[&str]) -> impl Fn() -> Command {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tenantgen"));
        command.current_dir(&dir).args(&args).args([
            "--users",
            "users.json",
            "--out",
            "out",
            "--color",
            "never",
        ]);
        command
    }
}

fn tree_bytes(root: &Path) -> (usize, u64) {
    let mut files = 0;
    let mut bytes = 0;
    for entry in walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_file() {
            files += 1;
            bytes += entry.metadata().map(|meta| meta.len()).unwrap_or(0);
        }
    }
    (files, bytes)
}

fn seconds(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

fn workspace(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config =
        std::fs::read_to_string(repo.join("tenantgen.hcl")).expect("the repository config");
    std::fs::write(
        dir.path().join("tenantgen.hcl"),
        config.replace("users_file = \"examples/k8s_users.json\"", ""),
    )
    .expect("write config");
    std::fs::write(dir.path().join("users.json"), users(count).to_string()).expect("write users");
    dir
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect::<Vec<_>>();
    let sizes = if sizes.is_empty() {
        vec![10, 1_000, 10_000]
    } else {
        sizes
    };
    let terraform = Command::new("terraform")
        .arg("version")
        .output()
        .is_ok_and(|out| out.status.success());
    println!(
        "tenantgen pipeline benchmark ({} CPUs); each figure is the best of 3 runs\n",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "{:>7} {:>9} {:>8} | {:>12} {:>12} {:>12} {:>12} | {:>11} {:>11} {:>9} | {:>11} {:>9} {:>10}",
        "users",
        "output",
        "files",
        "diff empty",
        "render empty",
        "diff current",
        "check",
        "check wall",
        "cat wall",
        "check/cat",
        "fmt wall",
        "fmt/check",
        "peak/output"
    );
    let mut per_user = Vec::new();
    for &count in &sizes {
        let dir = workspace(count);
        let diff_empty = measure(tenantgen(dir.path(), &["diff"]), 3);
        let render_empty = measure(
            || {
                let _ = std::fs::remove_dir_all(dir.path().join("out"));
                tenantgen(dir.path(), &["render", "--yes"])()
            },
            1,
        );
        let (files, bytes) = tree_bytes(&dir.path().join("out"));
        let diff_current = measure(tenantgen(dir.path(), &["diff"]), 3);
        let check = measure(tenantgen(dir.path(), &["check"]), 3);
        let out = dir.path().join("out");
        let cat = measure(
            || {
                let mut command = Command::new("sh");
                command
                    .args(["-c", "find . -type f -print0 | xargs -0 cat > /dev/null"])
                    .current_dir(&out);
                command
            },
            3,
        );
        let fmt = terraform.then(|| {
            let rc = dir.path().join("empty.tfrc");
            std::fs::write(&rc, "").expect("write terraform config");
            measure(
                || {
                    let mut command = Command::new("terraform");
                    command
                        .args(["fmt", "-check", "-recursive", "out"])
                        .current_dir(dir.path())
                        .env("TF_CLI_CONFIG_FILE", &rc);
                    command
                },
                1,
            )
        });
        let peak = [diff_empty, diff_current, check]
            .iter()
            .map(|cost| cost.max_rss_kb)
            .max()
            .unwrap_or(0);
        println!(
            "{:>7} {:>6.1} MB {:>8} | {:>12} {:>12} {:>12} {:>12} | {:>11} {:>11} {:>8.2}x | {:>11} {:>8.1}x {:>9.2}x",
            count,
            bytes as f64 / 1e6,
            files,
            seconds(diff_empty.cpu),
            seconds(render_empty.cpu),
            seconds(diff_current.cpu),
            seconds(check.cpu),
            seconds(check.wall),
            seconds(cat.wall),
            check.wall.as_secs_f64() / cat.wall.as_secs_f64(),
            fmt.map_or("-".into(), |fmt| seconds(fmt.wall)),
            fmt.map_or(0.0, |fmt| fmt.wall.as_secs_f64() / check.wall.as_secs_f64()),
            (peak * 1024) as f64 / bytes as f64,
        );
        per_user.push((count, [diff_empty, diff_current, check], bytes));
    }
    println!(
        "\nCPU times are user + system of the tenantgen process; \"diff\" is render + diff without writing."
    );
    // Growth between the two largest sizes: linear cost grows like the users.
    if let [
        ..,
        (small, small_costs, small_bytes),
        (large, large_costs, large_bytes),
    ] = per_user.as_slice()
    {
        let growth = |large: f64, small: f64| large / small;
        println!(
            "from {small} to {large} users ({:.1}x users, {:.1}x output): CPU of diff empty {:.1}x, diff current {:.1}x, check {:.1}x; peak memory {:.1}x",
            growth(*large as f64, *small as f64),
            growth(*large_bytes as f64, *small_bytes as f64),
            growth(
                large_costs[0].cpu.as_secs_f64(),
                small_costs[0].cpu.as_secs_f64()
            ),
            growth(
                large_costs[1].cpu.as_secs_f64(),
                small_costs[1].cpu.as_secs_f64()
            ),
            growth(
                large_costs[2].cpu.as_secs_f64(),
                small_costs[2].cpu.as_secs_f64()
            ),
            growth(
                large_costs
                    .iter()
                    .map(|cost| cost.max_rss_kb)
                    .max()
                    .unwrap_or(0) as f64,
                small_costs
                    .iter()
                    .map(|cost| cost.max_rss_kb)
                    .max()
                    .unwrap_or(0) as f64
            ),
        );
        let marginal =
            |costs: &[Cost; 3]| costs.iter().map(|cost| cost.max_rss_kb).max().unwrap_or(0) * 1024;
        println!(
            "memory per byte of output between those sizes (the allocator's fixed arena cancels out): {:.2} bytes",
            (marginal(large_costs) - marginal(small_costs)) as f64
                / (*large_bytes as f64 - *small_bytes as f64)
        );
    }
    if let Some(&largest) = sizes.iter().max() {
        stages(largest);
    }
}

/// Times each pipeline stage in-process.
fn stages(count: usize) {
    let dir = workspace(count);
    let options = tenantgen::Options {
        working_dir: dir.path().to_path_buf(),
        users: Some("users.json".into()),
        out: Some("out".into()),
        ..Default::default()
    };
    let started = Instant::now();
    let loaded = tenantgen::load(&options).expect("load");
    let load = started.elapsed();
    let started = Instant::now();
    let plan = tenantgen::plan::build(&loaded.validated.tenants, &loaded.config);
    let planning = started.elapsed();
    let started = Instant::now();
    tenantgen::plan::check(&plan, &loaded.config.woodpecker.static_admins).expect("consistent");
    let checking = started.elapsed();
    let started = Instant::now();
    let templates = tenantgen::render::Templates::load(None).expect("templates");
    let mut rendered = Vec::new();
    tenantgen::render::render(&plan, &templates, |file| {
        rendered.push(file);
        Ok(())
    })
    .expect("render");
    let rendering = started.elapsed();
    let started = Instant::now();
    let files: Vec<_> = rendered
        .into_iter()
        .map(|file| tenantgen::verify::verify(file).expect("verify"))
        .collect();
    let verifying = started.elapsed();
    let started = Instant::now();
    let changes = tenantgen::diff::compare(&loaded.out_root, files).expect("diff");
    let diffing = started.elapsed();
    let started = Instant::now();
    tenantgen::write::apply(&loaded.out_root, &changes).expect("write");
    let writing = started.elapsed();
    println!(
        "\nstages for {count} users, into an empty tree: source+model {}, plan {}, consistency check {}, render {}, verify (format, check, hash) {}, diff {}, write {}",
        seconds(load),
        seconds(planning),
        seconds(checking),
        seconds(rendering),
        seconds(verifying),
        seconds(diffing),
        seconds(writing)
    );
    // What `check` does once loaded, as the command line does it: the
    // session's lock, then plan to comparison on every core, over a tree
    // written with its render record.
    let options = tenantgen::Options {
        out: Some("session-out".into()),
        ..options
    };
    let loaded = tenantgen::load(&options).expect("load");
    let generation = tenantgen::generate(&loaded, None).expect("generate");
    let changes = tenantgen::diff::compare(&loaded.out_root, generation.files).expect("diff");
    tenantgen::write::apply(&loaded.out_root, &changes).expect("write");
    let mut loaded = tenantgen::load(&options).expect("load");
    let started = Instant::now();
    let session =
        tenantgen::session::Session::open(&loaded.out_root, "bench", false).expect("lock");
    let compared = session.compare(&mut loaded, None).expect("compare");
    assert!(!compared.changes.has_changes(), "the tree was just written");
    println!(
        "then on a written tree, Session::open and Session::compare (plan, check, render, verify and compare on every core): {}",
        seconds(started.elapsed())
    );
}
