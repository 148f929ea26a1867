//! proto ↔ domain. No logic beyond mapping lives here: requests become the `validate`
//! module's inputs, unchecked; validation happens there, once.
use precis_text::language::Detection;
use precis_text::quotes::{Quote, SpeakerKind};
use precis_text::ByteSpan;
use precis_translate::{RouteKind, TranslationQuality};

use crate::engines::Capabilities;
use crate::pipeline::{Digest, KeyQuote};
use crate::proto;
use crate::summarize::guard::{CheckedSentence, Evidence, GuardIssue, GuardOutcome, GuardReport};
use crate::summarize::{Ranking, SentenceOrigin, Summary, SummaryLength, SummaryMethod};
use crate::translate::{TranslatedText, TranslatedTexts, Translation};
use crate::validate::{DigestInput, TranslateInput};

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
                origin: match sentence.origin {
                    SentenceOrigin::Article => proto::SentenceOrigin::Article,
                    SentenceOrigin::Generated => proto::SentenceOrigin::Generated,
                } as i32,
                evidence: sentence.evidence.iter().map(evidence).collect(),
            })
            .collect(),
        method: summary_method(summary.method) as i32,
        ranking: ranking(summary.ranking) as i32,
        engine: summary.engine.clone(),
        guard: summary.guard.as_ref().map(guard_report),
        chunks: summary.chunks as u32,
    }
}

fn evidence(evidence: &Evidence) -> proto::Evidence {
    proto::Evidence {
        sentence_index: evidence.sentence_index as u32,
        similarity: evidence.similarity,
    }
}

fn guard_report(report: &GuardReport) -> proto::GuardReport {
    proto::GuardReport {
        outcome: match report.outcome {
            GuardOutcome::Passed => proto::GuardOutcome::Passed,
            GuardOutcome::SentencesDropped => proto::GuardOutcome::SentencesDropped,
            GuardOutcome::FellBackToExtractive => proto::GuardOutcome::FellBackToExtractive,
        } as i32,
        model: report.model.clone(),
        sentences: report
            .sentences
            .iter()
            .map(|sentence| proto::CheckedSentence {
                text: sentence.text.clone(),
                evidence: sentence.evidence.iter().map(evidence).collect(),
                issues: sentence
                    .issues
                    .iter()
                    .map(|issue| {
                        let (kind, value, best_similarity) = match issue {
                            GuardIssue::UnsupportedNumber { value } => {
                                (proto::GuardIssueKind::UnsupportedNumber, value.clone(), 0.0)
                            }
                            GuardIssue::UnsupportedName { value } => {
                                (proto::GuardIssueKind::UnsupportedName, value.clone(), 0.0)
                            }
                            GuardIssue::UnsupportedQuote { value } => {
                                (proto::GuardIssueKind::UnsupportedQuote, value.clone(), 0.0)
                            }
                            GuardIssue::NoEvidence { best_similarity } => (
                                proto::GuardIssueKind::NoEvidence,
                                String::new(),
                                *best_similarity,
                            ),
                        };
                        proto::GuardIssue {
                            kind: kind as i32,
                            value,
                            best_similarity,
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn summary_method(method: SummaryMethod) -> proto::SummaryMethod {
    match method {
        SummaryMethod::Extractive => proto::SummaryMethod::Extractive,
        SummaryMethod::Abstractive => proto::SummaryMethod::Abstractive,
    }
}

fn ranking(ranking: Ranking) -> proto::Ranking {
    match ranking {
        Ranking::Embeddings => proto::Ranking::Embeddings,
        Ranking::Lexical => proto::Ranking::Lexical,
    }
}

fn engine_kind(kind: Option<precis_translate::EngineKind>) -> proto::EngineKind {
    match kind {
        None => proto::EngineKind::Unspecified,
        Some(precis_translate::EngineKind::Neural) => proto::EngineKind::Neural,
        Some(precis_translate::EngineKind::RuleBased) => proto::EngineKind::RuleBased,
    }
}

pub fn translation(translation: &Translation) -> proto::Translation {
    proto::Translation {
        text: translation.text.clone(),
        source_language: translation.source_language.clone(),
        target_language: translation.target_language.clone(),
        engines: translation.engines.clone(),
        engine_kind: engine_kind(translation.engine_kind) as i32,
        unpreserved_terms: translation.unpreserved_terms.clone(),
        quality: translation.quality.as_ref().map(translation_quality),
        adequacy: translation
            .adequacy
            .as_ref()
            .map(|adequacy| proto::TranslationAdequacy {
                cosine: adequacy.cosine,
                model: adequacy.model.clone(),
            }),
    }
}

fn translation_quality(quality: &TranslationQuality) -> proto::TranslationQuality {
    proto::TranslationQuality {
        score: quality.score,
        unknown_word_share: quality.unknown_word_share,
        source_word_share: quality.source_word_share,
        source_words_left: quality.source_words_left.clone(),
        detected_language: quality.detected_language.clone().unwrap_or_default(),
        detection_confidence: quality.detection_confidence,
        detected_as_target: match quality.detected_as_target {
            None => proto::TargetDetection::Unknown,
            Some(true) => proto::TargetDetection::Yes,
            Some(false) => proto::TargetDetection::No,
        } as i32,
        route_hops: quality.route_hops,
        unknown_words: quality.unknown_words.clone(),
    }
}

fn route_kind(kind: RouteKind) -> proto::RouteKind {
    match kind {
        RouteKind::Identity => proto::RouteKind::Unspecified,
        RouteKind::Direct => proto::RouteKind::Direct,
        RouteKind::OnePivot => proto::RouteKind::OnePivot,
        RouteKind::TwoPivots => proto::RouteKind::TwoPivots,
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
            title: speaker.title.clone().unwrap_or_default(),
        }),
        cue: quote.cue_verb.clone().unwrap_or_default(),
        language: Some(detection(&quote.language)),
        confidence: quote.confidence,
        salience: quote.salience,
        translation: None,
        sentence_index: quote.sentence_index as u32,
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

/// The requested length as sent (zero and out-of-range values are refused by `validate`).
pub fn summary_length(length: Option<&proto::SummaryLength>) -> Option<SummaryLength> {
    use proto::summary_length::Length;
    Some(match length?.length? {
        Length::Sentences(count) => SummaryLength::Sentences(count as usize),
        Length::Words(words) => SummaryLength::Words(words as usize),
        Length::Ratio(ratio) => SummaryLength::Ratio(ratio),
    })
}

pub fn digest_input(request: proto::DigestRequest) -> DigestInput {
    DigestInput {
        summary_length: summary_length(request.summary_length.as_ref()),
        text: request.text,
        language_hint: request.language_hint,
        target_language: request.target_language,
        max_quotes: request.max_quotes,
        skip_summary: request.skip_summary,
        skip_quotes: request.skip_quotes,
        skip_translation: request.skip_translation,
        min_translation_quality: request.min_translation_quality,
    }
}

pub fn translate_input(request: proto::TranslateRequest) -> TranslateInput {
    TranslateInput {
        texts: request.texts,
        source_language: request.source_language,
        target_language: request.target_language,
    }
}

pub fn capabilities(capabilities: &Capabilities, limits: proto::Limits) -> proto::Capabilities {
    proto::Capabilities {
        detectable_languages: capabilities.detectable_languages.clone(),
        summarizers: capabilities
            .summarizers
            .iter()
            .map(|summarizer| proto::SummarizerInfo {
                language: summarizer.language.clone(),
                method: summary_method(summarizer.method) as i32,
                ranking: ranking(summarizer.ranking) as i32,
                engine: summarizer.engine.clone(),
            })
            .collect(),
        translation_pairs: capabilities
            .translation_pairs
            .iter()
            .flat_map(|pair| {
                pair.engines
                    .iter()
                    .enumerate()
                    .map(|(rank, engine)| proto::TranslationPair {
                        source_language: pair.pair.source.clone(),
                        target_language: pair.pair.target.clone(),
                        engine: engine.id.clone(),
                        engine_kind: engine_kind(Some(engine.kind)) as i32,
                        // The router lists a pair's engines preferred first.
                        preferred: rank == 0,
                    })
            })
            .collect(),
        limits: Some(limits),
        translation_routes: capabilities
            .translation_routes
            .iter()
            .map(|reachable| proto::TranslationRoute {
                source_language: reachable.route.source.clone(),
                target_language: reachable.route.target.clone(),
                kind: route_kind(reachable.kind) as i32,
                engines: reachable
                    .route
                    .hops
                    .iter()
                    .map(|hop| hop.engine_id.clone())
                    .collect(),
                pivots: reachable.route.pivots(),
                engine_kind: engine_kind(reachable.route.weakest_kind()) as i32,
                cost: reachable.cost,
            })
            .collect(),
    }
}

pub fn translated_texts(translated: &TranslatedTexts) -> proto::TranslateResponse {
    proto::TranslateResponse {
        translations: translated
            .texts
            .iter()
            .map(|text| proto::TranslatedText {
                original: text.original.clone(),
                translation: text.translation.as_ref().map(translation),
                error: text.error.clone().unwrap_or_default(),
            })
            .collect(),
        source_language: translated.source_language.clone(),
    }
}

/// proto → domain, for clients (the CLI prints a server's answer exactly as its own).
pub mod from_proto {
    use super::*;
    use crate::pipeline::StageTiming;
    use crate::summarize::SummarySentence;
    use precis_text::language::Alternative;
    use precis_text::quotes::Speaker;

    fn span(span: Option<proto::Span>) -> ByteSpan {
        let span = span.unwrap_or_default();
        ByteSpan::new(span.start as usize, span.end as usize)
    }

    pub fn detection(detection: Option<proto::LanguageDetection>) -> Detection {
        let Some(detection) = detection else {
            return Detection::undetermined("");
        };
        Detection {
            iso639_1: detection.language,
            iso639_3: detection.iso639_3,
            script: detection.script,
            confidence: detection.confidence,
            alternatives: detection
                .alternatives
                .into_iter()
                .map(|alternative| Alternative {
                    iso639_1: alternative.language,
                    confidence: alternative.confidence,
                })
                .collect(),
        }
    }

    pub fn summary(summary: proto::Summary) -> Summary {
        Summary {
            method: match summary.method() {
                proto::SummaryMethod::Abstractive => SummaryMethod::Abstractive,
                _ => SummaryMethod::Extractive,
            },
            ranking: match summary.ranking() {
                proto::Ranking::Embeddings => Ranking::Embeddings,
                _ => Ranking::Lexical,
            },
            text: summary.text,
            sentences: summary
                .sentences
                .into_iter()
                .map(|sentence| SummarySentence {
                    origin: match sentence.origin() {
                        proto::SentenceOrigin::Generated => SentenceOrigin::Generated,
                        _ => SentenceOrigin::Article,
                    },
                    text: sentence.text,
                    span: span(sentence.span),
                    score: sentence.score,
                    evidence: sentence.evidence.into_iter().map(evidence).collect(),
                })
                .collect(),
            engine: summary.engine,
            guard: summary.guard.map(guard_report),
            chunks: summary.chunks as usize,
        }
    }

    fn evidence(evidence: proto::Evidence) -> Evidence {
        Evidence {
            sentence_index: evidence.sentence_index as usize,
            similarity: evidence.similarity,
        }
    }

    fn guard_report(report: proto::GuardReport) -> GuardReport {
        GuardReport {
            outcome: match report.outcome() {
                proto::GuardOutcome::SentencesDropped => GuardOutcome::SentencesDropped,
                proto::GuardOutcome::FellBackToExtractive => GuardOutcome::FellBackToExtractive,
                _ => GuardOutcome::Passed,
            },
            model: report.model,
            sentences: report
                .sentences
                .into_iter()
                .map(|sentence| CheckedSentence {
                    text: sentence.text,
                    evidence: sentence.evidence.into_iter().map(evidence).collect(),
                    issues: sentence
                        .issues
                        .into_iter()
                        .map(|issue| match issue.kind() {
                            proto::GuardIssueKind::UnsupportedNumber => {
                                GuardIssue::UnsupportedNumber { value: issue.value }
                            }
                            proto::GuardIssueKind::UnsupportedName => {
                                GuardIssue::UnsupportedName { value: issue.value }
                            }
                            proto::GuardIssueKind::UnsupportedQuote => {
                                GuardIssue::UnsupportedQuote { value: issue.value }
                            }
                            _ => GuardIssue::NoEvidence {
                                best_similarity: issue.best_similarity,
                            },
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn translation(translation: proto::Translation) -> Translation {
        Translation {
            engine_kind: match translation.engine_kind() {
                proto::EngineKind::Neural => Some(precis_translate::EngineKind::Neural),
                proto::EngineKind::RuleBased => Some(precis_translate::EngineKind::RuleBased),
                proto::EngineKind::Unspecified => None,
            },
            text: translation.text,
            source_language: translation.source_language,
            target_language: translation.target_language,
            engines: translation.engines,
            unpreserved_terms: translation.unpreserved_terms,
            adequacy: translation
                .adequacy
                .map(|adequacy| crate::translate::Adequacy {
                    cosine: adequacy.cosine,
                    model: adequacy.model,
                }),
            quality: translation.quality.map(|quality| TranslationQuality {
                detected_as_target: match quality.detected_as_target() {
                    proto::TargetDetection::Unknown => None,
                    proto::TargetDetection::Yes => Some(true),
                    proto::TargetDetection::No => Some(false),
                },
                score: quality.score,
                unknown_word_share: quality.unknown_word_share,
                source_word_share: quality.source_word_share,
                source_words_left: quality.source_words_left,
                unknown_words: quality.unknown_words,
                detected_language: Some(quality.detected_language)
                    .filter(|language| !language.is_empty()),
                detection_confidence: quality.detection_confidence,
                route_hops: quality.route_hops,
            }),
        }
    }

    pub fn quote(quote: proto::Quote) -> KeyQuote {
        let speaker = quote.speaker.map(|speaker| Speaker {
            kind: match speaker.kind() {
                proto::SpeakerKind::Resolved => SpeakerKind::Resolved,
                proto::SpeakerKind::TitleOnly => SpeakerKind::TitleOnly,
                _ => SpeakerKind::Named,
            },
            name: speaker.name,
            span: span(speaker.span),
            title: (!speaker.title.is_empty()).then_some(speaker.title),
        });
        KeyQuote {
            quote: Quote {
                text: quote.text,
                span: span(quote.span),
                outer_span: span(quote.outer_span),
                speaker,
                cue_verb: (!quote.cue.is_empty()).then_some(quote.cue),
                language: detection(quote.language),
                confidence: quote.confidence,
                salience: quote.salience,
                sentence_index: quote.sentence_index as usize,
            },
            translation: quote.translation.map(translation),
        }
    }

    pub fn translated_texts(response: proto::TranslateResponse) -> TranslatedTexts {
        TranslatedTexts {
            source_language: response.source_language,
            texts: response
                .translations
                .into_iter()
                .map(|text| TranslatedText {
                    translation: text.translation.map(translation),
                    original: text.original,
                    error: Some(text.error).filter(|error| !error.is_empty()),
                })
                .collect(),
        }
    }

    /// The stage names the pipeline uses, as the static strings its timings carry.
    fn stage(name: &str) -> &'static str {
        crate::pipeline::stage::ALL
            .into_iter()
            .find(|stage| *stage == name)
            .unwrap_or("other")
    }

    pub fn digest(response: proto::DigestResponse) -> Digest {
        Digest {
            language: detection(response.language),
            summary: response.summary.map(summary),
            translated_summary: response.translated_summary.map(translation),
            quotes: response.quotes.into_iter().map(quote).collect(),
            warnings: response.warnings,
            timings: response
                .timings
                .into_iter()
                .map(|timing| StageTiming {
                    stage: stage(&timing.stage),
                    micros: timing.micros,
                })
                .collect(),
        }
    }
}
