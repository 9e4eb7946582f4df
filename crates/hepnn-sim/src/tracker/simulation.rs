//! From particles to a TrackML event: propagation, digitisation, noise, truth weights, and the
//! event files, for many events in parallel.
//!
//! # Digitisation
//! A crossing at local (u, v) on a module is measured at (u + δu, v + δv) with δ ~ N(0, pitch/√12)
//! along each axis (the resolution of a binary readout of that pitch), kept inside the module,
//! and lost with probability `inefficiency`.
//!
//! # Noise
//! TrackML's noise hits are spread evenly over modules (in the labelled event 1 the noise per
//! volume follows the volumes' module counts to a few per cent). Each event gets
//! Poisson(λ · N_modules) noise hits on uniformly chosen modules at uniform positions. The
//! default λ = 0.933 hits per module: the real full events 1001 and 1003 hold 17,470 and 17,520
//! hits more than their particles' `nhits` sum, i.e. that many noise hits on 18,728 modules.
//!
//! # Truth weights
//! As the TrackML library (`trackml/weights.py`): a particle's hits are ordered by |tz − vz|;
//! with n hits (n ≥ 4; fewer gives 0) the order weight of hit i interpolates the proposal
//! (10, 8, 6, 5, 3, 3, 3, 5, 6) stretched over n hits and is normalised to sum 1 per particle
//! (n is capped at 20, hits beyond the 20th get 0); the pT weight is 0.2 below 0.5 GeV, rising
//! linearly to 1 at 3 GeV. A hit's weight is the product, normalised so that the event sums to 1;
//! noise weighs 0.
//!
//! # Output
//! `event<id:09>-{hits,particles,truth}.csv[.gz]`, hit ids sorted by volume, layer and module as
//! in TrackML. The files are first written in a staging folder inside the output folder and then
//! moved into place, so a failed event leaves no partial files behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};
use rayon::prelude::*;

use hepnn_core::io::{Compression, event_prefix, parse_event_prefix, trackml::EventFile};
use hepnn_core::{Event, Hit, HitId, Particle, ParticleId, TruthLink};

use super::error::{Result, SimError};
use super::generator::{GeneratorConfig, generate};
use super::geometry::Detector;
use super::propagation::{PropagationConfig, propagate};

/// Settings of the digitisation.
#[derive(Debug, Clone, PartialEq)]
pub struct DigitisationConfig {
    /// Probability that a crossing gives no hit.
    pub inefficiency: f64,
    /// Whether to smear the local position by pitch/√12.
    pub smear: bool,
}

impl Default for DigitisationConfig {
    fn default() -> Self {
        Self {
            inefficiency: 0.0,
            smear: true,
        }
    }
}

/// Settings of the noise.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseConfig {
    /// Mean number of noise hits per module and event.
    pub hits_per_module: f64,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        Self {
            hits_per_module: 0.933,
        }
    }
}

/// Everything the simulation of one event needs besides the detector and the particles.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimConfig {
    /// Propagation in the field.
    pub propagation: PropagationConfig,
    /// Measurement.
    pub digitisation: DigitisationConfig,
    /// Noise hits.
    pub noise: NoiseConfig,
}

impl SimConfig {
    /// Checks every setting once, before any work.
    ///
    /// # Errors
    /// [`SimError::Config`] naming the first setting out of range.
    pub fn validate(&self) -> Result<()> {
        let p = &self.propagation;
        let (radius, half_length) = p
            .solenoid
            .map_or((1.0, 1.0), |s| (s.radius_mm, s.half_length_mm));
        let checks: [(&'static str, f64, bool); 9] = [
            ("bz", p.bz, p.bz.is_finite()),
            (
                "solenoid.radius_mm",
                radius,
                radius.is_finite() && radius > 0.0,
            ),
            (
                "solenoid.half_length_mm",
                half_length,
                half_length.is_finite() && half_length > 0.0,
            ),
            (
                "max_turn",
                p.max_turn,
                p.max_turn.is_finite() && p.max_turn > 0.0,
            ),
            ("min_pt", p.min_pt, p.min_pt.is_finite() && p.min_pt >= 0.0),
            (
                "absorption_per_layer",
                p.absorption_per_layer,
                (0.0..=1.0).contains(&p.absorption_per_layer),
            ),
            (
                "absorption_soft_gev2",
                p.absorption_soft_gev2,
                (0.0..=1.0).contains(&p.absorption_soft_gev2),
            ),
            (
                "inefficiency",
                self.digitisation.inefficiency,
                (0.0..=1.0).contains(&self.digitisation.inefficiency),
            ),
            (
                "noise",
                self.noise.hits_per_module,
                self.noise.hits_per_module.is_finite()
                    && (0.0..1e3).contains(&self.noise.hits_per_module),
            ),
        ];
        for (name, value, ok) in checks {
            if !ok {
                return Err(SimError::Config {
                    name,
                    message: format!("out of range: {value}"),
                });
            }
        }
        Ok(())
    }
}

/// The seed of event `event_id` in a run seeded with `seed` (SplitMix64 of both), so that events
/// are independent of the order and the thread they run in.
pub fn event_seed(seed: u64, event_id: u64) -> u64 {
    let mut z = seed ^ event_id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One hit before its id is given.
struct RawHit {
    position: [f64; 3],
    key: (u32, u32, u32),
    particle: ParticleId,
    truth_position: [f64; 3],
    truth_momentum: [f64; 3],
}

/// Simulates the event `event_id` made by `particles` with the seed `seed`: hits, particles
/// (with their simulated `nhits`) and truth. Deterministic for a given seed.
pub fn simulate_event(
    detector: &Detector,
    config: &SimConfig,
    event_id: u64,
    particles: &[Particle],
    seed: u64,
) -> Event {
    let mut rng = ChaCha8Rng::seed_from_u64(event_seed(seed, event_id));
    let unit = Normal::new(0.0, 1.0).expect("unit normal");
    let mut raw = Vec::with_capacity(particles.len() * 12);
    for particle in particles {
        let crossings = propagate(
            detector,
            &config.propagation,
            [particle.vx, particle.vy, particle.vz],
            [particle.px, particle.py, particle.pz],
            f64::from(particle.q),
            &mut rng,
        );
        for crossing in crossings {
            if config.digitisation.inefficiency > 0.0
                && rng.random::<f64>() < config.digitisation.inefficiency
            {
                continue;
            }
            let surface = &detector.layers[crossing.layer].surfaces[crossing.surface];
            let [mut u, mut v] = crossing.local;
            if config.digitisation.smear {
                let sigma = 12f64.sqrt().recip();
                v = (v + unit.sample(&mut rng) * surface.pitch_v * sigma)
                    .clamp(-surface.hv, surface.hv);
                let half = surface.half_width_at(v);
                u = (u + unit.sample(&mut rng) * surface.pitch_u * sigma).clamp(-half, half);
            }
            raw.push(RawHit {
                position: surface.to_global(u, v),
                key: (
                    surface.key.volume_id,
                    surface.key.layer_id,
                    surface.key.module_id,
                ),
                particle: particle.particle_id,
                truth_position: crossing.position,
                truth_momentum: crossing.momentum,
            });
        }
    }
    add_noise(detector, config, &mut rng, &mut raw);
    raw.sort_by(|a, b| {
        a.key.cmp(&b.key).then_with(|| {
            a.position
                .iter()
                .zip(&b.position)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let mut hits = Vec::with_capacity(raw.len());
    let mut truth = Vec::with_capacity(raw.len());
    for (index, hit) in raw.iter().enumerate() {
        let hit_id = HitId(index as u64 + 1);
        hits.push(Hit {
            hit_id,
            x: hit.position[0],
            y: hit.position[1],
            z: hit.position[2],
            volume_id: hit.key.0,
            layer_id: hit.key.1,
            module_id: hit.key.2,
        });
        truth.push(TruthLink {
            hit_id,
            particle_id: hit.particle,
            tx: hit.truth_position[0],
            ty: hit.truth_position[1],
            tz: hit.truth_position[2],
            tpx: hit.truth_momentum[0],
            tpy: hit.truth_momentum[1],
            tpz: hit.truth_momentum[2],
            weight: 0.0,
        });
    }
    let mut counts = std::collections::HashMap::new();
    for link in truth.iter().filter(|l| !l.particle_id.is_noise()) {
        *counts.entry(link.particle_id).or_insert(0u32) += 1;
    }
    let particles: Vec<Particle> = particles
        .iter()
        .map(|p| Particle {
            nhits: counts.get(&p.particle_id).copied().unwrap_or(0),
            ..p.clone()
        })
        .collect();
    assign_weights(&particles, &mut truth);
    Event {
        event_id,
        hits,
        cells: Vec::new(),
        particles,
        truth,
    }
}

fn add_noise(detector: &Detector, config: &SimConfig, rng: &mut ChaCha8Rng, raw: &mut Vec<RawHit>) {
    let surfaces: Vec<_> = detector
        .layers
        .iter()
        .flat_map(|l| l.surfaces.iter())
        .collect();
    let mean = config.noise.hits_per_module * surfaces.len() as f64;
    if mean <= 0.0 || surfaces.is_empty() {
        return;
    }
    let count = Poisson::new(mean).map_or(0, |d| d.sample(rng) as u64);
    for _ in 0..count {
        let surface = surfaces[rng.random_range(0..surfaces.len())];
        let (u, v) = loop {
            let u = rng.random_range(
                -surface.max_hu.max(surface.min_hu)..=surface.max_hu.max(surface.min_hu),
            );
            let v = rng.random_range(-surface.hv..=surface.hv);
            if surface.contains(u, v) {
                break (u, v);
            }
        };
        let position = surface.to_global(u, v);
        raw.push(RawHit {
            position,
            key: (
                surface.key.volume_id,
                surface.key.layer_id,
                surface.key.module_id,
            ),
            particle: ParticleId::NOISE,
            truth_position: position,
            truth_momentum: [0.0; 3],
        });
    }
}

/// The TrackML hit-order proposal, stretched over the hits of a track.
const ORDER_PROPOSAL: [f64; 9] = [10.0, 8.0, 6.0, 5.0, 3.0, 3.0, 3.0, 5.0, 6.0];

/// Order weights of the hits of a track with `n` hits (4 ≤ n ≤ 20), summing to 1.
fn order_weights(n: usize) -> Vec<f64> {
    let last = (ORDER_PROPOSAL.len() - 1) as f64;
    let weights: Vec<f64> = (0..n)
        .map(|i| {
            // Position of hit i on the proposal's axis 0..8.
            let x = i as f64 * last / (n as f64 - 1.0);
            let k = (x.floor() as usize).min(ORDER_PROPOSAL.len() - 2);
            let t = x - k as f64;
            ORDER_PROPOSAL[k] * (1.0 - t) + ORDER_PROPOSAL[k + 1] * t
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / sum).collect()
}

/// The TrackML pT weight: 0.2 up to 0.5 GeV, linear to 1 at 3 GeV, 1 above (0 below 0.05 GeV).
pub fn pt_weight(pt: f64) -> f64 {
    if pt < 0.05 {
        0.0
    } else if pt <= 0.5 {
        0.2
    } else if pt >= 3.0 {
        1.0
    } else {
        0.2 + 0.8 * (pt - 0.5) / 2.5
    }
}

/// Fills the truth `weight` column (module docs), normalised to sum 1 over the event.
pub fn assign_weights(particles: &[Particle], truth: &mut [TruthLink]) {
    let by_id: std::collections::HashMap<ParticleId, &Particle> =
        particles.iter().map(|p| (p.particle_id, p)).collect();
    let mut hits_of: std::collections::HashMap<ParticleId, Vec<usize>> =
        std::collections::HashMap::new();
    for (index, link) in truth.iter().enumerate() {
        if !link.particle_id.is_noise() {
            hits_of.entry(link.particle_id).or_default().push(index);
        }
    }
    for link in truth.iter_mut() {
        link.weight = 0.0;
    }
    for (id, mut indices) in hits_of {
        let n = indices.len();
        let Some(particle) = by_id.get(&id) else {
            continue;
        };
        if n < 4 {
            continue;
        }
        let vz = particle.vz;
        indices.sort_by(|&a, &b| {
            (truth[a].tz - vz)
                .abs()
                .total_cmp(&(truth[b].tz - vz).abs())
                .then(a.cmp(&b))
        });
        let weights = order_weights(n.min(20));
        let w_pt = pt_weight(particle.pt());
        for (rank, &index) in indices.iter().enumerate() {
            truth[index].weight = weights.get(rank).copied().unwrap_or(0.0) * w_pt;
        }
    }
    let total: f64 = truth.iter().map(|l| l.weight).sum();
    if total > 0.0 {
        for link in truth.iter_mut() {
            link.weight /= total;
        }
    }
}

/// Writes the hits, particles and truth of `event` into `dir` without ever leaving a partial
/// event: the files go to a staging folder in `dir` and are then renamed into place. Files of the
/// same event in the other compression and its cells files, stale from an earlier run, are
/// removed.
///
/// # Errors
/// [`SimError::Io`] when `dir` is not writable, [`SimError::Core`] for a failed write; the
/// staging folder is removed in both cases.
pub fn write_event(dir: &Path, event: &Event, compression: Compression) -> Result<()> {
    let prefix = event_prefix(event.event_id);
    let staging = dir.join(format!(".{prefix}.partial"));
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| SimError::Io {
            path,
            action,
            source,
        }
    };
    std::fs::create_dir_all(&staging).map_err(io("create", &staging))?;
    let files = [EventFile::Hits, EventFile::Particles, EventFile::Truth];
    let written = (|| -> Result<()> {
        hepnn_core::io::write_hits(
            EventFile::Hits.path(&staging, &prefix, compression),
            &event.hits,
        )?;
        hepnn_core::io::write_particles(
            EventFile::Particles.path(&staging, &prefix, compression),
            &event.particles,
        )?;
        hepnn_core::io::write_truth(
            EventFile::Truth.path(&staging, &prefix, compression),
            &event.truth,
        )?;
        for file in files {
            let from = file.path(&staging, &prefix, compression);
            let to = file.path(dir, &prefix, compression);
            std::fs::rename(&from, &to).map_err(io("move into place", &to))?;
        }
        // Files of this event left by an earlier run in the other compression, or its cells,
        // would make the event ambiguous or inconsistent for a reader: remove them.
        let other = match compression {
            Compression::Plain => Compression::Gzip,
            Compression::Gzip => Compression::Plain,
        };
        for file in files {
            remove_if_present(&file.path(dir, &prefix, other))?;
        }
        for any in [Compression::Plain, Compression::Gzip] {
            remove_if_present(&EventFile::Cells.path(dir, &prefix, any))?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    if written.is_err() {
        for file in files {
            let _ = std::fs::remove_file(file.path(dir, &prefix, compression));
        }
    }
    written
}

/// Removes `path` when it exists.
fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(SimError::Io {
            path: path.to_path_buf(),
            action: "remove the stale file",
            source: error,
        }),
        _ => Ok(()),
    }
}

/// Where the particles of each event come from.
#[derive(Debug, Clone)]
pub enum ParticleSource {
    /// The built-in generator (boxed: its settings are much larger than a list of paths).
    Generator(Box<GeneratorConfig>),
    /// TrackML particles files, one per event; the event keeps the file's event id.
    Files(Vec<PathBuf>),
}

impl ParticleSource {
    /// The particles files `event*-particles.csv[.gz]` in `dir`, sorted.
    ///
    /// # Errors
    /// [`SimError::Io`] when `dir` cannot be listed, [`SimError::Config`] when it holds none.
    pub fn files_in(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir).map_err(|source| SimError::Io {
            path: dir.to_path_buf(),
            action: "list",
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| {
                        n.strip_suffix("-particles.csv")
                            .or_else(|| n.strip_suffix("-particles.csv.gz"))
                    })
                    .is_some_and(|prefix| parse_event_prefix(prefix).is_ok())
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(SimError::Config {
                name: "particles",
                message: format!("no event*-particles.csv[.gz] files in `{}`", dir.display()),
            });
        }
        Ok(Self::Files(files))
    }
}

/// What one simulated event held.
#[derive(Debug, Clone, PartialEq)]
pub struct EventStats {
    /// Event id.
    pub event_id: u64,
    /// Hits written (signal and noise).
    pub hits: usize,
    /// Noise hits among them.
    pub noise_hits: usize,
    /// Particles simulated.
    pub particles: usize,
    /// Wall time of the event: reading or generating, simulating and writing (s).
    pub seconds: f64,
    /// Wall time of the simulation proper (propagation, digitisation, noise, weights), s.
    pub simulation_seconds: f64,
}

/// A run: how many events, from which id, with which seed, into which folder.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Number of events.
    pub events: usize,
    /// Id of the first generated event (files keep their own ids).
    pub first_event: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Output folder (created).
    pub out: PathBuf,
    /// Plain or gzipped CSV.
    pub compression: Compression,
}

/// Simulates and writes `run.events` events in parallel (rayon, one event per task), calling
/// `on_event` after each. Returns the statistics in event order.
///
/// # Errors
/// The first error of any event (unreadable particles file, unwritable folder, …); events
/// already written stay complete, the failed one leaves nothing.
pub fn run_events(
    detector: &Detector,
    config: &SimConfig,
    source: &ParticleSource,
    run: &RunConfig,
    on_event: &(dyn Fn(&EventStats) + Sync),
) -> Result<Vec<EventStats>> {
    config.validate()?;
    if let ParticleSource::Generator(generator) = source {
        generator.validate()?;
    }
    if let ParticleSource::Files(files) = source
        && files.len() < run.events
    {
        return Err(SimError::Config {
            name: "events",
            message: format!(
                "{} events asked for but only {} particles files given",
                run.events,
                files.len()
            ),
        });
    }
    std::fs::create_dir_all(&run.out).map_err(|source| SimError::Io {
        path: run.out.clone(),
        action: "create",
        source,
    })?;
    (0..run.events)
        .into_par_iter()
        .map(|index| {
            let start = Instant::now();
            let (event_id, particles) = match source {
                ParticleSource::Generator(generator) => {
                    let event_id = run.first_event + index as u64;
                    let particles = generate(generator, event_seed(run.seed ^ 0x6E6E, event_id))?;
                    (event_id, particles)
                }
                ParticleSource::Files(files) => {
                    let path = &files[index];
                    let event_id = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.split('-').next())
                        .and_then(|prefix| parse_event_prefix(prefix).ok())
                        .unwrap_or(run.first_event + index as u64);
                    (event_id, hepnn_core::io::read_particles(path)?)
                }
            };
            let simulation_start = Instant::now();
            let event = simulate_event(detector, config, event_id, &particles, run.seed);
            let simulation_seconds = simulation_start.elapsed().as_secs_f64();
            write_event(&run.out, &event, run.compression)?;
            let stats = EventStats {
                event_id,
                hits: event.hits.len(),
                noise_hits: event.noise_hit_count(),
                particles: event.particles.len(),
                seconds: start.elapsed().as_secs_f64(),
                simulation_seconds,
            };
            on_event(&stats);
            Ok(stats)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_weights_follow_the_trackml_proposal() {
        // With 9 hits the proposal is used as it is, normalised by its sum 49.
        let w = order_weights(9);
        assert!((w[0] - 10.0 / 49.0).abs() < 1e-12);
        assert!((w[4] - 3.0 / 49.0).abs() < 1e-12);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // With 5 hits: positions 0, 2, 4, 6, 8 → 10, 6, 3, 3, 6 over 28.
        let w = order_weights(5);
        assert!((w[1] - 6.0 / 28.0).abs() < 1e-12);
        assert_eq!(pt_weight(0.3), 0.2);
        assert!((pt_weight(1.75) - 0.6).abs() < 1e-12);
        assert_eq!(pt_weight(5.0), 1.0);
    }

    #[test]
    fn noise_is_poisson_and_spread_over_the_modules() {
        let detector = Detector::trackml_default();
        let config = SimConfig {
            noise: NoiseConfig {
                hits_per_module: 0.5,
            },
            ..SimConfig::default()
        };
        let event = simulate_event(&detector, &config, 1, &[], 9);
        let expected = 0.5 * 18_728.0;
        let n = event.hits.len() as f64;
        assert!((n - expected).abs() < 4.0 * expected.sqrt(), "{n}");
        assert_eq!(event.noise_hit_count(), event.hits.len());
        // Per volume in proportion to the module count (pixel barrel: 2,492 of 18,728).
        let barrel = event.hits.iter().filter(|h| h.volume_id == 8).count() as f64;
        let expected_barrel = n * 2_492.0 / 18_728.0;
        assert!((barrel - expected_barrel).abs() < 4.0 * expected_barrel.sqrt());
        // Hit ids run 1..=N in volume/layer/module order.
        assert!(
            event
                .hits
                .windows(2)
                .all(|w| w[0].module_key() <= w[1].module_key())
        );
        assert_eq!(
            event.hits.last().map(|h| h.hit_id.0),
            Some(event.hits.len() as u64)
        );
        // Every noise hit lies on its module's plane, inside its bounds.
        let layer = &detector.layers[0];
        for hit in event
            .hits
            .iter()
            .filter(|h| h.module_key().layer_id == layer.layer_id && h.volume_id == layer.volume_id)
        {
            let surface = &layer.surfaces[hit.module_id as usize - 1];
            let local = surface.to_local([hit.x, hit.y, hit.z]);
            assert!(local[2].abs() < 1e-9 && surface.contains(local[0], local[1]));
        }
    }

    #[test]
    fn event_seeds_differ_per_event() {
        assert_ne!(event_seed(1, 1), event_seed(1, 2));
        assert_ne!(event_seed(1, 1), event_seed(2, 1));
    }
}
