//! flamegate's one integration test binary.

#[path = "integration/support.rs"]
mod support;

#[path = "integration/action_install.rs"]
mod action_install;
#[path = "integration/allocations.rs"]
mod allocations;
#[path = "integration/architecture.rs"]
mod architecture;
#[path = "integration/baseline_git.rs"]
mod baseline_git;
#[path = "integration/bisect.rs"]
mod bisect;
#[path = "integration/cli_help.rs"]
mod cli_help;
#[path = "integration/command.rs"]
mod command;
#[path = "integration/config.rs"]
mod config;
#[path = "integration/criterion_reader.rs"]
mod criterion_reader;
#[path = "integration/criterion_versions.rs"]
mod criterion_versions;
#[path = "integration/divan.rs"]
mod divan;
#[path = "integration/eval.rs"]
mod eval;
#[path = "integration/github_fake.rs"]
mod github_fake;
#[path = "integration/history.rs"]
mod history;
#[path = "integration/hook_and_actions.rs"]
mod hook_and_actions;
#[path = "integration/instructions.rs"]
mod instructions;
#[path = "integration/packaging.rs"]
mod packaging;
#[path = "integration/paired.rs"]
mod paired;
#[path = "integration/profiles.rs"]
mod profiles;
#[path = "integration/publish_github.rs"]
mod publish_github;
#[path = "integration/real_bench.rs"]
mod real_bench;
#[path = "integration/real_crate_shapes.rs"]
mod real_crate_shapes;
#[path = "integration/render_snapshots.rs"]
mod render_snapshots;
#[path = "integration/scaling.rs"]
mod scaling;
#[path = "integration/scripted.rs"]
mod scripted;
#[path = "integration/shards.rs"]
mod shards;
#[path = "integration/workspace.rs"]
mod workspace;
