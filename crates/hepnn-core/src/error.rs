//! The one error type of `hepnn-core`.
//!
//! Every variant names the file it concerns; errors in a CSV row also name the 1-based line of the
//! file and the column, and say what was expected and what was found.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Result of a fallible `hepnn-core` operation.
pub type Result<T> = std::result::Result<T, CoreError>;

/// Everything that can go wrong reading or writing event data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The operating system refused an operation on a file (open, create, write, rename …).
    #[error("cannot {action} `{}`: {source}", .path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// What was being done, e.g. "open" or "write".
        action: &'static str,
        /// The underlying error.
        source: io::Error,
    },

    /// A `.gz` file is not valid gzip (bad header, corrupt or truncated stream).
    #[error("`{}` is not a valid gzip file: {source}", .path.display())]
    Gzip {
        /// The file concerned.
        path: PathBuf,
        /// The decoder's error.
        source: io::Error,
    },

    /// A CSV row could not be read: wrong number of fields, not a number, invalid UTF-8 …
    #[error("`{}`, line {line}{}: {message}", .path.display(), ColumnSuffix(.column.as_deref()))]
    Csv {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line of the file (the header is line 1).
        line: u64,
        /// Name of the offending column, where known.
        column: Option<String>,
        /// What was expected and what was found.
        message: String,
    },

    /// The header of a CSV file lacks a required column.
    #[error("`{}`: missing column `{column}` ({})", .path.display(), HeaderList(.found))]
    MissingColumn {
        /// The file concerned.
        path: PathBuf,
        /// The required column.
        column: String,
        /// The columns the header does have.
        found: Vec<String>,
    },

    /// A floating-point column holds NaN or ±infinity (read), or a value to be written is not
    /// finite (write).
    #[error(
        "`{}`, line {line}, column `{column}`: expected a finite number, found {value}",
        .path.display()
    )]
    NonFinite {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line of the file (the header is line 1).
        line: u64,
        /// Name of the column.
        column: String,
        /// The value found.
        value: f64,
    },

    /// A file of an event is absent: none of the candidate paths exists.
    #[error("no {kind} file for `{prefix}` in `{}` (looked for {})", .dir.display(), candidates(.expected))]
    MissingEventFile {
        /// The folder searched.
        dir: PathBuf,
        /// The event file prefix, e.g. `event000000001`.
        prefix: String,
        /// Which file: "hits", "cells", "particles" or "truth".
        kind: &'static str,
        /// The paths tried.
        expected: Vec<PathBuf>,
    },

    /// A file of an event exists both plain and gzipped, so which one holds the event is unclear.
    #[error("`{prefix}` has two {kind} files in `{}`: {}; remove one", .dir.display(), candidates(.found))]
    AmbiguousEventFile {
        /// The folder searched.
        dir: PathBuf,
        /// The event file prefix, e.g. `event000000001`.
        prefix: String,
        /// Which file: "hits", "cells", "particles" or "truth".
        kind: &'static str,
        /// The paths found.
        found: Vec<PathBuf>,
    },

    /// An event file prefix does not end in an event number.
    #[error("event prefix `{prefix}`: expected `event` followed by digits, e.g. `event000000001`")]
    EventPrefix {
        /// The prefix given.
        prefix: String,
    },

    /// A numpy `.npz` archive lacks an array or holds one of the wrong type or shape.
    #[error("`{}`: array `{array}`: {message}", .path.display())]
    Npz {
        /// The archive.
        path: PathBuf,
        /// The array's name.
        array: String,
        /// What was expected and what was found.
        message: String,
    },

    /// An HDF5 file cannot be read or written, or lacks a dataset or holds one of the wrong
    /// type or shape.
    #[error("`{}`: HDF5 dataset `{dataset}`: {message}", .path.display())]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The dataset's name (empty for the file itself).
        dataset: String,
        /// What was expected and what was found.
        message: String,
    },

    /// A calorimeter binning XML file (CaloChallenge `binning_dataset_*.xml`) is malformed.
    #[error("`{}`: calorimeter binning: {message}", .path.display())]
    Binning {
        /// The XML file.
        path: PathBuf,
        /// What was expected and what was found.
        message: String,
    },

    /// An ONNX model file cannot be decoded, or one of its initializers (weights) is missing or
    /// not what the loader expects.
    #[error("`{}`: {}{message}", .path.display(), InitializerPrefix(.initializer.as_deref()))]
    Onnx {
        /// The `.onnx` file.
        path: PathBuf,
        /// The initializer concerned, if the error is about one.
        initializer: Option<String>,
        /// What was expected and what was found.
        message: String,
    },
}

/// Formats `, column `name`` or nothing.
struct ColumnSuffix<'a>(Option<&'a str>);

impl fmt::Display for ColumnSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(column) => write!(f, ", column `{column}`"),
            None => Ok(()),
        }
    }
}

/// Formats `initializer `name`: ` or nothing.
struct InitializerPrefix<'a>(Option<&'a str>);

impl fmt::Display for InitializerPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, "initializer `{name}`: "),
            None => Ok(()),
        }
    }
}

/// Formats a header as `header has: a,b,c`, or says that there is none.
struct HeaderList<'a>(&'a [String]);

impl fmt::Display for HeaderList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            write!(f, "the file has no header")
        } else {
            write!(f, "header has: {}", self.0.join(","))
        }
    }
}

/// Formats a list of paths as `` `a`, `b` ``.
fn candidates(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| format!("`{}`", path.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_error_names_file_line_and_column() {
        let error = CoreError::Csv {
            path: PathBuf::from("data/hits.csv"),
            line: 42,
            column: Some("x".into()),
            message: "expected a number, found `abc`".into(),
        };
        assert_eq!(
            error.to_string(),
            "`data/hits.csv`, line 42, column `x`: expected a number, found `abc`"
        );
        let without_column = CoreError::Csv {
            path: PathBuf::from("hits.csv"),
            line: 3,
            column: None,
            message: "bad".into(),
        };
        assert_eq!(without_column.to_string(), "`hits.csv`, line 3: bad");
    }

    #[test]
    fn non_finite_and_missing_column_messages() {
        let error = CoreError::NonFinite {
            path: PathBuf::from("truth.csv"),
            line: 2,
            column: "weight".into(),
            value: f64::NAN,
        };
        assert_eq!(
            error.to_string(),
            "`truth.csv`, line 2, column `weight`: expected a finite number, found NaN"
        );
        let error = CoreError::MissingColumn {
            path: PathBuf::from("hits.csv"),
            column: "z".into(),
            found: vec!["hit_id".into(), "x".into(), "y".into()],
        };
        assert_eq!(
            error.to_string(),
            "`hits.csv`: missing column `z` (header has: hit_id,x,y)"
        );
    }
}
