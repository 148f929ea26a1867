//! Logging. Article text is never logged above `debug`: newsrooms handle embargoed copy.
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Logs go to stderr so that stdout stays the command's output. `RUST_LOG` refines the level.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
