//! How much memory a run may still take: a run the machine cannot hold is
//! refused before it starts, with its estimate, rather than killed midway.

use super::{effective_threads, estimate_memory_with, EngineError, RunOptions};
use crate::model::Model;

/// Refuses a run of `model` that needs more memory than the process has
/// (`extra_columns`: per-path columns beyond the model's, a book's).
pub fn check(model: &Model, options: &RunOptions, extra_columns: usize) -> Result<(), EngineError> {
    let threads = effective_threads(options.threads);
    let needed = estimate_memory_with(model, options, threads, extra_columns);
    match available() {
        Some(available) if needed > available => {
            Err(EngineError::NotEnoughMemory { needed, available })
        }
        _ => Ok(()),
    }
}

/// The memory a run may still take: MemAvailable from /proc/meminfo, or less
/// where the process's control group (a container's limit, v2 or v1) leaves less.
pub fn available() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let machine = read("/proc/meminfo").and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    let group = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ]
    .iter()
    .find_map(|(limit, usage)| group_headroom(&read(limit)?, &read(usage)?));
    let address_space = read("/proc/self/limits")
        .zip(read("/proc/self/status"))
        .and_then(|(limits, status)| address_space_headroom(&limits, &status));
    [machine, group, address_space].into_iter().flatten().min()
}

/// What a soft address-space limit (`ulimit -v`) leaves above the process's
/// virtual size, from /proc/self/limits and /proc/self/status; `None` when
/// unlimited.
fn address_space_headroom(limits: &str, status: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line
        .trim_start_matches("Max address space")
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let size = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kib: u64 = size.split_whitespace().nth(1)?.parse().ok()?;
    Some(soft.saturating_sub(kib * 1024))
}

/// What a control group's limit leaves above its usage, from the two files'
/// text; `None` without a limit ("max" in v2, a number near 2^63 in v1).
fn group_headroom(limit: &str, usage: &str) -> Option<u64> {
    let limit: u64 = limit.trim().parse().ok()?;
    let usage: u64 = usage.trim().parse().ok()?;
    (limit < 1 << 60).then(|| limit.saturating_sub(usage))
}

#[cfg(test)]
mod tests {
    use super::{address_space_headroom, group_headroom};

    #[test]
    fn an_address_space_limit_leaves_its_headroom() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         4294967296           unlimited            bytes\n";
        let status = "Name:\tstormglass\nVmSize:\t 1048576 kB\n";
        assert_eq!(address_space_headroom(limits, status), Some(3 << 30));
        let unlimited = limits.replace("4294967296", "unlimited ");
        assert_eq!(address_space_headroom(&unlimited, status), None);
    }

    #[test]
    fn control_group_headroom_is_limit_minus_usage() {
        assert_eq!(
            group_headroom("4294967296\n", "1073741824\n"),
            Some(3 << 30)
        );
        assert_eq!(group_headroom("1000", "1500"), Some(0));
        assert_eq!(group_headroom("max\n", "1073741824\n"), None);
        assert_eq!(group_headroom("9223372036854771712", "2454294528"), None);
        assert_eq!(group_headroom("", "12"), None);
    }
}
