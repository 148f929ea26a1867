//! Prints the quotes of an article file, one per line: `cargo run --example quotes -- FILE`.
use precis_text::{language::LanguageDetector, quotes::extract_quotes, segment::segment};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: quotes FILE");
        std::process::exit(2);
    };
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let detector = LanguageDetector::new();
    let segmentation = segment(&text);
    for quote in extract_quotes(&text, &segmentation, &detector) {
        let speaker = quote
            .speaker
            .as_ref()
            .map_or("-".to_string(), |s| format!("{} ({:?})", s.name, s.kind));
        println!(
            "{:>5}..{:<5} [{}] {:.2}/{:.2} cue={:?} speaker={} | {}",
            quote.span.start,
            quote.span.end,
            quote.language.iso639_1,
            quote.confidence,
            quote.salience,
            quote.cue_verb.as_deref().unwrap_or("-"),
            speaker,
            quote.text
        );
    }
}
