//! The pager, started the way git starts it.

/// Characters that make git run a pager command through the shell.
const SHELL_SPECIAL: &str = "|&;<>()$`\\\"' \t\n*?[#~=%";

/// The pager as git starts it: `PAGER`, `less` when unset, with `LESS=FRX`
/// (quit when the text fits one screen, pass colours, keep the text on the
/// screen) and `LV=-c` unless they are set; none when `PAGER` is empty,
/// `cat` or not UTF-8. Returns the command and how to name it in messages.
pub(super) fn pager_command() -> Option<(std::process::Command, String)> {
    let pager = match std::env::var_os("PAGER") {
        None => "less".to_string(),
        Some(value) => value.into_string().ok()?,
    };
    let pager = pager.trim();
    if pager.is_empty() || pager == "cat" {
        return None;
    }
    // A plain program name runs directly, so a missing one fails to start
    // and the diffs go to stdout instead of into a shell's error.
    let mut command = if pager.contains(|c: char| SHELL_SPECIAL.contains(c)) {
        let mut shell = std::process::Command::new("sh");
        shell.arg("-c").arg(pager);
        shell
    } else {
        std::process::Command::new(pager)
    };
    for (name, value) in [("LESS", "FRX"), ("LV", "-c")] {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    command.stdin(std::process::Stdio::piped());
    // SAFETY: `signal` is async-signal-safe; the pager gets the default
    // SIGINT that tenantgen ignores while it runs (see `IgnoredInterrupts`).
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    Some((command, format!("`{pager}` (PAGER)")))
}

/// SIGINT ignored until dropped, then handled as before.
pub(super) struct IgnoredInterrupts(libc::sigaction);

impl IgnoredInterrupts {
    pub(super) fn start() -> Option<IgnoredInterrupts> {
        // SAFETY: plain sigaction calls on zero-initialised C structs.
        unsafe {
            let mut ignore: libc::sigaction = std::mem::zeroed();
            ignore.sa_sigaction = libc::SIG_IGN;
            let mut previous: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(libc::SIGINT, &ignore, &mut previous) == 0)
                .then_some(IgnoredInterrupts(previous))
        }
    }
}

impl Drop for IgnoredInterrupts {
    fn drop(&mut self) {
        // SAFETY: restores the action saved by `start`.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.0, std::ptr::null_mut());
        }
    }
}
