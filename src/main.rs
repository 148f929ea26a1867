use std::process::ExitCode;

use clap::Parser;
use precis::cli::{run, Cli};

fn main() -> ExitCode {
    // Before any thread starts: this may start the program again with OpenMP threads that
    // spin only briefly when idle (see precis::runtime::openmp).
    let restart = precis::runtime::openmp::sleep_between_parallel_regions();
    let cli = Cli::parse();
    precis::telemetry::init_logging(cli.log_format);
    if let Err(error) = restart {
        tracing::warn!("{error}");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_or_else(
            |error| {
                eprintln!("precis: cannot start the async runtime: {error}");
                ExitCode::FAILURE
            },
            |runtime| runtime.block_on(run_command(cli)),
        )
}

async fn run_command(cli: Cli) -> ExitCode {
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("precis: {error:#}");
            ExitCode::FAILURE
        }
    }
}
