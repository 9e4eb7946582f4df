//! Checkpoints: model weights, optimizer state and progress, written atomically after each epoch.
//!
//! Layout under the checkpoint folder:
//!
//! ```text
//! epoch-0003/model.bpk      burn module record (burnpack)
//! epoch-0003/optim.bpk      burn optimizer state (burnpack)
//! epoch-0003/state.json     epoch, optimizer steps, seed, metrics history
//! latest                    the name of the newest complete epoch folder
//! ```
//!
//! An epoch folder is written under a temporary name and renamed when complete; `latest` is then
//! replaced atomically. A crash at any point leaves the previous checkpoint intact and pointed to.
//! The two newest epoch folders are kept.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use super::EpochRecord;
use crate::plot::atomic_write;
use crate::{NnError, Result};

/// Progress saved beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckpointState {
    /// Last completed epoch (1-based).
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub iteration: usize,
    /// The run's seed.
    pub seed: u64,
    /// Metrics of every completed epoch.
    pub history: Vec<EpochRecord>,
}

/// A checkpoint folder.
pub struct Checkpoint {
    dir: PathBuf,
}

impl Checkpoint {
    /// Checkpoints under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder of the checkpoint taken after `state.epoch`.
    pub fn dir_of(&self, state: &CheckpointState) -> PathBuf {
        self.dir.join(epoch_name(state.epoch))
    }

    /// Writes the checkpoint of `state`.
    pub fn save<M: Module + Clone>(
        &self,
        state: &CheckpointState,
        model: &M,
        optimizer: &ModuleOptimizer,
    ) -> Result<()> {
        let name = epoch_name(state.epoch);
        let final_dir = self.dir.join(&name);
        let tmp_dir = self.dir.join(format!(".tmp-{name}-{}", std::process::id()));
        let record_err = |what: &str, e: String| NnError::Checkpoint {
            path: tmp_dir.join(what),
            message: e,
        };
        let _ = std::fs::remove_dir_all(&tmp_dir);
        std::fs::create_dir_all(&tmp_dir).map_err(|e| NnError::io(&tmp_dir, e))?;
        let model_bytes = model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| record_err("model.bpk", format!("{e:?}")))?;
        write_file(&tmp_dir.join("model.bpk"), &model_bytes)?;
        let optim_bytes = optimizer
            .into_bytes()
            .map_err(|e| record_err("optim.bpk", format!("{e:?}")))?;
        write_file(&tmp_dir.join("optim.bpk"), &optim_bytes)?;
        let json = serde_json::to_vec_pretty(state).expect("the state serialises");
        write_file(&tmp_dir.join("state.json"), &json)?;
        let _ = std::fs::remove_dir_all(&final_dir);
        std::fs::rename(&tmp_dir, &final_dir).map_err(|e| NnError::io(&final_dir, e))?;
        atomic_write(&self.dir.join("latest"), name.as_bytes())?;
        self.prune(state.epoch);
        Ok(())
    }

    /// The state of the newest complete checkpoint, or `None` when there is none.
    pub fn latest(&self) -> Result<Option<CheckpointState>> {
        let pointer = self.dir.join("latest");
        let name = match std::fs::read_to_string(&pointer) {
            Ok(name) => name,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(NnError::io(pointer, e)),
        };
        let state_path = self.dir.join(name.trim()).join("state.json");
        let bytes = std::fs::read(&state_path).map_err(|e| NnError::io(&state_path, e))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| NnError::Checkpoint {
                path: state_path,
                message: e.to_string(),
            })
    }

    /// Loads the weights and optimizer state of the checkpoint `state` into `model` and
    /// `optimizer` (built with the same configuration as when saved).
    pub fn load<M: Module>(
        &self,
        state: &CheckpointState,
        model: M,
        optimizer: ModuleOptimizer,
    ) -> Result<(M, ModuleOptimizer)> {
        let dir = self.dir_of(state);
        let model_path = dir.join("model.bpk");
        let model = model
            .try_load_file(&model_path)
            .map_err(|e| NnError::Checkpoint {
                path: model_path,
                message: format!("{e:?}"),
            })?;
        let optim_path = dir.join("optim.bpk");
        let optimizer = optimizer
            .load(&optim_path)
            .map_err(|e| NnError::Checkpoint {
                path: optim_path,
                message: format!("{e:?}"),
            })?;
        Ok((model, optimizer))
    }

    fn prune(&self, epoch: usize) {
        if epoch > 2 {
            for old in 1..=epoch - 2 {
                let _ = std::fs::remove_dir_all(self.dir.join(epoch_name(old)));
            }
        }
    }
}

fn epoch_name(epoch: usize) -> String {
    format!("epoch-{epoch:04}")
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| NnError::io(path, e))
}
