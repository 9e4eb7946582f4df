//! The course's first slides as runnable examples, each returning its [`Summary`](crate::summary::Summary).

pub mod approx;
pub mod autoencoder;
pub mod backprop;
pub mod diffusion;
pub mod filters;
pub mod gnn;
pub mod gradients;
pub mod neuron;
pub mod translate;
