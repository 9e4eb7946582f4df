//! Next-hit prediction with an LSTM (the HEP.TrkX approach: Farrell et al. 2017, "The HEP.TrkX
//! project: deep neural networks for HL-LHC online and offline tracking",
//! <https://doi.org/10.1051/epjconf/201715000003>), against a helix extrapolation from the same
//! hits; course slide "réseaux récurrents : suivre une trace".
//!
//! A track's barrel hits, in layer order (pixel 8, short strips 13, long strips 17: ten layers),
//! are a sequence. At step t the LSTM reads hit t in cylindrical coordinates (r, φ, z; φ measured
//! from the first hit) with the radius of the next layer, and predicts the step to hit t + 1:
//!
//! ```text
//! x_t = (r_t, φ_t, z_t, r_{t+1}),   h_t = LSTM(x_t, h_{t−1}),   (Δφ, Δz)_{t+1} = W h_t + b
//! φ̂_{t+1} = φ_t + Δφ,   ẑ_{t+1} = z_t + Δz
//! ```
//!
//! The classical baseline fits a circle to the first N hits in the transverse plane (algebraic
//! least squares, Kåsa 1976), intersects it with the next hit's radius, and fits a line
//! z = z₀ + s·cot θ in arc length s. Residuals are r·Δφ and Δz (mm) at the next hit.

use std::collections::HashMap;
use std::f64::consts::PI;
use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::TensorData;
use hepnn_core::{Event, HitId, ParticleId};
use hepnn_nn::rnn::{LstmCell, LstmCellConfig, RecurrentCell};
use hepnn_nn::train::{TrainConfig, TrainTask, Trainer};

/// The barrel volumes in radial order (TrackML pixel, short-strip, long-strip barrels).
pub const BARREL_VOLUMES: [u32; 3] = [8, 13, 17];
/// Barrel layers crossed by a central track: 4 pixel + 4 short-strip + 2 long-strip.
pub const BARREL_LAYERS: usize = 10;

/// One track's barrel hits in layer order, cylindrical (r mm, φ rad, z mm).
#[derive(Debug, Clone)]
pub struct TrackHits {
    /// The particle.
    pub particle_id: ParticleId,
    /// (r, φ, z) of each hit, inner layer first.
    pub hits: Vec<[f64; 3]>,
}

/// The tracks of `events` that leave exactly one hit in each of the ten barrel layers (the first
/// hit of a layer is kept when overlapping modules give two), hits in layer order.
pub fn barrel_tracks(events: &[Event]) -> Vec<TrackHits> {
    let mut out = Vec::new();
    for event in events {
        let owner: HashMap<HitId, ParticleId> = event
            .truth
            .iter()
            .map(|t| (t.hit_id, t.particle_id))
            .collect();
        let mut by_particle: HashMap<ParticleId, Vec<usize>> = HashMap::new();
        for (i, hit) in event.hits.iter().enumerate() {
            if let Some(&p) = owner.get(&hit.hit_id)
                && !p.is_noise()
            {
                by_particle.entry(p).or_default().push(i);
            }
        }
        let mut particles: Vec<ParticleId> = by_particle.keys().copied().collect();
        particles.sort();
        for p in particles {
            let mut idx = by_particle[&p].clone();
            idx.sort_by(|&a, &b| event.hits[a].r().total_cmp(&event.hits[b].r()));
            if idx
                .iter()
                .any(|&i| !BARREL_VOLUMES.contains(&event.hits[i].volume_id))
            {
                continue;
            }
            let mut layers = Vec::new();
            let mut hits = Vec::new();
            for &i in &idx {
                let h = &event.hits[i];
                let key = (h.volume_id, h.layer_id);
                if !layers.contains(&key) {
                    layers.push(key);
                    hits.push([h.r(), h.y.atan2(h.x), h.z]);
                }
            }
            if hits.len() == BARREL_LAYERS {
                out.push(TrackHits {
                    particle_id: p,
                    hits: relative_phi(hits),
                });
            }
        }
    }
    out
}

fn wrap(phi: f64) -> f64 {
    (phi + PI).rem_euclid(2.0 * PI) - PI
}

/// φ measured from the first hit, unwrapped along the track.
fn relative_phi(mut hits: Vec<[f64; 3]>) -> Vec<[f64; 3]> {
    let phi0 = hits[0][1];
    for h in &mut hits {
        h[1] = wrap(h[1] - phi0);
    }
    hits
}

/// The algebraic least-squares circle through points (x, y): x² + y² + D x + E y + F = 0.
/// Returns (centre, radius), or `None` for collinear points.
pub fn fit_circle(points: &[[f64; 2]]) -> Option<([f64; 2], f64)> {
    // Normal equations of min Σ (x² + y² + D x + E y + F)².
    let mut a = [[0.0f64; 3]; 3];
    let mut b = [0.0f64; 3];
    for &[x, y] in points {
        let row = [x, y, 1.0];
        let rhs = -(x * x + y * y);
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] += row[i] * row[j];
            }
            b[i] += row[i] * rhs;
        }
    }
    let [d, e, f] = solve3(a, b)?;
    let centre = [-d / 2.0, -e / 2.0];
    let r2 = centre[0].powi(2) + centre[1].powi(2) - f;
    (r2 > 0.0).then(|| (centre, r2.sqrt()))
}

fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    if d.abs() < 1e-12 * (1.0 + a[0][0].abs() * a[1][1].abs() * a[2][2].abs()) {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut m = a;
        for i in 0..3 {
            m[i][k] = b[i];
        }
        *o = det(m) / d;
    }
    Some(out)
}

/// Helix extrapolation of hits `[(r, φ, z)]` (at least 3) to the radius `r_next`: circle fit in
/// x–y, intersection with the cylinder (the crossing on the track's side), line fit of z against
/// the arc length. Returns the predicted (φ, z), or `None` when the circle misses the cylinder.
pub fn helix_extrapolate(hits: &[[f64; 3]], r_next: f64) -> Option<(f64, f64)> {
    let xy: Vec<[f64; 2]> = hits
        .iter()
        .map(|h| [h[0] * h[1].cos(), h[0] * h[1].sin()])
        .collect();
    let (c, radius) = fit_circle(&xy)?;
    let d = c[0].hypot(c[1]);
    let a = (r_next * r_next - radius * radius + d * d) / (2.0 * d);
    let h = (r_next * r_next - a * a).max(0.0).sqrt();
    let (ux, uy) = (c[0] / d, c[1] / d);
    let candidates = [
        [a * ux - h * uy, a * uy + h * ux],
        [a * ux + h * uy, a * uy - h * ux],
    ];
    // The crossing ahead: closest to the last hit (the track moves outwards).
    let last = xy[xy.len() - 1];
    let next = candidates
        .into_iter()
        .min_by(|p, q| {
            let dp = (p[0] - last[0]).hypot(p[1] - last[1]);
            let dq = (q[0] - last[0]).hypot(q[1] - last[1]);
            dp.total_cmp(&dq)
        })
        .expect("two candidates");
    // Arc length from the first hit, unwrapped turning angle about the centre.
    let angle = |p: [f64; 2]| (p[1] - c[1]).atan2(p[0] - c[0]);
    let a0 = angle(xy[0]);
    let arc = |p: [f64; 2]| radius * wrap(angle(p) - a0);
    let s: Vec<f64> = xy.iter().map(|&p| arc(p)).collect();
    let s_next = arc(next);
    let n = s.len() as f64;
    let (ms, mz) = (
        s.iter().sum::<f64>() / n,
        hits.iter().map(|h| h[2]).sum::<f64>() / n,
    );
    let sxx: f64 = s.iter().map(|v| (v - ms).powi(2)).sum();
    let sxz: f64 = s
        .iter()
        .zip(hits)
        .map(|(v, h)| (v - ms) * (h[2] - mz))
        .sum();
    let slope = if sxx > 0.0 { sxz / sxx } else { 0.0 };
    let z = mz + slope * (s_next - ms);
    Some((next[1].atan2(next[0]), z))
}

/// Feature scales: r and z in metres, φ ×5, Δφ ×20, Δz in 10 cm.
const R_SCALE: f64 = 1e-3;
const Z_SCALE: f64 = 1e-3;
const PHI_SCALE: f64 = 5.0;
const DPHI_SCALE: f64 = 20.0;
const DZ_SCALE: f64 = 1e-2;

/// LSTM inputs `[steps × 4]` (steps = hits − 1) and targets `[steps × 2]` of one track.
fn features(track: &TrackHits) -> (Vec<f32>, Vec<f32>) {
    let h = &track.hits;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for t in 0..h.len() - 1 {
        x.extend([
            (h[t][0] * R_SCALE) as f32,
            (h[t][1] * PHI_SCALE) as f32,
            (h[t][2] * Z_SCALE) as f32,
            (h[t + 1][0] * R_SCALE) as f32,
        ]);
        y.extend([
            (wrap(h[t + 1][1] - h[t][1]) * DPHI_SCALE) as f32,
            ((h[t + 1][2] - h[t][2]) * DZ_SCALE) as f32,
        ]);
    }
    (x, y)
}

/// Configuration of a [`NextHitLstm`].
#[derive(Config, Debug)]
pub struct NextHitLstmConfig {
    /// LSTM hidden size.
    #[config(default = 64)]
    pub d_hidden: usize,
}

impl NextHitLstmConfig {
    /// Builds the model.
    pub fn init(&self, device: &Device) -> NextHitLstm {
        NextHitLstm {
            lstm: LstmCellConfig::new(4, self.d_hidden)
                .with_forget_bias(1.0)
                .init(device),
            head: LinearConfig::new(self.d_hidden, 2).init(device),
        }
    }
}

/// An LSTM reading hits and predicting the step to the next one at every step.
#[derive(Module, Debug)]
pub struct NextHitLstm {
    /// The recurrent cell.
    pub lstm: LstmCell,
    /// Hidden state → (Δφ, Δz), scaled.
    pub head: Linear,
}

impl NextHitLstm {
    /// Scaled (Δφ, Δz) predictions at every step.
    ///
    /// # Shapes
    /// - input `[B, T, 4]`; output `[B, T, 2]`
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        let (h, _) = self.lstm.run(input, None, false, None);
        self.head.forward(h)
    }
}

struct NextHitTask {
    inputs: Vec<Vec<f32>>,
    targets: Vec<Vec<f32>>,
    steps: usize,
    device: Device,
}

impl NextHitTask {
    fn batch(&self, items: &[usize]) -> (Tensor<3>, Tensor<3>) {
        let b = items.len();
        let x: Vec<f32> = items.iter().flat_map(|&i| self.inputs[i].clone()).collect();
        let y: Vec<f32> = items
            .iter()
            .flat_map(|&i| self.targets[i].clone())
            .collect();
        (
            Tensor::from_data(TensorData::new(x, [b, self.steps, 4]), &self.device),
            Tensor::from_data(TensorData::new(y, [b, self.steps, 2]), &self.device),
        )
    }
}

impl TrainTask for NextHitTask {
    type Model = NextHitLstm;

    fn num_items(&self) -> usize {
        self.inputs.len()
    }

    fn loss(&self, model: &NextHitLstm, batch: &[usize]) -> Tensor<1> {
        let (x, y) = self.batch(batch);
        (model.forward(x) - y).square().mean()
    }
}

/// Settings of [`train_next_hit`].
#[derive(Debug, Clone)]
pub struct NextHitOptions {
    /// Epochs.
    pub epochs: usize,
    /// Tracks per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// LSTM hidden size.
    pub d_hidden: usize,
    /// Seed of the weights and the shuffling.
    pub seed: u64,
}

impl Default for NextHitOptions {
    fn default() -> Self {
        Self {
            epochs: 30,
            batch_size: 64,
            learning_rate: 2e-3,
            d_hidden: 64,
            seed: 1,
        }
    }
}

/// Trains the LSTM on `tracks` (each of [`BARREL_LAYERS`] hits) with hepnn's [`Trainer`]
/// (outputs under `out_dir`); `device` is a plain device. Returns the model in inference mode.
pub fn train_next_hit(
    tracks: &[TrackHits],
    options: &NextHitOptions,
    out_dir: &Path,
    device: &Device,
) -> Result<NextHitLstm, crate::TrackingError> {
    let ad = device.clone().autodiff();
    ad.seed(options.seed);
    let (inputs, targets) = tracks.iter().map(features).unzip();
    let task = NextHitTask {
        inputs,
        targets,
        steps: BARREL_LAYERS - 1,
        device: ad.clone(),
    };
    let model = NextHitLstmConfig::new()
        .with_d_hidden(options.d_hidden)
        .init(&ad);
    let mut config = TrainConfig::new(
        options.epochs,
        options.batch_size,
        options.learning_rate,
        options.seed,
    );
    config.progress = false;
    let outcome =
        Trainer::new(config, out_dir)?.fit(&task, model, AdamConfig::new().init(), &ad, false)?;
    Ok(outcome.model.valid())
}

/// Residuals at the next hit: r·Δφ and Δz (mm), one entry per (track, N) with N given hits.
#[derive(Debug, Clone, Default)]
pub struct Residuals {
    /// Number of given hits N of each entry.
    pub given: Vec<usize>,
    /// r_{N+1}·(φ̂ − φ) (mm).
    pub rphi: Vec<f64>,
    /// ẑ − z (mm).
    pub z: Vec<f64>,
}

/// Mean and RMS of values.
pub fn mean_rms(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let rms = (values.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
    (mean, rms)
}

impl Residuals {
    /// The entries with N given hits.
    pub fn with_given(&self, n: usize) -> Residuals {
        let mut out = Residuals::default();
        for i in 0..self.given.len() {
            if self.given[i] == n {
                out.given.push(n);
                out.rphi.push(self.rphi[i]);
                out.z.push(self.z[i]);
            }
        }
        out
    }
}

/// The LSTM's residuals predicting hit N + 1 from hits 1…N, for N in `given` (the LSTM runs
/// once over the track; its step N − 1 output is the prediction from the first N hits).
pub fn lstm_residuals(
    model: &NextHitLstm,
    tracks: &[TrackHits],
    given: std::ops::RangeInclusive<usize>,
    device: &Device,
) -> Residuals {
    let mut out = Residuals::default();
    let steps = BARREL_LAYERS - 1;
    for chunk in tracks.chunks(512) {
        let x: Vec<f32> = chunk.iter().flat_map(|t| features(t).0).collect();
        let x = Tensor::<3>::from_data(TensorData::new(x, [chunk.len(), steps, 4]), device);
        let pred = model
            .forward(x)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 predictions");
        for (k, track) in chunk.iter().enumerate() {
            for n in given.clone() {
                let t = n - 1;
                let p = &pred[(k * steps + t) * 2..];
                let h = &track.hits;
                let phi = h[t][1] + f64::from(p[0]) / DPHI_SCALE;
                let z = h[t][2] + f64::from(p[1]) / DZ_SCALE;
                out.given.push(n);
                out.rphi.push(h[n][0] * wrap(phi - h[n][1]));
                out.z.push(z - h[n][2]);
            }
        }
    }
    out
}

/// The helix extrapolation's residuals predicting hit N + 1 from hits 1…N (N ≥ 3).
pub fn helix_residuals(tracks: &[TrackHits], given: std::ops::RangeInclusive<usize>) -> Residuals {
    let mut out = Residuals::default();
    for track in tracks {
        for n in given.clone() {
            let h = &track.hits;
            if let Some((phi, z)) = helix_extrapolate(&h[..n], h[n][0]) {
                out.given.push(n);
                out.rphi.push(h[n][0] * wrap(phi - h[n][1]));
                out.z.push(z - h[n][2]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a known helix: the circle fit recovers it and the extrapolation lands on it.
    #[test]
    fn helix_extrapolation_is_exact_on_a_perfect_helix() {
        // Circle of radius 1000 mm through the origin, centre (0, 1000); z = 0.5 s.
        let (r0, cot) = (1000.0f64, 0.5);
        let hits: Vec<[f64; 3]> = [32.0, 72.0, 116.0, 172.0, 260.0]
            .iter()
            .map(|&r: &f64| {
                let alpha = 2.0 * (r / (2.0 * r0)).asin(); // turning angle
                let (x, y) = (r0 * alpha.sin(), r0 * (1.0 - alpha.cos()));
                [r, y.atan2(x), cot * r0 * alpha]
            })
            .collect();
        let (phi, z) = helix_extrapolate(&hits[..4], 260.0).expect("crosses");
        assert!((phi - hits[4][1]).abs() < 1e-9, "{phi} {}", hits[4][1]);
        assert!((z - hits[4][2]).abs() < 1e-6, "{z} {}", hits[4][2]);
    }
}
