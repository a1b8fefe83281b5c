//! `flamegate bisect`: the commit that changed a benchmark's count.

use super::*;
use crate::bisect::{self, Request};
use crate::cli::history::BisectArgs;
use crate::collect;
use crate::error::{Error, Result, exit_code};
use crate::record::write_atomic;
use crate::render::bisect as render;

pub(crate) fn bisect(args: BisectArgs, output: Output) -> Result<u8> {
    let mut config = Config::resolve(&args.project, Flags::default())?;
    if let Some(min_change) = args.min_change {
        config.settings.min_change = min_change.0;
    }
    let selection = collect::RunSelection {
        benches: args.select.benches,
        packages: args.select.packages,
        filter: args.select.filter,
        ..Default::default()
    };
    let mut report = bisect::bisect(
        &Request {
            project: &config.project,
            suite: config.suite.clone(),
            good: args.good,
            bad: args.bad,
            selection,
            settings: &config.settings,
            any_change: args.any,
            measure: args.measure.map(collect::Measure::from),
            profile_time: (!args.no_profile).then(|| {
                args.profile_time
                    .unwrap_or(collect::DEFAULT_PROFILE_SECONDS)
            }),
        },
        &collect::runner::Processes,
        &output.progress,
    )?;
    let out_dir = args
        .out_dir
        .unwrap_or_else(|| config.project.target_dir.join("flamegate"));
    write_flamegraphs(&mut report, &out_dir)?;
    let json = serde_json::to_vec_pretty(&report).expect("a bisect report serializes");
    let markdown = render::markdown(&report);
    for (name, bytes) in [
        ("bisect.json", json.as_slice()),
        ("bisect.md", markdown.as_bytes()),
    ] {
        let path = out_dir.join(name);
        write_atomic(&path, bytes)?;
        output.progress.note(&format!("wrote {}", path.display()));
    }
    let text = match Format::from(args.format) {
        Format::Terminal => render::terminal(&report).into_bytes(),
        Format::Markdown => markdown.into_bytes(),
        Format::Json => json,
    };
    print_stdout(&text)?;
    Ok(if report.decided() {
        exit_code::PASS
    } else {
        exit_code::REGRESSION
    })
}

/// Each profiled culprit's flamegraph and its difference from its parent,
/// in `out_dir/flamegraphs/`, named on the culprit.
fn write_flamegraphs(
    report: &mut crate::report::bisect::BisectReport,
    out_dir: &std::path::Path,
) -> Result<()> {
    use crate::render::flamegraph::{differential_svg, flamegraph_svg};
    use crate::report::bisect::BisectOutcome;
    for bench in &mut report.benchmarks {
        let BisectOutcome::Culprit(culprit) = &mut bench.outcome else {
            continue;
        };
        let Some(profiles) = culprit.profiles.take() else {
            continue;
        };
        let (parent, head) = *profiles;
        let stem = crate::record::BenchId(bench.id.clone()).file_stem();
        let title = format!(
            "{} at {}",
            bench.id,
            crate::error::short_sha(&culprit.commit.sha)
        );
        let files = [
            (
                format!("flamegraphs/bisect-{stem}.svg"),
                flamegraph_svg(&title, &head),
            ),
            (
                format!("flamegraphs/bisect-{stem}.diff.svg"),
                differential_svg(&format!("{title} (parent → culprit)"), &parent, &head),
            ),
        ];
        for (name, svg) in files {
            let path = out_dir.join(&name);
            write_atomic(&path, &svg.map_err(|e| Error::io(&path, e))?)?;
            culprit.flamegraphs.push(name);
        }
    }
    Ok(())
}
