//! The commands: one file each. A command reads its arguments, resolves
//! them with `flamegate.toml` (`args`), calls the stages through
//! `pipeline`, renders and returns the exit code. Only this module and
//! `cli` know clap.

mod args;
mod baseline;
mod bisect;
mod check;
mod compare;
mod demo;
mod eval;
mod history;
mod hook;
mod list;
mod merge;
mod publish;
mod run;

use args::*;
use baseline::baseline_update;
use check::check;
use check::{CheckPublish, finish_check};
use compare::compare_records;
use hook::{hook_install, hook_pre_push};
use list::list;
use merge::merge_shards;
use publish::publish_report;
use run::run;

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::cli::{Cli, ColorChoice, Command};

use crate::cli::eval::EvalCommand;

use crate::cli::hook::HookCommand;

use crate::cli::run::BaselineCommand;

use crate::cli::shared::OutputArgs;
use crate::error::{Error, Result, exit_code};
use crate::pipeline::{Gated, Output, write_outputs};
use crate::progress::Progress;
use crate::publish::github::env::ActionsEnv;
use crate::render::{self, Format};
use crate::report::{Outcome, Report};

/// The whole program: `args` (the program first) parsed as `bin_name`'s
/// command line, run, and its exit code; an error is printed inert (it can
/// quote untrusted input, a forged report's fields).
pub fn main(bin_name: &'static str, args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    use std::process::ExitCode;
    // Paired builds run flamegate as cargo's compiler wrapper.
    if let Some(code) = crate::collect::rustc_wrapper::run_if_wrapping() {
        return ExitCode::from(code);
    }
    match execute(crate::cli::parse_from(bin_name, args)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            crate::publish::github::workflow::eprint_inert(
                ActionsEnv::from_process().in_actions,
                &format!("flamegate: error: {:#}", anyhow::Error::from(error)),
            );
            ExitCode::from(exit_code::USAGE_OR_ENVIRONMENT)
        }
    }
}

/// Run the command; the returned value is the process exit code.
pub fn execute(cli: Cli) -> Result<u8> {
    let output = output_of(&cli);
    match cli.command {
        Command::Check(args) => check(args, output),
        Command::Run(args) => run(args, output),
        Command::List(args) => list(args, output),
        Command::Compare(args) => compare_records(args, output),
        Command::Baseline(BaselineCommand::Update(args)) => baseline_update(args, output),
        Command::Publish(args) => publish_report(args, output),
        Command::Merge(args) => merge_shards(args, output),
        Command::Hook(HookCommand::Install(args)) => hook_install(args, output),
        Command::Hook(HookCommand::Uninstall(args)) => {
            let config = Config::resolve(&args.project, Flags::default())?;
            output
                .progress
                .note(&crate::hook::uninstall(&config.project.dir)?);
            Ok(exit_code::PASS)
        }
        Command::Hook(HookCommand::PrePush(args)) => hook_pre_push(args, output),
        Command::Demo(args) => demo::demo(args, output),
        Command::Eval(EvalCommand::Collect(args)) => eval::collect(args, output),
        Command::Eval(EvalCommand::Score(args)) => eval::score(args, output),
        Command::History(args) => history::history(args, output),
        Command::Bisect(args) => bisect::bisect(args, output),
    }
}

/// How output should look, decided once from the command line and terminal.
fn output_of(cli: &Cli) -> Output {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::io::stdout().is_terminal() && !no_color,
    };
    Output {
        color,
        progress: if cli.quiet {
            Progress::Silent
        } else {
            Progress::Stderr
        },
    }
}

/// A warning that must be seen: an annotation in Actions, stderr elsewhere.
pub(crate) fn warn(actions: &ActionsEnv, text: &str) {
    if actions.in_actions {
        println!(
            "::warning title=flamegate::{}",
            crate::publish::github::workflow::escape_data(text)
        );
    }
    crate::publish::github::workflow::eprint_inert(
        actions.in_actions,
        &format!("flamegate: warning: {text}"),
    );
}

/// Write `bytes` to stdout, flushed.
pub(crate) fn print_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|_| stdout.flush())
        .map_err(|e| Error::io("stdout", e))
}

/// Write the outputs, print the report, return the exit code and the report.
pub fn emit(
    mut gated: Gated,
    args: &OutputArgs,
    target_dir: &Path,
    output: Output,
) -> Result<(u8, Report)> {
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| target_dir.join("flamegate"));
    let written = write_outputs(&mut gated, &out_dir)?;
    let report = &gated.report;
    let format = Format::from(args.format);
    let bytes = render::renderer(format, output.color && format == Format::Terminal).render(report);
    print_stdout(&bytes)?;
    for path in written {
        output.progress.note(&format!("wrote {}", path.display()));
    }
    let code = match report.outcome {
        Outcome::Pass => exit_code::PASS,
        Outcome::Fail => exit_code::REGRESSION,
    };
    Ok((code, gated.report))
}
