use std::process::ExitCode;

fn main() -> ExitCode {
    // Paired builds run flamegate as cargo's compiler wrapper.
    if let Some(code) = flamegate::collect::rustc_wrapper::run_if_wrapping() {
        return ExitCode::from(code);
    }
    let cli = flamegate::cli::parse();
    match flamegate::commands::execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // Errors can quote untrusted input (a forged report's fields).
            flamegate::publish::github::workflow::eprint_inert(
                flamegate::publish::github::env::ActionsEnv::from_process().in_actions,
                &format!("flamegate: error: {:#}", anyhow::Error::from(error)),
            );
            ExitCode::from(flamegate::error::exit_code::USAGE_OR_ENVIRONMENT)
        }
    }
}
