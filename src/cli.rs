//! The `precis` command line: one binary, one subcommand per capability.
use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::RuntimeSettings;
use crate::grpc::client::{status_error, ClientSettings, Connection};
use crate::grpc::from_proto;
use crate::pipeline::{Digest, Pipeline};
use crate::proto;
use crate::runtime::ModelStatus;
use crate::summarize::SummaryLength;
use crate::telemetry::LogFormat;
use crate::translate::TranslatedTexts;
use crate::validate::{
    validate_digest, validate_translate, DigestInput, Limits, TranslateInput, ValidArticle,
};
use precis_translate::{EngineKind, ReachCounts, ReachablePair};

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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gRPC service
    Serve(crate::grpc::ServeSettings),
    /// Digest one article: language, summary, key quotes (and translations)
    Digest(DigestArgs),
    /// Detect the language of text
    Detect(DetectArgs),
    /// Extract direct quotes and their speakers
    Quotes(QuotesArgs),
    /// Summarize an article
    Summarize(DigestArgs),
    /// Translate text from stdin
    Translate(TranslateArgs),
    /// Ask a running server whether it is SERVING (exit 0) or not (exit 1): the container
    /// health check
    Health(HealthArgs),
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
    /// Download a model from a Hugging Face–compatible hub (OWNER/NAME, e.g.
    /// Helsinki-NLP/opus-mt-en-de), check it, convert it and install it so that the next start
    /// serves it; or one of rust-bert's pretrained summarizers by its short name
    Pull {
        /// OWNER/NAME on the hub, or distilbart-cnn-6-6, distilbart-cnn-12-6, bart-large-cnn,
        /// bart-large-xsum, t5-small, t5-base, pegasus-cnn-dailymail,
        /// longt5-tglobal-base-book-summary (rust-bert's remote resources)
        id: String,
        /// Directory that receives the model [default: ~/.cache/precis/models]
        #[arg(long, env = "PRECIS_MODELS_DIR")]
        models_dir: Option<PathBuf>,
        /// Languages a summarizer or embedding model serves (repeat or comma-separate). Default:
        /// an embedder's model card, else English (an XLM-R-tokenized embedder whose card names
        /// none needs it). Translation models take their pair from the repository.
        #[arg(long = "language", value_delimiter = ',')]
        languages: Vec<String>,
        /// For embedding models: the prefix put before every text (e.g. "query: "), instead of
        /// the prompt the repository's config_sentence_transformers.json names
        #[arg(long)]
        prompt: Option<String>,
        #[command(flatten)]
        hub: crate::config::HubSettings,
    },
    /// Remove a model `precis models pull` installed
    Rm {
        /// OWNER/NAME, as pulled
        id: String,
        /// The models directory [default: ~/.cache/precis/models]
        #[arg(long, env = "PRECIS_MODELS_DIR")]
        models_dir: Option<PathBuf>,
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
    /// Leave a quote untranslated (with a warning) when its translation's quality score is
    /// below this, in [0, 1]; 0 keeps every translation
    #[arg(long, default_value_t = 0.0)]
    pub min_quality: f32,
    #[command(flatten)]
    pub runtime: RuntimeSettings,
    #[command(flatten)]
    pub client: ClientSettings,
}

#[derive(Debug, Args)]
pub struct QuotesArgs {
    #[command(flatten)]
    pub input: FileArgs,
    #[command(flatten)]
    pub client: ClientSettings,
    /// Without --server: the analysers the server would use (with it, the server's are used)
    #[command(flatten)]
    pub names: crate::config::NameAnalyserSettings,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Read stdin and detect each line on its own, printing one JSON object per line
    #[arg(long)]
    pub lines: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientSettings,
}

#[derive(Debug, Args)]
pub struct TranslateArgs {
    /// Language of the text (ISO 639-1 / BCP-47); detected when absent
    #[arg(long)]
    pub from: Option<String>,
    /// Language to translate into (ISO 639-1 / BCP-47)
    #[arg(long)]
    pub to: String,
    /// Print JSON: the original beside its translation, with the engines
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub runtime: RuntimeSettings,
    #[command(flatten)]
    pub client: ClientSettings,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server, e.g. http://127.0.0.1:50051
    #[arg(long, env = "PRECIS_SERVER")]
    pub server: String,
    /// CA certificate (PEM) to trust for an https:// server
    #[arg(long, env = "PRECIS_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// Runs a CLI command; the error is printed by `main` with a non-zero exit.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(settings) => crate::grpc::serve(settings).await,
        Command::Digest(args) => digest(args).await,
        Command::Summarize(args) => summarize(args).await,
        Command::Detect(args) => detect(args).await,
        Command::Quotes(args) => quotes(args).await,
        Command::Translate(args) => translate(args).await,
        Command::Health(args) => health(args).await,
        Command::Models { command } => models(command),
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
    let digest = digest_with(&args, false).await?;
    if args.input.json {
        println!("{}", serde_json::to_string_pretty(&digest)?);
        return Ok(());
    }
    println!(
        "language: {} ({:.2})",
        digest.language.iso639_1, digest.language.confidence
    );
    print_summary(&digest);
    for key_quote in &digest.quotes {
        print_quote(&key_quote.quote);
        if let Some(translation) = &key_quote.translation {
            println!(
                "    {}{}: “{}”",
                translation.target_language,
                quality_note(translation),
                translation.text
            );
        }
    }
    print_warnings(&digest.warnings);
    Ok(())
}

/// `summarize` is a digest without quotes: the same engines, in-process or on a server.
async fn summarize(args: DigestArgs) -> anyhow::Result<()> {
    let digest = digest_with(&args, true).await?;
    if args.input.json {
        let summary = serde_json::json!({
            "language": digest.language,
            "summary": digest.summary,
            "translated_summary": digest.translated_summary,
            "warnings": digest.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    print_summary(&digest);
    print_warnings(&digest.warnings);
    Ok(())
}

/// A digest made here or, with `--server`, by a running server: the same value either way.
async fn digest_with(args: &DigestArgs, skip_quotes: bool) -> anyhow::Result<Digest> {
    let limits = Limits::default();
    let article = read_article(&args.input, &limits)?;
    if let Some(url) = &args.client.server {
        let connection = Connection::from_settings(&args.client, url).await?;
        let request = proto::DigestRequest {
            text: article.text().to_string(),
            target_language: args.to.clone().unwrap_or_default(),
            summary_length: Some(proto::SummaryLength {
                length: Some(proto::summary_length::Length::Sentences(
                    u32::try_from(args.sentences).unwrap_or(u32::MAX),
                )),
            }),
            skip_quotes,
            min_translation_quality: args.min_quality,
            ..Default::default()
        };
        let response = connection
            .precis()
            .digest(connection.request(request))
            .await
            .map_err(status_error)?;
        return Ok(from_proto::digest(response.into_inner()));
    }
    let request = validate_digest(
        DigestInput {
            text: article.text().to_string(),
            target_language: args.to.clone().unwrap_or_default(),
            summary_length: Some(SummaryLength::Sentences(args.sentences)),
            skip_quotes,
            min_translation_quality: args.min_quality,
            ..DigestInput::default()
        },
        &limits,
    )?;
    let pipeline = load_pipeline(&args.runtime)?;
    Ok(pipeline.digest(&request, None).await?)
}

fn load_pipeline(runtime: &RuntimeSettings) -> anyhow::Result<Pipeline> {
    let (pipeline, statuses) = tokio::task::block_in_place(|| Pipeline::load(runtime))?;
    fail_on_unready(&statuses)?;
    Ok(pipeline)
}

fn print_summary(digest: &Digest) {
    if let Some(summary) = &digest.summary {
        println!("summary ({:?}, {}):", summary.ranking, summary.engine);
        for sentence in &summary.sentences {
            println!("  - {}", sentence.text);
        }
    }
    if let Some(translation) = &digest.translated_summary {
        println!(
            "summary in {}{}: {}",
            translation.target_language,
            quality_note(translation),
            translation.text
        );
    }
}

/// ` (score 0.83: 2% unknown words, 0% copied, detected fr 0.91, 2 hops)`, empty without a score.
fn quality_note(translation: &crate::translate::Translation) -> String {
    let Some(quality) = &translation.quality else {
        return String::new();
    };
    let detected = match (&quality.detected_language, quality.detected_as_target) {
        (Some(language), Some(_)) => {
            format!("detected {language} {:.2}", quality.detection_confidence)
        }
        (Some(_), None) => "language undetermined".to_string(),
        (None, _) => "language not detectable".to_string(),
    };
    format!(
        " (score {:.2}: {:.0}% unknown words, {:.0}% copied, {detected}, {} hop{})",
        quality.score,
        quality.unknown_word_share * 100.0,
        quality.source_word_share * 100.0,
        quality.route_hops,
        if quality.route_hops == 1 { "" } else { "s" }
    )
}

fn print_quote(quote: &precis_text::quotes::Quote) {
    let speaker = quote
        .speaker
        .as_ref()
        .map_or("unknown", |s| s.name.as_str());
    println!("  “{}” — {}", quote.text, speaker);
}

fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        println!("warning: {warning}");
    }
}

/// Detects stdin as a whole, or each line (`--lines`); blank lines are undetermined.
async fn detect(args: DetectArgs) -> anyhow::Result<()> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let texts: Vec<&str> = if args.lines {
        input.lines().collect()
    } else {
        vec![input.as_str()]
    };
    enum Detector {
        Server(Connection),
        Local(Box<precis_text::language::LanguageDetector>),
    }
    let detector = match &args.client.server {
        Some(url) => Detector::Server(Connection::from_settings(&args.client, url).await?),
        None => Detector::Local(Box::default()),
    };
    for text in texts {
        let detection = if text.trim().is_empty() && args.lines {
            precis_text::language::Detection::undetermined("")
        } else {
            match &detector {
                Detector::Server(connection) => {
                    let response = connection
                        .precis()
                        .detect_language(connection.request(proto::DetectLanguageRequest {
                            text: text.to_string(),
                        }))
                        .await
                        .map_err(status_error)?;
                    from_proto::detection(response.into_inner().language)
                }
                Detector::Local(detector) => {
                    // The same validation as the server's, so both refuse the same input.
                    ValidArticle::new(text.to_string(), &Limits::default())?;
                    detector.detect(text)
                }
            }
        };
        if args.json || args.lines {
            println!("{}", serde_json::to_string(&detection)?);
        } else {
            println!(
                "{} ({:.2}, {})",
                detection.iso639_1, detection.confidence, detection.script
            );
        }
    }
    Ok(())
}

/// Every quote of the article, in article order.
async fn quotes(args: QuotesArgs) -> anyhow::Result<()> {
    let limits = Limits::default();
    let article = read_article(&args.input, &limits)?;
    let (quotes, language): (Vec<precis_text::quotes::Quote>, _) = match &args.client.server {
        Some(url) => {
            let connection = Connection::from_settings(&args.client, url).await?;
            let response = connection
                .precis()
                .extract_quotes(connection.request(proto::ExtractQuotesRequest {
                    text: article.text().to_string(),
                    max_quotes: 0,
                }))
                .await
                .map_err(status_error)?;
            let quotes = response
                .into_inner()
                .quotes
                .into_iter()
                .map(|quote| from_proto::quote(quote).quote)
                .collect();
            // The article's language only matters to --json; the text output has none.
            let language = if args.input.json {
                let response = connection
                    .precis()
                    .detect_language(connection.request(proto::DetectLanguageRequest {
                        text: article.text().to_string(),
                    }))
                    .await
                    .map_err(status_error)?;
                Some(from_proto::detection(response.into_inner().language))
            } else {
                None
            };
            (quotes, language)
        }
        // Quotes are model-free: no need to load the models to find them.
        None => {
            let detector = precis_text::language::LanguageDetector::new();
            let names = crate::names::NameAnalysers::start(&args.names);
            let text = article.text();
            let language = detector.detect(text);
            let quotes = names.extract_quotes(
                text,
                &precis_text::segment::segment(text),
                &detector,
                &language.iso639_1,
            );
            (quotes, Some(language))
        }
    };
    if args.input.json {
        // An object, not a bare array (issue #3), so the article's language and warnings fit.
        let warnings: Vec<&str> = if quotes.is_empty() {
            vec!["no direct quote found"]
        } else {
            Vec::new()
        };
        let output = serde_json::json!({
            "language": language,
            "quotes": quotes,
            "warnings": warnings,
        });
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        for quote in &quotes {
            print_quote(quote);
        }
    }
    Ok(())
}

/// Translates stdin as one text.
async fn translate(args: TranslateArgs) -> anyhow::Result<()> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let translated: TranslatedTexts = match &args.client.server {
        Some(url) => {
            let connection = Connection::from_settings(&args.client, url).await?;
            let response = connection
                .precis()
                .translate(connection.request(proto::TranslateRequest {
                    texts: vec![text],
                    source_language: args.from.clone().unwrap_or_default(),
                    target_language: args.to.clone(),
                }))
                .await
                .map_err(status_error)?;
            from_proto::translated_texts(response.into_inner())
        }
        None => {
            let request = validate_translate(
                TranslateInput {
                    texts: vec![text],
                    source_language: args.from.clone().unwrap_or_default(),
                    target_language: args.to.clone(),
                },
                &Limits::default(),
            )?;
            let pipeline = load_pipeline(&args.runtime)?;
            pipeline.translate(request, None).await?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&translated)?);
    } else {
        for text in &translated.texts {
            if let Some(translation) = &text.translation {
                println!("{}", translation.text);
                let note = quality_note(translation);
                if !note.is_empty() {
                    eprintln!("quality{note}");
                }
            }
        }
    }
    if let Some(error) = translated
        .texts
        .iter()
        .find_map(|text| text.error.as_deref())
    {
        anyhow::bail!("not translated: {error}");
    }
    Ok(())
}

/// Exit 0 only when the server says SERVING.
async fn health(args: HealthArgs) -> anyhow::Result<()> {
    let connection = Connection::connect(&args.server, args.ca_cert.as_deref(), None).await?;
    let status = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        connection.serving_status(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("{} did not answer within 5 s", args.server))??;
    println!("{}", status.as_str_name());
    if status == tonic_health::pb::health_check_response::ServingStatus::Serving {
        Ok(())
    } else {
        anyhow::bail!("{} is {}", args.server, status.as_str_name())
    }
}

/// A model the configuration names but that did not load is an error, never a silent downgrade.
fn fail_on_unready(statuses: &[ModelStatus]) -> anyhow::Result<()> {
    let failures: Vec<String> = statuses
        .iter()
        .filter(|status| {
            // A pulled model that cannot load is left out (as the server does), with a word.
            if let (true, Some(error)) = (status.pulled, &status.error) {
                eprintln!("warning: pulled model not used: {error}");
            }
            !status.pulled
        })
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
            let (pipeline, statuses) = Pipeline::load(&runtime)?;
            let routes = pipeline.capabilities().translation_routes;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "models": statuses,
                        "translation_routes": routes,
                        "translation_reach": ReachCounts::of(&routes),
                    }))?
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
                print_routes(&routes);
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
            languages,
            prompt,
            hub,
        } => {
            let models_dir = models_dir.unwrap_or_else(crate::config::default_models_dir);
            if !id.contains('/') && crate::summarize::pull::remote_model(&id).is_some() {
                return pull_rust_bert_resource(&id, &models_dir, hub.connect_timeout);
            }
            if !id.contains('/') {
                anyhow::bail!(
                    "{}; or one of rust-bert's pretrained summarizers: {}",
                    crate::hub::HubError::BadRepoId { id: id.clone() },
                    crate::summarize::pull::KNOWN_MODELS.join(", ")
                );
            }
            let options = crate::hub::PullOptions {
                prompt,
                ..hub.pull_options(languages)
            };
            let outcome =
                tokio::task::block_in_place(|| crate::hub::pull(&id, &models_dir, &options))?;
            match outcome {
                crate::hub::PullOutcome::Pulled { directory, role } => {
                    println!("pulled {id} into {} ({role})", directory.display());
                    println!("the next `precis serve` (or `precis models list`) serves it; no catalog edit needed");
                }
                crate::hub::PullOutcome::AlreadyInstalled { directory } => {
                    println!(
                        "{id} is already installed in {}; `precis models rm {id}` removes it",
                        directory.display()
                    );
                }
            }
            Ok(())
        }
        ModelsCommand::Rm { id, models_dir } => {
            let models_dir = models_dir.unwrap_or_else(crate::config::default_models_dir);
            let removed = crate::hub::remove(&id, &models_dir)?;
            println!("removed {}", removed.display());
            Ok(())
        }
    }
}

/// The short names of rust-bert's remote summarizers (no hub listing, no manifest).
fn pull_rust_bert_resource(
    id: &str,
    models_dir: &std::path::Path,
    connect_timeout: u64,
) -> anyhow::Result<()> {
    let written = tokio::task::block_in_place(|| {
        crate::summarize::pull::pull(
            id,
            models_dir,
            std::time::Duration::from_secs(connect_timeout),
        )
    })?;
    println!("wrote {}", written.display());
    println!("to use it for English (or `default` for any language), add to the catalog:");
    println!("[summarization.models.en]\nid = \"{id}\"\npath = \"{id}\"");
    Ok(())
}

/// Every reachable directed pair: route kind, weakest engine kind, engines hop by hop.
fn print_routes(routes: &[ReachablePair]) {
    println!("\ntranslation routes (the one a request for the pair takes):");
    for reachable in routes {
        let engines: Vec<&str> = reachable
            .route
            .hops
            .iter()
            .map(|hop| hop.engine_id.as_str())
            .collect();
        let kind = match reachable.route.weakest_kind() {
            Some(EngineKind::Neural) => "neural",
            Some(EngineKind::RuleBased) => "rule-based",
            None => "-",
        };
        println!(
            "  {}→{:<4} {:<10} {:<10} {}",
            reachable.route.source,
            reachable.route.target,
            reachable.kind.as_str(),
            kind,
            engines.join(" → ")
        );
    }
    let counts = ReachCounts::of(routes);
    println!(
        "{} directed pairs: {} direct, {} through one pivot, {} through two pivots",
        routes.len(),
        counts.direct,
        counts.one_pivot,
        counts.two_pivots
    );
}

fn human_size(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
