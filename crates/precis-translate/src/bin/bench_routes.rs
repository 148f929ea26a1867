//! Quotes per second per route kind — direct, one pivot, two pivots — on one article's direct
//! quotes (all in one protected batch per round, as a digest sends them), Apertium only. All
//! rows come from one run, so they compare.
//!
//!   bench_routes --article ../shared/samples/voa-iran-islamic-state.txt [--rounds 30]
//!
//! The routes: English to the first target of each kind in `TARGETS` that this machine reaches.
//! Debian's pairs give English no two-pivot route, so that row takes en→es→ca→oc, planned by a
//! router holding only those three engines (the full router goes en→es→oc).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use precis_text::language::LanguageDetector;
use precis_translate::apertium::{self, ApertiumConfig};
use precis_translate::{
    translate_article, FaithfulOptions, QuoteToTranslate, RouteKind, Router, Translator,
};

/// Targets tried per route kind, in order.
const TARGETS: [(RouteKind, &[&str]); 3] = [
    (RouteKind::Direct, &["es", "ca", "gl"]),
    (RouteKind::OnePivot, &["fr", "pt", "it", "oc"]),
    (RouteKind::TwoPivots, &["bg", "nb", "da", "sv"]),
];

/// The two-pivot route benchmarked when English has none: mode names, in hop order.
const FORCED_TWO_PIVOTS: [&str; 3] = ["eng-spa", "spa-cat", "ca-oc"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench_routes: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let value_of = |flag: &str| {
        arguments
            .iter()
            .position(|argument| argument == flag)
            .and_then(|index| arguments.get(index + 1))
    };
    let article = value_of("--article").ok_or("--article PATH is required")?;
    let rounds: usize = value_of("--rounds")
        .map(|rounds| rounds.parse().map_err(|_| "--rounds takes a number"))
        .transpose()?
        .unwrap_or(30);
    let text = std::fs::read_to_string(article).map_err(|error| format!("{article}: {error}"))?;
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
    if quotes.is_empty() {
        return Err(format!("no quotes in {article}"));
    }
    let engines = apertium::start_installed(&ApertiumConfig::default())
        .map_err(|error| format!("{error}; run the project's setup script"))?;
    let mut router = Router::new();
    for engine in &engines {
        router.register(engine.clone());
    }
    let options = FaithfulOptions::default();
    let deadline = || Some(Instant::now() + Duration::from_secs(120));
    println!(
        "{} quotes from {article}, one batch per round, {rounds} rounds per route\n",
        quotes.len()
    );
    println!(
        "{:<11} {:<8} {:<60} {:>10}",
        "route kind", "pair", "engines", "quotes/s"
    );
    let mut forced = Router::new();
    for engine in &engines {
        if FORCED_TWO_PIVOTS
            .iter()
            .any(|mode| engine.info().id == format!("apertium/{mode}"))
        {
            forced.register(engine.clone());
        }
    }
    for (kind, targets) in TARGETS {
        let planned = targets
            .iter()
            .filter_map(|target| router.plan("en", target).ok())
            .find(|plan| plan.route().kind() == kind);
        let forced_plan = || {
            forced
                .plan("en", "oc")
                .ok()
                .filter(|plan| kind == RouteKind::TwoPivots && plan.route().kind() == kind)
        };
        let Some(plan) = planned.or_else(forced_plan) else {
            println!("{:<11} (no English route of this kind here)", kind.as_str());
            continue;
        };
        // The first batch starts the pipelines; not timed.
        translate_article(&plan, &quotes, None, &options, deadline())
            .map_err(|error| error.to_string())?;
        let started = Instant::now();
        for _ in 0..rounds {
            translate_article(&plan, &quotes, None, &options, deadline())
                .map_err(|error| error.to_string())?;
        }
        let elapsed = started.elapsed().as_secs_f64().max(f64::EPSILON);
        let engines: Vec<&str> = plan
            .route()
            .hops
            .iter()
            .map(|hop| hop.engine_id.as_str())
            .collect();
        println!(
            "{:<11} {:<8} {:<60} {:>10.0}",
            kind.as_str(),
            format!("en→{}", plan.route().target),
            engines.join(" → "),
            (rounds * quotes.len()) as f64 / elapsed
        );
    }
    Ok(())
}
