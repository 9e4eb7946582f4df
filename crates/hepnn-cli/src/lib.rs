//! The `hepnn` command line: argument parsing, the course examples, `demo`, and the shared output
//! contract (`--seed`, `--out DIR`, a table on stdout, `DIR/summary.json`).
#![warn(missing_docs)]

pub mod calo;
pub mod calo_gan;
pub mod course;
pub mod demo;
pub mod device;
pub mod edges;
pub mod inspect;
pub mod neutrino;
pub mod simulate;
pub mod summary;
pub mod tracking;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Deep learning for particle physics: from the formal neuron to GNN track reconstruction.
#[derive(Debug, Parser)]
#[command(name = "hepnn", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand shares.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Seed of every random choice: the same seed gives the same numbers.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output folder (created if needed): summary.json, plots, checkpoints.
    #[arg(long, default_value = "hepnn-out")]
    pub out: PathBuf,
    /// Compute device: cpu (burn flex), cuda or wgpu (when built with that feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// The subcommands (the flattened option groups are documented on their types).
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything hepnn has on embedded defaults and write a report (report.md, plots,
    /// summary.json).
    Demo {
        #[command(flatten)]
        common: Common,
    },
    /// One course topic as a small runnable example.
    Examples {
        /// Which example.
        #[command(subcommand)]
        example: Example,
    },
    /// Train a model.
    Train {
        /// Which model.
        #[command(subcommand)]
        what: TrainWhat,
    },
    /// Evaluate a trained model.
    Evaluate {
        /// Which model.
        #[command(subcommand)]
        what: EvaluateWhat,
    },
    /// Reconstruct tracks with a trained tracking model: TrackML submission CSV
    /// (`event_id,hit_id,track_id`) and per-stage timings.
    Reconstruct {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: tracking::ReconstructOptions,
    },
    /// Read a TrackML event and print what it holds.
    Inspect {
        /// Folder holding the event's CSV files.
        #[arg(long)]
        dir: PathBuf,
        /// Event prefix, e.g. event000000001.
        #[arg(long)]
        event: String,
        #[command(flatten)]
        common: Common,
    },
    /// Simulate TrackML events: generated pile-up or real particles through the TrackML tracker
    /// (`hepnn simulate neutrino`: NOvA-like neutrino interactions instead).
    #[command(args_conflicts_with_subcommands = true)]
    Simulate {
        /// Another simulation than the tracker's.
        #[command(subcommand)]
        what: Option<SimulateWhat>,
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: simulate::SimulateOptions,
    },
}

/// Simulations other than the tracker's.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum SimulateWhat {
    /// νμ CC, νe CC and NC interactions in a NOvA-like two-view detector (events.npz, displays).
    Neutrino {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: neutrino::SimulateNeutrinoOptions,
    },
    /// e−/γ showers of the reference Monte Carlo in the CaloChallenge dataset-2 W/Si
    /// calorimeter (showers.npz in the challenge layout, profiles).
    Calo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: calo::SimulateCaloOptions,
    },
}

/// What `hepnn train` trains.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum TrainWhat {
    /// The interaction-network edge classifier on labelled hit graphs.
    Edges {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: edges::TrainEdgesOptions,
    },
    /// The GNN tracking chain (module map + interaction network) on simulated events, from a
    /// TOML config.
    Tracking {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: tracking::TrainTrackingOptions,
    },
    /// The two-view CNN neutrino event classifier (νμ CC / νe CC / NC).
    Neutrino {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: neutrino::TrainNeutrinoOptions,
    },
    /// A fast calorimeter simulation (the conditional GAN) on reference showers.
    Calo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: calo_gan::TrainCaloOptions,
    },
}

/// What `hepnn evaluate` evaluates.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum EvaluateWhat {
    /// A trained edge classifier on test hit graphs.
    Edges {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: edges::EvaluateEdgesOptions,
    },
    /// A trained tracking model on events with truth: efficiency, fake and duplicate rates,
    /// TrackML score, plots.
    Tracking {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: tracking::ReconstructOptions,
    },
    /// A trained neutrino classifier and the cut-based νe selection on held-out events.
    Neutrino {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: neutrino::EvaluateNeutrinoOptions,
    },
    /// A fast calorimeter simulation against held-out reference showers: classifier AUC/JSD,
    /// separation powers, feature plots, speed against the reference Monte Carlo.
    Calo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: calo_gan::EvaluateCaloOptions,
    },
}

/// The course examples.
#[allow(missing_docs)]
#[derive(Debug, Subcommand)]
pub enum Example {
    /// McCulloch–Pitts neurons: logic gates and a 4-bit adder; the general neuron's activations.
    Neuron {
        #[command(flatten)]
        common: Common,
    },
    /// Convolution filters: horizontal and vertical edge filters on an image and a detector view.
    Filters {
        #[command(flatten)]
        common: Common,
    },
    /// Universal approximation by sums of N shifted ReLUs.
    Approx {
        #[command(flatten)]
        common: Common,
    },
    /// Graph neural network: the karate club's split predicted by a GCN from two labels.
    Karate {
        #[command(flatten)]
        common: Common,
    },
    /// Graph classification: a pT > 3 GeV track trigger from three-hit graphs (EdgeConv + pooling).
    Trigger {
        #[command(flatten)]
        common: Common,
    },
    /// Backpropagation: the worked example by hand, then an MLP that measures track q/pT from
    /// three pixel hits, against the classical circle fit.
    Backprop {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: course::backprop::BackpropOptions,
    },
    /// Vanishing and exploding gradients: ‖∂L/∂h_t‖ against the lag, simple RNN vs LSTM.
    Gradients {
        #[command(flatten)]
        common: Common,
    },
    /// Transformer: French → English on a small grammar ("Je mange un kiwi"), attention maps.
    Translate {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: course::translate::TranslateArgs,
    },
    /// Diffusion model: two moons from noise, DDPM and DDIM samples, energy distance.
    Diffusion {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: course::diffusion::DiffusionArgs,
    },
    /// Diffusion model of calorimeter showers conditioned on the incident energy (DDPM, DDIM).
    CaloDiffusion {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: course::diffusion::CaloDiffusionArgs,
    },
    /// Autoencoders on calorimeter showers: latent map, denoising, anomaly detection.
    Autoencoder {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        options: course::autoencoder::AutoencoderArgs,
    },
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { common } => demo::run(&common),
        Command::Examples { example } => match example {
            Example::Neuron { common } => course::neuron::run(&common).map(|_| ()),
            Example::Approx { common } => course::approx::run(&common).map(|_| ()),
            Example::Filters { common } => course::filters::run(&common).map(|_| ()),
            Example::Karate { common } => course::gnn::run(&common).map(|_| ()),
            Example::Trigger { common } => course::gnn::run_trigger(&common).map(|_| ()),
            Example::Backprop { common, options } => {
                course::backprop::run(&common, &options).map(|_| ())
            }
            Example::Gradients { common } => course::gradients::run(&common).map(|_| ()),
            Example::Diffusion { common, options } => {
                course::diffusion::run(&common, &options).map(|_| ())
            }
            Example::CaloDiffusion { common, options } => {
                course::diffusion::run_calo(&common, &options).map(|_| ())
            }
            Example::Autoencoder { common, options } => {
                course::autoencoder::run(&common, &options).map(|_| ())
            }
            Example::Translate { common, options } => {
                course::translate::run(&common, &options).map(|_| ())
            }
        },
        Command::Train {
            what: TrainWhat::Edges { common, options },
        } => edges::train(&common, &options).map(|_| ()),
        Command::Evaluate {
            what: EvaluateWhat::Edges { common, options },
        } => edges::evaluate(&common, &options).map(|_| ()),
        Command::Train {
            what: TrainWhat::Tracking { common, options },
        } => tracking::train(&common, &options).map(|_| ()),
        Command::Evaluate {
            what: EvaluateWhat::Tracking { common, options },
        } => tracking::evaluate(&common, &options).map(|_| ()),
        Command::Reconstruct { common, options } => {
            tracking::reconstruct(&common, &options).map(|_| ())
        }
        Command::Train {
            what: TrainWhat::Neutrino { common, options },
        } => neutrino::train(&common, &options).map(|_| ()),
        Command::Evaluate {
            what: EvaluateWhat::Neutrino { common, options },
        } => neutrino::evaluate(&common, &options).map(|_| ()),
        Command::Train {
            what: TrainWhat::Calo { common, options },
        } => calo_gan::train(&common, &options).map(|_| ()),
        Command::Evaluate {
            what: EvaluateWhat::Calo { common, options },
        } => calo_gan::evaluate(&common, &options).map(|_| ()),
        Command::Inspect { dir, event, common } => inspect::run(&dir, &event, &common),
        Command::Simulate {
            what: Some(SimulateWhat::Neutrino { common, options }),
            ..
        } => neutrino::simulate(&common, &options).map(|_| ()),
        Command::Simulate {
            what: Some(SimulateWhat::Calo { common, options }),
            ..
        } => calo::simulate(&common, &options).map(|_| ()),
        Command::Simulate {
            what: None,
            common,
            options,
        } => simulate::run(&common, &options).map(|_| ()),
    }
}
