//! The workers of one `torch-bf16` pool share one copy of the model (tokenizer and weights):
//! a second worker of multilingual-e5-small costs next to no memory, where a copy of its own
//! costs hundreds of MB, and workers on two threads at once give the vectors of a model loaded
//! alone. Its own test binary: the memory it measures is its process's, with nothing else
//! loading beside it.
mod common;

use common::embedding_gate::{embed, MULTILINGUAL_SENTENCES};
use precis::runtime::embeddings::{
    native_bf16, EmbeddingEngine, EmbeddingOptions, TORCH_BF16_ENGINE,
};

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb / 1024.0
}

fn load(options: &EmbeddingOptions) -> Result<EmbeddingEngine, String> {
    EmbeddingEngine::load(&common::e5_spec(), TORCH_BF16_ENGINE, options)
        .map_err(|error| error.to_string())
}

#[test]
fn workers_of_one_pool_share_the_model_and_run_it_at_once() {
    let options = EmbeddingOptions {
        forward_batch: 32,
        threads: 1,
        ..Default::default()
    };
    if native_bf16().is_none() {
        let error = load(&options)
            .err()
            .expect("torch-bf16 refuses a CPU without native bf16");
        assert!(error.contains("native bf16"), "{error}");
        eprintln!("this CPU has no native bf16: checked that {TORCH_BF16_ENGINE} refuses to load");
        return;
    }
    let before = rss_mb();
    let first = load(&options).expect("e5 loads on torch-bf16 (run scripts/setup)");
    let after_first = rss_mb();
    let second = load(&options.clone()).expect("a second worker loads");
    let after_second = rss_mb();
    // A pool of its own (fresh options) holds its own copy: the control that shows the
    // measurement can tell the two apart.
    let alone = load(&EmbeddingOptions {
        forward_batch: 32,
        threads: 1,
        ..Default::default()
    })
    .expect("e5 loads again");
    let after_alone = rss_mb();
    eprintln!(
        "RSS: {before:.0} MB, first worker {after_first:.0}, second worker (shared) {after_second:.0}, a pool of its own {after_alone:.0}"
    );
    let first_cost = after_first - before;
    let shared_cost = after_second - after_first;
    let own_cost = after_alone - after_second;
    assert!(own_cost > 150.0, "a copy of e5 costs {own_cost:.0} MB?");
    assert!(
        shared_cost < 0.1 * first_cost,
        "a second worker of the same pool cost {shared_cost:.0} MB (the first {first_cost:.0} MB)"
    );

    // Workers load on their own threads, as a pool's do, and run at the same time.
    let sentences = MULTILINGUAL_SENTENCES;
    let expected = embed(&mut { alone }, sentences);
    drop((first, second));
    let runs: Vec<Vec<Vec<Vec<f32>>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let options = options.clone();
                scope.spawn(move || {
                    let mut worker = load(&options).expect("a worker loads");
                    (0..3).map(|_| embed(&mut worker, sentences)).collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for vectors in runs.iter().flatten() {
        assert_eq!(vectors, &expected);
    }
}
