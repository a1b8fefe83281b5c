//! The machine fingerprint: CPU model, logical cores, OS, rustc, governor.

use std::path::Path;
use std::process::Command;

use crate::record::Machine;

/// Read the fingerprint of this machine, with the rustc that `project_dir`
/// builds with (rustup overrides in the project apply).
pub fn fingerprint(project_dir: &Path) -> Machine {
    Machine {
        cpu_model: cpu_model().unwrap_or_else(|| std::env::consts::ARCH.to_string()),
        logical_cores: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
        os: os_name(),
        rustc: rustc_version(project_dir).unwrap_or_else(|| "unknown".into()),
        governor: std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        valgrind: None,
    }
}

fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            matches!(key.trim(), "model name" | "Model" | "cpu model").then(|| value.trim())
        })
        .map(str::to_string)
}

fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        });
    pretty.unwrap_or_else(|| std::env::consts::OS.to_string())
}

fn rustc_version(project_dir: &Path) -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("--version")
        .current_dir(project_dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
