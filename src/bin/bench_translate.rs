//! Quotes per second, translating an article's direct quotes from English to Spanish, per engine:
//! Apertium, and a neural Marian model (random weights with opus-mt-en-es's real dimensions)
//! side by side with Python transformers' MarianMT on the same weights, same settings, same
//! thread count. Prints a table.
//!
//!   . scripts/env.sh
//!   cargo run --release --bin bench_translate -- --article ../shared/samples/voa-iran-islamic-state.txt
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use precis::runtime::generation::{GenerationSettings, TranslationEngine};
use precis::runtime::{ModelLocation, ModelRole, ModelSpec, PoolConfig, WorkerPool};
use precis_text::language::LanguageDetector;
use precis_translate::apertium::{start_installed, ApertiumConfig};
use precis_translate::{translate_article, FaithfulOptions, QuoteToTranslate, Router};

#[derive(Parser)]
struct Args {
    /// The article whose quotes are translated
    #[arg(long)]
    article: PathBuf,
    /// Directory of the random opus-mt-sized Marian model (scripts/make_test_models.py --real-dims)
    #[arg(long, env = "PRECIS_TEST_MODELS_DIR", value_parser = marian_dir)]
    marian: PathBuf,
    /// Python of the virtualenv holding transformers
    #[arg(long, env = "PRECIS_VENV", value_parser = venv_python)]
    python: PathBuf,
    /// Torch threads, the same on both sides
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Decoder positions generated per quote (start token included), the same on both sides
    #[arg(long, default_value_t = 32)]
    length: i64,
    #[arg(long, default_value_t = 200)]
    apertium_rounds: usize,
    #[arg(long, default_value_t = 3)]
    neural_rounds: usize,
}

fn marian_dir(dir: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(dir).join("bench-opus-mt-en-es-random"))
}

fn venv_python(dir: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(dir).join("bin").join("python"))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.article)?;
    let segmentation = precis_text::segment::segment(&text);
    let detector = LanguageDetector::new();
    let quotes: Vec<QuoteToTranslate> =
        precis_text::quotes::extract_quotes(&text, &segmentation, &detector)
            .into_iter()
            .map(|quote| QuoteToTranslate {
                text: quote.text,
                speaker: quote.speaker.map(|speaker| speaker.name),
            })
            .collect();
    anyhow::ensure!(
        !quotes.is_empty(),
        "no quotes in {}",
        args.article.display()
    );
    println!(
        "{} quotes from {}, English → Spanish, one batch per round, {} torch threads\n",
        quotes.len(),
        args.article.display(),
        args.threads
    );
    println!(
        "{:<44} {:>12} {:>14}",
        "engine", "quotes/s", "vs transformers"
    );

    // Apertium: the router's plan, names and numbers protected, as the service does it.
    let mut router = Router::new();
    for engine in start_installed(&ApertiumConfig::default())? {
        router.register(engine);
    }
    let plan = router.plan("en", "es")?;
    let options = FaithfulOptions::default();
    translate_article(&plan, &quotes, None, &options, None)?; // starts the pipeline
    let started = Instant::now();
    for _ in 0..args.apertium_rounds {
        translate_article(&plan, &quotes, None, &options, None)?;
    }
    let apertium_rate = rate(quotes.len() * args.apertium_rounds, started);
    println!(
        "{:<44} {:>12.1} {:>14}",
        "apertium/eng-spa", apertium_rate, "-"
    );

    let texts: Vec<String> = quotes.iter().map(|quote| quote.text.clone()).collect();
    let quotes_file =
        std::env::temp_dir().join(format!("precis-bench-quotes-{}.json", std::process::id()));
    std::fs::write(&quotes_file, serde_json::to_string(&texts)?)?;
    for beams in [1, 4] {
        let spec = ModelSpec {
            id: "bench-opus-mt-en-es-random".into(),
            role: ModelRole::Translation {
                source: "en".into(),
                target: "es".into(),
            },
            location: ModelLocation::Directory(args.marian.clone()),
        };
        let settings = GenerationSettings {
            num_beams: beams,
            min_length: args.length,
            max_length: args.length,
        };
        let config = PoolConfig {
            name: "bench-marian".into(),
            workers: 1,
            queue_capacity: 4,
            max_batch_cost: texts.len(),
            torch_threads: args.threads,
        };
        let pool = WorkerPool::start(config, move || TranslationEngine::load(&spec, settings))?;
        pool.run_blocking(texts.clone(), None)?; // warm-up
        let started = Instant::now();
        for _ in 0..args.neural_rounds {
            pool.run_blocking(texts.clone(), None)?;
        }
        let precis_rate = rate(texts.len() * args.neural_rounds, started);
        drop(pool);

        let output = Command::new(&args.python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/bench_translate.py"
            ))
            .arg("--model-dir")
            .arg(&args.marian)
            .arg("--quotes")
            .arg(&quotes_file)
            .args(["--threads", &args.threads.to_string()])
            .args(["--beams", &beams.to_string()])
            .args(["--length", &args.length.to_string()])
            .args(["--rounds", &args.neural_rounds.to_string()])
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "the Python side failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let python: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        let python_rate = python["quotes_per_second"].as_f64().unwrap_or(f64::NAN);
        let label = if beams == 1 { "greedy" } else { "beam 4" };
        println!(
            "{:<44} {:>12.2} {:>13.2}x",
            format!("precis marian (opus-mt dims, random), {label}"),
            precis_rate,
            precis_rate / python_rate
        );
        println!(
            "{:<44} {:>12.2} {:>14}",
            format!("transformers MarianMT (same weights), {label}"),
            python_rate,
            "1.00x"
        );
    }
    let _ = std::fs::remove_file(&quotes_file);
    println!(
        "\nneural rows: random weights, {} decoder positions per quote on both sides; they measure cost, not quality",
        args.length
    );
    Ok(())
}

fn rate(items: usize, started: Instant) -> f64 {
    items as f64 / started.elapsed().as_secs_f64()
}
