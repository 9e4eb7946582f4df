use super::*;

fn toy_config() -> CaloGanConfig {
    CaloGanConfig::new(12, vec![0, 8, 12])
        .with_latent(4)
        .with_generator_hidden(vec![16])
        .with_critic_hidden(vec![16])
}

#[test]
fn generator_deposits_are_non_negative_and_sum_to_the_energy_output() {
    let device = Device::flex();
    device.seed(3);
    let gan = toy_config().init(&device);
    let x = gan
        .generator
        .sample(Tensor::<2>::zeros([5, 1], &device))
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32");
    assert_eq!(x.len(), 5 * 12);
    assert!(x.iter().all(|&v| v >= 0.0));
    // The shape is a softmax: the total is f = f̄ softplus(a)/ln 2, of order f̄ = 0.03.
    for row in x.chunks(12) {
        let total: f32 = row.iter().sum();
        assert!(total > 0.001 && total < 0.5, "total {total}");
    }
}

#[test]
fn losses_are_finite_for_both_variants_and_the_step_moves_both_networks() {
    for loss in [GanLoss::Bce, GanLoss::WganLp] {
        let device = Device::flex();
        device.seed(5);
        let ad = device.autodiff();
        let config = toy_config().with_loss(loss);
        let gan = config.init(&ad);
        let real = Tensor::<2>::random([8, 12], Distribution::Uniform(0.0, 0.005), &ad);
        let c = Tensor::<2>::zeros([8, 1], &ad);
        let (l_d, l_g) = adversarial_losses(&gan, &config, real.clone(), c.clone());
        // L_G reaches only the generator, L_D only the critic.
        let only_g = burn::optim::GradientsParams::from_grads(l_g.backward(), &gan);
        assert!(
            only_g
                .get::<2>(gan.critic.mlp.layers[0].weight.id)
                .is_none()
        );
        let only_d = burn::optim::GradientsParams::from_grads(l_d.backward(), &gan);
        assert!(
            only_d
                .get::<2>(gan.generator.mlp.layers[0].weight.id)
                .is_none()
        );
        let (l_d, l_g) = adversarial_losses(&gan, &config, real, c);
        let total = l_d + l_g;
        assert!(total.clone().into_scalar::<f32>().is_finite());
        let grads = burn::optim::GradientsParams::from_grads(total.backward(), &gan);
        // Both networks receive gradients (first layer of each).
        assert!(
            grads
                .get::<2>(gan.generator.mlp.layers[0].weight.id)
                .is_some(),
            "{loss:?}"
        );
        assert!(
            grads.get::<2>(gan.critic.mlp.layers[0].weight.id).is_some(),
            "{loss:?}"
        );
    }
}

#[test]
fn generator_round_trip_gives_the_same_showers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let device = Device::flex();
    device.seed(9);
    let config = toy_config().with_quantum_mev(0.01);
    let gan = config.init(&device);
    save_generator(dir.path(), &config, &gan.generator).expect("saved");
    let (loaded_config, loaded) = load_generator(dir.path(), &device).expect("loaded");
    assert_eq!(loaded_config.quantum_mev, 0.01);
    let energies = [1000.0f32, 50_000.0];
    device.seed(1);
    let a = generate(&gan.generator, &config, &energies, 10, 4, &device);
    device.seed(1);
    let b = generate(&loaded, &loaded_config, &energies, 10, 4, &device);
    assert_eq!(a.showers_mev, b.showers_mev);
}

#[test]
fn shipped_generator_loads_and_matches_the_reference_energy_at_50_gev() {
    use hepnn_sim::calo::{CaloSimConfig, IncidentParticle, simulate_showers};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/calo/gan");
    let device = Device::flex();
    let (config, generator) = load_generator(&dir, &device).expect("the shipped generator loads");
    device.seed(50);
    let gan = generate(&generator, &config, &[50_000.0; 500], 500, 50, &device);
    let mean_fraction = |s: &CaloShowers| {
        (0..s.len())
            .map(|i| {
                s.shower(i).iter().map(|&v| f64::from(v)).sum::<f64>()
                    / f64::from(s.incident_energies_mev[i])
            })
            .sum::<f64>()
            / s.len() as f64
    };
    let reference = simulate_showers(
        &CaloSimConfig::default(),
        IncidentParticle::Electron,
        &[50_000.0; 8],
        50,
    )
    .expect("valid simulation")
    .to_challenge();
    let (g, r) = (mean_fraction(&gan), mean_fraction(&reference));
    assert!((g / r - 1.0).abs() < 0.04, "GAN {g}, reference {r}");
    assert!(gan.showers_mev.iter().all(|&v| v >= 0.0));
}

#[test]
fn a_generator_written_before_the_quanta_loads_with_its_threshold() {
    let dir = tempfile::tempdir().expect("temp dir");
    let device = Device::flex();
    let config = toy_config().with_threshold_mev(0.01);
    save_generator(dir.path(), &config, &config.init(&device).generator).expect("saved");
    // Drop the fields that older generators lack.
    let path = dir.path().join("config.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    let fields = json.as_object_mut().expect("an object");
    fields.remove("quantum_mev");
    fields.remove("quantum_shape");
    std::fs::write(&path, serde_json::to_vec(&json).expect("json")).expect("written");
    let (loaded, _) = load_generator(dir.path(), &device).expect("loads");
    assert_eq!(
        (
            loaded.threshold_mev,
            loaded.quantum_mev,
            loaded.quantum_shape
        ),
        (0.01, 0.0, 1.0)
    );
    // Settings generation cannot use are refused with the file and the setting named.
    json["quantum_mev"] = serde_json::json!(0.3);
    json["quantum_shape"] = serde_json::json!(-1.0);
    std::fs::write(&path, serde_json::to_vec(&json).expect("json")).expect("written");
    let err = load_generator(dir.path(), &device).expect_err("a negative shape");
    assert!(
        err.to_string().contains("config.json") && err.to_string().contains("quantum_shape"),
        "{err}"
    );
    // A config that is not an object is refused with the file named.
    std::fs::write(&path, b"[1, 2]").expect("written");
    let err = load_generator(dir.path(), &device).expect_err("not a config");
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[test]
fn layer_factorised_output_splits_the_total_into_layer_shares_and_shapes() {
    let device = Device::flex();
    device.seed(4);
    let config = CaloGanConfig::new(12, vec![0, 6, 12])
        .with_latent(4)
        .with_generator_hidden(vec![16])
        .with_critic_hidden(vec![16])
        .with_layer_factorised(true);
    let gan = config.init(&device);
    assert_eq!(gan.generator.factorised_layers, 2);
    let c = Tensor::<2>::zeros([3, 1], &device);
    let z = Tensor::<2>::random([3, 4], Distribution::Normal(0.0, 1.0), &device);
    let out = gan
        .generator
        .mlp
        .forward(Tensor::cat(vec![z.clone(), c.clone()], 1));
    let logits: Vec<f32> = out
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32");
    let x: Vec<f32> = gan
        .generator
        .forward(z, c)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32");
    for (row, l) in x.chunks(12).zip(logits.chunks(15)) {
        assert!(row.iter().all(|&v| v > 0.0));
        let total: f32 = row.iter().sum();
        // The layer shares are the softmax of the last two outputs.
        let share0 = 1.0 / (1.0 + (l[14] - l[13]).exp());
        let layer0: f32 = row[..6].iter().sum();
        assert!(
            (layer0 / total - share0).abs() < 1e-5,
            "{layer0} / {total} vs {share0}"
        );
        // Inside layer 0 the shape is the softmax of the first six logits.
        let norm: f32 = l[..6].iter().map(|v| v.exp()).sum();
        assert!((row[2] / layer0 - l[2].exp() / norm).abs() < 1e-5);
    }
}

#[test]
fn layer_factorised_training_refuses_layers_of_unequal_size() {
    let showers = CaloShowers {
        incident_energies_mev: vec![1000.0; 4],
        showers_mev: vec![1.0; 4 * 12],
        voxels: 12,
    };
    let config = toy_config().with_layer_factorised(true);
    let dir = tempfile::tempdir().expect("temp dir");
    let train = TrainConfig::new(1, 2, 1e-3, 1);
    let err = train_gan(config, &showers, train, 0.5, dir.path(), false).expect_err("unequal");
    assert!(err.to_string().contains("equal size"), "{err}");
}

#[test]
fn training_against_quanta_shows_the_critic_sparse_showers_and_still_moves_the_generator() {
    let device = Device::flex();
    device.seed(6);
    let ad = device.autodiff();
    // 6 showers of 1 GeV, 12 voxels; q = 1 MeV against ~0.03·1000/12 = 2.5 MeV per voxel.
    let showers = CaloShowers {
        incident_energies_mev: vec![1000.0; 6],
        showers_mev: (0..72).map(|i| (i % 12) as f32 * 0.4).collect(),
        voxels: 12,
    };
    let config = toy_config().with_training_quantum_mev(1.0);
    let gan = config.init(&ad);
    let task = GanTask::new(config, &showers, 2, ad.clone())
        .expect("a valid task")
        .with_quanta_seed(3);
    let c = Tensor::<2>::zeros([4, 1], &ad);
    let smooth = gan.generator.sample(c);
    let seen = task.straight_through(smooth.clone(), &[0, 1, 2, 3]);
    let (a, b): (Vec<f32>, Vec<f32>) = (
        smooth
            .clone()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32"),
        seen.clone()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32"),
    );
    assert!(a.iter().all(|&v| v > 0.0));
    assert!(
        b.contains(&0.0),
        "quantised showers have empty voxels: {b:?}"
    );
    for (ra, rb) in a.chunks(12).zip(b.chunks(12)) {
        let (ta, tb): (f32, f32) = (ra.iter().sum(), rb.iter().sum());
        assert!((ta - tb).abs() < 1e-4 * ta, "totals {ta} {tb}");
    }
    // The loss reaches the generator through the quantisation.
    let loss = task.loss(&gan, &[0, 1, 2, 3]);
    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &gan);
    let g = grads
        .get::<2>(gan.generator.mlp.layers[0].weight.id)
        .expect("the generator gets a gradient");
    let norm: f32 = g.powf_scalar(2.0).sum().into_scalar();
    assert!(norm > 0.0 && norm.is_finite());
}

#[test]
fn the_critic_can_see_the_shower_depth_and_its_spread() {
    let device = Device::flex();
    let config = CaloGanConfig::new(12, vec![0, 6, 12])
        .with_latent(4)
        .with_generator_hidden(vec![16])
        .with_critic_hidden(vec![16])
        .with_critic_depth(true);
    let gan = config.init(&device);
    // Shower 0: all in layer 1 (depth 1, spread 0); shower 1: half in each (depth 0.5, spread 0.5).
    let mut x = vec![0f32; 24];
    x[6] = 0.03;
    x[12] = 0.015;
    x[18] = 0.015;
    let x = Tensor::<2>::from_data(TensorData::new(x, [2, 12]), &device);
    let features: Vec<f32> = gan
        .critic
        .features(x, Tensor::<2>::zeros([2, 1], &device))
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32");
    // voxels + layers + pull + c, then depth and spread: 12 + 2 + 2 + 2 = 18 per shower.
    assert_eq!(features.len(), 2 * 18);
    let (d0, s0) = (features[16] * 3.0 + 12.0, features[17] * 2.0 + 4.0);
    let (d1, s1) = (features[34] * 3.0 + 12.0, features[35] * 2.0 + 4.0);
    assert!((d0 - 1.0).abs() < 1e-4 && s0 < 0.01, "{d0} {s0}");
    assert!(
        (d1 - 0.5).abs() < 1e-4 && (s1 - 0.5).abs() < 1e-3,
        "{d1} {s1}"
    );
}
