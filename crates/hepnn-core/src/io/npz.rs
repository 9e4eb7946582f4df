//! Writing named f32 arrays as a NumPy `.npz` archive (`numpy.load` reads it back).
//!
//! The CaloChallenge shower files ([`super::calo`]) and the exchange files of the PyTorch
//! comparisons under `bench/` (weights, graphs, outputs) use it. Reading goes through `npyz`
//! directly, where the layout of the arrays is known ([`super::calo::read_showers_npz`]).

use std::io::{Cursor, Write};
use std::path::Path;

use crate::error::{CoreError, Result};

/// One array of an archive: its name (without `.npy`), shape and values in C order.
#[derive(Debug, Clone, Copy)]
pub struct NpzArray<'a> {
    /// The key under which `numpy.load(path)[name]` finds it.
    pub name: &'a str,
    /// The shape; the product must equal `values.len()`.
    pub shape: &'a [u64],
    /// The values, row-major.
    pub values: &'a [f32],
}

/// One array as the bytes of a `.npy` file.
pub(crate) fn npy_bytes(shape: &[u64], values: &[f32]) -> std::io::Result<Vec<u8>> {
    use npyz::WriterBuilder;
    let mut bytes = Vec::with_capacity(values.len() * 4 + 128);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut bytes)
        .begin_nd()?;
    writer.extend(values.iter().copied())?;
    writer.finish()?;
    Ok(bytes)
}

/// Writes the arrays as one `.npz` archive (deflate level 1), atomically: a failed write leaves
/// an existing file as it was.
///
/// # Errors
/// [`CoreError::Io`] when a shape does not match its values or the file cannot be written.
pub fn write_npz(path: impl AsRef<Path>, arrays: &[NpzArray<'_>]) -> Result<()> {
    let path = path.as_ref();
    let io_error = |source| CoreError::Io {
        path: path.to_path_buf(),
        action: "write",
        source,
    };
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::FileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    for array in arrays {
        let expected: u64 = array.shape.iter().product();
        if expected != array.values.len() as u64 {
            return Err(io_error(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "array `{}`: shape {:?} needs {expected} values, got {}",
                    array.name,
                    array.shape,
                    array.values.len()
                ),
            )));
        }
        let bytes = npy_bytes(array.shape, array.values).map_err(io_error)?;
        // The archive is assembled in memory (zip needs to seek), then written atomically.
        zip.start_file(npyz::npz::file_name_from_array_name(array.name), options)
            .map_err(|e| io_error(std::io::Error::other(e)))?;
        zip.write_all(&bytes).map_err(io_error)?;
    }
    let archive = zip
        .finish()
        .map_err(|e| io_error(std::io::Error::other(e)))?
        .into_inner();
    super::write_atomically(path, |out| out.write_all(&archive).map_err(io_error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip_through_npyz() {
        let dir = std::env::temp_dir().join(format!("hepnn-npz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.npz");
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        write_npz(
            &path,
            &[
                NpzArray {
                    name: "a",
                    shape: &[2, 3],
                    values: &a,
                },
                NpzArray {
                    name: "b",
                    shape: &[1],
                    values: &[7.5],
                },
            ],
        )
        .unwrap();
        let mut npz = npyz::npz::NpzArchive::open(&path).unwrap();
        let file = npz.by_name("a").unwrap().unwrap();
        assert_eq!(file.shape(), &[2, 3]);
        assert_eq!(file.into_vec::<f32>().unwrap(), a);
        let b = npz
            .by_name("b")
            .unwrap()
            .unwrap()
            .into_vec::<f32>()
            .unwrap();
        assert_eq!(b, [7.5]);
        // A shape that does not match the values is refused and nothing is written.
        let bad = dir.join("bad.npz");
        let err = write_npz(
            &bad,
            &[NpzArray {
                name: "x",
                shape: &[4],
                values: &a,
            }],
        );
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("shape [4] needs 4 values")
        );
        assert!(!bad.exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
