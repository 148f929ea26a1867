//! Segmentation and quote-extraction timing on a ~3 KB article written for this benchmark.
//!
//! Usage: `bench_quotes [ITERATIONS]` (default 2000). Prints mean and median times per article
//! for segmentation, quote extraction without language detection, and the per-quote language
//! detection on top. Figures only.

use std::time::{Duration, Instant};

use precis_text::language::LanguageDetector;
use precis_text::name_oracle::{
    LtProcOracle, NameOracle, DEFAULT_APERTIUM_DIR, DEFAULT_REPLY_TIMEOUT,
};
use precis_text::quotes::{
    extract_quotes, extract_quotes_with_names, extract_quotes_with_oracle,
    extract_quotes_without_language,
};
use precis_text::segment::segment;

/// A news article written for this benchmark: several speakers, marks and paragraphs.
const ARTICLE: &str = "City Council Approves Riverside Housing Plan After Long Debate

The city council voted 7-2 on Tuesday night to approve a plan that will bring 1,200 new homes to the former rail yards along the river, ending a debate that lasted nearly three years.

Mayor Linda Park called the vote \"a turning point for families who have been priced out of this city.\" Speaking to reporters after the session, she said the first residents could move in by the spring of 2027.

\"We listened to every neighborhood meeting, every letter and every complaint,\" Park said. \"This plan is better because people pushed us to make it better.\"

Not everyone was convinced. Council member Robert Hale, who voted against the measure, said the plan \"does too little for the people who already live here.\" He told the council that rents in nearby streets had risen by 14.5 percent in two years.

“I am not against new homes,” Hale added. “I am against pretending that this fixes the problem.

“It does not, and we will be back here in five years.”

According to housing economist Maria Chen of the State University, the project is “a meaningful but partial step.” Chen said the city would need roughly four times as many units to keep prices stable, and she warned that construction costs were still climbing.

The developer, Riverside Partners, said in a written statement that it would reserve 30 percent of the homes for households earning less than the regional median. “Affordability is written into every contract we sign,” the statement said.

Residents who attended the meeting were divided. Dr. James O'Neill, a retired teacher who has lived near the rail yards for 40 years, said he worried about traffic. “The streets here were built for horses,” he said, laughing. “Now we are adding a thousand cars.”

Others welcomed the decision. “My daughter can finally afford to live near me,” said Grace Adeyemi, a nurse at the city hospital.

The transport minister said last week that the state would fund a new bus line to the area. The minister told a radio station that the line would open “as soon as the first homes are finished.”

Business owners on Canal Street said they hoped the new residents would bring customers back. “Half the shops on this block have closed since 2019,” said Tom Reyes, who runs a hardware store his grandfather opened in 1958. “We need people living here, not just driving through.” Reyes added that he would also like to see a small park, and the council promised to study the idea.

Environmental groups gave the plan a cautious welcome. In a joint letter, three local organizations wrote that the riverbank “must remain open to the public” and asked the council to publish soil tests from the old rail yards before any digging starts.

The plan now goes to the state planning board, which is expected to rule by the end of the year. Park said she was confident it would pass: “The hard part is behind us.”
";

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(2000);
    let detector = LanguageDetector::new();
    let segmentation = segment(ARTICLE);
    let quotes = extract_quotes(ARTICLE, &segmentation, &detector);
    println!(
        "article: {} bytes, {} paragraphs, {} sentences, {} quotes ({} with a speaker)",
        ARTICLE.len(),
        segmentation.paragraphs.len(),
        segmentation.sentences.len(),
        quotes.len(),
        quotes.iter().filter(|q| q.speaker.is_some()).count()
    );
    let segment_times = time(iterations, || {
        std::hint::black_box(segment(std::hint::black_box(ARTICLE)));
    });
    let pipeline_times = time(iterations, || {
        let segmentation = segment(std::hint::black_box(ARTICLE));
        std::hint::black_box(extract_quotes_without_language(ARTICLE, &segmentation));
    });
    let with_language_times = time(iterations.div_ceil(20), || {
        let segmentation = segment(std::hint::black_box(ARTICLE));
        std::hint::black_box(extract_quotes(ARTICLE, &segmentation, &detector));
    });
    // The same pipeline asking the Apertium analyser (one long-lived lt-proc child) about the
    // lone-word speakers, when the analysers are installed.
    let oracle = LtProcOracle::discover(
        std::path::Path::new(DEFAULT_APERTIUM_DIR),
        "lt-proc",
        DEFAULT_REPLY_TIMEOUT,
    );
    // A round trip that always reaches the analyser (the article's own speakers may need none).
    let oracle_times = oracle.languages().iter().any(|l| l == "en").then(|| {
        time(iterations, || {
            let segmentation = segment(std::hint::black_box(ARTICLE));
            std::hint::black_box(extract_quotes_with_names(
                ARTICLE,
                &segmentation,
                "en",
                &oracle,
            ));
            std::hint::black_box(oracle.tag_words("en", &["Park", "Hale", "Chen", "Reyes"]));
        })
    });
    // What the service's quote stage runs (`precis::names::NameAnalysers::extract_quotes`):
    // quotes, speakers checked by the analyser, and the language of each quote.
    let service_times = oracle.languages().iter().any(|l| l == "en").then(|| {
        time(iterations.div_ceil(20), || {
            let segmentation = segment(std::hint::black_box(ARTICLE));
            std::hint::black_box(extract_quotes_with_oracle(
                ARTICLE,
                &segmentation,
                &detector,
                "en",
                &oracle,
            ));
            std::hint::black_box(oracle.tag_words("en", &["Park", "Hale", "Chen", "Reyes"]));
        })
    });
    println!("| step | mean µs | median µs |");
    println!("|---|---:|---:|");
    report("segmentation", &segment_times);
    report(
        "segmentation + quotes (speakers, cues, scores)",
        &pipeline_times,
    );
    report("... + language of each quote", &with_language_times);
    match oracle_times {
        Some(times) => {
            report(
                "segmentation + quotes + Apertium name oracle (one lt-proc round trip)",
                &times,
            );
            if let Some(service) = &service_times {
                report(
                    "... + language of each quote (the service's quote stage)",
                    service,
                );
            }
            let budget = Duration::from_millis(5);
            let median = median(&times);
            println!(
                "segmentation + quotes + attribution with the analyser: median {:.3} ms = {:.1}% of the 5 ms budget ({:.0}x under it)",
                median.as_secs_f64() * 1e3,
                100.0 * median.as_secs_f64() / budget.as_secs_f64(),
                budget.as_secs_f64() / median.as_secs_f64().max(1e-9)
            );
            println!(
                "name oracle fallbacks: {}, restarts: {}",
                oracle.fallbacks(),
                oracle.restarts()
            );
        }
        None => println!("(no English Apertium analyser installed: name oracle row skipped)"),
    }
}

fn time(iterations: u32, mut run: impl FnMut()) -> Vec<Duration> {
    (0..iterations.max(1))
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect()
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn report(name: &str, times: &[Duration]) {
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let median = median(times);
    println!(
        "| {name} | {:.1} | {:.1} |",
        mean.as_secs_f64() * 1e6,
        median.as_secs_f64() * 1e6
    );
}
