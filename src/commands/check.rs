//! `flamegate check`: the gate.

use std::path::Path;

use super::*;
use crate::cli::{CheckArgs, GithubArgs, OutputArgs};
use crate::collect;
use crate::collect::shard::{Balance, ShardPlan};
use crate::error::{Error, Result, exit_code};
use crate::pipeline::{
    Gated, HeadSource, Output, gate, gate_paired, gate_paired_instructions, measure, measure_paired,
};
use crate::publish;
use crate::publish::github::env::ActionsEnv;
use crate::publish::github::event::{Origin, read_origin};
use crate::publish::github::workflow::StopCommands;
use crate::record::write_atomic;
use crate::render::Format;

pub(crate) fn check(args: CheckArgs, output: Output) -> Result<u8> {
    let CheckArgs {
        project: project_args,
        bench,
        base,
        stats,
        output: output_args,
        record,
        paired,
        rounds,
        budget,
        publish,
        github,
        shard,
    } = args;
    if let Some(spec) = shard {
        if publish || record.is_some() {
            return Err(Error::Usage(
                "--shard measures one part of the suite for `flamegate merge`, which compares and publishes once; \
                 it cannot be combined with --publish or --record"
                    .into(),
            ));
        }
        let loaded = load_project(&project_args)?;
        let suite = loaded.suite.clone();
        let mut selection = selection(&bench, &loaded.file)?;
        let suite = selection.measure.suite(&suite);
        selection.shard = Some(if paired {
            // No stored baseline is needed, nor read: equal counts balance
            // paired rounds (collect::shard, `Balance::EqualCounts`).
            ShardPlan {
                spec,
                suite: suite.clone(),
                balance: Balance::EqualCounts,
            }
        } else {
            shard_plan(spec, &loaded, &suite, &base, output.progress)
        });
        let out_dir = output_args
            .out_dir
            .clone()
            .unwrap_or_else(|| loaded.project.target_dir.join("flamegate"));
        let path = out_dir.join(format!("shard-{}-of-{}.json", spec.index, spec.count));
        if paired && selection.measure == collect::Measure::Instructions {
            return Err(Error::Usage(
                "--paired --shard with --measure instructions is not supported: shard instruction counts with \
                 `check --shard K/N --measure instructions` against the stored baseline (counts are exact, so \
                 a baseline from this machine kind gives the same answer)"
                    .into(),
            ));
        }
        let (json, measured) = if paired {
            let (spec_base, _) = base_spec(&base, &loaded.file);
            let settings = loaded.settings(&stats_overrides(&stats))?;
            let shard = measure_paired(
                &loaded.project,
                &spec_base,
                &selection,
                round_plan(rounds, budget)?,
                &settings,
                &crate::collect::Processes,
                output.progress,
            )?;
            let count = shard.run.head.benches.len();
            let json = serde_json::to_string(&shard).expect("a paired shard serialises") + "\n";
            (json, count)
        } else {
            let record = measure(
                &loaded.project,
                &selection,
                &crate::collect::Processes,
                output.progress,
            )?;
            (record.to_json(), record.benches.len())
        };
        write_atomic(&path, json.as_bytes())?;
        output.progress.note(&format!(
            "shard {spec}: wrote {} ({measured} benchmarks). The verdict comes from `flamegate merge` over all {} shard records",
            path.display(),
            spec.count
        ));
        return Ok(exit_code::PASS);
    }
    let actions = ActionsEnv::from_process();
    // Benchmark output and names are untrusted: while they are printed, the
    // runner must not read workflow commands from stdout. (JSON on stdout
    // stays pure JSON; names in it are escaped strings, never a line start.)
    let stop_commands = (actions.in_actions && Format::from(output_args.format) != Format::Json)
        .then(StopCommands::begin);
    let loaded = load_project(&project_args)?;
    let suite = loaded.suite.clone();
    let settings = loaded.settings(&stats_overrides(&stats))?;
    let (spec, history) = base_spec(&base, &loaded.file);
    let selection = selection(&bench, &loaded.file)?;
    let suite = selection.measure.suite(&suite);
    let gated = if paired && selection.measure == collect::Measure::Instructions {
        if rounds.is_some() || budget.is_some() {
            return Err(Error::Usage(
                "--rounds and --budget do not apply to instruction counts: they are exact, each side is counted once".into(),
            ));
        }
        gate_paired_instructions(
            &loaded.project,
            &suite,
            &spec,
            &settings,
            &selection,
            &crate::collect::Processes,
            output.progress,
        )?
    } else if paired {
        gate_paired(
            &loaded.project,
            &suite,
            &spec,
            &settings,
            &selection,
            round_plan(rounds, budget)?,
            &crate::collect::Processes,
            output.progress,
        )?
    } else {
        let head = match &record {
            Some(path) => HeadSource::File(path),
            None => HeadSource::Run(&selection, &crate::collect::Processes),
        };
        gate(
            &loaded.project,
            &suite,
            &spec,
            history,
            &settings,
            head,
            output.progress,
        )?
    };
    finish_check(
        gated,
        &output_args,
        &loaded.project.target_dir,
        output,
        CheckPublish {
            actions: &actions,
            stop_commands,
            publish: publish.then_some(&github),
        },
    )
}

/// What `check` does with GitHub after the comparison.
pub(crate) struct CheckPublish<'a> {
    pub(crate) actions: &'a ActionsEnv,
    pub(crate) stop_commands: Option<StopCommands>,
    pub(crate) publish: Option<&'a GithubArgs>,
}

/// Record the pull request's head (GitHub checks out a merge commit), write
/// and print the report, publish it if asked. The exit code is the gate's.
pub(crate) fn finish_check(
    mut gated: Gated,
    args: &OutputArgs,
    target_dir: &Path,
    output: Output,
    github: CheckPublish<'_>,
) -> Result<u8> {
    if let Ok(Origin::PullRequest { head_sha, .. }) = read_origin(github.actions, false)
        && gated.report.head.commit.as_deref() != Some(head_sha.as_str())
    {
        gated.report.pull_request_head = Some(head_sha);
    }
    let (code, report) = emit(gated, args, target_dir, output)?;
    drop(github.stop_commands);
    if let Some(args) = github.publish {
        let options = publish_options(args, false);
        let lines =
            match publish::github::publish(&report, &options, github.actions, output.progress) {
                Ok(published) => published,
                Err(refused) => publish::github::Published {
                    done: Vec::new(),
                    problems: vec![refused.to_string()],
                },
            };
        for line in &lines.done {
            output.progress.note(line);
        }
        for problem in &lines.problems {
            warn(github.actions, &format!("publishing to GitHub: {problem}"));
        }
    }
    Ok(code)
}
