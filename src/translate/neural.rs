//! A rust-bert translation model behind the `Translator` trait.
use std::time::Instant;

use precis_translate::{EngineInfo, EngineKind, LanguagePair, TranslateError, Translator};

use crate::error::PrecisError;
use crate::runtime::generation::TranslationEngine;
use crate::runtime::WorkerPool;

pub struct NeuralTranslator {
    info: EngineInfo,
    pool: WorkerPool<TranslationEngine>,
}

impl NeuralTranslator {
    pub fn new(model_id: &str, pair: LanguagePair, pool: WorkerPool<TranslationEngine>) -> Self {
        Self {
            info: EngineInfo {
                id: format!("rust-bert/{model_id}"),
                kind: EngineKind::Neural,
                pair,
            },
            pool,
        }
    }
}

impl Translator for NeuralTranslator {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    /// Blocking: called from a blocking thread, it waits for the model worker.
    fn translate_batch(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, TranslateError> {
        self.pool
            .run_blocking(texts.to_vec(), deadline)
            .map_err(|error| match error {
                PrecisError::DeadlineExceeded(_) => TranslateError::DeadlineExceeded,
                other => TranslateError::EngineFailure {
                    engine: self.info.id.clone(),
                    detail: other.to_string(),
                },
            })
    }
}
