//! # hepnn-nn — the deep-learning course's networks, on burn
//!
//! One file (or folder) per slide family, in the order the course teaches them:
//!
//! | module | slide | what it holds |
//! |---|---|---|
//! | [`neuron`] | the formal neuron | McCulloch–Pitts neuron, logic gates, a 4-bit adder; the general neuron and its activations |
//! | [`approx`] | universal approximation | a function as a sum of N shifted ReLUs |
//! | [`mlp`] | the multilayer perceptron | [`mlp::MlpConfig`] / [`mlp::Mlp`], parameter counting |
//! | [`backprop`] | backpropagation | the loss ½Σ(ŷ−y)², gradient descent with a learning rate that changes over time |
//! | [`gradcheck`] | checking gradients | central finite differences in float64 against burn's autodiff |
//! | [`cnn`] | convolutional networks | fixed edge filters, conv blocks and pooling, AlexNet- and inception-style configs |
//! | [`rnn`] | recurrent networks | Elman cell, LSTM, GRU (fused gates), stacked and bidirectional over padded batches; vanishing gradients measured |
//! | [`attention`] | attention and the Transformer | scaled dot-product and multi-head attention, encoder/decoder, greedy and beam decoding, the French → English demo |
//! | [`autoencoder`] | autoencoders | dense and convolutional encoder/decoder, reconstruction loss, the variational option (reparameterisation, KL), anomaly score |
//! | [`diffusion`] | diffusion models | noise schedules, ε-prediction loss, DDPM and DDIM sampling, direct and classifier-free conditioning, the two-moons example |
//! | [`train`] | training | the loop every later model uses: progress bar, CSV metrics, plots, checkpoints, resume, NaN guard |
//! | [`kernels`] | (speed) | hand-written CPU kernels with their own backward inside burn's autodiff: the LSTM over a whole sequence, the convolution (+ ReLU + max-pool), GNN message passing (edge MLP, node MLP, scatter) |
//!
//! Models follow burn's layer shape: `FooConfig` → `FooConfig::init(&Device)` → `Foo::forward`.
//! Tensors are burn 0.22 `Tensor<D>` on a [`burn::prelude::Device`]; nothing here is generic over
//! a backend, the device is chosen once by the caller.
//!
//! ```
//! use hepnn_nn::mlp::MlpConfig;
//! // (n+1)p + (p+1)q + (q+1)·2 for n = p = q = 10 and two outputs:
//! assert_eq!(MlpConfig::new(vec![10, 10, 10, 2]).param_count(), 242);
//! ```
#![warn(missing_docs)]

pub mod approx;
pub mod attention;
pub mod autoencoder;
pub mod backprop;
pub mod cnn;
pub mod diffusion;
pub mod error;
pub mod gnn;
pub mod gradcheck;
pub mod kernels;
pub mod mlp;
pub mod neuron;
pub mod plot;
pub mod rnn;
pub mod train;

pub use error::{NnError, Result};
