//! `hepnn inspect`: read a TrackML event and report what it holds.

use std::path::Path;

use anyhow::Context;

use crate::Common;
use crate::summary::{Summary, prepare_out};

/// Reads `dir/event*` and prints hit, noise, particle, cell and truth counts.
pub fn run(dir: &Path, event: &str, common: &Common) -> anyhow::Result<()> {
    let ev = hepnn_core::io::read_event(dir, event)
        .with_context(|| format!("reading TrackML event {event} in {}", dir.display()))?;
    let mut s = Summary::new();
    s.set("event_id", ev.event_id);
    s.set("hits", ev.hits.len());
    s.set("cells", ev.cells.len());
    s.set("particles", ev.particles.len());
    s.set("truth_links", ev.truth.len());
    if ev.has_truth() {
        s.set("noise_hits", ev.noise_hit_count());
    }
    prepare_out(&common.out)?;
    s.report(&common.out, &format!("TrackML {event}"))?;
    Ok(())
}
