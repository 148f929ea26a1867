//! Models from a Hugging Face–compatible hub: `precis models pull OWNER/NAME`.
//!
//! A pull lists the repository (`/api/models/{repo}/revision/{rev}` for the commit, then
//! `/api/models/{repo}/tree/{commit}` for sizes and hashes), fetches config.json first to decide
//! what the model is ([`repo_kind`]), then the tokenizer files and the weights from
//! `/{repo}/resolve/{commit}/{path}`. Every file is checked against the listing (size, and
//! sha256 for LFS files or the git blob id for small ones). Files land in a hidden staging
//! directory inside the models directory (`.{dir}.pulling`), where an interrupted download is
//! resumed with an HTTP Range request; the weights are converted to rust-bert's `rust_model.ot`
//! in Rust; the manifest ([`manifest`]) is written last and the staging directory renamed into
//! place, so a model directory is never half written. A lock file per model makes a second pull
//! of the same model wait for the first.
//!
//! At start-up, [`installed`] lists the pulled directories: the catalog serves them without
//! being edited (see `config`).
pub mod client;
pub mod manifest;
pub mod repo_kind;

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::runtime::registry::{convert_weights, Architecture, WEIGHTS_FILE};

/// The public hub, used when neither `--hub-url`, `PRECIS_HUB_URL` nor `HF_ENDPOINT` is set.
pub const DEFAULT_HUB_URL: &str = "https://huggingface.co";

/// How to reach the hub and what to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub hub_url: String,
    /// Sent as `Authorization: Bearer …` to the hub (gated or private repositories).
    pub token: Option<String>,
    /// Branch, tag or commit.
    pub revision: String,
    pub connect_timeout: Duration,
    /// For summarizers and embedders: the languages to serve (default English). Translation
    /// models take their pair from the repository.
    pub languages: Vec<String>,
    /// For embedders: the prefix to put before every text, overriding the repository's
    /// sentence-transformers prompt (for a card that prescribes one only in prose).
    pub prompt: Option<String>,
    /// Progress on stderr (only shown when stderr is a terminal).
    pub progress: bool,
}

impl PullOptions {
    pub fn new(hub_url: impl Into<String>) -> Self {
        Self {
            hub_url: hub_url.into(),
            token: None,
            revision: "main".into(),
            connect_timeout: Duration::from_secs(10),
            languages: Vec::new(),
            prompt: None,
            progress: true,
        }
    }
}

/// What a pulled model serves; written into its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum PulledRole {
    Translation {
        source: String,
        target: String,
    },
    /// M2M100: a direct route between any two of `languages` (ISO 639-1, those precis
    /// translates among the repository's).
    ManyToManyTranslation {
        languages: Vec<String>,
    },
    Summarization {
        languages: Vec<String>,
    },
    SentenceEmbeddings {
        languages: Vec<String>,
    },
}

impl PulledRole {
    /// The runtime's role; a summarizer's or embedder's languages are the catalog's business.
    pub fn model_role(role: Option<&Self>) -> crate::runtime::ModelRole {
        use crate::runtime::ModelRole;
        match role {
            Some(Self::Translation { source, target }) => ModelRole::Translation {
                source: source.clone(),
                target: target.clone(),
            },
            Some(Self::ManyToManyTranslation { languages }) => ModelRole::ManyToManyTranslation {
                languages: languages.clone(),
            },
            Some(Self::Summarization { .. }) => ModelRole::Summarization,
            Some(Self::SentenceEmbeddings { .. }) => ModelRole::SentenceEmbeddings,
            None => ModelRole::Unknown,
        }
    }
}

impl std::fmt::Display for PulledRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Translation { source, target } => write!(f, "translation {source}->{target}"),
            Self::ManyToManyTranslation { languages } => write!(
                f,
                "translation between any two of {} languages: {}",
                languages.len(),
                languages.join(", ")
            ),
            Self::Summarization { languages } => {
                write!(f, "summarization ({})", languages.join(", "))
            }
            Self::SentenceEmbeddings { languages } => {
                write!(f, "sentence embeddings ({})", languages.join(", "))
            }
        }
    }
}

/// How one file of a repository is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Checksum {
    /// Files stored with git LFS: the hub lists their sha256.
    Sha256(String),
    /// Small files stored in git: the blob id, sha1 of `blob {len}\0` + content.
    GitBlobSha1(String),
}

/// A file of a repository, as the hub lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteFile {
    pub path: String,
    pub size: u64,
    pub checksum: Checksum,
}

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("'{id}' is not a hub repository id: expected OWNER/NAME as the hub spells it (e.g. Helsinki-NLP/opus-mt-en-de)")]
    BadRepoId { id: String },
    #[error("cannot reach the model hub at {url} ({reason}). Check the network, or point --hub-url (PRECIS_HUB_URL, HF_ENDPOINT) at a reachable hub or mirror; where there is no network, pull on a machine that has one and copy the model's directory into the models directory")]
    Unreachable { url: String, reason: String },
    #[error("the hub at {url} answered HTTP {status} for {repo}: the repository is gated or private. Accept its terms on the hub and pass a token with access (HF_TOKEN or --token)")]
    Denied {
        url: String,
        repo: String,
        status: u16,
    },
    #[error("no repository {repo} at revision '{revision}' on {url} (HTTP 404): check the id (OWNER/NAME, as on the hub) and --revision")]
    NotFound {
        url: String,
        repo: String,
        revision: String,
    },
    #[error("the hub answered HTTP {status} for {url}{detail}")]
    Http {
        url: String,
        status: u16,
        detail: String,
    },
    #[error(
        "the hub's answer for {url} is not what a Hugging Face–compatible hub sends: {reason}"
    )]
    BadListing { url: String, reason: String },
    #[error("{repo} is a '{model_type}' model ({architectures}); precis pulls marian (translation, Helsinki-NLP/opus-mt-SRC-TGT), m2m_100 and mbart (translation between any two of its languages: M2M100 as facebook/m2m100_418M, NLLB as facebook/nllb-200-distilled-600M, mBART-50 as facebook/mbart-large-50-many-to-many-mmt), bart, t5, longt5 and pegasus (summarization), and bert and xlm-roberta encoders in the sentence-transformers layout (sentence embeddings)")]
    Unsupported {
        repo: String,
        model_type: String,
        architectures: String,
    },
    #[error("{repo}: {reason}")]
    Unusable { repo: String, reason: String },
    #[error("{repo} has no {file}, which {why}")]
    MissingFile {
        repo: String,
        file: String,
        why: String,
    },
    #[error("{file} of {repo} is corrupt: {detail}. The bad download was deleted; run the pull again (if it fails the same way, the hub's copy or a proxy is at fault)")]
    Corrupt {
        repo: String,
        file: String,
        detail: String,
    },
    #[error("the connection kept dropping while downloading {file} of {repo} ({done} of {size} bytes arrived; last error: {reason}). Run the pull again: it resumes from the {done} bytes kept in {partial}")]
    Interrupted {
        repo: String,
        file: String,
        done: u64,
        size: u64,
        reason: String,
        partial: PathBuf,
    },
    #[error("not enough space in {dir} to pull {repo}: it needs {need_mb:.1} MB (downloads and the converted weights), {free_mb:.1} MB are free. Free some space or pass --models-dir on a bigger disk")]
    NoSpace {
        repo: String,
        dir: PathBuf,
        need_mb: f64,
        free_mb: f64,
    },
    #[error("{path} exists but was not pulled by precis (no {manifest}); move it away or pull into another --models-dir")]
    Occupied { path: PathBuf, manifest: String },
    #[error("no pulled model {repo} in {dir} (`precis models list` shows what is installed)")]
    NotInstalled { repo: String, dir: PathBuf },
    #[error("could not convert the weights of {repo} to rust-bert's format: {reason}")]
    Convert { repo: String, reason: String },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

fn io_error(path: &Path, error: &std::io::Error) -> HubError {
    HubError::Io {
        path: path.to_path_buf(),
        reason: if error.kind() == std::io::ErrorKind::StorageFull {
            format!("{error}: the disk is full; free some space, then pull again (the download resumes)")
        } else {
            error.to_string()
        },
    }
}

/// Checks a repository id: `OWNER/NAME` of letters, digits, `-`, `_` and `.`.
pub fn check_repo_id(id: &str) -> Result<(), HubError> {
    let bad = || HubError::BadRepoId { id: id.into() };
    let (owner, name) = id.split_once('/').ok_or_else(bad)?;
    let part_ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if part_ok(owner) && part_ok(name) {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The directory a repository is pulled into: `OWNER--NAME` (a path cannot hold the `/`).
pub fn directory_name(repo: &str) -> String {
    repo.replace('/', "--")
}

/// How a pull ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullOutcome {
    Pulled {
        directory: PathBuf,
        role: PulledRole,
    },
    AlreadyInstalled {
        directory: PathBuf,
    },
}

/// Pulls `repo` into `models_dir/OWNER--NAME` (see the module doc). A model already there is
/// left alone.
pub fn pull(repo: &str, models_dir: &Path, options: &PullOptions) -> Result<PullOutcome, HubError> {
    check_repo_id(repo)?;
    std::fs::create_dir_all(models_dir).map_err(|e| io_error(models_dir, &e))?;
    let name = directory_name(repo);
    let destination = models_dir.join(&name);
    let _lock = lock(models_dir, &name, repo)?;
    if destination.join(manifest::MANIFEST_FILE).is_file() {
        return Ok(PullOutcome::AlreadyInstalled {
            directory: destination,
        });
    }
    if destination.exists() {
        return Err(HubError::Occupied {
            path: destination,
            manifest: manifest::MANIFEST_FILE.into(),
        });
    }
    let hub = client::HubClient::new(
        &options.hub_url,
        options.token.clone(),
        options.connect_timeout,
    )?;
    let listing = hub.listing(repo, &options.revision)?;
    // Kept after a failed download, so that the next pull resumes from it.
    let staging = models_dir.join(format!(".{name}.pulling"));
    std::fs::create_dir_all(&staging).map_err(|e| io_error(&staging, &e))?;
    let find = |path: &str, why: &str| {
        listing
            .files
            .iter()
            .find(|file| file.path == path)
            .ok_or_else(|| HubError::MissingFile {
                repo: repo.into(),
                file: path.into(),
                why: why.into(),
            })
    };
    let mut progress = Progress::new(options.progress);

    // config.json first: an unsupported model fails before any weights are fetched.
    let config_file = find(
        "config.json",
        "says what the model is (model_type, architectures)",
    )?;
    fetch(
        &hub,
        repo,
        &listing.commit,
        config_file,
        &staging,
        &mut progress,
    )?;
    let config_text =
        std::fs::read(staging.join("config.json")).map_err(|e| io_error(&staging, &e))?;
    let classified = repo_kind::classify(repo, &config_text, &options.languages).and_then(|kind| {
        repo_kind::with_listing(repo, kind, |path| {
            listing.files.iter().any(|file| file.path == path)
        })
    });
    let kind = match classified {
        Ok(kind) => kind,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging); // nothing worth resuming
            return Err(error);
        }
    };

    let mut wanted: Vec<&RemoteFile> = Vec::new();
    for file in &kind.required_files {
        wanted.push(find(
            file,
            &format!("a {} model needs for its tokenizer", kind.model_type),
        )?);
    }
    for file in &kind.optional_files {
        wanted.extend(listing.files.iter().find(|f| f.path == *file));
    }
    let single = ["model.safetensors", "pytorch_model.bin"]
        .iter()
        .find_map(|path| listing.files.iter().find(|f| f.path == *path));
    // Large models split their weights into shards named by an index file.
    let mut index_file: Option<&RemoteFile> = None;
    let weights: Vec<&RemoteFile> = match single {
        Some(file) => vec![file],
        None => {
            let index = ["model.safetensors.index.json", "pytorch_model.bin.index.json"]
                .iter()
                .find_map(|path| listing.files.iter().find(|f| f.path == *path))
                .ok_or_else(|| HubError::MissingFile {
                    repo: repo.into(),
                    file: "model.safetensors or pytorch_model.bin".into(),
                    why: "holds the weights (or model.safetensors.index.json / pytorch_model.bin.index.json naming their shards)"
                        .into(),
                })?;
            fetch(&hub, repo, &listing.commit, index, &staging, &mut progress)?;
            let index_path = staging.join(&index.path);
            let text = std::fs::read(&index_path).map_err(|e| io_error(&index_path, &e))?;
            let shards = shard_names(&text).map_err(|reason| HubError::Unusable {
                repo: repo.into(),
                reason: format!("{}: {reason}", index.path),
            })?;
            index_file = Some(index);
            shards
                .iter()
                .map(|name| find(name, "is a shard of the weights the index names"))
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    let is_weights = |file: &RemoteFile| weights.iter().any(|w| w.path == file.path);
    wanted.extend(weights.iter().copied());

    // Downloads still to come, plus the converted weights (about the size of the originals).
    let need: u64 = wanted
        .iter()
        .map(|file| file.size.saturating_sub(already_have(&staging, file)))
        .sum::<u64>()
        + weights.iter().map(|file| file.size).sum::<u64>();
    if let Some(free) = free_space(models_dir) {
        if need > free {
            return Err(HubError::NoSpace {
                repo: repo.into(),
                dir: models_dir.to_path_buf(),
                need_mb: need as f64 / 1e6,
                free_mb: free as f64 / 1e6,
            });
        }
    }
    // The tokenizer files first: a many-to-many model's languages come from them, and a model
    // precis cannot serve fails before its weights are fetched.
    wanted.sort_by_key(|file| is_weights(file));
    let mut kind = kind;
    let mut embedder_ready = false;
    for file in &wanted {
        let languages_unknown = matches!(
            &kind.role,
            PulledRole::ManyToManyTranslation { languages } if languages.is_empty()
        );
        if is_weights(file) && !embedder_ready {
            if matches!(kind.role, PulledRole::SentenceEmbeddings { .. }) {
                repo_kind::prepare_embedder(repo, &mut kind, &staging, options.prompt.as_deref())?;
            }
            embedder_ready = true;
        }
        if is_weights(file) && languages_unknown {
            let languages =
                crate::runtime::generation::many_to_many_languages(kind.architecture, &staging)
                    .map_err(|reason| HubError::Unusable {
                        repo: repo.into(),
                        reason,
                    })?;
            kind.role = PulledRole::ManyToManyTranslation { languages };
        }
        fetch(&hub, repo, &listing.commit, file, &staging, &mut progress)?;
    }

    // config.json as rust-bert reads it (after the weights' conversion read it as downloaded).
    let config_path = staging.join("config.json");
    let adjusted_config = repo_kind::rust_bert_config(kind.architecture, &config_text);
    let sources: Vec<PathBuf> = weights
        .iter()
        .map(|file| staging.join(&file.path))
        .collect();
    let converted = convert_weights(&staging, &sources, kind.architecture).map_err(|error| {
        HubError::Convert {
            repo: repo.into(),
            reason: error.to_string(),
        }
    })?;
    let converted_size = std::fs::metadata(&converted)
        .map_err(|e| io_error(&converted, &e))?
        .len();
    // rust_model.ot holds the same weights: the originals would only double the disk use.
    for original in &sources {
        std::fs::remove_file(original).map_err(|e| io_error(original, &e))?;
    }

    let config_size = match &adjusted_config {
        Some(text) => {
            std::fs::write(&config_path, text).map_err(|e| io_error(&config_path, &e))?;
            Some(text.len() as u64)
        }
        None => None,
    };
    // NLLB's tokenizer.json as rust_tokenizers reads it (its added tokens in the vocabulary).
    let mut tokenizer_size = None;
    if kind.architecture == Architecture::Nllb {
        let path = staging.join("tokenizer.json");
        let original = std::fs::read(&path).map_err(|e| io_error(&path, &e))?;
        let adjusted = crate::runtime::generation::nllb_tokenizer_for_rust_bert(&original)
            .map_err(|reason| HubError::Unusable {
                repo: repo.into(),
                reason,
            })?;
        if let Some(text) = adjusted {
            std::fs::write(&path, &text).map_err(|e| io_error(&path, &e))?;
            tokenizer_size = Some(text.len() as u64);
        }
    }
    let mut files: Vec<manifest::FileRecord> = std::iter::once(config_file)
        .chain(index_file)
        .chain(wanted.iter().copied())
        .map(|file| manifest::FileRecord {
            file: file.clone(),
            kept: !is_weights(file),
            local_size: match file.path.as_str() {
                "config.json" => config_size,
                "tokenizer.json" => tokenizer_size,
                _ => None,
            },
        })
        .collect();
    files.dedup_by(|a, b| a.file.path == b.file.path);
    let record = manifest::Manifest {
        format: manifest::FORMAT,
        id: repo.into(),
        hub: options.hub_url.trim_end_matches('/').into(),
        revision: options.revision.clone(),
        commit: listing.commit.clone(),
        model_type: kind.model_type.clone(),
        role: kind.role.clone(),
        files,
        weights: manifest::WeightsRecord {
            path: WEIGHTS_FILE.into(),
            size: converted_size,
            converted_from: weights
                .iter()
                .map(|file| file.path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        },
        pulled_at_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
    };
    manifest::write(&staging, &record).map_err(|e| io_error(&staging, &e))?;
    std::fs::rename(&staging, &destination).map_err(|e| io_error(&destination, &e))?;
    Ok(PullOutcome::Pulled {
        directory: destination,
        role: kind.role,
    })
}

/// The shard files a weights index (`model.safetensors.index.json`,
/// `pytorch_model.bin.index.json`) names in its `weight_map`, each once, in order; a name that
/// would leave the repository is refused.
fn shard_names(index: &[u8]) -> Result<Vec<String>, String> {
    let index: serde_json::Value =
        serde_json::from_slice(index).map_err(|error| format!("not valid JSON ({error})"))?;
    let map = index
        .get("weight_map")
        .and_then(serde_json::Value::as_object)
        .ok_or("no \"weight_map\" object")?;
    let mut names: Vec<String> = Vec::new();
    for value in map.values() {
        let name = value
            .as_str()
            .ok_or("a weight_map value is not a file name")?;
        if name.is_empty() || name.starts_with('/') || name.split('/').any(|part| part == "..") {
            return Err(format!(
                "shard name '{name}' is not a file of the repository"
            ));
        }
        if !names.iter().any(|known| known == name) {
            names.push(name.to_string());
        }
    }
    names.sort();
    if names.is_empty() {
        return Err("the weight_map names no shard".into());
    }
    Ok(names)
}

/// Removes a pulled model's directory (only one with a manifest: never another model).
pub fn remove(repo: &str, models_dir: &Path) -> Result<PathBuf, HubError> {
    check_repo_id(repo)?;
    let name = directory_name(repo);
    let directory = models_dir.join(&name);
    let _lock = lock(models_dir, &name, repo)?;
    let staging = models_dir.join(format!(".{name}.pulling"));
    let had_staging = staging.exists();
    if had_staging {
        std::fs::remove_dir_all(&staging).map_err(|e| io_error(&staging, &e))?;
    }
    if !directory.join(manifest::MANIFEST_FILE).is_file() {
        if directory.exists() {
            return Err(HubError::Occupied {
                path: directory,
                manifest: manifest::MANIFEST_FILE.into(),
            });
        }
        if had_staging {
            return Ok(staging);
        }
        return Err(HubError::NotInstalled {
            repo: repo.into(),
            dir: models_dir.to_path_buf(),
        });
    }
    // Renamed aside first, so a crash mid-removal never leaves a half model under its name.
    let doomed = models_dir.join(format!(".{name}.removing"));
    std::fs::rename(&directory, &doomed).map_err(|e| io_error(&directory, &e))?;
    std::fs::remove_dir_all(&doomed).map_err(|e| io_error(&doomed, &e))?;
    Ok(directory)
}

/// A pulled model found at start-up.
#[derive(Debug, Clone)]
pub struct InstalledModel {
    pub id: String,
    pub directory: PathBuf,
    pub role: PulledRole,
}

/// A pulled directory that cannot be served, and why.
#[derive(Debug, Clone)]
pub struct RejectedModel {
    pub id: String,
    pub directory: PathBuf,
    /// From the manifest, where it could be read.
    pub role: Option<PulledRole>,
    pub reason: String,
}

/// Every pulled model under `models_dir` (directories holding a manifest), each checked for
/// completeness against its manifest: the complete ones, and the others with the reason.
pub fn installed(models_dir: &Path) -> (Vec<InstalledModel>, Vec<RejectedModel>) {
    let mut complete = Vec::new();
    let mut rejected = Vec::new();
    let Ok(entries) = std::fs::read_dir(models_dir) else {
        return (complete, rejected);
    };
    let mut directories: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.join(manifest::MANIFEST_FILE).is_file()
                && !path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with('.'))
        })
        .collect();
    directories.sort();
    for directory in directories {
        let fallback_id = directory
            .file_name()
            .map(|name| name.to_string_lossy().replacen("--", "/", 1))
            .unwrap_or_default();
        match manifest::read(&directory) {
            Err(reason) => rejected.push(RejectedModel {
                id: fallback_id,
                directory,
                role: None,
                reason,
            }),
            Ok(record) => match manifest::check_complete(&directory, &record) {
                Ok(()) => complete.push(InstalledModel {
                    id: record.id,
                    directory,
                    role: record.role,
                }),
                Err(missing) => rejected.push(RejectedModel {
                    reason: format!(
                        "pulled model {} in {} is incomplete: {missing}; pull it again with `precis models rm {id}` then `precis models pull {id}`",
                        record.id,
                        directory.display(),
                        id = record.id
                    ),
                    id: record.id,
                    directory,
                    role: Some(record.role),
                }),
            },
        }
    }
    (complete, rejected)
}

/// Holds `.{name}.pull-lock` locked until dropped. A second pull of the same model waits.
fn lock(models_dir: &Path, name: &str, repo: &str) -> Result<File, HubError> {
    let path = models_dir.join(format!(".{name}.pull-lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error(&path, &e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!(model = repo, lock = %path.display(), "another pull of this model is under way; waiting for it");
            eprintln!(
                "another pull of {repo} is under way (lock {}); waiting for it to finish",
                path.display()
            );
            file.lock().map_err(|e| io_error(&path, &e))?;
            Ok(file)
        }
        Err(std::fs::TryLockError::Error(error)) => Err(io_error(&path, &error)),
    }
}

fn partial_path(staging: &Path, file: &RemoteFile) -> PathBuf {
    staging.join(format!("{}.part", file.path))
}

/// Bytes of `file` already in the staging directory (complete or partial).
fn already_have(staging: &Path, file: &RemoteFile) -> u64 {
    let complete = staging.join(&file.path);
    if complete.is_file() {
        return std::fs::metadata(&complete).map_or(0, |m| m.len());
    }
    std::fs::metadata(partial_path(staging, file)).map_or(0, |m| m.len())
}

/// Downloads one file into `staging` (resuming a partial one) and checks it.
fn fetch(
    hub: &client::HubClient,
    repo: &str,
    commit: &str,
    file: &RemoteFile,
    staging: &Path,
    progress: &mut Progress,
) -> Result<(), HubError> {
    let target = staging.join(&file.path);
    if target.is_file() && client::verify(&target, file).is_ok() {
        return Ok(()); // from an earlier, interrupted pull
    }
    let partial = partial_path(staging, file);
    if let Some(parent) = partial.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, &e))?;
    }
    hub.download(repo, commit, file, &partial, &mut |done| {
        progress.show(&file.path, done, file.size)
    })?;
    progress.finish();
    if let Err(detail) = client::verify(&partial, file) {
        let _ = std::fs::remove_file(&partial);
        return Err(HubError::Corrupt {
            repo: repo.into(),
            file: file.path.clone(),
            detail,
        });
    }
    std::fs::rename(&partial, &target).map_err(|e| io_error(&target, &e))
}

/// `file  12.3 / 300.0 MB` on stderr, redrawn at most five times a second, only on a terminal.
struct Progress {
    enabled: bool,
    last: Option<Instant>,
}

impl Progress {
    fn new(wanted: bool) -> Self {
        Self {
            enabled: wanted && std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn show(&mut self, file: &str, done: u64, size: u64) {
        if !self.enabled
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(Instant::now());
        eprint!(
            "\r{file}  {:.1} / {:.1} MB   ",
            done as f64 / 1e6,
            size as f64 / 1e6
        );
    }

    fn finish(&mut self) {
        if self.enabled && self.last.is_some() {
            eprintln!();
        }
        self.last = None;
    }
}

/// Free bytes for an unprivileged writer on the file system holding `dir`.
#[allow(clippy::unnecessary_cast)] // the field types differ between platforms
fn free_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and `stats` is written by statvfs before it is read.
    let result = unsafe { libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) };
    if result != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `stats`.
    let stats = unsafe { stats.assume_init() };
    Some(stats.f_bavail as u64 * stats.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_ids_are_owner_slash_name() {
        assert!(check_repo_id("Helsinki-NLP/opus-mt-en-de").is_ok());
        assert!(check_repo_id("facebook/bart-large-cnn").is_ok());
        for bad in ["opus-mt-en-de", "a/b/c", "../x", "a/..", "/x", "a/ b", "a/"] {
            assert!(check_repo_id(bad).is_err(), "{bad}");
        }
        assert_eq!(
            directory_name("Helsinki-NLP/opus-mt-en-de"),
            "Helsinki-NLP--opus-mt-en-de"
        );
    }

    #[test]
    fn a_weights_index_names_each_shard_once_and_never_outside_the_repository() {
        let index = br#"{"metadata": {"total_size": 8}, "weight_map": {
            "a": "model-00002-of-00002.safetensors",
            "b": "model-00001-of-00002.safetensors",
            "c": "model-00001-of-00002.safetensors"}}"#;
        assert_eq!(
            shard_names(index).unwrap(),
            [
                "model-00001-of-00002.safetensors",
                "model-00002-of-00002.safetensors"
            ]
        );
        for bad in [
            &br#"{"weight_map": {"a": "../../etc/passwd"}}"#[..],
            br#"{"weight_map": {"a": "/abs.bin"}}"#,
            br#"{"weight_map": {}}"#,
            br#"{"metadata": {}}"#,
            b"not json",
        ] {
            assert!(
                shard_names(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_free_space_of_a_directory_is_known() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_space(dir.path()).is_some_and(|free| free > 0));
    }
}
