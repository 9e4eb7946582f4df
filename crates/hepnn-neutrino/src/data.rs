//! Events as network inputs: batches of the two views, normalised, with their labels.

use burn::prelude::*;
use hepnn_sim::neutrino::NeutrinoEvent;

/// The network's reading of a cell of energy `e` MeV: ln(1 + e) / 3.
pub fn normalise(e: f32) -> f32 {
    (1.0 + e.max(0.0)).ln() / 3.0
}

/// Simulated events and their view size.
#[derive(Debug, Clone)]
pub struct EventSet {
    /// The events.
    pub events: Vec<NeutrinoEvent>,
    /// Planes per view.
    pub planes: usize,
    /// Cells per plane.
    pub cells: usize,
}

impl EventSet {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Labels of all events.
    pub fn labels(&self) -> Vec<usize> {
        self.events.iter().map(NeutrinoEvent::label).collect()
    }

    /// The views of events `indices` as `[n, 1, planes, cells]` tensors, and their labels.
    pub fn batch(
        &self,
        indices: &[usize],
        device: &Device,
    ) -> (Tensor<4>, Tensor<4>, Tensor<1, Int>) {
        let pixels = self.planes * self.cells;
        let mut xz = Vec::with_capacity(indices.len() * pixels);
        let mut yz = Vec::with_capacity(indices.len() * pixels);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let e = &self.events[i];
            xz.extend(e.xz.iter().map(|&v| normalise(v)));
            yz.extend(e.yz.iter().map(|&v| normalise(v)));
            labels.push(e.label() as i64);
        }
        let shape = [indices.len(), 1, self.planes, self.cells];
        (
            Tensor::<1>::from_floats(xz.as_slice(), device).reshape(shape),
            Tensor::<1>::from_floats(yz.as_slice(), device).reshape(shape),
            Tensor::<1, Int>::from_ints(labels.as_slice(), device),
        )
    }
}
