//! Chooses an engine, or a chain of engines through a pivot language, for a language pair.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::engine::{EngineInfo, EngineKind, EngineOutput, Translator};
use crate::error::TranslateError;
use crate::language::normalize_language;
use crate::pair::LanguagePair;

/// Languages a route prefers to pass through when no direct engine exists, in order of
/// preference: English and Spanish have the most engines (neural and Apertium alike). Any other
/// language with engines both ways may serve as a pivot too, after these on a tie.
pub const DEFAULT_PIVOTS: [&str; 2] = ["en", "es"];

/// What one hop costs: every hop [`HOP_COST`], a rule-based hop [`RULE_BASED_EXTRA`] more, and a
/// hop whose pair has a known quality `q` in [0, 1] `round((1 - q) * QUALITY_EXTRA_MAX)` more
/// (half of that when its quality is unknown). The extras of a hop stay below half a hop, so
/// a direct neural engine < a direct rule-based one < any route through one pivot < any route
/// through two.
pub const HOP_COST: u32 = 100;
pub const RULE_BASED_EXTRA: u32 = 20;
pub const QUALITY_EXTRA_MAX: u32 = 20;

/// How a pair is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteKind {
    /// Source and target are the same language: no engine.
    Identity,
    Direct,
    OnePivot,
    TwoPivots,
}

impl RouteKind {
    pub fn of_hops(hops: usize) -> Self {
        match hops {
            0 => RouteKind::Identity,
            1 => RouteKind::Direct,
            2 => RouteKind::OnePivot,
            _ => RouteKind::TwoPivots,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Identity => "identity",
            RouteKind::Direct => "direct",
            RouteKind::OnePivot => "one pivot",
            RouteKind::TwoPivots => "two pivots",
        }
    }
}

/// The best route of one reachable directed pair, as capabilities list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachablePair {
    pub route: Route,
    pub kind: RouteKind,
    /// The route's cost (see [`HOP_COST`]); lower is better.
    pub cost: u32,
}

/// How many directed pairs are reachable, by route kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReachCounts {
    pub direct: usize,
    pub one_pivot: usize,
    pub two_pivots: usize,
}

impl ReachCounts {
    pub fn of(pairs: &[ReachablePair]) -> Self {
        let mut counts = ReachCounts::default();
        for pair in pairs {
            match pair.kind {
                RouteKind::Direct => counts.direct += 1,
                RouteKind::OnePivot => counts.one_pivot += 1,
                RouteKind::TwoPivots => counts.two_pivots += 1,
                RouteKind::Identity => {}
            }
        }
        counts
    }
}

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

    pub fn kind(&self) -> RouteKind {
        RouteKind::of_hops(self.hops.len())
    }

    /// Rule-based if any hop is, neural if all are; none for the identity route.
    pub fn weakest_kind(&self) -> Option<EngineKind> {
        if self.hops.is_empty() {
            None
        } else if self
            .hops
            .iter()
            .any(|hop| hop.engine_kind == EngineKind::RuleBased)
        {
            Some(EngineKind::RuleBased)
        } else {
            Some(EngineKind::Neural)
        }
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
    /// Known quality in [0, 1] per engine id, where measured; it orders routes of equal length.
    known_quality: HashMap<String, f32>,
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
            known_quality: HashMap::new(),
        }
    }

    /// Replaces the preferred pivot languages (ISO 639-1, preferred first; other languages
    /// still serve after them on a tie) and the longest route allowed, in hops.
    pub fn with_pivots(mut self, pivots: &[&str], max_hops: usize) -> Self {
        self.pivots = pivots.iter().map(|code| code.to_string()).collect();
        self.max_hops = max_hops.max(1);
        self
    }

    pub fn register(&mut self, engine: Arc<dyn Translator>) {
        self.engines.push(engine);
    }

    /// Records an engine's known quality in [0, 1] (clamped), e.g. from an evaluation: among
    /// routes of the same length, better-known engines win.
    pub fn set_known_quality(&mut self, engine_id: &str, quality: f32) {
        let quality = if quality.is_finite() {
            quality.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.known_quality.insert(engine_id.to_string(), quality);
    }

    /// What one hop on `engine` costs (see [`HOP_COST`]).
    pub fn hop_cost(&self, engine: &EngineInfo) -> u32 {
        let kind_extra = match engine.kind {
            EngineKind::Neural => 0,
            EngineKind::RuleBased => RULE_BASED_EXTRA,
        };
        let quality_extra = match self.known_quality.get(&engine.id) {
            Some(quality) => ((1.0 - quality) * QUALITY_EXTRA_MAX as f32).round() as u32,
            None => QUALITY_EXTRA_MAX / 2,
        };
        HOP_COST + kind_extra + quality_extra
    }

    /// Every language some engine translates from or into, sorted.
    pub fn languages(&self) -> Vec<String> {
        let languages: BTreeSet<String> = self
            .engines
            .iter()
            .flat_map(|engine| {
                let pair = &engine.info().pair;
                [pair.source.clone(), pair.target.clone()]
            })
            .collect();
        languages.into_iter().collect()
    }

    /// The best route of every reachable directed pair (source ≠ target), sorted by pair.
    pub fn reachable(&self) -> Vec<ReachablePair> {
        let graph = self.graph();
        let mut pairs = Vec::new();
        for source in self.languages() {
            for (_target, (key, engines)) in self.best_routes_from(&graph, &source) {
                let route = self.route_of(&source, &engines);
                pairs.push(ReachablePair {
                    kind: route.kind(),
                    cost: key.cost,
                    route,
                });
            }
        }
        pairs
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
    /// Preference: the lowest cost (see [`HOP_COST`]: fewest hops, then neural over rule-based
    /// and known-good over unknown engines); then pivots earlier in the pivot list, then other
    /// pivots, then engine ids. Same source and target → identity route, no engine.
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
        let graph = self.graph();
        let best = self
            .best_routes_from(&graph, &source)
            .remove(&target)
            .map(|(_, engines)| engines);
        match best {
            Some(engines) => Ok(RoutePlan {
                route: self.route_of(&source, &engines),
                engines,
            }),
            None => Err(TranslateError::UnsupportedPair {
                source_language: source,
                target_language: target,
                available: self.available_pairs(),
            }),
        }
    }

    /// The preferred engine of every direct pair, by source language.
    fn graph(&self) -> EngineGraph {
        let mut graph: EngineGraph = BTreeMap::new();
        for pair in self.available_pairs() {
            if let Some(engine) = self
                .engines_for(&pair.source, &pair.target)
                .into_iter()
                .next()
            {
                graph.entry(pair.source).or_default().push(engine);
            }
        }
        graph
    }

    /// The best route from `source` to every language reachable in at most `max_hops` hops,
    /// by exhaustive search (a few dozen languages, a handful of engines each).
    fn best_routes_from(&self, graph: &EngineGraph, source: &str) -> BestRoutes {
        let mut best: BestRoutes = BTreeMap::new();
        let mut path: Vec<Arc<dyn Translator>> = Vec::new();
        self.extend_routes(graph, source, source, &mut path, &mut best);
        best
    }

    fn extend_routes(
        &self,
        graph: &EngineGraph,
        source: &str,
        at: &str,
        path: &mut Vec<Arc<dyn Translator>>,
        best: &mut BestRoutes,
    ) {
        if path.len() >= self.max_hops {
            return;
        }
        for engine in graph.get(at).map(Vec::as_slice).unwrap_or_default() {
            let next = engine.info().pair.target.as_str();
            let visited = next == source
                || path
                    .iter()
                    .any(|hop| hop.info().pair.target.as_str() == next);
            if visited {
                continue;
            }
            path.push(Arc::clone(engine));
            let key = self.route_key(path);
            let better = best.get(next).is_none_or(|(best_key, _)| key < *best_key);
            if better {
                best.insert(next.to_string(), (key, path.clone()));
            }
            self.extend_routes(graph, source, next, path, best);
            path.pop();
        }
    }

    fn route_of(&self, source: &str, engines: &[Arc<dyn Translator>]) -> Route {
        Route {
            source: source.to_string(),
            target: engines.last().map_or_else(
                || source.to_string(),
                |engine| engine.info().pair.target.clone(),
            ),
            hops: engines
                .iter()
                .map(|engine| Hop {
                    pair: engine.info().pair.clone(),
                    engine_id: engine.info().id.clone(),
                    engine_kind: engine.info().kind,
                })
                .collect(),
        }
    }

    /// Engines of one direct pair, cheapest hop first, then in registration order.
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
        // Cheapest hop first (neural, then known quality); a stable sort keeps registration
        // order among equals.
        matching.sort_by_key(|engine| self.hop_cost(engine.info()));
        matching
    }

    /// Orders routes: cost, then pivot preference, then engine ids (so the choice never
    /// depends on registration order or hashing).
    fn route_key(&self, engines: &[Arc<dyn Translator>]) -> RouteKey {
        RouteKey {
            cost: engines
                .iter()
                .map(|engine| self.hop_cost(engine.info()))
                .sum(),
            pivot_ranks: engines
                .iter()
                .skip(1)
                .map(|engine| {
                    let pivot = &engine.info().pair.source;
                    self.pivots
                        .iter()
                        .position(|preferred| preferred == pivot)
                        .unwrap_or(self.pivots.len())
                })
                .collect(),
            engine_ids: engines
                .iter()
                .map(|engine| engine.info().id.clone())
                .collect(),
        }
    }
}

/// The preferred engine of each direct pair, by source language.
type EngineGraph = BTreeMap<String, Vec<Arc<dyn Translator>>>;

/// The best route found so far to each target, with its ordering key.
type BestRoutes = BTreeMap<String, (RouteKey, Vec<Arc<dyn Translator>>)>;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RouteKey {
    cost: u32,
    pivot_ranks: Vec<usize>,
    engine_ids: Vec<String>,
}
