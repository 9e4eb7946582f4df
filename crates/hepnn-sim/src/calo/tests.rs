//! Physics checks of the reference simulation on seeded samples (PDG, "Passage of particles
//! through matter": t_max = ln(E/E_c) − 0.5 for electrons, + 0.5 for photons; ~90% of the
//! energy within R_M, ~95% within 2 R_M).

use super::analysis::mean_std;
use super::*;

fn run(particle: IncidentParticle, energy_mev: f64, n: usize, seed: u64) -> Showers {
    simulate_showers(
        &CaloSimConfig::default(),
        particle,
        &vec![energy_mev; n],
        seed,
    )
    .expect("the default configuration is valid")
}

fn expected_t_max(g: &CaloGeometry, energy_mev: f64, particle: IncidentParticle) -> f64 {
    let c = match particle {
        IncidentParticle::Electron => -0.5,
        IncidentParticle::Photon => 0.5,
    };
    (energy_mev / g.effective_critical_energy_mev()).ln() + c
}

#[test]
fn shower_maximum_follows_ln_e_over_ec() {
    // The check is for electrons: t_max = ln(E/E_c) − 0.5 within ±1 X0. Photons start
    // their shower one conversion length (9/7 X0) later; the PDG's C_γ − C_e = 1 X0 is checked
    // as a delay between 0.3 and 1.7 X0 (the 0.8 X0 readout layers make single values coarse).
    let g = CaloGeometry::dataset_2();
    for (energy_gev, n) in [(1.0, 120), (5.0, 30), (20.0, 12), (100.0, 10)] {
        let e = 1000.0 * energy_gev;
        let mut t_max = [0.0; 2];
        for (slot, particle) in [IncidentParticle::Electron, IncidentParticle::Photon]
            .into_iter()
            .enumerate()
        {
            let showers = run(particle, e, n, 11);
            t_max[slot] = shower_maximum_x0(&g, &showers.mean_layer_profile());
            let want = expected_t_max(&g, e, particle);
            eprintln!(
                "{particle:?} {energy_gev} GeV: t_max {:.2} X0, PDG {want:.2}",
                t_max[slot]
            );
        }
        let want = expected_t_max(&g, e, IncidentParticle::Electron);
        assert!(
            (t_max[0] - want).abs() < 1.0,
            "electron {energy_gev} GeV: t_max {:.2} X0, expected {want:.2} ± 1",
            t_max[0]
        );
        let delay = t_max[1] - t_max[0];
        assert!(
            (0.3..1.7).contains(&delay),
            "{energy_gev} GeV: photon shower maximum {delay:.2} X0 after the electron's"
        );
    }
}

#[test]
fn lateral_containment_in_moliere_radii() {
    let g = CaloGeometry::dataset_2();
    let showers = run(IncidentParticle::Electron, 20_000.0, 12, 5);
    let rm = g.effective_moliere_radius_mm();
    let profile = showers.mean_radial_profile();
    let (one, two) = (
        containment_fraction(&profile, rm),
        containment_fraction(&profile, 2.0 * rm),
    );
    eprintln!("silicon deposit within R_M = {rm:.2} mm: {one:.3}, within 2 R_M: {two:.3}");
    // The PDG: ~90% within R_M, ~95% within 2 R_M. Larger samples give 0.902–0.905 at 1–500
    // GeV (docs/results.md); 12 showers fluctuate by ~0.005.
    assert!(one > 0.89 && one < 0.95, "within R_M: {one}");
    assert!(two > 0.95, "within 2 R_M: {two}");
    // The voxels (r < 41.85 mm ≈ 3.9 R_M) hold what the profile says they hold.
    let in_voxels: f64 = showers
        .tallies
        .iter()
        .map(|t| t.voxels_mev.iter().map(|&v| f64::from(v)).sum::<f64>())
        .sum();
    let in_profile: f64 = showers.tallies.iter().map(|t| t.silicon_mev).sum::<f64>()
        * containment_fraction(&profile, 41.85);
    assert!((in_voxels / in_profile - 1.0).abs() < 1e-3);
}

#[test]
fn sampling_fraction_is_flat_and_resolution_is_stochastic() {
    let mut fractions = Vec::new();
    let mut points = Vec::new();
    for (energy_gev, n) in [(2.0, 160), (10.0, 64), (50.0, 24)] {
        let showers = run(IncidentParticle::Electron, 1000.0 * energy_gev, n, 3);
        let f: Vec<f64> = showers
            .tallies
            .iter()
            .map(|t| t.silicon_mev / (1000.0 * energy_gev))
            .collect();
        let (mean, std) = mean_std(&f);
        eprintln!(
            "{energy_gev} GeV: sampling fraction {mean:.5} ± {:.5}, σ/E {:.4}",
            std / (n as f64).sqrt(),
            std / mean
        );
        fractions.push(mean);
        points.push((energy_gev, std / mean, n));
    }
    let mean = fractions.iter().sum::<f64>() / fractions.len() as f64;
    for f in &fractions {
        assert!(
            (f / mean - 1.0).abs() < 0.02,
            "sampling fractions {fractions:?}"
        );
    }
    assert!(mean > 0.025 && mean < 0.036, "sampling fraction {mean}");
    let fit = fit_resolution(&points);
    eprintln!("σ/E = {:.3}/√E ⊕ {:.4}", fit.stochastic, fit.constant);
    assert!(
        fit.stochastic > 0.10 && fit.stochastic < 0.30,
        "stochastic term {}",
        fit.stochastic
    );
    assert!(fit.constant < 0.03, "constant term {}", fit.constant);
}

#[test]
fn showers_are_seeded_and_conserve_energy() {
    let energies = [3000.0, 800.0];
    let config = CaloSimConfig::default();
    let a = simulate_showers(&config, IncidentParticle::Electron, &energies, 9).expect("runs");
    let b = simulate_showers(&config, IncidentParticle::Electron, &energies, 9).expect("runs");
    let c = simulate_showers(&config, IncidentParticle::Electron, &energies, 10).expect("runs");
    assert_eq!(a.to_challenge(), b.to_challenge());
    assert_ne!(a.to_challenge(), c.to_challenge());
    for (t, e) in a.tallies.iter().zip(energies) {
        let total = t.silicon_mev + t.absorber_mev + t.leaked_mev;
        assert!((total / e - 1.0).abs() < 1e-9, "{total} MeV of {e}");
    }
    let layout = a.to_challenge();
    assert_eq!(layout.voxels, 6480);
    assert!(layout.validate("memory".as_ref()).is_ok());
    let bad = CaloSimConfig {
        electron_cut_mev: 0.0,
        ..CaloSimConfig::default()
    };
    assert!(simulate_showers(&bad, IncidentParticle::Electron, &energies, 1).is_err());
    assert!(simulate_showers(&config, IncidentParticle::Photon, &[f64::NAN], 1).is_err());
}

/// The full 1–500 GeV sweep for docs/results.md:
/// `cargo test --release -p hepnn-sim calo_reference_sweep -- --ignored --nocapture`.
#[test]
#[ignore = "about a minute: the figures of docs/results.md"]
fn calo_reference_sweep() {
    let g = CaloGeometry::dataset_2();
    let rm = g.effective_moliere_radius_mm();
    println!(
        "| E (GeV) | showers | t_max (X0) | ln(E/E_c) − 0.5 | E_Si/E | σ/E | within R_M | within 2 R_M | leak | showers/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut points = Vec::new();
    for (energy_gev, n) in [
        (1.0, 400),
        (2.0, 300),
        (5.0, 200),
        (10.0, 150),
        (20.0, 100),
        (50.0, 100),
        (100.0, 60),
        (200.0, 40),
        (500.0, 24),
    ] {
        let e = 1000.0 * energy_gev;
        let start = std::time::Instant::now();
        let showers = run(IncidentParticle::Electron, e, n, 2026);
        let rate = n as f64 / start.elapsed().as_secs_f64();
        let t_max = shower_maximum_x0(&g, &showers.mean_layer_profile());
        let f: Vec<f64> = showers.tallies.iter().map(|t| t.silicon_mev / e).collect();
        let (mean, std) = mean_std(&f);
        let leak = showers.tallies.iter().map(|t| t.leaked_mev).sum::<f64>() / (n as f64 * e);
        let profile = showers.mean_radial_profile();
        points.push((energy_gev, std / mean, n));
        println!(
            "| {energy_gev} | {n} | {t_max:.2} | {:.2} | {mean:.5} ± {:.5} | {:.4} | {:.3} | {:.3} | {leak:.4} | {rate:.1} |",
            expected_t_max(&g, e, IncidentParticle::Electron),
            std / (n as f64).sqrt(),
            std / mean,
            containment_fraction(&profile, rm),
            containment_fraction(&profile, 2.0 * rm),
        );
    }
    let fit = fit_resolution(&points);
    println!(
        "σ/E = {:.3}/√E ⊕ {:.4} (E in GeV)",
        fit.stochastic, fit.constant
    );
}
