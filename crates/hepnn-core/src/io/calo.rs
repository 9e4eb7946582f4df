//! The Fast Calorimeter Simulation Challenge 2022 ("CaloChallenge") layout: the voxel binning XML
//! and the shower files.
//!
//! A shower file holds two arrays, as HDF5 datasets (the challenge's own files, read and
//! written in pure Rust by `hdf5-pure`, no HDF5 C library) or in a numpy `.npz` archive
//! readable with `numpy.load`; [`read_showers`] and [`write_showers`] choose by extension
//! (`.h5`/`.hdf5`/`.hdf` or `.npz`):
//!
//! | array | shape | dtype | meaning |
//! |---|---|---|---|
//! | `incident_energies` | N × 1 | float32 | energy of the incident particle, MeV |
//! | `showers` | N × voxels | float32 | energy deposited per voxel, MeV |
//!
//! Voxels are flattened radial-fastest, then angular, then layer: voxel
//! `(layer, α, r)` sits at `offset(layer) + α · n_r(layer) + r`
//! ([`CaloBinning::voxel_index`]). Dataset 2 has 45 layers × 16 angular × 9 radial = 6,480
//! voxels.
//!
//! The binning XML (`binning_dataset_2.xml`) is a flat list of
//! `<Layer id="0" r_edges="0,4.65,…" n_bin_alpha="16" />` elements inside `<Bin …>`; it is read
//! by a small hand parser of exactly that structure.

use std::path::Path;

use npyz::npz::NpzArchive;

use super::npz::NpzArray;
use crate::error::{CoreError, Result};

/// One readout layer of the binning: radial bin edges and the number of angular bins.
#[derive(Debug, Clone, PartialEq)]
pub struct BinningLayer {
    /// Layer id (0 = front).
    pub id: usize,
    /// Radial bin edges, mm, increasing from 0; `r_edges_mm.len() − 1` radial bins.
    pub r_edges_mm: Vec<f64>,
    /// Number of angular (α) bins, equally spaced over (−π, π]; 1 means no angular binning.
    pub n_alpha: usize,
}

impl BinningLayer {
    /// Number of radial bins.
    pub fn n_radial(&self) -> usize {
        self.r_edges_mm.len().saturating_sub(1)
    }

    /// Number of voxels of this layer (`n_alpha × n_radial`).
    pub fn n_voxels(&self) -> usize {
        self.n_alpha * self.n_radial()
    }

    /// Radial bin of a radius (mm), `None` beyond the last edge.
    pub fn radial_bin(&self, r_mm: f64) -> Option<usize> {
        let last = *self.r_edges_mm.last()?;
        if !(r_mm >= self.r_edges_mm[0] && r_mm < last) {
            return None;
        }
        // The first edge greater than r, minus one.
        let upper = self.r_edges_mm.partition_point(|&edge| edge <= r_mm);
        Some(upper - 1)
    }

    /// Angular bin of an azimuth α = atan2(y, x) ∈ [−π, π].
    pub fn alpha_bin(&self, alpha: f64) -> usize {
        let u = (alpha + std::f64::consts::PI) / std::f64::consts::TAU;
        ((u * self.n_alpha as f64) as usize).min(self.n_alpha - 1)
    }
}

/// The voxel geometry of a CaloChallenge dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct CaloBinning {
    /// Particle name of the `<Bin>` element (e.g. "electron").
    pub particle: String,
    /// The layers, front to back.
    pub layers: Vec<BinningLayer>,
}

fn binning_error(path: &Path, message: impl Into<String>) -> CoreError {
    CoreError::Binning {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The value of `name="…"` inside one XML start tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before_ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        if before_ok && let Some(after_eq) = after.strip_prefix('=') {
            let value = after_eq.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let end = value[1..].find(quote)?;
                return Some(&value[1..1 + end]);
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

impl CaloBinning {
    /// Reads a binning XML file (e.g. `binning_dataset_2.xml`).
    pub fn read_xml(path: impl AsRef<Path>) -> Result<CaloBinning> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CoreError::Io {
            path: path.to_path_buf(),
            action: "read",
            source,
        })?;
        Self::parse_xml(&text, path)
    }

    /// Parses the text of a binning XML file; `path` only names the source in errors.
    ///
    /// ```
    /// use hepnn_core::io::calo::CaloBinning;
    /// let xml = r#"<Bins><Bin pid="11" name="electron">
    ///   <Layer id="0" r_edges="0,4.65,9.3" n_bin_alpha="16" />
    ///   <Layer id="1" r_edges="0,5" n_bin_alpha="1" />
    /// </Bin></Bins>"#;
    /// let binning = CaloBinning::parse_xml(xml, "inline.xml".as_ref())?;
    /// assert_eq!(binning.num_voxels(), 16 * 2 + 1);
    /// assert_eq!(binning.voxel_index(1, 0, 0), 32);
    /// # Ok::<(), hepnn_core::CoreError>(())
    /// ```
    pub fn parse_xml(text: &str, path: &Path) -> Result<CaloBinning> {
        let mut particle = String::new();
        let mut layers = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let close = after
                .find('>')
                .ok_or_else(|| binning_error(path, "unterminated tag"))?;
            let tag = &after[..close];
            rest = &after[close + 1..];
            let name = tag
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("");
            match name {
                "Bin" => {
                    if !particle.is_empty() || !layers.is_empty() {
                        return Err(binning_error(
                            path,
                            "more than one <Bin> element (one particle per file expected)",
                        ));
                    }
                    particle = attribute(tag, "name").unwrap_or("").to_string();
                }
                "Layer" => {
                    let id_text = attribute(tag, "id")
                        .ok_or_else(|| binning_error(path, format!("<{tag}>: no `id`")))?;
                    let id: usize = id_text.trim().parse().map_err(|_| {
                        binning_error(path, format!("layer id `{id_text}` is not an integer"))
                    })?;
                    let edges_text = attribute(tag, "r_edges")
                        .ok_or_else(|| binning_error(path, format!("layer {id}: no `r_edges`")))?;
                    let r_edges_mm = edges_text
                        .split(',')
                        .map(|e| e.trim().parse::<f64>())
                        .collect::<std::result::Result<Vec<f64>, _>>()
                        .map_err(|_| {
                            binning_error(
                                path,
                                format!("layer {id}: r_edges `{edges_text}` are not numbers"),
                            )
                        })?;
                    if r_edges_mm.len() < 2
                        || r_edges_mm.iter().any(|e| !e.is_finite())
                        || r_edges_mm.windows(2).any(|w| w[1] <= w[0])
                    {
                        return Err(binning_error(
                            path,
                            format!(
                                "layer {id}: r_edges `{edges_text}` must be ≥ 2 finite, strictly increasing edges"
                            ),
                        ));
                    }
                    let alpha_text = attribute(tag, "n_bin_alpha").unwrap_or("1");
                    let n_alpha: usize = alpha_text.trim().parse().map_err(|_| {
                        binning_error(
                            path,
                            format!("layer {id}: n_bin_alpha `{alpha_text}` is not an integer"),
                        )
                    })?;
                    if n_alpha == 0 {
                        return Err(binning_error(path, format!("layer {id}: n_bin_alpha = 0")));
                    }
                    if id != layers.len() {
                        return Err(binning_error(
                            path,
                            format!("layer id {id} found where {} was expected", layers.len()),
                        ));
                    }
                    layers.push(BinningLayer {
                        id,
                        r_edges_mm,
                        n_alpha,
                    });
                }
                _ => {}
            }
        }
        if layers.is_empty() {
            return Err(binning_error(path, "no <Layer> elements"));
        }
        Ok(CaloBinning { particle, layers })
    }

    /// Total number of voxels.
    pub fn num_voxels(&self) -> usize {
        self.layers.iter().map(BinningLayer::n_voxels).sum()
    }

    /// Index of the first voxel of each layer, and the total at the end (`layers + 1` values).
    pub fn layer_offsets(&self) -> Vec<usize> {
        let mut offsets = Vec::with_capacity(self.layers.len() + 1);
        let mut total = 0;
        offsets.push(0);
        for layer in &self.layers {
            total += layer.n_voxels();
            offsets.push(total);
        }
        offsets
    }

    /// Flat index of voxel (layer, angular bin, radial bin): radial fastest, then angular, then
    /// layer.
    ///
    /// # Panics
    /// When a bin is out of range.
    pub fn voxel_index(&self, layer: usize, alpha_bin: usize, r_bin: usize) -> usize {
        let l = &self.layers[layer];
        assert!(
            alpha_bin < l.n_alpha && r_bin < l.n_radial(),
            "bin out of range"
        );
        let offset: usize = self.layers[..layer]
            .iter()
            .map(BinningLayer::n_voxels)
            .sum();
        offset + alpha_bin * l.n_radial() + r_bin
    }
}

/// Showers in the challenge layout.
#[derive(Debug, Clone, PartialEq)]
pub struct CaloShowers {
    /// Energy of each incident particle, MeV (`incident_energies`, N × 1).
    pub incident_energies_mev: Vec<f32>,
    /// Deposited energy per voxel, MeV, shower after shower (`showers`, N × voxels).
    pub showers_mev: Vec<f32>,
    /// Voxels per shower.
    pub voxels: usize,
}

impl CaloShowers {
    /// Number of showers.
    pub fn len(&self) -> usize {
        self.incident_energies_mev.len()
    }

    /// Whether there are no showers.
    pub fn is_empty(&self) -> bool {
        self.incident_energies_mev.is_empty()
    }

    /// The voxels of shower `i`.
    pub fn shower(&self, i: usize) -> &[f32] {
        &self.showers_mev[i * self.voxels..(i + 1) * self.voxels]
    }

    /// Checks shapes and values: `showers` is N × voxels, every value finite, incident energies
    /// positive and deposits non-negative. `path` and the array names go into the error.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let n = self.incident_energies_mev.len();
        if self.voxels == 0 {
            return Err(npz_error(path, "showers", "0 voxels per shower".into()));
        }
        if self.showers_mev.len() != n * self.voxels {
            return Err(npz_error(
                path,
                "showers",
                format!(
                    "{} values, expected {n} showers × {} voxels",
                    self.showers_mev.len(),
                    self.voxels
                ),
            ));
        }
        if let Some((i, e)) = self
            .incident_energies_mev
            .iter()
            .enumerate()
            .find(|(_, e)| !(e.is_finite() && **e > 0.0))
        {
            return Err(npz_error(
                path,
                "incident_energies",
                format!("shower {i}: incident energy {e} MeV, expected a finite positive value"),
            ));
        }
        if let Some((i, e)) = self
            .showers_mev
            .iter()
            .enumerate()
            .find(|(_, e)| !(e.is_finite() && **e >= 0.0))
        {
            return Err(npz_error(
                path,
                "showers",
                format!(
                    "shower {}, voxel {}: {e} MeV, expected a finite non-negative value",
                    i / self.voxels,
                    i % self.voxels
                ),
            ));
        }
        Ok(())
    }
}

fn npz_error(path: &Path, array: &str, message: String) -> CoreError {
    CoreError::Npz {
        path: path.to_path_buf(),
        array: array.to_string(),
        message,
    }
}

/// Writes showers to a `.npz` archive in the challenge layout, atomically (a failed write leaves
/// an existing file as it was). The showers are checked first ([`CaloShowers::validate`]).
pub fn write_showers_npz(path: impl AsRef<Path>, showers: &CaloShowers) -> Result<()> {
    let path = path.as_ref();
    showers.validate(path)?;
    let n = showers.len() as u64;
    super::npz::write_npz(
        path,
        &[
            NpzArray {
                name: "incident_energies",
                shape: &[n, 1],
                values: &showers.incident_energies_mev,
            },
            NpzArray {
                name: "showers",
                shape: &[n, showers.voxels as u64],
                values: &showers.showers_mev,
            },
        ],
    )
}

/// Reads one array as f32 (float32 or float64 on disk), with its shape.
fn read_array(
    npz: &mut NpzArchive<std::io::BufReader<std::fs::File>>,
    path: &Path,
    name: &str,
) -> Result<(Vec<u64>, Vec<f32>)> {
    let file = npz
        .by_name(name)
        .map_err(|source| CoreError::Io {
            path: path.to_path_buf(),
            action: "read",
            source,
        })?
        .ok_or_else(|| npz_error(path, name, "missing from the archive".into()))?;
    let shape = file.shape().to_vec();
    if file.order() != npyz::Order::C && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(npz_error(
            path,
            name,
            "Fortran order is not supported".into(),
        ));
    }
    let dtype = file.dtype().descr();
    let values = match dtype.trim_matches('\'') {
        "<f4" => file.into_vec::<f32>(),
        "<f8" => file
            .into_vec::<f64>()
            .map(|v| v.into_iter().map(|x| x as f32).collect()),
        other => {
            return Err(npz_error(
                path,
                name,
                format!("dtype {other}, expected float32 or float64"),
            ));
        }
    }
    .map_err(|e| npz_error(path, name, e.to_string()))?;
    Ok((shape, values))
}

/// Reads showers in the challenge layout from a `.npz` archive, checking that both arrays are
/// present, `incident_energies` is N × 1 (or N), `showers` is N × voxels, and every value is
/// finite (energies positive, deposits non-negative).
pub fn read_showers_npz(path: impl AsRef<Path>) -> Result<CaloShowers> {
    let path = path.as_ref();
    let mut npz = NpzArchive::open(path).map_err(|source| CoreError::Io {
        path: path.to_path_buf(),
        action: "open npz archive",
        source,
    })?;
    let energies = read_array(&mut npz, path, "incident_energies")?;
    let showers = read_array(&mut npz, path, "showers")?;
    showers_from_arrays(path, energies, showers, npz_error)
}

/// Checks the shapes of the two arrays read from `path` (`incident_energies` N × 1 or N,
/// `showers` N × voxels) and the values ([`CaloShowers::validate`]); `error` makes the
/// format's error for (file, array, message).
fn showers_from_arrays(
    path: &Path,
    (e_shape, incident_energies_mev): (Vec<u64>, Vec<f32>),
    (s_shape, showers_mev): (Vec<u64>, Vec<f32>),
    error: fn(&Path, &str, String) -> CoreError,
) -> Result<CaloShowers> {
    let n = match e_shape[..] {
        [n] | [n, 1] => n as usize,
        _ => {
            return Err(error(
                path,
                "incident_energies",
                format!("shape {e_shape:?}, expected [N, 1]"),
            ));
        }
    };
    let voxels = match s_shape[..] {
        [m, v] if m as usize == n => v as usize,
        _ => {
            return Err(error(
                path,
                "showers",
                format!("shape {s_shape:?}, expected [{n}, voxels] (N from incident_energies)"),
            ));
        }
    };
    let showers = CaloShowers {
        incident_energies_mev,
        showers_mev,
        voxels,
    };
    showers.validate(path)?;
    Ok(showers)
}

/// Shower file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowerFormat {
    /// HDF5 (`.h5`, `.hdf5`, `.hdf`), the challenge's own format.
    Hdf5,
    /// A numpy `.npz` archive.
    Npz,
}

impl ShowerFormat {
    /// The format a file name's extension names.
    pub fn from_path(path: &Path) -> Result<ShowerFormat> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("h5" | "hdf5" | "hdf") => Ok(ShowerFormat::Hdf5),
            Some("npz") => Ok(ShowerFormat::Npz),
            _ => Err(CoreError::Hdf5 {
                path: path.to_path_buf(),
                dataset: String::new(),
                message: "unknown shower file extension: expected .h5, .hdf5, .hdf or .npz".into(),
            }),
        }
    }
}

/// Reads showers from an HDF5 or `.npz` file, chosen by extension ([`ShowerFormat`]).
pub fn read_showers(path: impl AsRef<Path>) -> Result<CaloShowers> {
    let path = path.as_ref();
    match ShowerFormat::from_path(path)? {
        ShowerFormat::Hdf5 => read_showers_hdf5(path),
        ShowerFormat::Npz => read_showers_npz(path),
    }
}

/// Writes showers to an HDF5 or `.npz` file, chosen by extension ([`ShowerFormat`]),
/// atomically.
pub fn write_showers(path: impl AsRef<Path>, showers: &CaloShowers) -> Result<()> {
    let path = path.as_ref();
    match ShowerFormat::from_path(path)? {
        ShowerFormat::Hdf5 => write_showers_hdf5(path, showers),
        ShowerFormat::Npz => write_showers_npz(path, showers),
    }
}

fn hdf5_error(path: &Path, dataset: &str, message: impl std::fmt::Display) -> CoreError {
    CoreError::Hdf5 {
        path: path.to_path_buf(),
        dataset: dataset.to_string(),
        message: message.to_string(),
    }
}

/// Writes showers to an HDF5 file in the challenge layout (datasets `incident_energies` N × 1
/// and `showers` N × voxels, float32, the showers chunked by 100 rows and deflate-compressed as
/// the challenge's files), atomically. h5py and the HDF5 C library read it.
pub fn write_showers_hdf5(path: impl AsRef<Path>, showers: &CaloShowers) -> Result<()> {
    let path = path.as_ref();
    showers.validate(path)?;
    let n = showers.len() as u64;
    let mut builder = hdf5_pure::FileBuilder::new();
    builder
        .create_dataset("incident_energies")
        .with_f32_data(&showers.incident_energies_mev)
        .with_shape(&[n, 1]);
    let showers_dataset = builder
        .create_dataset("showers")
        .with_f32_data(&showers.showers_mev)
        .with_shape(&[n, showers.voxels as u64]);
    if n > 0 {
        showers_dataset
            .with_chunks(&[n.min(100), showers.voxels as u64])
            .with_deflate(4);
    }
    let bytes = builder.finish().map_err(|e| hdf5_error(path, "", e))?;
    super::write_atomically(path, |out| {
        out.write_all(&bytes).map_err(|source| CoreError::Io {
            path: path.to_path_buf(),
            action: "write",
            source,
        })
    })
}

/// Reads showers in the challenge layout from an HDF5 file (a challenge file or one written by
/// [`write_showers_hdf5`]), with the checks of [`read_showers_npz`]; float64 datasets are read
/// too.
pub fn read_showers_hdf5(path: impl AsRef<Path>) -> Result<CaloShowers> {
    let path = path.as_ref();
    if !path.exists() {
        return Err(CoreError::Io {
            path: path.to_path_buf(),
            action: "open HDF5 file",
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let file = hdf5_pure::File::open(path).map_err(|e| hdf5_error(path, "", e))?;
    let read = |name: &str| -> Result<(Vec<u64>, Vec<f32>)> {
        let dataset = file
            .dataset(name)
            .map_err(|e| hdf5_error(path, name, format!("missing or unreadable: {e}")))?;
        let shape = dataset.shape().map_err(|e| hdf5_error(path, name, e))?;
        let values = dataset.read_f32().map_err(|e| hdf5_error(path, name, e))?;
        Ok((shape, values))
    };
    let energies = read("incident_energies")?;
    let showers = read("showers")?;
    showers_from_arrays(path, energies, showers, |path, dataset, message| {
        hdf5_error(path, dataset, message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::npz::npy_bytes;
    use std::io::Write;

    const DATASET_2: &str = "../../../shared/data/calochallenge/binning_dataset_2.xml";

    #[test]
    fn dataset_2_binning_has_6480_voxels() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DATASET_2);
        if !path.exists() {
            eprintln!("skipped: {} is absent", path.display());
            return;
        }
        let binning = CaloBinning::read_xml(&path).expect("the challenge file parses");
        assert_eq!(binning.layers.len(), 45);
        assert_eq!(binning.num_voxels(), 6480);
        assert_eq!(binning.particle, "electron");
        let layer = &binning.layers[7];
        assert_eq!((layer.n_alpha, layer.n_radial()), (16, 9));
        assert_eq!(layer.r_edges_mm[9], 41.85);
        assert_eq!(layer.radial_bin(4.65), Some(1));
        assert_eq!(layer.radial_bin(41.85), None);
        assert_eq!(layer.alpha_bin(-std::f64::consts::PI), 0);
        assert_eq!(layer.alpha_bin(std::f64::consts::PI), 15);
        assert_eq!(binning.voxel_index(2, 3, 4), 2 * 144 + 3 * 9 + 4);
        assert_eq!(binning.layer_offsets()[45], 6480);
    }

    #[test]
    fn bad_binning_is_refused() {
        let p = Path::new("x.xml");
        for bad in [
            "<Bins></Bins>",
            r#"<Bin><Layer id="0" r_edges="0,5,3" n_bin_alpha="1"/></Bin>"#,
            r#"<Bin><Layer id="1" r_edges="0,5" n_bin_alpha="1"/></Bin>"#,
            r#"<Bin><Layer id="0" r_edges="0,x" n_bin_alpha="1"/></Bin>"#,
            r#"<Bin><Layer id="0" r_edges="0,5" n_bin_alpha="0"/></Bin>"#,
        ] {
            assert!(CaloBinning::parse_xml(bad, p).is_err(), "{bad}");
        }
    }

    fn sample() -> CaloShowers {
        CaloShowers {
            incident_energies_mev: vec![1000.0, 50_000.0],
            showers_mev: (0..12).map(|i| i as f32 * 0.5).collect(),
            voxels: 6,
        }
    }

    #[test]
    fn npz_round_trip_and_errors() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("showers.npz");
        let showers = sample();
        write_showers_npz(&path, &showers).expect("writes");
        assert_eq!(read_showers_npz(&path).expect("reads"), showers);

        // NaN and wrong shapes are refused on write, and leave the old file.
        let mut nan = sample();
        nan.showers_mev[7] = f32::NAN;
        let err = write_showers_npz(&path, &nan).expect_err("NaN refused");
        assert!(err.to_string().contains("shower 1, voxel 1"), "{err}");
        let mut short = sample();
        short.showers_mev.pop();
        assert!(write_showers_npz(&path, &short).is_err());
        assert_eq!(read_showers_npz(&path).expect("old file kept"), showers);

        // A missing array and mismatched N are refused on read.
        let only_energies = dir.path().join("energies.npz");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&only_energies).expect("create"));
        zip.start_file("incident_energies.npy", zip::write::FileOptions::default())
            .expect("zip entry");
        zip.write_all(&npy_bytes(&[2, 1], &[1.0, 2.0]).expect("npy"))
            .expect("write");
        zip.start_file("showers.npy", zip::write::FileOptions::default())
            .expect("zip entry");
        zip.write_all(&npy_bytes(&[3, 2], &[0.0; 6]).expect("npy"))
            .expect("write");
        zip.finish().expect("finish");
        let err = read_showers_npz(&only_energies).expect_err("N mismatch");
        assert!(err.to_string().contains("expected [2, voxels]"), "{err}");
        let missing = dir.path().join("missing.npz");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&missing).expect("create"));
        zip.start_file("incident_energies.npy", zip::write::FileOptions::default())
            .expect("zip entry");
        zip.write_all(&npy_bytes(&[2, 1], &[1.0, 2.0]).expect("npy"))
            .expect("write");
        zip.finish().expect("finish");
        let err = read_showers_npz(&missing).expect_err("missing showers");
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn hdf5_round_trip_errors_and_the_h5py_fixture() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("showers.h5");
        let showers = sample();
        write_showers(&path, &showers).expect("writes HDF5");
        assert_eq!(read_showers(&path).expect("reads HDF5"), showers);
        assert_eq!(
            ShowerFormat::from_path(&path).expect("known"),
            ShowerFormat::Hdf5
        );

        // NaN is refused on write and leaves the old file.
        let mut nan = sample();
        nan.showers_mev[3] = f32::NAN;
        assert!(write_showers_hdf5(&path, &nan).is_err());
        assert_eq!(read_showers_hdf5(&path).expect("old file kept"), showers);

        // Missing dataset, mismatched N, a non-HDF5 file, a missing file, an unknown extension.
        let only_energies = dir.path().join("energies.h5");
        let mut builder = hdf5_pure::FileBuilder::new();
        builder
            .create_dataset("incident_energies")
            .with_f32_data(&[1.0, 2.0])
            .with_shape(&[2, 1]);
        std::fs::write(&only_energies, builder.finish().expect("builds")).expect("writes");
        let err = read_showers_hdf5(&only_energies).expect_err("no showers");
        assert!(err.to_string().contains("`showers`: missing"), "{err}");
        let mismatched = dir.path().join("mismatched.h5");
        let mut builder = hdf5_pure::FileBuilder::new();
        builder
            .create_dataset("incident_energies")
            .with_f32_data(&[1.0, 2.0])
            .with_shape(&[2, 1]);
        builder
            .create_dataset("showers")
            .with_f32_data(&[0.0; 6])
            .with_shape(&[3, 2]);
        std::fs::write(&mismatched, builder.finish().expect("builds")).expect("writes");
        let err = read_showers_hdf5(&mismatched).expect_err("N mismatch");
        assert!(err.to_string().contains("expected [2, voxels]"), "{err}");
        let not_hdf5 = dir.path().join("text.h5");
        std::fs::write(&not_hdf5, "incident_energies,showers\n").expect("writes");
        assert!(read_showers(&not_hdf5).is_err());
        assert!(read_showers(dir.path().join("absent.h5")).is_err());
        let err = read_showers("showers.csv").expect_err("unknown extension");
        assert!(err.to_string().contains(".npz"), "{err}");

        // A file written by h5py (HDF5 C library; float64 energies, gzip-chunked showers).
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calo_h5py.h5");
        let read = read_showers(&fixture).expect("reads the h5py file");
        assert_eq!(
            read.incident_energies_mev,
            vec![1000.0, 20_000.0, 512_000.0]
        );
        assert_eq!(read.voxels, 8);
        let mut want: Vec<f32> = (0..24).map(|i| i as f32 * 0.25).collect();
        want[11] = 0.0;
        assert_eq!(read.showers_mev, want);
    }
}
