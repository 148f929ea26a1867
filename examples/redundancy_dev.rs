//! Chooses the redundancy threshold of the lexical ranking (`max_redundancy` for
//! `Ranking::Lexical`) on the team's development articles (`tests/devdata/summaries`), never on
//! the articles the tests use. Each article marks which sentences restate an earlier one; every
//! other pair of its sentences states distinct facts of one story. A threshold `t` treats a
//! pair as a repeat when its TF-IDF similarity is above `t` (as `select_sentences` does): a
//! restatement at or under `t` is a miss (the summary may say it twice), a pair of distinct facts
//! above `t` a false merge (a fact may be left out). The choice is the threshold with the fewest
//! errors of both kinds together, the middle of the widest such range.
//!
//! `cargo run --release --example redundancy_dev [-- DIR]`
use std::path::{Path, PathBuf};

use precis::summarize::extractive::{ExtractiveWeights, Ranking, SimilarityMatrix};

struct Article {
    name: String,
    sentences: Vec<String>,
    /// The fact each sentence states: its own index, or that of the sentence it restates.
    fact: Vec<usize>,
}

/// One sentence a line: `N sentence` or `N=M sentence` (N restates M); `#` starts a comment.
fn parse(path: &Path) -> Article {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let mut numbers = Vec::new();
    let mut sentences = Vec::new();
    let mut restates = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (label, sentence) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("{}: no sentence in {line:?}", path.display()));
        let (number, original) = match label.split_once('=') {
            Some((number, original)) => (number, Some(original)),
            None => (label, None),
        };
        let parse_number = |n: &str| -> usize {
            n.parse()
                .unwrap_or_else(|_| panic!("{}: bad label {label:?}", path.display()))
        };
        numbers.push(parse_number(number));
        restates.push(original.map(parse_number));
        sentences.push(sentence.to_string());
    }
    let index_of = |number: usize| {
        numbers
            .iter()
            .position(|&n| n == number)
            .unwrap_or_else(|| panic!("{}: no sentence {number}", path.display()))
    };
    let fact = restates
        .iter()
        .enumerate()
        .map(|(index, original)| original.map_or(index, index_of))
        .collect();
    Article {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        sentences,
        fact,
    }
}

struct Pair {
    similarity: f32,
    restatement: bool,
    article: String,
    first: usize,
    second: usize,
}

fn main() {
    let dir = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/devdata/summaries"),
        PathBuf::from,
    );
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "txt"))
        .collect();
    paths.sort();

    let mut pairs = Vec::new();
    for path in &paths {
        let article = parse(path);
        let sentences: Vec<&str> = article.sentences.iter().map(String::as_str).collect();
        let similarity = SimilarityMatrix::lexical(&sentences);
        for first in 0..sentences.len() {
            for second in first + 1..sentences.len() {
                pairs.push(Pair {
                    similarity: similarity.get(first, second),
                    restatement: article.fact[first] == article.fact[second],
                    article: article.name.clone(),
                    first: first + 1,
                    second: second + 1,
                });
            }
        }
    }
    pairs.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    let restatements = pairs.iter().filter(|pair| pair.restatement).count();
    let distinct = pairs.len() - restatements;
    println!(
        "{} articles, {restatements} restatements, {distinct} pairs of distinct facts",
        paths.len()
    );
    println!("\nrestatements:");
    for pair in pairs.iter().filter(|pair| pair.restatement) {
        println!(
            "  {:.3}  {} {}~{}",
            pair.similarity, pair.article, pair.first, pair.second
        );
    }
    println!("\nthe 10 most similar pairs of distinct facts:");
    for pair in pairs.iter().filter(|pair| !pair.restatement).take(10) {
        println!(
            "  {:.3}  {} {}~{}",
            pair.similarity, pair.article, pair.first, pair.second
        );
    }

    let errors_at = |threshold: f32| {
        let missed = pairs
            .iter()
            .filter(|pair| pair.restatement && pair.similarity <= threshold)
            .count();
        let merged = pairs
            .iter()
            .filter(|pair| !pair.restatement && pair.similarity > threshold)
            .count();
        (missed, merged)
    };
    let candidates: Vec<f32> = (5..=95)
        .map(|hundredths| hundredths as f32 / 100.0)
        .collect();
    let totals: Vec<usize> = candidates
        .iter()
        .map(|&threshold| {
            let (missed, merged) = errors_at(threshold);
            missed + merged
        })
        .collect();
    let fewest = *totals.iter().min().unwrap();
    // The widest run of consecutive candidates with the fewest errors; its middle is the choice.
    let (mut best_start, mut best_length, mut run_start) = (0, 0, None);
    for (index, &total) in totals.iter().enumerate() {
        if total == fewest {
            let start = *run_start.get_or_insert(index);
            if index + 1 - start > best_length {
                (best_start, best_length) = (start, index + 1 - start);
            }
        } else {
            run_start = None;
        }
    }
    println!("\nthreshold  missed restatements  false merges");
    for (index, &threshold) in candidates.iter().enumerate() {
        if index % 5 == 0 || (best_start..best_start + best_length).contains(&index) {
            let (missed, merged) = errors_at(threshold);
            println!("  {threshold:.2}     {missed:>3} / {restatements}          {merged:>3} / {distinct}");
        }
    }
    let chosen = candidates[best_start + (best_length - 1) / 2];
    let current = ExtractiveWeights::for_ranking(Ranking::Lexical).max_redundancy;
    let (missed, merged) = errors_at(chosen);
    println!(
        "\nfewest errors: {fewest}, for thresholds {:.2}..={:.2}",
        candidates[best_start],
        candidates[best_start + best_length - 1]
    );
    println!("chosen: {chosen:.2} ({missed} missed, {merged} false merges)");
    let (missed, merged) = errors_at(current);
    println!("in use: {current:.2} ({missed} missed, {merged} false merges)");
}
