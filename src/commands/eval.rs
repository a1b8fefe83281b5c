//! `flamegate eval collect | score`: the verdict-quality corpus.

use std::time::Duration;

use crate::cli::eval::{EvalCollectArgs, EvalFormat, EvalScoreArgs};
use crate::error::{Error, Result, exit_code};
use crate::pipeline::Output;

/// Collect trials of the synthetic suite into a corpus (resumable).
pub(crate) fn collect(args: EvalCollectArgs, output: Output) -> Result<u8> {
    if !(args.minutes > 0.0 && args.minutes.is_finite()) {
        return Err(Error::Usage("--minutes must be a positive number".into()));
    }
    if args.rounds < 2 {
        return Err(Error::Usage("--rounds must be at least 2".into()));
    }
    let limits = crate::eval::collect::Limits {
        trials: args.trials,
        time: Duration::from_secs_f64(args.minutes * 60.0),
        rounds: args.rounds,
        placement: args.placement,
        input_size: args.input_size,
        condition: match args.condition {
            crate::cli::eval::ConditionArg::Quiet => crate::eval::corpus::Condition::Quiet,
            crate::cli::eval::ConditionArg::Contended => crate::eval::corpus::Condition::Contended,
        },
    };
    crate::eval::collect::collect(&args.suite, &args.corpus, limits, &output.progress)?;
    Ok(exit_code::PASS)
}

/// Score every rule on a corpus's samples, offline.
pub(crate) fn score(args: EvalScoreArgs, output: Output) -> Result<u8> {
    let corpus = crate::eval::corpus::Corpus::load(&args.corpus)?;
    let scores = crate::eval::score::score(&corpus, args.synthetic, &output.progress);
    let text = match args.format {
        EvalFormat::Text => crate::eval::table::table(&scores),
        EvalFormat::Json => serde_json::to_string_pretty(&scores).expect("scores serialize") + "\n",
    };
    print!("{text}");
    Ok(exit_code::PASS)
}
