//! Graph neural networks: graphs with node, edge and global features, message passing, and the
//! layers the tracking pipeline builds on.
//!
//! Course slides "réseaux de neurones sur graphes". A graph carries three kinds of information —
//! node features x [N, F], edge features e [E, F_e] with `edge_index` [2, E] (row 0 the source j,
//! row 1 the target i of each edge j → i), and a global vector u [B, F_g] per graph. Information
//! moves by **message passing** (Gilmer et al. 2017, PyG's split):
//!
//! ```text
//! m_ji = φ(x_i, x_j, e_ji)            message      (per edge)
//! a_i  = ⊕_{j ∈ N(i)} m_ji            aggregate    (sum, mean or max over incoming edges)
//! x_i' = γ(x_i, a_i)                  update       (per node)
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`graph`] | [`Graph`]: features, `edge_index`, batching with index offsets and a node→graph vector |
//! | [`aggregate`](mod@aggregate) | [`Aggregation`] sum / mean / max with correct gradients |
//! | [`message_passing`] | the [`MessagePassing`] trait: `message` / `aggregate` / `update` / `propagate` |
//! | [`interaction`] | interaction network (Battaglia et al. 2016), as used for tracking (DeZoort et al. 2021) |
//! | [`gcn`] | graph convolution (Kipf & Welling 2017) |
//! | [`edge_conv`] | EdgeConv (Wang et al. 2019) |
//! | [`graph_network`] | a full GN block updating edges, nodes and the global vector (Battaglia et al. 2018) |
//! | [`heads`] | node, edge and graph classification heads, graph pooling |
//! | [`karate`] | Zachary's karate club (1977), the classic node-classification graph |

pub mod aggregate;
pub mod edge_conv;
pub mod gcn;
pub mod graph;
pub mod graph_network;
pub mod heads;
pub mod interaction;
pub mod karate;
pub mod message_passing;

pub use aggregate::{Aggregation, aggregate};
pub use graph::Graph;
pub use message_passing::MessagePassing;
