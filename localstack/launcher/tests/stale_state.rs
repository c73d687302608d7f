//! A state file outlives what it names (a reboot, a crash, `kill -9`): by then its pids may belong to anyone, so
//! `local up` and `local down` must never signal a process only because its pid is recorded.

use riv_launcher::process::{start_time, Daemon};
use riv_launcher::{LocalStackRuns, Running};
use std::path::PathBuf;
use std::process::{Child, Command};

/// An unrelated process in its own session, as a pid reused after a reboot would be.
struct Bystander(Child);

impl Bystander {
    fn start() -> Bystander {
        Bystander(
            Command::new("setsid")
                .args(["sleep", "600"])
                .spawn()
                .expect("setsid runs"),
        )
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn alive(&mut self) -> bool {
        self.0
            .try_wait()
            .expect("waiting on the bystander")
            .is_none()
    }
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stack_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("stale-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_recorded_pid_now_used_by_another_process_is_not_signalled() {
    let mut bystander = Bystander::start();
    // Give setsid a moment to exec sleep, so the start time read is sleep's own.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let started = start_time(bystander.pid()).expect("the bystander has a start time");
    let dir = stack_dir("reused");
    // What the state file said before the reboot: our processes had these pids, but started at another time.
    let ours_before = Daemon {
        pid: bystander.pid(),
        started: started.saturating_sub(1_000),
    };
    let recorded = Running {
        port: 1,
        emulator_port: 2,
        emulator: ours_before,
        engine: riv_launcher::engine::EngineSetup::deterministic(),
        localstack: LocalStackRuns::Host {
            process: ours_before,
            python: PathBuf::from("/nonexistent/python3"),
        },
        dir: dir.clone(),
    };
    std::fs::write(
        dir.join("state.json"),
        serde_json::to_string(&recorded).unwrap(),
    )
    .unwrap();

    let loaded = Running::load(&dir).expect("the state file reads");
    assert!(!loaded.runs(), "a reused pid counts as our LocalStack");
    assert!(loaded.processes().is_empty());
    let stopped = riv_launcher::stop(&dir).unwrap();
    assert!(stopped.processes.is_empty(), "{stopped:?}");
    assert!(bystander.alive(), "the unrelated process was killed");
    assert!(
        Running::load(&dir).is_none(),
        "the stale state file is forgotten"
    );
}

#[test]
fn a_state_file_of_the_old_layout_signals_nobody() {
    let mut bystander = Bystander::start();
    let dir = stack_dir("old-layout");
    let old = serde_json::json!({
        "port": 4566,
        "emulator_port": 4567,
        "localstack_pid": bystander.pid(),
        "emulator_pid": bystander.pid(),
        "dir": dir,
        "python": "/nonexistent/python3",
    });
    std::fs::write(dir.join("state.json"), old.to_string()).unwrap();
    assert!(Running::load(&dir).is_none());
    let stopped = riv_launcher::stop(&dir).unwrap();
    assert!(stopped.processes.is_empty());
    assert!(bystander.alive(), "the unrelated process was killed");
}
