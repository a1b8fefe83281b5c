//! `flamegate merge`: shard records into one verdict.

use std::path::PathBuf;

use super::*;
use crate::cli::gate::MergeArgs;
use crate::collect;
use crate::error::{Error, Result};
use crate::pipeline::{HeadSource, Output, RunDescription};
use crate::publish::github::env::ActionsEnv;
use crate::record::RunRecord;
use crate::record::note::Note;

/// `flamegate merge`: shard records into one record, compared once (so the
/// suite-wide false discovery rate applies once, over the whole suite),
/// one report, one exit code, and with --publish one comment.
pub(crate) fn merge_shards(args: MergeArgs, output: Output) -> Result<u8> {
    let MergeArgs {
        records,
        allow_incomplete,
        project,
        base,
        stats,
        output: output_args,
        publish,
        github,
        defer_acceptances,
    } = args;
    let labels: Vec<String> = records.iter().map(|p| p.display().to_string()).collect();
    let (merged, paired_run) = match read_paired_shards(&records)? {
        Some(shards) => {
            let (run, merged) = crate::collect::shard::merge_paired(shards, &labels)?;
            (merged, Some(run))
        }
        None => {
            let shards: Vec<RunRecord> = records
                .iter()
                .map(|path| RunRecord::load(path))
                .collect::<Result<_>>()?;
            (crate::collect::shard::merge_records(shards, &labels)?, None)
        }
    };
    if !merged.missing.is_empty() && !allow_incomplete {
        return Err(Error::ShardMismatch(format!(
            "shard {} missing (given {} of {}); pass every shard record, or --allow-incomplete to report \
             the missing benchmarks as missing",
            merged.missing_list(),
            merged.given,
            merged.count
        )));
    }
    let suite_of_shards = merged.suite.clone();
    let missing_list = merged.missing_list();
    let config = Config::resolve(&project, Flags::comparing(&base, &stats))?;
    let suite = if merged.record.is_instructions() {
        collect::Measure::Instructions.suite(&config.suite)
    } else {
        config.suite.clone()
    };
    if suite != suite_of_shards {
        return Err(Error::ShardMismatch(format!(
            "the shards measured suite `{suite_of_shards}`, this project's suite is `{suite}`"
        )));
    }
    let actions = ActionsEnv::from_process();
    let mut notes = Vec::new();
    if !merged.missing.is_empty() {
        notes.push(Note::ShardsMissing {
            shards: missing_list,
            benchmarks: merged.missing_ids,
        });
    }
    if merged.machines_differ {
        notes.push(Note::ShardsOnDifferentMachines);
    }
    let described = RunDescription {
        notes,
        reproduce: None,
        pull_request_head: super::check::pull_request_head(&actions),
    };
    let gate = config.gate(&suite, described);
    let gated = match paired_run {
        Some(run) => gate.judge_paired(run),
        None => gate.stored(
            config.history,
            HeadSource::Record(
                Box::new(merged.record),
                format!("{} shards merged", merged.given),
            ),
            output.progress,
        )?,
    };
    finish_check(
        gated,
        &output_args,
        &config.project.target_dir,
        output,
        CheckPublish {
            actions: &actions,
            stop_commands: None,
            publish: publish.then_some(&github),
            defer_acceptances,
        },
    )
}

/// The paired shards among `paths`, if they are paired shards (all or none).
pub(crate) fn read_paired_shards(
    paths: &[PathBuf],
) -> Result<Option<Vec<crate::record::paired::PairedShard>>> {
    let mut shards = Vec::new();
    for path in paths {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let value: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| Error::ShardMismatch(format!("{}: not JSON: {e}", path.display())))?;
        match value
            .get("paired_shard")
            .and_then(serde_json::Value::as_u64)
        {
            Some(version) if version == u64::from(crate::record::paired::PAIRED_SHARD_FORMAT) => {
                let shard: crate::record::paired::PairedShard = serde_json::from_value(value)
                    .map_err(|e| {
                        Error::ShardMismatch(format!("{}: not a paired shard: {e}", path.display()))
                    })?;
                shards.push(shard);
            }
            Some(version) => {
                return Err(Error::ShardMismatch(format!(
                    "{}: paired shard format {version}, this flamegate reads {}",
                    path.display(),
                    crate::record::paired::PAIRED_SHARD_FORMAT
                )));
            }
            None => {}
        }
    }
    match shards.len() {
        0 => Ok(None),
        n if n == paths.len() => Ok(Some(shards)),
        _ => Err(Error::ShardMismatch(
            "some shards are paired runs and some are not: merge the shards of one matrix".into(),
        )),
    }
}
