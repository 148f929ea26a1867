//! Property tests on arbitrary Unicode, and bad input: no panic, no hang, valid spans.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use precis_text::language::LanguageDetector;
use precis_text::quotes::extract_quotes;
use precis_text::segment::{segment, Segmentation};
use proptest::prelude::*;

fn detector() -> &'static LanguageDetector {
    static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
    DETECTOR.get_or_init(LanguageDetector::new)
}

/// Checks every invariant of segmentation and quotes on `text`.
fn check_invariants(text: &str) {
    let segmentation = segment(text);
    check_segmentation(text, &segmentation);
    for quote in extract_quotes(text, &segmentation, detector()) {
        for span in [quote.span, quote.outer_span] {
            assert!(span.start <= span.end && span.end <= text.len());
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        }
        assert_eq!(&text[quote.span.range()], quote.text);
        assert!(!quote.text.is_empty());
        assert!(quote.sentence_index < segmentation.sentences.len());
        if let Some(speaker) = &quote.speaker {
            assert!(
                text.is_char_boundary(speaker.span.start)
                    && text.is_char_boundary(speaker.span.end)
            );
            assert_eq!(&text[speaker.span.range()], speaker.name);
        }
        assert!((0.0..=1.0).contains(&quote.confidence) && (0.0..=1.0).contains(&quote.salience));
    }
    let detection = detector().detect(text);
    assert!((0.0..=1.0).contains(&detection.confidence));
}

fn check_segmentation(text: &str, segmentation: &Segmentation) {
    // Sentences are non-empty, trimmed, in order, and cover every non-whitespace character.
    let mut covered_to = 0;
    for sentence in &segmentation.sentences {
        let span = sentence.span;
        assert!(covered_to <= span.start && span.start < span.end && span.end <= text.len());
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        assert!(
            text[covered_to..span.start].trim().is_empty(),
            "uncovered text before a sentence"
        );
        let slice = &text[span.range()];
        assert_eq!(slice.trim(), slice);
        covered_to = span.end;
    }
    assert!(
        text[covered_to..].trim().is_empty(),
        "uncovered text at the end"
    );
    // Paragraphs hold their sentences, in order.
    let mut next_sentence = 0;
    for (index, paragraph) in segmentation.paragraphs.iter().enumerate() {
        assert_eq!(paragraph.sentences.start, next_sentence);
        next_sentence = paragraph.sentences.end;
        for sentence in &segmentation.sentences[paragraph.sentences.clone()] {
            assert_eq!(sentence.paragraph, index);
            assert!(
                paragraph.span.start <= sentence.span.start
                    && sentence.span.end <= paragraph.span.end
            );
        }
    }
    assert_eq!(next_sentence, segmentation.sentences.len());
}

/// Text mixing words, quote marks of every kind, dashes, line breaks and any Unicode.
fn article_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("He said ".to_string()),
        Just(", dijo él. ".to_string()),
        Just(" a déclaré le ministre ".to_string()),
        Just("Mr. ".to_string()),
        Just("U.S. ".to_string()),
        Just("\n\n".to_string()),
        Just("\r\n".to_string()),
        Just("\n— ".to_string()),
        Just("—".to_string()),
        prop::sample::select(vec![
            "“", "”", "\"", "„", "«", "»", "‹", "›", "‚", "‘", "’", "「", "」", "『", "』"
        ])
        .prop_map(str::to_string),
        "[a-zA-Z ]{1,12}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_unicode_keeps_invariants(text in any::<String>()) {
        check_invariants(&text);
    }

    #[test]
    fn article_like_text_keeps_invariants(text in article_like()) {
        check_invariants(&text);
    }
}

/// Runs `check_invariants` and fails if it takes longer than `limit` (generous: a hang, or
/// quadratic work, takes far longer than linear work on these sizes).
fn check_within(text: &str, limit: Duration) {
    // Unoptimised builds run several times slower; the limit only has to catch a hang.
    let limit = if cfg!(debug_assertions) {
        limit * 10
    } else {
        limit
    };
    // The detector's tables are built once per test binary, by whichever test comes first:
    // that is not the work under test.
    detector();
    let started = Instant::now();
    check_invariants(text);
    let elapsed = started.elapsed();
    assert!(elapsed < limit, "took {elapsed:?} on {} bytes", text.len());
}

#[test]
fn empty_whitespace_and_single_emoji() {
    for text in ["", "   \n\t\r\n  ", "😀", "\u{200b}\u{200d}\u{feff}"] {
        check_invariants(text);
        assert!(detector().detect(text).is_undetermined());
        assert!(extract_quotes(text, &segment(text), detector()).is_empty());
    }
    assert!(segment("😀").sentences.len() == 1);
}

#[test]
fn ten_megabytes_of_one_character() {
    for c in ['a', '.', '“', '\n', '—'] {
        let text = c.to_string().repeat(10_000_000 / c.len_utf8());
        check_within(&text, Duration::from_secs(60));
    }
}

#[test]
fn unbalanced_and_many_quote_marks() {
    check_within(
        "“He said ‘no way,” she said. „Nie wieder“ « jamais",
        Duration::from_secs(5),
    );
    for mark in ["\"", "“", "”", "«", "»", "‘", "’"] {
        check_within(&mark.repeat(100_000), Duration::from_secs(30));
        check_within(
            &format!("{mark}a ").repeat(100_000),
            Duration::from_secs(30),
        );
    }
    let many_quotes = "“We will win this,” she said. ".repeat(20_000);
    check_within(&many_quotes, Duration::from_secs(120));
}

#[test]
fn mixed_scripts_and_zero_width_characters() {
    let text = "Путин сказал: «Мы победим». 習近平說：「我們會贏。」 \u{200b}He\u{200d}llo “wo\u{feff}rld” said Ann. مرحبا بالعالم";
    check_invariants(text);
    assert_eq!(
        detector()
            .detect("Путин сказал, что мы обязательно победим в этой борьбе")
            .iso639_1,
        "ru"
    );
}

#[test]
fn lossily_decoded_binary_junk() {
    // A fixed pseudo-random byte stream (xorshift), decoded as it would be from a bad upload.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..2_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let text = String::from_utf8_lossy(&bytes);
    check_within(&text, Duration::from_secs(60));
}

#[test]
fn deeply_nested_marks_do_not_overflow() {
    let text = format!("{}x{}", "“‘«„".repeat(50_000), "”’»“".repeat(50_000));
    check_within(&text, Duration::from_secs(30));
}
