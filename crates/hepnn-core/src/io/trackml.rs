//! The TrackML CSV format (Kaggle TrackML Particle Tracking Challenge, 2018).
//!
//! An event is up to four files sharing a prefix, `event000000001-hits.csv`, `-cells.csv`,
//! `-particles.csv` and `-truth.csv`, each plain or gzipped (`.csv.gz`); the detector is one
//! `detectors.csv`. Columns (units mm and GeV):
//!
//! | file        | columns                                                                 |
//! |-------------|-------------------------------------------------------------------------|
//! | hits        | `hit_id,x,y,z,volume_id,layer_id,module_id`                             |
//! | cells       | `hit_id,ch0,ch1,value`                                                  |
//! | particles   | `particle_id,[particle_type,]vx,vy,vz,px,py,pz,q,nhits`                 |
//! | truth       | `hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight`                        |
//! | detectors   | `volume_id,layer_id,module_id,cx,cy,cz,rot_xu,…,rot_zw,module_t,module_minhu,module_maxhu,module_hv,pitch_u,pitch_v` |
//!
//! Columns are matched by name, so their order in a file does not matter and extra columns are
//! ignored; a missing column is an error naming it. `particle_type` is optional (the accuracy
//! phase files lack it, the throughput phase files have it).
//!
//! Reading checks every value: a field that is not a number of the column's type, a row with too
//! few or too many fields, and NaN or infinity in a float column are errors that name the file,
//! the 1-based line and the column. Floats are written in Rust's shortest round-trip form, so
//! write → read gives back exactly the same `f64`s.
//!
//! ```no_run
//! use hepnn_core::io::trackml;
//! # fn main() -> hepnn_core::Result<()> {
//! let event = trackml::read_event("data/trackml", "event000000001")?;
//! println!("{} hits, {} of them noise", event.hits.len(), event.noise_hit_count());
//! trackml::write_hits("out/event000000001-hits.csv.gz", &event.hits)?;
//! # Ok(())
//! # }
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use csv::{ByteRecord, DeserializeErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Compression, open, read_error, write_atomically};
use crate::error::{CoreError, Result};
use crate::event::{Cell, Event, Hit, Module, Particle, TruthLink};

/// One row type of a TrackML file.
trait Record: DeserializeOwned + Serialize {
    /// The columns, in the order they are written (and the struct's field order).
    const COLUMNS: &'static [&'static str];
    /// Columns that may be absent on reading.
    const OPTIONAL: &'static [&'static str] = &[];

    /// The first float field that is NaN or infinite, with its column.
    fn non_finite(&self) -> Option<(&'static str, f64)>;
}

/// The first of `fields` whose value is not finite.
fn first_non_finite<const N: usize>(
    fields: [(&'static str, f64); N],
) -> Option<(&'static str, f64)> {
    fields.into_iter().find(|(_, value)| !value.is_finite())
}

impl Record for Hit {
    const COLUMNS: &'static [&'static str] = &[
        "hit_id",
        "x",
        "y",
        "z",
        "volume_id",
        "layer_id",
        "module_id",
    ];

    fn non_finite(&self) -> Option<(&'static str, f64)> {
        first_non_finite([("x", self.x), ("y", self.y), ("z", self.z)])
    }
}

impl Record for Cell {
    const COLUMNS: &'static [&'static str] = &["hit_id", "ch0", "ch1", "value"];

    fn non_finite(&self) -> Option<(&'static str, f64)> {
        first_non_finite([("value", self.value)])
    }
}

impl Record for Particle {
    const COLUMNS: &'static [&'static str] = &[
        "particle_id",
        "particle_type",
        "vx",
        "vy",
        "vz",
        "px",
        "py",
        "pz",
        "q",
        "nhits",
    ];
    const OPTIONAL: &'static [&'static str] = &["particle_type"];

    fn non_finite(&self) -> Option<(&'static str, f64)> {
        first_non_finite([
            ("vx", self.vx),
            ("vy", self.vy),
            ("vz", self.vz),
            ("px", self.px),
            ("py", self.py),
            ("pz", self.pz),
        ])
    }
}

impl Record for TruthLink {
    const COLUMNS: &'static [&'static str] = &[
        "hit_id",
        "particle_id",
        "tx",
        "ty",
        "tz",
        "tpx",
        "tpy",
        "tpz",
        "weight",
    ];

    fn non_finite(&self) -> Option<(&'static str, f64)> {
        first_non_finite([
            ("tx", self.tx),
            ("ty", self.ty),
            ("tz", self.tz),
            ("tpx", self.tpx),
            ("tpy", self.tpy),
            ("tpz", self.tpz),
            ("weight", self.weight),
        ])
    }
}

impl Record for Module {
    const COLUMNS: &'static [&'static str] = &[
        "volume_id",
        "layer_id",
        "module_id",
        "cx",
        "cy",
        "cz",
        "rot_xu",
        "rot_xv",
        "rot_xw",
        "rot_yu",
        "rot_yv",
        "rot_yw",
        "rot_zu",
        "rot_zv",
        "rot_zw",
        "module_t",
        "module_minhu",
        "module_maxhu",
        "module_hv",
        "pitch_u",
        "pitch_v",
    ];

    fn non_finite(&self) -> Option<(&'static str, f64)> {
        first_non_finite([
            ("cx", self.cx),
            ("cy", self.cy),
            ("cz", self.cz),
            ("rot_xu", self.rot_xu),
            ("rot_xv", self.rot_xv),
            ("rot_xw", self.rot_xw),
            ("rot_yu", self.rot_yu),
            ("rot_yv", self.rot_yv),
            ("rot_yw", self.rot_yw),
            ("rot_zu", self.rot_zu),
            ("rot_zv", self.rot_zv),
            ("rot_zw", self.rot_zw),
            ("module_t", self.module_t),
            ("module_minhu", self.module_minhu),
            ("module_maxhu", self.module_maxhu),
            ("module_hv", self.module_hv),
            ("pitch_u", self.pitch_u),
            ("pitch_v", self.pitch_v),
        ])
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Reads a hits file (`hit_id,x,y,z,volume_id,layer_id,module_id`), plain or `.gz`.
///
/// # Errors
/// [`CoreError::Io`] when the file cannot be opened or read, [`CoreError::Gzip`] for a corrupt
/// `.gz`, [`CoreError::MissingColumn`], [`CoreError::Csv`] for a malformed row and
/// [`CoreError::NonFinite`] for NaN or infinity.
pub fn read_hits(path: impl AsRef<Path>) -> Result<Vec<Hit>> {
    read_records(path.as_ref())
}

/// Reads a cells file (`hit_id,ch0,ch1,value`), plain or `.gz`. Errors as [`read_hits`].
pub fn read_cells(path: impl AsRef<Path>) -> Result<Vec<Cell>> {
    read_records(path.as_ref())
}

/// Reads a particles file (`particle_id,[particle_type,]vx,vy,vz,px,py,pz,q,nhits`), plain or
/// `.gz`. Without a `particle_type` column (or with an empty field) the type is `None`. Errors as
/// [`read_hits`].
pub fn read_particles(path: impl AsRef<Path>) -> Result<Vec<Particle>> {
    read_records(path.as_ref())
}

/// Reads a truth file (`hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight`), plain or `.gz`. Errors
/// as [`read_hits`].
pub fn read_truth(path: impl AsRef<Path>) -> Result<Vec<TruthLink>> {
    read_records(path.as_ref())
}

/// Reads a detector description (`detectors.csv`), plain or `.gz`. Errors as [`read_hits`].
pub fn read_detectors(path: impl AsRef<Path>) -> Result<Vec<Module>> {
    read_records(path.as_ref())
}

/// Reads every row of the TrackML file at `path`.
fn read_records<T: Record>(path: &Path) -> Result<Vec<T>> {
    read_records_from(open(path)?, path)
}

/// Reads every row of a TrackML CSV stream; `path` names it in errors.
fn read_records_from<T: Record>(input: impl Read, path: &Path) -> Result<Vec<T>> {
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 16)
        .from_reader(input);
    let headers = match reader.byte_headers() {
        Ok(headers) => headers.clone(),
        Err(error) => return Err(csv_error(path, &ByteRecord::new(), None, error)),
    };
    check_columns::<T>(path, &headers)?;

    let mut rows = Vec::new();
    let mut record = ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(csv_error(path, &headers, None, error)),
        }
        let row: T = record
            .deserialize(Some(&headers))
            .map_err(|error| csv_error(path, &headers, Some(&record), error))?;
        if let Some((column, value)) = row.non_finite() {
            return Err(CoreError::NonFinite {
                path: path.to_path_buf(),
                line: record.position().map_or(0, csv::Position::line),
                column: column.to_string(),
                value,
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Fails with [`CoreError::MissingColumn`] unless `headers` holds every required column of `T`.
fn check_columns<T: Record>(path: &Path, headers: &ByteRecord) -> Result<()> {
    let required = T::COLUMNS
        .iter()
        .filter(|column| !T::OPTIONAL.contains(column));
    for column in required {
        if !headers.iter().any(|name| name == column.as_bytes()) {
            return Err(CoreError::MissingColumn {
                path: path.to_path_buf(),
                column: column.to_string(),
                found: headers.iter().map(field_text).collect(),
            });
        }
    }
    Ok(())
}

/// A field as text, invalid UTF-8 replaced.
fn field_text(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

/// Turns a csv error met in `path` into a [`CoreError`] naming the line and, where known, the
/// column (looked up in `headers`). `record` is the row being deserialized, if any, for quoting
/// the offending field.
fn csv_error(
    path: &Path,
    headers: &ByteRecord,
    record: Option<&ByteRecord>,
    error: csv::Error,
) -> CoreError {
    let line = error.position().map_or(0, csv::Position::line);
    let description = error.to_string();
    let column_name = |index: u64| {
        usize::try_from(index)
            .ok()
            .and_then(|index| headers.get(index))
            .map(field_text)
    };
    let (column, message) = match error.into_kind() {
        csv::ErrorKind::Io(source) => return read_error(path, source),
        csv::ErrorKind::Utf8 { err, .. } => (
            column_name(err.field() as u64),
            "expected UTF-8 text, found invalid bytes".to_string(),
        ),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => (
            // The first column that has no field, when the row is short.
            if len < expected_len {
                column_name(len)
            } else {
                None
            },
            format!("expected {expected_len} fields as in the header, found {len}"),
        ),
        csv::ErrorKind::Deserialize { err, .. } => {
            let found = err
                .field()
                .and_then(|index| record?.get(usize::try_from(index).ok()?))
                .map(field_text);
            let found = match found.as_deref() {
                Some("") => "an empty field".to_string(),
                // Quote at most 40 characters of a runaway field.
                Some(text) if text.chars().count() > 40 => {
                    format!("`{}…`", text.chars().take(40).collect::<String>())
                }
                Some(text) => format!("`{text}`"),
                None => "nothing".to_string(),
            };
            let message = match err.kind() {
                DeserializeErrorKind::ParseInt(_) => format!("expected an integer, found {found}"),
                DeserializeErrorKind::ParseFloat(_) => format!("expected a number, found {found}"),
                DeserializeErrorKind::UnexpectedEndOfRow => {
                    "expected another field, found the end of the row".to_string()
                }
                other => format!("{other} (found {found})"),
            };
            (err.field().and_then(column_name), message)
        }
        _ => (None, description),
    };
    CoreError::Csv {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Writes a hits file atomically, gzipped when `path` ends in `.gz`.
///
/// # Errors
/// [`CoreError::NonFinite`] (before anything is written) when a coordinate is NaN or infinite;
/// [`CoreError::Io`] when the folder is not writable or the disk fails. Any existing file at
/// `path` is then left untouched.
pub fn write_hits(path: impl AsRef<Path>, hits: &[Hit]) -> Result<()> {
    write_records(path.as_ref(), hits)
}

/// Writes a cells file atomically, gzipped when `path` ends in `.gz`. Errors as [`write_hits`].
pub fn write_cells(path: impl AsRef<Path>, cells: &[Cell]) -> Result<()> {
    write_records(path.as_ref(), cells)
}

/// Writes a particles file atomically, gzipped when `path` ends in `.gz`. The `particle_type`
/// column is written when at least one particle has a type (an unknown type is then an empty
/// field), and left out otherwise. Errors as [`write_hits`].
pub fn write_particles(path: impl AsRef<Path>, particles: &[Particle]) -> Result<()> {
    let path = path.as_ref();
    if particles
        .iter()
        .any(|particle| particle.particle_type.is_some())
    {
        return write_records(path, particles);
    }
    check_finite(path, particles)?;
    let columns: Vec<&str> = Particle::COLUMNS
        .iter()
        .copied()
        .filter(|&column| column != "particle_type")
        .collect();
    let rows = particles.iter().map(|particle| {
        (
            particle.particle_id,
            particle.vx,
            particle.vy,
            particle.vz,
            particle.px,
            particle.py,
            particle.pz,
            particle.q,
            particle.nhits,
        )
    });
    write_csv(path, &columns, rows)
}

/// Writes a truth file atomically, gzipped when `path` ends in `.gz`. Errors as [`write_hits`].
pub fn write_truth(path: impl AsRef<Path>, truth: &[TruthLink]) -> Result<()> {
    write_records(path.as_ref(), truth)
}

/// Writes a detector description atomically, gzipped when `path` ends in `.gz`. Errors as
/// [`write_hits`].
pub fn write_detectors(path: impl AsRef<Path>, modules: &[Module]) -> Result<()> {
    write_records(path.as_ref(), modules)
}

/// Writes `rows` with all of `T`'s columns.
fn write_records<T: Record>(path: &Path, rows: &[T]) -> Result<()> {
    check_finite(path, rows)?;
    write_csv(path, T::COLUMNS, rows.iter())
}

/// Fails with [`CoreError::NonFinite`] naming the line the first non-finite value would be
/// written on.
fn check_finite<T: Record>(path: &Path, rows: &[T]) -> Result<()> {
    for (index, row) in rows.iter().enumerate() {
        if let Some((column, value)) = row.non_finite() {
            return Err(CoreError::NonFinite {
                path: path.to_path_buf(),
                // The header is line 1.
                line: index as u64 + 2,
                column: column.to_string(),
                value,
            });
        }
    }
    Ok(())
}

/// Writes a header line and one line per row (fields in header order) to `path`, atomically.
fn write_csv<R: Serialize>(
    path: &Path,
    columns: &[&str],
    rows: impl Iterator<Item = R>,
) -> Result<()> {
    write_atomically(path, |output| {
        let write_error = |line: u64, error: csv::Error| {
            let message = error.to_string();
            match error.into_kind() {
                csv::ErrorKind::Io(source) => CoreError::Io {
                    path: path.to_path_buf(),
                    action: "write",
                    source,
                },
                _ => CoreError::Csv {
                    path: path.to_path_buf(),
                    line,
                    column: None,
                    message,
                },
            }
        };
        let mut writer = csv::WriterBuilder::new()
            .has_headers(false)
            .buffer_capacity(1 << 16)
            .from_writer(output);
        writer
            .write_record(columns)
            .map_err(|error| write_error(1, error))?;
        for (index, row) in rows.enumerate() {
            writer
                .serialize(row)
                .map_err(|error| write_error(index as u64 + 2, error))?;
        }
        writer.flush().map_err(|source| CoreError::Io {
            path: path.to_path_buf(),
            action: "write",
            source,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// The files of one TrackML event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFile {
    /// `<prefix>-hits.csv[.gz]`, the only required file.
    Hits,
    /// `<prefix>-cells.csv[.gz]`.
    Cells,
    /// `<prefix>-particles.csv[.gz]`.
    Particles,
    /// `<prefix>-truth.csv[.gz]`.
    Truth,
}

impl EventFile {
    /// The file's name part after the prefix: `hits`, `cells`, `particles` or `truth`.
    pub fn name(self) -> &'static str {
        match self {
            EventFile::Hits => "hits",
            EventFile::Cells => "cells",
            EventFile::Particles => "particles",
            EventFile::Truth => "truth",
        }
    }

    /// The path of this file for event `prefix` in `dir` with the given compression.
    ///
    /// ```
    /// use hepnn_core::io::{Compression, trackml::EventFile};
    /// let path = EventFile::Truth.path("data", "event000000001", Compression::Gzip);
    /// assert_eq!(path, std::path::Path::new("data/event000000001-truth.csv.gz"));
    /// ```
    pub fn path(self, dir: impl AsRef<Path>, prefix: &str, compression: Compression) -> PathBuf {
        dir.as_ref().join(format!(
            "{prefix}-{}{}",
            self.name(),
            compression.csv_suffix()
        ))
    }
}

/// The TrackML file prefix of event `event_id`: `event` and nine digits.
///
/// ```
/// assert_eq!(hepnn_core::io::event_prefix(1001), "event000001001");
/// ```
pub fn event_prefix(event_id: u64) -> String {
    format!("event{event_id:09}")
}

/// The event number in a file prefix such as `event000001001` (→ 1001).
///
/// # Errors
/// [`CoreError::EventPrefix`] unless the prefix is `event` followed by digits that fit a `u64`.
pub fn parse_event_prefix(prefix: &str) -> Result<u64> {
    prefix
        .strip_prefix("event")
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| CoreError::EventPrefix {
            prefix: prefix.to_string(),
        })
}

/// The existing file of kind `file` for event `prefix` in `dir` (plain `.csv` or `.csv.gz`), or
/// `None` when there is none.
///
/// # Errors
/// [`CoreError::AmbiguousEventFile`] when both the plain and the gzipped file exist.
pub fn find_event_file(
    dir: impl AsRef<Path>,
    prefix: &str,
    file: EventFile,
) -> Result<Option<PathBuf>> {
    let dir = dir.as_ref();
    let found: Vec<PathBuf> = [Compression::Plain, Compression::Gzip]
        .into_iter()
        .map(|compression| file.path(dir, prefix, compression))
        .filter(|path| path.is_file())
        .collect();
    match <[PathBuf; 1]>::try_from(found) {
        Ok([path]) => Ok(Some(path)),
        Err(found) if found.is_empty() => Ok(None),
        Err(found) => Err(CoreError::AmbiguousEventFile {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            kind: file.name(),
            found,
        }),
    }
}

/// Reads event `prefix` (e.g. `event000000001`) from `dir`: the hits, and the cells, particles and
/// truth where their files exist (empty otherwise). Each file may be plain or gzipped.
///
/// # Errors
/// [`CoreError::EventPrefix`] for a prefix without an event number,
/// [`CoreError::MissingEventFile`] when there is no hits file,
/// [`CoreError::AmbiguousEventFile`] when a file exists both plain and gzipped, and any error of
/// [`read_hits`] for the files themselves.
pub fn read_event(dir: impl AsRef<Path>, prefix: &str) -> Result<Event> {
    let dir = dir.as_ref();
    let event_id = parse_event_prefix(prefix)?;
    let hits_path = find_event_file(dir, prefix, EventFile::Hits)?.ok_or_else(|| {
        CoreError::MissingEventFile {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            kind: EventFile::Hits.name(),
            expected: [Compression::Plain, Compression::Gzip]
                .into_iter()
                .map(|compression| EventFile::Hits.path(dir, prefix, compression))
                .collect(),
        }
    })?;
    Ok(Event {
        event_id,
        hits: read_records(&hits_path)?,
        cells: read_optional(dir, prefix, EventFile::Cells)?,
        particles: read_optional(dir, prefix, EventFile::Particles)?,
        truth: read_optional(dir, prefix, EventFile::Truth)?,
    })
}

/// The rows of an optional event file, or none when the file does not exist.
fn read_optional<T: Record>(dir: &Path, prefix: &str, file: EventFile) -> Result<Vec<T>> {
    match find_event_file(dir, prefix, file)? {
        Some(path) => read_records(&path),
        None => Ok(Vec::new()),
    }
}

/// Writes `event` to `dir` as plain `.csv` files named by [`event_prefix`]; see
/// [`write_event_with`].
pub fn write_event(dir: impl AsRef<Path>, event: &Event) -> Result<()> {
    write_event_with(dir, event, Compression::Plain)
}

/// Writes `event` to `dir` as the four files `<prefix>-{hits,cells,particles,truth}.csv[.gz]`,
/// all four even when some are empty (a header line only), so that files left by an earlier
/// event of the same id are replaced. Each file is written atomically; the event as a whole is
/// not (a failure can leave the earlier files written).
///
/// A file of the other compression left in `dir` by an earlier write makes [`read_event`] fail
/// with [`CoreError::AmbiguousEventFile`] rather than read stale data.
///
/// # Errors
/// As [`write_hits`].
pub fn write_event_with(
    dir: impl AsRef<Path>,
    event: &Event,
    compression: Compression,
) -> Result<()> {
    let dir = dir.as_ref();
    let prefix = event_prefix(event.event_id);
    let path = |file: EventFile| file.path(dir, &prefix, compression);
    write_hits(path(EventFile::Hits), &event.hits)?;
    write_cells(path(EventFile::Cells), &event.cells)?;
    write_particles(path(EventFile::Particles), &event.particles)?;
    write_truth(path(EventFile::Truth), &event.truth)
}

/// The prefixes of the events in `dir` (those with a hits file), sorted.
///
/// ```no_run
/// for prefix in hepnn_core::io::list_events("data/trackml")? {
///     println!("{prefix}");
/// }
/// # Ok::<(), hepnn_core::CoreError>(())
/// ```
///
/// # Errors
/// [`CoreError::Io`] when `dir` cannot be listed.
pub fn list_events(dir: impl AsRef<Path>) -> Result<Vec<String>> {
    let dir = dir.as_ref();
    let list_error = |source| CoreError::Io {
        path: dir.to_path_buf(),
        action: "list",
        source,
    };
    let mut prefixes = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let entry = entry.map_err(list_error)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let prefix = name
            .strip_suffix("-hits.csv")
            .or_else(|| name.strip_suffix("-hits.csv.gz"));
        if let Some(prefix) = prefix
            && parse_event_prefix(prefix).is_ok()
        {
            prefixes.push(prefix.to_string());
        }
    }
    prefixes.sort();
    prefixes.dedup();
    Ok(prefixes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{HitId, ParticleId};

    fn parse<T: Record>(text: &str) -> Result<Vec<T>> {
        read_records_from(text.as_bytes(), Path::new("test.csv"))
    }

    /// serde writes a struct's fields in declaration order: that order must be `COLUMNS`, since
    /// rows are written under a header made from `COLUMNS`.
    fn assert_columns_match_fields<T: Record>() {
        let header = T::COLUMNS.join(",");
        let ones = vec!["1"; T::COLUMNS.len()].join(",");
        let rows: Vec<T> = parse(&format!("{header}\n{ones}\n")).expect("a row of ones is valid");
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(&rows[0]).expect("a row serializes");
        let bytes = writer.into_inner().expect("writing to a Vec cannot fail");
        let text = String::from_utf8(bytes).expect("CSV of numbers is ASCII");
        assert_eq!(text.lines().next(), Some(header.as_str()));
    }

    #[test]
    fn columns_match_field_order() {
        assert_columns_match_fields::<Hit>();
        assert_columns_match_fields::<Cell>();
        assert_columns_match_fields::<Particle>();
        assert_columns_match_fields::<TruthLink>();
        assert_columns_match_fields::<Module>();
    }

    #[test]
    fn parses_columns_in_any_order_with_extras() {
        let cells: Vec<Cell> = parse("value,extra,ch1,ch0,hit_id\n0.5,x,2,3,7\n").expect("valid");
        assert_eq!(
            cells,
            [Cell {
                hit_id: HitId(7),
                ch0: 3,
                ch1: 2,
                value: 0.5
            }]
        );
    }

    #[test]
    fn particle_type_is_optional() {
        let without: Vec<Particle> =
            parse("particle_id,vx,vy,vz,px,py,pz,q,nhits\n4503668346847232,0,0,0,1,2,3,-1,8\n")
                .expect("valid");
        assert_eq!(without[0].particle_type, None);
        assert_eq!(without[0].particle_id, ParticleId(4_503_668_346_847_232));
        let with: Vec<Particle> =
            parse("particle_id,particle_type,vx,vy,vz,px,py,pz,q,nhits\n1,-211,0,0,0,1,2,3,-1,8\n2,,0,0,0,1,2,3,1,3\n")
                .expect("valid");
        assert_eq!(with[0].particle_type, Some(-211));
        assert_eq!(with[1].particle_type, None);
    }

    #[test]
    fn bad_rows_name_line_and_column() {
        let text = "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,7,2,1\n2,1,oops,3,7,2,1\n";
        let error = parse::<Hit>(text).expect_err("`oops` is not a number");
        assert_eq!(
            error.to_string(),
            "`test.csv`, line 3, column `y`: expected a number, found `oops`"
        );
        let short = "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,3,7\n";
        let error = parse::<Hit>(short).expect_err("two fields are missing");
        assert_eq!(
            error.to_string(),
            "`test.csv`, line 2, column `layer_id`: expected 7 fields as in the header, found 5"
        );
        let nan = "hit_id,x,y,z,volume_id,layer_id,module_id\n1,1,2,NaN,7,2,1\n";
        let error = parse::<Hit>(nan).expect_err("NaN is not finite");
        assert_eq!(
            error.to_string(),
            "`test.csv`, line 2, column `z`: expected a finite number, found NaN"
        );
        let negative = "hit_id,x,y,z,volume_id,layer_id,module_id\n-1,1,2,3,7,2,1\n";
        let error = parse::<Hit>(negative).expect_err("ids are unsigned");
        assert_eq!(
            error.to_string(),
            "`test.csv`, line 2, column `hit_id`: expected an integer, found `-1`"
        );
        let empty = "hit_id,x,y,z,volume_id,layer_id,module_id\n1,,2,3,7,2,1\n";
        let error = parse::<Hit>(empty).expect_err("x is empty");
        assert!(
            error
                .to_string()
                .ends_with("column `x`: expected a number, found an empty field")
        );
    }

    #[test]
    fn missing_column_and_empty_file() {
        let error = parse::<Cell>("hit_id,ch0,value\n1,2,3\n").expect_err("ch1 is missing");
        assert_eq!(
            error.to_string(),
            "`test.csv`: missing column `ch1` (header has: hit_id,ch0,value)"
        );
        let error = parse::<Cell>("").expect_err("no header");
        assert!(matches!(error, CoreError::MissingColumn { ref column, .. } if column == "hit_id"));
        assert_eq!(
            parse::<Cell>("hit_id,ch0,ch1,value\n").expect("no rows"),
            []
        );
    }

    #[test]
    fn event_prefixes() {
        assert_eq!(event_prefix(1), "event000000001");
        assert_eq!(parse_event_prefix("event000001001").expect("valid"), 1001);
        for bad in ["event", "hits000000001", "event12a", "event-1", ""] {
            assert!(parse_event_prefix(bad).is_err(), "{bad}");
        }
    }
}
