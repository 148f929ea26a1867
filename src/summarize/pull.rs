//! `precis models pull ID`: fetches one of rust-bert's pretrained summarization models (its
//! remote resources) into the models directory, in the layout the registry loads, so that an
//! operator can bake models into an image. Where no network exists it fails within the connect
//! timeout and says so; it never leaves a half-written model directory behind.
use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_bert::bart::{
    BartConfigResources, BartMergesResources, BartModelResources, BartVocabResources,
};
use rust_bert::longt5::{LongT5ConfigResources, LongT5ModelResources, LongT5VocabResources};
use rust_bert::pegasus::{PegasusConfigResources, PegasusModelResources, PegasusVocabResources};
use rust_bert::t5::{T5ConfigResources, T5ModelResources, T5VocabResources};

/// (name in rust-bert's cache, URL), as rust-bert's `*Resources` constants give them.
type Resource = (&'static str, &'static str);

/// A model `precis models pull` knows: the files of its directory and where each comes from.
pub struct RemoteModel {
    pub id: &'static str,
    pub files: Vec<(&'static str, Resource)>,
}

/// The ids `precis models pull` accepts.
pub const KNOWN_MODELS: &[&str] = &[
    "distilbart-cnn-6-6",
    "distilbart-cnn-12-6",
    "bart-large-cnn",
    "bart-large-xsum",
    "t5-small",
    "t5-base",
    "pegasus-cnn-dailymail",
    "longt5-tglobal-base-book-summary",
];

pub fn remote_model(id: &str) -> Option<RemoteModel> {
    let bart = |model, config, vocab, merges| {
        vec![
            ("config.json", config),
            ("vocab.json", vocab),
            ("merges.txt", merges),
            ("rust_model.ot", model),
        ]
    };
    let sentencepiece = |model, config, vocab| {
        vec![
            ("config.json", config),
            ("spiece.model", vocab),
            ("rust_model.ot", model),
        ]
    };
    let files = match id {
        "distilbart-cnn-6-6" => bart(
            BartModelResources::DISTILBART_CNN_6_6,
            BartConfigResources::DISTILBART_CNN_6_6,
            BartVocabResources::DISTILBART_CNN_6_6,
            BartMergesResources::DISTILBART_CNN_6_6,
        ),
        "distilbart-cnn-12-6" => bart(
            BartModelResources::DISTILBART_CNN_12_6,
            BartConfigResources::DISTILBART_CNN_12_6,
            BartVocabResources::DISTILBART_CNN_12_6,
            BartMergesResources::DISTILBART_CNN_12_6,
        ),
        "bart-large-cnn" => bart(
            BartModelResources::BART_CNN,
            BartConfigResources::BART_CNN,
            BartVocabResources::BART_CNN,
            BartMergesResources::BART_CNN,
        ),
        "bart-large-xsum" => bart(
            BartModelResources::BART_XSUM,
            BartConfigResources::BART_XSUM,
            BartVocabResources::BART_XSUM,
            BartMergesResources::BART_XSUM,
        ),
        "t5-small" => sentencepiece(
            T5ModelResources::T5_SMALL,
            T5ConfigResources::T5_SMALL,
            T5VocabResources::T5_SMALL,
        ),
        "t5-base" => sentencepiece(
            T5ModelResources::T5_BASE,
            T5ConfigResources::T5_BASE,
            T5VocabResources::T5_BASE,
        ),
        "pegasus-cnn-dailymail" => sentencepiece(
            PegasusModelResources::CNN_DAILYMAIL,
            PegasusConfigResources::CNN_DAILYMAIL,
            PegasusVocabResources::CNN_DAILYMAIL,
        ),
        "longt5-tglobal-base-book-summary" => sentencepiece(
            LongT5ModelResources::TGLOBAL_BASE_BOOK_SUMMARY,
            LongT5ConfigResources::TGLOBAL_BASE_BOOK_SUMMARY,
            LongT5VocabResources::TGLOBAL_BASE_BOOK_SUMMARY,
        ),
        _ => return None,
    };
    let id = KNOWN_MODELS.iter().copied().find(|known| *known == id)?;
    Some(RemoteModel { id, files })
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("no remote model named '{id}'; `precis models pull` knows: {}", KNOWN_MODELS.join(", "))]
    Unknown { id: String },
    #[error("{destination} already exists; remove it to pull {id} again")]
    Exists { id: String, destination: PathBuf },
    #[error("could not download {file} of {id} from {url}: {reason}. {hint}")]
    Download {
        id: String,
        file: String,
        url: String,
        reason: String,
        hint: String,
    },
    #[error("could not write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Downloads `id` into `models_dir/id`. Files go to a hidden directory beside it first, which is
/// renamed into place once every file arrived.
pub fn pull(id: &str, models_dir: &Path, connect_timeout: Duration) -> Result<PathBuf, PullError> {
    let model = remote_model(id).ok_or_else(|| PullError::Unknown { id: id.into() })?;
    pull_model(&model, models_dir, connect_timeout)
}

/// Downloads `model`'s files into `models_dir/<model.id>`.
pub fn pull_model(
    model: &RemoteModel,
    models_dir: &Path,
    connect_timeout: Duration,
) -> Result<PathBuf, PullError> {
    let id = model.id;
    let destination = models_dir.join(model.id);
    if destination.exists() {
        return Err(PullError::Exists {
            id: id.into(),
            destination,
        });
    }
    let write_error = |path: &Path, error: &dyn std::fmt::Display| PullError::Write {
        path: path.to_path_buf(),
        reason: error.to_string(),
    };
    std::fs::create_dir_all(models_dir).map_err(|e| write_error(models_dir, &e))?;
    let partial = models_dir.join(format!(".{}.partial", model.id));
    let download_cache = partial.join(".download");
    std::fs::create_dir_all(&download_cache).map_err(|e| write_error(&download_cache, &e))?;
    let result = fetch_all(model, &partial, &download_cache, connect_timeout);
    let result = result.and_then(|()| {
        std::fs::remove_dir_all(&download_cache).map_err(|e| write_error(&download_cache, &e))?;
        std::fs::rename(&partial, &destination).map_err(|e| write_error(&destination, &e))
    });
    match result {
        Ok(()) => Ok(destination),
        Err(error) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(error)
        }
    }
}

fn fetch_all(
    model: &RemoteModel,
    partial: &Path,
    download_cache: &Path,
    connect_timeout: Duration,
) -> Result<(), PullError> {
    let cache = cached_path::Cache::builder()
        .dir(download_cache.to_path_buf())
        .connect_timeout(connect_timeout)
        // One retry: a flaky network deserves a second chance, an absent one a quick answer.
        .max_retries(1)
        .max_backoff(1000)
        .progress_bar(Some(cached_path::ProgressBar::Light))
        .build()
        .map_err(|error| PullError::Write {
            path: download_cache.to_path_buf(),
            reason: error.to_string(),
        })?;
    for (file, (_, url)) in &model.files {
        let downloaded = cache
            .cached_path(url)
            .map_err(|error| PullError::Download {
                id: model.id.into(),
                file: (*file).into(),
                url: (*url).into(),
                reason: error.to_string(),
                hint: hint(&error),
            })?;
        let target = partial.join(file);
        std::fs::rename(&downloaded, &target).map_err(|error| PullError::Write {
            path: target.clone(),
            reason: error.to_string(),
        })?;
    }
    Ok(())
}

fn hint(error: &cached_path::Error) -> String {
    let text = format!("{error:?}");
    if text.contains("dns")
        || text.contains("resolve")
        || text.contains("connect")
        || text.contains("Timeout")
        || text.contains("timed out")
    {
        "This machine cannot reach the model hub (no network or no DNS): pull on a machine that \
         has one (e.g. while building the image) and copy the directory into --models-dir, or \
         point the catalog's `path` at a local copy"
            .into()
    } else {
        "Check the network and retry; a partial download was removed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_model_has_the_files_the_registry_reads() {
        for id in KNOWN_MODELS {
            let model = remote_model(id).unwrap();
            let names: Vec<&str> = model.files.iter().map(|(name, _)| *name).collect();
            assert!(
                names.contains(&"config.json") && names.contains(&"rust_model.ot"),
                "{id}"
            );
            let tokenizer = if id.contains("bart") {
                vec!["vocab.json", "merges.txt"]
            } else {
                vec!["spiece.model"]
            };
            assert!(
                tokenizer.iter().all(|f| names.contains(f)),
                "{id}: {names:?}"
            );
        }
    }

    #[test]
    fn an_unknown_id_lists_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let error = pull("gpt-5", dir.path(), Duration::from_secs(1)).unwrap_err();
        assert!(error.to_string().contains("distilbart-cnn-6-6"), "{error}");
    }
}
