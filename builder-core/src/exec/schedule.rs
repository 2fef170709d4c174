//! Runs a plan's stages on up to `jobs` threads: a stage starts once every stage it depends
//! on is done; stages are picked in plan order, so `jobs = 1` is the sequential build. The
//! result does not depend on the thread count (each stage's output depends only on its inputs).

use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::plan::PlannedStage;

struct Progress {
    started: Vec<bool>,
    done: Vec<bool>,
    failed: Option<Error>,
}

impl Progress {
    /// The first stage not started whose dependencies (within the plan) are done.
    fn ready(&self, stages: &[PlannedStage]) -> Option<usize> {
        (0..stages.len()).find(|&i| {
            !self.started[i]
                && stages[i].dependencies.iter().all(|dep| {
                    stages
                        .iter()
                        .position(|s| s.index == *dep)
                        .is_none_or(|p| self.done[p])
                })
        })
    }
}

fn lock(m: &Mutex<Progress>) -> MutexGuard<'_, Progress> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Calls `run` once per stage, on up to `jobs` threads (at least one), dependencies first.
/// Stops starting stages after the first error, waits for the running ones, returns the error.
pub(super) fn run_stages(
    stages: &[PlannedStage],
    jobs: usize,
    run: &(dyn Fn(&PlannedStage) -> Result<()> + Sync),
) -> Result<()> {
    let progress = Mutex::new(Progress {
        started: vec![false; stages.len()],
        done: vec![false; stages.len()],
        failed: None,
    });
    let changed = Condvar::new();
    let worker = || {
        loop {
            let next = {
                let mut p = lock(&progress);
                loop {
                    if p.failed.is_some() || p.started.iter().all(|s| *s) {
                        return;
                    }
                    if let Some(i) = p.ready(stages) {
                        p.started[i] = true;
                        break i;
                    }
                    p = changed
                        .wait(p)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            let result = run(&stages[next]);
            let mut p = lock(&progress);
            match result {
                Ok(()) => p.done[next] = true,
                Err(e) => {
                    if p.failed.is_none() {
                        p.failed = Some(e);
                    }
                }
            }
            changed.notify_all();
        }
    };
    let threads = jobs.clamp(1, stages.len().max(1));
    if threads == 1 {
        worker();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(worker);
            }
        });
    }
    match progress
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .failed
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
