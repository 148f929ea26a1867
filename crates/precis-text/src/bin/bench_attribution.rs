//! Quote finding and attribution on the team's development set.
//!
//! Usage: `bench_attribution [--failures] [--constructions] [--names] [DIR]` (default: the crate's `devdata/quotes`). DIR
//! holds one folder per language with `<slug>.txt` articles and `<slug>.expected.json`
//! expectations (format and scoring rules: `devdata/quotes/README.md`). Prints per language and
//! overall: quote recall, speaker accuracy, wrong-name rate, false quotes, then accuracy per
//! confidence bucket. `--failures` also prints every missed quote, wrong or missing speaker and
//! false quote; `--constructions` the counts per construction label of the expectations.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use precis_text::attribution_score::{
    ratio, score_article, ArticleScore, ExpectedArticle, Outcome, SpeakerVerdict, Tally,
    CONFIDENCE_BUCKETS,
};
use precis_text::language::LanguageDetector;
use precis_text::name_oracle::{LtProcOracle, DEFAULT_APERTIUM_DIR, DEFAULT_REPLY_TIMEOUT};
use precis_text::quotes::{extract_quotes, extract_quotes_with_names, Quote};
use precis_text::segment::segment;

const USAGE: &str = "usage: bench_attribution [--failures] [--constructions] [--names] [DIR]\n  --names: consult the Apertium analysers (lt-proc) as a name oracle";

/// What to print besides the tables.
#[derive(Clone, Copy, Default)]
struct Options {
    failures: bool,
    constructions: bool,
    /// Consult the Apertium name oracle (quote language fields are then left undetermined).
    names: bool,
}

fn main() -> ExitCode {
    let mut options = Options::default();
    let mut dir: Option<PathBuf> = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--failures" => options.failures = true,
            "--constructions" => options.constructions = true,
            "--names" => options.names = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            _ => {
                eprintln!("unexpected argument {arg:?}; {USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let dir = dir.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("devdata/quotes"));
    match run(&dir, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench_attribution: {message}");
            ExitCode::FAILURE
        }
    }
}

/// One article and what it should give.
struct Article {
    path: PathBuf,
    text: String,
    expected: ExpectedArticle,
}

/// Per construction label: expected quotes, found, right speaker, wrong name.
type ConstructionCounts = BTreeMap<String, [usize; 4]>;

fn run(dir: &Path, options: Options) -> Result<(), String> {
    let languages = load(dir)?;
    let oracle = options.names.then(|| {
        LtProcOracle::discover(
            Path::new(DEFAULT_APERTIUM_DIR),
            "lt-proc",
            DEFAULT_REPLY_TIMEOUT,
        )
    });
    if let Some(oracle) = &oracle {
        println!(
            "name oracle: Apertium analysers for {}",
            oracle.languages().join(", ")
        );
    }
    let detector = LanguageDetector::new();
    let mut per_language: Vec<(String, Tally)> = Vec::new();
    let mut failures = String::new();
    let mut constructions = ConstructionCounts::new();
    for (language, articles) in &languages {
        let mut tally = Tally::default();
        for article in articles {
            let segmentation = segment(&article.text);
            let quotes = match &oracle {
                Some(oracle) => {
                    extract_quotes_with_names(&article.text, &segmentation, language, oracle)
                }
                None => extract_quotes(&article.text, &segmentation, &detector),
            };
            let score = score_article(&article.expected, &quotes);
            tally.add_article(&article.expected, &quotes, &score);
            count_constructions(&article.expected, &score, &mut constructions);
            if options.failures {
                describe_failures(dir, article, &quotes, &score, &mut failures);
            }
        }
        per_language.push((language.clone(), tally));
    }
    let mut overall = Tally::default();
    for (_, tally) in &per_language {
        overall.add(tally);
    }
    println!("| language | articles | expected quotes | quote recall | speaker accuracy | wrong names | garbled names | no name | false quotes (listed non-quotes) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (language, tally) in &per_language {
        print_row(language, tally);
    }
    print_row("all", &overall);
    println!();
    println!(
        "Calibration (every returned quote; right = an expected quote with the right speaker):"
    );
    println!();
    println!("| confidence | quotes | mean confidence | right |");
    println!("|---|---:|---:|---:|");
    for (index, bucket) in overall.buckets.iter().enumerate() {
        let lower = CONFIDENCE_BUCKETS[index];
        let range = match CONFIDENCE_BUCKETS.get(index + 1) {
            Some(upper) => format!("[{lower:.2}, {upper:.2})"),
            None => format!("[{lower:.2}, 1.00]"),
        };
        let mean = if bucket.quotes == 0 {
            "–".to_string()
        } else {
            format!("{:.2}", bucket.confidence_sum / bucket.quotes as f64)
        };
        println!(
            "| {range} | {} | {mean} | {} ({:.0}%) |",
            bucket.quotes,
            bucket.right,
            100.0 * ratio(bucket.right, bucket.quotes)
        );
    }
    if options.constructions {
        println!();
        println!("| construction | expected quotes | found | speaker right | wrong names |");
        println!("|---|---:|---:|---:|---:|");
        for (label, [expected, found, right, wrong]) in &constructions {
            println!("| {label} | {expected} | {found} | {right} | {wrong} |");
        }
    }
    if let Some(oracle) = &oracle {
        println!(
            "\nname oracle fallbacks (rules alone): {}",
            oracle.fallbacks()
        );
    }
    if options.failures {
        println!();
        print!("{failures}");
    }
    Ok(())
}

fn print_row(language: &str, tally: &Tally) {
    println!(
        "| {language} | {} | {} | {}/{} ({:.1}%) | {}/{} ({:.1}%) | {} ({:.1}%) | {} | {} | {} ({}/{}) |",
        tally.articles,
        tally.expected_quotes,
        tally.found,
        tally.expected_quotes,
        100.0 * tally.recall(),
        tally.speaker_right,
        tally.found,
        100.0 * tally.speaker_accuracy(),
        tally.wrong_name,
        100.0 * tally.wrong_name_rate(),
        tally.garbled_name,
        tally.no_name,
        tally.false_quotes,
        tally.listed_non_quotes_returned,
        tally.listed_non_quotes,
    );
}

/// The articles of each language folder, folders and files in name order.
fn load(dir: &Path) -> Result<Vec<(String, Vec<Article>)>, String> {
    let mut languages = Vec::new();
    for language_dir in sorted_entries(dir)? {
        if !language_dir.is_dir() {
            continue;
        }
        let language = language_dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut articles = Vec::new();
        for path in sorted_entries(&language_dir)? {
            if path.extension().is_some_and(|extension| extension == "txt") {
                articles.push(load_article(path)?);
            }
        }
        if !articles.is_empty() {
            languages.push((language, articles));
        }
    }
    if languages.is_empty() {
        return Err(format!(
            "no articles in {}: expected <lang>/<slug>.txt with <slug>.expected.json beside it",
            dir.display()
        ));
    }
    Ok(languages)
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    paths.sort();
    Ok(paths)
}

fn load_article(path: PathBuf) -> Result<Article, String> {
    let text = std::fs::read_to_string(&path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let expected_path = path.with_extension("expected.json");
    let json = std::fs::read_to_string(&expected_path).map_err(|error| {
        format!(
            "cannot read the expectations of {} ({}): {error}",
            path.display(),
            expected_path.display()
        )
    })?;
    let expected: ExpectedArticle = serde_json::from_str(&json)
        .map_err(|error| format!("{}: {error}", expected_path.display()))?;
    let listed = expected
        .quotes
        .iter()
        .map(|quote| &quote.text)
        .chain(expected.non_quotes.iter().map(|non_quote| &non_quote.text));
    for listed_text in listed {
        if !text.contains(listed_text.as_str()) {
            return Err(format!(
                "{}: {listed_text:?} is not in the article (expectations must quote it verbatim)",
                expected_path.display()
            ));
        }
    }
    Ok(Article {
        path,
        text,
        expected,
    })
}

fn count_constructions(
    expected: &ExpectedArticle,
    score: &ArticleScore,
    counts: &mut ConstructionCounts,
) {
    for (quote, outcome) in expected.quotes.iter().zip(&score.outcomes) {
        for label in &quote.constructions {
            let entry = counts.entry(label.clone()).or_default();
            entry[0] += 1;
            if let Outcome::Found(_, verdict) = outcome {
                entry[1] += 1;
                entry[2] += usize::from(*verdict == SpeakerVerdict::Right);
                entry[3] += usize::from(*verdict == SpeakerVerdict::WrongName);
            }
        }
    }
}

fn describe_failures(
    dir: &Path,
    article: &Article,
    quotes: &[Quote],
    score: &ArticleScore,
    out: &mut String,
) {
    let name = article
        .path
        .strip_prefix(dir)
        .unwrap_or(&article.path)
        .display();
    for (expected, outcome) in article.expected.quotes.iter().zip(&score.outcomes) {
        let wanted = match &expected.speaker {
            Some(speaker) => speaker.names().join(" / "),
            None => format!(
                "no name ({})",
                expected.role.as_deref().unwrap_or("unattributed")
            ),
        };
        let start = article.text.find(&expected.text).unwrap_or(0);
        match *outcome {
            Outcome::Missed => {
                let _ = writeln!(
                    out,
                    "MISSED  {name} @{start} {:?} [{}]",
                    excerpt(&expected.text),
                    expected.constructions.join(",")
                );
            }
            Outcome::Found(_, SpeakerVerdict::Right) => {}
            Outcome::Found(index, verdict) => {
                let label = match verdict {
                    SpeakerVerdict::WrongName => "WRONG  ",
                    SpeakerVerdict::GarbledName => "GARBLED",
                    _ => "NO NAME",
                };
                let _ = writeln!(
                    out,
                    "{label} {name} @{} {:?} expected {wanted:?} got {} [{}]",
                    quotes[index].span.start,
                    excerpt(&expected.text),
                    describe_speaker(&quotes[index]),
                    expected.constructions.join(",")
                );
            }
        }
    }
    for &index in &score.false_quotes {
        let quote = &quotes[index];
        let listed = if score.listed_non_quotes.contains(&index) {
            "listed non-quote"
        } else {
            "not expected"
        };
        let _ = writeln!(
            out,
            "FALSE   {name} @{} {:?} ({listed}; speaker {}, confidence {:.2})",
            quote.span.start,
            excerpt(&quote.text),
            describe_speaker(quote),
            quote.confidence
        );
    }
}

fn describe_speaker(quote: &Quote) -> String {
    match &quote.speaker {
        Some(speaker) => format!(
            "{:?} ({:?}, cue {:?}, confidence {:.2})",
            speaker.name,
            speaker.kind,
            quote.cue_verb.as_deref().unwrap_or("none"),
            quote.confidence
        ),
        None => format!(
            "no speaker (cue {:?}, confidence {:.2})",
            quote.cue_verb.as_deref().unwrap_or("none"),
            quote.confidence
        ),
    }
}

/// The first words of a quote, enough to find it again.
fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 60;
    if text.chars().count() <= MAX_CHARS {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX_CHARS).collect();
        format!("{cut}…")
    }
}
