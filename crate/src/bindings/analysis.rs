//! The tutorial's analyses for JavaScript: computed on the device, read back once.

use burn::tensor::{Tensor, TensorData};
use wasm_bindgen::prelude::*;

use super::activation::activation_from;
use super::data::{Batch, DeviceSplit};
use super::device::Dev;
use super::train::TrainState;
use super::{Once, js_err};
use crate::analysis;
use crate::train::check_batch;

/// Float arrays still on the device (an analysis' result); `read()` resolves to one
/// `Float32Array` per array, with a single readback.
#[wasm_bindgen]
pub struct Arrays(Once<Vec<Tensor<1>>>);

impl Arrays {
    fn new(arrays: Vec<Tensor<1>>) -> Arrays {
        Arrays(Once::new(arrays))
    }
}

#[wasm_bindgen]
impl Arrays {
    /// Reads the arrays back asynchronously (once).
    #[wasm_bindgen(unchecked_return_type = "Float32Array[]")]
    pub async fn read(&mut self) -> Result<js_sys::Array, JsError> {
        let arrays = self.0.take("this Arrays")?;
        let lens: Vec<usize> = arrays.iter().map(|a| a.dims()[0]).collect();
        let out = js_sys::Array::new();
        if arrays.is_empty() {
            return Ok(out);
        }
        let all = crate::mlp::read_f32(Tensor::cat(arrays, 0))
            .await
            .map_err(js_err)?;
        let mut at = 0;
        for n in lens {
            out.push(&js_sys::Float32Array::from(&all[at..at + n]));
            at += n;
        }
        Ok(out)
    }
}

/// An activation function and its derivative at `xs`, on the device as training computes
/// them: `read()` gives `[f, f']`.
#[wasm_bindgen(js_name = activationCurve)]
pub fn activation_curve(
    device: &Dev,
    #[wasm_bindgen(unchecked_param_type = "Activation")] activation: JsValue,
    xs: &[f32],
) -> Result<Arrays, JsError> {
    let activation = activation_from(activation).map_err(js_err)?;
    let xs = Tensor::from_data(TensorData::new(xs.to_vec(), [xs.len()]), device.device());
    let (f, df) = analysis::activation_curve(&activation, xs);
    Ok(Arrays::new(vec![f, df]))
}

/// Gradient flow: `|dLoss/dKernel|` of every layer (flattened `[in * out]`) for `batch`, under
/// the state's params and activation.
#[wasm_bindgen(js_name = gradientMagnitudes)]
pub fn gradient_magnitudes(state: &TrainState, batch: &Batch) -> Result<Arrays, JsError> {
    let s = &state.0;
    check_batch(&s.config, &batch.0).map_err(js_err)?;
    Ok(Arrays::new(analysis::kernel_gradient_magnitudes(
        &s.params,
        &batch.0,
        &s.config.activation,
    )))
}

/// Every hidden layer's outputs (after the activation) on `batch`, flattened `[n * width]`.
#[wasm_bindgen(js_name = hiddenActivations)]
pub fn hidden_activations(state: &TrainState, batch: &Batch) -> Result<Arrays, JsError> {
    let s = &state.0;
    check_batch(&s.config, &batch.0).map_err(js_err)?;
    let layers =
        analysis::hidden_activations(&s.params, batch.0.images.clone(), &s.config.activation);
    Ok(Arrays::new(
        layers
            .into_iter()
            .map(|h| {
                let [n, w] = h.dims();
                h.reshape([n * w])
            })
            .collect(),
    ))
}

/// Dead neurons: per hidden layer, the fraction of units that output 0 on every example of
/// `split` (one array of one value per layer).
#[wasm_bindgen(js_name = deadFractions)]
pub fn dead_fractions(state: &TrainState, split: &DeviceSplit) -> Result<Arrays, JsError> {
    let s = &state.0;
    let fractions = analysis::dead_fraction_on(&s.params, &split.0, &s.config.activation, 1000)
        .map_err(js_err)?;
    Ok(Arrays::new(fractions))
}

/// Dead neurons over two splits (the training and the validation images: all 60,000 training
/// images, as the notebook counts; pass one split twice for one): per hidden layer, how many
/// units output 0 for every example of both (one array of one value per layer).
#[wasm_bindgen(js_name = deadCounts)]
pub fn dead_counts(
    state: &TrainState,
    first: &DeviceSplit,
    second: &DeviceSplit,
) -> Result<Arrays, JsError> {
    let s = &state.0;
    let counts = analysis::dead_counts_on(
        &s.params,
        &[&first.0, &second.0],
        &s.config.activation,
        1000,
    )
    .map_err(js_err)?;
    Ok(Arrays::new(counts))
}
