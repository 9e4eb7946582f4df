//! The track fit after building: every candidate is fitted with the Kalman fitter of the
//! classical baseline ([`crate::kalman::KalmanFitter`]: helix propagation, multiple scattering,
//! RTS smoother), and its χ²/ndf decides whether it is a track.
//!
//! ```text
//! fit the candidate's hits (ordered by distance from the origin)
//! while χ²/ndf > cut and fewer than max_outliers hits removed and more than min_hits left:
//!     refit without each hit in turn; remove the hit whose absence gives the lowest χ²/ndf
//! keep the candidate (without the removed hits) if χ²/ndf ≤ cut, else drop it
//! (a failed fit — a hit the helix does not reach — counts as χ²/ndf = ∞)
//! ```
//!
//! A candidate whose hits come from several particles (a fake: no particle holds more than half
//! of them) rarely lies on one helix, while a true track's χ²/ndf follows the χ² law of its
//! 2N − 5 degrees of freedom; GNN4ITk and Exa.TrkX end their chains with such a fit. The field is
//! the fitter's uniform B_z: in a non-uniform field (`events.field = "solenoid"`) forward
//! tracks fit worse and the cut must be looser.

use rayon::prelude::*;

use hepnn_core::Event;

use super::TrackCandidate;
use crate::kalman::{KalmanFitter, Result, TrackingGeometry, fitter};

/// Fits candidates and keeps those that lie on a helix (module docs).
#[derive(Debug, Clone)]
pub struct FitFilter {
    /// The detector the hits lie on.
    pub geometry: TrackingGeometry,
    /// The fitter.
    pub fitter: KalmanFitter,
    /// Largest χ²/ndf of a kept candidate.
    pub chi2_max: f64,
    /// Most hits removed from one candidate.
    pub max_outliers: usize,
    /// Fewest hits of a kept candidate (≥ 3, the fit's minimum).
    pub min_hits: usize,
}

/// What the filter did to one event's candidates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FitFilterCounts {
    /// Candidates kept as they were.
    pub kept: usize,
    /// Candidates kept after removing outlier hits.
    pub cleaned: usize,
    /// Candidates dropped (χ²/ndf above the cut, or the fit failed).
    pub dropped: usize,
}

impl FitFilter {
    /// The candidates that pass, in their input order, and the counts.
    ///
    /// # Errors
    /// As [`crate::kalman::EventMeasurements::new`] (an empty event, a hit on a module the
    /// geometry lacks); [`crate::kalman::KalmanError::BadHits`] for a candidate naming a hit the
    /// event does not have.
    pub fn filter(
        &self,
        event: &Event,
        candidates: Vec<TrackCandidate>,
    ) -> Result<(Vec<TrackCandidate>, FitFilterCounts)> {
        if candidates.is_empty() {
            return Ok((candidates, FitFilterCounts::default()));
        }
        let measurements = crate::kalman::EventMeasurements::new(&self.geometry, event)?;
        fitter::check_candidate_hits(&candidates, event.hits.len())?;
        let outcomes: Vec<Option<(TrackCandidate, bool)>> = candidates
            .into_par_iter()
            .map(|candidate| {
                let mut hits = fitter::order_hits(&measurements, &candidate.hits);
                // χ²/ndf, infinite when the fit fails (a hit the helix does not reach).
                let fit = |hits: &[usize]| {
                    self.fitter
                        .fit(&self.geometry, &measurements, hits)
                        .map_or(f64::INFINITY, |f| f.chi2 / f.ndf as f64)
                };
                let mut quality = fit(&hits);
                let mut removed = 0;
                while quality > self.chi2_max {
                    if removed == self.max_outliers || hits.len() <= self.min_hits.max(3) {
                        return None;
                    }
                    // Leave each hit out in turn; the outlier is the one whose removal fits best.
                    let (worst, best) = (0..hits.len())
                        .map(|k| {
                            let mut rest = hits.clone();
                            rest.remove(k);
                            (k, fit(&rest))
                        })
                        .min_by(|a, b| a.1.total_cmp(&b.1))?;
                    hits.remove(worst);
                    quality = best;
                    removed += 1;
                }
                Some((TrackCandidate { hits }, removed > 0))
            })
            .collect();
        let mut counts = FitFilterCounts::default();
        let mut kept = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            match outcome {
                Some((candidate, cleaned)) => {
                    if cleaned {
                        counts.cleaned += 1;
                    } else {
                        counts.kept += 1;
                    }
                    kept.push(candidate);
                }
                None => counts.dropped += 1,
            }
        }
        Ok((kept, counts))
    }
}
