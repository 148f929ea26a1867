//! Counts the directed pairs the installed Apertium modes reach, directly, through one pivot and
//! through two, with the router the service uses; `--list` prints each pair's best route.
//! `--only eng-spa,spa-eng,…` restricts the modes (e.g. to count what an older install reached).
//!
//! Usage: `apertium_routes [--list] [--only MODE,MODE,…] [--data-dir DIR]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use precis_translate::apertium::{discover_modes, ApertiumConfig};
use precis_translate::{EngineInfo, EngineKind, ReachCounts, Router, TranslateError, Translator};

/// The mode's identity only: counting routes starts no pipeline.
struct ModeOnly(EngineInfo);

impl Translator for ModeOnly {
    fn info(&self) -> &EngineInfo {
        &self.0
    }

    fn translate_batch(
        &self,
        _texts: &[String],
        _deadline: Option<Instant>,
    ) -> Result<Vec<String>, TranslateError> {
        Err(TranslateError::EngineFailure {
            engine: self.0.id.clone(),
            detail: "apertium_routes only counts routes".into(),
        })
    }
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let list = arguments.iter().any(|argument| argument == "--list");
    let value_of = |flag: &str| {
        arguments
            .iter()
            .position(|argument| argument == flag)
            .and_then(|index| arguments.get(index + 1))
    };
    let only: Option<Vec<&str>> = value_of("--only").map(|modes| modes.split(',').collect());
    let mut config = ApertiumConfig::default();
    if let Some(dir) = value_of("--data-dir") {
        config.data_dir = PathBuf::from(dir);
    }
    let modes = match discover_modes(&config) {
        Ok(modes) => modes,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let mut router = Router::new();
    for mode in modes {
        if only
            .as_ref()
            .is_some_and(|only| !only.contains(&mode.name.as_str()))
        {
            continue;
        }
        router.register(Arc::new(ModeOnly(EngineInfo {
            id: format!("apertium/{}", mode.name),
            kind: EngineKind::RuleBased,
            pair: mode.pair,
        })));
    }
    let reachable = router.reachable();
    if list {
        for pair in &reachable {
            let engines: Vec<&str> = pair
                .route
                .hops
                .iter()
                .map(|hop| hop.engine_id.as_str())
                .collect();
            println!(
                "{}→{}\t{}\t{}",
                pair.route.source,
                pair.route.target,
                pair.kind.as_str(),
                engines.join(" → ")
            );
        }
    }
    let counts = ReachCounts::of(&reachable);
    println!(
        "{} languages; directed pairs: {} direct, {} through one pivot ({} within one pivot), {} through two pivots ({} in all)",
        router.languages().len(),
        counts.direct,
        counts.one_pivot,
        counts.direct + counts.one_pivot,
        counts.two_pivots,
        counts.direct + counts.one_pivot + counts.two_pivots
    );
    ExitCode::SUCCESS
}
