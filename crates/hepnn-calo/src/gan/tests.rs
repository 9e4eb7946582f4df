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
    let config = toy_config().with_threshold_fraction(1e-4);
    let gan = config.init(&device);
    save_generator(dir.path(), &config, &gan.generator).expect("saved");
    let (loaded_config, loaded) = load_generator(dir.path(), &device).expect("loaded");
    assert_eq!(loaded_config.threshold_fraction, 1e-4);
    let energies = [1000.0f32, 50_000.0];
    device.seed(1);
    let a = generate(&gan.generator, &config, &energies, 10, &device);
    device.seed(1);
    let b = generate(&loaded, &loaded_config, &energies, 10, &device);
    assert_eq!(a.showers_mev, b.showers_mev);
}
