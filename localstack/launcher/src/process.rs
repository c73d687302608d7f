//! Daemon processes: started in their own session so they outlive the command that started them, logging to a
//! file, and stopped by process group.

use crate::{io, LocalError};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `program` detached (new session), stdout and stderr appended to `log`.
pub fn spawn_daemon(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    log: &Path,
) -> Result<Daemon, LocalError> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io(format!("opening {}", log.display())))?;
    let err = out.try_clone().map_err(io("duplicating the log handle"))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: setsid() in the child between fork and exec only changes its session; it allocates nothing.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            libc::setsid();
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(io(format!("starting {}", program.display())))?;
    let pid = child.id();
    // Read before the reaper may reap it: a daemon that died at once keeps start time 0 and never "runs".
    let started = start_time(pid).unwrap_or(0);
    // Reap it in the background so it never lingers as a zombie while we run.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(Daemon { pid, started })
}

/// When `pid` started, in clock ticks since boot (`/proc/<pid>/stat`, field 22): with the pid, it names one
/// process for good, where a pid alone is reused after the process exits (or after a reboot).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// A process we started, as the state file records it: its pid and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Daemon {
    pub pid: u32,
    pub started: u64,
}

impl Daemon {
    /// The process `pid` as it is now (`None` when there is none).
    pub fn of(pid: u32) -> Option<Daemon> {
        Some(Daemon {
            pid,
            started: start_time(pid)?,
        })
    }

    /// Still this very process: alive, and the pid not reused by another since.
    pub fn runs(&self) -> bool {
        alive(self.pid) && start_time(self.pid) == Some(self.started)
    }

    /// Stops it and its process group, only if it is still ours; true when it was ours and is gone.
    pub fn stop(&self) -> bool {
        self.runs() && terminate(self.pid)
    }
}

pub fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0 && !zombie(pid)
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}

/// `Some(description)` once the daemon has exited.
pub fn exit_status(daemon: &Daemon) -> Option<String> {
    (!daemon.runs()).then(|| format!("process {} exited", daemon.pid))
}

/// SIGTERM to the process group, SIGKILL after 10 s; true when it is gone. Only for a process this very run
/// started, or one `Daemon::runs` vouched for: a recorded pid may belong to anyone by now.
fn terminate(pid: u32) -> bool {
    let Ok(pgid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: signalling a process group we created (the daemon is its session and group leader).
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if !alive(pid) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: as above; also takes down anything of the group that ignored SIGTERM.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    // Tearing down a large process (LocalStack's Python, many threads) takes a moment on a loaded machine: a
    // fixed short sleep reported a killed LocalStack as still running.
    let killed = Instant::now();
    while alive(pid) && killed.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

/// The last `n` lines of a log.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_is_known_by_its_start_time() {
        let me = Daemon::of(std::process::id()).expect("this process has a start time");
        assert!(me.runs());
        let reused = Daemon {
            started: me.started + 1,
            ..me
        };
        assert!(
            !reused.runs(),
            "a pid with another start time is someone else"
        );
        assert!(!reused.stop(), "someone else is never signalled");
        assert!(Daemon::of(u32::MAX).is_none());
    }
}
