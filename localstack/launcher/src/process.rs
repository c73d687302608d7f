//! Daemon processes: started in their own session so they outlive the command that started them, logging to a
//! file, and stopped by process group.

use crate::{io, LocalError};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `program` detached (new session), stdout and stderr appended to `log`; returns its pid.
pub fn spawn_daemon(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    log: &Path,
) -> Result<u32, LocalError> {
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
    // Reap it in the background so it never lingers as a zombie while we run.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(pid)
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

/// `Some(description)` once `pid` has exited.
pub fn exit_status(pid: u32) -> Option<String> {
    (!alive(pid)).then(|| format!("process {pid} exited"))
}

/// SIGTERM to the process group, SIGKILL after 10 s; true when it is gone.
pub fn terminate(pid: u32) -> bool {
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
