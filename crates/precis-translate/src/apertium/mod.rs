//! The rule-based engine: Apertium, one long-lived null-flush pipeline per installed pair, owned
//! by a dedicated worker thread fed by a bounded queue.

mod pipeline;
mod stream;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use serde::Serialize;

use crate::engine::{EngineInfo, EngineKind, EngineOutput, Translator};
use crate::error::TranslateError;
use crate::language::iso639_1_of;
use crate::pair::LanguagePair;
use pipeline::{ExchangeFailure, PipelineSpec, RunningPipeline};

/// Where Debian's `apertium` packages put their data; the same default as Apertium's own scripts.
pub const DEFAULT_DATA_DIR: &str = "/usr/share/apertium";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApertiumConfig {
    /// Holds `modes/<pair>.mode`, one file per installed direction.
    pub data_dir: PathBuf,
    /// Batches waiting per pair; a caller blocks (up to its deadline) while the queue is full.
    pub queue_capacity: usize,
    /// Longest time one batch may take even without a caller deadline, so a stuck pipeline is
    /// always killed and restarted.
    pub batch_timeout: Duration,
}

impl Default for ApertiumConfig {
    fn default() -> Self {
        ApertiumConfig {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            queue_capacity: 32,
            batch_timeout: Duration::from_secs(60),
        }
    }
}

/// One installed translation direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApertiumMode {
    /// Apertium's name, ISO 639-3 or 639-1 (`eng-spa`, `en-gl`, `fr-es`).
    pub name: String,
    /// The same pair in ISO 639-1 (`en`→`es`).
    pub pair: LanguagePair,
    pub mode_file: PathBuf,
}

/// Lists the installed directions from `<data_dir>/modes`, sorted by name.
///
/// Only plain `xxx-yyy` modes whose both sides have an ISO 639-1 code are offered (and the
/// Serbo-Croatian standards, see [`SERBO_CROATIAN_STANDARDS`]); other variants (`es-pt_BR`,
/// `eng-cat_valencia`) and odd names (`eco-es-fr`) are skipped. When two modes give
/// the same ISO 639-1 pair, the first by name wins.
pub fn discover_modes(config: &ApertiumConfig) -> Result<Vec<ApertiumMode>, TranslateError> {
    let modes_dir = config.data_dir.join("modes");
    let entries = std::fs::read_dir(&modes_dir).map_err(|error| {
        TranslateError::engine_failure(
            "apertium",
            format!(
                "cannot read {} ({error}); is apertium installed? Run the project's setup script",
                modes_dir.display()
            ),
        )
    })?;
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "mode")
        })
        .filter_map(|path| {
            let stem = path.file_stem()?.to_str()?.to_string();
            Some((stem, path))
        })
        .collect();
    names.sort();
    let mut modes: Vec<ApertiumMode> = Vec::new();
    for (name, mode_file) in names {
        let pairs = pairs_of_mode_name(&name);
        if pairs.is_empty() {
            tracing::debug!(mode = %name, "skipping Apertium mode that is not a plain pair");
        }
        for pair in pairs {
            if modes.iter().any(|mode| mode.pair == pair) {
                tracing::debug!(mode = %name, "skipping Apertium mode duplicating a pair");
                continue;
            }
            modes.push(ApertiumMode {
                name: name.clone(),
                pair,
                mode_file: mode_file.clone(),
            });
        }
    }
    Ok(modes)
}

/// Apertium's Serbo-Croatian modes write one standard each (`eng-hbs_HR`); ISO 639-1 names
/// the standards, which is what clients and the detector use.
const SERBO_CROATIAN_STANDARDS: [(&str, &str); 3] =
    [("hbs_HR", "hr"), ("hbs_SR", "sr"), ("hbs_BS", "bs")];

/// The ISO 639-1 pairs a mode serves: usually one; a Serbo-Croatian source serves its three
/// standards too (the analyser reads them all).
fn pairs_of_mode_name(name: &str) -> Vec<LanguagePair> {
    let Some((source, target)) = name.split_once('-') else {
        return Vec::new();
    };
    let sources: Vec<String> = match source {
        "hbs" => ["sh", "hr", "sr", "bs"].map(String::from).to_vec(),
        plain => plain_language(plain).into_iter().collect(),
    };
    let target = SERBO_CROATIAN_STANDARDS
        .iter()
        .find(|(mode_code, _)| *mode_code == target)
        .map(|(_, iso)| iso.to_string())
        .or_else(|| plain_language(target));
    let Some(target) = target else {
        return Vec::new();
    };
    sources
        .into_iter()
        .map(|source| LanguagePair::new(source, target.clone()))
        .collect()
}

/// A plain two- or three-letter code in ISO 639-1; variants (`pt_BR`, `cat_valencia`) are not.
fn plain_language(code: &str) -> Option<String> {
    let plain = (2..=3).contains(&code.len()) && code.bytes().all(|byte| byte.is_ascii_lowercase());
    if !plain {
        return None;
    }
    match code {
        // Apertium's Malay is the standard language of Malaysia, which ISO 639-1 `ms` names.
        "zlm" => Some("ms".to_string()),
        other => iso639_1_of(other),
    }
}

/// Starts an engine for every installed direction (pipelines spawn on first use).
pub fn start_installed(
    config: &ApertiumConfig,
) -> Result<Vec<Arc<ApertiumEngine>>, TranslateError> {
    discover_modes(config)?
        .iter()
        .map(|mode| ApertiumEngine::start(mode, config).map(Arc::new))
        .collect()
}

struct Job {
    texts: Vec<String>,
    deadline: Instant,
    reply: Sender<Result<Vec<EngineOutput>, TranslateError>>,
}

/// What the worker shares with the engine handle, for diagnostics and tests.
#[derive(Default)]
struct PipelineStatus {
    pids: Mutex<Vec<u32>>,
    restarts: AtomicU64,
    started_once: AtomicBool,
}

/// Apertium for one pair. Cheap to share; all calls go through one worker thread and one pipeline.
pub struct ApertiumEngine {
    info: EngineInfo,
    jobs: Option<Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    status: Arc<PipelineStatus>,
    batch_timeout: Duration,
}

impl std::fmt::Debug for ApertiumEngine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ApertiumEngine")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl ApertiumEngine {
    /// Resolves the mode's pipeline and starts its worker thread. The processes start with the
    /// first batch (or [`ApertiumEngine::warm_up`]), so unused pairs cost no memory.
    pub fn start(mode: &ApertiumMode, config: &ApertiumConfig) -> Result<Self, TranslateError> {
        let id = format!("apertium/{}", mode.name);
        let spec = pipeline::pipeline_spec(&mode.mode_file)
            .map_err(|detail| TranslateError::engine_failure(&id, detail))?;
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(config.queue_capacity.max(1));
        let status = Arc::new(PipelineStatus::default());
        let worker_state = Worker {
            engine_id: id.clone(),
            spec,
            pipeline: None,
            status: Arc::clone(&status),
        };
        let worker = thread::Builder::new()
            .name(format!("apertium-{}", mode.name))
            .spawn(move || worker_state.run(queue))
            .map_err(|error| {
                TranslateError::engine_failure(&id, format!("cannot start worker: {error}"))
            })?;
        Ok(ApertiumEngine {
            info: EngineInfo {
                id,
                kind: EngineKind::RuleBased,
                pair: mode.pair.clone(),
            },
            jobs: Some(jobs),
            worker: Some(worker),
            status,
            batch_timeout: config.batch_timeout,
        })
    }

    /// Starts the pipeline now (translating one word), so the first request does not pay for it.
    pub fn warm_up(&self, deadline: Option<Instant>) -> Result<(), TranslateError> {
        self.translate_batch(&["1".to_string()], deadline)
            .map(|_| ())
    }

    /// Process ids of the running pipeline's programs, in pipe order; empty before first use.
    pub fn pipeline_pids(&self) -> Vec<u32> {
        self.status
            .pids
            .lock()
            .map(|pids| pids.clone())
            .unwrap_or_default()
    }

    /// How many times the pipeline was restarted after dying or timing out.
    pub fn restart_count(&self) -> u64 {
        self.status.restarts.load(Ordering::Relaxed)
    }

    fn submit(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<EngineOutput>, TranslateError> {
        let now = Instant::now();
        if deadline.is_some_and(|deadline| now >= deadline) {
            return Err(TranslateError::DeadlineExceeded);
        }
        let worker_deadline = match deadline {
            Some(deadline) => deadline.min(now + self.batch_timeout),
            None => now + self.batch_timeout,
        };
        let (reply, replies) = crossbeam_channel::bounded(1);
        let job = Job {
            texts: texts.to_vec(),
            deadline: worker_deadline,
            reply,
        };
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| TranslateError::engine_failure(&self.info.id, "engine stopped"))?;
        jobs.send_deadline(job, worker_deadline)
            .map_err(|error| match error {
                SendTimeoutError::Timeout(_) => TranslateError::DeadlineExceeded,
                SendTimeoutError::Disconnected(_) => {
                    TranslateError::engine_failure(&self.info.id, "worker thread stopped")
                }
            })?;
        // The worker replies by its deadline; a little slack covers killing a stuck pipeline.
        let result = match replies.recv_deadline(worker_deadline + Duration::from_secs(5)) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(TranslateError::DeadlineExceeded),
            Err(RecvTimeoutError::Disconnected) => Err(TranslateError::engine_failure(
                &self.info.id,
                "worker thread stopped",
            )),
        };
        // Out of time while the caller still had some: the engine's own limit fired.
        let caller_still_waits = deadline.is_none_or(|deadline| Instant::now() < deadline);
        match result {
            Err(TranslateError::DeadlineExceeded) if caller_still_waits => {
                Err(TranslateError::EngineTimedOut {
                    engine: self.info.id.clone(),
                    waited_ms: self.batch_timeout.as_millis() as u64,
                })
            }
            other => other,
        }
    }
}

impl Translator for ApertiumEngine {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn translate_batch(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, TranslateError> {
        Ok(self
            .submit(texts, deadline)?
            .into_iter()
            .map(|output| output.text)
            .collect())
    }

    fn translate_batch_annotated(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<EngineOutput>, TranslateError> {
        self.submit(texts, deadline)
    }
}

impl Drop for ApertiumEngine {
    fn drop(&mut self) {
        // Closing the queue ends the worker, which kills its pipeline.
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

struct Worker {
    engine_id: String,
    spec: PipelineSpec,
    pipeline: Option<RunningPipeline>,
    status: Arc<PipelineStatus>,
}

impl Worker {
    fn run(mut self, queue: Receiver<Job>) {
        for job in queue {
            // A caller that has given up is not served.
            let result = if Instant::now() >= job.deadline {
                Err(TranslateError::DeadlineExceeded)
            } else {
                self.translate(&job.texts, job.deadline)
            };
            let _ = job.reply.send(result);
        }
        self.replace_pipeline(None);
    }

    fn translate(
        &mut self,
        texts: &[String],
        deadline: Instant,
    ) -> Result<Vec<EngineOutput>, TranslateError> {
        // Blank texts never reach Apertium; the others keep their outer whitespace.
        let mut segments = Vec::new();
        let mut slots = Vec::with_capacity(texts.len());
        for text in texts {
            let core = text.trim();
            if core.is_empty() {
                slots.push(None);
            } else {
                slots.push(Some(segments.len()));
                segments.push(stream::encode(core));
            }
        }
        let raw_outputs = if segments.is_empty() {
            Vec::new()
        } else {
            self.exchange_with_retry(&segments, deadline)?
        };
        tracing::debug!(engine = %self.engine_id, segments = segments.len(), "apertium batch done");
        Ok(texts
            .iter()
            .zip(slots)
            .map(
                |(text, slot)| match slot.and_then(|index| raw_outputs.get(index)) {
                    None => EngineOutput {
                        text: text.clone(),
                        unknown_words: Vec::new(),
                    },
                    Some(raw) => {
                        let decoded = stream::decode(&String::from_utf8_lossy(raw));
                        let leading = &text[..text.len() - text.trim_start().len()];
                        let trailing = &text[text.trim_end().len()..];
                        EngineOutput {
                            text: format!("{leading}{}{trailing}", tidy_spaces(&decoded.text)),
                            unknown_words: decoded.unknown_words,
                        }
                    }
                },
            )
            .collect())
    }

    /// One exchange; if the pipeline died under it (crash, kill), one more on a fresh pipeline.
    fn exchange_with_retry(
        &mut self,
        segments: &[String],
        deadline: Instant,
    ) -> Result<Vec<Vec<u8>>, TranslateError> {
        let mut last_failure = String::new();
        for _attempt in 0..2 {
            if Instant::now() >= deadline {
                return Err(TranslateError::DeadlineExceeded);
            }
            let pipeline = self.live_pipeline()?;
            match pipeline.exchange(segments, deadline) {
                Ok(outputs) => return Ok(outputs),
                Err(ExchangeFailure::TimedOut) => {
                    tracing::warn!(engine = %self.engine_id, "apertium batch timed out; restarting the pipeline");
                    self.replace_pipeline(None);
                    return Err(TranslateError::DeadlineExceeded);
                }
                Err(ExchangeFailure::Died(detail)) => {
                    tracing::warn!(engine = %self.engine_id, %detail, "apertium pipeline died; restarting it");
                    self.replace_pipeline(None);
                    last_failure = detail;
                }
            }
        }
        Err(TranslateError::engine_failure(
            &self.engine_id,
            last_failure,
        ))
    }

    fn live_pipeline(&mut self) -> Result<&mut RunningPipeline, TranslateError> {
        let alive = self
            .pipeline
            .as_mut()
            .is_some_and(RunningPipeline::is_alive);
        if !alive {
            if self.pipeline.is_some() {
                tracing::warn!(engine = %self.engine_id, "apertium pipeline exited; restarting it");
            }
            let fresh = RunningPipeline::spawn(&self.spec)
                .map_err(|detail| TranslateError::engine_failure(&self.engine_id, detail))?;
            // Every start after the first replaces a pipeline that died or was stopped.
            if self.status.started_once.swap(true, Ordering::Relaxed) {
                self.status.restarts.fetch_add(1, Ordering::Relaxed);
            }
            self.replace_pipeline(Some(fresh));
        }
        self.pipeline
            .as_mut()
            .ok_or_else(|| TranslateError::engine_failure(&self.engine_id, "pipeline not running"))
    }

    fn replace_pipeline(&mut self, next: Option<RunningPipeline>) {
        let pids = next.as_ref().map(RunningPipeline::pids).unwrap_or_default();
        // Dropping the old pipeline kills its processes.
        self.pipeline = next;
        if let Ok(mut shared) = self.status.pids.lock() {
            *shared = pids;
        }
    }
}

/// Apertium leaves double spaces where it drops a word (pro-drop, removed tags).
fn tidy_spaces(text: &str) -> String {
    let mut tidy = String::with_capacity(text.len());
    for character in text.trim().chars() {
        if character == ' ' && tidy.ends_with(' ') {
            continue;
        }
        tidy.push(character);
    }
    tidy
}

/// Checks that Apertium's programs are on the PATH and its data directory has modes.
pub fn check_installation(config: &ApertiumConfig) -> Result<Vec<ApertiumMode>, TranslateError> {
    let modes = discover_modes(config)?;
    if modes.is_empty() {
        return Err(TranslateError::engine_failure(
            "apertium",
            format!(
                "no language pair installed under {}; run the project's setup script",
                Path::new(&config.data_dir).display()
            ),
        ));
    }
    Ok(modes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(name: &str) -> Vec<String> {
        pairs_of_mode_name(name)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn mode_names_map_to_iso639_1_pairs() {
        assert_eq!(pairs("eng-spa"), ["en→es"]);
        assert_eq!(pairs("en-gl"), ["en→gl"]);
        assert_eq!(pairs("spa-ita"), ["es→it"]);
        assert_eq!(pairs("ind-zlm"), ["id→ms"]);
        assert_eq!(pairs("eng-hbs_HR"), ["en→hr"]);
        assert_eq!(pairs("eng-hbs_SR"), ["en→sr"]);
        assert_eq!(pairs("eng-hbs"), ["en→sh"]);
        assert_eq!(pairs("hbs-eng"), ["sh→en", "hr→en", "sr→en", "bs→en"]);
        for variant in [
            "es-pt_BR",
            "eng-cat_valencia",
            "eco-es-fr",
            "eng",
            "xx-yy",
            "Cyrl-Latn",
        ] {
            assert!(pairs(variant).is_empty(), "{variant}");
        }
    }

    #[test]
    fn tidies_double_spaces() {
        assert_eq!(tidy_spaces("  a  b   c "), "a b c");
        assert_eq!(tidy_spaces("a\n\nb"), "a\n\nb");
    }
}
