use super::*;

fn summed(events: &[NeutrinoEvent]) -> f64 {
    events
        .iter()
        .map(|e| e.xz.iter().chain(&e.yz).map(|&v| f64::from(v)).sum::<f64>())
        .sum::<f64>()
        / events.len() as f64
}

/// Plane pairs (both views) holding more than 8 MeV: the event's length along the beam.
fn extent(e: &NeutrinoEvent, cells: usize) -> usize {
    let planes: Vec<usize> =
        e.xz.chunks(cells)
            .zip(e.yz.chunks(cells))
            .enumerate()
            .filter(|(_, (a, b))| a.iter().chain(b.iter()).sum::<f32>() > 8.0)
            .map(|(i, _)| i)
            .collect();
    match (planes.first(), planes.last()) {
        (Some(a), Some(b)) => b - a + 1,
        _ => 0,
    }
}

#[test]
fn same_seed_same_events_and_classes_in_turn() {
    let config = SimulationConfig::default();
    let a = simulate_events(&config, 6, 11, 0);
    let b = simulate_events(&config, 6, 11, 0);
    assert_eq!(a, b);
    let labels: Vec<usize> = a.iter().map(NeutrinoEvent::label).collect();
    assert_eq!(labels, [0, 1, 2, 0, 1, 2]);
    assert_ne!(a, simulate_events(&config, 6, 12, 0));
}

#[test]
fn muon_tracks_are_long_and_electron_showers_compact() {
    let config = SimulationConfig::default();
    let cells = config.detector.cells;
    let events = simulate_events(&config, 300, 5, 0);
    let mean_extent = |class: Interaction| {
        let chosen: Vec<_> = events
            .iter()
            .filter(|e| e.truth.interaction == class)
            .collect();
        chosen.iter().map(|e| extent(e, cells) as f64).sum::<f64>() / chosen.len() as f64
    };
    let (numu, nue, nc) = (
        mean_extent(Interaction::NumuCc),
        mean_extent(Interaction::NueCc),
        mean_extent(Interaction::Nc),
    );
    // A 1–2 GeV muon crosses metres (a plane pair is 13.2 cm) unless it leaves by a side; an
    // electron shower's 95 % containment is ~ 8–10 X₀ ≈ 3–4 m; NC showers are softer.
    assert!(numu > 30.0, "νμ CC extent {numu} plane pairs");
    assert!(nue < 32.0 && nue > 10.0, "νe CC extent {nue}");
    assert!(numu > 1.1 * nue, "{numu} vs {nue}");
    assert!(nc < 0.6 * nue, "{nc} vs {nue}");
}

#[test]
fn visible_energy_follows_the_deposited_energy() {
    let config = SimulationConfig::default();
    let events = simulate_events(&config, 150, 9, 0);
    // νe CC: electron + hadrons mostly contained; the calibrated sum is ~ 0.5–1.1 E_ν (Birks,
    // leakage, neutrons, attenuation to the calibration point).
    let nue: Vec<_> = events.iter().filter(|e| e.label() == 1).cloned().collect();
    let visible = summed(&nue) / 1e3;
    let true_e = nue.iter().map(|e| e.truth.neutrino_energy_gev).sum::<f64>() / nue.len() as f64;
    let ratio = visible / true_e;
    assert!((0.45..1.15).contains(&ratio), "visible/true {ratio}");
}

#[test]
fn noise_hits_alone_when_nothing_interacts() {
    use rand::SeedableRng;
    let config = SimulationConfig::default();
    let readout = response::Readout::new(&config.detector, &config.response);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let (xz, yz) = readout.digitise(&mut rng);
    let hits = xz.iter().chain(&yz).filter(|&&v| v > 0.0).count();
    assert!(hits <= 20, "{hits} noise hits");
}

#[test]
fn simulation_makes_every_event_asked_for() {
    // The rate (issue's target ≥ 1,000 events/s) is measured by the `neutrino` group of
    // `cargo bench -p hepnn-bench --bench simulation`, not asserted here: a timed test fails on
    // a busy machine (it did, at load 15).
    let config = SimulationConfig::default();
    let events = simulate_events(&config, 600, 1, 0);
    assert_eq!(events.len(), 600);
}

#[test]
fn events_round_trip_through_npz() {
    let config = SimulationConfig::default();
    let events = simulate_events(&config, 5, 2, 10);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("events.npz");
    let (p, c) = (config.detector.planes_per_view(), config.detector.cells);
    io::write_events(&path, &events, p, c).expect("writes");
    let (back, planes, cells) = io::read_events(&path).expect("reads");
    assert_eq!((planes, cells), (p, c));
    assert_eq!(back, events);
    let missing = io::read_events(&dir.path().join("none.npz"));
    assert!(missing.is_err());
}
