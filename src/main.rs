use std::process::ExitCode;

use clap::Parser;
use precis::cli::{run, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    precis::telemetry::init_logging(cli.log_format);
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("precis: {error:#}");
            ExitCode::FAILURE
        }
    }
}
