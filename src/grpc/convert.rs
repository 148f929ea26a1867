//! proto ↔ domain. No logic beyond mapping lives here.
use precis_text::language::Detection;
use precis_text::quotes::{Quote, SpeakerKind};
use precis_text::ByteSpan;

use crate::error::PrecisError;
use crate::pipeline::{Digest, KeyQuote, Summary, SummaryMethod, Translation};
use crate::proto;
use crate::summarize::extractive::{Ranking, SummaryLength};

pub fn span(span: ByteSpan) -> proto::Span {
    proto::Span {
        start: span.start as u32,
        end: span.end as u32,
    }
}

pub fn detection(detection: &Detection) -> proto::LanguageDetection {
    proto::LanguageDetection {
        language: detection.iso639_1.clone(),
        iso639_3: detection.iso639_3.clone(),
        script: detection.script.clone(),
        confidence: detection.confidence,
        alternatives: detection
            .alternatives
            .iter()
            .map(|alternative| proto::LanguageAlternative {
                language: alternative.iso639_1.clone(),
                confidence: alternative.confidence,
            })
            .collect(),
    }
}

pub fn summary(summary: &Summary) -> proto::Summary {
    proto::Summary {
        text: summary.text.clone(),
        sentences: summary
            .sentences
            .iter()
            .map(|sentence| proto::SummarySentence {
                text: sentence.text.clone(),
                span: Some(span(sentence.span)),
                score: sentence.score,
            })
            .collect(),
        method: match summary.method {
            SummaryMethod::Extractive => proto::SummaryMethod::Extractive,
            SummaryMethod::Abstractive => proto::SummaryMethod::Abstractive,
        } as i32,
        ranking: match summary.ranking {
            Ranking::Embeddings => proto::Ranking::Embeddings,
            Ranking::Lexical => proto::Ranking::Lexical,
        } as i32,
        engine: summary.engine.clone(),
    }
}

pub fn translation(translation: &Translation) -> proto::Translation {
    proto::Translation {
        text: translation.text.clone(),
        source_language: translation.source_language.clone(),
        target_language: translation.target_language.clone(),
        engines: translation.engines.clone(),
        engine_kind: match translation.engine_kind {
            None => proto::EngineKind::Unspecified,
            Some(precis_translate::EngineKind::Neural) => proto::EngineKind::Neural,
            Some(precis_translate::EngineKind::RuleBased) => proto::EngineKind::RuleBased,
        } as i32,
        unpreserved_terms: translation.unpreserved_terms.clone(),
    }
}

pub fn key_quote(key_quote: &KeyQuote) -> proto::Quote {
    proto::Quote {
        translation: key_quote.translation.as_ref().map(translation),
        ..quote(&key_quote.quote)
    }
}

pub fn quote(quote: &Quote) -> proto::Quote {
    proto::Quote {
        text: quote.text.clone(),
        span: Some(span(quote.span)),
        outer_span: Some(span(quote.outer_span)),
        speaker: quote.speaker.as_ref().map(|speaker| proto::Speaker {
            name: speaker.name.clone(),
            span: Some(span(speaker.span)),
            kind: match speaker.kind {
                SpeakerKind::Named => proto::SpeakerKind::Named,
                SpeakerKind::Resolved => proto::SpeakerKind::Resolved,
                SpeakerKind::TitleOnly => proto::SpeakerKind::TitleOnly,
            } as i32,
        }),
        cue: quote.cue_verb.clone().unwrap_or_default(),
        language: Some(detection(&quote.language)),
        confidence: quote.confidence,
        salience: quote.salience,
        translation: None,
    }
}

pub fn digest(client_id: String, digest: &Digest) -> proto::DigestResponse {
    proto::DigestResponse {
        client_id,
        language: Some(detection(&digest.language)),
        summary: digest.summary.as_ref().map(summary),
        translated_summary: digest.translated_summary.as_ref().map(translation),
        quotes: digest.quotes.iter().map(key_quote).collect(),
        warnings: digest.warnings.clone(),
        timings: digest
            .timings
            .iter()
            .map(|timing| proto::StageTiming {
                stage: timing.stage.to_string(),
                micros: timing.micros,
            })
            .collect(),
    }
}

pub fn summary_length(length: Option<&proto::SummaryLength>) -> Result<SummaryLength, PrecisError> {
    use proto::summary_length::Length;
    match length.and_then(|l| l.length) {
        None => Ok(SummaryLength::default()),
        Some(Length::Sentences(0)) | Some(Length::Words(0)) => Err(PrecisError::invalid(
            "summary_length",
            "sentences and words must be at least 1",
        )),
        Some(Length::Sentences(count)) => Ok(SummaryLength::Sentences(count as usize)),
        Some(Length::Words(words)) => Ok(SummaryLength::Words(words as usize)),
        Some(Length::Ratio(ratio)) if ratio > 0.0 && ratio <= 1.0 => {
            Ok(SummaryLength::Ratio(ratio))
        }
        Some(Length::Ratio(ratio)) => Err(PrecisError::invalid(
            "summary_length.ratio",
            format!("{ratio} is outside (0, 1]"),
        )),
    }
}
