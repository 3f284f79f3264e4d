//! Runs a process under a hang detector and measures its own peak memory.
//!
//! A child's `ru_maxrss` starts at its parent's high-water mark: at `exec`
//! Linux keeps the larger of the old and the new address space's peak, and
//! the old one is the test process's (copied by `fork`, shared by
//! `posix_spawn`). So neither `getrusage(RUSAGE_CHILDREN)` nor `wait4` on a
//! direct child measures the command alone. Here `/bin/sh` (small, freshly
//! exec'd) starts the command in the background and exits; the test process
//! is a child subreaper, so the command is re-parented to it and reaped
//! with `wait4` on its pid, whose rusage is then that process's own.
//! A watchdog kills it when it outlives the time bound or its resident set
//! passes the memory bound, so a runaway allocation fails the test instead
//! of the machine.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A finished (or killed) run.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The child's own peak resident set, in KiB (`ru_maxrss`).
    pub peak_rss_kib: u64,
    /// Why the watchdog killed it, if it did.
    pub killed: Option<String>,
}

impl Outcome {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `command` (its program, arguments, directory and the variables set
/// on it, nothing inherited) with no stdin, capturing stdout and stderr,
/// killing it after `time` or above `memory_kib` of resident memory.
pub fn run(command: Command, time: Duration, memory_kib: u64) -> Outcome {
    let started = Instant::now();
    let (mut wrapper, pid_file) = wrapped(&command);
    let mut shell = wrapper.spawn().expect("/bin/sh starts");
    let stdout = drain(shell.stdout.take().unwrap());
    let stderr = drain(shell.stderr.take().unwrap());
    assert!(
        shell.wait().unwrap().success(),
        "/bin/sh started the command"
    );
    let pid: libc::pid_t = std::fs::read_to_string(pid_file.path())
        .unwrap()
        .trim()
        .parse()
        .expect("the shell wrote the command's pid");
    let mut killed = None;
    let (status, usage) = loop {
        if let Some(reaped) = wait(pid, libc::WNOHANG) {
            break reaped;
        }
        if killed.is_none() {
            let rss = resident_kib(pid);
            if started.elapsed() > time {
                killed = Some(format!("still running after {time:?}"));
            } else if rss > memory_kib {
                killed = Some(format!("resident memory {rss} KiB over {memory_kib} KiB"));
            }
            if killed.is_some() {
                // SAFETY: `pid` is our (adopted) child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        peak_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        killed,
    }
}

/// `/bin/sh` starting `command` in the background and writing its pid to
/// the returned file; this process becomes a subreaper to adopt it.
fn wrapped(command: &Command) -> (Command, tempfile::NamedTempFile) {
    static SUBREAPER: std::sync::Once = std::sync::Once::new();
    SUBREAPER.call_once(|| {
        // SAFETY: prctl with integer arguments only.
        let done = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(done, 0, "PR_SET_CHILD_SUBREAPER");
    });
    let pid_file = tempfile::NamedTempFile::new().unwrap();
    let mut wrapper = Command::new("/bin/sh");
    wrapper
        .arg("-c")
        .arg("\"$@\" </dev/null & echo $! > \"$0\"")
        .arg(pid_file.path())
        .arg(command.get_program())
        .args(command.get_args())
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = command.get_current_dir() {
        wrapper.current_dir(dir);
    }
    for (name, value) in command.get_envs() {
        if let Some(value) = value {
            wrapper.env(name, value);
        }
    }
    (wrapper, pid_file)
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// `wait4(pid, options)`: the status and the child's own rusage once it ended.
fn wait(pid: libc::pid_t, options: libc::c_int) -> Option<(ExitStatus, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to our locals; `pid` is our unreaped child.
    let reaped = unsafe { libc::wait4(pid, &mut status, options, &mut usage) };
    assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
    (reaped == pid).then(|| (ExitStatus::from_raw(status), usage))
}

/// The resident set of a running process, from `/proc/PID/statm`.
fn resident_kib(pid: libc::pid_t) -> u64 {
    let Ok(statm) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
        return 0;
    };
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse::<u64>().ok())
        .map_or(0, |pages| pages * page / 1024)
}
