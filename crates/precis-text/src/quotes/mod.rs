//! Direct quotes, their speakers and cue verbs.
//!
//! Spans: [`Quote::span`] is the quoted content WITHOUT the marks (trimmed of inner spaces, as in
//! French `« texte »`), and `&text[quote.span] == quote.text`. [`Quote::outer_span`] adds the
//! marks (for dash dialogue: from the dash). A quote running over several paragraphs (its
//! opening mark repeated at each new paragraph, no closing mark at the paragraph end) is one
//! quote whose span includes the paragraph breaks and the repeated marks. Quotes nested inside
//! a quote are part of the outer quote's text; only top-level quotes are returned.
//!
//! Marks: “” "" „“ „” ‚‘ ‘’ «» »« ‹› 「」 『』 ”” and dialogue introduced by a dash (— – ―) at
//! the start of a paragraph, as in the Spanish and French press, where the narrator's words
//! (`—afirmó el ministro—`, `, dit-il`) are cut out of the quote.
//!
//! Speakers: cue words of a multilingual lexicon ([`CUE_VERBS`], [`CUE_PREPOSITIONS`]) are found
//! in the text outside quotes; each takes its subject from the words next to it: a name
//! (capitalised words, a title before it split off), a pronoun or no subject (resolved to the
//! nearest named speaker before it), or a role noun phrase (resolved to the nearest named
//! speaker with that title, else returned as the title alone). A quote takes the cue right
//! after it, else the nearest one before it in its sentence, else the last of the previous
//! sentence. Everything is linear in the text: one pass for marks, one for cues, and each quote
//! looks up its cues by binary search; backward searches are bounded.
//!
//! The modules, each using only those listed before it (no two import each other):
//! - `word_lists`: the multilingual word lists (add a language's cue words there);
//! - `lexicon`: words of a text and the word classes built on those lists;
//! - `marks`: finding quote spans by their marks and dialogue dashes;
//! - `subjects`: the subject written next to a cue word (name, role, pronoun);
//! - `cues`: cue words outside quotes with their subjects, and the people the text names;
//! - `attribution`: which cue belongs to a quote and whom its subject refers to;
//! - this module: the public types and the scores.

mod attribution;
mod cues;
mod lexicon;
mod marks;
mod subjects;
mod word_lists;

use serde::Serialize;

use crate::language::{Detection, LanguageDetector};
use crate::segment::Segmentation;
use crate::ByteSpan;
use attribution::attribute;
use cues::find_cues;
use lexicon::{is_scare_marker, is_title_noun, words};
use marks::{find_quotes, MarkStyle};
pub use word_lists::{CUE_PREPOSITIONS, CUE_VERBS};

/// How a speaker was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SpeakerKind {
    /// Named next to the cue verb.
    Named,
    /// A pronoun, a role noun or no subject at all, resolved to a person named earlier.
    Resolved,
    /// A role with no name to resolve it to ("the Transport minister").
    TitleOnly,
}

/// Who said a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Speaker {
    /// The name (or, for [`SpeakerKind::TitleOnly`], the title) as written.
    pub name: String,
    /// Where that name is written.
    pub span: ByteSpan,
    pub kind: SpeakerKind,
    /// Title or role written next to the name, lower case, if any ("deputy foreign minister").
    pub title: Option<String>,
}

/// A direct quote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    /// The quoted words: `&article[span]`.
    pub text: String,
    /// The quoted words without the marks.
    pub span: ByteSpan,
    /// The quote with its marks (or its dialogue dash).
    pub outer_span: ByteSpan,
    pub speaker: Option<Speaker>,
    /// The cue word(s) as written ("said", "a déclaré", "según").
    pub cue_verb: Option<String>,
    /// Language of the quote on its own; `und` when it is too short to tell.
    pub language: Detection,
    /// Confidence in [0, 1] that this is a direct quote with the right speaker.
    pub confidence: f64,
    /// Score in [0, 1] to rank key quotes: length, attribution, position, confidence.
    pub salience: f64,
    /// Index of the sentence where the quote starts.
    pub sentence_index: usize,
}

/// Quotes of at most this many words with no cue word are taken for scare quotes or titles.
const MIN_WORDS_WITHOUT_CUE: usize = 3;

/// Quotes past this many in one text get `und` as language: detection is the costly step, and
/// no article has that many quotes, so adversarial input stays fast.
const MAX_QUOTES_WITH_LANGUAGE: usize = 1000;

/// Finds every direct quote in `text` with its speaker, cue verb, language and scores.
pub fn extract_quotes(text: &str, seg: &Segmentation, detector: &LanguageDetector) -> Vec<Quote> {
    let mut quotes = extract_quotes_without_language(text, seg);
    label_languages(&mut quotes, detector);
    quotes
}

/// [`extract_quotes`] with a name oracle for the article's language (`article_language`, ISO
/// 639-1): what the service runs. See [`extract_quotes_with_names`].
pub fn extract_quotes_with_oracle(
    text: &str,
    seg: &Segmentation,
    detector: &LanguageDetector,
    article_language: &str,
    oracle: &dyn crate::name_oracle::NameOracle,
) -> Vec<Quote> {
    let mut quotes = extract_quotes_with_names(text, seg, article_language, oracle);
    label_languages(&mut quotes, detector);
    quotes
}

fn label_languages(quotes: &mut [Quote], detector: &LanguageDetector) {
    for quote in quotes.iter_mut().take(MAX_QUOTES_WITH_LANGUAGE) {
        quote.language = detector.detect(&quote.text);
    }
}

/// [`extract_quotes`] without the per-quote language detection (every `language` is `und`):
/// for callers that label languages themselves, and to time the model-free part alone.
pub fn extract_quotes_without_language(text: &str, seg: &Segmentation) -> Vec<Quote> {
    let raw_quotes = find_quotes(text, seg);
    let quote_spans: Vec<ByteSpan> = raw_quotes.iter().map(|q| q.outer).collect();
    let (cues, people) = find_cues(text, seg, &quote_spans);
    let total = text.len().max(1) as f64;
    let mut quotes = Vec::with_capacity(raw_quotes.len());
    for (index, raw) in raw_quotes.iter().enumerate() {
        let quote_text = raw.span.slice(text);
        let words = quote_text.split_whitespace().count();
        if is_title_or_scare_quote(text, raw.span, raw.outer) {
            continue;
        }
        let attribution = attribute(text, seg, raw, index, &raw_quotes, &cues, &people);
        if attribution.is_none() && words < MIN_WORDS_WITHOUT_CUE {
            continue;
        }
        let (speaker, cue_verb) = match attribution {
            Some((speaker, cue)) => (speaker, Some(cue)),
            None => (None, None),
        };
        let speaker_kind = speaker.as_ref().map(|s| s.kind);
        let weak_name = speaker.as_ref().is_some_and(is_weak_name);
        let confidence = confidence(raw.style, speaker_kind, cue_verb.is_some(), weak_name);
        let position = raw.span.start as f64 / total;
        let salience = salience(words, speaker_kind, position, confidence);
        quotes.push(Quote {
            text: quote_text.to_string(),
            span: raw.span,
            outer_span: raw.outer,
            speaker,
            cue_verb: cue_verb.map(|span| span.slice(text).to_string()),
            language: Detection::undetermined(""),
            confidence: confidence.clamp(0.0, 1.0),
            salience: salience.clamp(0.0, 1.0),
            sentence_index: seg
                .sentence_at(raw.span.start)
                .or_else(|| seg.sentence_at(raw.outer.start))
                .unwrap_or_else(|| nearest_sentence_before(seg, raw.outer.start)),
        });
    }
    quotes
}

/// [`extract_quotes_without_language`], with a name oracle for the article's language: a
/// one-word speaker name that the oracle knows only as a place or an organisation
/// ("Milano") is dropped, as a wrong name is worse than none. When the oracle cannot answer,
/// the rules' answer stands.
pub fn extract_quotes_with_names(
    text: &str,
    seg: &Segmentation,
    language: &str,
    oracle: &dyn crate::name_oracle::NameOracle,
) -> Vec<Quote> {
    let mut quotes = extract_quotes_without_language(text, seg);
    let named = |speaker: &&Speaker| speaker.kind != SpeakerKind::TitleOnly;
    // One-word speakers: a place or a body the rules took for a person ("Milano").
    let candidates: Vec<usize> = (0..quotes.len())
        .filter(|&i| {
            quotes[i]
                .speaker
                .as_ref()
                .filter(named)
                .is_some_and(|speaker| speaker.name.split_whitespace().count() == 1)
        })
        .collect();
    // Names of three words or more: a body's name glued before the person's ("Federconsumo
    // Aldo Giuliani"), when the first word is no name and the second a first name.
    let glued: Vec<usize> = (0..quotes.len())
        .filter(|&i| {
            quotes[i]
                .speaker
                .as_ref()
                .filter(named)
                .is_some_and(|speaker| {
                    speaker.name.split_whitespace().count() >= 3
                        && speaker.span.slice(text) == speaker.name
                })
        })
        .collect();
    if candidates.is_empty() && glued.is_empty() {
        return quotes;
    }
    let mut words: Vec<&str> = candidates
        .iter()
        .filter_map(|&i| quotes[i].speaker.as_ref().map(|s| s.name.as_str()))
        .collect();
    for &i in &glued {
        if let Some(speaker) = quotes[i].speaker.as_ref() {
            words.extend(speaker.name.split_whitespace().take(2));
        }
    }
    let Some(tags) = oracle.tag_words(language, &words) else {
        return quotes;
    };
    if tags.len() != words.len() {
        return quotes;
    }
    let dropped: Vec<usize> = candidates
        .iter()
        .zip(&tags)
        .filter(|(_, tags)| tags.only_place_or_organisation())
        .map(|(&i, _)| i)
        .collect();
    let glued_tags = tags[candidates.len()..].chunks(2);
    for (&i, pair) in glued.iter().zip(glued_tags) {
        let [first, second] = pair else { continue };
        // A surname that is also a place ("Genova") does not open a person's name here.
        let first_is_name = first.person || (first.surname && !first.place && !first.organisation);
        if first_is_name || !second.person {
            continue;
        }
        if let Some(speaker) = quotes[i].speaker.as_mut() {
            let rest = speaker
                .name
                .split_whitespace()
                .nth(1)
                .and_then(|second_word| {
                    let skip = speaker.name.find(char::is_whitespace)?;
                    let offset = skip + speaker.name[skip..].find(second_word)?;
                    Some(offset)
                });
            if let Some(offset) = rest {
                let body = speaker.name[..offset].trim_end().to_lowercase();
                speaker.span = ByteSpan::new(speaker.span.start + offset, speaker.span.end);
                speaker.name = speaker.span.slice(text).to_string();
                speaker.title = Some(match speaker.title.take() {
                    Some(title) => format!("{title} {body}"),
                    None => body,
                });
            }
        }
    }
    for i in dropped {
        let quote = &mut quotes[i];
        let kind_factor = match quote.speaker.as_ref().map(|s| s.kind) {
            Some(SpeakerKind::Named) => 1.0,
            _ => 0.85,
        };
        let weak = quote.speaker.as_ref().is_some_and(is_weak_name);
        let factor = kind_factor * if weak { WEAK_NAME_FACTOR } else { 1.0 };
        quote.speaker = None;
        quote.confidence = (quote.confidence / factor * 0.35).clamp(0.0, 1.0);
    }
    quotes
}

/// Quotes of more words than this are never taken for titles or scare quotes.
const MAX_TITLE_WORDS: usize = 12;

/// Words before the opening mark searched for a title noun ("the 2019 novel «…»").
const TITLE_NOUN_WINDOW_BEFORE: usize = 5;

/// Words after the closing mark searched for one ("«…», il film della regista").
const TITLE_NOUN_WINDOW_AFTER: usize = 2;

/// Whether the quoted words are a title (of a book, film, report) or held at a distance
/// ("so-called «…»") rather than words someone said: a short span that does not end a
/// sentence or a clause, opening with a capital, with a title noun just before or after it, a
/// subtitle after a colon, or most words capitalised as English titles are.
fn is_title_or_scare_quote(text: &str, span: ByteSpan, outer: ByteSpan) -> bool {
    let content = span.slice(text).trim();
    let word_count = content.split_whitespace().count();
    if word_count == 0 || word_count > MAX_TITLE_WORDS {
        return false;
    }
    let before_text = tail_chars(&text[..outer.start], 120);
    let before = words(before_text, 0);
    let last_before: Vec<&str> = before
        .iter()
        .rev()
        .take(TITLE_NOUN_WINDOW_BEFORE)
        .map(|w| w.slice(before_text))
        .collect();
    if word_count <= 4 && last_before.first().is_some_and(|w| is_scare_marker(w)) {
        return true;
    }
    let ends_clause = content.ends_with(['.', ',', ';', '!', '…']);
    let opens_with_capital = content
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit());
    if ends_clause || !opens_with_capital {
        return false;
    }
    // Only the words of the same sentence count: stop at a full stop before the mark.
    let sentence_tail = before_text
        .rfind(['.', '!', '?', '\n'])
        .map_or(0, |i| i + 1);
    let noun_before = before
        .iter()
        .rev()
        .take(TITLE_NOUN_WINDOW_BEFORE)
        .filter(|w| w.start >= sentence_tail)
        .any(|w| is_title_noun(w.slice(before_text)));
    let after_text = head_chars(&text[outer.end..], 60);
    let noun_after = after_text.trim_start().starts_with(',')
        && words(after_text, 0)
            .iter()
            .take(TITLE_NOUN_WINDOW_AFTER)
            .any(|w| is_title_noun(w.slice(after_text)));
    let subtitle = word_count >= 3 && content.contains(": ") && !content.ends_with('?');
    noun_before || noun_after || subtitle || is_title_case(content)
}

/// English title case: three capitalised words of four letters or more, and no lower-case one.
fn is_title_case(content: &str) -> bool {
    let long_words: Vec<&str> = content
        .split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 4)
        .collect();
    long_words.len() >= 3
        && long_words
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
}

/// The last `max` characters of `text` (all of it when shorter).
fn tail_chars(text: &str, max: usize) -> &str {
    let start = text
        .char_indices()
        .rev()
        .nth(max.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &text[start..]
}

/// The first `max` characters of `text`.
fn head_chars(text: &str, max: usize) -> &str {
    let end = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

/// Confidence that a quote of this mark style is a direct quote with the right speaker.
///
/// The factors are measured on the development set (`bench_attribution` prints accuracy per
/// confidence bucket): a name written at the cue is right about nine times in ten, a resolved
/// one about three in four, a quote with no speaker almost never has "the right speaker"
/// (only when the article names nobody). A lone word with no title is weaker evidence of a
/// person ("Projekt", "Milano") than a full name or a titled one.
fn confidence(
    style: MarkStyle,
    speaker: Option<SpeakerKind>,
    has_cue: bool,
    weak_name: bool,
) -> f64 {
    let marks = match style {
        MarkStyle::Paired => 0.9,
        MarkStyle::MultiParagraph => 0.85,
        MarkStyle::Dialogue => 0.75,
    };
    marks
        * match speaker {
            Some(SpeakerKind::Named) => 1.0,
            Some(SpeakerKind::Resolved) => 0.85,
            Some(SpeakerKind::TitleOnly) => 0.8,
            None if has_cue => 0.35,
            None => 0.3,
        }
        * if weak_name { WEAK_NAME_FACTOR } else { 1.0 }
}

/// How much a lone name word with no title lowers the confidence.
const WEAK_NAME_FACTOR: f64 = 0.8;

/// A name of one word with no title written next to it, or where it was mentioned.
fn is_weak_name(speaker: &Speaker) -> bool {
    speaker.kind != SpeakerKind::TitleOnly
        && speaker.title.is_none()
        && speaker.name.split_whitespace().count() == 1
}

/// Rank of a quote among key quotes: long (up to 30 words), attributed, early (`position` is
/// its start as a share of the text), confident.
fn salience(words: usize, speaker: Option<SpeakerKind>, position: f64, confidence: f64) -> f64 {
    let length_score = (words.min(30) as f64 / 30.0).sqrt();
    let speaker_score = match speaker {
        Some(SpeakerKind::Named) => 1.0,
        Some(SpeakerKind::Resolved) => 0.8,
        Some(SpeakerKind::TitleOnly) => 0.6,
        None => 0.0,
    };
    let position_score = 1.0 - position;
    0.4 * length_score + 0.25 * speaker_score + 0.15 * position_score + 0.2 * confidence
}

fn nearest_sentence_before(seg: &Segmentation, offset: usize) -> usize {
    seg.sentences
        .partition_point(|s| s.span.start <= offset)
        .saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::segment;

    fn quotes_of(text: &str) -> Vec<Quote> {
        extract_quotes_without_language(text, &segment(text))
    }

    #[test]
    fn scare_quotes_are_dropped_unless_attributed() {
        let text = "Critics mocked the “reform”. Nobody read the “no entry for anyone after dark” \
                    sign. “Never again,” she said.";
        let quotes = quotes_of(text);
        let found: Vec<(&str, Option<&str>)> = quotes
            .iter()
            .map(|quote| (quote.text.as_str(), quote.cue_verb.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                ("no entry for anyone after dark", None),
                ("Never again,", Some("said")),
            ]
        );
        for quote in &quotes {
            assert_eq!(quote.span.slice(text), quote.text);
            assert!(quote.outer_span.start < quote.span.start);
            assert!(quote.span.end < quote.outer_span.end);
            assert_eq!(quote.language.iso639_1, "und");
            assert!(quote.speaker.is_none(), "nobody is named: {quote:?}");
        }
        assert_eq!(quotes[0].sentence_index, 1);
        assert_eq!(quotes[1].sentence_index, 2);
        assert!((quotes[0].confidence - 0.9 * 0.3).abs() < 1e-12);
        assert!((quotes[1].confidence - 0.9 * 0.35).abs() < 1e-12);
    }

    /// (quote, speaker name or "-") of each quote found.
    fn speakers_of(text: &str) -> Vec<(String, String)> {
        quotes_of(text)
            .into_iter()
            .map(|quote| {
                let speaker = quote.speaker.map_or("-".to_string(), |s| s.name);
                (quote.text, speaker)
            })
            .collect()
    }

    #[test]
    fn issue_17_constructions_give_the_named_speaker() {
        let cases: [(&str, &[&str]); 9] = [
            // A role, a long complement, then the name after a comma.
            (
                "«No podemos más», denunció el portavoz del comité de huelga, Adrián Fueyo.",
                &["Adrián Fueyo"],
            ),
            // A role, its complement ending in a common noun, then the name with no comma.
            (
                "«Ringrazio tutti», ha dichiarato il direttore sportivo del club Ettore Baldini.",
                &["Ettore Baldini"],
            ),
            // Apposition before the verb.
            (
                "The mayor of Port Ellis, Douglas Fraser, said the plan was “a betrayal of us all.”",
                &["Douglas Fraser"],
            ),
            // A dropped subject: the person named in the sentence before.
            (
                "La consejera de Vivienda, Inés Santamaría, replicó horas después. \
                 «Limitar precios solo reduce la oferta», dijo.",
                &["Inés Santamaría"],
            ),
            // Prepositional attribution.
            (
                "Per il presidente dell'associazione, Dario Colombo, «il diritto va rispettato».",
                &["Dario Colombo"],
            ),
            // A colon introduces the quote.
            (
                "Fraktionschef Dieter Braun wies den Plan zurück: „Die Fahrgäste zahlen am Ende.“",
                &["Dieter Braun"],
            ),
            // A sentence-initial determiner is nobody's name.
            ("El alcalde habló. «Cada litro cuenta», dijo.", &["El alcalde"]),
            // A body after a determiner is no person's name: no speaker rather than a wrong one.
            (
                "«Es inadmisible», lamentó la Generalitat en un comunicado.",
                &["-"],
            ),
            // Two people with one plural cue: the first one.
            (
                "«Queremos vivir del mar», respondieron Carmen Lago y Ramiro Piñeiro.",
                &["Carmen Lago"],
            ),
        ];
        for (text, expected) in cases {
            let speakers: Vec<String> = speakers_of(text).into_iter().map(|(_, s)| s).collect();
            assert_eq!(speakers, expected, "{text}");
        }
    }

    #[test]
    fn titles_and_scare_quotes_are_not_quotes() {
        let text = "Her 2019 novel “The Lock Keeper's Daughter” sold well. The report \
                    “Corridor Care: The Hidden Ward” found gaps. Il dossier «Le stanze vuote», il \
                    film della regista, vince. Les «Routes de mon père», un livre. So-called \
                    “dark warehouses” run alone, she said. “We will not stop,” she said.";
        let found: Vec<String> = quotes_of(text).into_iter().map(|q| q.text).collect();
        assert_eq!(found, ["We will not stop,"]);
    }

    #[test]
    fn confidence_follows_the_marks_and_the_speaker() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        use SpeakerKind::{Named, Resolved, TitleOnly};
        assert!(close(
            confidence(MarkStyle::Paired, Some(Named), true, false),
            0.9
        ));
        assert!(close(
            confidence(MarkStyle::Paired, Some(Named), true, true),
            0.9 * WEAK_NAME_FACTOR
        ));
        assert!(close(
            confidence(MarkStyle::MultiParagraph, Some(Resolved), true, false),
            0.85 * 0.85
        ));
        assert!(close(
            confidence(MarkStyle::Dialogue, Some(TitleOnly), true, false),
            0.75 * 0.8
        ));
        assert!(close(
            confidence(MarkStyle::Paired, None, true, false),
            0.9 * 0.35
        ));
        assert!(close(
            confidence(MarkStyle::Paired, None, false, false),
            0.9 * 0.3
        ));
    }

    #[test]
    fn salience_prefers_long_attributed_early_confident_quotes() {
        let named = Some(SpeakerKind::Named);
        let base = salience(20, named, 0.5, 0.9);
        assert!(salience(30, named, 0.5, 0.9) > base);
        assert_eq!(
            salience(30, named, 0.5, 0.9),
            salience(300, named, 0.5, 0.9)
        );
        assert!(salience(20, Some(SpeakerKind::Resolved), 0.5, 0.9) < base);
        assert!(
            salience(20, None, 0.5, 0.9) < salience(20, Some(SpeakerKind::TitleOnly), 0.5, 0.9)
        );
        assert!(salience(20, named, 0.1, 0.9) > base);
        assert!(salience(20, named, 0.5, 0.5) < base);
        // The best quote scores 1: 30 words or more, named, at the very start, certain.
        assert!((salience(30, named, 0.0, 1.0) - 1.0).abs() < 1e-12);
        assert!(salience(0, None, 1.0, 0.0).abs() < 1e-12);
    }

    #[test]
    fn quotes_are_in_text_order_with_their_sentences() {
        let text = "Ann Lee said: “We are ready for the storm.”\n\n\
                    “We will rebuild the quay,” said Bob Ray. “It will take two years.”";
        let quotes = quotes_of(text);
        let found: Vec<(&str, Option<&str>, usize)> = quotes
            .iter()
            .map(|quote| {
                (
                    quote.text.as_str(),
                    quote.speaker.as_ref().map(|speaker| speaker.name.as_str()),
                    quote.sentence_index,
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("We are ready for the storm.", Some("Ann Lee"), 0),
                ("We will rebuild the quay,", Some("Bob Ray"), 1),
                ("It will take two years.", Some("Bob Ray"), 2),
            ]
        );
        assert!(quotes
            .windows(2)
            .all(|pair| pair[0].span.end <= pair[1].span.start));
        assert!(quotes[0].salience > quotes[2].salience);
    }
}
