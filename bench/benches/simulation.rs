//! Criterion benchmark of the tracker simulation (issue 3): one ⟨μ⟩ = 200 event — generation of
//! the particles, propagation through the built-in TrackML detector with multiple scattering,
//! digitisation, noise and truth — on one thread (the event itself is not parallel; events are).
//!
//! Also the NOvA-like neutrino detector simulation (issue 10: ≥ 1,000 events/s): 600 events per
//! iteration, so events/s = 600 / the reported time.
//!
//! Run: `cargo bench -p hepnn-bench --bench simulation`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hepnn_sim::tracker::generator::{GeneratorConfig, generate};
use hepnn_sim::tracker::geometry::Detector;
use hepnn_sim::tracker::simulation::{SimConfig, simulate_event};

fn simulation(c: &mut Criterion) {
    let detector = Detector::trackml_default();
    let config = SimConfig::default();
    let generator = GeneratorConfig::default();
    let mut group = c.benchmark_group("tracker");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    let mut event_id = 0u64;
    group.bench_function("simulate_event_mu200", |b| {
        b.iter(|| {
            event_id += 1;
            let particles = generate(&generator, event_id).expect("the default generator is valid");
            simulate_event(&detector, &config, event_id, &particles, 1)
                .hits
                .len()
        })
    });
    group.finish();
    let neutrino = hepnn_sim::neutrino::SimulationConfig::default();
    let mut group = c.benchmark_group("neutrino");
    group.sample_size(10);
    group.bench_function("simulate_600_events", |b| {
        b.iter(|| hepnn_sim::neutrino::simulate_events(&neutrino, 600, 1, 0).len())
    });
    group.finish();
}

criterion_group!(benches, simulation);
criterion_main!(benches);
