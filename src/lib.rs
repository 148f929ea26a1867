//! precis: language, summary and key quotes of news articles, translated, with local models.
pub mod cli;
pub mod config;
pub mod engines;
pub mod error;
pub mod grpc;
pub mod hub;
pub mod names;
pub mod pipeline;
pub mod runtime;
pub mod summarize;
pub mod telemetry;
pub mod translate;
pub mod validate;

/// Generated from `proto/precis/v1/precis.proto` at build time.
pub mod proto {
    tonic::include_proto!("precis.v1");
    /// For gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("precis_descriptor");
    // PRECIS_SERVICE and PRECIS_METHODS, from the descriptor set (build.rs).
    include!(concat!(env!("OUT_DIR"), "/service_names.rs"));
}
