//! Labelled hit graphs of the interaction-network tracking paper (DeZoort et al., arXiv:2103.16701),
//! built from TrackML events (pT > 2 GeV, pixel barrel + endcaps), stored as numpy `.npz`:
//!
//! | array | shape | meaning |
//! |---|---|---|
//! | `X` | N × 3 float32 | r/1000 mm, φ/π, z/1000 mm |
//! | `Ra` | 4 × E float64 (float32 in a few) | edge features Δr, Δφ, Δz, ΔR (scaled) |
//! | `Ri_rows`, `Ri_cols` | E int64 | COO incidence: node (rows) receiving edge (cols) — the outer hit |
//! | `Ro_rows`, `Ro_cols` | E int64 | node sending the edge — the inner hit |
//! | `y` | E float32 | 1 when both hits belong to one particle, on consecutive layers |
//! | `pid` | N int64 | particle id of each hit |
//!
//! Read with the `npyz` crate (C and Fortran order both handled).

use std::path::Path;

use npyz::npz::NpzArchive;
use npyz::{Deserialize, Order};

use crate::error::{CoreError, Result};

/// One labelled hit graph. Edges go from the inner hit (source) to the outer hit (target).
#[derive(Debug, Clone, PartialEq)]
pub struct HitGraph {
    /// Node features (r/1000, φ/π, z/1000), one row per hit.
    pub x: Vec<[f32; 3]>,
    /// Edge features (Δr, Δφ, Δz, ΔR), one row per edge.
    pub edge_attr: Vec<[f32; 4]>,
    /// Source (inner hit) of each edge.
    pub sources: Vec<usize>,
    /// Target (outer hit) of each edge.
    pub targets: Vec<usize>,
    /// Truth label of each edge (1 = true segment).
    pub y: Vec<f32>,
    /// Particle id of each hit.
    pub pid: Vec<i64>,
}

/// Reads one `.npz` hit graph, checking every array's presence, type and shape.
pub fn read_hitgraph(path: impl AsRef<Path>) -> Result<HitGraph> {
    let path = path.as_ref();
    let mut npz = NpzArchive::open(path).map_err(|source| CoreError::Io {
        path: path.to_path_buf(),
        action: "open npz archive",
        source,
    })?;
    let x = matrix::<f32>(&mut npz, path, "X", 3, true)?;
    let n = x.len() / 3;
    // Some graphs store Ra as float32, most as float64.
    let ra = match matrix::<f64>(&mut npz, path, "Ra", 4, false) {
        Ok(ra) => ra,
        Err(_) => matrix::<f32>(&mut npz, path, "Ra", 4, false)?
            .into_iter()
            .map(f64::from)
            .collect(),
    };
    let e = ra.len() / 4;
    let ri_rows = vector::<i64>(&mut npz, path, "Ri_rows")?;
    let ri_cols = vector::<i64>(&mut npz, path, "Ri_cols")?;
    let ro_rows = vector::<i64>(&mut npz, path, "Ro_rows")?;
    let ro_cols = vector::<i64>(&mut npz, path, "Ro_cols")?;
    let y = vector::<f32>(&mut npz, path, "y")?;
    let pid = vector::<i64>(&mut npz, path, "pid")?;
    let bad = |array: &str, message: String| npz_error(path, array, message);
    if y.len() != e || pid.len() != n {
        return Err(bad(
            "y/pid",
            format!(
                "expected {e} edge labels and {n} particle ids, got {} and {}",
                y.len(),
                pid.len()
            ),
        ));
    }
    let incidence = |rows: &[i64], cols: &[i64], name: &str| -> Result<Vec<usize>> {
        if rows.len() != e || cols.len() != e {
            return Err(bad(
                name,
                format!("expected {e} entries (one per edge), got {}", rows.len()),
            ));
        }
        let mut node_of_edge = vec![usize::MAX; e];
        for (&r, &c) in rows.iter().zip(cols) {
            let (r, c) = (usize::try_from(r), usize::try_from(c));
            match (r, c) {
                (Ok(r), Ok(c)) if r < n && c < e && node_of_edge[c] == usize::MAX => {
                    node_of_edge[c] = r
                }
                _ => {
                    return Err(bad(
                        name,
                        format!("entry out of range or repeated (nodes {n}, edges {e})"),
                    ));
                }
            }
        }
        Ok(node_of_edge)
    };
    let targets = incidence(&ri_rows, &ri_cols, "Ri")?;
    let sources = incidence(&ro_rows, &ro_cols, "Ro")?;
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(bad("X", format!("non-finite value at flat index {i}")));
    }
    Ok(HitGraph {
        x: (0..n)
            .map(|i| [x[3 * i], x[3 * i + 1], x[3 * i + 2]])
            .collect(),
        edge_attr: (0..e)
            .map(|k| {
                [
                    ra[k] as f32,
                    ra[e + k] as f32,
                    ra[2 * e + k] as f32,
                    ra[3 * e + k] as f32,
                ]
            })
            .collect(),
        sources,
        targets,
        y,
        pid,
    })
}

type Archive = NpzArchive<std::io::BufReader<std::fs::File>>;

fn npz_error(path: &Path, name: &str, message: String) -> CoreError {
    CoreError::Npz {
        path: path.to_path_buf(),
        array: name.into(),
        message,
    }
}

/// Reads array `name` with its shape, the values in row-major (C) order whatever the file's order.
fn array<T: Deserialize + Copy + Default>(
    npz: &mut Archive,
    path: &Path,
    name: &str,
) -> Result<(Vec<T>, Vec<usize>)> {
    let bad = |message: String| npz_error(path, name, message);
    let file = npz
        .by_name(name)
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("missing from the archive".into()))?;
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let order = file.order();
    let data: Vec<T> = file
        .into_vec()
        .map_err(|e| bad(format!("wrong element type: {e}")))?;
    Ok(match (order, shape.as_slice()) {
        // Column-major 2-D: element (r, c) at c·rows + r.
        (Order::Fortran, &[rows, cols]) => {
            let mut out = vec![T::default(); rows * cols];
            for r in 0..rows {
                for c in 0..cols {
                    out[r * cols + c] = data[c * rows + r];
                }
            }
            (out, shape)
        }
        _ => (data, shape),
    })
}

/// A 2-D array, row-major, whose second dimension (`fixed_is_second`) or first is `fixed`.
fn matrix<T: Deserialize + Copy + Default>(
    npz: &mut Archive,
    path: &Path,
    name: &str,
    fixed: usize,
    fixed_is_second: bool,
) -> Result<Vec<T>> {
    let (data, shape) = array(npz, path, name)?;
    let fixed_dim = if fixed_is_second { 1 } else { 0 };
    if shape.len() != 2 || shape[fixed_dim] != fixed {
        return Err(npz_error(
            path,
            name,
            format!(
                "expected a 2-D array with {fixed} {}, got shape {shape:?}",
                if fixed_is_second { "columns" } else { "rows" }
            ),
        ));
    }
    Ok(data)
}

/// A 1-D array.
fn vector<T: Deserialize + Copy + Default>(
    npz: &mut Archive,
    path: &Path,
    name: &str,
) -> Result<Vec<T>> {
    let (data, shape) = array(npz, path, name)?;
    if shape.len() != 1 {
        return Err(npz_error(
            path,
            name,
            format!("expected a 1-D array, got shape {shape:?}"),
        ));
    }
    Ok(data)
}
