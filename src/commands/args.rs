//! Arguments and `flamegate.toml` resolved into what the stages take:
//! the project, the run selection, the baseline spec, statistics, the
//! round plan, the shard plan, publish options.

use std::path::PathBuf;
use std::time::Duration;

use crate::baseline::{self, BaseSpec};
use crate::cli::{BaseArgs, BenchArgs, GithubArgs, ProjectArgs, StatsArgs};
use crate::collect::shard::{Balance, ShardPlan, ShardSpec};
use crate::collect::{self, Progress, Project, RunSelection};
use crate::compare;
use crate::config::{self, CONFIG_FILE, FileConfig, StatsOverrides};
use crate::error::{Error, Result};
use crate::publish::github::PublishOptions;
use crate::publish::github::client::RetryPolicy;

/// A project with its config file, and the suite name they give.
pub(crate) struct LoadedProject {
    pub project: Project,
    pub file: FileConfig,
    pub file_path: PathBuf,
    /// `--suite`, else flamegate.toml's `suite`, else the project's name.
    pub suite: String,
}

/// Inspect the project, read its `flamegate.toml`, resolve the suite name:
/// what every command that works on a project starts with.
pub(crate) fn load_project(args: &ProjectArgs) -> Result<LoadedProject> {
    let project = collect::cargo::inspect(&args.manifest_path, None)?;
    let (file_path, must_exist) = match &args.config {
        Some(path) => (path.clone(), true),
        None => (project.dir.join(CONFIG_FILE), false),
    };
    let file = FileConfig::load(&file_path, must_exist)?;
    let suite = config::suite(args.suite.clone(), &file, &project.name)?;
    Ok(LoadedProject {
        project,
        file,
        file_path,
        suite,
    })
}

impl LoadedProject {
    /// The statistical settings: flags over flamegate.toml over defaults.
    pub(crate) fn settings(&self, overrides: &StatsOverrides) -> Result<compare::Settings> {
        config::settings(overrides, &self.file, &self.file_path)
    }
}

pub(crate) fn stats_overrides(args: &StatsArgs) -> StatsOverrides {
    let StatsArgs {
        min_change,
        fdr,
        noise_limit,
    } = args.clone();
    StatsOverrides {
        min_change,
        fdr,
        noise_limit,
    }
}

pub(crate) fn selection(args: &BenchArgs, file: &FileConfig) -> Result<RunSelection> {
    let BenchArgs {
        benches,
        filter,
        profile_time,
        no_profile,
        criterion_args,
        measure,
    } = args.clone();
    let profile_time = match (no_profile, profile_time.or(file.profile_time)) {
        (true, _) => None,
        // criterion refuses shorter profiling runs.
        (false, Some(s)) if !(s.is_finite() && s >= 1.0) => {
            return Err(Error::Usage(format!(
                "--profile-time must be at least 1 second (criterion's minimum), got {s}"
            )));
        }
        (false, seconds) => Some(seconds.unwrap_or(collect::DEFAULT_PROFILE_SECONDS)),
    };
    Ok(RunSelection {
        shard: None,
        measure: measure.into(),
        profile_time,
        benches: if benches.is_empty() {
            file.benches.clone().unwrap_or_default()
        } else {
            benches
        },
        filter,
        criterion_args: if criterion_args.is_empty() {
            file.criterion_args.clone().unwrap_or_default()
        } else {
            criterion_args
        },
    })
}

pub(crate) fn base_spec(args: &BaseArgs, file: &FileConfig) -> (BaseSpec, usize) {
    let BaseArgs {
        base,
        base_file,
        base_ref,
        history,
    } = args.clone();
    (
        config::base_spec(base, base_file, base_ref, file),
        history.or(file.history).unwrap_or(config::DEFAULT_HISTORY),
    )
}

/// The paired run's rounds from `--rounds` (fixed) or `--budget` (adaptive).
pub(crate) fn round_plan(
    rounds: Option<usize>,
    budget: Option<f64>,
) -> Result<collect::paired::RoundPlan> {
    use collect::paired::RoundPlan;
    match (rounds, budget) {
        (Some(n), _) if n < 2 => Err(Error::Usage(
            "--rounds must be at least 2: one round cannot separate a change from noise".into(),
        )),
        (Some(n), _) => Ok(RoundPlan::Fixed(n)),
        (None, Some(seconds)) if !(seconds > 0.0 && seconds.is_finite()) => Err(Error::Usage(
            "--budget must be a positive number of seconds".into(),
        )),
        (None, budget) => Ok(RoundPlan::Adaptive {
            budget: budget.map(Duration::from_secs_f64),
        }),
    }
}

/// The shard plan for `--shard K/N`: durations from the stored baseline at
/// the merge-base (the same file in every job of the matrix, so every job
/// splits alike); without one, the split falls back to the id hash.
pub(crate) fn shard_plan(
    spec: ShardSpec,
    loaded: &LoadedProject,
    suite: &str,
    base: &BaseArgs,
    progress: Progress,
) -> ShardPlan {
    let (base_spec, _) = base_spec(base, &loaded.file);
    let durations = match baseline::load(&loaded.project.dir, suite, &base_spec, 0) {
        Ok(baseline) => baseline
            .record
            .benches
            .iter()
            .filter_map(|b| Some((b.id.clone(), b.seconds?)))
            .collect(),
        Err(error) => {
            progress.note(&format!(
                "shard {spec}: no baseline durations to balance the split ({error}); splitting by id hash"
            ));
            Default::default()
        }
    };
    ShardPlan {
        spec,
        suite: suite.to_string(),
        balance: Balance::Durations(durations),
    }
}

pub(crate) fn publish_options(args: &GithubArgs, from_workflow_run: bool) -> PublishOptions {
    PublishOptions {
        comment: args.comment.into(),
        check_run: args.check_run,
        from_workflow_run,
        comment_author: args.comment_author.clone(),
        policy: RetryPolicy {
            backoff_base: Duration::from_millis(args.retry_backoff_ms),
            request_timeout: Duration::from_secs(args.request_timeout.max(1)),
            deadline: Duration::from_secs(args.publish_deadline.max(1)),
            ..RetryPolicy::default()
        },
    }
}
