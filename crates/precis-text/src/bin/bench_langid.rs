//! Language-identification benchmark: precis, whatlang alone and lingua alone, side by side.
//!
//! Usage: `bench_langid [--lines N] [EVAL_DIR]` where EVAL_DIR holds `<iso639-1>/{sentences,
//! word-pairs,single-words}.txt` (default `../shared/eval/langid`, relative to the repository
//! root); `--lines N` reads only the first N lines of each file (a quicker, rougher run).
//!
//! Each detector runs in a child process of its own (this binary again, with `--detector`), one
//! after the other on one core, so its peak memory (VmHWM) is its own. Prints accuracy per
//! language and length class, the means, throughput and peak memory. Figures only: no text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use precis_text::language::{lingua_language_of, LanguageDetector};

const DEFAULT_EVAL_DIR: &str = "../shared/eval/langid";
const CLASSES: [&str; 3] = ["sentences", "word-pairs", "single-words"];
const DETECTORS: [&str; 3] = ["precis", "whatlang", "lingua"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("--detector") => match (args.get(2), args.get(3), args.get(4)) {
            (Some(detector), Some(dir), Some(lines)) => match lines.parse() {
                Ok(lines) => run_child(detector, Path::new(dir), lines),
                Err(_) => Err(format!("bad line count {lines}")),
            },
            _ => Err("usage: bench_langid --detector NAME EVAL_DIR LINES".to_string()),
        },
        Some("-h" | "--help") => {
            println!("usage: bench_langid [--lines N] [EVAL_DIR]   (default {DEFAULT_EVAL_DIR})");
            Ok(())
        }
        Some("--lines") => match args.get(2).map(|n| n.parse::<usize>()) {
            Some(Ok(lines)) => run_parent(
                Path::new(args.get(3).map_or(DEFAULT_EVAL_DIR, String::as_str)),
                lines,
            ),
            _ => Err("usage: bench_langid --lines N [EVAL_DIR]".to_string()),
        },
        dir => run_parent(Path::new(dir.unwrap_or(DEFAULT_EVAL_DIR)), usize::MAX),
    };
    if let Err(message) = result {
        eprintln!("bench_langid: {message}");
        std::process::exit(1);
    }
}

/// A detector under test: the ISO 639-1 code it gives, if any, and its confidence if it
/// states one.
type DetectFn = dyn Fn(&str) -> (Option<String>, Option<f64>);

/// Confidence bins of the calibration table: [0, 0.1), [0.1, 0.2), … [0.9, 1].
const CALIBRATION_BINS: usize = 10;

/// One length class of one language: the expected code and its lines.
struct Sample {
    language: String,
    class: &'static str,
    lines: Vec<String>,
}

fn load_samples(dir: &Path, max_lines: usize) -> Result<Vec<Sample>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut languages: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            )
        })
        .collect();
    languages.sort();
    let mut samples = Vec::new();
    for (language, path) in languages {
        for class in CLASSES {
            let file = path.join(format!("{class}.txt"));
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let lines = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(max_lines)
                .map(str::to_string)
                .collect();
            samples.push(Sample {
                language: language.clone(),
                class,
                lines,
            });
        }
    }
    if samples.is_empty() {
        return Err(format!("no language folders in {}", dir.display()));
    }
    Ok(samples)
}

/// Runs one detector over every sample and prints tab-separated records for the parent.
fn run_child(detector: &str, dir: &Path, max_lines: usize) -> Result<(), String> {
    let samples = load_samples(dir, max_lines)?;
    let started = Instant::now();
    let detect: Box<DetectFn> = match detector {
        "precis" => {
            let precis = LanguageDetector::new();
            Box::new(move |text| {
                let detection = precis.detect(text);
                (Some(detection.iso639_1), Some(detection.confidence))
            })
        }
        "whatlang" => Box::new(|text| {
            let code = whatlang::detect_lang(text)
                .and_then(lingua_language_of)
                .map(|language| language.iso_code_639_1().to_string());
            (code, None)
        }),
        "lingua" => {
            let lingua = lingua::LanguageDetectorBuilder::from_all_languages()
                .with_preloaded_language_models()
                .build();
            Box::new(move |text| {
                let code = lingua
                    .detect_language_of(text)
                    .map(|language| language.iso_code_639_1().to_string());
                (code, None)
            })
        }
        other => return Err(format!("unknown detector {other}")),
    };
    println!("setup\t{:.3}", started.elapsed().as_secs_f64());
    for class in CLASSES {
        let (mut bytes, mut lines, mut seconds) = (0usize, 0usize, 0f64);
        // Per bin: lines, correct lines, summed confidence.
        let mut bins = [(0usize, 0usize, 0f64); CALIBRATION_BINS];
        for sample in samples.iter().filter(|s| s.class == class) {
            let started = Instant::now();
            let mut correct = 0;
            for line in &sample.lines {
                let (code, confidence) = detect(line);
                let is_correct = code.as_deref() == Some(sample.language.as_str());
                correct += usize::from(is_correct);
                if let Some(confidence) = confidence {
                    let bin =
                        ((confidence * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
                    bins[bin].0 += 1;
                    bins[bin].1 += usize::from(is_correct);
                    bins[bin].2 += confidence;
                }
            }
            seconds += started.elapsed().as_secs_f64();
            bytes += sample.lines.iter().map(String::len).sum::<usize>();
            lines += sample.lines.len();
            println!(
                "acc\t{class}\t{}\t{correct}\t{}",
                sample.language,
                sample.lines.len()
            );
        }
        println!("speed\t{class}\t{bytes}\t{lines}\t{seconds:.6}");
        for (bin, (count, correct, confidence_sum)) in bins.iter().enumerate() {
            if *count > 0 {
                println!("cal\t{class}\t{bin}\t{count}\t{correct}\t{confidence_sum:.6}");
            }
        }
    }
    println!("vmhwm_kb\t{}", peak_memory_kb().unwrap_or(0));
    Ok(())
}

fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[derive(Default)]
struct Report {
    /// (class, language) → accuracy in percent.
    accuracy: BTreeMap<(String, String), f64>,
    /// class → (bytes, lines, seconds).
    speed: BTreeMap<String, (f64, f64, f64)>,
    setup_seconds: f64,
    peak_kb: u64,
    /// (class, bin) → (lines, correct, summed confidence).
    calibration: BTreeMap<(String, usize), (f64, f64, f64)>,
}

fn run_parent(dir: &Path, max_lines: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut reports = Vec::new();
    for detector in DETECTORS {
        eprintln!("running {detector} …");
        let output = Command::new(&exe)
            .args(["--detector", detector])
            .arg(dir)
            .arg(max_lines.to_string())
            .output()
            .map_err(|e| format!("cannot run child: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "{detector} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        reports.push(parse_report(&String::from_utf8_lossy(&output.stdout)));
    }
    print_tables(&reports);
    print_calibration(&reports);
    Ok(())
}

fn parse_report(stdout: &str) -> Report {
    let mut report = Report::default();
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let number = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        match fields.first().copied() {
            Some("acc") if fields.len() == 5 => {
                let total = number(4).max(1.0);
                report.accuracy.insert(
                    (fields[1].to_string(), fields[2].to_string()),
                    100.0 * number(3) / total,
                );
            }
            Some("speed") if fields.len() == 5 => {
                report
                    .speed
                    .insert(fields[1].to_string(), (number(2), number(3), number(4)));
            }
            Some("cal") if fields.len() == 6 => {
                let bin = number(2) as usize;
                report.calibration.insert(
                    (fields[1].to_string(), bin),
                    (number(3), number(4), number(5)),
                );
            }
            Some("setup") => report.setup_seconds = number(1),
            Some("vmhwm_kb") => report.peak_kb = number(1) as u64,
            _ => {}
        }
    }
    report
}

/// Accuracy against stated confidence, per class, for detectors that state one; and the
/// expected calibration error (the line-weighted gap between the two).
fn print_calibration(reports: &[Report]) {
    for (detector, report) in DETECTORS.iter().zip(reports) {
        if report.calibration.is_empty() {
            continue;
        }
        println!("\n## Calibration of {detector}: accuracy per confidence bin\n");
        println!("| class | confidence bin | lines | mean confidence | accuracy |");
        println!("|---|---|---:|---:|---:|");
        for class in CLASSES {
            let rows: Vec<(usize, (f64, f64, f64))> = report
                .calibration
                .iter()
                .filter(|((c, _), _)| c == class)
                .map(|((_, bin), values)| (*bin, *values))
                .collect();
            let total: f64 = rows.iter().map(|(_, (lines, _, _))| lines).sum();
            let ece: f64 = rows
                .iter()
                .map(|(_, (_, correct, confidence))| (correct - confidence).abs() / total.max(1.0))
                .sum();
            for (bin, (lines, correct, confidence)) in &rows {
                println!(
                    "| {class} | {:.1}–{:.1} | {lines:.0} | {:.3} | {:.3} |",
                    *bin as f64 / CALIBRATION_BINS as f64,
                    (*bin + 1) as f64 / CALIBRATION_BINS as f64,
                    confidence / lines,
                    correct / lines,
                );
            }
            println!("| {class} | expected calibration error | {total:.0} | | {ece:.3} |");
        }
    }
}

fn print_tables(reports: &[Report]) {
    let languages: Vec<String> = reports[0]
        .accuracy
        .keys()
        .filter(|(class, _)| class == CLASSES[0])
        .map(|(_, language)| language.clone())
        .collect();
    println!("## Accuracy per language (%): sentences | word pairs | single words\n");
    print!("| lang |");
    for detector in DETECTORS {
        print!(" {detector} sent | {detector} pairs | {detector} words |");
    }
    println!();
    println!("|---|{}", "---:|".repeat(DETECTORS.len() * CLASSES.len()));
    for language in &languages {
        print!("| {language} |");
        for report in reports {
            for class in CLASSES {
                let value = report.accuracy.get(&(class.to_string(), language.clone()));
                print!(" {:.1} |", value.copied().unwrap_or(f64::NAN));
            }
        }
        println!();
    }
    println!("\n## Summary ({} languages)\n", languages.len());
    println!("| detector | sentences % | word pairs % | single words % | sentences MB/s | sentences lines/s | word pairs lines/s | single words lines/s | setup s | peak memory MB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (detector, report) in DETECTORS.iter().zip(reports) {
        let mean = |class: &str| {
            let values: Vec<f64> = report
                .accuracy
                .iter()
                .filter(|((c, _), _)| c == class)
                .map(|(_, v)| *v)
                .collect();
            values.iter().sum::<f64>() / values.len().max(1) as f64
        };
        let rate = |class: &str| report.speed.get(class).copied().unwrap_or((0.0, 0.0, 1.0));
        let (sentence_bytes, sentence_lines, sentence_seconds) = rate("sentences");
        let lines_per_second = |class: &str| {
            let (_, lines, seconds) = rate(class);
            lines / seconds.max(1e-9)
        };
        println!(
            "| {detector} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} |",
            mean("sentences"),
            mean("word-pairs"),
            mean("single-words"),
            sentence_bytes / sentence_seconds.max(1e-9) / 1e6,
            sentence_lines / sentence_seconds.max(1e-9),
            lines_per_second("word-pairs"),
            lines_per_second("single-words"),
            report.setup_seconds,
            report.peak_kb as f64 / 1024.0,
        );
    }
}
