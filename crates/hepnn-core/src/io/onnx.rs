//! Trained weights from other frameworks: the initializers (weights) of an ONNX model.
//!
//! An `.onnx` file is one protocol-buffers message, `ModelProto` (<https://onnx.ai/onnx/repo-docs/IR.html>,
//! schema `onnx/onnx.proto`); its `graph` holds the operator nodes in order and the
//! `initializer` tensors, named as in the exporting framework (for PyTorch, the `state_dict`
//! names such as `input_network.0.weight`). [`OnnxModel::read`] decodes the file with `prost`
//! from the few message types in [`proto`] — written by hand from the schema, so no `protoc` is
//! needed to build — and keeps the float initializers and the operator types; the graph itself is
//! not executed here: a model of the same architecture written with burn takes the weights.
//!
//! ```no_run
//! let model = hepnn_core::io::onnx::OnnxModel::read("gnn.onnx")?;
//! let weight = model.float_tensor("input_network.0.weight", &[64, 3])?; // row-major [64, 3]
//! println!("{} weights, {} ScatterElements", weight.len(), model.count_ops("ScatterElements"));
//! # Ok::<(), hepnn_core::CoreError>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::error::{CoreError, Result};

/// The subset of the ONNX schema (`onnx.proto`, IR version ≥ 3) needed to read weights.
///
/// Field numbers follow the schema; fields not declared here are skipped while decoding.
pub mod proto {
    /// `ModelProto`: the file's top-level message.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ModelProto {
        /// IR version of the file format.
        #[prost(int64, tag = "1")]
        pub ir_version: i64,
        /// Name of the exporting tool, e.g. `pytorch`.
        #[prost(string, tag = "2")]
        pub producer_name: String,
        /// Version of the exporting tool, e.g. `1.9`.
        #[prost(string, tag = "3")]
        pub producer_version: String,
        /// The computation graph.
        #[prost(message, optional, tag = "7")]
        pub graph: Option<GraphProto>,
        /// Operator sets the graph uses (the default domain `""` is the ONNX opset).
        #[prost(message, repeated, tag = "8")]
        pub opset_import: Vec<OperatorSetIdProto>,
    }

    /// `OperatorSetIdProto`: one imported operator set.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OperatorSetIdProto {
        /// Domain; empty for the default ONNX operators.
        #[prost(string, tag = "1")]
        pub domain: String,
        /// Opset version.
        #[prost(int64, tag = "2")]
        pub version: i64,
    }

    /// `GraphProto`: nodes in topological order and the constant tensors (initializers).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GraphProto {
        /// Operator nodes, in topological order.
        #[prost(message, repeated, tag = "1")]
        pub node: Vec<NodeProto>,
        /// Graph name.
        #[prost(string, tag = "2")]
        pub name: String,
        /// Named constant tensors: the trained weights.
        #[prost(message, repeated, tag = "5")]
        pub initializer: Vec<TensorProto>,
    }

    /// `NodeProto`: one operator application (attributes are not decoded).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NodeProto {
        /// Names of the input values.
        #[prost(string, repeated, tag = "1")]
        pub input: Vec<String>,
        /// Names of the output values.
        #[prost(string, repeated, tag = "2")]
        pub output: Vec<String>,
        /// Node name.
        #[prost(string, tag = "3")]
        pub name: String,
        /// Operator, e.g. `Gemm`, `ScatterElements`.
        #[prost(string, tag = "4")]
        pub op_type: String,
        /// Operator domain; empty for ONNX operators.
        #[prost(string, tag = "7")]
        pub domain: String,
    }

    /// `TensorProto`: a dense tensor, its values either typed (`float_data`, …) or in `raw_data`
    /// (little-endian, row-major).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorProto {
        /// Shape.
        #[prost(int64, repeated, tag = "1")]
        pub dims: Vec<i64>,
        /// Element type (`TensorProto.DataType`): 1 float32, 7 int64, 11 float64, …
        #[prost(int32, tag = "2")]
        pub data_type: i32,
        /// float32 values when not in `raw_data`.
        #[prost(float, repeated, tag = "4")]
        pub float_data: Vec<f32>,
        /// int64 values when not in `raw_data`.
        #[prost(int64, repeated, tag = "7")]
        pub int64_data: Vec<i64>,
        /// Name (the initializer's name).
        #[prost(string, tag = "8")]
        pub name: String,
        /// Values as little-endian bytes.
        #[prost(bytes = "vec", tag = "9")]
        pub raw_data: Vec<u8>,
        /// float64 values when not in `raw_data`.
        #[prost(double, repeated, tag = "10")]
        pub double_data: Vec<f64>,
        /// 0: values in this message; 1: in an external file.
        #[prost(int32, tag = "14")]
        pub data_location: i32,
    }

    /// `TensorProto.DataType.FLOAT`.
    pub const FLOAT: i32 = 1;
    /// `TensorProto.DataType.INT64`.
    pub const INT64: i32 = 7;
    /// `TensorProto.DataType.DOUBLE`.
    pub const DOUBLE: i32 = 11;
    /// `TensorProto.DataLocation.EXTERNAL`.
    pub const EXTERNAL: i32 = 1;
}

/// One initializer: its shape and element type, values kept as in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxTensor {
    /// Shape, e.g. `[64, 3]` for a PyTorch `Linear(3, 64)` weight (`[out, in]`).
    pub dims: Vec<usize>,
    /// ONNX element type (see [`proto::FLOAT`]).
    pub data_type: i32,
    tensor: proto::TensorProto,
}

impl OnnxTensor {
    /// Number of elements, the product of `dims`.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as float32, row-major; float64 tensors are rounded. `Err` holds what is wrong.
    fn to_f32(&self) -> std::result::Result<Vec<f32>, String> {
        let n = self.len();
        let t = &self.tensor;
        let values: Vec<f32> = match self.data_type {
            proto::FLOAT if !t.raw_data.is_empty() => t
                .raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            proto::FLOAT => t.float_data.clone(),
            proto::DOUBLE if !t.raw_data.is_empty() => t
                .raw_data
                .chunks_exact(8)
                .map(|b| {
                    let bytes: [u8; 8] = b.try_into().expect("chunks_exact gives 8 bytes");
                    f64::from_le_bytes(bytes) as f32
                })
                .collect(),
            proto::DOUBLE => t.double_data.iter().map(|&v| v as f32).collect(),
            other => {
                return Err(format!(
                    "expected float32 or float64 values, found ONNX data type {other}"
                ));
            }
        };
        let width = if self.data_type == proto::DOUBLE {
            8
        } else {
            4
        };
        if !t.raw_data.is_empty() && t.raw_data.len() != n * width {
            return Err(format!(
                "raw_data holds {} bytes, expected {} for shape {:?}",
                t.raw_data.len(),
                n * width,
                self.dims
            ));
        }
        if values.len() != n {
            return Err(format!(
                "holds {} values, expected {n} for shape {:?}",
                values.len(),
                self.dims
            ));
        }
        Ok(values)
    }
}

/// What a decoded ONNX file holds that a weight loader needs.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    /// The file read (named in every error).
    pub path: PathBuf,
    /// Exporting tool and version, e.g. `pytorch 1.9`.
    pub producer: String,
    /// Version of the default-domain (ONNX) operator set, when imported.
    pub opset: Option<i64>,
    /// Operator type of every graph node, in order.
    pub op_types: Vec<String>,
    /// Initializers by name.
    pub initializers: BTreeMap<String, OnnxTensor>,
}

impl OnnxModel {
    /// Reads and decodes `path`.
    ///
    /// Errors: the file cannot be read ([`CoreError::Io`]); it is not a protobuf `ModelProto`, has
    /// no graph, or an initializer has a negative dimension, a duplicate name or its values in an
    /// external file ([`CoreError::Onnx`]).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| CoreError::Io {
            path: path.to_path_buf(),
            action: "read",
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Decodes the bytes of an `.onnx` file; `path` is only used in errors.
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let error = |initializer: Option<&str>, message: String| CoreError::Onnx {
            path: path.to_path_buf(),
            initializer: initializer.map(str::to_owned),
            message,
        };
        let model = proto::ModelProto::decode(bytes).map_err(|e| {
            error(
                None,
                format!("not a valid ONNX model (protobuf decoding failed: {e})"),
            )
        })?;
        let graph = model.graph.ok_or_else(|| {
            error(
                None,
                format!(
                    "not an ONNX model: no graph in {} bytes (truncated or not an .onnx file?)",
                    bytes.len()
                ),
            )
        })?;
        let mut initializers = BTreeMap::new();
        for tensor in graph.initializer {
            let name = tensor.name.clone();
            if tensor.data_location == proto::EXTERNAL {
                return Err(error(
                    Some(&name),
                    "values stored in an external data file, which is not supported".into(),
                ));
            }
            let dims = tensor
                .dims
                .iter()
                .map(|&d| usize::try_from(d))
                .collect::<std::result::Result<Vec<usize>, _>>()
                .map_err(|_| {
                    error(
                        Some(&name),
                        format!("negative dimension in {:?}", tensor.dims),
                    )
                })?;
            let onnx_tensor = OnnxTensor {
                dims,
                data_type: tensor.data_type,
                tensor,
            };
            if initializers.insert(name.clone(), onnx_tensor).is_some() {
                return Err(error(Some(&name), "appears twice".into()));
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            producer: format!("{} {}", model.producer_name, model.producer_version)
                .trim()
                .to_owned(),
            opset: model
                .opset_import
                .iter()
                .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
                .map(|o| o.version),
            op_types: graph.node.into_iter().map(|n| n.op_type).collect(),
            initializers,
        })
    }

    /// The initializer `name`, or an error naming it and the file.
    pub fn tensor(&self, name: &str) -> Result<&OnnxTensor> {
        self.initializers
            .get(name)
            .ok_or_else(|| self.error(name, "missing from the model".into()))
    }

    /// The float values (row-major) of initializer `name`, checked to have shape `dims`.
    ///
    /// Errors name the initializer and the file: missing, another shape, not float, or fewer
    /// values than the shape needs.
    pub fn float_tensor(&self, name: &str, dims: &[usize]) -> Result<Vec<f32>> {
        let tensor = self.tensor(name)?;
        if tensor.dims != dims {
            return Err(self.error(
                name,
                format!("expected shape {dims:?}, found {:?}", tensor.dims),
            ));
        }
        tensor.to_f32().map_err(|message| self.error(name, message))
    }

    /// How many graph nodes apply operator `op_type`.
    pub fn count_ops(&self, op_type: &str) -> usize {
        self.op_types.iter().filter(|op| *op == op_type).count()
    }

    /// A [`CoreError::Onnx`] about initializer `name` of this file.
    pub fn error(&self, name: &str, message: String) -> CoreError {
        CoreError::Onnx {
            path: self.path.clone(),
            initializer: Some(name.to_owned()),
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_with(tensors: Vec<proto::TensorProto>) -> Vec<u8> {
        proto::ModelProto {
            ir_version: 6,
            producer_name: "hand".into(),
            producer_version: "1".into(),
            graph: Some(proto::GraphProto {
                node: vec![proto::NodeProto {
                    op_type: "Gemm".into(),
                    ..Default::default()
                }],
                name: "g".into(),
                initializer: tensors,
            }),
            opset_import: vec![proto::OperatorSetIdProto {
                domain: String::new(),
                version: 12,
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn raw_and_typed_floats_round_trip() {
        let raw: Vec<u8> = [1.5f32, -2.0, 0.25, 8.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let bytes = model_with(vec![
            proto::TensorProto {
                dims: vec![2, 2],
                data_type: proto::FLOAT,
                name: "w".into(),
                raw_data: raw,
                ..Default::default()
            },
            proto::TensorProto {
                dims: vec![3],
                data_type: proto::DOUBLE,
                name: "b".into(),
                double_data: vec![1.0, 2.0, 3.0],
                ..Default::default()
            },
        ]);
        let model = OnnxModel::from_bytes(&bytes, "m.onnx").expect("a valid model");
        assert_eq!(model.producer, "hand 1");
        assert_eq!(model.opset, Some(12));
        assert_eq!(model.count_ops("Gemm"), 1);
        assert_eq!(
            model.float_tensor("w", &[2, 2]).expect("float"),
            vec![1.5, -2.0, 0.25, 8.0]
        );
        assert_eq!(
            model.float_tensor("b", &[3]).expect("double"),
            vec![1.0, 2.0, 3.0]
        );
        let wrong = model.float_tensor("w", &[4]).expect_err("wrong shape");
        assert_eq!(
            wrong.to_string(),
            "`m.onnx`: initializer `w`: expected shape [4], found [2, 2]"
        );
        let missing = model.float_tensor("v", &[1]).expect_err("absent");
        assert_eq!(
            missing.to_string(),
            "`m.onnx`: initializer `v`: missing from the model"
        );
    }

    #[test]
    fn short_raw_data_and_garbage_are_errors() {
        let bytes = model_with(vec![proto::TensorProto {
            dims: vec![2],
            data_type: proto::FLOAT,
            name: "w".into(),
            raw_data: vec![0; 4],
            ..Default::default()
        }]);
        let model = OnnxModel::from_bytes(&bytes, "m.onnx").expect("decodes");
        let short = model
            .float_tensor("w", &[2])
            .expect_err("4 bytes for 2 floats");
        assert!(
            short
                .to_string()
                .contains("raw_data holds 4 bytes, expected 8")
        );
        let garbage =
            OnnxModel::from_bytes(b"\xff\xff\xff\xff not onnx", "g.onnx").expect_err("garbage");
        assert!(
            garbage.to_string().contains("not a valid ONNX model"),
            "{garbage}"
        );
        let empty = OnnxModel::from_bytes(b"", "e.onnx").expect_err("empty");
        assert!(empty.to_string().contains("no graph"), "{empty}");
    }
}
