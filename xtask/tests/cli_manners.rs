//! The command line as a platform engineer meets it, through the real binary: failures that come in seconds,
//! before anything slow, in one line that names the fix, with no backtrace; exit codes scripts can rely on.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary with no AWS credentials anywhere it could look (and no instance metadata: nothing leaves the
/// machine), no backtraces asked for.
fn xtask(args: &[&str]) -> (Output, Duration) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env_remove("RUST_BACKTRACE")
        .env("AWS_CONFIG_FILE", "/nonexistent/riv-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/riv-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(args)
        .stdin(std::process::Stdio::null());
    let started = Instant::now();
    let out = cmd.output().expect("xtask runs");
    (out, started.elapsed())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Lines that are not progress (`==> …`): what the failure says.
fn error_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| !l.starts_with("==>") && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn no_backtrace(out: &Output) {
    let text = stderr(out);
    assert!(
        !text.contains("backtrace")
            && !text.contains("panicked")
            && !text.contains("RUST_BACKTRACE"),
        "{text}"
    );
}

#[test]
fn deploy_without_credentials_fails_in_seconds_before_compiling() {
    let (out, took) = xtask(&["deploy", "--region", "eu-west-1", "--yes"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {text}");
    assert!(!text.contains("compiling"), "it compiled first: {text}");
    let first = error_lines(&out).into_iter().next().unwrap_or_default();
    assert!(
        first.starts_with("error: no AWS credentials")
            && first.contains("--profile")
            && first.contains("AWS_PROFILE")
            && first.contains("aws sso login"),
        "{text}"
    );
    no_backtrace(&out);
}

#[test]
fn an_unknown_region_fails_in_seconds_naming_the_fix() {
    for args in [
        ["deploy", "--region", "eu-west-9", "--yes"],
        ["destroy", "--region", "mars-north-1", "--yes"],
    ] {
        let (out, took) = xtask(&args);
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(took < Duration::from_secs(5), "took {took:?}: {text}");
        let first = error_lines(&out).into_iter().next().unwrap_or_default();
        assert!(
            first.contains(args[2])
                && first.contains("not an AWS region")
                && first.contains("--region"),
            "{text}"
        );
        no_backtrace(&out);
    }
    // A real region without the services the stack needs, named with the way out.
    let (out, _) = xtask(&["deploy", "--region", "ap-northeast-1", "--yes"]);
    let text = stderr(&out);
    assert!(text.contains("IdExtraction=detect-text"), "{text}");
}

#[test]
fn the_container_backend_without_a_daemon_is_one_line() {
    let (out, took) = {
        let args = ["e2e", "--backend", "container", "--filter", "auth"];
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.env_remove("RUST_BACKTRACE")
            .env("DOCKER_HOST", "unix:///nonexistent/riv-docker.sock")
            .args(args);
        let started = Instant::now();
        (cmd.output().expect("xtask runs"), started.elapsed())
    };
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    assert!(
        text.contains("no Docker daemon") && text.contains("--backend host"),
        "{text}"
    );
    no_backtrace(&out);
}

#[test]
fn local_up_on_a_busy_port_names_who_holds_it() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = held.local_addr().expect("its address").port().to_string();
    let (out, took) = xtask(&["local", "up", "--port", &port]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {text}");
    let me = format!("(pid {})", std::process::id());
    assert!(
        text.contains(&format!("port {port}")) && text.contains(&me) && text.contains("--port"),
        "{text}"
    );
    no_backtrace(&out);
}

#[test]
fn usage_errors_exit_2_and_the_version_names_the_commit() {
    let (out, _) = xtask(&["deploy"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let (out, _) = xtask(&["--version"]);
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success()
            && version.contains(env!("CARGO_PKG_VERSION"))
            && version.contains("commit "),
        "{version}"
    );
}

#[test]
fn every_command_ends_its_help_with_examples() {
    let commands: &[&[&str]] = &[
        &["build"],
        &["synth"],
        &["deploy"],
        &["drift"],
        &["outputs"],
        &["destroy"],
        &["cleanup"],
        &["reconcile"],
        &["e2e"],
        &["codegen"],
        &["local", "up"],
        &["local", "down"],
        &["local", "status"],
        &["local", "logs"],
        &["fleet", "plan"],
        &["fleet", "deploy"],
        &["fleet", "status"],
        &["fleet", "drift"],
        &["fleet", "destroy"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let (out, _) = xtask(&args);
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let examples = help.split("Examples:").nth(1).unwrap_or_default();
        assert!(
            out.status.success() && examples.matches("cargo xtask").count() >= 2,
            "{command:?}: {help}"
        );
    }
}

#[test]
fn progress_is_live_at_a_terminal_and_plain_lines_in_a_pipe() {
    // script(1) (util-linux, in every Debian) runs the suite's canary under a pseudo-terminal.
    let command = format!("{} e2e --canary-panic", env!("CARGO_BIN_EXE_xtask"));
    let at_terminal = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("RUST_BACKTRACE")
        .env("TERM", "xterm-256color")
        .output()
        .expect("script(1) runs: install util-linux");
    let screen = String::from_utf8_lossy(&at_terminal.stdout).into_owned();
    assert!(
        screen.contains("\u{1b}[2K")
            && screen.contains("0/1 scenarios")
            && screen.contains("1/1 scenarios"),
        "no live bar at a terminal: {screen:?}"
    );

    let (piped, _) = xtask(&["e2e", "--canary-panic"]);
    let text = stderr(&piped);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\r'),
        "escape codes in a pipe: {text:?}"
    );
    assert!(
        text.contains("==> end-to-end scenarios") && text.contains("    FAIL canary_that_panics"),
        "{text}"
    );
    assert_eq!(piped.status.code(), Some(1), "the canary fails the suite");
}
