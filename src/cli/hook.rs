//! `hook`: the pre-push check.

use clap::{Args, Subcommand};

use super::shared::ProjectArgs;

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write the repository's pre-push hook (core.hooksPath honoured).
    ///
    /// Every push then times the stored baseline's benchmarks with short
    /// windows; a regression is confirmed by a paired run against the
    /// merge-base (built and timed here) before it blocks the push.
    Install(HookInstallArgs),
    /// Remove flamegate's pre-push hook; a chained earlier hook is put back.
    Uninstall(HookUninstallArgs),
    /// What the installed hook runs: git passes the remote's name and URL,
    /// and the pushed refs on stdin.
    #[command(hide = true)]
    PrePush(PrePushArgs),
}

#[derive(Debug, Args)]
pub struct HookInstallArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Overwrite a pre-push hook that is not flamegate's.
    #[arg(long, conflicts_with = "chain")]
    pub force: bool,
    /// Keep an existing pre-push hook and run it first (it can still block the push).
    #[arg(long)]
    pub chain: bool,
    /// Also time benchmarks the stored baseline does not have. By default the
    /// hook lists them and leaves them to CI: without a baseline they can
    /// only read `new`, and timing them spends the push's time on nothing.
    #[arg(long)]
    pub time_new: bool,
    /// Seconds a push may wait for the check; past them the hook says what
    /// it did not check and lets the push through (CI still gates it).
    #[arg(id = "push_budget", long = "budget", value_name = "SECONDS", default_value_t = crate::hook::DEFAULT_BUDGET_SECONDS)]
    pub budget: u64,
    /// Criterion arguments for the quick gate, after `--`
    #[arg(last = true, value_name = "CRITERION_ARGS")]
    pub criterion_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HookUninstallArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
}

#[derive(Debug, Args)]
pub struct PrePushArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The remote's name, as git passes it.
    pub remote: Option<String>,
    /// The remote's URL, as git passes it.
    pub url: Option<String>,
    /// Time benchmarks without a stored baseline too (`hook install --time-new`).
    #[arg(long)]
    pub time_new: bool,
    /// Seconds the push may wait for the check (`hook install --budget`).
    #[arg(id = "push_budget", long = "budget", value_name = "SECONDS", default_value_t = crate::hook::DEFAULT_BUDGET_SECONDS)]
    pub budget: u64,
    /// Run the check itself; without it, this process runs the check as a
    /// child within the budget and lets the push through unless it fails
    /// the gate.
    #[arg(long, hide = true)]
    pub supervised: bool,
    #[arg(last = true, value_name = "CRITERION_ARGS")]
    pub criterion_args: Vec<String>,
}
