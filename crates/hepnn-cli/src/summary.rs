//! The output contract: a human table on stdout and every figure, named, in `summary.json`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

/// Named figures of one run, in insertion order for the table and sorted in the JSON.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    rows: Vec<(String, Value)>,
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a figure.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.rows.iter_mut().find(|(n, _)| *n == name) {
            Some(row) => row.1 = value,
            None => self.rows.push((name, value)),
        }
    }

    /// The last epoch of a training history: `final_train_loss`, and every extra metric named
    /// `prefix` + its name (nothing for an empty history).
    pub fn set_last_epoch(&mut self, history: &[hepnn_nn::train::EpochRecord], prefix: &str) {
        if let Some(last) = history.last() {
            self.set("final_train_loss", last.train_loss);
            for (name, value) in &last.extra {
                self.set(format!("{prefix}{name}"), *value);
            }
        }
    }

    /// Adds every figure of `other`.
    pub fn extend(&mut self, other: &Summary) {
        for (n, v) in &other.rows {
            self.set(n.clone(), v.clone());
        }
    }

    /// Adds every figure of `other` with its name prefixed (`prefix` + name), unless the name
    /// already starts with the prefix.
    pub fn extend_prefixed(&mut self, prefix: &str, other: &Summary) {
        for (n, v) in &other.rows {
            let name = if n.starts_with(prefix) {
                n.clone()
            } else {
                format!("{prefix}{n}")
            };
            self.set(name, v.clone());
        }
    }

    /// The value of a figure.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.rows.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The figures as a table (two columns).
    pub fn table(&self, title: &str) -> String {
        let width = self
            .rows
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(0)
            .max(6);
        let mut out = format!("{title}\n{}\n", "-".repeat(title.len()));
        for (name, value) in &self.rows {
            let shown = match value {
                Value::Number(n) if n.is_f64() => {
                    let x = n.as_f64().unwrap_or(f64::NAN);
                    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
                        format!("{x:.4e}")
                    } else {
                        format!("{x:.6}")
                    }
                }
                other => other.to_string(),
            };
            out.push_str(&format!("{name:<width$}  {shown}\n"));
        }
        out
    }

    /// The output contract in one call: writes `DIR/summary.json`, then prints the table.
    pub fn report(&self, dir: &Path, title: &str) -> anyhow::Result<()> {
        self.write(dir)?;
        println!("{}", self.table(title));
        Ok(())
    }

    /// Writes `DIR/summary.json` atomically.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let map: BTreeMap<&str, &Value> = self.rows.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let json = serde_json::to_vec_pretty(&map).context("serialising summary.json")?;
        let path = dir.join("summary.json");
        hepnn_nn::plot::atomic_write(&path, &json)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Creates the output folder, with a clear error.
pub fn prepare_out(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating output folder {}", dir.display()))
}
