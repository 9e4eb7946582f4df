//! `hepnn`: deep learning for particle physics, from the formal neuron to GNN tracking.
//!
//! Every subcommand takes `--seed` and `--out DIR`, prints a human table on stdout and writes
//! every figure it measured to `DIR/summary.json`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = hepnn_cli::Cli::parse();
    match hepnn_cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
