//! precis: language, summary and key quotes of news articles, translated, with local models.
pub mod cli;
pub mod config;
pub mod error;
pub mod grpc;
pub mod pipeline;
pub mod runtime;
pub mod summarize;
pub mod telemetry;
pub mod translate;

/// Generated from `proto/precis/v1/precis.proto` at build time.
pub mod proto {
    tonic::include_proto!("precis.v1");
    /// For gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("precis_descriptor");
}
