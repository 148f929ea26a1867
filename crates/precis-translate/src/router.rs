//! Chooses an engine, or a chain of engines through a pivot language, for a language pair.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::engine::{EngineInfo, EngineKind, EngineOutput, Translator};
use crate::error::TranslateError;
use crate::language::normalize_language;
use crate::pair::LanguagePair;

/// Languages a route may pass through when no direct engine exists, in order of preference:
/// English and Spanish have the most engines (neural and Apertium alike).
pub const DEFAULT_PIVOTS: [&str; 2] = ["en", "es"];

/// One step of a route: one engine translating one pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    pub pair: LanguagePair,
    pub engine_id: String,
    pub engine_kind: EngineKind,
}

/// How a request is served: no hop when source and target are the same language (identity),
/// one hop for a direct engine, two or more through pivot languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub source: String,
    pub target: String,
    pub hops: Vec<Hop>,
}

impl Route {
    pub fn is_identity(&self) -> bool {
        self.hops.is_empty()
    }

    /// The languages passed through, e.g. `["es"]` for fr→es→en.
    pub fn pivots(&self) -> Vec<String> {
        self.hops
            .iter()
            .skip(1)
            .map(|hop| hop.pair.source.clone())
            .collect()
    }
}

/// A route together with the engines that run it.
#[derive(Clone)]
pub struct RoutePlan {
    route: Route,
    engines: Vec<Arc<dyn Translator>>,
}

impl std::fmt::Debug for RoutePlan {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RoutePlan")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl RoutePlan {
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Translates a batch along the route, hop by hop, each hop one batch call.
    /// The identity route returns the texts unchanged without calling any engine.
    pub fn translate_batch(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<EngineOutput>, TranslateError> {
        let mut outputs: Vec<EngineOutput> = texts
            .iter()
            .map(|text| EngineOutput {
                text: text.clone(),
                unknown_words: Vec::new(),
            })
            .collect();
        for engine in &self.engines {
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(TranslateError::DeadlineExceeded);
            }
            let inputs: Vec<String> = outputs.iter().map(|output| output.text.clone()).collect();
            let translated = engine.translate_batch_annotated(&inputs, deadline)?;
            if translated.len() != inputs.len() {
                return Err(TranslateError::engine_failure(
                    &engine.info().id,
                    format!(
                        "returned {} texts for a batch of {}",
                        translated.len(),
                        inputs.len()
                    ),
                ));
            }
            for (output, hop_output) in outputs.iter_mut().zip(translated) {
                output.text = hop_output.text;
                output.unknown_words.extend(hop_output.unknown_words);
            }
        }
        Ok(outputs)
    }
}

/// What the router can do for one direct pair; the basis of the capabilities a client sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairCapability {
    pub pair: LanguagePair,
    /// Engines registered for the pair, preferred first.
    pub engines: Vec<EngineInfo>,
}

/// Engines registered per pair; picks routes.
#[derive(Clone)]
pub struct Router {
    engines: Vec<Arc<dyn Translator>>,
    pivots: Vec<String>,
    max_hops: usize,
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self
            .engines
            .iter()
            .map(|engine| engine.info().id.as_str())
            .collect();
        formatter
            .debug_struct("Router")
            .field("engines", &ids)
            .field("pivots", &self.pivots)
            .field("max_hops", &self.max_hops)
            .finish()
    }
}

impl Router {
    /// A router pivoting through [`DEFAULT_PIVOTS`], at most two pivots (three hops).
    pub fn new() -> Self {
        Router {
            engines: Vec::new(),
            pivots: DEFAULT_PIVOTS.iter().map(|code| code.to_string()).collect(),
            max_hops: 3,
        }
    }

    /// Replaces the pivot languages (ISO 639-1, preferred first) and the longest route allowed.
    pub fn with_pivots(mut self, pivots: &[&str], max_hops: usize) -> Self {
        self.pivots = pivots.iter().map(|code| code.to_string()).collect();
        self.max_hops = max_hops.max(1);
        self
    }

    pub fn register(&mut self, engine: Arc<dyn Translator>) {
        self.engines.push(engine);
    }

    /// Every direct pair served, sorted, with its engines, neural first.
    pub fn capabilities(&self) -> Vec<PairCapability> {
        let mut pairs: Vec<LanguagePair> = self
            .engines
            .iter()
            .map(|engine| engine.info().pair.clone())
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
            .into_iter()
            .map(|pair| PairCapability {
                engines: self
                    .engines_for(&pair.source, &pair.target)
                    .into_iter()
                    .map(|engine| engine.info().clone())
                    .collect(),
                pair,
            })
            .collect()
    }

    /// Every direct pair served, sorted.
    pub fn available_pairs(&self) -> Vec<LanguagePair> {
        self.capabilities()
            .into_iter()
            .map(|capability| capability.pair)
            .collect()
    }

    /// Validates both languages (ISO 639-1 or BCP-47) and plans the best route.
    ///
    /// Preference: fewest hops; then fewest rule-based hops (neural beats Apertium); then pivots
    /// earlier in the pivot list. Same source and target → identity route, no engine.
    pub fn plan(&self, source: &str, target: &str) -> Result<RoutePlan, TranslateError> {
        let source = normalize_language(source)?;
        let target = normalize_language(target)?;
        if source == target {
            return Ok(RoutePlan {
                route: Route {
                    source,
                    target,
                    hops: Vec::new(),
                },
                engines: Vec::new(),
            });
        }
        let best = self
            .candidate_paths(&source, &target)
            .into_iter()
            .filter_map(|languages| self.engines_along(&languages))
            .min_by_key(|engines| self.route_cost(engines));
        match best {
            Some(engines) => Ok(RoutePlan {
                route: Route {
                    source,
                    target,
                    hops: engines
                        .iter()
                        .map(|engine| Hop {
                            pair: engine.info().pair.clone(),
                            engine_id: engine.info().id.clone(),
                            engine_kind: engine.info().kind,
                        })
                        .collect(),
                },
                engines,
            }),
            None => Err(TranslateError::UnsupportedPair {
                source_language: source,
                target_language: target,
                available: self.available_pairs(),
            }),
        }
    }

    /// Language sequences source → pivots… → target with distinct pivots, up to `max_hops`.
    fn candidate_paths(&self, source: &str, target: &str) -> Vec<Vec<String>> {
        let usable_pivots: Vec<&String> = self
            .pivots
            .iter()
            .filter(|pivot| pivot.as_str() != source && pivot.as_str() != target)
            .collect();
        let mut paths = vec![vec![source.to_string(), target.to_string()]];
        let mut partial: Vec<Vec<String>> = vec![vec![source.to_string()]];
        for _ in 1..self.max_hops {
            let mut extended = Vec::new();
            for path in &partial {
                for pivot in &usable_pivots {
                    if !path.contains(pivot) {
                        let mut next = path.clone();
                        next.push((*pivot).clone());
                        let mut complete = next.clone();
                        complete.push(target.to_string());
                        paths.push(complete);
                        extended.push(next);
                    }
                }
            }
            partial = extended;
        }
        paths
    }

    fn engines_along(&self, languages: &[String]) -> Option<Vec<Arc<dyn Translator>>> {
        languages
            .windows(2)
            .map(|step| self.engines_for(&step[0], &step[1]).into_iter().next())
            .collect()
    }

    /// Engines of one direct pair, neural first, then in registration order.
    fn engines_for(&self, source: &str, target: &str) -> Vec<Arc<dyn Translator>> {
        let mut matching: Vec<Arc<dyn Translator>> = self
            .engines
            .iter()
            .filter(|engine| {
                let pair = &engine.info().pair;
                pair.source == source && pair.target == target
            })
            .cloned()
            .collect();
        // Stable sort keeps registration order among engines of the same kind.
        matching.sort_by_key(|engine| engine.info().kind != EngineKind::Neural);
        matching
    }

    fn route_cost(&self, engines: &[Arc<dyn Translator>]) -> (usize, usize, Vec<usize>) {
        let rule_based_hops = engines
            .iter()
            .filter(|engine| engine.info().kind == EngineKind::RuleBased)
            .count();
        let pivot_ranks = engines
            .iter()
            .skip(1)
            .map(|engine| {
                self.pivots
                    .iter()
                    .position(|pivot| *pivot == engine.info().pair.source)
                    .unwrap_or(usize::MAX)
            })
            .collect();
        (engines.len(), rule_based_hops, pivot_ranks)
    }
}
