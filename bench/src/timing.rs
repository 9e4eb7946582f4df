//! Timing of training steps for the `*_cpu_time` examples: process CPU time (less disturbed by
//! other jobs on a shared machine than wall time) and wall time per step.

use std::time::Instant;

/// utime + stime of this process in seconds (`/proc/self/stat` fields 14 and 15, all threads).
///
/// # Panics
/// Off Linux (no `/proc/self/stat`).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("clock ticks");
    // Fields 14 and 15 are at 11 and 12 after the state field (field 3 = index 0).
    (ticks(11) + ticks(12)) / 100.0
}

/// The command line of the `*_cpu_time` examples: `[steps] [warmup] [name]` (defaults 40 timed
/// steps, 5 warm-up steps, every measurement).
#[derive(Debug, Clone)]
pub struct StepArgs {
    /// Timed steps.
    pub steps: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Only the measurement of this name.
    pub only: Option<String>,
}

impl StepArgs {
    /// From `std::env::args()`.
    pub fn from_env() -> Self {
        let mut args = std::env::args().skip(1);
        Self {
            steps: args.next().and_then(|a| a.parse().ok()).unwrap_or(40),
            warmup: args.next().and_then(|a| a.parse().ok()).unwrap_or(5),
            only: args.next(),
        }
    }

    /// Whether the measurement `name` runs.
    pub fn runs(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|o| o == name)
    }
}

/// What [`time_steps`] measured.
#[derive(Debug, Clone, Copy)]
pub struct StepTimes {
    /// Process CPU milliseconds per step (all threads).
    pub cpu_ms: f64,
    /// Mean wall milliseconds per step.
    pub wall_ms: f64,
    /// Median wall milliseconds per step (as `bench/pytorch/*.py` report for PyTorch).
    pub wall_median_ms: f64,
    /// The loss of the last step.
    pub last_loss: f32,
}

/// Runs `warmup` untimed steps, then `steps` timed ones.
pub fn time_steps(mut step: impl FnMut() -> f32, steps: usize, warmup: usize) -> StepTimes {
    for _ in 0..warmup {
        step();
    }
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let mut last_loss = 0.0;
    let mut walls = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        last_loss = step();
        walls.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let n = steps.max(1) as f64;
    walls.sort_by(f64::total_cmp);
    StepTimes {
        cpu_ms: (cpu_seconds() - cpu0) * 1e3 / n,
        wall_ms: wall0.elapsed().as_secs_f64() * 1e3 / n,
        wall_median_ms: walls.get(walls.len() / 2).copied().unwrap_or(f64::NAN),
        last_loss,
    }
}
