//! The real binary, drained by SIGTERM: no reply in flight is lost, new calls get UNAVAILABLE,
//! queued work the grace period cannot finish is answered UNAVAILABLE, and the process exits 0
//! once its calls are done.
mod common;
mod grpc_support;

use grpc_support::process::{send_sigterm, start_serving, wait_exit, wait_for_status, Replica};
use grpc_support::{digest_request, finish_stream, open_stream, scrape, HARBOUR_ARTICLE, PATIENCE};
use precis::proto;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_without_losing_a_reply_in_flight() {
    let (Replica { process, log, .. }, connection, mut health) =
        start_serving(&["--drain-grace-seconds", "120"]).await;

    // A stream whose first answer proves the call is admitted and in flight.
    let (sender, results) = open_stream(
        &connection,
        proto::DigestRequest {
            client_id: "before".into(),
            ..digest_request(HARBOUR_ARTICLE)
        },
    )
    .await;
    // Unary calls racing the signal: each must end in a digest or UNAVAILABLE, nothing else.
    let racing: Vec<_> = (0..6)
        .map(|_| {
            let connection = connection.clone();
            tokio::spawn(async move {
                connection
                    .precis()
                    .digest(connection.request(digest_request(HARBOUR_ARTICLE)))
                    .await
            })
        })
        .collect();

    send_sigterm(&process);

    // Health turns NOT_SERVING on the watch already open.
    wait_for_status(&mut health, ServingStatus::NotServing).await;
    let status = connection
        .precis()
        .digest(connection.request(digest_request(HARBOUR_ARTICLE)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    for call in racing {
        match call.await.unwrap() {
            Ok(response) => assert!(response.into_inner().summary.is_some()),
            Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        }
    }

    // The stream in flight is still served to the end.
    finish_stream(sender, results, "after").await;

    let status = wait_exit(process).await;
    assert!(status.success(), "exit status {status}");
    // The process is gone, so its log ends: read it all.
    let log: Vec<String> = log.iter().collect();
    assert!(log.iter().any(|line| line.contains("draining")), "{log:#?}");
    assert!(log.iter().any(|line| line.contains("stopped")), "{log:#?}");
}

/// An article long enough (120 distinct sentences to embed) that one model worker takes a good
/// fraction of a second per digest, so 40 queued digests outlast a 2-second grace period.
fn long_article() -> String {
    (0..120)
        .map(|i| {
            format!(
                "The harbour board reviewed item {i} of the budget, which covers {} new moorings \
                 and {} metres of quay wall on the {} side.\n\n",
                i * 3 + 2,
                i * 17 + 40,
                ["north", "south", "east", "west"][i % 4]
            )
        })
        .collect()
}

/// Jobs waiting in the embedding pool's queue, from the replica's Prometheus metrics.
async fn embedding_queue_depth(metrics: &str) -> f64 {
    scrape(metrics)
        .await
        .lines()
        .filter(|line| line.starts_with("precis_queue_depth{") && line.contains("embed"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_backlog_longer_than_the_grace_answers_every_call() {
    const BACKLOG: usize = 40;
    let (replica, connection, _health) = start_serving(&[
        "--drain-grace-seconds",
        "2",
        "--metrics-listen",
        "127.0.0.1:0",
    ])
    .await;
    let Replica {
        process,
        log,
        metrics,
        ..
    } = replica;
    let metrics = metrics.expect("started with metrics");

    let article = long_article();
    // The server measures its pace on a few answers first. (The backlog itself cannot give it:
    // the fair queue advances every queued call together, so its first answers come late.)
    for _ in 0..3 {
        tokio::time::timeout(
            PATIENCE,
            connection
                .precis()
                .digest(connection.request(digest_request(&article))),
        )
        .await
        .expect("a digest within the patience")
        .expect("a digest");
    }
    let (answered, mut answers) = tokio::sync::mpsc::unbounded_channel();
    for _ in 0..BACKLOG {
        let connection = connection.clone();
        let answered = answered.clone();
        let request = digest_request(&article);
        tokio::spawn(async move {
            let result = connection
                .precis()
                .digest(connection.request(request))
                .await;
            let _ = answered.send(result.map(|response| response.into_inner()));
        });
    }
    drop(answered);
    // The backlog is queued: many embedding pieces wait in the model queue.
    let waiting_since = std::time::Instant::now();
    while embedding_queue_depth(&metrics).await < 20.0 {
        assert!(
            waiting_since.elapsed() < PATIENCE,
            "the backlog never reached the model queue"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    send_sigterm(&process);
    let mut results = Vec::new();
    while let Some(result) = tokio::time::timeout(PATIENCE, answers.recv())
        .await
        .expect("every call answers within the patience")
    {
        results.push(result);
    }
    assert_eq!(results.len(), BACKLOG);

    // Every call ended with a digest or with the drain's own UNAVAILABLE (never a transport
    // error), and part of the backlog was answered at once instead of waiting for the grace.
    let mut digests = 0;
    let mut refused_at_once = 0;
    for result in &results {
        match result {
            Ok(digest) => {
                assert!(digest.summary.is_some());
                digests += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(
                    status.message().contains("shutting down"),
                    "not the drain's answer: {status:?}"
                );
                if status.message().contains("would not reach this call") {
                    refused_at_once += 1;
                }
            }
        }
    }
    assert!(
        refused_at_once >= 1,
        "no call answered at once: {digests} digests of {BACKLOG}"
    );

    let status = wait_exit(process).await;
    assert!(status.success(), "exit status {status}");
    let log: Vec<String> = log.iter().collect();
    assert!(
        log.iter()
            .any(|line| line.contains("answered UNAVAILABLE at once")),
        "{log:#?}"
    );
}
