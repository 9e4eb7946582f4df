//! PNG plots with plotters (pure Rust: bitmap backend, an embedded DejaVu Sans font, no system
//! library), and atomic file writes shared by everything that saves results.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

use crate::{NnError, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename, so a
/// crash never leaves a half-written file and an existing file survives a failed write.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| NnError::io(tmp, e))
    })
}

/// Runs `write` on a temporary path beside `path` (same extension) and renames the result onto
/// `path`; the temporary file is removed on failure.
pub fn atomic_write_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| NnError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp: PathBuf = dir.join(format!(".tmp-{}-{name}", std::process::id()));
    let result =
        write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| NnError::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

static FONT: Once = Once::new();
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

pub(crate) fn register_font() {
    FONT.call_once(|| {
        // The font is compiled in; failing to parse it is a build defect, not bad input.
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_BYTES)
            .map_err(|_| ())
            .expect("embedded DejaVu Sans parses");
    });
}

/// One curve of a [`LinePlot`].
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// Draw markers at the points instead of a line.
    pub markers: bool,
}

impl Series {
    /// A line through `points`.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            markers: false,
        }
    }

    /// Markers at `points`.
    pub fn markers(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            markers: true,
        }
    }
}

/// A line plot: title, axis labels, curves, optional log-scale y.
#[derive(Debug, Clone, Default)]
pub struct LinePlot {
    /// Title at the top.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// The curves.
    pub series: Vec<Series>,
    /// Logarithmic y axis (non-positive values are dropped).
    pub log_y: bool,
}

impl LinePlot {
    /// A plot with a title and axis labels and no curve yet.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Self::default()
        }
    }

    /// Adds a curve.
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Uses a logarithmic y axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Draws the plot to a PNG file (800×500), atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        register_font();
        let plot_err = |e: String| NnError::Plot {
            path: path.to_path_buf(),
            message: e,
        };
        let finite =
            |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite() && (!self.log_y || p.1 > 0.0);
        let all: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter(finite).copied())
            .collect();
        if all.is_empty() {
            return Err(plot_err("no finite point to draw".into()));
        }
        let (mut x0, mut x1, mut y0, mut y1) = all.iter().fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
        );
        if x1 <= x0 {
            (x0, x1) = (x0 - 0.5, x1 + 0.5);
        }
        if y1 <= y0 {
            (y0, y1) = if self.log_y {
                (y0 / 2.0, y1 * 2.0)
            } else {
                (y0 - 0.5, y1 + 0.5)
            };
        }
        atomic_write_with(path, |tmp| {
            let root = BitMapBackend::new(tmp, (800, 500)).into_drawing_area();
            let draw = || -> std::result::Result<(), Box<dyn std::error::Error + '_>> {
                root.fill(&WHITE)?;
                let mut builder = ChartBuilder::on(&root);
                builder
                    .caption(&self.title, ("sans-serif", 22))
                    .margin(12)
                    .x_label_area_size(45)
                    .y_label_area_size(70);
                if self.log_y {
                    let mut chart =
                        builder.build_cartesian_2d(x0..x1, (y0 * 0.9..y1 * 1.1).log_scale())?;
                    self.draw_chart(&mut chart, finite)?;
                } else {
                    let pad = 0.05 * (y1 - y0);
                    let mut chart = builder.build_cartesian_2d(x0..x1, y0 - pad..y1 + pad)?;
                    self.draw_chart(&mut chart, finite)?;
                }
                root.present()?;
                Ok(())
            };
            draw().map_err(|e| plot_err(e.to_string()))
        })
    }

    /// Axes with their labels, the curves and the legend, on either y scale.
    fn draw_chart<'a, DB, X, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
        finite: impl Fn(&&(f64, f64)) -> bool,
    ) -> std::result::Result<(), Box<dyn std::error::Error + 'a>>
    where
        DB: DrawingBackend + 'a,
        X: Ranged<ValueType = f64> + ValueFormatter<f64> + 'a,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64> + 'a,
    {
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        self.draw_series(chart, finite)?;
        legend(chart)
    }

    fn draw_series<'a, DB, X, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
        finite: impl Fn(&&(f64, f64)) -> bool,
    ) -> std::result::Result<(), Box<dyn std::error::Error + 'a>>
    where
        DB: DrawingBackend + 'a,
        X: Ranged<ValueType = f64> + 'a,
        Y: Ranged<ValueType = f64> + 'a,
    {
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = s.points.iter().filter(&finite).copied().collect();
            let label = s.label.clone();
            if s.markers {
                chart
                    .draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 3, color.filled())),
                    )
                    .map_err(|e| e.to_string())?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            } else {
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
        }
        Ok(())
    }
}

fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> std::result::Result<(), Box<dyn std::error::Error + 'a>>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + 'a,
    Y: Ranged<ValueType = f64> + 'a,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_is_a_png_and_the_write_is_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curve.png");
        LinePlot::new("loss", "epoch", "loss")
            .with(Series::line(
                "train",
                vec![(1.0, 3.0), (2.0, 1.0), (3.0, 0.5)],
            ))
            .with(Series::markers("valid", vec![(1.0, 2.0), (3.0, 0.7)]))
            .log_y()
            .save_png(&path)
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        // Only the PNG is left: no temporary file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Nothing finite to draw is an error naming the file, and the old file survives.
        let err = LinePlot::new("t", "x", "y")
            .with(Series::line("nan", vec![(f64::NAN, 1.0)]))
            .save_png(&path)
            .unwrap_err();
        assert!(err.to_string().contains("curve.png"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }
}
