//! Load test: N concurrent callers against a precis server on loopback, for a bounded time.
//!
//! By default it starts the `precis` binary next to it (`precis serve --listen 127.0.0.1:0`) with
//! the given server flags, waits for SERVING, runs the load, prints throughput, p50/p99 latency,
//! rejections (RESOURCE_EXHAUSTED) and the server's resident memory, then stops the server
//! with SIGTERM. `--server` targets a running server instead (loopback only).
//!
//!   loadtest --rpc detect --callers 64 --seconds 10
//!   loadtest --rpc digest --callers 16 --seconds 20 --model-workers 2
//!   loadtest --rpc digest --callers 1 --seconds 20 --beside-article big.txt   (fairness: small
//!     Digests alone, then beside three big ones in flight, from one run)
//!   loadtest --rpc digest --callers 4 --seconds 40 --beside-article big.txt --beside-callers 1
//!     --big-alone-calls 2   (the other way round: one big Digest alone, then beside four
//!     small callers saturating the server; prints how long the big Digests took both ways)
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use precis::grpc::client::Connection;
use precis::proto;
use tonic::Code;

#[derive(Debug, Parser)]
#[command(about = "Load test a precis server on loopback")]
struct Args {
    /// Which call to repeat
    #[arg(long, value_enum, default_value_t = Rpc::Detect)]
    rpc: Rpc,
    /// Concurrent callers, each with at most one call outstanding
    #[arg(long, default_value_t = 64)]
    callers: usize,
    /// HTTP/2 connections the callers share (round-robin)
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// How long to send for, after a warm-up of one call per caller
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Stop earlier after this many calls in total
    #[arg(long)]
    max_calls: Option<u64>,
    /// Digest this article (a text file, read at start) instead of the built-in one
    #[arg(long)]
    article: Option<std::path::PathBuf>,
    /// Target language for digest (empty: no translation)
    #[arg(long, default_value = "")]
    to: String,
    /// A running server (http://127.0.0.1:PORT) instead of starting one
    #[arg(long)]
    server: Option<String>,
    /// With --server: its process id, to report its memory
    #[arg(long)]
    server_pid: Option<u32>,
    /// Started server: worker threads per model
    #[arg(long, default_value_t = 1)]
    model_workers: usize,
    /// Started server: intra-op threads per worker (0: the server's default, from the cores)
    #[arg(long, default_value_t = 0)]
    torch_threads: usize,
    /// Started server: concurrent calls before RESOURCE_EXHAUSTED
    #[arg(long, default_value_t = precis::grpc::defaults::MAX_CONCURRENT_REQUESTS)]
    max_concurrent_requests: usize,
    /// Started server: jobs waiting per model before RESOURCE_EXHAUSTED
    #[arg(long, default_value_t = 64)]
    queue_capacity: usize,
    /// Fairness: after the measured phase, measure the same calls again for as long while
    /// `--beside-callers` callers digest this article (e.g. a 256 KB one from
    /// scripts/make_big_article.py) in a loop, and print both phases' latency and the ratio
    #[arg(long)]
    beside_article: Option<std::path::PathBuf>,
    /// Callers digesting `--beside-article` at once during the second phase
    #[arg(long, default_value_t = 3)]
    beside_callers: usize,
    /// Fairness the other way round: before the measured phases, digest `--beside-article`
    /// this many times alone (one at a time), and print those times beside the big Digests'
    /// times during the second phase
    #[arg(long, default_value_t = 0)]
    big_alone_calls: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Rpc {
    /// DetectLanguage on a short sentence (six languages in turn)
    Detect,
    /// Digest of a seven-paragraph article (MiniLM-ranked summary, quotes)
    Digest,
    /// GetCapabilities: no model, no detector; measures the serving layer itself
    Capabilities,
}

/// Texts written for the load test: short, in several languages, like headlines and ledes.
const DETECT_TEXTS: &[&str] = &[
    "The city council approved the new harbour budget on Monday.",
    "El ayuntamiento aprobó el lunes el nuevo presupuesto del puerto.",
    "Le conseil municipal a approuvé lundi le nouveau budget du port.",
    "Der Stadtrat hat am Montag den neuen Hafenhaushalt beschlossen.",
    "Il consiglio comunale ha approvato lunedì il nuovo bilancio del porto.",
    "A câmara municipal aprovou na segunda-feira o novo orçamento do porto.",
];

/// The team's harbour article (the same one the gRPC tests digest).
const DIGEST_ARTICLE: &str = include_str!("../../tests/articles/harbour-en.txt");

/// Each caller walks the texts with this stride, so callers do not send the same text in
/// lockstep.
const TEXT_STRIDE: usize = 7;

/// The started server, stopped with SIGTERM (or killed) when dropped.
struct StartedServer {
    child: Child,
}

impl Drop for StartedServer {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(args: &Args) -> anyhow::Result<(StartedServer, String)> {
    use std::io::{BufRead, BufReader};
    let binary = std::env::current_exe()?
        .parent()
        .ok_or_else(|| anyhow::anyhow!("the load test binary has no directory"))?
        .join("precis");
    let mut child = Command::new(&binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--model-workers", &args.model_workers.to_string()])
        .args(["--torch-threads", &args.torch_threads.to_string()])
        .args(["--queue-capacity", &args.queue_capacity.to_string()])
        .args([
            "--max-concurrent-requests",
            &args.max_concurrent_requests.to_string(),
        ])
        .env_remove("PRECIS_API_KEYS")
        .env_remove("PRECIS_API_KEYS_FILE")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| anyhow::anyhow!("cannot start {}: {error}", binary.display()))?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let server = StartedServer { child };
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("the server exited before listening"))??;
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if entry["level"] == "ERROR" {
            anyhow::bail!("the server failed: {line}");
        }
        if let Some(address) = entry["fields"]["address"].as_str() {
            break address.to_string();
        }
    };
    // Keep draining its log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((server, format!("http://{address}")))
}

fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}

/// Resident memory of a process, from /proc (Linux).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// CPU time a process has used (user + system), from /proc (Linux; 100 ticks per second).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1_000_000.0)
}

#[derive(Default)]
struct CallerReport {
    latencies: Vec<Duration>,
    rejected: u64,
    other_errors: Vec<String>,
}

async fn one_call(
    connection: &Connection,
    rpc: Rpc,
    index: usize,
    to: &str,
) -> Result<(), tonic::Status> {
    let mut client = connection.precis();
    match rpc {
        Rpc::Detect => client
            .detect_language(connection.request(proto::DetectLanguageRequest {
                text: DETECT_TEXTS[index % DETECT_TEXTS.len()].to_string(),
            }))
            .await
            .map(drop),
        Rpc::Digest => client
            .digest(connection.request(proto::DigestRequest {
                text: digest_article().to_string(),
                target_language: to.to_string(),
                ..Default::default()
            }))
            .await
            .map(drop),
        Rpc::Capabilities => client
            .get_capabilities(connection.request(proto::GetCapabilitiesRequest {}))
            .await
            .map(drop),
    }
}

/// The article Digest calls send: `--article`'s text, else the built-in one.
static ARTICLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn digest_article() -> &'static str {
    ARTICLE.get().map_or(DIGEST_ARTICLE, String::as_str)
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.article {
        let text = std::fs::read_to_string(path).map_err(|error| {
            anyhow::anyhow!("cannot read --article {}: {error}", path.display())
        })?;
        let _ = ARTICLE.set(text);
    }
    let (started, url) = match &args.server {
        Some(url) => {
            anyhow::ensure!(
                is_loopback(url),
                "the load test only targets loopback servers, not {url}"
            );
            (None, url.clone())
        }
        None => {
            let (server, url) = tokio::task::block_in_place(|| start_server(&args))?;
            (Some(server), url)
        }
    };
    let server_pid = started
        .as_ref()
        .map(|server| server.child.id())
        .or(args.server_pid);

    let mut connections = Vec::new();
    for _ in 0..args.connections.max(1) {
        connections.push(Connection::connect(&url, None, None).await?);
    }
    let startup = Instant::now();
    loop {
        match connections[0].serving_status().await {
            Ok(tonic_health::pb::health_check_response::ServingStatus::Serving) => break,
            _ if startup.elapsed() < Duration::from_secs(300) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            other => anyhow::bail!("the server never became SERVING: {other:?}"),
        }
    }
    let rss_before = server_pid.and_then(rss_bytes);

    // Warm-up: one call per caller, not measured.
    for index in 0..args.callers {
        let _ = one_call(
            &connections[index % connections.len()],
            args.rpc,
            index,
            &args.to,
        )
        .await;
    }

    let big_alone = match (&args.beside_article, args.big_alone_calls) {
        (Some(path), calls) if calls > 0 => {
            digest_alone(&connections[0], &read_article(path)?, calls).await?
        }
        _ => Vec::new(),
    };

    let stop = Arc::new(AtomicBool::new(false));
    let calls_left = Arc::new(AtomicU64::new(args.max_calls.unwrap_or(u64::MAX)));
    let peak_rss = Arc::new(AtomicU64::new(rss_before.unwrap_or(0)));
    let sampler = server_pid.map(|pid| {
        let (stop, peak_rss) = (Arc::clone(&stop), Arc::clone(&peak_rss));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    peak_rss.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });

    let cpu_before = server_pid.and_then(cpu_seconds);
    let phase = run_phase(&connections, &args, Arc::clone(&calls_left)).await?;
    let (latencies, rejected, other_errors, elapsed) = (
        phase.latencies,
        phase.rejected,
        phase.other_errors,
        phase.elapsed,
    );
    let cpu_after = server_pid.and_then(cpu_seconds);
    let beside = match &args.beside_article {
        Some(path) => Some(run_beside(&connections, &args, path).await?),
        None => None,
    };
    stop.store(true, Ordering::Relaxed);
    if let Some(sampler) = sampler {
        let _ = sampler.await;
    }
    let rss_after = server_pid.and_then(rss_bytes);

    let ok = latencies.len() as u64;
    println!(
        "rpc={:?} callers={} connections={} seconds={:.1}{}",
        args.rpc,
        args.callers,
        connections.len(),
        elapsed.as_secs_f64(),
        if started.is_some() {
            format!(
                " (started server: model_workers={} torch_threads={} max_concurrent_requests={} queue_capacity={})",
                args.model_workers, args.torch_threads, args.max_concurrent_requests, args.queue_capacity
            )
        } else {
            String::new()
        }
    );
    println!(
        "ok={ok} throughput={:.1}/s p50={:.2}ms p99={:.2}ms max={:.2}ms",
        ok as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    println!(
        "rejected(RESOURCE_EXHAUSTED)={rejected} other_errors={}",
        other_errors.len()
    );
    for error in other_errors.iter().take(5) {
        println!("  error: {error}");
    }
    match (rss_before, rss_after) {
        (Some(before), Some(after)) => println!(
            "server_rss before={} peak={} after={}",
            megabytes(before),
            megabytes(peak_rss.load(Ordering::Relaxed)),
            megabytes(after)
        ),
        _ => println!("server_rss unknown (give --server-pid)"),
    }
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let used = after - before;
        let calls = (ok + rejected).max(1) as f64;
        println!(
            "server_cpu={used:.1}s ({:.0}% of one core) = {:.0}us per call",
            100.0 * used / elapsed.as_secs_f64(),
            1e6 * used / calls
        );
    }
    if let Some(beside) = beside {
        let alone_p99 = percentile(&latencies, 0.99);
        let beside_p99 = percentile(&beside.latencies, 0.99);
        println!(
            "beside {} callers digesting --beside-article ({} of them finished meanwhile): ok={} p50={:.2}ms p99={:.2}ms rejected={} other_errors={}",
            args.beside_callers,
            beside.big_calls,
            beside.latencies.len(),
            percentile(&beside.latencies, 0.50).as_secs_f64() * 1000.0,
            beside_p99.as_secs_f64() * 1000.0,
            beside.rejected,
            beside.other_errors.len(),
        );
        for error in beside.other_errors.iter().take(5) {
            println!("  error: {error}");
        }
        if !big_alone.is_empty() {
            print_big_digests(&big_alone, &beside);
        }
        println!(
            "fairness: p99 beside / p99 alone = {:.2}x (p50 {:.2}x)",
            beside_p99.as_secs_f64() / alone_p99.as_secs_f64().max(1e-9),
            percentile(&beside.latencies, 0.50).as_secs_f64()
                / percentile(&latencies, 0.50).as_secs_f64().max(1e-9),
        );
    }
    drop(started);
    Ok(())
}

/// One measured phase: its calls' latencies (sorted), rejections and other errors.
struct Phase {
    latencies: Vec<Duration>,
    rejected: u64,
    other_errors: Vec<String>,
    elapsed: Duration,
}

/// `--callers` callers repeating `--rpc` for `--seconds` (or until `calls_left` runs out).
async fn run_phase(
    connections: &[Connection],
    args: &Args,
    calls_left: Arc<AtomicU64>,
) -> anyhow::Result<Phase> {
    let started_at = Instant::now();
    let deadline = started_at + Duration::from_secs_f64(args.seconds);
    let mut callers = Vec::new();
    for caller in 0..args.callers {
        let connection = connections[caller % connections.len()].clone();
        let (calls_left, to) = (Arc::clone(&calls_left), args.to.clone());
        let rpc = args.rpc;
        callers.push(tokio::spawn(async move {
            let mut report = CallerReport::default();
            let mut index = caller;
            while Instant::now() < deadline {
                if calls_left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                        left.checked_sub(1)
                    })
                    .is_err()
                {
                    break;
                }
                let sent = Instant::now();
                match one_call(&connection, rpc, index, &to).await {
                    Ok(()) => report.latencies.push(sent.elapsed()),
                    Err(status) if status.code() == Code::ResourceExhausted => {
                        report.rejected += 1;
                        // A shed call costs the server almost nothing; back off a little, as
                        // a well-behaved client would, so the figure is about capacity.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(status) => report.other_errors.push(format!(
                        "{:?}: {}",
                        status.code(),
                        status.message()
                    )),
                }
                index += TEXT_STRIDE;
            }
            report
        }));
    }
    let mut latencies = Vec::new();
    let mut rejected = 0;
    let mut other_errors = Vec::new();
    for caller in callers {
        let report = caller.await?;
        latencies.extend(report.latencies);
        rejected += report.rejected;
        other_errors.extend(report.other_errors);
    }
    latencies.sort();
    Ok(Phase {
        latencies,
        rejected,
        other_errors,
        elapsed: started_at.elapsed(),
    })
}

/// The second phase of `--beside-article`: the same measurement while big Digests run.
struct Beside {
    latencies: Vec<Duration>,
    rejected: u64,
    other_errors: Vec<String>,
    /// Big Digests that finished during the phase.
    big_calls: u64,
    /// How long each big Digest that finished during the phase took.
    big_latencies: Vec<Duration>,
    /// The longest a big Digest still running at the end of the phase had been running.
    big_unfinished: Option<Duration>,
    /// Big Digests that failed during the phase (code, time, message).
    big_errors: Vec<String>,
}

fn read_article(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|error| {
        anyhow::anyhow!("cannot read --beside-article {}: {error}", path.display())
    })
}

/// Digests `article` `calls` times, one at a time, with nothing else running; each time.
async fn digest_alone(
    connection: &Connection,
    article: &str,
    calls: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let request = connection.request(proto::DigestRequest {
            text: article.to_string(),
            ..Default::default()
        });
        let sent = Instant::now();
        connection
            .precis()
            .digest(request)
            .await
            .map_err(|status| anyhow::anyhow!("the big Digest alone failed: {status}"))?;
        times.push(sent.elapsed());
    }
    Ok(times)
}

/// The big Digests' times alone and beside the measured callers, from one run.
fn print_big_digests(alone: &[Duration], beside: &Beside) {
    let seconds = |times: &[Duration]| {
        times
            .iter()
            .map(|time| format!("{:.2}s", time.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let median = |times: &[Duration]| {
        let mut sorted = times.to_vec();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied()
    };
    println!(
        "big Digest alone: {} (median {:.2}s)",
        seconds(alone),
        median(alone).unwrap_or_default().as_secs_f64()
    );
    let unfinished = beside
        .big_unfinished
        .map(|time| format!("; one unfinished after {:.2}s", time.as_secs_f64()))
        .unwrap_or_default();
    match median(&beside.big_latencies) {
        Some(beside_median) => println!(
            "big Digest beside the callers: {}{unfinished} (median {:.2}s, {:.2}x alone)",
            seconds(&beside.big_latencies),
            beside_median.as_secs_f64(),
            beside_median.as_secs_f64() / median(alone).unwrap_or_default().as_secs_f64().max(1e-9)
        ),
        None => println!("big Digest beside the callers: none finished{unfinished}"),
    }
    for error in beside.big_errors.iter().take(5) {
        println!("  big Digest error: {error}");
    }
}

async fn run_beside(
    connections: &[Connection],
    args: &Args,
    path: &std::path::Path,
) -> anyhow::Result<Beside> {
    let big = Arc::new(read_article(path)?);
    let stop = Arc::new(AtomicBool::new(false));
    let big_calls = Arc::new(AtomicU64::new(0));
    let big_times = Arc::new(std::sync::Mutex::new(Vec::new()));
    let big_errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    // When each big caller's call in flight was sent (None between calls).
    let big_sent = Arc::new(std::sync::Mutex::new(vec![None; args.beside_callers]));
    let mut background = Vec::new();
    for index in 0..args.beside_callers {
        let connection = connections[index % connections.len()].clone();
        let (big, stop, big_calls) = (Arc::clone(&big), Arc::clone(&stop), Arc::clone(&big_calls));
        let (big_times, big_sent, big_errors) = (
            Arc::clone(&big_times),
            Arc::clone(&big_sent),
            Arc::clone(&big_errors),
        );
        background.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let request = connection.request(proto::DigestRequest {
                    text: big.to_string(),
                    ..Default::default()
                });
                let sent = Instant::now();
                lock(&big_sent)[index] = Some(sent);
                let answer = connection.precis().digest(request).await;
                lock(&big_sent)[index] = None;
                match answer {
                    Ok(_) => {
                        big_calls.fetch_add(1, Ordering::Relaxed);
                        lock(&big_times).push(sent.elapsed());
                    }
                    Err(status) => {
                        lock(&big_errors).push(format!(
                            "{:?} after {:.2}s: {}",
                            status.code(),
                            sent.elapsed().as_secs_f64(),
                            status.message()
                        ));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }));
    }
    // Let the big Digests get past parsing and into the model queue.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let finished_before = big_calls.load(Ordering::Relaxed);
    let phase = run_phase(connections, args, Arc::new(AtomicU64::new(u64::MAX))).await?;
    stop.store(true, Ordering::Relaxed);
    let big_unfinished = lock(&big_sent)
        .iter()
        .flatten()
        .map(|sent| sent.elapsed())
        .max();
    for task in background {
        task.abort();
    }
    let big_latencies = lock(&big_times).clone();
    let big_errors = lock(&big_errors).clone();
    Ok(Beside {
        latencies: phase.latencies,
        rejected: phase.rejected,
        other_errors: phase.other_errors,
        big_calls: big_calls.load(Ordering::Relaxed) - finished_before,
        big_latencies,
        big_unfinished,
        big_errors,
    })
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
