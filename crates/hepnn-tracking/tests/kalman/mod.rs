//! The classical baseline (issue 6): fit pulls on simulated single tracks, CKF efficiency on a
//! low-pile-up event, shared-hit resolution, clear errors; and (ignored) the ⟨μ⟩ = 50 / 200
//! measurement written to docs/results.md:
//!
//! `HEPNN_KALMAN_OUT=docs/figures cargo test --release -p hepnn-tracking --test tests kalman -- --ignored --nocapture`

use std::collections::HashMap;
use std::time::Instant;

use hepnn_core::{Event, Hit, HitId, Particle, ParticleId};
use hepnn_nn::plot::{LinePlot, Series};
use hepnn_sim::tracker::{
    Detector, GeneratorConfig, NoiseConfig, SimConfig, generate, simulate_event,
};
use hepnn_tracking::kalman::parameters::{FreeVector, ReferenceSurface};
use hepnn_tracking::kalman::{
    Ckf, CkfConfig, EventMeasurements, KalmanError, KalmanFitter, Perigee, Propagator,
    TrackingGeometry,
};
use hepnn_tracking::metrics::{ParticleSelection, TrackTruth, track_metrics};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// `n` single charged tracks (±1 alternately) from the beam spot, pT log-uniform in
/// [pt_lo, pt_hi] GeV, |η| < 2.5, uniform φ.
fn single_tracks(n: usize, pt_lo: f64, pt_hi: f64, seed: u64) -> Vec<Particle> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let beam_z = Normal::new(0.0, 5.76).expect("σ_z > 0");
    (0..n)
        .map(|i| {
            let pt = pt_lo * (pt_hi / pt_lo).powf(rng.random::<f64>());
            let eta: f64 = rng.random_range(-2.5..2.5);
            let phi: f64 = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
            Particle {
                particle_id: ParticleId(i as u64 + 1),
                particle_type: Some(13),
                vx: 0.0,
                vy: 0.0,
                vz: beam_z.sample(&mut rng),
                px: pt * phi.cos(),
                py: pt * phi.sin(),
                pz: pt * eta.sinh(),
                q: if i % 2 == 0 { 1 } else { -1 },
                nhits: 0,
            }
        })
        .collect()
}

fn no_noise() -> SimConfig {
    SimConfig {
        noise: NoiseConfig {
            hits_per_module: 0.0,
        },
        ..SimConfig::default()
    }
}

/// The true perigee parameters of a particle (its vertex state moved to the beam line).
fn true_perigee(particle: &Particle) -> [f64; 5] {
    let p = particle.p();
    let free = FreeVector::from_column_slice(&[
        particle.vx,
        particle.vy,
        particle.vz,
        particle.px / p,
        particle.py / p,
        particle.pz / p,
        f64::from(particle.q) / p,
    ]);
    let propagator = Propagator::default();
    let s = propagator
        .path_to(&free, &Perigee, 100.0)
        .expect("near the beam line");
    let at = propagator.advance(&free, s);
    let bound = Perigee.free_to_bound(&at);
    std::array::from_fn(|i| bound[i])
}

/// Hit indices of every particle, ordered along the track by the distance of the true crossing
/// from the vertex.
fn truth_tracks(event: &Event) -> HashMap<u64, Vec<usize>> {
    let index: HashMap<HitId, usize> = event
        .hits
        .iter()
        .enumerate()
        .map(|(i, h)| (h.hit_id, i))
        .collect();
    let vertex: HashMap<u64, [f64; 3]> = event
        .particles
        .iter()
        .map(|p| (p.particle_id.0, [p.vx, p.vy, p.vz]))
        .collect();
    let mut tracks: HashMap<u64, Vec<(f64, usize)>> = HashMap::new();
    for link in event.truth.iter().filter(|l| !l.particle_id.is_noise()) {
        let v = vertex[&link.particle_id.0];
        let d = (link.tx - v[0]).hypot(link.ty - v[1]).hypot(link.tz - v[2]);
        tracks
            .entry(link.particle_id.0)
            .or_default()
            .push((d, index[&link.hit_id]));
    }
    tracks
        .into_iter()
        .map(|(id, mut hits)| {
            hits.sort_by(|a, b| a.0.total_cmp(&b.0));
            (id, hits.into_iter().map(|(_, h)| h).collect())
        })
        .collect()
}

/// Per fitted particle: (true pT, pulls of the five perigee parameters, relative pT residual).
fn fit_single_tracks(
    geometry: &TrackingGeometry,
    n: usize,
    pt: (f64, f64),
    seed: u64,
) -> Vec<(f64, [f64; 5], f64)> {
    let particles = single_tracks(n, pt.0, pt.1, seed);
    let event = simulate_event(&geometry.detector, &no_noise(), 1, &particles, seed);
    let measurements = EventMeasurements::new(geometry, &event).expect("hits on known modules");
    let fitter = KalmanFitter::default();
    let mut out = Vec::new();
    let by_id: HashMap<u64, &Particle> = particles.iter().map(|p| (p.particle_id.0, p)).collect();
    let mut tracks: Vec<(u64, Vec<usize>)> = truth_tracks(&event).into_iter().collect();
    tracks.sort();
    for (id, hits) in tracks {
        if hits.len() < 5 {
            continue;
        }
        let particle = by_id[&id];
        let fit = match fitter.fit(geometry, &measurements, &hits) {
            Ok(fit) => fit,
            Err(e) => {
                println!(
                    "particle {id} (pT {:.2}, η {:.2}, {} hits): {e}",
                    particle.pt(),
                    particle.eta(),
                    hits.len()
                );
                continue;
            }
        };
        let truth = true_perigee(particle);
        let pulls = std::array::from_fn(|i| {
            let mut d = fit.perigee.vector[i] - truth[i];
            if i == 2 {
                d = hepnn_tracking::kalman::parameters::wrap_phi(d);
            }
            d / fit.perigee.sigma(i)
        });
        let pulls: [f64; 5] = pulls;
        if pulls.iter().any(|p| p.is_nan() || p.abs() >= 10.0) {
            println!(
                "outlier {id}: pT {:.2} η {:.2} {} hits, pulls {pulls:?}, χ²/ndf {:.1}/{}, fit {:?} σθ² {}",
                particle.pt(),
                particle.eta(),
                hits.len(),
                fit.chi2,
                fit.ndf,
                fit.perigee.vector.as_slice(),
                fit.perigee.covariance[(3, 3)]
            );
        }
        out.push((particle.pt(), pulls, fit.perigee.pt() / particle.pt() - 1.0));
    }
    out
}

/// Half the distance between the 16% and 84% quantiles (σ for a Gaussian, robust to outliers).
fn central_width(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |f: f64| sorted[((sorted.len() - 1) as f64 * f).round() as usize];
    (q(0.8413) - q(0.1587)) / 2.0
}

fn mean_and_width(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[test]
fn fit_pulls_of_the_five_perigee_parameters_are_standard_normal() {
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    let started = Instant::now();
    let fitted = fit_single_tracks(&geometry, 1200, (0.5, 20.0), 6);
    assert!(fitted.len() >= 1000, "{} tracks fitted", fitted.len());
    let names = ["d0", "z0", "phi", "theta", "q/p"];
    for (i, name) in names.iter().enumerate() {
        let pulls: Vec<f64> = fitted.iter().map(|f| f.1[i]).collect();
        let (mean, width) = mean_and_width(&pulls);
        println!("pull {name}: mean {mean:+.3}, width {width:.3}");
        assert!(mean.abs() < 0.1, "{name}: mean {mean}");
        assert!((0.9..=1.1).contains(&width), "{name}: width {width}");
    }
    println!(
        "{} tracks fitted in {:.0} ms",
        fitted.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
}

fn ckf_config() -> CkfConfig {
    CkfConfig::default()
}

/// Efficiency (pT > 1 GeV, ≥ 3 hits), fake and duplicate rates of the CKF on one event.
fn measure(ckf: &Ckf, event: &Event) -> (hepnn_tracking::metrics::TrackMetrics, f64, f64) {
    let started = Instant::now();
    let output = ckf.find(event).expect("a valid event");
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let truth = TrackTruth::from_event(event).expect("simulated truth");
    let metrics = track_metrics(&output.candidates(), &truth, &ParticleSelection::default())
        .expect("candidates index the event");
    println!(
        "{} hits, {} seeds + {} secondary ({} followed), {} found ({} secondary), {} kept ({} of 3 hits, {} on 2 layers); seeding {:.0} ms, finding {:.0} ms, fit {:.0} ms",
        output.summary.hits,
        output.summary.seeds,
        output.summary.seeds_secondary,
        output.summary.seeds_followed,
        output.summary.tracks_found,
        output.summary.tracks_secondary,
        output.summary.tracks,
        output.summary.tracks_short,
        output.summary.tracks_two_layers,
        output.summary.seeding_ms,
        output.summary.finding_ms,
        output.summary.fit_ms
    );
    (metrics, ms, output.summary.seeding_ms)
}

#[test]
fn ckf_finds_the_tracks_of_a_low_pileup_event() {
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    let particles = generate(
        &GeneratorConfig {
            pileup: 10.0,
            ..GeneratorConfig::default()
        },
        11,
    )
    .expect("valid generator settings");
    let event = simulate_event(&geometry.detector, &SimConfig::default(), 1, &particles, 11);
    let ckf = Ckf::new(geometry, ckf_config()).expect("valid settings");
    let (metrics, ms, _) = measure(&ckf, &event);
    println!("μ = 10: {metrics:?}, {ms:.0} ms");
    assert!(metrics.reconstructable >= 30, "{metrics:?}");
    // 101 of 114 here. A fifth of the reconstructable particles are the generator's stiff
    // secondaries, produced up to a metre from the beam line: on seeds 12–15 the CKF finds
    // 0.93–0.95 of all (0.97–0.99 with the earlier isotropic secondaries, which had a quarter
    // as many stiff ones) — as on the events of real particles (0.946).
    assert!(
        metrics.efficiency >= 0.85,
        "efficiency {}",
        metrics.efficiency
    );
    assert!(metrics.fake_rate <= 0.1, "fake rate {}", metrics.fake_rate);
    assert!(
        metrics.duplicate_rate <= 0.05,
        "duplicates {}",
        metrics.duplicate_rate
    );
    // Shared hits are resolved: every hit is on at most one track.
    let output = ckf.find(&event).expect("a valid event");
    let mut owner = vec![false; event.hits.len()];
    for track in &output.tracks {
        for &h in &track.candidate.hits {
            assert!(!owner[h], "hit {h} on two tracks");
            owner[h] = true;
        }
        let fit = track.fit.as_ref().expect("every kept track fits");
        assert!(fit.perigee.pt() > 0.1);
    }
}

/// Three-hit tracks: particles cut after their first three pixel layers (as the simulation's
/// absorption does) are found as three-hit tracks, and only with `short_tracks` on; three pixel
/// hits of three different particles almost never pass the beam-line cuts.
#[test]
fn three_hit_tracks_are_true_short_tracks_not_random_triplets() {
    use hepnn_tracking::kalman::ShortTrackConfig;
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    let particles = single_tracks(120, 1.5, 10.0, 12);
    let event = simulate_event(&geometry.detector, &no_noise(), 1, &particles, 12);
    let tracks = truth_tracks(&event);
    let layer = |h: usize| (event.hits[h].volume_id, event.hits[h].layer_id);
    // The first three hits of every other particle when they lie on three pixel layers.
    let mut keep = vec![true; event.hits.len()];
    let mut cut: Vec<(u64, Vec<usize>)> = Vec::new();
    let mut ids: Vec<u64> = tracks.keys().copied().collect();
    ids.sort_unstable();
    for (k, id) in ids.iter().enumerate() {
        let hits = &tracks[id];
        let first: Vec<usize> = hits.iter().copied().take(3).collect();
        let distinct = first.len() == 3
            && layer(first[0]) != layer(first[1])
            && layer(first[1]) != layer(first[2])
            && layer(first[0]) != layer(first[2]);
        if k % 2 == 0 && distinct && first.iter().all(|&h| event.hits[h].volume_id <= 9) {
            for &h in &hits[3..] {
                keep[h] = false;
            }
            cut.push((*id, first));
        }
    }
    assert!(cut.len() >= 15, "{} particles cut", cut.len());
    let kept_ids: std::collections::HashSet<HitId> = event
        .hits
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(h, _)| h.hit_id)
        .collect();
    let short_event = Event {
        hits: event
            .hits
            .iter()
            .filter(|h| kept_ids.contains(&h.hit_id))
            .cloned()
            .collect(),
        truth: event
            .truth
            .iter()
            .filter(|t| kept_ids.contains(&t.hit_id))
            .cloned()
            .collect(),
        ..event.clone()
    };
    let found_short = |short_tracks: bool| {
        let mut config = ckf_config();
        config.short_tracks.enabled = short_tracks;
        let ckf = Ckf::new(geometry.clone(), config).expect("valid settings");
        let output = ckf.find(&short_event).expect("a valid event");
        let truth = TrackTruth::from_event(&short_event).expect("truth");
        let poh = truth.particle_of_hit();
        let cut_ids: std::collections::HashSet<u64> = cut.iter().map(|c| c.0).collect();
        output
            .tracks
            .iter()
            .filter(|t| t.candidate.hits.len() == 3)
            .filter(|t| {
                let p = poh[t.candidate.hits[0]];
                cut_ids.contains(&p) && t.candidate.hits.iter().all(|&h| poh[h] == p)
            })
            .count()
    };
    let with = found_short(true);
    let without = found_short(false);
    println!(
        "{} particles cut to 3 hits: {with} found as 3-hit tracks, {without} without",
        cut.len()
    );
    assert!(with * 10 >= cut.len() * 9, "{with} of {}", cut.len());
    assert_eq!(without, 0);
    // The fits of the true triplets pass the cuts; triplets mixing three particles do not.
    let measurements = EventMeasurements::new(&geometry, &event).expect("known modules");
    let fitter = KalmanFitter::default();
    let cuts = ShortTrackConfig::default();
    let accepted = |hits: &[usize]| {
        fitter
            .fit(&geometry, &measurements, hits)
            .is_ok_and(|fit| cuts.accepts(&fit))
    };
    let true_ok = cut.iter().filter(|(_, hits)| accepted(hits)).count();
    let mut mixed = 0;
    let mut mixed_ok = 0;
    for i in 0..cut.len() {
        for j in 0..cut.len() {
            let k = (i + j + 1) % cut.len();
            if i == j || j == k || i == k {
                continue;
            }
            let hits = [cut[i].1[0], cut[j].1[1], cut[k].1[2]];
            if layer(hits[0]) == layer(hits[1]) || layer(hits[1]) == layer(hits[2]) {
                continue;
            }
            mixed += 1;
            mixed_ok += usize::from(accepted(&hits));
        }
    }
    println!(
        "true triplets accepted {true_ok}/{}, mixed {mixed_ok}/{mixed}",
        cut.len()
    );
    assert!(true_ok * 10 >= cut.len() * 9, "{true_ok} of {}", cut.len());
    assert!(
        mixed >= 50 && mixed_ok * 100 <= mixed,
        "{mixed_ok} of {mixed}"
    );
}

#[test]
fn gnn_style_candidates_get_track_parameters() {
    // Truth candidates in the event's hit order (as track building gives them, unordered).
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    let particles = single_tracks(50, 1.0, 10.0, 8);
    let event = simulate_event(&geometry.detector, &no_noise(), 1, &particles, 8);
    let mut tracks: Vec<(u64, Vec<usize>)> = truth_tracks(&event).into_iter().collect();
    tracks.sort();
    let candidates: Vec<hepnn_tracking::building::TrackCandidate> = tracks
        .iter()
        .map(|(_, hits)| {
            let mut hits = hits.clone();
            hits.sort_unstable();
            hepnn_tracking::building::TrackCandidate { hits }
        })
        .collect();
    let fits = KalmanFitter::default()
        .fit_candidates(&geometry, &event, &candidates)
        .expect("valid candidates");
    let by_id: HashMap<u64, &Particle> = particles.iter().map(|p| (p.particle_id.0, p)).collect();
    let mut good = 0;
    for ((id, hits), fit) in tracks.iter().zip(&fits) {
        if hits.len() < 5 {
            continue;
        }
        let fit = fit.as_ref().expect("a track with ≥ 5 hits fits");
        let pt = by_id[id].pt();
        if (fit.perigee.pt() / pt - 1.0).abs() < 0.05 && fit.chi2 / (fit.ndf as f64) < 5.0 {
            good += 1;
        }
    }
    let fitted = tracks.iter().filter(|(_, h)| h.len() >= 5).count();
    assert!(
        good * 100 >= fitted * 95,
        "{good} of {fitted} within 5% in pT"
    );
    let bad = [hepnn_tracking::building::TrackCandidate {
        hits: vec![0, event.hits.len()],
    }];
    let error = KalmanFitter::default()
        .fit_candidates(&geometry, &event, &bad)
        .unwrap_err();
    assert!(error.to_string().contains("candidate 0"), "{error}");
}

#[test]
fn the_fit_filter_keeps_tracks_cleans_outliers_and_drops_mixtures() {
    use hepnn_tracking::building::{FitFilter, TrackCandidate};
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    let particles = single_tracks(60, 1.0, 10.0, 21);
    let event = simulate_event(&geometry.detector, &no_noise(), 1, &particles, 21);
    let mut tracks: Vec<Vec<usize>> = truth_tracks(&event)
        .into_values()
        .filter(|h| h.len() >= 6)
        .collect();
    tracks.sort();
    let filter = FitFilter {
        geometry: geometry.clone(),
        fitter: KalmanFitter::default(),
        chi2_max: 10.0,
        max_outliers: 2,
        min_hits: 3,
    };
    let as_candidates = |v: &[Vec<usize>]| -> Vec<TrackCandidate> {
        v.iter()
            .map(|h| TrackCandidate { hits: h.clone() })
            .collect()
    };
    // True tracks pass untouched.
    let (kept, counts) = filter
        .filter(&event, as_candidates(&tracks))
        .expect("valid");
    assert!(
        kept.len() * 100 >= tracks.len() * 95,
        "{counts:?} of {}",
        tracks.len()
    );
    // A true track with one hit of another track: that hit is removed.
    let contaminated: Vec<Vec<usize>> = tracks
        .windows(2)
        .map(|w| {
            let mut hits = w[0].clone();
            hits.push(w[1][w[1].len() / 2]);
            hits
        })
        .collect();
    let (kept, counts) = filter
        .filter(&event, as_candidates(&contaminated))
        .expect("valid");
    let clean = kept
        .iter()
        .filter(|c| tracks.iter().any(|t| c.hits.iter().all(|h| t.contains(h))))
        .count();
    assert!(
        clean * 100 >= contaminated.len() * 85,
        "{clean} clean of {}: {counts:?}",
        contaminated.len()
    );
    // Halves of two tracks glued together (a fake): dropped.
    let mixed: Vec<Vec<usize>> = tracks
        .windows(2)
        .map(|w| {
            let mut hits: Vec<usize> = w[0][..3].to_vec();
            hits.extend_from_slice(&w[1][3..6]);
            hits
        })
        .collect();
    let (kept, counts) = filter.filter(&event, as_candidates(&mixed)).expect("valid");
    assert!(
        kept.len() * 10 <= mixed.len(),
        "{} of {} mixtures kept: {counts:?}",
        kept.len(),
        mixed.len()
    );
    println!(
        "fit filter: {} tracks, {clean}/{} cleaned, {}/{} mixtures kept",
        tracks.len(),
        contaminated.len(),
        kept.len(),
        mixed.len()
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    let empty = Event::default();
    let ckf = Ckf::new(geometry.clone(), CkfConfig::default()).expect("default settings");
    assert_eq!(
        ckf.find(&empty).unwrap_err(),
        KalmanError::EmptyEvent { event_id: 0 }
    );
    let stray = Event {
        hits: vec![Hit {
            hit_id: HitId(1),
            x: 0.0,
            y: 0.0,
            z: 0.0,
            volume_id: 99,
            layer_id: 2,
            module_id: 1,
        }],
        ..Event::default()
    };
    let error = ckf.find(&stray).unwrap_err();
    assert!(
        matches!(error, KalmanError::UnknownModule { hit: 0, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("99"), "{error}");
    let error = Ckf::new(
        geometry.clone(),
        CkfConfig {
            chi2_cut: -1.0,
            ..CkfConfig::default()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("chi2_cut"), "{error}");
    let mut config = CkfConfig::default();
    config.seeding.min_pt = f64::NAN;
    let error = Ckf::new(geometry.clone(), config).unwrap_err();
    assert!(error.to_string().contains("seeding.min_pt"), "{error}");
    // A fit of two hits.
    let particles = single_tracks(1, 2.0, 2.0, 3);
    let event = simulate_event(&geometry.detector, &no_noise(), 1, &particles, 3);
    let measurements = EventMeasurements::new(&geometry, &event).expect("known modules");
    let error = KalmanFitter::default()
        .fit(&geometry, &measurements, &[0, 1])
        .unwrap_err();
    assert!(matches!(error, KalmanError::BadHits { .. }), "{error}");
}

/// μ = 50 and 200: efficiency, fake and duplicate rates, ms per stage; the pT resolution vs pT
/// plot goes to `$HEPNN_KALMAN_OUT` (relative to the workspace root; default `target/kalman`).
#[test]
#[ignore = "measurement for docs/results.md, a few minutes"]
fn ckf_measurement_at_mu_50_and_200() {
    // Relative to the workspace root (tests run in the crate's folder).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out =
        root.join(std::env::var("HEPNN_KALMAN_OUT").unwrap_or_else(|_| "target/kalman".into()));
    std::fs::create_dir_all(&out).expect("output folder");
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    // pT resolution vs pT from single tracks.
    let fitted = fit_single_tracks(&geometry, 6000, (0.5, 50.0), 21);
    let edges = [0.5, 0.8, 1.2, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 32.0, 50.0];
    let mut points = Vec::new();
    for w in edges.windows(2) {
        let residuals: Vec<f64> = fitted
            .iter()
            .filter(|f| f.0 >= w[0] && f.0 < w[1])
            .map(|f| f.2)
            .collect();
        if residuals.len() > 20 {
            let width = central_width(&residuals);
            let centre = (w[0] * w[1]).sqrt();
            println!(
                "pT {:.1}–{:.1} GeV: σ(pT)/pT = {:.4} ({} tracks)",
                w[0],
                w[1],
                width,
                residuals.len()
            );
            points.push((centre, 100.0 * width));
        }
    }
    LinePlot::new(
        "Kalman fit: pT resolution (|η| < 2.5)",
        "pT (GeV)",
        "σ(pT)/pT (%)",
    )
    .with(Series::line("RTS-smoothed perigee", points))
    .save_png(&out.join("kalman_pt_resolution.png"))
    .expect("plot written");
    for (i, name) in ["d0", "z0", "phi", "theta", "q/p"].iter().enumerate() {
        let all: Vec<f64> = fitted.iter().map(|f| f.1[i]).collect();
        let pulls: Vec<f64> = all.iter().copied().filter(|p| p.abs() < 5.0).collect();
        let (mean, width) = mean_and_width(&pulls);
        println!(
            "pull {name}: mean {mean:+.3}, width {width:.3}, central width {:.3} ({} tracks, {} beyond 5σ)",
            central_width(&all),
            all.len(),
            all.len() - pulls.len()
        );
    }
    // (pile-up, events, min_hits, secondary pass and three-hit tracks): the default, then
    // without the two additions (the first-pass baseline) and with every three-hit track.
    // Seeding alone, with the grid (10 mm bins) and without (one bin: the previous φ-only
    // search), the best of 3 calls.
    for pileup in [50.0, 200.0] {
        let particles = generate(
            &GeneratorConfig {
                pileup,
                ..GeneratorConfig::default()
            },
            100,
        )
        .expect("valid generator settings");
        let event = simulate_event(
            &geometry.detector,
            &SimConfig::default(),
            0,
            &particles,
            100,
        );
        let measurements = EventMeasurements::new(&geometry, &event).expect("known modules");
        for grid_bin in [10.0, 1e6] {
            let finder =
                hepnn_tracking::kalman::SeedFinder::new(hepnn_tracking::kalman::SeedFinderConfig {
                    grid_bin,
                    ..Default::default()
                })
                .expect("valid settings");
            let mut best = f64::INFINITY;
            let mut count = 0;
            for _ in 0..3 {
                let started = Instant::now();
                count = finder.find(&geometry, &measurements).len();
                best = best.min(started.elapsed().as_secs_f64() * 1e3);
            }
            println!("μ = {pileup}: seeding grid_bin {grid_bin}: {count} seeds in {best:.0} ms");
        }
    }
    let runs = [
        (50.0, 3, 4, true),
        (200.0, 3, 4, true),
        (200.0, 3, 4, false),
        (200.0, 1, 3, false),
    ];
    for (pileup, events, min_hits, additions) in runs {
        let mut config = CkfConfig {
            min_hits,
            ..ckf_config()
        };
        config.secondary.enabled = additions;
        config.short_tracks.enabled = additions;
        println!("secondary pass and three-hit tracks: {additions}");
        let ckf = Ckf::new(geometry.clone(), config).expect("valid settings");
        for seed in 0..events {
            let particles = generate(
                &GeneratorConfig {
                    pileup,
                    ..GeneratorConfig::default()
                },
                100 + seed,
            )
            .expect("valid generator settings");
            let event = simulate_event(
                &ckf.geometry().detector,
                &SimConfig::default(),
                seed,
                &particles,
                100 + seed,
            );
            let (metrics, ms, _) = measure(&ckf, &event);
            let truth = TrackTruth::from_event(&event).expect("truth");
            let output = ckf.find(&event).expect("valid event");
            let matches = hepnn_tracking::metrics::match_candidates(&output.candidates(), &truth)
                .expect("candidates index the event");
            let matched: std::collections::HashSet<u64> = matches
                .iter()
                .filter(|m| m.matched)
                .filter_map(|m| m.majority_particle)
                .collect();
            // Efficiency of sub-samples: primaries (vertex within 1 mm of the beam line), and
            // particles with ≥ 5 hits.
            let primaries: std::collections::HashSet<u64> = event
                .particles
                .iter()
                .filter(|p| p.vertex_r() < 1.0)
                .map(|p| p.particle_id.0)
                .collect();
            let efficiency = |ids: &[u64]| {
                let found = ids.iter().filter(|id| matched.contains(id)).count();
                format!(
                    "{:.4} ({found}/{})",
                    found as f64 / ids.len() as f64,
                    ids.len()
                )
            };
            let selected = truth.reconstructable(&ParticleSelection::default());
            let prim: Vec<u64> = selected
                .iter()
                .copied()
                .filter(|id| primaries.contains(id))
                .collect();
            let five = truth.reconstructable(&ParticleSelection {
                min_hits: 5,
                ..ParticleSelection::default()
            });
            let five_prim: Vec<u64> = five
                .iter()
                .copied()
                .filter(|id| primaries.contains(id))
                .collect();
            println!(
                "μ = {pileup}, event {seed}, min_hits {min_hits}: eff(pT>1, ≥3 hits) {}, primaries {}, ≥5 hits {}, ≥5 hits primaries {}; fake {:.4}, duplicate {:.4}, {} candidates, {ms:.0} ms",
                efficiency(&selected),
                efficiency(&prim),
                efficiency(&five),
                efficiency(&five_prim),
                metrics.fake_rate,
                metrics.duplicate_rate,
                metrics.candidates
            );
        }
    }
}

/// Lists the reconstructable particles the CKF misses, with their hit layers and seed count:
/// `MU=200 SEED=100 MIN_HITS=4 D0_MAX=1 cargo test --release -p hepnn-tracking --test tests ckf_diag -- --ignored --nocapture`.
#[test]
#[ignore = "diagnostic listing"]
fn ckf_diag() {
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    let event_seed: u64 = std::env::var("SEED").map_or(0, |v| v.parse().unwrap());
    let particles = generate(
        &GeneratorConfig {
            pileup: std::env::var("MU").map_or(50.0, |v| v.parse().unwrap()),
            ..GeneratorConfig::default()
        },
        100 + event_seed,
    )
    .expect("valid generator settings");
    let event = simulate_event(
        &geometry.detector,
        &SimConfig::default(),
        event_seed,
        &particles,
        100 + event_seed,
    );
    let measurements = EventMeasurements::new(&geometry, &event).unwrap();
    let seeding = hepnn_tracking::kalman::SeedFinderConfig {
        d0_max: std::env::var("D0_MAX").map_or(1.0, |v| v.parse().unwrap()),
        ..Default::default()
    };
    let finder = hepnn_tracking::kalman::SeedFinder::new(seeding.clone()).unwrap();
    for _ in 0..1 {
        let t = Instant::now();
        let seeds = finder.find(&geometry, &measurements);
        println!(
            "seeding {} in {:.0} ms",
            seeds.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let seeds = finder.find(&geometry, &measurements);
    let env =
        |name: &str, default: f64| std::env::var(name).map_or(default, |v| v.parse().unwrap());
    let mut config = CkfConfig {
        min_hits: std::env::var("MIN_HITS").map_or(4, |v| v.parse().unwrap()),
        seeding,
        ..ckf_config()
    };
    let s = &mut config.secondary;
    s.enabled = env("SEC", 1.0) > 0.0;
    s.d0_max = env("SEC_D0", s.d0_max);
    s.z0_max = env("SEC_Z0", s.z0_max);
    s.min_pt = env("SEC_PT", s.min_pt);
    s.min_hits = env("SEC_HITS", s.min_hits as f64) as usize;
    s.max_seeds_per_middle = env("SEC_PER_MIDDLE", s.max_seeds_per_middle as f64) as usize;
    let seeds2 =
        hepnn_tracking::kalman::SeedFinder::new(hepnn_tracking::kalman::SeedFinderConfig {
            d0_max: config.secondary.d0_max,
            z0_max: config.secondary.z0_max,
            min_pt: config.secondary.min_pt,
            max_seeds_per_middle: config.secondary.max_seeds_per_middle,
            displaced: true,
            ..config.seeding.clone()
        })
        .unwrap()
        .find(&geometry, &measurements);
    let ckf = Ckf::new(geometry, config).expect("valid settings");
    let (metrics, _, _) = measure(&ckf, &event);
    println!("{metrics:?}");
    let output = ckf.find(&event).unwrap();
    let truth = TrackTruth::from_event(&event).unwrap();
    let matches = hepnn_tracking::metrics::match_candidates(&output.candidates(), &truth).unwrap();
    let matched: std::collections::HashSet<u64> = matches
        .iter()
        .filter(|m| m.matched)
        .filter_map(|m| m.majority_particle)
        .collect();
    let poh = truth.particle_of_hit();
    let tracks = truth_tracks(&event);
    let mut by_particle: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, m) in matches.iter().enumerate() {
        if let Some(p) = m.majority_particle {
            by_particle.entry(p).or_default().push(i);
        }
    }
    for (p, list) in &by_particle {
        if list.len() < 2 {
            continue;
        }
        let part = event
            .particles
            .iter()
            .find(|q| q.particle_id.0 == *p)
            .unwrap();
        let desc: Vec<String> = list
            .iter()
            .map(|&i| {
                let c = &output.tracks[i].candidate.hits;
                let l: Vec<u32> = c
                    .iter()
                    .map(|&h| event.hits[h].volume_id * 100 + event.hits[h].layer_id)
                    .collect();
                format!("{}:{:?}", c.len(), l)
            })
            .collect();
        println!(
            "dup {p:x} pT {:.2} eta {:.2} vr {:.1} nhits {} {:?}",
            part.pt(),
            part.eta(),
            part.vertex_r(),
            tracks[p].len(),
            desc
        );
    }
    for id in truth.reconstructable(&ParticleSelection::default()) {
        if matched.contains(&id) {
            continue;
        }
        let p = event
            .particles
            .iter()
            .find(|p| p.particle_id.0 == id)
            .unwrap();
        let hits = &tracks[&id];
        let vols: Vec<(u32, u32)> = hits
            .iter()
            .map(|&h| (event.hits[h].volume_id, event.hits[h].layer_id))
            .collect();
        let nseeds = seeds
            .iter()
            .filter(|s| s.hits.iter().all(|&h| poh[h] == id))
            .count()
            * 1000
            + seeds2
                .iter()
                .filter(|s| s.hits.iter().all(|&h| poh[h] == id))
                .count();
        let best = output
            .tracks
            .iter()
            .map(|t| {
                (
                    t.candidate.hits.iter().filter(|&&h| poh[h] == id).count(),
                    t.candidate.hits.len(),
                )
            })
            .max();
        {
            let mut seen = Vec::new();
            let mut pts = Vec::new();
            for &h in hits.iter() {
                let e = &event.hits[h];
                if e.volume_id <= 9 && !seen.contains(&(e.volume_id, e.layer_id)) {
                    seen.push((e.volume_id, e.layer_id));
                    pts.push([e.x, e.y, e.z]);
                }
            }
            if pts.len() >= 3 {
                let r = |p: [f64; 3]| p[0].hypot(p[1]);
                let (b, m, t) = (pts[0], pts[1], pts[2]);
                let cb = (m[2] - b[2]) / (r(m) - r(b));
                let ct = (t[2] - m[2]) / (r(t) - r(m));
                let cb2 = (m[2] - b[2]) / (m[0] - b[0]).hypot(m[1] - b[1]);
                let ct2 = (t[2] - m[2]) / (t[0] - m[0]).hypot(t[1] - m[1]);
                let circle = hepnn_sim::tracker::helix::circle_through(
                    [b[0], b[1]],
                    [m[0], m[1]],
                    [t[0], t[1]],
                );
                let (d0, rad) = circle.map_or((f64::NAN, f64::NAN), |(c, rad, _)| {
                    ((c[0].hypot(c[1]) - rad).abs(), rad)
                });
                println!(
                    "  triplet r {:.0} {:.0} {:.0} cot_dr {cb:.3} {ct:.3} tol {:.4} cot_chord {cb2:.3} {ct2:.3} z0 {:.1} d0 {d0:.2} pt {:.2}",
                    r(b),
                    r(m),
                    r(t),
                    0.005 * (1.0 + cb * cb),
                    b[2] - r(b) * cb,
                    rad * 0.0006
                );
            }
        }
        println!(
            "missed {id:x}: pT {:.2} eta {:.2} vr {:.1} vz {:.1} q {} nhits {} seeds {} best {:?} layers {:?}",
            p.pt(),
            p.eta(),
            p.vertex_r(),
            p.vz,
            p.q,
            hits.len(),
            nseeds,
            best,
            vols
        );
    }
}

/// The secondary pass finds tracks from a displaced vertex (d₀ ≈ 7 mm) that the first pass
/// (d₀ < 1 mm) cannot seed; two-layer tracks find particles cut after two pixel layers when one
/// of them has an overlap twin.
#[test]
fn secondary_pass_and_two_layer_tracks_find_what_the_first_pass_cannot() {
    let geometry = TrackingGeometry::new(Detector::trackml_default());
    // 24 particles from vertices 15 mm off the beam line, 0.5 rad off radial: d₀ ≈ 7 mm.
    let displaced: Vec<Particle> = (0..24)
        .map(|i| {
            let alpha = i as f64 * std::f64::consts::TAU / 24.0;
            let (pt, eta) = (3.0, 0.2 + 0.05 * i as f64);
            let phi = alpha + 0.5;
            Particle {
                particle_id: ParticleId(i as u64 + 1),
                particle_type: Some(211),
                vx: 15.0 * alpha.cos(),
                vy: 15.0 * alpha.sin(),
                vz: 0.0,
                px: pt * phi.cos(),
                py: pt * phi.sin(),
                pz: pt * f64::sinh(eta),
                q: if i % 2 == 0 { 1 } else { -1 },
                nhits: 0,
            }
        })
        .collect();
    let event = simulate_event(&geometry.detector, &no_noise(), 2, &displaced, 2);
    let efficiency = |secondary: bool, event: &Event| {
        let mut config = ckf_config();
        config.secondary.enabled = secondary;
        config.short_tracks.two_layers = false;
        let ckf = Ckf::new(geometry.clone(), config).expect("valid settings");
        let (metrics, _, _) = measure(&ckf, event);
        (metrics.matched_reconstructable, metrics.reconstructable)
    };
    let (with, all) = efficiency(true, &event);
    let (without, _) = efficiency(false, &event);
    println!("displaced: {with}/{all} with the secondary pass, {without} without");
    assert!(all >= 20 && with * 10 >= all * 8, "{with} of {all}");
    assert!(
        without * 10 <= all,
        "{without} of {all} without the secondary pass"
    );

    // Particles cut after their first three hits when these lie on two pixel layers.
    let particles = single_tracks(600, 1.5, 10.0, 13);
    let event = simulate_event(&geometry.detector, &no_noise(), 3, &particles, 13);
    let tracks = truth_tracks(&event);
    let layer = |h: usize| (event.hits[h].volume_id, event.hits[h].layer_id);
    let mut drop: std::collections::HashSet<HitId> = std::collections::HashSet::new();
    let mut cut = 0;
    for hits in tracks.values() {
        let first: Vec<usize> = hits.iter().copied().take(3).collect();
        let mut layers: Vec<(u32, u32)> = first.iter().map(|&h| layer(h)).collect();
        layers.dedup();
        if first.len() == 3
            && layers.len() == 2
            && first.iter().all(|&h| event.hits[h].volume_id <= 9)
        {
            cut += 1;
            drop.extend(hits[3..].iter().map(|&h| event.hits[h].hit_id));
        }
    }
    let short_event = Event {
        hits: event
            .hits
            .iter()
            .filter(|h| !drop.contains(&h.hit_id))
            .cloned()
            .collect(),
        truth: event
            .truth
            .iter()
            .filter(|t| !drop.contains(&t.hit_id))
            .cloned()
            .collect(),
        ..event.clone()
    };
    let found = |two_layers: bool| {
        let mut config = ckf_config();
        config.short_tracks.two_layers = two_layers;
        let ckf = Ckf::new(geometry.clone(), config).expect("valid settings");
        let output = ckf.find(&short_event).expect("a valid event");
        let (metrics, _, _) = measure(&ckf, &short_event);
        (output.summary.tracks_two_layers, metrics)
    };
    let (with, metrics_with) = found(true);
    let (without, metrics_without) = found(false);
    println!(
        "{cut} particles cut after two layers: {with} two-layer tracks (efficiency {:.3}, fake {:.3}), {without} without (efficiency {:.3})",
        metrics_with.efficiency, metrics_with.fake_rate, metrics_without.efficiency
    );
    assert!(cut >= 10, "{cut} particles cut");
    assert!(with * 10 >= cut * 7, "{with} two-layer tracks of {cut}");
    assert_eq!(without, 0);
    assert!(metrics_with.fake_rate <= 0.01, "{metrics_with:?}");
    assert!(
        metrics_with.matched_reconstructable
            >= metrics_without.matched_reconstructable + with * 9 / 10
    );
}
