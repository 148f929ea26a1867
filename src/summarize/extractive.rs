//! Extractive summaries: rank sentences by centrality, position (and, for a model whose catalog
//! entry weighs it, sentence length) and redundancy (MMR), then return the chosen ones in
//! article order.
//!
//! The similarity between sentences comes either from sentence embeddings (languages the
//! embedding model covers) or from lexical overlap (TF-IDF cosine over the language's word
//! tokens), so every language gets a summary; the result says which ranking was used.
use std::collections::HashMap;

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::runtime::embeddings::{Embedding, SimilarityCutoffs};

/// How long the summary should be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum SummaryLength {
    Sentences(usize),
    /// Stop before the chosen sentences exceed this many words (at least one sentence).
    Words(usize),
    /// A share of the article's sentences, in (0, 1].
    Ratio(f32),
}

impl Default for SummaryLength {
    fn default() -> Self {
        Self::Sentences(3)
    }
}

/// Which similarity ranked the sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranking {
    /// Cosine similarity of sentence embeddings.
    Embeddings,
    /// TF-IDF cosine similarity of word tokens.
    Lexical,
}

/// A sentence chosen for the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedSentence {
    /// Index of the sentence in the article's segmentation.
    pub index: usize,
    /// The combined relevance score in [0, 1] that ranked it.
    pub score: f32,
    pub centrality: f32,
    pub position: f32,
}

#[derive(Debug, Clone, Copy)]
pub struct ExtractiveWeights {
    pub centrality: f32,
    pub position: f32,
    /// MMR trade-off: 1.0 ignores redundancy, 0.0 only avoids it.
    pub relevance_vs_novelty: f32,
    /// A sentence this similar to one already chosen repeats its meaning and is never added.
    pub max_redundancy: f32,
    /// Weight of a sentence's similarity to the lead (the first sentence that can be chosen):
    /// news states its story in the lead, and the central facts elaborate it. Off (0) for every
    /// model today: with multilingual-e5-small it also favours asides that repeat the lead's
    /// day and place (README, multilingual-e5-small).
    pub lead_similarity: f32,
    /// Weight of a sentence's length relative to the article's median sentence (capped at twice
    /// the median): central facts are full sentences, background and asides short ones.
    /// multilingual-e5-small's catalog entry sets it (README, multilingual-e5-small).
    pub length: f32,
}

impl ExtractiveWeights {
    /// News puts its key facts first, so position weighs in; centrality keeps the lead from
    /// winning when the article opens with a scene-setter. The paraphrase cut-off depends on the
    /// similarity's scale: embedding cosines of paraphrases sit around 0.7-0.9; TF-IDF cosines
    /// (over five-letter prefixes) of a fact restated in other words around 0.3-0.6, of distinct
    /// facts of one story under 0.25. The lexical cut-off is chosen on the team's dev articles,
    /// not on the tests' (`cargo run --release --example redundancy_dev`).
    pub fn for_ranking(ranking: Ranking) -> Self {
        Self {
            centrality: 0.6,
            position: 0.4,
            relevance_vs_novelty: 0.7,
            max_redundancy: match ranking {
                Ranking::Embeddings => 0.75,
                Ranking::Lexical => 0.28,
            },
            lead_similarity: 0.0,
            length: 0.0,
        }
    }

    /// The embedding ranking with one model's cut-offs (`SimilarityCutoffs`): its redundancy
    /// cut-off on the rescaled cosines, its ranking weights when it sets them, and, when the
    /// model sets `lead_similarity`, relevance from similarity to the lead and position instead
    /// of centrality and position.
    pub fn for_embeddings(cutoffs: &SimilarityCutoffs) -> Self {
        let mut weights = Self::for_ranking(Ranking::Embeddings);
        weights.max_redundancy = rescale(cutoffs.max_redundancy, cutoffs.floor);
        if let Some(ranking) = cutoffs.ranking {
            weights.centrality = ranking.centrality;
            weights.position = ranking.position;
            weights.length = ranking.length;
        }
        if cutoffs.lead_similarity > 0.0 {
            let lead = cutoffs.lead_similarity.min(1.0);
            weights.lead_similarity = lead;
            weights.centrality = 0.0;
            weights.position = 1.0 - lead;
        }
        weights
    }
}

/// The term a word counts as: lower case, Latin diacritics folded, cut to its first five
/// letters. The cut is a language-agnostic stand-in for stemming, so that inflections and
/// derivations of one word meet ("fermé"/"fermeture", "approved"/"approval", "Baukosten"/
/// "Bauarbeiten" do not, "Straßenbahn"/"Straßenbahnlinie" do); without it a restatement in other
/// word forms escapes the redundancy check of languages ranked lexically.
fn lexical_term(word: &str) -> String {
    const PREFIX: usize = 5;
    let mut term = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            c => c,
        };
        term.push(folded);
    }
    match term.char_indices().nth(PREFIX) {
        Some((cut, _)) => term[..cut].to_string(),
        None => term,
    }
}

/// `v / |v|`, or zeros for a zero vector (whose cosine with anything is 0, as in `cosine`).
fn unit_vector(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        vec![0.0; v.len()]
    } else {
        v.iter().map(|x| x / norm).collect()
    }
}

/// A dot product in eight independent lanes, which the compiler turns into SIMD.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// A square matrix of pairwise similarities between the article's sentences.
pub struct SimilarityMatrix {
    size: usize,
    values: Vec<f32>,
}

impl SimilarityMatrix {
    /// Cosines of every pair. The vectors are normalised once, so each of the n²/2 pairs costs
    /// one dot product instead of three (a 256 KB article has ~2,500 sentences: 3 M pairs).
    pub fn from_embeddings(embeddings: &[Embedding]) -> Self {
        Self::from_embeddings_above(embeddings, 0.0)
    }

    /// Cosines rescaled so that `floor` (where a model puts sentences that share no fact) is 0
    /// and 1 stays 1, clamped at 0: the ranking's novelty term then weighs alike for models
    /// whose cosines sit on different scales.
    pub fn from_embeddings_above(embeddings: &[Embedding], floor: f32) -> Self {
        let unit: Vec<Vec<f32>> = embeddings.iter().map(|e| unit_vector(e)).collect();
        Self::build(unit.len(), |i, j| rescale(dot(&unit[i], &unit[j]), floor))
    }

    /// TF-IDF vectors over lower-cased word tokens; works for any language with word boundaries
    /// and, for CJK, over single ideographs (UAX #29 splits them one by one).
    pub fn lexical(sentences: &[&str]) -> Self {
        let vectors = tfidf_unit_vectors(sentences);
        Self::build(sentences.len(), |i, j| {
            // Unit vectors: the cosine is the dot product, over the shorter one's terms.
            let (small, large) = if vectors[i].len() <= vectors[j].len() {
                (&vectors[i], &vectors[j])
            } else {
                (&vectors[j], &vectors[i])
            };
            small
                .iter()
                .filter_map(|(term, weight)| large.get(term).map(|other| weight * other))
                .sum()
        })
    }

    fn build(size: usize, similarity: impl Fn(usize, usize) -> f32) -> Self {
        let mut values = vec![0.0; size * size];
        for i in 0..size {
            values[i * size + i] = 1.0;
            for j in (i + 1)..size {
                let value = similarity(i, j);
                values[i * size + j] = value;
                values[j * size + i] = value;
            }
        }
        Self { size, values }
    }

    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.values[i * self.size + j]
    }

    pub fn len(&self) -> usize {
        self.size
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
}

/// A sentence a reader would accept in a summary: it ends like a sentence and says something.
/// Headlines, photo captions, bylines and navigation text scraped with an article ("Breaking
/// News", "FILE - …") end without terminal punctuation or are only a few words long.
pub fn is_summary_candidate(sentence: &str, words: usize) -> bool {
    const MIN_WORDS: usize = 4;
    let last = sentence
        .trim_end()
        .trim_end_matches(|c: char| "\"'”’»›」』)]".contains(c))
        .chars()
        .last();
    words >= MIN_WORDS
        && matches!(
            last,
            Some('.' | '!' | '?' | '…' | '。' | '！' | '？' | '؟' | '।')
        )
}

/// Chooses summary sentences. `sentences[i]` is the text of sentence `i` and `word_counts[i]`
/// its number of words. Returns them in article order.
pub fn select_sentences(
    similarity: &SimilarityMatrix,
    sentences: &[&str],
    word_counts: &[usize],
    length: SummaryLength,
    weights: ExtractiveWeights,
) -> Vec<RankedSentence> {
    let repeated = repeated_sentences(sentences);
    select_sentences_among(
        similarity,
        sentences,
        word_counts,
        &repeated,
        length,
        weights,
    )
}

/// Whether each sentence is printed more than once in `sentences` (a caption repeated by the
/// page, a boilerplate line): page furniture, not the story.
pub fn repeated_sentences(sentences: &[&str]) -> Vec<bool> {
    let mut occurrences: HashMap<&str, usize> = HashMap::new();
    for sentence in sentences {
        *occurrences.entry(sentence.trim()).or_default() += 1;
    }
    sentences
        .iter()
        .map(|sentence| occurrences[sentence.trim()] > 1)
        .collect()
}

/// [`select_sentences`] with the repeated sentences given: those of the whole article when
/// `sentences` is its shortlist (see [`shortlist`]).
pub fn select_sentences_among(
    similarity: &SimilarityMatrix,
    sentences: &[&str],
    word_counts: &[usize],
    repeated: &[bool],
    length: SummaryLength,
    weights: ExtractiveWeights,
) -> Vec<RankedSentence> {
    let n = similarity.len();
    if n == 0 {
        return Vec::new();
    }
    let centrality = normalise(
        (0..n)
            .map(|i| {
                if n == 1 {
                    1.0
                } else {
                    (0..n)
                        .filter(|&j| j != i)
                        .map(|j| similarity.get(i, j))
                        .sum::<f32>()
                        / (n - 1) as f32
                }
            })
            .collect(),
    );
    // A sentence printed more than once is page furniture, not the story.
    let mut available: Vec<bool> = (0..n)
        .map(|i| !repeated[i] && is_summary_candidate(sentences[i], word_counts[i]))
        .collect();
    if !available.iter().any(|&a| a) {
        // Nothing reads like a full sentence (a list, a caption-only text): take what has words.
        available = word_counts.iter().map(|&words| words > 0).collect();
    }
    if !available.iter().any(|&a| a) {
        available = vec![true; n];
    }
    // Lead bias decays smoothly over the sentences that can be chosen: the first (the lead,
    // once headlines and captions are set aside) counts fully, the tenth about a third.
    let mut rank = 0usize;
    let position: Vec<f32> = available
        .iter()
        .map(|&eligible| {
            let score = 1.0 / (1.0 + rank as f32).sqrt();
            if eligible {
                rank += 1;
            }
            score
        })
        .collect();
    // Similarity to the lead, min-max scaled over the other sentences (the lead itself is 1).
    let lead = available.iter().position(|&a| a).unwrap_or(0);
    let lead_similarity: Vec<f32> = if weights.lead_similarity > 0.0 && n > 1 {
        let others: Vec<f32> = (0..n)
            .filter(|&i| i != lead)
            .map(|i| similarity.get(lead, i))
            .collect();
        let mut scaled = normalise(others).into_iter();
        (0..n)
            .map(|i| {
                if i == lead {
                    1.0
                } else {
                    scaled.next().unwrap_or(0.0)
                }
            })
            .collect()
    } else {
        vec![1.0; n]
    };
    let relative_length = if weights.length > 0.0 {
        relative_lengths(sentences)
    } else {
        vec![1.0; n]
    };
    let relevance: Vec<f32> = (0..n)
        .map(|i| {
            weights.centrality * centrality[i]
                + weights.position * position[i]
                + weights.lead_similarity * lead_similarity[i]
                + weights.length * relative_length[i]
        })
        .collect();

    let (max_sentences, max_words) = match length {
        SummaryLength::Sentences(count) => (count.max(1), usize::MAX),
        SummaryLength::Words(words) => (n, words.max(1)),
        SummaryLength::Ratio(ratio) => (
            ((n as f32 * ratio.clamp(0.0, 1.0)).round() as usize).max(1),
            usize::MAX,
        ),
    };
    let mut chosen: Vec<usize> = Vec::new();
    let mut words_used = 0usize;
    while chosen.len() < max_sentences.min(n) {
        let best = (0..n)
            .filter(|&i| available[i])
            .filter_map(|i| {
                let redundancy = chosen
                    .iter()
                    .map(|&j| similarity.get(i, j))
                    .fold(0.0f32, f32::max);
                if redundancy > weights.max_redundancy {
                    return None;
                }
                let mmr = weights.relevance_vs_novelty * relevance[i]
                    - (1.0 - weights.relevance_vs_novelty) * redundancy;
                Some((i, mmr))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((best, _)) = best else { break };
        let words = word_counts.get(best).copied().unwrap_or(0);
        if !chosen.is_empty() && words_used + words > max_words {
            available[best] = false;
            continue;
        }
        words_used += words;
        chosen.push(best);
        available[best] = false;
    }
    chosen.sort_unstable();
    chosen
        .into_iter()
        .map(|index| RankedSentence {
            index,
            score: relevance[index],
            centrality: centrality[index],
            position: position[index],
        })
        .collect()
}

/// Each sentence's length in characters (any script) relative to the article's median sentence,
/// capped at twice the median (a run-on sentence is no more central than a full one), scaled to
/// [0, 1] within the article.
fn relative_lengths(sentences: &[&str]) -> Vec<f32> {
    const CAP: f32 = 2.0;
    let lengths: Vec<f32> = sentences
        .iter()
        .map(|sentence| sentence.trim().chars().count() as f32)
        .collect();
    let mut sorted = lengths.clone();
    sorted.sort_by(f32::total_cmp);
    let median = match sorted.len() {
        0 => return Vec::new(),
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    };
    if median <= 0.0 {
        return vec![1.0; lengths.len()];
    }
    normalise(
        lengths
            .into_iter()
            .map(|length| (length / median).min(CAP))
            .collect(),
    )
}

/// The most sentences an article's summary ranks by pairwise similarity; a longer article is
/// shortlisted first (see [`shortlist`]). Ranking costs one embedding per sentence and n²/2
/// similarities: a 256 KB article has ~2,500 sentences (60,000 tokens, ~10 s of embedding on
/// one core), the shortlist keeps that under a second.
pub const SHORTLIST_SENTENCES: usize = 256;

/// For an article of more than `limit` sentences, the indices (in article order) of those worth
/// ranking: the first `limit / 2` (news puts its key facts first, and the position score
/// favours them anyway) and the most central of the rest by TF-IDF similarity to the whole
/// article, computed against the article's centroid in one pass (no pairwise matrix).
/// `None` when the article is short enough to rank whole.
pub fn shortlist(sentences: &[&str], limit: usize) -> Option<Vec<usize>> {
    if sentences.len() <= limit {
        return None;
    }
    let lead = limit / 2;
    let centrality = lexical_centrality(sentences);
    let mut rest: Vec<usize> = (lead..sentences.len()).collect();
    rest.sort_by(|&a, &b| centrality[b].total_cmp(&centrality[a]).then(a.cmp(&b)));
    let mut chosen: Vec<usize> = (0..lead)
        .chain(rest.into_iter().take(limit - lead))
        .collect();
    chosen.sort_unstable();
    Some(chosen)
}

/// Each sentence's TF-IDF cosine with the centroid of all sentences' unit vectors: the mean of
/// its cosines with every sentence, in time linear in the article's words.
pub fn lexical_centrality(sentences: &[&str]) -> Vec<f32> {
    let vectors = tfidf_unit_vectors(sentences);
    let mut centroid: HashMap<&str, f32> = HashMap::new();
    for vector in &vectors {
        for (term, weight) in vector {
            *centroid.entry(term.as_str()).or_default() += weight;
        }
    }
    vectors
        .iter()
        .map(|vector| {
            vector
                .iter()
                .map(|(term, weight)| weight * centroid[term.as_str()])
                .sum::<f32>()
                / sentences.len().max(1) as f32
        })
        .collect()
}

/// TF-IDF vectors over lower-cased word terms (see [`lexical_term`]), scaled to unit length
/// (empty for a sentence without terms): [`SimilarityMatrix::lexical`] and
/// [`lexical_centrality`] both take their cosines from them.
fn tfidf_unit_vectors(sentences: &[&str]) -> Vec<HashMap<String, f32>> {
    let tokenized: Vec<Vec<String>> = sentences
        .iter()
        .map(|sentence| {
            sentence
                .unicode_words()
                .filter(|word| word.chars().count() > 1 || !word.is_ascii())
                .map(lexical_term)
                .collect()
        })
        .collect();
    let mut document_frequency: HashMap<&str, usize> = HashMap::new();
    for tokens in &tokenized {
        let mut seen: Vec<&str> = tokens.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for token in seen {
            *document_frequency.entry(token).or_default() += 1;
        }
    }
    let count = sentences.len().max(1) as f32;
    tokenized
        .iter()
        .map(|tokens| {
            let mut vector: HashMap<String, f32> = HashMap::new();
            for token in tokens {
                *vector.entry(token.clone()).or_default() += 1.0;
            }
            for (token, weight) in vector.iter_mut() {
                let df = document_frequency[token.as_str()] as f32;
                *weight = (1.0 + weight.ln()) * (1.0 + (count / df).ln());
            }
            let norm = vector.values().map(|w| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                vector.values_mut().for_each(|w| *w /= norm);
            }
            vector
        })
        .collect()
}

/// Scales to [0, 1]; a constant vector becomes all ones.
/// `value` on a scale where `floor` is 0 and 1 stays 1 (clamped at 0).
pub fn rescale(value: f32, floor: f32) -> f32 {
    if floor <= 0.0 || floor >= 1.0 {
        return value;
    }
    ((value - floor) / (1.0 - floor)).max(0.0)
}

fn normalise(values: Vec<f32>) -> Vec<f32> {
    let min = values.iter().copied().fold(f32::INFINITY, f32::min);
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // Also true when the values are empty or not numbers: nothing to scale then.
    if max.partial_cmp(&min) != Some(std::cmp::Ordering::Greater) {
        return vec![1.0; values.len()];
    }
    values
        .into_iter()
        .map(|v| (v - min) / (max - min))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::embeddings::{cosine, RankingWeights};

    #[test]
    fn embedding_similarities_are_the_cosines_of_the_vectors() {
        let vectors: Vec<Embedding> = vec![
            (0..19).map(|i| i as f32 * 0.5 - 3.0).collect(),
            (0..19).map(|i| ((i * 7) % 5) as f32).collect(),
            vec![0.0; 19],
            (0..19).map(|i| -(i as f32)).collect(),
        ];
        let matrix = SimilarityMatrix::from_embeddings(&vectors);
        for i in 0..vectors.len() {
            for j in 0..vectors.len() {
                let expected = if i == j {
                    1.0
                } else {
                    cosine(&vectors[i], &vectors[j])
                };
                assert!(
                    (matrix.get(i, j) - expected).abs() < 1e-5,
                    "({i}, {j}): {} vs {expected}",
                    matrix.get(i, j)
                );
            }
        }
    }

    /// The two sentences `select_sentences` picks, given each sentence's vector.
    fn two_picked(
        sentences: &[&str],
        vectors: &[Embedding],
        weights: ExtractiveWeights,
    ) -> Vec<usize> {
        let similarity = SimilarityMatrix::from_embeddings(vectors);
        let words: Vec<usize> = sentences
            .iter()
            .map(|s| s.unicode_words().count())
            .collect();
        select_sentences(
            &similarity,
            sentences,
            &words,
            SummaryLength::Sentences(2),
            weights,
        )
        .into_iter()
        .map(|ranked| ranked.index)
        .collect()
    }

    /// A background sentence close to the rest of the story but not to the lead wins on
    /// centrality; with `lead_similarity` the fact that elaborates the lead wins instead, and
    /// a model's cut-offs without it keep the default weights.
    #[test]
    fn lead_similarity_replaces_centrality_when_a_model_asks_for_it() {
        let sentences = [
            "The dam was closed on Thursday after a crack was found.",
            "The dam, built in 1958, supplies water to the valley.",
            "Officials ordered 1,200 residents downstream to leave.",
            "The valley's water has come from the dam for decades.",
        ];
        let vectors: Vec<Embedding> = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.6, 0.8, 0.0],
            vec![0.9, 0.0, 0.436],
            vec![0.5, 0.85, 0.1],
        ];
        let pick = |weights: ExtractiveWeights| two_picked(&sentences, &vectors, weights);
        let centrality = ExtractiveWeights {
            max_redundancy: 0.95,
            ..ExtractiveWeights::for_ranking(Ranking::Embeddings)
        };
        assert_eq!(pick(centrality), vec![0, 1]);
        let lead = ExtractiveWeights::for_embeddings(&SimilarityCutoffs {
            max_redundancy: 0.95,
            lead_similarity: 0.5,
            ..SimilarityCutoffs::default()
        });
        assert_eq!((lead.centrality, lead.position), (0.0, 0.5));
        assert_eq!(pick(lead), vec![0, 2]);

        let default = ExtractiveWeights::for_embeddings(&SimilarityCutoffs::default());
        let expected = ExtractiveWeights::for_ranking(Ranking::Embeddings);
        assert_eq!(
            (
                default.centrality,
                default.position,
                default.lead_similarity
            ),
            (expected.centrality, expected.position, 0.0)
        );
        assert_eq!(default.max_redundancy, expected.max_redundancy);
    }

    /// A short background sentence right after the lead, central to the story, wins on
    /// centrality and position; a model whose catalog entry weighs sentence length picks the
    /// full sentence with the story's consequence instead, and without `ranking` the weights
    /// stay MiniLM's.
    #[test]
    fn the_length_cue_prefers_a_full_fact_to_a_short_background_sentence() {
        let sentences = [
            "The dam was closed on Thursday after engineers found a six-metre crack in its wall.",
            "The dam was built in 1958.",
            "Officials ordered 1,200 residents downstream to leave their homes until repairs end.",
            "It rained on Thursday.",
        ];
        let vectors: Vec<Embedding> = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.8, 0.6, 0.0],
            vec![0.7, 0.0, 0.714],
            vec![0.3, 0.9, 0.3],
        ];
        let pick = |weights: ExtractiveWeights| two_picked(&sentences, &vectors, weights);
        let cutoffs = SimilarityCutoffs {
            max_redundancy: 0.95,
            ..SimilarityCutoffs::default()
        };
        assert_eq!(
            pick(ExtractiveWeights::for_embeddings(&cutoffs)),
            vec![0, 1]
        );
        let with_length = ExtractiveWeights::for_embeddings(&SimilarityCutoffs {
            ranking: Some(RankingWeights {
                centrality: 0.2,
                position: 0.3,
                length: 0.5,
            }),
            ..cutoffs
        });
        assert_eq!(
            (
                with_length.centrality,
                with_length.position,
                with_length.length
            ),
            (0.2, 0.3, 0.5)
        );
        assert_eq!(pick(with_length), vec![0, 2]);
        assert_eq!(ExtractiveWeights::for_embeddings(&cutoffs).length, 0.0);
    }

    /// Characters in any script against the article's median sentence, capped at twice the
    /// median, scaled to [0, 1].
    #[test]
    fn relative_lengths_count_characters_against_the_median_sentence() {
        // Median 10 characters: 5 -> 0.5, 10 -> 1, 40 -> capped at 2; then scaled.
        let lengths = relative_lengths(&[
            "aaaaa",
            "地铁三号线周一正式开",
            " bbbbbbbbbb ",
            &"c".repeat(40),
        ]);
        assert_eq!(lengths.len(), 4);
        let expected = [0.0, 1.0 / 3.0, 1.0 / 3.0, 1.0];
        for (value, expected) in lengths.iter().zip(expected) {
            assert!((value - expected).abs() < 1e-5, "{lengths:?}");
        }
        assert!(relative_lengths(&[]).is_empty());
        assert_eq!(relative_lengths(&["", ""]), vec![1.0, 1.0]);
    }

    fn select(sentences: &[&str], length: SummaryLength) -> Vec<usize> {
        let matrix = SimilarityMatrix::lexical(sentences);
        let words: Vec<usize> = sentences
            .iter()
            .map(|s| s.unicode_words().count())
            .collect();
        select_sentences(
            &matrix,
            sentences,
            &words,
            length,
            ExtractiveWeights::for_ranking(Ranking::Lexical),
        )
        .into_iter()
        .map(|ranked| ranked.index)
        .collect()
    }

    #[test]
    fn lexical_similarity_prefers_shared_words() {
        let matrix = SimilarityMatrix::lexical(&[
            "The council approved the harbour budget.",
            "The harbour budget was approved by the council on Monday.",
            "Rain is expected across the north.",
        ]);
        assert!(matrix.get(0, 1) > matrix.get(0, 2));
        assert!(matrix.get(0, 2) < 0.2);
    }

    #[test]
    fn selection_skips_near_duplicates_and_keeps_article_order() {
        let indices = select(
            &[
                "The council approved the harbour budget of 40 million euros.",
                "The harbour budget of 40 million euros was approved by the council.",
                "Fishermen said the new quays would end years of delays.",
                "The works start in March and last two years.",
            ],
            SummaryLength::Sentences(2),
        );
        assert_eq!(indices.len(), 2);
        assert!(indices.contains(&0), "the lead is kept: {indices:?}");
        assert!(
            !indices.contains(&1),
            "the paraphrase of the lead is redundant: {indices:?}"
        );
        assert!(indices.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn headlines_and_captions_are_not_summary_sentences() {
        let indices = select(
            &[
                "Harbour Plan Approved",
                "FILE - The north quay of the harbour in March",
                "The council approved the harbour plan on Monday.",
                "Work on the quay starts in September.",
            ],
            SummaryLength::Sentences(2),
        );
        assert_eq!(indices, vec![2, 3]);
        let indices = select(
            &[
                "A photo shows the north quay of the harbour in March.",
                "A photo shows the north quay of the harbour in March.",
                "The council approved the harbour plan on Monday.",
                "Work on the quay starts in September.",
            ],
            SummaryLength::Sentences(2),
        );
        assert_eq!(
            indices,
            vec![2, 3],
            "a caption printed twice is page furniture"
        );
        assert!(is_summary_candidate("He said: “It works.”", 4));
        assert!(!is_summary_candidate("Breaking News", 2));
    }

    #[test]
    fn word_budget_limits_length_but_keeps_one_sentence() {
        let sentences = ["One two three four five.", "Six seven eight nine."];
        assert_eq!(select(&sentences, SummaryLength::Words(2)).len(), 1);
        assert_eq!(select(&sentences, SummaryLength::Ratio(1.0)).len(), 2);
    }

    #[test]
    fn empty_input_gives_empty_selection() {
        assert!(select(&[], SummaryLength::default()).is_empty());
    }

    #[test]
    fn lexical_centrality_is_the_mean_of_the_pairwise_lexical_cosines() {
        let sentences = [
            "The harbour reopened on Monday after the storm.",
            "Ferries left the harbour again on Monday morning.",
            "The storm closed the harbour for three days.",
            "A bakery in the old town won a prize for its bread.",
        ];
        let matrix = SimilarityMatrix::lexical(&sentences);
        let centrality = lexical_centrality(&sentences);
        for (i, value) in centrality.iter().enumerate() {
            let mean: f32 = (0..sentences.len()).map(|j| matrix.get(i, j)).sum::<f32>()
                / sentences.len() as f32;
            assert!((value - mean).abs() < 1e-5, "{i}: {value} vs {mean}");
        }
        assert!(
            centrality[3] < centrality[0],
            "the off-topic sentence is least central"
        );
    }

    #[test]
    fn a_long_article_is_shortlisted_to_its_lead_and_its_most_central_sentences() {
        let mut sentences: Vec<String> = (0..10)
            .map(|i| format!("Lead sentence number {i} about the harbour storm."))
            .collect();
        for i in 0..20 {
            sentences.push(if i % 5 == 0 {
                format!("The harbour storm closed the harbour, report {i} says.")
            } else {
                // Shares no term with anything else.
                format!("Q{i}aa Q{i}bb Q{i}cc.")
            });
        }
        let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
        assert_eq!(shortlist(&texts, 30), None, "short enough to rank whole");
        let chosen = shortlist(&texts, 14).unwrap();
        assert_eq!(chosen.len(), 14);
        assert!(
            chosen.windows(2).all(|w| w[0] < w[1]),
            "article order: {chosen:?}"
        );
        assert_eq!(&chosen[..7], &[0, 1, 2, 3, 4, 5, 6], "the lead half");
        for storm in [10, 15, 20, 25] {
            assert!(
                chosen.contains(&storm),
                "central sentence {storm}: {chosen:?}"
            );
        }
    }
}
