//! The `precis` command line: one binary, one subcommand per capability.
use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::RuntimeSettings;
use crate::pipeline::{DigestOptions, Limits, Pipeline, ValidArticle};
use crate::runtime::ModelStatus;
use crate::summarize::extractive::SummaryLength;

#[derive(Debug, Parser)]
#[command(
    name = "precis",
    version,
    about = "Language, summary and key quotes of news articles, translated, with local models"
)]
pub struct Cli {
    /// Log format
    #[arg(long, env = "PRECIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC service
    Serve(crate::grpc::ServeSettings),
    /// Digest one article: language, summary, key quotes (and translations)
    Digest(DigestArgs),
    /// Detect the language of text
    Detect(DetectArgs),
    /// Extract direct quotes and their speakers
    Quotes(FileArgs),
    /// Summarize an article
    Summarize(DigestArgs),
    /// Translate text from stdin
    Translate(TranslateArgs),
    /// Inspect and prepare models
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Load each configured model and report its kind, location, size, load time and readiness
    List {
        #[command(flatten)]
        runtime: RuntimeSettings,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Write rust_model.ot from model.safetensors in a model directory
    Convert {
        /// The model directory
        dir: PathBuf,
    },
    /// Download one of rust-bert's pretrained summarizers into the models directory (needs a
    /// network; for baking models into an image)
    Pull {
        /// distilbart-cnn-6-6, distilbart-cnn-12-6, bart-large-cnn, bart-large-xsum, t5-small,
        /// t5-base, pegasus-cnn-dailymail or longt5-tglobal-base-book-summary
        id: String,
        /// Directory that receives <id>/ [default: ~/.cache/precis/models]
        #[arg(long, env = "PRECIS_MODELS_DIR")]
        models_dir: Option<PathBuf>,
        /// Seconds to wait for each connection before giving up
        #[arg(long, env = "PRECIS_PULL_CONNECT_TIMEOUT", default_value_t = 10)]
        connect_timeout: u64,
    },
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The article (UTF-8); `-` reads stdin
    #[arg(long)]
    pub file: PathBuf,
    /// Print JSON (the stable machine format)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    #[command(flatten)]
    pub input: FileArgs,
    /// Target language for the summary and quotes (ISO 639-1 / BCP-47)
    #[arg(long)]
    pub to: Option<String>,
    /// Summary length in sentences
    #[arg(long, default_value_t = 3)]
    pub sentences: usize,
    #[command(flatten)]
    pub runtime: RuntimeSettings,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Read stdin and detect each line on its own, printing one JSON object per line
    #[arg(long)]
    pub lines: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TranslateArgs {
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub to: String,
}

/// Runs a CLI command; the error is printed by `main` with a non-zero exit.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(settings) => crate::grpc::serve(settings).await,
        Command::Digest(args) => digest(args).await,
        Command::Models { command } => models(command),
        Command::Detect(_) | Command::Quotes(_) | Command::Summarize(_) | Command::Translate(_) => {
            anyhow::bail!("not implemented yet")
        }
    }
}

fn read_article(args: &FileArgs, limits: &Limits) -> anyhow::Result<ValidArticle> {
    let bytes = if args.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        bytes
    } else {
        std::fs::read(&args.file)
            .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", args.file.display()))?
    };
    ValidArticle::from_bytes(bytes, limits)
        .map_err(|error| anyhow::anyhow!("{}: {error}", args.file.display()))
}

async fn digest(args: DigestArgs) -> anyhow::Result<()> {
    let limits = Limits::default();
    let article = read_article(&args.input, &limits)?;
    let (pipeline, statuses) =
        tokio::task::block_in_place(|| Pipeline::load(&args.runtime, limits))?;
    fail_on_unready(&statuses)?;
    let options = DigestOptions {
        summary_length: SummaryLength::Sentences(args.sentences),
        target_language: args.to.clone(),
        ..DigestOptions::default()
    };
    let digest = pipeline.digest(&article, &options).await?;
    if args.input.json {
        println!("{}", serde_json::to_string_pretty(&digest)?);
    } else {
        println!(
            "language: {} ({:.2})",
            digest.language.iso639_1, digest.language.confidence
        );
        if let Some(summary) = &digest.summary {
            println!("summary ({:?}, {}):", summary.ranking, summary.engine);
            for sentence in &summary.sentences {
                println!("  - {}", sentence.text);
            }
        }
        if let Some(translation) = &digest.translated_summary {
            println!(
                "summary in {}: {}",
                translation.target_language, translation.text
            );
        }
        for key_quote in &digest.quotes {
            let quote = &key_quote.quote;
            let speaker = quote
                .speaker
                .as_ref()
                .map_or("unknown", |s| s.name.as_str());
            println!("  “{}” — {}", quote.text, speaker);
            if let Some(translation) = &key_quote.translation {
                println!(
                    "    {}: “{}”",
                    translation.target_language, translation.text
                );
            }
        }
        for warning in &digest.warnings {
            println!("warning: {warning}");
        }
    }
    Ok(())
}

/// A model the configuration names but that did not load is an error, never a silent downgrade.
fn fail_on_unready(statuses: &[ModelStatus]) -> anyhow::Result<()> {
    let failures: Vec<String> = statuses
        .iter()
        .filter_map(|status| status.error.clone())
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", failures.join("\n"))
    }
}

fn models(command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::List { runtime, json } => {
            let (_pipeline, statuses) = Pipeline::load(&runtime, Limits::default())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "models": statuses }))?
                );
            } else {
                for status in &statuses {
                    let state = match &status.error {
                        None => "ready".to_string(),
                        Some(error) => format!("NOT READY: {error}"),
                    };
                    println!(
                        "{:<24} {:<22} {:>8} {:>8}  {}  {}",
                        status.id,
                        status.role.to_string(),
                        status.size_bytes.map_or("-".into(), human_size),
                        status
                            .load_millis
                            .map_or("-".into(), |ms| format!("{ms} ms")),
                        status.location,
                        state
                    );
                }
            }
            Ok(())
        }
        ModelsCommand::Convert { dir } => {
            let written = crate::runtime::registry::convert_safetensors(&dir)?;
            println!("wrote {}", written.display());
            Ok(())
        }
        ModelsCommand::Pull {
            id,
            models_dir,
            connect_timeout,
        } => {
            let models_dir = models_dir.unwrap_or_else(crate::config::default_models_dir);
            let written = crate::summarize::pull::pull(
                &id,
                &models_dir,
                std::time::Duration::from_secs(connect_timeout),
            )?;
            println!("wrote {}", written.display());
            println!("to use it for English (or `default` for any language), add to the catalog:");
            println!("[summarization.models.en]\nid = \"{id}\"\npath = \"{id}\"");
            Ok(())
        }
    }
}

fn human_size(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
