//! Reader for criterion 0.8's on-disk output: the one place that knows its layout.
//!
//! Takes a criterion home directory (`CRITERION_HOME`) and hands on one
//! `BenchResult` per `<directory_name>/new/` folder, with the raw samples as
//! time per iteration (ns). The format is undocumented, so every assumption is
//! checked and a mismatch is an error naming the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::record::{BenchId, BenchResult, SampleUnit, Throughput};

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<serde_json::Value>,
    full_id: String,
}

#[derive(Deserialize)]
struct SampleJson {
    iters: Vec<f64>,
    times: Vec<f64>,
}

/// Read every benchmark under `criterion_home`, sorted by id.
pub fn read_criterion_home(criterion_home: &Path) -> Result<Vec<BenchResult>> {
    Ok(read_criterion_dirs(criterion_home)?
        .into_iter()
        .map(|(_, result)| result)
        .collect())
}

/// Every benchmark under `criterion_home` with its directory there (the
/// same directory criterion's profiling mode writes into), sorted by id.
pub fn read_criterion_dirs(criterion_home: &Path) -> Result<Vec<(PathBuf, BenchResult)>> {
    let mut found = Vec::new();
    find_new_dirs(criterion_home, &mut found)?;
    let mut results = found
        .iter()
        .map(|dir| {
            let relative = dir
                .parent()
                .and_then(|p| p.strip_prefix(criterion_home).ok())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            Ok((relative, read_bench_dir(dir)?))
        })
        .collect::<Result<Vec<_>>>()?;
    results.sort_by(|a, b| a.1.id.cmp(&b.1.id));
    Ok(results)
}

fn find_new_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if !entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir() {
            continue;
        }
        if entry.file_name() == "new" && path.join("benchmark.json").exists() {
            found.push(path);
        } else if entry.file_name() != "report" {
            find_new_dirs(&path, found)?;
        }
    }
    Ok(())
}

/// Read one `<id>/new/` directory.
pub fn read_bench_dir(new_dir: &Path) -> Result<BenchResult> {
    let benchmark: BenchmarkJson = read_json(&new_dir.join("benchmark.json"))?;
    let sample_path = new_dir.join("sample.json");
    let sample: SampleJson = read_json(&sample_path)?;
    let layout = |problem: String| Error::CriterionLayout {
        path: sample_path.clone(),
        problem,
    };
    if sample.iters.len() != sample.times.len() {
        return Err(layout(format!(
            "{} iteration counts but {} times",
            sample.iters.len(),
            sample.times.len()
        )));
    }
    if sample.iters.is_empty() {
        return Err(layout("no samples".into()));
    }
    let samples = sample
        .iters
        .iter()
        .zip(&sample.times)
        .map(|(&iters, &time)| {
            if iters > 0.0 && time.is_finite() && time > 0.0 {
                Ok(time / iters)
            } else {
                Err(layout(format!(
                    "a sample of {time} ns over {iters} iterations"
                )))
            }
        })
        .collect::<Result<Vec<f64>>>()?;
    let throughput = benchmark
        .throughput
        .as_ref()
        .map(|v| parse_throughput(v, &new_dir.join("benchmark.json")))
        .transpose()?;
    Ok(BenchResult {
        function: benchmark.function_id,
        parameter: benchmark.value_str,
        throughput,
        ..BenchResult::new(
            BenchId(benchmark.full_id),
            benchmark.group_id,
            SampleUnit::Nanoseconds,
            samples,
        )
    })
}

fn parse_throughput(value: &serde_json::Value, path: &Path) -> Result<Throughput> {
    let object = value.as_object().filter(|o| o.len() == 1);
    let parsed = object.and_then(|o| {
        let (unit, amount) = o.iter().next()?;
        Some(Throughput {
            unit: unit.clone(),
            per_iteration: amount.as_u64()?,
        })
    });
    parsed.ok_or_else(|| Error::CriterionLayout {
        path: path.to_path_buf(),
        problem: format!("throughput {value} is not {{\"Unit\": count}}"),
    })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).map_err(|e| Error::CriterionLayout {
        path: path.to_path_buf(),
        problem: format!("cannot read it ({e})"),
    })?;
    serde_json::from_slice(&text).map_err(|e| Error::CriterionLayout {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })
}
