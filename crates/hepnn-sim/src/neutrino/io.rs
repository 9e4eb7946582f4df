//! Events on disk: one numpy `.npz` archive per file (readable with `numpy.load`), written
//! atomically (temporary file renamed).
//!
//! | array | shape | dtype | meaning |
//! |---|---|---|---|
//! | `xz` | N × planes × cells | float32 | XZ view, calibrated energy per cell, MeV |
//! | `yz` | N × planes × cells | float32 | YZ view, same |
//! | `label` | N | int64 | 0 νμ CC, 1 νe CC, 2 NC |
//! | `neutrino_energy` | N | float64 | E_ν, GeV |
//! | `lepton_energy` | N | float64 | charged-lepton energy, GeV (0 for NC) |
//! | `hadronic_energy` | N | float64 | energy of the hadronic system, GeV |
//! | `vertex` | N × 3 | float64 | interaction vertex x, y, z, cm |

use std::path::Path;

use npyz::WriterBuilder;
use npyz::npz::NpzArchive;

use super::{Interaction, NeutrinoEvent, Truth};
use crate::tracker::SimError;

fn io_err<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> SimError + 'a {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

fn format_err(path: &Path, message: impl Into<String>) -> SimError {
    SimError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `events` (all with `planes × cells` views) to `path`, atomically.
pub fn write_events(
    path: &Path,
    events: &[NeutrinoEvent],
    planes: usize,
    cells: usize,
) -> Result<(), SimError> {
    let pixels = planes * cells;
    if let Some(bad) = events
        .iter()
        .find(|e| e.xz.len() != pixels || e.yz.len() != pixels)
    {
        return Err(format_err(
            path,
            format!(
                "views of {} and {} pixels, expected {planes} × {cells}",
                bad.xz.len(),
                bad.yz.len()
            ),
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err(dir, "create"))?;
    let name = path
        .file_name()
        .map_or("events.npz".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".tmp-{}-{name}", std::process::id()));
    let result = write_to(&tmp, events, planes, cells)
        .map_err(io_err(&tmp, "write"))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io_err(path, "rename onto")));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// One array as the bytes of a `.npy` file (serialised in memory: element-wise writes into the
/// deflate stream would be slow).
fn npy_bytes<T: npyz::AutoSerialize>(
    shape: &[u64],
    values: impl IntoIterator<Item = T>,
) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut bytes)
        .begin_nd()?;
    w.extend(values)?;
    w.finish()?;
    Ok(bytes)
}

fn write_to(
    path: &Path,
    events: &[NeutrinoEvent],
    planes: usize,
    cells: usize,
) -> std::io::Result<()> {
    use std::io::Write;
    let n = events.len() as u64;
    let view_shape = [n, planes as u64, cells as u64];
    type Field = fn(&Truth) -> f64;
    let scalars: [(&str, Field); 3] = [
        ("neutrino_energy", |t| t.neutrino_energy_gev),
        ("lepton_energy", |t| t.lepton_energy_gev),
        ("hadronic_energy", |t| t.hadronic_energy_gev),
    ];
    let mut arrays = vec![
        (
            "xz",
            npy_bytes(
                &view_shape,
                events.iter().flat_map(|e| e.xz.iter().copied()),
            )?,
        ),
        (
            "yz",
            npy_bytes(
                &view_shape,
                events.iter().flat_map(|e| e.yz.iter().copied()),
            )?,
        ),
        (
            "label",
            npy_bytes(&[n], events.iter().map(|e| e.label() as i64))?,
        ),
    ];
    for (name, field) in scalars {
        arrays.push((
            name,
            npy_bytes(&[n], events.iter().map(|e| field(&e.truth)))?,
        ));
    }
    arrays.push((
        "vertex",
        npy_bytes(&[n, 3], events.iter().flat_map(|e| e.truth.vertex_cm))?,
    ));
    // Fast deflate: the views are mostly empty cells, which compress well even at level 1.
    let options = zip::write::FileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    for (name, bytes) in arrays {
        zip.start_file(npyz::npz::file_name_from_array_name(name), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(&bytes)?;
    }
    zip.finish().map_err(std::io::Error::other)?.flush()?;
    Ok(())
}

fn array<T: npyz::Deserialize>(
    npz: &mut NpzArchive<std::io::BufReader<std::fs::File>>,
    path: &Path,
    name: &str,
) -> Result<(Vec<u64>, Vec<T>), SimError> {
    let file = npz
        .by_name(name)
        .map_err(io_err(path, "read"))?
        .ok_or_else(|| format_err(path, format!("no array `{name}`")))?;
    let shape = file.shape().to_vec();
    if file.order() != npyz::Order::C {
        return Err(format_err(path, format!("`{name}` is not in C order")));
    }
    let data = file
        .into_vec::<T>()
        .map_err(|e| format_err(path, format!("array `{name}`: {e}")))?;
    Ok((shape, data))
}

/// Events read back from a file written by [`write_events`], with the view size (planes, cells).
pub fn read_events(path: &Path) -> Result<(Vec<NeutrinoEvent>, usize, usize), SimError> {
    let mut npz = NpzArchive::open(path).map_err(io_err(path, "open"))?;
    let (shape, xz) = array::<f32>(&mut npz, path, "xz")?;
    let [n, planes, cells] = shape[..] else {
        return Err(format_err(
            path,
            format!("`xz` has shape {shape:?}, expected 3 axes"),
        ));
    };
    let (n, planes, cells) = (n as usize, planes as usize, cells as usize);
    let (yz_shape, yz) = array::<f32>(&mut npz, path, "yz")?;
    if yz_shape != shape {
        return Err(format_err(
            path,
            format!("`yz` {yz_shape:?} ≠ `xz` {shape:?}"),
        ));
    }
    let (_, label) = array::<i64>(&mut npz, path, "label")?;
    let (_, nu) = array::<f64>(&mut npz, path, "neutrino_energy")?;
    let (_, lep) = array::<f64>(&mut npz, path, "lepton_energy")?;
    let (_, had) = array::<f64>(&mut npz, path, "hadronic_energy")?;
    let (_, vertex) = array::<f64>(&mut npz, path, "vertex")?;
    for (name, len, want) in [
        ("label", label.len(), n),
        ("neutrino_energy", nu.len(), n),
        ("lepton_energy", lep.len(), n),
        ("hadronic_energy", had.len(), n),
        ("vertex", vertex.len(), 3 * n),
    ] {
        if len != want {
            return Err(format_err(
                path,
                format!("`{name}` has {len} values, expected {want}"),
            ));
        }
    }
    let pixels = planes * cells;
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        let interaction = usize::try_from(label[i])
            .ok()
            .and_then(Interaction::from_label)
            .ok_or_else(|| format_err(path, format!("label {} of event {i}", label[i])))?;
        events.push(NeutrinoEvent {
            truth: Truth {
                interaction,
                neutrino_energy_gev: nu[i],
                lepton_energy_gev: lep[i],
                hadronic_energy_gev: had[i],
                vertex_cm: [vertex[3 * i], vertex[3 * i + 1], vertex[3 * i + 2]],
            },
            xz: xz[i * pixels..(i + 1) * pixels].to_vec(),
            yz: yz[i * pixels..(i + 1) * pixels].to_vec(),
        });
    }
    Ok((events, planes, cells))
}
