//! Integration tests of hepnn-nn: parity with PyTorch on the same weights.

mod parity {
    //! LSTM, GRU and multi-head attention outputs and gradients against PyTorch 2.15 (float64
    //! reference) on the same random weights, to 1e-5. The fixtures are written by
    //! `bench/pytorch/make_seq_fixtures.py`; no Python is needed here.

    use burn::module::Param;
    use burn::nn::Linear;
    use burn::prelude::*;
    use burn::tensor::{Gradients, TensorData};
    use hepnn_nn::attention::{MhaInput, MultiHeadAttentionConfig, attention_mask};
    use hepnn_nn::rnn::{GruCellConfig, LstmCellConfig, RecurrentCell};
    use serde_json::Value;

    const TOLERANCE: f32 = 1e-5;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("fixture committed");
        serde_json::from_str(&text).expect("fixture is JSON")
    }

    fn values(v: &Value) -> (Vec<usize>, Vec<f32>) {
        let shape = v["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_u64().expect("dim") as usize)
            .collect();
        let data = v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|x| x.as_f64().expect("number") as f32)
            .collect();
        (shape, data)
    }

    fn tensor<const D: usize>(v: &Value, device: &Device) -> Tensor<D> {
        let (shape, data) = values(v);
        Tensor::from_data(TensorData::new(data, shape), device)
    }

    fn read<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 data")
    }

    fn assert_close<const D: usize>(what: &str, got: Tensor<D>, want: &Value) {
        let (shape, want) = values(want);
        assert_eq!(got.dims().to_vec(), shape, "{what}: shape");
        let got = read(got);
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < TOLERANCE, "{what}: max |hepnn − torch| = {worst:e}");
    }

    /// PyTorch `[out, in]` weights and biases into a burn `Linear` (`[in, out]`).
    fn load_linear(linear: &mut Linear, weight: &Value, bias: &Value, device: &Device) {
        linear.weight = Param::from_tensor(tensor::<2>(weight, device).transpose());
        linear.bias = Some(Param::from_tensor(tensor::<1>(bias, device)));
    }

    /// Loads PyTorch's weights into a cell's two linear maps, runs it, and compares the outputs
    /// and the gradients of L = Σ output ⊙ R.
    fn recurrent_parity<C: RecurrentCell>(
        name: &str,
        mut cell: C,
        linears: fn(&mut C) -> (&mut Linear, &mut Linear),
        f: &Value,
        device: &Device,
    ) {
        let w = &f["weights"];
        {
            let (input, hidden) = linears(&mut cell);
            load_linear(input, &w["weight_ih_l0"], &w["bias_ih_l0"], device);
            load_linear(hidden, &w["weight_hh_l0"], &w["bias_hh_l0"], device);
        }
        let x = tensor::<3>(&f["input"], device).require_grad();
        let (out, _) = cell.run(x.clone(), None, false, None);
        assert_close(&format!("{name} output"), out.clone(), &f["output"]);
        let grads = (out * tensor::<3>(&f["r"], device)).sum().backward();
        assert_close(
            &format!("{name} ∂L/∂x"),
            x.grad(&grads).expect("input grad"),
            &f["grad_input"],
        );
        let (input, hidden) = linears(&mut cell);
        check_weight_grads(
            name,
            [
                (&*input, "weight_ih_l0", "bias_ih_l0"),
                (&*hidden, "weight_hh_l0", "bias_hh_l0"),
            ],
            &grads,
            f,
        );
    }

    fn check_weight_grads(
        name: &str,
        pairs: [(&Linear, &str, &str); 2],
        grads: &Gradients,
        f: &Value,
    ) {
        for (linear, w, b) in pairs {
            let gw = linear.weight.val().grad(grads).expect("weight grad");
            assert_close(&format!("{name} ∂L/∂{w}"), gw.transpose(), &f["grads"][w]);
            let gb = linear
                .bias
                .as_ref()
                .expect("bias")
                .val()
                .grad(grads)
                .expect("bias grad");
            assert_close(&format!("{name} ∂L/∂{b}"), gb, &f["grads"][b]);
        }
    }

    fn sizes(f: &Value) -> (usize, usize) {
        let get = |k: &str| f[k].as_u64().expect("size") as usize;
        (get("d_input"), get("d_hidden"))
    }

    #[test]
    fn lstm_matches_pytorch() {
        let f = fixture("lstm");
        let device = Device::flex().autodiff();
        let (i, h) = sizes(&f);
        let cell = LstmCellConfig::new(i, h).init(&device);
        recurrent_parity("LSTM", cell, |c| (&mut c.input, &mut c.hidden), &f, &device);
    }

    #[test]
    fn gru_matches_pytorch() {
        let f = fixture("gru");
        let device = Device::flex().autodiff();
        let (i, h) = sizes(&f);
        let cell = GruCellConfig::new(i, h).init(&device);
        recurrent_parity("GRU", cell, |c| (&mut c.input, &mut c.hidden), &f, &device);
    }

    #[test]
    fn multi_head_attention_matches_pytorch() {
        let f = fixture("mha");
        let device = Device::flex().autodiff();
        let get = |k: &str| f[k].as_u64().expect("size") as usize;
        let (d, heads) = (get("d_model"), get("n_heads"));
        let mut mha = MultiHeadAttentionConfig::new(d, heads).init(&device);
        let w = &f["weights"];
        let in_w = tensor::<2>(&w["in_proj_weight"], &device);
        let in_b = tensor::<1>(&w["in_proj_bias"], &device);
        for (k, linear) in [&mut mha.query, &mut mha.key, &mut mha.value]
            .into_iter()
            .enumerate()
        {
            linear.weight = Param::from_tensor(in_w.clone().narrow(0, k * d, d).transpose());
            linear.bias = Some(Param::from_tensor(in_b.clone().narrow(0, k * d, d)));
        }
        load_linear(
            &mut mha.output,
            &w["out_proj.weight"],
            &w["out_proj.bias"],
            &device,
        );
        let q = tensor::<3>(&f["query"], &device).require_grad();
        let k = tensor::<3>(&f["key"], &device).require_grad();
        let v = tensor::<3>(&f["value"], &device).require_grad();
        let lengths: Vec<usize> = f["key_lengths"]
            .as_array()
            .expect("lengths")
            .iter()
            .map(|x| x.as_u64().expect("length") as usize)
            .collect();
        let [b, t_q, _] = q.dims();
        let t_k = k.dims()[1];
        let mask = attention_mask(b, t_q, t_k, Some(&lengths), false, &device);
        let (out, _) = mha.forward(MhaInput {
            query: q.clone(),
            key: k.clone(),
            value: v.clone(),
            mask: Some(mask),
        });
        assert_close("MHA output", out.clone(), &f["output"]);
        let grads = (out * tensor::<3>(&f["r"], &device)).sum().backward();
        for (name, t, key) in [
            ("q", &q, "grad_query"),
            ("k", &k, "grad_key"),
            ("v", &v, "grad_value"),
        ] {
            assert_close(
                &format!("MHA ∂L/∂{name}"),
                t.grad(&grads).expect("grad"),
                &f[key],
            );
        }
        let gw: Vec<Tensor<2>> = [&mha.query, &mha.key, &mha.value]
            .iter()
            .map(|l| l.weight.val().grad(&grads).expect("grad").transpose())
            .collect();
        assert_close(
            "MHA ∂L/∂in_proj_weight",
            Tensor::cat(gw, 0),
            &f["grads"]["in_proj_weight"],
        );
        let gb: Vec<Tensor<1>> = [&mha.query, &mha.key, &mha.value]
            .iter()
            .map(|l| {
                l.bias
                    .as_ref()
                    .expect("bias")
                    .val()
                    .grad(&grads)
                    .expect("grad")
            })
            .collect();
        assert_close(
            "MHA ∂L/∂in_proj_bias",
            Tensor::cat(gb, 0),
            &f["grads"]["in_proj_bias"],
        );
        check_weight_grads(
            "MHA",
            [(&mha.output, "out_proj.weight", "out_proj.bias"); 2],
            &grads,
            &f,
        );
    }
}
