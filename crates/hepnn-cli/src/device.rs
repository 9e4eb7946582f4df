//! The compute device, chosen once here and passed down.

use anyhow::bail;
use burn::prelude::Device;

/// Parses `--device`: `cpu` is burn's flex backend; `cuda` and `wgpu` need the cargo features of
/// the same names.
pub fn parse(name: &str) -> anyhow::Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(Default::default())),
        "cuda" | "wgpu" => bail!(
            "--device {name}: this hepnn was built without the `{name}` feature; rebuild with \
             `cargo run --release -p hepnn-cli --features {name} -- ...`"
        ),
        other => bail!("--device {other}: unknown device; expected cpu, cuda or wgpu"),
    }
}
