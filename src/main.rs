use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = flamegate::cli::Cli::parse();
    match flamegate::pipeline::execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("flamegate: error: {:#}", anyhow::Error::from(error));
            ExitCode::from(flamegate::error::exit_code::USAGE_OR_ENVIRONMENT)
        }
    }
}
