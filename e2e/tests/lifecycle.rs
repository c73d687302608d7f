//! `local down` stops exactly what `local up` started: LocalStack, the emulator, every Lambda runner and every
//! bootstrap, leaving no process behind.

use riv_e2e::{photo, workspace_root};
use riv_emulator::testimage::Case;
use riv_launcher::up::{self as stack_local, UpOptions};
use std::time::{Duration, Instant};

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && pid != std::process::id() {
            found.push((pid, cmdline));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn local_down_leaves_no_process_behind() {
    let root = workspace_root();
    let port = riv_launcher::http::free_port().unwrap();
    let options = UpOptions::on_port(port, "Riv-Lifecycle").unwrap();
    let up = stack_local::up(&root, &options, &|m| eprintln!("==> {m}"))
        .await
        .unwrap();
    // An invocation starts a runner and a bootstrap under LocalStack.
    let lambda = aws_sdk_lambda::Client::new(
        &riv_deploy::Target::local(&up.running.endpoint(), stack_local::REGION)
            .await
            .config,
    );
    let event =
        serde_json::json!({"Input": {"UserId": "ann", "Image": photo(Case::Selfie, "ann")}});
    let out = lambda
        .invoke()
        .function_name("Riv-Lifecycle-detect-faces")
        .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), None);
    let marker = format!("127.0.0.1:{port}/_localstack_lambda");
    assert!(
        !processes_mentioning(&marker).is_empty(),
        "no runner was started"
    );

    let daemons = up.running.processes();
    let stopped = riv_launcher::stop(&up.running.dir).unwrap();
    assert_eq!(stopped.processes.len(), 2, "LocalStack and the emulator");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<_> = daemons
            .iter()
            .filter(|d| d.runs())
            .map(|d| (d.pid, String::from("stack process")))
            .chain(processes_mentioning(&marker))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left behind: {left:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        riv_launcher::http::port_free(port),
        "port {port} still taken"
    );
    assert!(
        riv_launcher::stop(&up.running.dir)
            .unwrap()
            .processes
            .is_empty(),
        "a second down finds nothing"
    );
}
