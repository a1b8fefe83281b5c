//! The default demo: two pull requests checked paired, as the Action
//! gates CI.

use std::path::{Path, PathBuf};

use crate::baseline::BaseSpec;
use crate::collect::{self, RunSelection};
use crate::compare::settings::Settings;
use crate::error::Result;
use crate::pipeline::{self, Output};
use crate::publish::github::body::{COMMENT_LIMIT, comment_body};
use crate::report::Report;

use super::{
    LIB_RS, QUICK_PROFILE_SECONDS, QUICK_ROUNDS, QUICK_WINDOWS, SUITE, commit_all, drop_index,
    exit_for, expected_regression, false_alarms, finish, missed, print_instruction_checks, start,
    summary, switch_to_new_branch, tidy, write_and_print, write_file,
};

/// The default demo: main, then two pull requests checked paired (main
/// built beside each, both timed in alternating rounds, every time change
/// counted in instructions), as the Action gates CI.
pub(super) fn run_quick(root: &Path, markdown_out: Option<PathBuf>, output: Output) -> Result<u8> {
    let started = std::time::Instant::now();
    let progress = output.progress;
    let say = |message: &str| progress.note(&format!("demo: {message}"));
    let (repo_dir, repo, project) = start(root, &say)?;
    let selection = RunSelection {
        criterion_args: QUICK_WINDOWS.map(String::from).to_vec(),
        profile_time: Some(QUICK_PROFILE_SECONDS),
        check_instructions: true,
        ..RunSelection::default()
    };
    let spec = BaseSpec::MergeBase {
        target_branch: Some("main".into()),
    };
    let settings = Settings::default();
    let check = |branch: &str, title: &str, source: &str| -> Result<(Report, PathBuf)> {
        say(&format!(
            "pull request `{branch}`: {title}; main built beside it, both timed in alternating rounds"
        ));
        switch_to_new_branch(&repo, branch)?;
        write_file(&repo_dir.join("src/lib.rs"), source)?;
        commit_all(&repo, title)?;
        let gate = pipeline::Gate {
            project: &project,
            suite: SUITE,
            base: &spec,
            settings: &settings,
            described: Default::default(),
        };
        let gated = gate.paired(
            &selection,
            collect::rounds::RoundPlan::Fixed(QUICK_ROUNDS),
            &collect::runner::Processes,
            progress,
        )?;
        write_and_print(
            gated,
            &root.join("reports").join(branch.replace('/', "-")),
            output,
        )
    };
    let (regressed, regressed_out) = check(
        "pr/drop-index",
        "orders: scan instead of the customer index; simpler duplicate check",
        &drop_index(LIB_RS)?,
    )?;
    let comment = markdown_out.unwrap_or_else(|| root.join("reports").join("comment.md"));
    let head = regressed.head.commit.clone().unwrap_or_default();
    crate::record::write_atomic(
        &comment,
        comment_body(&regressed, &head, None, COMMENT_LIMIT).as_bytes(),
    )?;
    let (neutral, neutral_out) = check("pr/tidy-cart", "catalog: tidy cart_total", &tidy(LIB_RS)?)?;

    let mut problems = missed(&regressed, "");
    problems.extend(false_alarms(
        &regressed,
        "pr/drop-index",
        expected_regression,
    ));
    problems.extend(false_alarms(&neutral, "pr/tidy-cart", |_| false));
    println!("\nflamegate demo finished in {:.0?}", started.elapsed());
    println!(
        "  pr/drop-index: {} -> exit {}  (reports: {})",
        summary(&regressed),
        exit_for(&regressed),
        regressed_out.display()
    );
    print_instruction_checks(&regressed, |_| true);
    println!(
        "  pr/tidy-cart:  {} -> exit {}  (reports: {})",
        summary(&neutral),
        exit_for(&neutral),
        neutral_out.display()
    );
    println!(
        "  the comment flamegate would post on pr/drop-index: {}",
        comment.display()
    );
    println!(
        "  repository:    {} (inspect it with git log --all --graph)",
        repo_dir.display()
    );
    println!(
        "  more: `flamegate demo --tour` also records main's baselines, checks against them, catches one more \
         allocation per request and plots main's history"
    );
    finish(
        problems,
        "the regression was caught and the neutral change passed",
    )
}
