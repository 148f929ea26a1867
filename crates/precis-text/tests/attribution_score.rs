//! The development-set scoring (`bench_attribution`) counts what it says, on a hand-made case.

use precis_text::attribution_score::{
    bucket_index, comparable, name_is_garbled, name_matches, score_article, speaker_verdict,
    ExpectedArticle, ExpectedSpeaker, Outcome, SpeakerVerdict, Tally,
};
use precis_text::language::Detection;
use precis_text::quotes::{Quote, Speaker, SpeakerKind};
use precis_text::ByteSpan;

fn quote(text: &str, speaker: Option<(&str, SpeakerKind)>, confidence: f64) -> Quote {
    Quote {
        text: text.to_string(),
        span: ByteSpan::new(0, text.len()),
        outer_span: ByteSpan::new(0, text.len()),
        speaker: speaker.map(|(name, kind)| Speaker {
            name: name.to_string(),
            span: ByteSpan::new(0, name.len()),
            kind,
            title: None,
        }),
        cue_verb: Some("said".to_string()),
        language: Detection::undetermined("Latin"),
        confidence,
        salience: 0.5,
        sentence_index: 0,
    }
}

fn speaker(name: &str, kind: SpeakerKind) -> Speaker {
    Speaker {
        name: name.to_string(),
        span: ByteSpan::new(0, name.len()),
        kind,
        title: None,
    }
}

#[test]
fn names_match_on_a_trailing_part_of_the_expected_name() {
    assert!(name_matches("Marco Rossi", "Rossi"));
    assert!(name_matches("Marco Rossi", "Marco Rossi"));
    assert!(name_matches("Anja Feldmann", "Dr. Anja Feldmann"));
    assert!(name_matches("Carmen de la Fuente", "de la Fuente"));
    assert!(!name_matches("Marco Rossi", "Marco"));
    assert!(!name_matches("Marco Rossi", "Finanze Marco Rossi"));
    assert!(!name_matches("Marco Rossi", "rossi"));
    assert!(!name_matches("Marco Rossi", ""));
    assert!(!name_matches("Marco Rossi", "Dr."));
}

#[test]
fn garbled_names_are_the_speaker_with_words_glued_on_or_cut_off() {
    assert!(name_is_garbled(
        "Jürgen Pohlmann",
        "Gewerkschaft Jürgen Pohlmann"
    ));
    assert!(name_is_garbled("Ole Jessen", "Geschäftsführer Ole Jessen"));
    assert!(name_is_garbled("Maria do Céu Antunes", "Maria"));
    assert!(!name_is_garbled("Jürgen Pohlmann", "Pohlmann"));
    assert!(!name_is_garbled("Jürgen Pohlmann", "Gewerkschaft"));
    assert!(!name_is_garbled("Jürgen Pohlmann", "Sabine Kessler"));
    assert!(!name_is_garbled("Jürgen Pohlmann", ""));
}

#[test]
fn quote_texts_compare_without_joining_punctuation() {
    assert_eq!(comparable(" We will win, "), "We will win");
    assert_eq!(comparable("Es la ruina."), "Es la ruina");
    assert_eq!(comparable("¿Y ahora qué?"), "¿Y ahora qué?");
}

#[test]
fn speaker_verdicts() {
    let named = ExpectedSpeaker::One("Marco Rossi".to_string());
    let pair = ExpectedSpeaker::Several(vec!["Ana Lima".to_string(), "Tom Berg".to_string()]);
    use SpeakerKind::*;
    use SpeakerVerdict::*;
    let cases: [(Option<&ExpectedSpeaker>, Option<Speaker>, SpeakerVerdict); 11] = [
        (Some(&named), Some(speaker("Rossi", Resolved)), Right),
        (Some(&named), Some(speaker("Bianchi", Named)), WrongName),
        (
            Some(&named),
            Some(speaker("Finanze Marco Rossi", Named)),
            GarbledName,
        ),
        (Some(&pair), Some(speaker("Ana", Resolved)), GarbledName),
        (
            Some(&named),
            Some(speaker("il ministro", TitleOnly)),
            NoName,
        ),
        (Some(&named), None, NoName),
        (Some(&pair), Some(speaker("Berg", Named)), Right),
        (Some(&pair), Some(speaker("Lima", Named)), Right),
        (None, None, Right),
        (None, Some(speaker("spokeswoman", TitleOnly)), Right),
        (None, Some(speaker("El", Named)), WrongName),
    ];
    for (expected, returned, verdict) in cases {
        assert_eq!(
            speaker_verdict(expected, returned.as_ref()),
            verdict,
            "{expected:?} vs {returned:?}"
        );
    }
}

#[test]
fn confidence_buckets() {
    assert_eq!(bucket_index(0.0), 0);
    assert_eq!(bucket_index(0.49), 0);
    assert_eq!(bucket_index(0.5), 1);
    assert_eq!(bucket_index(0.84), 2);
    assert_eq!(bucket_index(0.85), 3);
    assert_eq!(bucket_index(1.0), 3);
}

#[test]
fn an_article_is_scored_quote_by_quote() {
    let expected: ExpectedArticle = serde_json::from_str(
        r#"{
            "quotes": [
                {"text": "We will win,", "speaker": "Ana Lima"},
                {"text": "Not this year.", "speaker": "Tom Berg"},
                {"text": "No comment", "speaker": null, "role": "spokesman"},
                {"text": "Never again", "speaker": "Ana Lima"}
            ],
            "non_quotes": [{"text": "The Long Road Home", "kind": "title"}]
        }"#,
    )
    .expect("hand-made expectations parse");
    let returned = vec![
        quote("The Long Road Home", None, 0.3),
        quote("We will win", Some(("Lima", SpeakerKind::Named)), 0.9),
        quote(
            "Not this year.",
            Some(("Lima", SpeakerKind::Resolved)),
            0.75,
        ),
        quote(
            "No comment",
            Some(("spokesman", SpeakerKind::TitleOnly)),
            0.6,
        ),
        quote("a third way", None, 0.2),
    ];
    let score = score_article(&expected, &returned);
    assert_eq!(
        score.outcomes,
        vec![
            Outcome::Found(1, SpeakerVerdict::Right),
            Outcome::Found(2, SpeakerVerdict::WrongName),
            Outcome::Found(3, SpeakerVerdict::Right),
            Outcome::Missed,
        ]
    );
    assert_eq!(score.false_quotes, vec![0, 4]);
    assert_eq!(score.listed_non_quotes, vec![0]);

    let mut tally = Tally::default();
    tally.add_article(&expected, &returned, &score);
    assert_eq!(tally.articles, 1);
    assert_eq!(tally.expected_quotes, 4);
    assert_eq!(tally.found, 3);
    assert_eq!(tally.speaker_right, 2);
    assert_eq!(tally.wrong_name, 1);
    assert_eq!(tally.garbled_name, 0);
    assert_eq!(tally.no_name, 0);
    assert_eq!(tally.false_quotes, 2);
    assert_eq!(tally.listed_non_quotes_returned, 1);
    assert_eq!(tally.listed_non_quotes, 1);
    assert_eq!(tally.recall(), 0.75);
    assert!((tally.speaker_accuracy() - 2.0 / 3.0).abs() < 1e-12);
    assert!((tally.wrong_name_rate() - 1.0 / 3.0).abs() < 1e-12);
    // Buckets: [0, 0.5) holds the two false quotes, [0.5, 0.7) the right "No comment",
    // [0.7, 0.85) the wrongly named one, [0.85, 1] the right "We will win".
    let counts: Vec<(usize, usize)> = tally
        .buckets
        .iter()
        .map(|bucket| (bucket.quotes, bucket.right))
        .collect();
    assert_eq!(counts, vec![(2, 0), (1, 1), (1, 0), (1, 1)]);
    assert!((tally.buckets[0].confidence_sum - 0.5).abs() < 1e-12);

    let mut overall = Tally::default();
    overall.add(&tally);
    overall.add(&tally);
    assert_eq!(overall.articles, 2);
    assert_eq!(overall.found, 6);
    assert_eq!(overall.buckets[0].quotes, 4);
    assert_eq!(overall.recall(), tally.recall());
}

#[test]
fn the_development_set_expectations_quote_their_articles_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("devdata/quotes");
    for language in ["en", "fr", "de", "es", "it", "pt"] {
        let mut articles = 0;
        for entry in std::fs::read_dir(root.join(language)).expect("a folder per language") {
            let path = entry.expect("a readable folder").path();
            if path.extension().is_none_or(|extension| extension != "txt") {
                continue;
            }
            articles += 1;
            let article = std::fs::read_to_string(&path).expect("a readable article");
            let json = std::fs::read_to_string(path.with_extension("expected.json"))
                .unwrap_or_else(|error| panic!("{}: no expectations: {error}", path.display()));
            let expected: ExpectedArticle = serde_json::from_str(&json)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            assert!(!expected.quotes.is_empty(), "{}", path.display());
            for text in expected
                .quotes
                .iter()
                .map(|quote| &quote.text)
                .chain(expected.non_quotes.iter().map(|non_quote| &non_quote.text))
            {
                assert!(
                    article.contains(text.as_str()),
                    "{}: {text:?}",
                    path.display()
                );
            }
        }
        assert!(articles >= 8, "{language}: {articles} articles");
    }
}
