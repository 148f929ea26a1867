//! Abstractive summaries of articles longer than a model's input: split on sentence
//! boundaries into chunks that fit, summarize the chunks (map), then summarize their summaries
//! until one text remains (reduce).
//!
//! This module only plans and orders the work; the caller supplies the token counter (the
//! model's own tokenizer) and the function that runs a round of chunks on the model workers.
use std::future::Future;
use std::ops::Range;

use serde::Serialize;

use crate::error::PrecisError;

/// Consecutive sentences that go into one model input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The sentences it holds (indices into the sentences given to [`plan_chunks`]).
    pub sentences: Range<usize>,
    pub text: String,
    /// Model tokens of `text`, as counted before generation.
    pub tokens: usize,
}

/// Packs consecutive sentences into chunks of at most `budget` tokens, never splitting a
/// sentence unless it alone is over the budget (a list or table without punctuation); such a
/// sentence is cut between words into pieces that fit.
pub fn plan_chunks(
    sentences: &[&str],
    count_tokens: &(dyn Fn(&str) -> usize + Sync),
    budget: usize,
) -> Vec<Chunk> {
    let budget = budget.max(1);
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut parts: Vec<&str> = Vec::new();
    let mut tokens = 0;
    let flush = |chunks: &mut Vec<Chunk>, parts: &mut Vec<&str>, range: Range<usize>, tokens| {
        if !parts.is_empty() {
            chunks.push(Chunk {
                sentences: range,
                text: parts.join(" "),
                tokens,
            });
            parts.clear();
        }
    };
    for (index, sentence) in sentences.iter().enumerate() {
        let sentence = sentence.trim();
        if sentence.is_empty() {
            continue;
        }
        // A space joins sentences: counting each alone can miss a token at the seam, so one
        // token per sentence is kept in reserve.
        let count = count_tokens(sentence) + 1;
        if count > budget {
            flush(&mut chunks, &mut parts, start..index, tokens);
            for piece in split_long_sentence(sentence, count, budget) {
                let tokens = count_tokens(&piece);
                chunks.push(Chunk {
                    sentences: index..index + 1,
                    text: piece,
                    tokens,
                });
            }
            start = index + 1;
            tokens = 0;
            continue;
        }
        if tokens + count > budget {
            flush(&mut chunks, &mut parts, start..index, tokens);
            start = index;
            tokens = 0;
        }
        parts.push(sentence);
        tokens += count;
    }
    flush(&mut chunks, &mut parts, start..sentences.len(), tokens);
    chunks
}

/// Cuts an over-long sentence between words, estimating tokens per word from its total; a
/// margin keeps pieces under the budget when words differ in length.
fn split_long_sentence(sentence: &str, tokens: usize, budget: usize) -> Vec<String> {
    let words: Vec<&str> = sentence.split_whitespace().collect();
    let tokens_per_word = tokens as f32 / words.len().max(1) as f32;
    let words_per_piece = ((budget as f32 * 0.8 / tokens_per_word).floor() as usize).max(1);
    words
        .chunks(words_per_piece)
        .map(|piece| piece.join(" "))
        .collect()
}

/// How a summary was produced from its chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbstractiveDraft {
    /// The final summary, before the faithfulness guard.
    pub text: String,
    /// Model inputs the article was split into.
    pub chunks: usize,
    /// Rounds of summarizing summaries after the first (0 when the article fit one input).
    pub reduce_rounds: usize,
}

/// After this many reduce rounds the remaining summaries are joined as they are: each round
/// shrinks the text several-fold, so only a pathological model (one that does not shorten)
/// gets here.
const MAX_REDUCE_ROUNDS: usize = 3;

/// Map-reduce over `sentences`. `summarize_round` receives every chunk of one round at once, so
/// their generations can share batches on the workers, and answers one summary per chunk in
/// order. `split_sentences` splits a generated summary into sentences for the next round.
pub async fn map_reduce<R, Fut>(
    sentences: &[&str],
    count_tokens: &(dyn Fn(&str) -> usize + Sync),
    split_sentences: &(dyn Fn(&str) -> Vec<String> + Sync),
    budget: usize,
    summarize_round: R,
) -> Result<AbstractiveDraft, PrecisError>
where
    R: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<String>, PrecisError>>,
{
    let chunks = plan_chunks(sentences, count_tokens, budget);
    if chunks.is_empty() {
        return Err(PrecisError::invalid(
            "text",
            "the article has no sentences to summarize",
        ));
    }
    let chunk_count = chunks.len();
    let mut summaries = run_round(&summarize_round, chunks).await?;
    let mut reduce_rounds = 0;
    while summaries.len() > 1 && reduce_rounds < MAX_REDUCE_ROUNDS {
        let summary_sentences: Vec<String> = summaries
            .iter()
            .flat_map(|summary| split_sentences(summary))
            .collect();
        let borrowed: Vec<&str> = summary_sentences.iter().map(String::as_str).collect();
        let chunks = plan_chunks(&borrowed, count_tokens, budget);
        reduce_rounds += 1;
        summaries = run_round(&summarize_round, chunks).await?;
    }
    Ok(AbstractiveDraft {
        text: summaries.join(" "),
        chunks: chunk_count,
        reduce_rounds,
    })
}

async fn run_round<R, Fut>(
    summarize_round: &R,
    chunks: Vec<Chunk>,
) -> Result<Vec<String>, PrecisError>
where
    R: Fn(Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<String>, PrecisError>>,
{
    let count = chunks.len();
    let summaries = summarize_round(chunks.into_iter().map(|chunk| chunk.text).collect()).await?;
    if summaries.len() != count {
        return Err(PrecisError::EngineFailure(format!(
            "the summarizer answered {} summaries for {count} chunks",
            summaries.len()
        )));
    }
    // An empty chunk summary carries nothing into the next round.
    let summaries: Vec<String> = summaries
        .into_iter()
        .map(|summary| summary.trim().to_string())
        .filter(|summary| !summary.is_empty())
        .collect();
    if summaries.is_empty() {
        return Err(PrecisError::EngineFailure(
            "the summarizer produced only empty summaries".into(),
        ));
    }
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn words(text: &str) -> usize {
        text.split_whitespace().count()
    }

    fn split(text: &str) -> Vec<String> {
        text.split_inclusive('.')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    #[test]
    fn chunks_hold_whole_sentences_within_the_budget() {
        let sentences = [
            "One two three.",
            "Four five six seven.",
            "Eight nine.",
            "Ten eleven twelve thirteen fourteen.",
        ];
        let chunks = plan_chunks(&sentences, &words, 8);
        let ranges: Vec<Range<usize>> = chunks.iter().map(|c| c.sentences.clone()).collect();
        // 3+1, 4+1, 2+1 and 5+1 tokens (words and a seam) in chunks of 8.
        assert_eq!(ranges, vec![0..1, 1..3, 3..4]);
        assert_eq!(chunks[1].text, "Four five six seven. Eight nine.");
        assert!(chunks.iter().all(|c| c.tokens <= 8), "{chunks:?}");
        let rejoined: Vec<String> = chunks.iter().map(|c| c.text.clone()).collect();
        assert_eq!(rejoined.join(" "), sentences.join(" "));
    }

    #[test]
    fn a_sentence_over_the_budget_is_cut_between_words() {
        let long = (0..40)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let sentences = ["Short one.", long.as_str(), "After."];
        let chunks = plan_chunks(&sentences, &words, 10);
        assert_eq!(chunks[0].text, "Short one.");
        let pieces: Vec<&Chunk> = chunks.iter().filter(|c| c.sentences == (1..2)).collect();
        assert!(pieces.len() >= 4, "{chunks:?}");
        assert!(pieces.iter().all(|c| c.tokens <= 10), "{chunks:?}");
        assert_eq!(chunks.last().unwrap().text, "After.");
    }

    /// A stand-in model: keeps the first sentence of its input and records round sizes.
    #[tokio::test]
    async fn long_articles_are_mapped_then_reduced_to_one_summary() {
        let sentences: Vec<String> = (0..12)
            .map(|i| format!("Fact {i} is stated in five words."))
            .collect();
        let borrowed: Vec<&str> = sentences.iter().map(String::as_str).collect();
        let rounds = Mutex::new(Vec::new());
        let draft = map_reduce(&borrowed, &words, &split, 20, |chunks: Vec<String>| {
            rounds.lock().unwrap().push(chunks.len());
            let summaries = chunks.iter().map(|chunk| split(chunk)[0].clone()).collect();
            async move { Ok(summaries) }
        })
        .await
        .unwrap();
        // 12 sentences of 8 tokens (7 words + seam) in chunks of 20: 2 per chunk, 6 chunks;
        // their 6 one-sentence summaries fit 2 per chunk again: 3, then 2, then 1.
        assert_eq!(draft.chunks, 6);
        assert_eq!(*rounds.lock().unwrap(), vec![6, 3, 2, 1]);
        assert_eq!(draft.reduce_rounds, 3);
        assert_eq!(draft.text, "Fact 0 is stated in five words.");
    }

    #[tokio::test]
    async fn an_article_that_fits_is_summarized_in_one_call() {
        let sentences = ["A short article.", "With two sentences."];
        let draft = map_reduce(&sentences, &words, &split, 100, |chunks: Vec<String>| {
            let count = chunks.len();
            async move { Ok(vec![format!("{count} chunk")]) }
        })
        .await
        .unwrap();
        assert_eq!((draft.chunks, draft.reduce_rounds), (1, 0));
        assert_eq!(draft.text, "1 chunk");
    }

    #[tokio::test]
    async fn a_wrong_number_of_answers_is_an_engine_error() {
        let sentences = ["A short article."];
        let error = map_reduce(
            &sentences,
            &words,
            &split,
            100,
            |_chunks: Vec<String>| async { Ok(Vec::new()) },
        )
        .await
        .unwrap_err();
        assert!(matches!(error, PrecisError::EngineFailure(_)), "{error:?}");
    }
}
