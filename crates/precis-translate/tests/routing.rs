//! Routing and pivot choice with fake engines (no Apertium needed).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use precis_translate::{
    translate_article, EngineInfo, EngineKind, FaithfulOptions, LanguagePair, QuoteToTranslate,
    ReachCounts, RouteKind, Router, TranslateError, Translator,
};

/// Tags each text with its engine id, so a test sees which engines ran, in which order.
struct FakeEngine {
    info: EngineInfo,
    calls: AtomicUsize,
}

impl FakeEngine {
    fn new(id: &str, kind: EngineKind, source: &str, target: &str) -> Arc<Self> {
        Arc::new(FakeEngine {
            info: EngineInfo {
                id: id.to_string(),
                kind,
                pair: LanguagePair::new(source, target),
            },
            calls: AtomicUsize::new(0),
        })
    }
}

impl Translator for FakeEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn translate_batch(
        &self,
        texts: &[String],
        _deadline: Option<Instant>,
    ) -> Result<Vec<String>, TranslateError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(texts
            .iter()
            .map(|text| format!("{text} [{}]", self.info.id))
            .collect())
    }
}

fn router_with(engines: &[Arc<FakeEngine>]) -> Router {
    let mut router = Router::new();
    for engine in engines {
        router.register(engine.clone());
    }
    router
}

fn hop_ids(router: &Router, source: &str, target: &str) -> Vec<String> {
    let plan = router
        .plan(source, target)
        .unwrap_or_else(|error| panic!("{source}→{target}: {error}"));
    plan.route()
        .hops
        .iter()
        .map(|hop| hop.engine_id.clone())
        .collect()
}

#[test]
fn neural_engine_is_preferred_for_the_same_pair() {
    let rule_based = FakeEngine::new("apertium/eng-spa", EngineKind::RuleBased, "en", "es");
    let neural = FakeEngine::new("marian/opus-mt-en-es", EngineKind::Neural, "en", "es");
    let router = router_with(&[rule_based, neural]);
    assert_eq!(hop_ids(&router, "en", "es"), vec!["marian/opus-mt-en-es"]);
    let capabilities = router.capabilities();
    assert_eq!(capabilities.len(), 1);
    assert_eq!(capabilities[0].engines[0].kind, EngineKind::Neural);
    assert_eq!(capabilities[0].engines[1].kind, EngineKind::RuleBased);
}

#[test]
fn pivots_through_spanish_or_english_when_no_direct_pair() {
    let router = router_with(&[
        FakeEngine::new("apertium/fr-es", EngineKind::RuleBased, "fr", "es"),
        FakeEngine::new("apertium/spa-eng", EngineKind::RuleBased, "es", "en"),
        FakeEngine::new("apertium/eng-spa", EngineKind::RuleBased, "en", "es"),
        FakeEngine::new("apertium/es-pt", EngineKind::RuleBased, "es", "pt"),
        FakeEngine::new("apertium/eng-cat", EngineKind::RuleBased, "en", "ca"),
    ]);
    assert_eq!(
        hop_ids(&router, "fr", "en"),
        vec!["apertium/fr-es", "apertium/spa-eng"]
    );
    assert_eq!(
        hop_ids(&router, "en", "pt"),
        vec!["apertium/eng-spa", "apertium/es-pt"]
    );
    // Two pivots when needed: fr→es→en→ca.
    assert_eq!(
        hop_ids(&router, "fr", "ca"),
        vec!["apertium/fr-es", "apertium/spa-eng", "apertium/eng-cat"]
    );
    let plan = router
        .plan("fr", "en")
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(plan.route().pivots(), vec!["es"]);
}

#[test]
fn direct_beats_pivot_and_neural_pivot_beats_rule_based_pivot() {
    let router = router_with(&[
        FakeEngine::new("apertium/fr-es", EngineKind::RuleBased, "fr", "es"),
        FakeEngine::new("apertium/es-pt", EngineKind::RuleBased, "es", "pt"),
        FakeEngine::new("marian/fr-en", EngineKind::Neural, "fr", "en"),
        FakeEngine::new("marian/en-pt", EngineKind::Neural, "en", "pt"),
    ]);
    assert_eq!(
        hop_ids(&router, "fr", "pt"),
        vec!["marian/fr-en", "marian/en-pt"]
    );
    let router = router_with(&[
        FakeEngine::new("apertium/fr-pt", EngineKind::RuleBased, "fr", "pt"),
        FakeEngine::new("marian/fr-en", EngineKind::Neural, "fr", "en"),
        FakeEngine::new("marian/en-pt", EngineKind::Neural, "en", "pt"),
    ]);
    assert_eq!(hop_ids(&router, "fr", "pt"), vec!["apertium/fr-pt"]);
}

#[test]
fn english_pivot_is_preferred_over_spanish_on_a_tie() {
    let router = router_with(&[
        FakeEngine::new("a/fr-es", EngineKind::RuleBased, "fr", "es"),
        FakeEngine::new("a/es-it", EngineKind::RuleBased, "es", "it"),
        FakeEngine::new("a/fr-en", EngineKind::RuleBased, "fr", "en"),
        FakeEngine::new("a/en-it", EngineKind::RuleBased, "en", "it"),
    ]);
    assert_eq!(hop_ids(&router, "fr", "it"), vec!["a/fr-en", "a/en-it"]);
}

#[test]
fn same_language_is_identity_without_engine_call() {
    let engine = FakeEngine::new("a/en-es", EngineKind::RuleBased, "en", "es");
    let router = router_with(std::slice::from_ref(&engine));
    let plan = router
        .plan("en-GB", "EN")
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(plan.route().is_identity());
    let quotes = vec![QuoteToTranslate {
        text: "We will stay.".to_string(),
        speaker: Some("Ann Lee".to_string()),
    }];
    let translation = translate_article(
        &plan,
        &quotes,
        Some("Summary."),
        &FaithfulOptions::default(),
        None,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(translation.quotes[0].translated, "We will stay.");
    assert_eq!(translation.quotes[0].original, "We will stay.");
    assert_eq!(engine.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn unsupported_pair_lists_existing_pairs() {
    let router = router_with(&[
        FakeEngine::new("a/en-es", EngineKind::RuleBased, "en", "es"),
        FakeEngine::new("a/es-pt", EngineKind::RuleBased, "es", "pt"),
    ]);
    match router.plan("en", "de") {
        Err(error @ TranslateError::UnsupportedPair { .. }) => {
            let TranslateError::UnsupportedPair { available, .. } = &error else {
                unreachable!()
            };
            assert_eq!(
                available,
                &vec![LanguagePair::new("en", "es"), LanguagePair::new("es", "pt")]
            );
            let message = error.to_string();
            assert!(
                message.contains("en→es") && message.contains("es→pt"),
                "{message}"
            );
            assert!(message.contains("from en to de"), "{message}");
        }
        other => panic!("expected UnsupportedPair, got {other:?}"),
    }
}

#[test]
fn invalid_language_codes_are_rejected_before_routing() {
    let router = router_with(&[FakeEngine::new(
        "a/en-es",
        EngineKind::RuleBased,
        "en",
        "es",
    )]);
    for (source, target) in [("en", "spanish!"), ("", "es"), ("en", "qq")] {
        match router.plan(source, target) {
            Err(TranslateError::InvalidLanguage { .. }) => {}
            other => panic!("{source:?}→{target:?}: expected InvalidLanguage, got {other:?}"),
        }
    }
    // BCP-47 tags resolve to their primary language.
    assert_eq!(hop_ids(&router, "en-US", "es-419"), vec!["a/en-es"]);
}

#[test]
fn article_goes_to_each_hop_in_one_batch_and_keeps_originals() {
    let first = FakeEngine::new("a/fr-es", EngineKind::RuleBased, "fr", "es");
    let second = FakeEngine::new("a/es-en", EngineKind::RuleBased, "es", "en");
    let router = router_with(&[first.clone(), second.clone()]);
    let plan = router
        .plan("fr", "en")
        .unwrap_or_else(|error| panic!("{error}"));
    let quotes = vec![
        QuoteToTranslate {
            text: "Nous resterons ici.".to_string(),
            speaker: Some("Marie Curie".to_string()),
        },
        QuoteToTranslate {
            text: "Curie a payé 42 euros.".to_string(),
            speaker: None,
        },
    ];
    let translation = translate_article(
        &plan,
        &quotes,
        Some("Un résumé."),
        &FaithfulOptions::default(),
        None,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(first.calls.load(Ordering::SeqCst), 1);
    assert_eq!(second.calls.load(Ordering::SeqCst), 1);
    assert_eq!(translation.quotes.len(), 2);
    assert_eq!(translation.quotes[1].original, "Curie a payé 42 euros.");
    // The fake engines append their ids, so both hops ran; the protected terms came back.
    let second_quote = &translation.quotes[1];
    assert!(second_quote
        .translated
        .starts_with("Curie a payé 42 euros."));
    assert!(second_quote.translated.ends_with("[a/fr-es] [a/es-en]"));
    assert_eq!(second_quote.protected_terms, vec!["Curie", "42"]);
    assert!(second_quote.missing_terms.is_empty());
    let summary = translation
        .summary
        .unwrap_or_else(|| panic!("summary missing"));
    assert_eq!(summary.original, "Un résumé.");
    assert_eq!(translation.route.hops.len(), 2);
}

#[test]
fn a_past_deadline_fails_before_any_engine_runs() {
    let engine = FakeEngine::new("a/en-es", EngineKind::RuleBased, "en", "es");
    let router = router_with(std::slice::from_ref(&engine));
    let plan = router
        .plan("en", "es")
        .unwrap_or_else(|error| panic!("{error}"));
    let past = Instant::now()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or_else(Instant::now);
    let result = plan.translate_batch(&["Hello.".to_string()], Some(past));
    assert_eq!(result, Err(TranslateError::DeadlineExceeded));
    assert_eq!(engine.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn any_language_serves_as_a_pivot_after_the_preferred_ones() {
    let router = router_with(&[
        FakeEngine::new("a/en-ca", EngineKind::RuleBased, "en", "ca"),
        FakeEngine::new("a/ca-sc", EngineKind::RuleBased, "ca", "sc"),
        FakeEngine::new("a/en-es", EngineKind::RuleBased, "en", "es"),
        FakeEngine::new("a/es-it", EngineKind::RuleBased, "es", "it"),
        FakeEngine::new("a/ca-it", EngineKind::RuleBased, "ca", "it"),
    ]);
    // Only Catalan leads to Sardinian.
    assert_eq!(hop_ids(&router, "en", "sc"), vec!["a/en-ca", "a/ca-sc"]);
    // Spanish (a preferred pivot) beats Catalan on a tie.
    assert_eq!(hop_ids(&router, "en", "it"), vec!["a/en-es", "a/es-it"]);
}

#[test]
fn costs_order_direct_neural_direct_rule_based_one_pivot_two_pivots() {
    let router = Router::new();
    let neural = EngineInfo {
        id: "n".into(),
        kind: EngineKind::Neural,
        pair: LanguagePair::new("en", "es"),
    };
    let rule_based = EngineInfo {
        id: "r".into(),
        kind: EngineKind::RuleBased,
        ..neural.clone()
    };
    let mut best_known = router.clone();
    best_known.set_known_quality("r", 1.0);
    let mut worst_known = router.clone();
    worst_known.set_known_quality("n", 0.0);
    let cheapest_hop = best_known.hop_cost(&neural).min(router.hop_cost(&neural));
    let dearest_hop = worst_known
        .hop_cost(&rule_based)
        .max(router.hop_cost(&rule_based))
        .max(worst_known.hop_cost(&neural));
    assert!(router.hop_cost(&neural) < router.hop_cost(&rule_based));
    // Whatever the kinds and known qualities, a longer route always costs more.
    assert!(
        dearest_hop < 2 * cheapest_hop,
        "{dearest_hop} vs {cheapest_hop}"
    );
    assert!(2 * dearest_hop < 3 * cheapest_hop);
    // A known-good engine beats an unknown one of the same kind.
    assert!(best_known.hop_cost(&rule_based) < router.hop_cost(&rule_based));
}

#[test]
fn known_quality_picks_between_routes_of_the_same_length() {
    let engines = [
        FakeEngine::new("a/en-es", EngineKind::RuleBased, "en", "es"),
        FakeEngine::new("a/es-it", EngineKind::RuleBased, "es", "it"),
        FakeEngine::new("a/en-ca", EngineKind::RuleBased, "en", "ca"),
        FakeEngine::new("a/ca-it", EngineKind::RuleBased, "ca", "it"),
    ];
    let mut router = router_with(&engines);
    assert_eq!(hop_ids(&router, "en", "it"), vec!["a/en-es", "a/es-it"]);
    router.set_known_quality("a/ca-it", 0.95);
    router.set_known_quality("a/en-ca", 0.95);
    assert_eq!(hop_ids(&router, "en", "it"), vec!["a/en-ca", "a/ca-it"]);
}

#[test]
fn reachable_lists_every_directed_pair_with_its_best_route_and_kind() {
    let router = router_with(&[
        FakeEngine::new("a/fr-es", EngineKind::RuleBased, "fr", "es"),
        FakeEngine::new("a/es-en", EngineKind::RuleBased, "es", "en"),
        FakeEngine::new("a/en-ca", EngineKind::RuleBased, "en", "ca"),
        FakeEngine::new("m/fr-ca", EngineKind::Neural, "fr", "ca"),
    ]);
    let reachable = router.reachable();
    let summary: Vec<(String, RouteKind, Vec<String>)> = reachable
        .iter()
        .map(|pair| {
            (
                format!("{}-{}", pair.route.source, pair.route.target),
                pair.kind,
                pair.route
                    .hops
                    .iter()
                    .map(|h| h.engine_id.clone())
                    .collect(),
            )
        })
        .collect();
    let expect = |pair: &str, kind: RouteKind, ids: &[&str]| {
        (
            pair.to_string(),
            kind,
            ids.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        summary,
        vec![
            expect("en-ca", RouteKind::Direct, &["a/en-ca"]),
            expect("es-ca", RouteKind::OnePivot, &["a/es-en", "a/en-ca"]),
            expect("es-en", RouteKind::Direct, &["a/es-en"]),
            expect("fr-ca", RouteKind::Direct, &["m/fr-ca"]),
            expect("fr-en", RouteKind::OnePivot, &["a/fr-es", "a/es-en"]),
            expect("fr-es", RouteKind::Direct, &["a/fr-es"]),
        ]
    );
    let counts = ReachCounts::of(&reachable);
    assert_eq!(
        (counts.direct, counts.one_pivot, counts.two_pivots),
        (4, 2, 0)
    );
    // Every listed route is the one a request gets.
    for pair in &reachable {
        let plan = router.plan(&pair.route.source, &pair.route.target).unwrap();
        assert_eq!(plan.route(), &pair.route);
    }
}
