//! Scale-out on loopback: calls balanced over two replicas of the real binary, one replica
//! SIGTERMed in the middle of the load, and no call failing at the client: Python grpcio
//! (round_robin, health checks, retry on UNAVAILABLE) and the CLI (tonic's balanced channel,
//! its own retry on UNAVAILABLE).
mod common;
mod grpc_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use grpc_support::process::{send_sigterm, start_serving, wait_exit, Replica};
use grpc_support::{venv_python, HARBOUR_ARTICLE, PATIENCE};

const GRACE: &str = "2";

/// A replica with metrics, once SERVING.
async fn serving_replica() -> Replica {
    let (replica, _, _) = start_serving(&[
        "--drain-grace-seconds",
        GRACE,
        "--metrics-listen",
        "127.0.0.1:0",
    ])
    .await;
    replica
}

/// How many Digest calls `replica` answered OK, from its Prometheus metrics.
fn digests_served(replica: &Replica) -> u64 {
    let address = replica.metrics.as_ref().expect("started with metrics");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).unwrap();
    page.lines()
        .filter(|line| {
            line.starts_with("precis_requests_total{")
                && line.contains(r#"rpc="Digest""#)
                && line.contains(r#"code="OK""#)
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// What a client run during a drain saw.
struct DrainRun {
    status: std::process::ExitStatus,
    /// Its stdout, then its stderr.
    output: String,
    /// Digests the drained replica had answered when it got SIGTERM.
    drained_had_served: u64,
    drained: Replica,
}

/// Runs a client command, reading its stdout line by line; SIGTERMs `drained` once `after`
/// lines start with "ok ".
async fn run_during_drain(mut client: Command, drained: Replica, after: usize) -> DrainRun {
    let mut child = client
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the client starts");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = tokio::task::spawn_blocking(move || {
        let mut output = String::new();
        let mut ok = 0;
        let mut drained_had_served = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("ok ") {
                ok += 1;
            }
            if ok >= after && drained_had_served.is_none() {
                drained_had_served = Some(digests_served(&drained));
                send_sigterm(&drained.process);
            }
            output.push_str(&line);
            output.push('\n');
        }
        let mut errors = String::new();
        let _ = stderr.read_to_string(&mut errors);
        let status = child.wait().unwrap();
        output.push_str(&errors);
        DrainRun {
            status,
            drained_had_served: drained_had_served
                .unwrap_or_else(|| panic!("fewer than {after} calls answered:\n{output}")),
            output,
            drained,
        }
    });
    tokio::time::timeout(PATIENCE, reader)
        .await
        .expect("the client finishes within the patience")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_drained_mid_load_fails_no_call() {
    let article_dir = tempfile::tempdir().unwrap();
    let article = article_dir.path().join("harbour.txt");
    std::fs::write(&article, HARBOUR_ARTICLE).unwrap();

    // Python grpcio over replicas A and B; A is SIGTERMed after 10 answers.
    let a = serving_replica().await;
    let b = serving_replica().await;
    let servers = format!("{},{}", a.address, b.address);
    let mut python = Command::new(venv_python());
    python
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python_balanced_client.py"))
        .args(["--servers", &servers, "--calls", "60", "--concurrency", "4"])
        .arg(&article);
    let b_before = digests_served(&b);
    let run = run_during_drain(python, a, 10).await;
    let output = &run.output;
    assert!(
        run.status.success(),
        "the Python client saw failures:\n{output}"
    );
    assert!(
        output.contains(r#""ok": 60, "failed": {}"#),
        "not every call answered:\n{output}"
    );
    assert!(
        run.drained_had_served > 0,
        "A served nothing before its drain:\n{output}"
    );
    assert!(digests_served(&b) > b_before, "B served nothing:\n{output}");
    let status = wait_exit(run.drained.process).await;
    assert!(status.success(), "A exit status {status}");

    // The CLI over B and a new replica C; B is SIGTERMed after 6 answers.
    let c = serving_replica().await;
    let servers = format!("http://{},http://{}", b.address, c.address);
    // Three callers, 8 calls each, one CLI process per call.
    let script = "for caller in 1 2 3; do ( for i in 1 2 3 4 5 6 7 8; do \
                  \"$0\" digest --file \"$1\" --server \"$2\" > /dev/null \
                  && echo \"ok $caller.$i\" || echo \"failed $caller.$i\"; done ) & done; wait";
    let mut cli_loop = Command::new("sh");
    cli_loop
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_precis"))
        .arg(&article)
        .arg(&servers);
    let c_before = digests_served(&c);
    let run = run_during_drain(cli_loop, b, 6).await;
    let output = &run.output;
    assert!(run.status.success(), "{output}");
    assert_eq!(
        output
            .lines()
            .filter(|line| line.starts_with("ok "))
            .count(),
        24,
        "a CLI call failed:\n{output}"
    );
    assert!(
        run.drained_had_served > 0,
        "B served nothing before its drain:\n{output}"
    );
    assert!(digests_served(&c) > c_before, "C served nothing:\n{output}");
    let status = wait_exit(run.drained.process).await;
    assert!(status.success(), "B exit status {status}");
    drop(c);
}
