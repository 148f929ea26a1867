//! Measures, on the team's development articles (`tests/devdata/ranking`), which ranking picks
//! the sentences an editor marked for a three-sentence summary (the lead and the two central
//! facts): lexical (TF-IDF), multilingual-e5-small, and all-MiniLM-L6-v2 for English. Prints the
//! hits per article and the totals. Never run on the articles the tests use.
//!
//! `cargo run --release --example ranking_dev [-- MODELS_DIR] [DEV_DIR]` (DEV_DIR: another
//! directory of articles in the same format, e.g. held-out ones, instead of the dev set)
use std::path::{Path, PathBuf};

use precis::config::{default_models_dir, Catalog, DEFAULT_CATALOG, DEFAULT_ENGINE};
use precis::runtime::embeddings::{EmbeddingEngine, EmbeddingOptions, SimilarityCutoffs};
use precis::runtime::{ModelEngine, ModelLocation, ModelRole, ModelSpec};
use precis::summarize::extractive::{
    select_sentences, ExtractiveWeights, Ranking, SimilarityMatrix, SummaryLength,
};
use unicode_segmentation::UnicodeSegmentation;

struct Article {
    name: String,
    sentences: Vec<String>,
    gold: Vec<usize>,
}

/// One sentence a line: `N sentence` or `N* sentence` (in the summary); `#` starts a comment.
fn parse(path: &Path) -> Article {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let mut sentences = Vec::new();
    let mut gold = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (label, sentence) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("{}: no sentence in {line:?}", path.display()));
        if label.ends_with('*') {
            gold.push(sentences.len());
        }
        sentences.push(sentence.to_string());
    }
    Article {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        sentences,
        gold,
    }
}

fn engine(models_dir: &Path, id: &str) -> EmbeddingEngine {
    let spec = ModelSpec {
        id: id.into(),
        role: ModelRole::SentenceEmbeddings,
        location: ModelLocation::Directory(models_dir.join(id)),
    };
    EmbeddingEngine::load(
        &spec,
        DEFAULT_ENGINE,
        &EmbeddingOptions {
            forward_batch: 32,
            ..Default::default()
        },
    )
    .unwrap_or_else(|error| panic!("{error}"))
}

/// How many of the chosen sentences the editor marked, and the chosen sentences' numbers.
fn hits(
    article: &Article,
    similarity: &SimilarityMatrix,
    weights: ExtractiveWeights,
) -> (usize, String) {
    let texts: Vec<&str> = article.sentences.iter().map(String::as_str).collect();
    let words: Vec<usize> = texts.iter().map(|t| t.unicode_words().count()).collect();
    let chosen = select_sentences(
        similarity,
        &texts,
        &words,
        SummaryLength::Sentences(3),
        weights,
    );
    let numbers = chosen
        .iter()
        .map(|c| (c.index + 1).to_string())
        .collect::<Vec<_>>()
        .join(",");
    let count = chosen
        .iter()
        .filter(|c| article.gold.contains(&c.index))
        .count();
    (count, numbers)
}

fn embedded(engine: &mut EmbeddingEngine, article: &Article, floor: f32) -> SimilarityMatrix {
    let vectors = engine
        .run_batch(vec![article.sentences.clone()])
        .pop()
        .unwrap()
        .unwrap_or_else(|error| panic!("{error}"));
    SimilarityMatrix::from_embeddings_above(&vectors, floor)
}

fn main() {
    let models_dir = std::env::args()
        .nth(1)
        .map_or_else(default_models_dir, PathBuf::from);
    let dir = std::env::args().nth(2).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/devdata/ranking"),
        PathBuf::from,
    );
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    let catalog: Catalog = toml::from_str(DEFAULT_CATALOG).unwrap();
    let mut e5_cutoffs = catalog
        .more_embeddings
        .iter()
        .find(|model| model.id == "multilingual-e5-small")
        .and_then(|model| model.similarity)
        .unwrap_or_default();
    // PRECIS_DEV_FLOOR=0.7 tries another rescaling floor for e5 (choosing it on these articles).
    if let Some(floor) = std::env::var("PRECIS_DEV_FLOOR")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        e5_cutoffs.floor = floor;
    }
    // PRECIS_DEV_LEAD=0.5 ranks e5 by similarity to the lead and position (see the README).
    if let Some(lead) = std::env::var("PRECIS_DEV_LEAD")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        e5_cutoffs.lead_similarity = lead;
    }
    // PRECIS_DEV_RANKING=before ranks e5 as before its catalog weights (centrality 0.6,
    // position 0.4, no length), to compare.
    if std::env::var("PRECIS_DEV_RANKING").is_ok_and(|v| v == "before") {
        e5_cutoffs.ranking = None;
    }
    println!(
        "e5 floor {}, lead similarity {}, ranking {:?}",
        e5_cutoffs.floor, e5_cutoffs.lead_similarity, e5_cutoffs.ranking
    );
    let novelty: Option<f32> = std::env::var("PRECIS_DEV_NOVELTY")
        .ok()
        .and_then(|v| v.parse().ok());
    let position: Option<f32> = std::env::var("PRECIS_DEV_POSITION")
        .ok()
        .and_then(|v| v.parse().ok());
    let with_cutoffs = |cutoffs: SimilarityCutoffs| {
        let mut weights = ExtractiveWeights::for_embeddings(&cutoffs);
        if let Some(novelty) = novelty {
            weights.relevance_vs_novelty = novelty;
        }
        if let Some(position) = position {
            weights.position = position;
            weights.centrality = (1.0 - position - weights.lead_similarity).max(0.0);
        }
        weights
    };
    let mut e5 = engine(&models_dir, "multilingual-e5-small");
    let mut minilm = engine(&models_dir, "all-MiniLM-L6-v2");
    let (mut lexical_total, mut e5_total, mut gold_total) = (0, 0, 0);
    let (mut lexical_whole, mut e5_whole) = (0, 0);
    println!("article          gold  lexical        e5             MiniLM");
    for path in &paths {
        let article = parse(path);
        let texts: Vec<&str> = article.sentences.iter().map(String::as_str).collect();
        let (lexical, lexical_chosen) = hits(
            &article,
            &SimilarityMatrix::lexical(&texts),
            ExtractiveWeights::for_ranking(Ranking::Lexical),
        );
        let (e5_hits, e5_chosen) = hits(
            &article,
            &embedded(&mut e5, &article, e5_cutoffs.floor),
            with_cutoffs(e5_cutoffs),
        );
        let minilm = if article.name.starts_with("en-") {
            let similarity = embedded(&mut minilm, &article, 0.0);
            let (count, chosen) = hits(
                &article,
                &similarity,
                with_cutoffs(SimilarityCutoffs::default()),
            );
            format!("{count} ({chosen})")
        } else {
            "-".into()
        };
        let gold = article
            .gold
            .iter()
            .map(|i| (i + 1).to_string())
            .collect::<Vec<_>>()
            .join(",");
        println!(
            "{:<16} {gold:<5} {lexical} ({lexical_chosen:<5})  {e5_hits} ({e5_chosen:<5})  {minilm}",
            article.name,
        );
        lexical_whole += usize::from(lexical == article.gold.len());
        e5_whole += usize::from(e5_hits == article.gold.len());
        lexical_total += lexical;
        e5_total += e5_hits;
        gold_total += article.gold.len();
    }
    println!("total: {gold_total} marked; lexical {lexical_total}, e5 {e5_total}");
    println!(
        "articles with every marked sentence picked: lexical {lexical_whole}, e5 {e5_whole} of {}",
        paths.len()
    );
}
