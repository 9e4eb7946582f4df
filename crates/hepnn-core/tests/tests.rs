//! Integration tests of `hepnn-core`: the real TrackML files in `shared/data/trackml` (skipped when
//! the folder is absent), exact write → read round trips, and errors on malformed input.

use std::path::{Path, PathBuf};

use hepnn_core::io::{self, Compression, trackml};
use hepnn_core::{Cell, CoreError, Event, Hit, HitId, Module, Particle, ParticleId, TruthLink};

/// The shared TrackML sample, `<workspace>/../shared/data/trackml`.
const TRACKML_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/trackml");

/// The TrackML folder, or `None` (with a message) when it is absent and the test should skip.
fn trackml_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(TRACKML_DIR);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping {test}: TrackML data folder {TRACKML_DIR} is absent");
        None
    }
}

/// A fresh temporary folder.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("the system temporary folder is writable")
}

/// A small deterministic generator (xorshift64*) for synthetic rows.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Any finite f64, from all bit patterns (subnormals, huge, negative zero …), or a "typical"
    /// value with many digits.
    fn float(&mut self) -> f64 {
        loop {
            let bits = self.next_u64();
            let value = if bits.is_multiple_of(3) {
                f64::from_bits(self.next_u64())
            } else {
                (self.next_u64() as f64 / u64::MAX as f64 - 0.5) * 3000.0
            };
            if value.is_finite() {
                return value;
            }
        }
    }

    fn small(&mut self, below: u64) -> u32 {
        (self.next_u64() % below) as u32
    }
}

fn synthetic_hits(rng: &mut Rng, n: usize) -> Vec<Hit> {
    (0..n)
        .map(|i| Hit {
            hit_id: HitId(i as u64 + 1),
            x: rng.float(),
            y: rng.float(),
            z: rng.float(),
            volume_id: rng.small(20),
            layer_id: rng.small(16),
            module_id: rng.small(4000),
        })
        .collect()
}

fn synthetic_cells(rng: &mut Rng, n: usize) -> Vec<Cell> {
    (0..n)
        .map(|i| Cell {
            hit_id: HitId(i as u64 / 3 + 1),
            ch0: rng.small(5000),
            ch1: rng.small(5000),
            value: rng.float(),
        })
        .collect()
}

fn synthetic_particles(rng: &mut Rng, n: usize, with_type: bool) -> Vec<Particle> {
    (0..n)
        .map(|_| Particle {
            // Real ids are up to ~10^18; exercise the whole u64 range.
            particle_id: ParticleId(rng.next_u64()),
            particle_type: with_type
                .then(|| [11, -11, 13, 211, -211, 2212, 22][rng.small(7) as usize]),
            vx: rng.float(),
            vy: rng.float(),
            vz: rng.float(),
            px: rng.float(),
            py: rng.float(),
            pz: rng.float(),
            q: rng.small(3) as i32 - 1,
            nhits: rng.small(30),
        })
        .collect()
}

fn synthetic_truth(rng: &mut Rng, n: usize) -> Vec<TruthLink> {
    (0..n)
        .map(|i| TruthLink {
            hit_id: HitId(i as u64 + 1),
            particle_id: ParticleId(if i % 5 == 0 { 0 } else { rng.next_u64() }),
            tx: rng.float(),
            ty: rng.float(),
            tz: rng.float(),
            tpx: rng.float(),
            tpy: rng.float(),
            tpz: rng.float(),
            weight: rng.float(),
        })
        .collect()
}

fn synthetic_modules(rng: &mut Rng, n: usize) -> Vec<Module> {
    (0..n)
        .map(|i| Module {
            volume_id: rng.small(20),
            layer_id: rng.small(16),
            module_id: i as u32 + 1,
            cx: rng.float(),
            cy: rng.float(),
            cz: rng.float(),
            rot_xu: rng.float(),
            rot_xv: rng.float(),
            rot_xw: rng.float(),
            rot_yu: rng.float(),
            rot_yv: rng.float(),
            rot_yw: rng.float(),
            rot_zu: rng.float(),
            rot_zv: rng.float(),
            rot_zw: rng.float(),
            module_t: rng.float(),
            module_minhu: rng.float(),
            module_maxhu: rng.float(),
            module_hv: rng.float(),
            pitch_u: rng.float(),
            pitch_v: rng.float(),
        })
        .collect()
}

/// Both file names a round trip is checked with.
const SUFFIXES: [&str; 2] = [".csv", ".csv.gz"];

/// Asserts that two float-bearing row lists are equal bit for bit (catches -0.0 vs 0.0 too).
fn assert_bitwise_eq<T: std::fmt::Debug>(written: &[T], read: &[T]) {
    assert_eq!(written.len(), read.len());
    assert_eq!(format!("{written:?}"), format!("{read:?}"));
}

mod real_data {
    use super::*;

    #[test]
    fn event000000001_gz_parses_with_truth() {
        let Some(dir) = trackml_dir("event000000001_gz_parses_with_truth") else {
            return;
        };
        let event = trackml::read_event(&dir, "event000000001").expect("the real event parses");
        assert_eq!(event.event_id, 1);
        assert_eq!(event.hits.len(), 5_527);
        assert_eq!(event.truth.len(), 5_527);
        assert_eq!(event.noise_hit_count(), 829);
        assert_eq!(event.particles.len(), 548);
        assert_eq!(event.cells.len(), 18_564);
        assert!(event.particles.iter().all(|p| p.particle_type.is_some()));
        // The first rows, exactly as in the files.
        assert_eq!(
            event.hits[0],
            Hit {
                hit_id: HitId(6),
                x: -76.566,
                y: -11.3673,
                z: -1502.5,
                volume_id: 7,
                layer_id: 2,
                module_id: 1
            }
        );
        assert_eq!(
            event.particles[0].particle_id,
            ParticleId(4_505_867_370_102_784)
        );
        assert_eq!(event.particles[0].particle_type, Some(-211));
        assert_eq!(
            event.truth[0].particle_id,
            ParticleId(27_028_813_309_280_256)
        );
        assert_eq!(event.truth[1].tpx, -536_408.0);
        assert_eq!(event.cells[0].ch1, 839);
        // TrackML weights sum to 1 per event; this sample is a subset, so at most 1.
        let weight: f64 = event.truth.iter().map(|link| link.weight).sum();
        assert!(weight > 0.0 && weight <= 1.0 + 1e-9, "weight sum {weight}");
        // Every truth particle id (but noise) is a listed particle.
        let known: std::collections::HashSet<_> =
            event.particles.iter().map(|p| p.particle_id).collect();
        assert!(event.hits_of_particle().keys().all(|id| known.contains(id)));
    }

    #[test]
    fn full_events_parse_completely() {
        let Some(dir) = trackml_dir("full_events_parse_completely") else {
            return;
        };
        for (prefix, hits, particles) in [
            ("event000001001", 93_680, 8_915),
            ("event000001003", 104_451, 10_261),
        ] {
            let start = std::time::Instant::now();
            let hit_rows = trackml::read_hits(dir.join(format!("{prefix}-hits.csv")))
                .expect("real hits parse");
            let elapsed = start.elapsed();
            eprintln!("{prefix}: {} hits read in {elapsed:?}", hit_rows.len());
            assert_eq!(hit_rows.len(), hits);
            // Loose guard: ~0.05 s in release on one core; generous for a busy machine.
            assert!(elapsed.as_secs_f64() < 5.0, "reading took {elapsed:?}");
            let particle_rows =
                trackml::read_particles(dir.join(format!("{prefix}-particles.csv")))
                    .expect("real particles parse");
            assert_eq!(particle_rows.len(), particles);
            assert!(particle_rows.iter().all(|p| p.particle_type.is_none()));

            let event = trackml::read_event(&dir, prefix).expect("hits + particles event");
            assert_eq!(event.hits, hit_rows);
            assert!(event.cells.is_empty() && event.truth.is_empty() && !event.has_truth());
        }
    }

    #[test]
    fn generator_particle_files_parse() {
        let Some(dir) = trackml_dir("generator_particle_files_parse") else {
            return;
        };
        for (id, count) in [(1000, 12_263), (1002, 12_763), (1004, 14_159)] {
            let path = dir.join(format!("{}-particles.csv", io::event_prefix(id)));
            let particles = trackml::read_particles(&path).expect("real particles parse");
            assert_eq!(particles.len(), count, "{}", path.display());
            assert!(particles.iter().all(|p| p.pt() >= 0.0 && p.q.abs() <= 1));
        }
    }

    #[test]
    fn detectors_give_18728_modules() {
        let Some(dir) = trackml_dir("detectors_give_18728_modules") else {
            return;
        };
        let modules = trackml::read_detectors(dir.join("detectors.csv")).expect("detectors parse");
        assert_eq!(modules.len(), 18_728);
        let first = &modules[0];
        assert_eq!(
            (first.volume_id, first.layer_id, first.module_id),
            (7, 2, 1)
        );
        assert_eq!(first.center(), [-65.7965, -5.1783, -1502.5]);
        assert_eq!((first.module_t, first.pitch_v), (0.15, 0.05625));
        // Every rotation is orthonormal to the precision the file keeps.
        for module in &modules {
            let r = module.rotation();
            for i in 0..3 {
                for j in 0..3 {
                    let dot: f64 = (0..3).map(|k| r[k][i] * r[k][j]).sum();
                    let expected = if i == j { 1.0 } else { 0.0 };
                    assert!((dot - expected).abs() < 1e-4, "{:?}", module.key());
                }
            }
        }
        // Module keys are unique.
        let keys: std::collections::HashSet<_> = modules.iter().map(Module::key).collect();
        assert_eq!(keys.len(), modules.len());
    }

    #[test]
    fn every_hit_lies_on_a_listed_module() {
        let Some(dir) = trackml_dir("every_hit_lies_on_a_listed_module") else {
            return;
        };
        let modules = trackml::read_detectors(dir.join("detectors.csv")).expect("detectors parse");
        let keys: std::collections::HashSet<_> = modules.iter().map(Module::key).collect();
        let event = trackml::read_event(&dir, "event000000001").expect("the real event parses");
        assert!(
            event
                .hits
                .iter()
                .all(|hit| keys.contains(&hit.module_key()))
        );
    }

    #[test]
    fn real_event_round_trips_plain_and_gz() {
        let Some(dir) = trackml_dir("real_event_round_trips_plain_and_gz") else {
            return;
        };
        let event = trackml::read_event(&dir, "event000000001").expect("the real event parses");
        for compression in [Compression::Plain, Compression::Gzip] {
            let out = scratch();
            trackml::write_event_with(out.path(), &event, compression).expect("write succeeds");
            let back = trackml::read_event(out.path(), "event000000001").expect("read back");
            assert_eq!(back, event, "{compression:?}");
        }
    }

    #[test]
    fn real_files_round_trip_exactly() {
        let Some(dir) = trackml_dir("real_files_round_trip_exactly") else {
            return;
        };
        let hits = trackml::read_hits(dir.join("event000001001-hits.csv")).expect("hits parse");
        let particles = trackml::read_particles(dir.join("event000001001-particles.csv"))
            .expect("particles parse");
        let modules = trackml::read_detectors(dir.join("detectors.csv")).expect("detectors");
        let out = scratch();
        for suffix in SUFFIXES {
            let path = out.path().join(format!("hits{suffix}"));
            trackml::write_hits(&path, &hits).expect("write hits");
            assert_eq!(trackml::read_hits(&path).expect("read hits"), hits);

            let path = out.path().join(format!("particles{suffix}"));
            trackml::write_particles(&path, &particles).expect("write particles");
            assert_eq!(trackml::read_particles(&path).expect("read"), particles);

            let path = out.path().join(format!("detectors{suffix}"));
            trackml::write_detectors(&path, &modules).expect("write detectors");
            assert_eq!(trackml::read_detectors(&path).expect("read"), modules);
        }
        // Particles without a type are written without the column, as in the original.
        let text = std::fs::read_to_string(out.path().join("particles.csv")).expect("written");
        assert!(text.starts_with("particle_id,vx,vy,vz,px,py,pz,q,nhits\n"));
    }
}

mod round_trip {
    use super::*;

    fn check<T: Clone + PartialEq + std::fmt::Debug>(
        name: &str,
        rows: &[T],
        write: impl Fn(&Path, &[T]) -> hepnn_core::Result<()>,
        read: impl Fn(&Path) -> hepnn_core::Result<Vec<T>>,
    ) {
        let dir = scratch();
        for suffix in SUFFIXES {
            let path = dir.path().join(format!("{name}{suffix}"));
            write(&path, rows).expect("write succeeds");
            let back = read(&path).expect("read back succeeds");
            assert_eq!(back, rows, "{}", path.display());
            assert_bitwise_eq(rows, &back);
            // Rewriting an existing file replaces it.
            write(&path, &rows[..rows.len() / 2]).expect("overwrite succeeds");
            assert_eq!(read(&path).expect("read back"), &rows[..rows.len() / 2]);
        }
    }

    #[test]
    fn hits() {
        let rows = synthetic_hits(&mut Rng(1), 500);
        check(
            "hits",
            &rows,
            |p, r| trackml::write_hits(p, r),
            |p| trackml::read_hits(p),
        );
    }

    #[test]
    fn cells() {
        let rows = synthetic_cells(&mut Rng(2), 500);
        check(
            "cells",
            &rows,
            |p, r| trackml::write_cells(p, r),
            |p| trackml::read_cells(p),
        );
    }

    #[test]
    fn particles_with_and_without_type() {
        for with_type in [true, false] {
            let rows = synthetic_particles(&mut Rng(3), 500, with_type);
            check(
                "particles",
                &rows,
                |p, r| trackml::write_particles(p, r),
                |p| trackml::read_particles(p),
            );
        }
        // Some with a type, some without: empty fields for the unknown ones.
        let mut mixed = synthetic_particles(&mut Rng(4), 50, true);
        mixed[7].particle_type = None;
        check(
            "mixed",
            &mixed,
            |p, r| trackml::write_particles(p, r),
            |p| trackml::read_particles(p),
        );
    }

    #[test]
    fn particle_type_column_follows_the_data() {
        let dir = scratch();
        let with = dir.path().join("with.csv");
        let without = dir.path().join("without.csv");
        trackml::write_particles(&with, &synthetic_particles(&mut Rng(5), 3, true)).expect("write");
        trackml::write_particles(&without, &synthetic_particles(&mut Rng(5), 3, false))
            .expect("write");
        let header = |path: &Path| {
            let text = std::fs::read_to_string(path).expect("written");
            text.lines().next().map(str::to_string).unwrap_or_default()
        };
        assert_eq!(
            header(&with),
            "particle_id,particle_type,vx,vy,vz,px,py,pz,q,nhits"
        );
        assert_eq!(header(&without), "particle_id,vx,vy,vz,px,py,pz,q,nhits");
    }

    #[test]
    fn truth() {
        let rows = synthetic_truth(&mut Rng(6), 500);
        check(
            "truth",
            &rows,
            |p, r| trackml::write_truth(p, r),
            |p| trackml::read_truth(p),
        );
    }

    #[test]
    fn detectors() {
        let rows = synthetic_modules(&mut Rng(7), 300);
        check(
            "detectors",
            &rows,
            |p, r| trackml::write_detectors(p, r),
            |p| trackml::read_detectors(p),
        );
    }

    #[test]
    fn extreme_floats() {
        let values = [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            f64::MIN_POSITIVE / 3.0, // subnormal
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            0.1 + 0.2,
            -1502.5,
            f64::from(-76.566_f32), // a float32 value, as TrackML stores them
            1.0 / 3.0,
        ];
        let rows: Vec<Cell> = values
            .iter()
            .enumerate()
            .map(|(i, &value)| Cell {
                hit_id: HitId(u64::MAX - i as u64),
                ch0: u32::MAX,
                ch1: 0,
                value,
            })
            .collect();
        check(
            "cells",
            &rows,
            |p, r| trackml::write_cells(p, r),
            |p| trackml::read_cells(p),
        );
    }

    #[test]
    fn empty_files() {
        let dir = scratch();
        for suffix in SUFFIXES {
            let path = dir.path().join(format!("hits{suffix}"));
            trackml::write_hits(&path, &[]).expect("write succeeds");
            assert_eq!(trackml::read_hits(&path).expect("header only"), []);
        }
    }

    #[test]
    fn events_round_trip_and_list() {
        let mut rng = Rng(8);
        let event = Event {
            event_id: 1001,
            hits: synthetic_hits(&mut rng, 100),
            cells: synthetic_cells(&mut rng, 300),
            particles: synthetic_particles(&mut rng, 20, false),
            truth: synthetic_truth(&mut rng, 100),
        };
        let dir = scratch();
        trackml::write_event(dir.path(), &event).expect("write succeeds");
        assert_eq!(
            trackml::read_event(dir.path(), "event000001001").expect("read"),
            event
        );

        // A hits-only event replaces every file of the earlier one.
        let hits_only = Event {
            event_id: 1001,
            hits: event.hits[..10].to_vec(),
            ..Event::default()
        };
        trackml::write_event(dir.path(), &hits_only).expect("overwrite succeeds");
        assert_eq!(
            trackml::read_event(dir.path(), "event000001001").expect("read"),
            hits_only
        );

        let other = Event {
            event_id: 7,
            ..hits_only.clone()
        };
        trackml::write_event_with(dir.path(), &other, Compression::Gzip).expect("write");
        assert_eq!(
            io::list_events(dir.path()).expect("listable"),
            ["event000000007", "event000001001"]
        );
    }
}

mod malformed {
    use super::*;

    const HITS_HEADER: &str = "hit_id,x,y,z,volume_id,layer_id,module_id\n";

    /// Writes `text` to `name` in a fresh folder (gzipped when `name` ends in `.gz`).
    fn file_with(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        use std::io::Write;
        let dir = scratch();
        let path = dir.path().join(name);
        if name.ends_with(".gz") {
            let file = std::fs::File::create(&path).expect("writable");
            let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            encoder.write_all(text.as_bytes()).expect("writable");
            encoder.finish().expect("writable");
        } else {
            std::fs::write(&path, text).expect("writable");
        }
        (dir, path)
    }

    /// Asserts that `error`'s message names `file`, `line ` + `line` and the column.
    fn assert_names(error: &CoreError, file: &str, line: u64, column: &str) {
        let message = error.to_string();
        assert!(message.contains(file), "no file name in: {message}");
        assert!(
            message.contains(&format!("line {line}")),
            "no line in: {message}"
        );
        assert!(
            message.contains(&format!("`{column}`")),
            "no column in: {message}"
        );
    }

    #[test]
    fn non_number_in_a_float_column() {
        for name in ["event000000001-hits.csv", "event000000001-hits.csv.gz"] {
            let text =
                format!("{HITS_HEADER}1,1.5,2,3,7,2,1\n2,1.5,2,3,7,2,1\n3,1.5,abc,3,7,2,1\n");
            let (_dir, path) = file_with(name, &text);
            let error = trackml::read_hits(&path).expect_err("abc is not a number");
            assert_names(&error, name, 4, "y");
            assert!(error.to_string().contains("`abc`"), "{error}");
            assert!(matches!(error, CoreError::Csv { line: 4, .. }));
        }
    }

    #[test]
    fn missing_field() {
        let (_dir, path) = file_with(
            "truth.csv",
            "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n1,0,1,2,3,4,5,6,0.5\n2,0,1,2,3,4,5,6\n",
        );
        let error = trackml::read_truth(&path).expect_err("weight is missing");
        assert_names(&error, "truth.csv", 3, "weight");
    }

    #[test]
    fn too_many_fields() {
        let (_dir, path) = file_with("cells.csv", "hit_id,ch0,ch1,value\n1,2,3,4,5\n");
        let error = trackml::read_cells(&path).expect_err("one field too many");
        let message = error.to_string();
        assert!(
            message.contains("cells.csv") && message.contains("line 2"),
            "{message}"
        );
        assert!(message.contains("expected 4 fields"), "{message}");
    }

    #[test]
    fn nan_and_infinity() {
        for (value, shown) in [
            ("NaN", "NaN"),
            ("nan", "NaN"),
            ("inf", "inf"),
            ("-infinity", "-inf"),
        ] {
            let text = format!(
                "particle_id,vx,vy,vz,px,py,pz,q,nhits\n1,0,0,0,1,1,1,1,3\n2,0,0,0,1,{value},1,1,3\n"
            );
            let (_dir, path) = file_with("particles.csv.gz", &text);
            let error = trackml::read_particles(&path).expect_err("not finite");
            assert_names(&error, "particles.csv.gz", 3, "py");
            assert!(error.to_string().contains(shown), "{error}");
            assert!(matches!(error, CoreError::NonFinite { line: 3, .. }));
        }
    }

    #[test]
    fn integer_columns_reject_fractions_and_overflow() {
        for (row, column) in [
            ("1,1,2,3,7.5,2,1", "volume_id"),
            ("99999999999999999999,1,2,3,7,2,1", "hit_id"),
            ("1,1,2,3,7,2,", "module_id"),
        ] {
            let (_dir, path) = file_with("hits.csv", &format!("{HITS_HEADER}{row}\n"));
            let error = trackml::read_hits(&path).expect_err("not a valid integer");
            assert_names(&error, "hits.csv", 2, column);
        }
    }

    #[test]
    fn missing_column() {
        let (_dir, path) = file_with(
            "hits.csv",
            "hit_id,x,y,volume_id,layer_id,module_id\n1,1,2,7,2,1\n",
        );
        let error = trackml::read_hits(&path).expect_err("no z column");
        assert!(matches!(error, CoreError::MissingColumn { ref column, .. } if column == "z"));
        let message = error.to_string();
        assert!(
            message.contains("hits.csv") && message.contains("`z`"),
            "{message}"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = scratch();
        let path = dir.path().join("nowhere-hits.csv");
        let error = trackml::read_hits(&path).expect_err("no such file");
        assert!(matches!(error, CoreError::Io { .. }));
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );

        let error = trackml::read_event(dir.path(), "event000000042").expect_err("no event");
        assert!(matches!(error, CoreError::MissingEventFile { .. }));
        assert!(
            error.to_string().contains("event000000042-hits.csv"),
            "{error}"
        );

        let error = trackml::read_event(dir.path(), "hits").expect_err("not an event prefix");
        assert!(matches!(error, CoreError::EventPrefix { .. }));
    }

    #[test]
    fn corrupt_gzip() {
        let dir = scratch();
        let path = dir.path().join("hits.csv.gz");
        std::fs::write(&path, format!("{HITS_HEADER}1,1,2,3,7,2,1\n")).expect("writable");
        let error = trackml::read_hits(&path).expect_err("plain text is not gzip");
        assert!(matches!(error, CoreError::Gzip { .. }), "{error:?}");
        assert!(error.to_string().contains("hits.csv.gz"), "{error}");

        // A truncated stream.
        let (_dir, good) = file_with(
            "cells.csv.gz",
            &"hit_id,ch0,ch1,value\n1,2,3,0.5\n".repeat(200),
        );
        let bytes = std::fs::read(&good).expect("readable");
        let truncated = dir.path().join("cells.csv.gz");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("writable");
        let error = trackml::read_cells(&truncated).expect_err("truncated");
        assert!(error.to_string().contains("cells.csv.gz"), "{error}");
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let dir = scratch();
        let path = dir.path().join("cells.csv");
        let mut bytes = b"hit_id,ch0,ch1,value\n1,2,3,".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        std::fs::write(&path, bytes).expect("writable");
        let error = trackml::read_cells(&path).expect_err("not UTF-8");
        assert_names(&error, "cells.csv", 2, "value");
    }

    #[test]
    fn ambiguous_event_files() {
        let dir = scratch();
        let event = Event {
            event_id: 3,
            hits: synthetic_hits(&mut Rng(9), 5),
            ..Event::default()
        };
        trackml::write_event_with(dir.path(), &event, Compression::Plain).expect("write");
        trackml::write_event_with(dir.path(), &event, Compression::Gzip).expect("write");
        let error = trackml::read_event(dir.path(), "event000000003").expect_err("two hits files");
        assert!(
            matches!(error, CoreError::AmbiguousEventFile { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn failed_write_leaves_the_existing_file() {
        let dir = scratch();
        let path = dir.path().join("hits.csv.gz");
        let hits = synthetic_hits(&mut Rng(10), 20);
        trackml::write_hits(&path, &hits).expect("write");
        let before = std::fs::read(&path).expect("readable");

        let mut bad = hits.clone();
        bad[12].z = f64::NAN;
        let error = trackml::write_hits(&path, &bad).expect_err("NaN cannot be written");
        assert!(
            matches!(error, CoreError::NonFinite { line: 14, .. }),
            "{error:?}"
        );
        assert_eq!(std::fs::read(&path).expect("readable"), before);

        // A target that is a folder cannot be replaced: the folder stays, no temporary is left.
        let folder_target = dir.path().join("taken.csv");
        std::fs::create_dir(&folder_target).expect("writable");
        std::fs::write(folder_target.join("inside"), "x").expect("writable");
        assert!(trackml::write_hits(&folder_target, &hits).is_err());
        assert!(folder_target.join("inside").is_file());

        // A folder that does not exist: an error naming it.
        let missing = dir.path().join("no/such/folder/hits.csv");
        let error = trackml::write_hits(&missing, &hits).expect_err("no folder");
        assert!(error.to_string().contains("no/such/folder"), "{error}");

        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("listable")
            .map(|entry| entry.expect("listable").file_name())
            .collect();
        assert_eq!(names.len(), 2, "temporary files left behind: {names:?}");
    }
}

mod hitgraphs {
    use hepnn_core::io::hitgraph::read_hitgraph;
    use std::path::PathBuf;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/hitgraphs/heptrkx_plus_2GeV"
    );

    #[test]
    fn real_hit_graph_1000_reads_with_the_numpy_values() {
        let path = PathBuf::from(DIR).join("event000001000_g000.npz");
        if !path.exists() {
            eprintln!("skipping: {} is absent", path.display());
            return;
        }
        let g = read_hitgraph(&path).unwrap();
        assert_eq!((g.x.len(), g.y.len()), (1284, 2451));
        assert_eq!(g.y.iter().filter(|&&y| y == 1.0).count(), 976);
        // Fortran-ordered X is read row by row.
        let expected_x5 = [0.171_410_59_f32, 0.410_370_14, -0.322_260_02];
        assert_eq!(g.x[5], expected_x5);
        // Edges go from the inner (Ro) to the outer (Ri) hit: numpy counts 2015 of the 2451 with
        // the target at the larger radius (the rest cross endcap disks outwards in |z|).
        let outward = (0..g.y.len())
            .filter(|&k| g.x[g.targets[k]][0] > g.x[g.sources[k]][0])
            .count();
        assert_eq!(outward, 2015);
    }

    #[test]
    fn all_80_graphs_read_and_a_bad_file_is_a_clear_error() {
        let dir = PathBuf::from(DIR);
        if !dir.is_dir() {
            eprintln!("skipping: {} is absent", dir.display());
            return;
        }
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let g = read_hitgraph(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(g.sources.len(), g.y.len());
            n += 1;
        }
        assert_eq!(n, 80);
        let tmp = tempfile::tempdir().unwrap();
        let bad = tmp.path().join("bad.npz");
        std::fs::write(&bad, b"not a zip").unwrap();
        let err = read_hitgraph(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.npz"), "{err}");
    }
}
