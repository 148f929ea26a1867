//! Model runtime: the registry that finds and checks models, and the workers that run them.
pub mod embeddings;
pub mod generation;
pub mod registry;
pub mod worker;

pub use registry::{ModelError, ModelLocation, ModelRole, ModelSpec};
pub use worker::{ModelEngine, PoolConfig, WorkerPool};
