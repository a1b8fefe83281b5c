//! Arguments and `flamegate.toml` resolved into what the stages take:
//! the project, the run selection, the baseline spec, statistics, the
//! round plan, the shard plan, publish options.

use std::time::Duration;

use crate::baseline::{self, BaseSpec};
use crate::cli::gate::GithubArgs;
use crate::cli::shared::{BaseArgs, BenchArgs, ProjectArgs, StatsArgs};
use crate::collect::cargo::Project;
use crate::collect::shard::{Balance, ShardPlan};
use crate::collect::{self, RunSelection};
use crate::compare;
use crate::config::{self, CONFIG_FILE, FileConfig, StatsOverrides};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::publish::github::PublishOptions;
use crate::publish::github::client::RetryPolicy;
use crate::record::RunRecord;
use crate::record::shard::ShardSpec;

/// A command's configuration, resolved and checked once before any work:
/// command-line flags over `flamegate.toml` over the defaults in the code.
/// Every command that works on a project starts by building one.
pub(crate) struct Config {
    pub project: Project,
    /// `--suite`, else flamegate.toml's `suite`, else the project's name.
    pub suite: String,
    /// Where a derived suite name came from, when it is not the project's
    /// name as it stands (reports carry it as a note).
    pub suite_origin: Option<crate::record::note::Note>,
    /// Which benchmarks to run and what to measure.
    pub selection: RunSelection,
    /// Where the baseline comes from, and how many earlier versions of it
    /// the noise model reads.
    pub base: BaseSpec,
    pub history: usize,
    /// The statistics' thresholds.
    pub settings: compare::settings::Settings,
}

/// The flag groups a command has; a group it lacks takes flamegate.toml and
/// the defaults.
#[derive(Default)]
pub(crate) struct Flags<'a> {
    pub bench: Option<&'a BenchArgs>,
    pub base: Option<&'a BaseArgs>,
    pub stats: Option<&'a StatsArgs>,
}

impl<'a> Flags<'a> {
    /// A command that runs benchmarks and compares them.
    pub(crate) fn all(bench: &'a BenchArgs, base: &'a BaseArgs, stats: &'a StatsArgs) -> Self {
        Flags {
            bench: Some(bench),
            base: Some(base),
            stats: Some(stats),
        }
    }

    /// A command that compares records it is given.
    pub(crate) fn comparing(base: &'a BaseArgs, stats: &'a StatsArgs) -> Self {
        Flags {
            bench: None,
            base: Some(base),
            stats: Some(stats),
        }
    }
}

impl Config {
    /// The gate of `suite` over this project, base and statistics, with
    /// what its report says of the run.
    pub(crate) fn gate<'a>(
        &'a self,
        suite: &'a str,
        described: crate::pipeline::RunDescription,
    ) -> crate::pipeline::Gate<'a> {
        crate::pipeline::Gate {
            project: &self.project,
            suite,
            base: &self.base,
            settings: &self.settings,
            described,
        }
    }

    /// Inspect the project, read its `flamegate.toml` (a missing default file
    /// is an empty one; a missing `--config` is an error), and resolve and
    /// check every setting the command's flags touch.
    pub(crate) fn resolve(args: &ProjectArgs, flags: Flags<'_>) -> Result<Config> {
        let project = collect::cargo::inspect(&args.manifest_path, None)?;
        let (file_path, must_exist) = match &args.config {
            Some(path) => (path.clone(), true),
            None => (project.dir.join(CONFIG_FILE), false),
        };
        let file = FileConfig::load(&file_path, must_exist)?;
        let config::SuiteName {
            name: suite,
            origin: suite_origin,
        } = config::suite(args.suite.clone(), &file, &file_path, &project.name)?;
        if let Some(origin) = &suite_origin {
            eprintln!("flamegate: {origin}");
        }
        let overrides = flags.stats.map(stats_overrides).unwrap_or_default();
        let settings = config::settings(&overrides, &file, &file_path)?;
        if let Some(warning) = config::noise_limit_warning(&overrides, &file) {
            super::warn(
                &crate::publish::github::env::ActionsEnv::from_process(),
                warning,
            );
        }
        let mut selection = selection(flags.bench.cloned().unwrap_or_default(), &file)?;
        selection.commands = file.commands(&project.dir, &file_path)?;
        let BaseArgs {
            base,
            base_file,
            base_ref,
            history,
        } = flags.base.cloned().unwrap_or_default();
        Ok(Config {
            base: config::base_spec(base, base_file, base_ref, &file),
            history: history.or(file.history).unwrap_or(config::DEFAULT_HISTORY),
            project,
            suite,
            suite_origin,
            selection,
            settings,
        })
    }

    /// Run the selected benchmarks on this machine into a record.
    pub(crate) fn measure(&self, progress: Progress) -> Result<RunRecord> {
        crate::pipeline::measure(
            &self.project,
            &self.selection,
            &collect::runner::Processes,
            progress,
        )
    }

    /// The suite the selected measure is stored under (instruction counts
    /// have their own: `<suite>.instructions`).
    pub(crate) fn measured_suite(&self) -> String {
        self.selection.measure.suite(&self.suite)
    }
}

fn stats_overrides(args: &StatsArgs) -> StatsOverrides {
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

fn selection(args: BenchArgs, file: &FileConfig) -> Result<RunSelection> {
    let BenchArgs {
        benches,
        packages,
        filter,
        profile_time,
        no_profile,
        criterion_args,
        measure,
    } = args;
    let profile_time = match (no_profile, profile_time.or(file.profile_time)) {
        (true, _) => None,
        // criterion refuses shorter profiling runs.
        (false, Some(s)) if !(s.is_finite() && s >= 1.0) => {
            return Err(Error::Usage(format!(
                "the profile time must be at least 1 second (criterion's minimum), got {s} \
                 (from --profile-time, else flamegate.toml's `profile_time`)"
            )));
        }
        (false, seconds) => Some(seconds.unwrap_or(collect::DEFAULT_PROFILE_SECONDS)),
    };
    Ok(RunSelection {
        commands: Vec::new(),
        shard: None,
        time_identical: false,
        time_same_code: false,
        // Kept in every record in time, so a later check can leave
        // benchmarks that execute the same untimed.
        executed: match collect::Measure::from(measure) {
            collect::Measure::Time => collect::ExecutedCheck::Record,
            collect::Measure::Instructions => collect::ExecutedCheck::Off,
        },
        timed_ids: None,
        // Only a paired run in time checks; `check --no-instruction-check` skips it.
        check_instructions: true,
        measure: measure.into(),
        profile_time,
        benches: if benches.is_empty() {
            file.benches.clone().unwrap_or_default()
        } else {
            benches
        },
        packages: if packages.is_empty() {
            file.packages.clone().unwrap_or_default()
        } else {
            packages
        },
        filter,
        criterion_args: if criterion_args.is_empty() {
            file.criterion_args.clone().unwrap_or_default()
        } else {
            criterion_args
        },
    })
}

/// The paired run's rounds from `--rounds` (fixed) or `--budget` (adaptive).
pub(crate) fn round_plan(
    rounds: Option<usize>,
    budget: Option<f64>,
) -> Result<collect::rounds::RoundPlan> {
    use collect::rounds::RoundPlan;
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
pub(crate) fn shard_plan(spec: ShardSpec, config: &Config, progress: Progress) -> ShardPlan {
    let suite = config.measured_suite();
    let durations = match baseline::load(&config.project.dir, &suite, &config.base, 0) {
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
        suite,
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
        accept_policy: None,
    }
}

impl From<crate::cli::gate::AcceptPolicyArg> for crate::record::acceptance::AcceptPolicy {
    fn from(arg: crate::cli::gate::AcceptPolicyArg) -> Self {
        use crate::cli::gate::AcceptPolicyArg;
        match arg {
            AcceptPolicyArg::Off => crate::record::acceptance::AcceptPolicy::Off,
            AcceptPolicyArg::Anyone => crate::record::acceptance::AcceptPolicy::Anyone,
            AcceptPolicyArg::Writers => crate::record::acceptance::AcceptPolicy::Writers,
        }
    }
}
