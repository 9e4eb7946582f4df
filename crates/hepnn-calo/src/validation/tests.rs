use super::*;
use hepnn_sim::calo::{CaloSimConfig, EnergySpectrum, IncidentParticle, simulate_showers};

fn toy_binning() -> CaloBinning {
    let xml = r#"<Bins><Bin pid="11" name="electron">
      <Layer id="0" r_edges="0,2,4" n_bin_alpha="4" />
      <Layer id="1" r_edges="0,10" n_bin_alpha="1" />
    </Bin></Bins>"#;
    CaloBinning::parse_xml(xml, "toy.xml".as_ref()).expect("valid toy binning")
}

#[test]
fn separation_power_of_identical_disjoint_and_half_overlapping_histograms() {
    assert_eq!(separation_power(&[0.2, 0.3, 0.5], &[0.2, 0.3, 0.5]), 0.0);
    assert!((separation_power(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
    // ½[(0.5−0)²/0.5 + 0 + (0−0.5)²/0.5] = 0.5
    assert!((separation_power(&[0.5, 0.5, 0.0], &[0.0, 0.5, 0.5]) - 0.5).abs() < 1e-12);
    // Same distribution sampled twice on reference bins: small; shifted by 3σ: large.
    let a: Vec<f64> = (0..2000)
        .map(|i| ((i * 7919) % 2000) as f64 / 2000.0)
        .collect();
    let b: Vec<f64> = a.iter().map(|x| x + 2.0).collect();
    assert!(feature_separation_power(&a, &a, 20, false) < 1e-12);
    assert!(feature_separation_power(&a, &b, 20, false) > 0.85);
}

#[test]
fn histogram_clamps_out_of_range_values_into_the_edge_bins() {
    let binning = HistBinning::from_reference(&[0.0, 1.0, 2.0, 3.0], 3, false);
    assert!(!binning.log);
    assert_eq!(
        binning.histogram(&[-5.0, 10.0, 1.5, f64::NAN]),
        vec![0.25, 0.25, 0.5]
    );
    // Energies over many decades get logarithmic bins.
    let log = HistBinning::from_reference(&[0.0, 1e-3, 1.0, 100.0], 5, true);
    assert!(log.log);
    assert!((log.edges[0] - 1e-3).abs() < 1e-12 && (log.edges[5] - 100.0).abs() < 1e-9);
}

#[test]
fn features_of_a_hand_made_shower() {
    let binning = toy_binning();
    assert_eq!(binning.num_voxels(), 9);
    // Layer 0: 3 MeV in (α bin 0, r bin 0) and 1 MeV in (α bin 0, r bin 1); layer 1: 2 MeV.
    // α bin 0 centre: −π + π/4 = −3π/4; r centres 1 and 3 mm.
    let mut voxels = vec![0.0f32; 9];
    voxels[binning.voxel_index(0, 0, 0)] = 3.0;
    voxels[binning.voxel_index(0, 0, 1)] = 1.0;
    voxels[binning.voxel_index(1, 0, 0)] = 2.0;
    let showers = CaloShowers {
        incident_energies_mev: vec![12.0],
        showers_mev: voxels,
        voxels: 9,
    };
    let f = high_level_features(&showers, &binning).expect("voxel count matches");
    assert_eq!(f.names.len(), 1 + 2 * 8);
    let get = |name: &str| f.get(name).expect("feature exists")[0];
    assert!((get("etot_over_einc") - 0.5).abs() < 1e-12);
    assert!((get("e_layer_0") - 4.0).abs() < 1e-12);
    assert!((get("e_layer_1") - 2.0).abs() < 1e-12);
    // ⟨r⟩ = (3·1 + 1·3)/4 = 1.5, σ_r = √((3·1 + 1·9)/4 − 1.5²) = √0.75.
    assert!((get("center_r_layer_0") - 1.5).abs() < 1e-12);
    assert!((get("width_r_layer_0") - 0.75f64.sqrt()).abs() < 1e-12);
    // x = y = r cos(−3π/4) = −r/√2 for both voxels.
    let c = -(0.5f64).sqrt();
    assert!((get("center_x_layer_0") - 1.5 * c).abs() < 1e-12);
    assert!((get("center_y_layer_0") - 1.5 * c).abs() < 1e-12);
    assert!((get("width_x_layer_0") - 0.75f64.sqrt() * c.abs()).abs() < 1e-9);
    assert!((get("sparsity_layer_0") - 2.0 / 8.0).abs() < 1e-12);
    // One angular bin: no angle, centre on the axis; r centre 5 mm.
    assert_eq!(get("center_x_layer_1"), 0.0);
    assert!((get("center_r_layer_1") - 5.0).abs() < 1e-12);
    assert_eq!(get("sparsity_layer_1"), 1.0);
    assert_eq!(feature_kind("width_r_layer_12"), "width_r_layer");
    assert_eq!(feature_kind("etot_over_einc"), "etot_over_einc");
}

#[test]
fn auc_of_perfect_random_and_tied_scores() {
    assert_eq!(
        roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
        1.0
    );
    assert_eq!(
        roc_auc(&[0.1, 0.2, 0.8, 0.9], &[true, true, false, false]),
        0.0
    );
    assert_eq!(roc_auc(&[0.5; 4], &[true, false, true, false]), 0.5);
    let knots = isotonic_fit(&[0.1, 0.2, 0.3, 0.4], &[false, true, false, true]);
    assert!(knots.windows(2).all(|w| w[1].1 >= w[0].1), "monotone");
}

/// Low-energy reference showers (fast to simulate): `n` electrons log-uniform 1–4 GeV.
fn reference_sample(n: usize, seed: u64) -> CaloShowers {
    let config = CaloSimConfig::default();
    let energies = EnergySpectrum::LogUniform(1.0, 4.0).sample_mev(n, seed);
    simulate_showers(&config, IncidentParticle::Electron, &energies, seed)
        .expect("valid simulation")
        .to_challenge()
}

#[test]
fn classifier_cannot_tell_the_reference_from_itself_but_sees_a_distorted_copy() {
    let a = reference_sample(800, 1);
    let b = reference_sample(800, 2);
    let config = ClassifierConfig {
        epochs: 20,
        patience: 5,
        ..ClassifierConfig::default()
    };
    let same = classifier_test(&a, &b, &config, 7).expect("valid samples");
    // Every deposit 1.5 times too large.
    let mut distorted = b.clone();
    for i in 0..distorted.len() {
        let row = &mut distorted.showers_mev[i * b.voxels..(i + 1) * b.voxels];
        for v in row.iter_mut() {
            *v *= 1.5;
        }
    }
    let different = classifier_test(&a, &distorted, &config, 7).expect("valid samples");
    eprintln!("same: {same:?}\ndistorted: {different:?}");
    assert!(same.auc < 0.62, "same reference: AUC {}", same.auc);
    assert!(different.auc > 0.7, "distorted copy: AUC {}", different.auc);
    assert!(different.jsd > same.jsd);
    assert_eq!(same.split, [960, 320, 320]);
}
