//! Why the simulation-trained chain fails on the real TrackML `event000000001` (issue 5, target 2):
//! the same particles as real hits and as hepnn-sim hits, fitted with the Kalman fitter on their
//! truth hits, and the magnetic field the real event's truth momenta imply.
//!
//! `cargo test --release -p hepnn-tracking --test real_event -- --ignored --nocapture`
//! (skips without ../shared/data/trackml). Figures in docs/results.md ("Real event").

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use hepnn_core::{Event, HitId, ParticleId};
use hepnn_sim::tracker::{Detector, SimConfig, simulate_event};
use hepnn_tracking::kalman::{EventMeasurements, KalmanFitter, TrackingGeometry};

/// χ²/ndf of the truth-hit fits of the pT > 1 GeV particles (hits ordered by distance from the
/// particle's vertex), sorted.
fn truth_fit_chi2(event: &Event, geometry: &TrackingGeometry, material_scale: f64) -> Vec<f64> {
    let measurements = EventMeasurements::new(geometry, event).expect("hits on known modules");
    let index: HashMap<HitId, usize> = event
        .hits
        .iter()
        .enumerate()
        .map(|(i, h)| (h.hit_id, i))
        .collect();
    let by_particle = event.hits_of_particle();
    let mut fitter = KalmanFitter::default();
    fitter.material.material_scale = material_scale;
    let mut chi2 = Vec::new();
    for p in event.particles.iter().filter(|p| p.px.hypot(p.py) > 1.0) {
        let Some(hits) = by_particle.get(&p.particle_id) else {
            continue;
        };
        let mut hits: Vec<usize> = hits.iter().map(|h| index[h]).collect();
        if hits.len() < 3 {
            continue;
        }
        let d = |h: usize| {
            let x = measurements.measurements[h].position;
            (x[0] - p.vx).powi(2) + (x[1] - p.vy).powi(2) + (x[2] - p.vz).powi(2)
        };
        hits.sort_by(|&a, &b| d(a).total_cmp(&d(b)));
        if let Ok(fit) = fitter.fit(geometry, &measurements, &hits) {
            chi2.push(fit.chi2 / fit.ndf.max(1) as f64);
        }
    }
    chi2.sort_by(f64::total_cmp);
    chi2
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// B_z implied by consecutive truth momenta: the rotation of the transverse momentum between
/// two hits of a particle, Δφ = 0.3 B q s_T / pT (T, m, GeV), binned in |z| (mm).
fn field_from_truth(event: &Event) -> BTreeMap<u32, Vec<f64>> {
    let charge: HashMap<ParticleId, f64> = event
        .particles
        .iter()
        .filter(|p| p.px.hypot(p.py) > 1.0)
        .map(|p| (p.particle_id, f64::from(p.q)))
        .collect();
    let mut by_particle: HashMap<ParticleId, Vec<_>> = HashMap::new();
    for t in &event.truth {
        if charge.contains_key(&t.particle_id) {
            by_particle.entry(t.particle_id).or_default().push(t);
        }
    }
    let mut bins: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for (id, mut links) in by_particle {
        links.sort_by(|a, b| {
            let r = |t: &&hepnn_core::TruthLink| t.tx * t.tx + t.ty * t.ty + t.tz * t.tz;
            r(a).total_cmp(&r(b))
        });
        for w in links.windows(2) {
            let (a, b) = (w[0], w[1]);
            let s_t = (b.tx - a.tx).hypot(b.ty - a.ty) / 1000.0;
            if s_t < 0.02 {
                continue;
            }
            let mut dphi = b.tpy.atan2(b.tpx) - a.tpy.atan2(a.tpx);
            dphi = (dphi + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                - std::f64::consts::PI;
            let pt = 0.5 * (a.tpx.hypot(a.tpy) + b.tpx.hypot(b.tpy));
            let b_z = -dphi * pt / (0.299_792_458 * s_t * charge[&id]);
            let z = 0.5 * (a.tz + b.tz).abs();
            let bin = [300.0, 600.0, 1000.0, 1500.0, 2000.0, 2600.0, f64::INFINITY]
                .iter()
                .position(|&edge| z < edge)
                .unwrap_or(6) as u32;
            bins.entry(bin).or_default().push(b_z);
        }
    }
    for values in bins.values_mut() {
        values.sort_by(f64::total_cmp);
    }
    bins
}

#[test]
#[ignore = "measurement on the real TrackML event (≈ 1 s); figures in docs/results.md"]
fn real_hits_against_simulated_hits_of_the_same_particles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/trackml");
    if !dir.join("event000000001-hits.csv.gz").is_file() {
        eprintln!("skipped: no TrackML event in {}", dir.display());
        return;
    }
    let real = hepnn_core::io::read_event(&dir, "event000000001").expect("real event");
    let detector = Detector::trackml_default();
    let geometry = TrackingGeometry::new(detector.clone());
    let simulated = simulate_event(&detector, &SimConfig::default(), 1, &real.particles, 7);
    for scale in [1.0, 10.0, 30.0] {
        for (name, event) in [("real", &real), ("simulated", &simulated)] {
            let chi2 = truth_fit_chi2(event, &geometry, scale);
            println!(
                "material ×{scale}: {name}: {} fits, χ²/ndf median {:.2}, 80% {:.2}, 95% {:.2}, > 5: {}",
                chi2.len(),
                quantile(&chi2, 0.5),
                quantile(&chi2, 0.8),
                quantile(&chi2, 0.95),
                chi2.iter().filter(|&&c| c > 5.0).count()
            );
        }
    }
    let labels = [
        "0–300",
        "300–600",
        "600–1000",
        "1000–1500",
        "1500–2000",
        "2000–2600",
        "> 2600",
    ];
    for (bin, values) in field_from_truth(&real) {
        println!(
            "|z| {} mm: B_z from truth momenta median {:.3} T (quartiles {:.2}–{:.2}, {} hit pairs)",
            labels[bin as usize],
            quantile(&values, 0.5),
            quantile(&values, 0.25),
            quantile(&values, 0.75),
            values.len()
        );
    }
    let central = &field_from_truth(&real)[&0];
    assert!(
        (quantile(central, 0.5) - 2.0).abs() < 0.05,
        "2 T in the centre"
    );
}

#[test]
#[ignore = "measurement on the real TrackML event (≈ 2 s); figures in docs/results.md"]
fn ckf_on_the_real_event_with_the_built_in_and_the_real_geometry() {
    use hepnn_tracking::kalman::{Ckf, CkfConfig};
    use hepnn_tracking::metrics::{ParticleSelection, TrackTruth, track_metrics};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/trackml");
    if !dir.join("detectors.csv").is_file() {
        eprintln!("skipped: no TrackML data in {}", dir.display());
        return;
    }
    let real = hepnn_core::io::read_event(&dir, "event000000001").expect("real event");
    let truth = TrackTruth::from_event(&real).expect("truth");
    for (name, detector) in [
        ("built-in", Detector::trackml_default()),
        (
            "detectors.csv",
            Detector::read(dir.join("detectors.csv")).expect("detectors.csv"),
        ),
    ] {
        let geometry = TrackingGeometry::new(detector);
        let chi2 = truth_fit_chi2(&real, &geometry, 1.0);
        let ckf = Ckf::new(geometry, CkfConfig::default()).expect("valid");
        let output = ckf.find(&real).expect("valid event");
        let m = track_metrics(&output.candidates(), &truth, &ParticleSelection::default())
            .expect("candidates index the event");
        println!(
            "{name}: truth fits χ²/ndf median {:.2}; CKF {m:?}",
            quantile(&chi2, 0.5)
        );
    }
}

#[test]
#[ignore = "measurement on the real TrackML event (≈ 1 s); figures in docs/results.md"]
fn simulated_hits_follow_the_real_ones_in_the_solenoid_field() {
    use hepnn_sim::tracker::Solenoid;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/trackml");
    if !dir.join("detectors.csv").is_file() {
        eprintln!("skipped: no TrackML data in {}", dir.display());
        return;
    }
    let real = hepnn_core::io::read_event(&dir, "event000000001").expect("real event");
    let detector = Detector::read(dir.join("detectors.csv")).expect("detectors.csv");
    let fast: HashMap<ParticleId, bool> = real
        .particles
        .iter()
        .map(|p| (p.particle_id, p.px.hypot(p.py) > 1.0))
        .collect();
    // (particle, module) → true position of the real hits.
    type ModuleHits = HashMap<(ParticleId, (u32, u32, u32)), [f64; 3]>;
    let key_of = |event: &Event| -> ModuleHits {
        let module: HashMap<HitId, (u32, u32, u32)> = event
            .hits
            .iter()
            .map(|h| (h.hit_id, (h.volume_id, h.layer_id, h.module_id)))
            .collect();
        event
            .truth
            .iter()
            .filter(|t| fast.get(&t.particle_id).copied().unwrap_or(false))
            .map(|t| ((t.particle_id, module[&t.hit_id]), [t.tx, t.ty, t.tz]))
            .collect()
    };
    let real_hits = key_of(&real);
    let mut medians = Vec::new();
    for (name, solenoid) in [("uniform 2 T", None), ("solenoid", Some(Solenoid::TRACKML))] {
        let mut sim = SimConfig::default();
        sim.propagation.multiple_scattering = false;
        sim.propagation.absorption_per_layer = 0.0;
        sim.noise.hits_per_module = 0.0;
        sim.propagation.solenoid = solenoid;
        let simulated = simulate_event(&detector, &sim, 1, &real.particles, 7);
        let sim_hits = key_of(&simulated);
        let (mut central, mut forward) = (Vec::new(), Vec::new());
        for (key, r) in &real_hits {
            if let Some(s) = sim_hits.get(key) {
                let d =
                    ((r[0] - s[0]).powi(2) + (r[1] - s[1]).powi(2) + (r[2] - s[2]).powi(2)).sqrt();
                if r[2].abs() < 1000.0 {
                    central.push(d)
                } else {
                    forward.push(d)
                }
            }
        }
        central.sort_by(f64::total_cmp);
        forward.sort_by(f64::total_cmp);
        println!(
            "{name}: same-module hits, real − simulated distance median {:.2} mm (|z| < 1 m, {} hits), {:.2} mm (|z| ≥ 1 m, {} hits); 90%: {:.2} / {:.2} mm",
            quantile(&central, 0.5),
            central.len(),
            quantile(&forward, 0.5),
            forward.len(),
            quantile(&central, 0.9),
            quantile(&forward, 0.9)
        );
        medians.push(quantile(&forward, 0.5));
    }
    assert!(
        medians[1] < medians[0],
        "the solenoid brings forward hits closer: {medians:?}"
    );
}
