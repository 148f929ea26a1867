//! An optional oracle on capitalised words: whether a morphological analyser knows a word as a
//! person's name, a place or an organisation. The quote rules work without one; with one,
//! a lone word the rules took for a speaker is dropped when the analyser knows it only as a
//! place or an organisation ("Milano", "Microsoft").
//!
//! [`LtProcOracle`] keeps one long-lived Apertium `lt-proc -z` child per language (std only:
//! a process, a reader thread, a channel with a bounded wait).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What an analyser knows a word as. All false: unknown, or a common word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NameTags {
    /// A first name (`<ant>`).
    pub person: bool,
    /// A surname (`<cog>`): analysers give many place names a surname reading too, so it is
    /// weak evidence of a person.
    pub surname: bool,
    /// A place (`<top>`, older pairs `<loc>`).
    pub place: bool,
    pub organisation: bool,
}

impl NameTags {
    /// Known as a place or an organisation and never as a first name.
    pub fn only_place_or_organisation(self) -> bool {
        (self.place || self.organisation) && !self.person
    }
}

/// Tags capitalised words of one language. The default knows nothing (rules decide alone).
pub trait NameOracle: Send + Sync {
    /// The tags of each word, in order; None when the oracle cannot answer for this language
    /// or this call (then the rules alone decide).
    fn tag_words(&self, _language: &str, _words: &[&str]) -> Option<Vec<NameTags>> {
        None
    }
}

/// The oracle that knows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoNameOracle;

impl NameOracle for NoNameOracle {}

/// Where Debian's Apertium pair packages install their analysers.
pub const DEFAULT_APERTIUM_DIR: &str = "/usr/share/apertium";

/// How long one article's words may take to come back before the child is taken as hung.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_millis(500);

/// A child just started first loads its analyser (about 0.1 s for one under
/// [`MAX_ANALYSER_BYTES`] on an idle machine): its first reply may take this many times the
/// reply bound.
pub const STARTUP_TIMEOUT_FACTOR: u32 = 4;

/// Analysers larger than this are passed over when a smaller one of the language exists: the
/// French-Occitan analyser (5.6 MB) takes 1.5 s and 250 MB to load, French-Catalan (0.9 MB)
/// 0.1 s and 30 MB, and both tag "Bretagne" a place and "Marchal" a surname.
pub const MAX_ANALYSER_BYTES: u64 = 2_000_000;

/// One `lt-proc -z` child per language, found at start by language code in an Apertium
/// directory (`apertium-*/<code>-*.automorf.bin`, ISO 639-1 or 639-3 code).
pub struct LtProcOracle {
    program: PathBuf,
    timeout: Duration,
    analysers: HashMap<String, Mutex<Analyser>>,
    fallbacks: AtomicU64,
    restarts: AtomicU64,
}

struct Analyser {
    file: PathBuf,
    running: Option<Running>,
    /// Whether a child was ever started: any later start is a restart.
    started_once: bool,
    /// Failures in a row; each doubles the pause before the next start.
    failures_in_a_row: u32,
    /// While set and in the future, the rules answer alone without asking: an analyser that
    /// keeps failing would otherwise cost every article of its language the reply bound.
    paused_until: Option<Instant>,
}

/// The first pause after a failure; it doubles with each failure in a row, up to
/// [`MAX_PAUSE_AFTER_FAILURE`]. One success ends it.
pub const FIRST_PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// The longest pause between two tries of a failing analyser.
pub const MAX_PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(60);

struct Running {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<Vec<u8>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ISO 639-1 codes served and their ISO 639-3 spelling in Apertium file names.
const LANGUAGE_CODES: &[(&str, &str)] = &[
    ("en", "eng"),
    ("fr", "fra"),
    ("es", "spa"),
    ("it", "ita"),
    ("pt", "por"),
    ("ca", "cat"),
    ("gl", "glg"),
    ("nl", "nld"),
    ("ro", "ron"),
    ("eu", "eus"),
    ("da", "dan"),
    ("sv", "swe"),
    ("nb", "nob"),
    ("ru", "rus"),
    ("uk", "ukr"),
];

impl LtProcOracle {
    /// Analysers found in `dir` for the languages served, run with `program` (`lt-proc`).
    pub fn discover(dir: &Path, program: impl Into<PathBuf>, timeout: Duration) -> Self {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|pair| pair.file_name().to_string_lossy().starts_with("apertium-"))
            .flat_map(|pair| {
                std::fs::read_dir(pair.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|entry| entry.path())
            .filter(|path| {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                // Variants ("oc@aran", "por_BR") are left for the plain analyser.
                name.is_some_and(|n| {
                    n.ends_with(".automorf.bin") && !n.contains('@') && !n.contains('_')
                })
            })
            .collect();
        files.sort();
        let mut analysers = HashMap::new();
        for &(short, long) in LANGUAGE_CODES {
            // The largest analyser of the language knows the most names; past
            // MAX_ANALYSER_BYTES, the smallest (start-up time and memory per child).
            let sized: Vec<(u64, &PathBuf)> = files
                .iter()
                .filter(|path| {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    name.starts_with(&format!("{short}-")) || name.starts_with(&format!("{long}-"))
                })
                .map(|path| (std::fs::metadata(path).map_or(0, |m| m.len()), path))
                .collect();
            let found = sized
                .iter()
                .filter(|(size, _)| *size <= MAX_ANALYSER_BYTES)
                .max_by_key(|(size, _)| *size)
                .or_else(|| sized.iter().min_by_key(|(size, _)| *size))
                .map(|(_, path)| *path);
            if let Some(file) = found {
                analysers.insert(
                    short.to_string(),
                    Mutex::new(Analyser {
                        file: file.clone(),
                        running: None,
                        started_once: false,
                        failures_in_a_row: 0,
                        paused_until: None,
                    }),
                );
            }
        }
        Self {
            program: program.into(),
            timeout,
            analysers,
            fallbacks: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
        }
    }

    /// The languages (ISO 639-1) an analyser was found for, sorted.
    pub fn languages(&self) -> Vec<String> {
        let mut languages: Vec<String> = self.analysers.keys().cloned().collect();
        languages.sort();
        languages
    }

    /// The analyser file used for a language.
    pub fn analyser_file(&self, language: &str) -> Option<PathBuf> {
        let analyser = self.analysers.get(language)?.lock().ok()?;
        Some(analyser.file.clone())
    }

    /// Calls the rules answered alone because an analyser failed, hung or could not start.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Children started again after one died, hung or could not start.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The process id of a language's running child, if one runs.
    pub fn child_id(&self, language: &str) -> Option<u32> {
        let analyser = self.analysers.get(language)?.lock().ok()?;
        analyser.running.as_ref().map(|running| running.child.id())
    }

    fn ask(&self, analyser: &mut Analyser, words: &[&str]) -> Option<Vec<NameTags>> {
        // A child that died since the last call fails to take the words: start a new one and
        // try once more.
        for _ in 0..2 {
            let fresh = analyser.running.is_none();
            if fresh {
                if analyser.started_once {
                    self.restarts.fetch_add(1, Ordering::Relaxed);
                }
                analyser.started_once = true;
                analyser.running = start(&self.program, &analyser.file);
            }
            let bound = if fresh {
                self.timeout * STARTUP_TIMEOUT_FACTOR
            } else {
                self.timeout
            };
            let running = analyser.running.as_mut()?;
            let mut request = String::new();
            for word in words {
                request.push_str(&escape(word));
                request.push('\n');
            }
            request.push('\0');
            let written = running.stdin.write_all(request.as_bytes()).is_ok()
                && running.stdin.flush().is_ok();
            if !written {
                analyser.running = None;
                continue;
            }
            return match running.replies.recv_timeout(bound) {
                Ok(reply) => Some(parse(&String::from_utf8_lossy(&reply), words)),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    // Hung or died mid-reply: its next answer could belong to these words.
                    analyser.running = None;
                    None
                }
            };
        }
        None
    }
}

impl NameOracle for LtProcOracle {
    fn tag_words(&self, language: &str, words: &[&str]) -> Option<Vec<NameTags>> {
        let analyser = self.analysers.get(language)?;
        if words.is_empty() {
            return Some(Vec::new());
        }
        let answer = match analyser.lock() {
            Ok(mut analyser) => {
                if analyser
                    .paused_until
                    .is_some_and(|until| Instant::now() < until)
                {
                    None
                } else {
                    let answer = self.ask(&mut analyser, words);
                    if answer.is_some() {
                        analyser.failures_in_a_row = 0;
                        analyser.paused_until = None;
                    } else {
                        analyser.failures_in_a_row = analyser.failures_in_a_row.saturating_add(1);
                        let pause = FIRST_PAUSE_AFTER_FAILURE
                            .saturating_mul(1 << (analyser.failures_in_a_row - 1).min(16))
                            .min(MAX_PAUSE_AFTER_FAILURE);
                        analyser.paused_until = Some(Instant::now() + pause);
                    }
                    answer
                }
            }
            Err(_) => None,
        };
        if answer.is_none() {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }
}

fn start(program: &Path, file: &Path) -> Option<Running> {
    let mut child = Command::new(program)
        .arg("-z")
        .arg(file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    let stdout = child.stdout.take()?;
    let (sender, replies) = mpsc::channel();
    // The reader ends when the child's stdout closes (the child exited or was killed).
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut reply = Vec::new();
            match reader.read_until(0, &mut reply) {
                Ok(0) | Err(_) => break,
                // lt-proc -z may follow a reply's NUL with another one: skip empty replies,
                // or the next request would read this one's tail.
                Ok(_) if reply.iter().all(|&b| b == 0 || b.is_ascii_whitespace()) => {}
                Ok(_) => {
                    if sender.send(reply).is_err() {
                        break;
                    }
                }
            }
        }
    });
    Some(Running {
        child,
        stdin,
        replies,
    })
}

/// A word as lt-proc reads it: its stream format's reserved characters escaped.
fn escape(word: &str) -> String {
    let mut escaped = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(
            c,
            '^' | '$' | '/' | '<' | '>' | '[' | ']' | '\\' | '@' | '{' | '}'
        ) {
            escaped.push('\\');
        }
        if c == '\n' || c == '\0' {
            escaped.push(' ');
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// The tags of each asked word from lt-proc's `^surface/lemma<tags>/…$` units, matched by
/// surface form (a word the analyser split or joined gets no tags).
fn parse(reply: &str, words: &[&str]) -> Vec<NameTags> {
    let mut by_surface: HashMap<&str, NameTags> = HashMap::new();
    for unit in reply.split('^').skip(1) {
        let unit = unit.split('$').next().unwrap_or("");
        let mut readings = unit.split('/');
        let surface = readings.next().unwrap_or("");
        let mut tags = NameTags::default();
        for reading in readings {
            if reading.contains("<np>") {
                tags.person |= reading.contains("<ant>");
                tags.surname |= reading.contains("<cog>");
                tags.place |= reading.contains("<top>") || reading.contains("<loc>");
                tags.organisation |= reading.contains("<al>") || reading.contains("<org>");
            }
        }
        by_surface.insert(surface, tags);
    }
    words
        .iter()
        .map(|word| by_surface.get(word).copied().unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_read_into_tags() {
        let reply = "^Paris/Paris<np><top><sg>/Paris<np><ant><f><sg>$\n^Milano/Milano<np><loc>$\n\
                     ^Smith/Smith<n><sg>/Smith<np><cog><sg>$\n^house/house<n><sg>$\n";
        let tags = parse(reply, &["Milano", "Smith", "house", "Nowhere"]);
        assert!(tags[0].only_place_or_organisation());
        assert!(tags[1].surname && !tags[1].person && !tags[1].place);
        assert_eq!(tags[2], NameTags::default());
        assert_eq!(tags[3], NameTags::default());
    }

    #[test]
    fn reserved_characters_are_escaped() {
        assert_eq!(escape("a^b$c/d"), "a\\^b\\$c\\/d");
        assert_eq!(escape("x\0y"), "x y");
    }

    #[test]
    fn the_default_oracle_knows_nothing() {
        assert_eq!(NoNameOracle.tag_words("en", &["Paris"]), None);
    }
}
