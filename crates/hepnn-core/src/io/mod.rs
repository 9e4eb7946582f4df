//! Reading and writing event data.
//!
//! - [`trackml`]: the TrackML CSV files (hits, cells, particles, truth, detectors), plain or gzip.
//! - [`calo`]: the CaloChallenge layout (`incident_energies`, `showers`) in `.npz`, and the
//!   voxel binning XML.
//! - [`npz`]: named f32 arrays as a NumPy `.npz` archive (exchange files with PyTorch).
//! - [`onnx`]: the initializers (trained weights) of an ONNX model, for burn models of the same
//!   architecture.
//!
//! Shared rules for every format:
//! - Compression follows the file name: a name ending in `.gz` is gzip, anything else is plain
//!   ([`Compression::from_path`]).
//! - Writes are atomic: the data goes to a temporary file in the target's folder, which is then
//!   renamed over the target. A failed write leaves any existing file untouched.
//! - Errors name the file and, for a bad row, its 1-based line and column (see
//!   [`CoreError`]).

pub mod calo;
pub mod hitgraph;
pub mod npz;
pub mod onnx;
pub mod trackml;

pub use trackml::{
    EventFile, event_prefix, find_event_file, list_events, parse_event_prefix, read_cells,
    read_detectors, read_event, read_hits, read_particles, read_truth, write_cells,
    write_detectors, write_event, write_event_with, write_hits, write_particles, write_truth,
};

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use crate::error::{CoreError, Result};

/// How a data file is compressed, decided by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Plain text, e.g. `event000000001-hits.csv`.
    #[default]
    Plain,
    /// Gzip, e.g. `event000000001-hits.csv.gz`.
    Gzip,
}

impl Compression {
    /// [`Compression::Gzip`] when the file name ends in `.gz` (any case), else
    /// [`Compression::Plain`].
    ///
    /// ```
    /// use hepnn_core::io::Compression;
    /// assert_eq!(Compression::from_path("a/event000000001-hits.csv.gz"), Compression::Gzip);
    /// assert_eq!(Compression::from_path("detectors.csv"), Compression::Plain);
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Compression {
        match path.as_ref().extension() {
            Some(extension) if extension.eq_ignore_ascii_case("gz") => Compression::Gzip,
            _ => Compression::Plain,
        }
    }

    /// The file name ending of a CSV file with this compression: `.csv` or `.csv.gz`.
    pub fn csv_suffix(self) -> &'static str {
        match self {
            Compression::Plain => ".csv",
            Compression::Gzip => ".csv.gz",
        }
    }
}

/// Opens `path` for reading, decompressing it when its name ends in `.gz`.
pub(crate) fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).map_err(|source| CoreError::Io {
        path: path.to_path_buf(),
        action: "open",
        source,
    })?;
    Ok(match Compression::from_path(path) {
        // Multi-member streams (concatenated gzip files) are valid gzip too.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::Plain => Box::new(file),
    })
}

/// Maps an I/O error met while reading `path`: decoder failures of a `.gz` file become
/// [`CoreError::Gzip`], the rest [`CoreError::Io`].
pub(crate) fn read_error(path: &Path, source: io::Error) -> CoreError {
    let decoder_error = matches!(
        source.kind(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
    );
    if decoder_error && Compression::from_path(path) == Compression::Gzip {
        CoreError::Gzip {
            path: path.to_path_buf(),
            source,
        }
    } else {
        CoreError::Io {
            path: path.to_path_buf(),
            action: "read",
            source,
        }
    }
}

/// Writes `path` atomically: `write` fills a temporary file in the same folder (through a gzip
/// encoder when `path` ends in `.gz`), which is synced to disk and then renamed over `path`.
/// If anything fails, the temporary file is removed and an existing `path` is left as it was.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let io_error = |action: &'static str, target: &Path| {
        let target = target.to_path_buf();
        move |source| CoreError::Io {
            path: target,
            action,
            source,
        }
    };
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".hepnn-").suffix(".tmp");
    #[cfg(unix)]
    {
        // tempfile creates owner-only files; give the result the permissions of the file it
        // replaces, or the usual rw-r--r-- (less the umask) for a new one.
        use std::os::unix::fs::PermissionsExt;
        let permissions = match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_file() => metadata.permissions(),
            _ => std::fs::Permissions::from_mode(0o644),
        };
        builder.permissions(permissions);
    }
    let mut temporary = builder
        .tempfile_in(folder)
        .map_err(io_error("create a temporary file in", folder))?;
    {
        let buffered = BufWriter::with_capacity(1 << 16, temporary.as_file_mut());
        match Compression::from_path(path) {
            Compression::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(buffered, flate2::Compression::default());
                write(&mut encoder)?;
                let mut buffered = encoder.finish().map_err(io_error("write", path))?;
                buffered.flush().map_err(io_error("write", path))?;
            }
            Compression::Plain => {
                let mut buffered = buffered;
                write(&mut buffered)?;
                buffered.flush().map_err(io_error("write", path))?;
            }
        }
    }
    temporary
        .as_file()
        .sync_all()
        .map_err(io_error("write", path))?;
    temporary
        .persist(path)
        .map_err(|error| io_error("replace", path)(error.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_follows_the_name() {
        assert_eq!(Compression::from_path("x.csv.GZ"), Compression::Gzip);
        assert_eq!(Compression::from_path("x.gzip"), Compression::Plain);
        assert_eq!(Compression::from_path("gz"), Compression::Plain);
        assert_eq!(Compression::Gzip.csv_suffix(), ".csv.gz");
    }

    #[test]
    fn failed_write_leaves_the_old_file() {
        let folder = tempfile::tempdir().expect("a temporary folder can be made");
        let path = folder.path().join("kept.csv");
        std::fs::write(&path, "old\n").expect("the folder is writable");
        let failed = write_atomically(&path, |out| {
            out.write_all(b"new, half-written")
                .map_err(|source| CoreError::Io {
                    path: path.clone(),
                    action: "write",
                    source,
                })?;
            Err(CoreError::EventPrefix {
                prefix: "stop".into(),
            })
        });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read_to_string(&path).expect("still there"),
            "old\n"
        );
        // Only the kept file remains: the temporary file was removed.
        assert_eq!(
            std::fs::read_dir(folder.path()).expect("listable").count(),
            1
        );
    }
}
