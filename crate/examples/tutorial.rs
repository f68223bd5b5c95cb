//! The tutorial, from the command line: its protocol and table (each activation trained on
//! FashionMNIST: a 50k/10k train/val split, batch 256, SGD 1e-2 momentum 0.9, up to 50 epochs,
//! early stopping with patience 7 on validation accuracy, then the test accuracy of the
//! best-validation epoch, beside both published columns) and its experiments on any network:
//! dead neurons, gradient magnitudes and activation statistics per layer, at initialisation and
//! after training, over several seeds.
//!
//! ```sh
//! cargo run --release -p actlab --example tutorial -- [--epochs N] [--activations a,b,...]
//!     [--formula 'name:formula;param=value'] [--hidden 512,256,256,128] [--device flex|wgpu]
//!     [--seed S] [--seeds N] [--init tutorial|torch_default|lecun_uniform]
//!     [--prng legacy|default] [--val-size N] [--dead-neurons] [--gradients]
//!     [--activation-stats] [--json]
//! ```
//!
//! The defaults are the notebook's: its network, its init (every Dense kernel and bias from
//! U(±1/sqrt(fan_in))), its PRNG (JAX before 0.5: `--prng legacy`) and seed 42, each model
//! initialised from the root key itself (`net.init(PRNGKey(42), ...)`), so the initial
//! parameters are the notebook's. Keys: the train/val split from `key(0)` (the page's default
//! split); seed s's model from `key(s)` in the chosen mode; the batch order from the second
//! key of `split(key(first seed), 2)`, epoch e's from `fold_in(order, e)`: with `--seeds N` the
//! seeds s, s+1, ... differ in their initial parameters and share the batches (so on `wgpu`
//! all 6 x N models train in one compiled stack). `--val-size 0` trains on all 60,000 images
//! with no validation (no early stopping: the last epoch is tested) and counts dead neurons over
//! all of them. On `flex` (CPU) each model trains through the Burn path. `FASHION_MNIST_DIR`
//! points at the four `.gz` files. `--json` prints one JSON object per model (and, with several
//! seeds, one summary per activation), each on its own line.

use actlab::Error;
use actlab::activation::{Activation, Builtin};
use actlab::analysis;
use actlab::data::{Batch, Dataset, DeviceDataset, FashionMnist, train_val_split_sized};
use actlab::device;
use actlab::init::{BiasInit, KernelInit};
use actlab::jit::{self, Program, StackState};
use actlab::mlp::{MlpConfig, read_f32};
use actlab::prng::{Key, Mode, fold_in, key, split};
use actlab::train::{self, TrainConfig, TrainState};
use burn::tensor::{Device, Tensor};
use serde_json::{Value, json};

const BATCH: usize = 256;
const PATIENCE: usize = 7;
/// Images for the gradient and activation statistics (the notebook's small loaders).
const GRADIENT_IMAGES: usize = 256;
const ACTIVATION_IMAGES: usize = 1024;
const BINS: usize = 40;
/// The most seeds one run trains.
pub const MAX_SEEDS: usize = 16;
/// Test accuracy above which a model has escaped random performance (10%).
pub const ESCAPED: f64 = 0.2;

/// The tutorial's published test accuracy (%) of the JAX and the PyTorch notebooks (both
/// with PyTorch's default init), for its six activations.
fn published(a: &Activation) -> Option<(f64, f64)> {
    Some(match a.as_builtin()? {
        Builtin::Sigmoid => (78.46, 10.00),
        Builtin::Tanh => (88.57, 87.59),
        Builtin::Relu => (88.65, 88.62),
        Builtin::LeakyRelu => (88.33, 88.92),
        Builtin::Elu => (88.32, 87.27),
        Builtin::Swish => (88.33, 88.73),
        _ => return None,
    })
}

/// Which initializers: the kernels' and the biases'.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    Tutorial,
    TorchDefault,
    LecunUniform,
}

impl Init {
    fn pair(self) -> (KernelInit, BiasInit) {
        match self {
            Init::Tutorial => (KernelInit::Tutorial, BiasInit::Tutorial),
            Init::TorchDefault => (KernelInit::TorchDefault, BiasInit::FanInUniform),
            Init::LecunUniform => (KernelInit::LecunUniform, BiasInit::Zeros),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub epochs: usize,
    pub activations: Vec<Activation>,
    pub hidden: Vec<usize>,
    pub gpu: bool,
    pub seed: u64,
    pub seeds: usize,
    pub init: Init,
    pub prng: Mode,
    pub val_size: usize,
    pub dead_neurons: bool,
    pub gradients: bool,
    pub activation_stats: bool,
    pub json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            epochs: 50,
            activations: Activation::tutorial(),
            hidden: MlpConfig::default().hidden,
            gpu: false,
            seed: 42,
            seeds: 1,
            init: Init::Tutorial,
            prng: Mode::Legacy,
            val_size: 10_000,
            dead_neurons: false,
            gradients: false,
            activation_stats: false,
            json: false,
        }
    }
}

pub const USAGE: &str = "usage: tutorial [--epochs N] [--activations a,b] [--formula 'name:formula;p=v'] [--hidden 512,256,256,128] [--device flex|wgpu] [--seed S] [--seeds N] [--init tutorial|torch_default|lecun_uniform] [--prng legacy|default] [--val-size N] [--dead-neurons] [--gradients] [--activation-stats] [--json]";

/// `name:formula;param=value;...`, as the page's URL carries a formula.
fn formula(text: &str) -> Result<Activation, String> {
    let (name, rest) = text.split_once(':').ok_or(format!(
        "--formula takes name:formula;param=value, got {text:?}"
    ))?;
    let mut parts = rest.split(';');
    let formula = parts.next().unwrap_or_default();
    let params = parts
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or(format!("parameter {p:?} is not name=value"))?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| format!("parameter {p:?} is not name=number"))?;
            Ok((k.trim().to_string(), v))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Activation::new(name.trim(), formula.trim(), params).map_err(|e| e.to_string())
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut custom = Vec::new();
    let mut named: Option<Vec<Activation>> = None;
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let whole = |v: String, what: &str| -> Result<usize, String> {
            v.parse()
                .map_err(|_| format!("{what} takes a whole number, got {v:?}"))
        };
        match flag.as_str() {
            "--epochs" => o.epochs = whole(value()?, "--epochs")?,
            "--activations" => {
                named = Some(
                    value()?
                        .split(',')
                        .map(|a| a.parse::<Activation>().map_err(|e| e.to_string()))
                        .collect::<Result<_, _>>()?,
                )
            }
            "--formula" => custom.push(formula(&value()?)?),
            "--hidden" => {
                o.hidden = value()?
                    .split(',')
                    .map(|h| whole(h.trim().to_string(), "--hidden"))
                    .collect::<Result<_, _>>()?
            }
            "--device" => {
                o.gpu = match value()?.as_str() {
                    "wgpu" => true,
                    "flex" => false,
                    d => return Err(format!("--device is flex or wgpu, not {d:?}")),
                }
            }
            "--seed" => {
                o.seed = value()?
                    .parse()
                    .map_err(|_| "--seed takes a whole number")?
            }
            "--seeds" => {
                o.seeds = whole(value()?, "--seeds")?;
                if !(1..=MAX_SEEDS).contains(&o.seeds) {
                    return Err(format!("--seeds takes 1 to {MAX_SEEDS}"));
                }
            }
            "--init" => {
                o.init = match value()?.as_str() {
                    "tutorial" => Init::Tutorial,
                    "torch_default" => Init::TorchDefault,
                    "lecun_uniform" => Init::LecunUniform,
                    i => {
                        return Err(format!(
                            "--init is tutorial, torch_default or lecun_uniform, not {i:?}"
                        ));
                    }
                }
            }
            "--prng" => {
                o.prng = match value()?.as_str() {
                    "legacy" => Mode::Legacy,
                    "default" => Mode::Partitionable,
                    p => return Err(format!("--prng is legacy or default, not {p:?}")),
                }
            }
            "--val-size" => o.val_size = whole(value()?, "--val-size")?,
            "--dead-neurons" => o.dead_neurons = true,
            "--gradients" => o.gradients = true,
            "--activation-stats" => o.activation_stats = true,
            "--json" => o.json = true,
            f => return Err(format!("unknown argument {f:?}")),
        }
    }
    if named.is_some() || !custom.is_empty() {
        o.activations = named.unwrap_or_default();
        o.activations.extend(custom);
    }
    if o.activations.is_empty() {
        return Err("no activation to train".into());
    }
    Ok(o)
}

/// Mean, standard deviation and a histogram of some values.
#[derive(Clone, Debug)]
pub struct Stats {
    pub mean: f64,
    pub std: f64,
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<usize>,
}

impl Stats {
    pub fn of(values: &[f32]) -> Stats {
        let n = values.len().max(1) as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let finite = values.iter().filter(|v| v.is_finite());
        let lo = finite.clone().fold(f64::INFINITY, |m, &v| m.min(v as f64));
        let hi = finite.fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let mut counts = vec![0; BINS];
        if lo.is_finite() {
            let width = (hi - lo).max(f64::MIN_POSITIVE);
            for &v in values.iter().filter(|v| v.is_finite()) {
                let b = (((v as f64 - lo) / width) * BINS as f64) as usize;
                counts[b.min(BINS - 1)] += 1;
            }
        }
        Stats {
            mean,
            std: var.sqrt(),
            lo,
            hi,
            counts,
        }
    }

    fn json(&self, layer: usize) -> Value {
        json!({ "layer": layer, "mean": self.mean, "std": self.std,
                "histogram": { "lo": self.lo, "hi": self.hi, "counts": self.counts } })
    }
}

/// What the experiments measured of one model at one moment.
#[derive(Clone, Debug, Default)]
pub struct Measures {
    /// Per hidden layer, units that output 0 on every training image.
    pub dead_neurons: Option<Vec<usize>>,
    /// Per kernel: |dLoss/dKernel| on `GRADIENT_IMAGES` training images (the histogram of
    /// log10 |g|).
    pub gradients: Option<Vec<(Stats, Stats)>>,
    /// Per hidden layer: the outputs on `ACTIVATION_IMAGES` training images.
    pub activation_stats: Option<Vec<Stats>>,
}

impl Measures {
    fn fields(&self, suffix: &str, out: &mut serde_json::Map<String, Value>) {
        if let Some(d) = &self.dead_neurons {
            out.insert(format!("dead_neurons{suffix}"), json!(d));
        }
        if let Some(g) = &self.gradients {
            let v: Vec<Value> = g
                .iter()
                .enumerate()
                .map(|(l, (abs, log))| {
                    json!({ "layer": l + 1, "mean_abs": abs.mean, "std_abs": abs.std,
                            "histogram_log10_abs": { "lo": log.lo, "hi": log.hi, "counts": log.counts } })
                })
                .collect();
            out.insert(format!("gradients{suffix}"), Value::Array(v));
        }
        if let Some(a) = &self.activation_stats {
            let v = a.iter().enumerate().map(|(l, s)| s.json(l + 1)).collect();
            out.insert(format!("activation_stats{suffix}"), Value::Array(v));
        }
    }
}

/// One model's result.
#[derive(Clone, Debug)]
pub struct Row {
    pub activation: Activation,
    pub seed: u64,
    /// 1-based; the epoch whose params are tested (none without training).
    pub best_epoch: Option<usize>,
    pub epochs_run: usize,
    pub val_accuracy: Option<f64>,
    pub test_accuracy: Option<f64>,
    /// At initialisation, and after training (when there was any).
    pub init: Measures,
    pub trained: Option<Measures>,
}

fn pct(x: Option<f64>) -> Value {
    x.map_or(Value::Null, |v| json!((v * 1e6).round() / 1e4))
}

impl Row {
    pub fn json(&self) -> String {
        let (jax, torch) = published(&self.activation).unzip();
        let mut out = serde_json::Map::new();
        out.insert("activation".into(), json!(self.activation.name()));
        out.insert("formula".into(), json!(self.activation.formula()));
        out.insert("seed".into(), json!(self.seed));
        out.insert("best_epoch".into(), json!(self.best_epoch));
        out.insert("epochs_run".into(), json!(self.epochs_run));
        out.insert("val_accuracy".into(), pct(self.val_accuracy));
        out.insert("test_accuracy".into(), pct(self.test_accuracy));
        out.insert("published_jax".into(), json!(jax));
        out.insert("published_torch".into(), json!(torch));
        // The measures of the final state under the plain names; at init with `_init` too.
        match &self.trained {
            Some(t) => {
                t.fields("", &mut out);
                self.init.fields("_init", &mut out);
            }
            None => self.init.fields("", &mut out),
        }
        Value::Object(out).to_string()
    }
}

/// The seeds of one activation: mean, min, max of their test accuracies, and how many escaped
/// random performance (above 20%).
#[derive(Clone, Debug)]
pub struct Summary {
    pub activation: String,
    pub seeds: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub escaped: usize,
    pub published: Option<(f64, f64)>,
}

pub fn summaries(rows: &[Row]) -> Vec<Summary> {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.activation.name()) {
            names.push(r.activation.name());
        }
    }
    names
        .into_iter()
        .filter_map(|n| {
            let of: Vec<&Row> = rows.iter().filter(|r| r.activation.name() == n).collect();
            let acc: Vec<f64> = of.iter().filter_map(|r| r.test_accuracy).collect();
            (!acc.is_empty()).then(|| Summary {
                activation: n.to_string(),
                seeds: acc.len(),
                mean: acc.iter().sum::<f64>() / acc.len() as f64,
                min: acc.iter().cloned().fold(f64::INFINITY, f64::min),
                max: acc.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                escaped: acc.iter().filter(|&&a| a > ESCAPED).count(),
                published: published(&of[0].activation),
            })
        })
        .collect()
}

impl Summary {
    pub fn json(&self) -> String {
        let (jax, torch) = self.published.unzip();
        json!({ "summary": self.activation, "seeds": self.seeds,
                "test_accuracy_mean": (self.mean * 1e6).round() / 1e4,
                "test_accuracy_min": (self.min * 1e6).round() / 1e4,
                "test_accuracy_max": (self.max * 1e6).round() / 1e4,
                "escaped_random": self.escaped, "published_jax": jax, "published_torch": torch })
        .to_string()
    }
}

/// What trains the models one epoch at a time: the compiled stack or the Burn path.
trait Engine {
    /// One epoch in `order`; each model's mean training loss.
    fn epoch(&mut self, order: Key) -> Result<Vec<f64>, Error>;
    /// Each model's validation accuracy.
    fn val_accuracy(&mut self) -> Result<Vec<f64>, Error>;
    /// Model k's current state on the Burn path (kept as its best).
    fn snapshot(&mut self, k: usize) -> Result<TrainState, Error>;
    /// The device snapshots live on.
    fn device(&self) -> &Device;
}

/// Accuracy over a split in chunks of 1000, on the Burn path.
fn accuracy(state: &TrainState, data: &DeviceDataset) -> Result<f64, Error> {
    let mut metrics = Vec::new();
    let mut sizes = Vec::new();
    for start in (0..data.len()).step_by(1000) {
        let n = 1000.min(data.len() - start);
        metrics.push(train::eval_step(state, &data.range(start, n)?)?);
        sizes.push(n as f64);
    }
    let read = pollster::block_on(train::read_metrics(metrics))?;
    let total: f64 = sizes.iter().sum();
    Ok(read
        .iter()
        .zip(&sizes)
        .map(|(m, n)| m.accuracy as f64 * n)
        .sum::<f64>()
        / total)
}

struct BurnPath {
    device: Device,
    states: Vec<TrainState>,
    train: DeviceDataset,
    val: DeviceDataset,
}

impl Engine for BurnPath {
    fn epoch(&mut self, order: Key) -> Result<Vec<f64>, Error> {
        let epoch = self.train.epoch_order(order, BATCH)?;
        let mut means = Vec::new();
        for state in &mut self.states {
            let mut metrics = Vec::new();
            for i in 0..epoch.batches() {
                let batch = self.train.gather(epoch.batch_indices(i)?);
                let (next, m) = train::train_step(state, &batch)?;
                *state = next;
                metrics.push(m);
            }
            let read = pollster::block_on(train::read_metrics(metrics))?;
            means.push(read.iter().map(|m| m.loss as f64).sum::<f64>() / read.len() as f64);
        }
        Ok(means)
    }

    fn val_accuracy(&mut self) -> Result<Vec<f64>, Error> {
        self.states.iter().map(|s| accuracy(s, &self.val)).collect()
    }

    fn snapshot(&mut self, k: usize) -> Result<TrainState, Error> {
        Ok(self.states[k].clone())
    }

    fn device(&self) -> &Device {
        &self.device
    }
}

/// Models in compiled stacks: one for all where the device holds it, else as few as fit.
struct Compiled {
    gpu: device::Gpu,
    stacks: Vec<Option<StackState>>,
    train: jit::Data,
    val: jit::Data,
}

impl Compiled {
    /// Stack `s` and the index in it of model `k`.
    fn find(&self, k: usize) -> (usize, usize) {
        let mut k = k;
        for (s, st) in self.stacks.iter().enumerate() {
            let n = st.as_ref().map_or(0, |st| st.models());
            if k < n {
                return (s, k);
            }
            k -= n;
        }
        (0, 0)
    }
}

impl Engine for Compiled {
    fn epoch(&mut self, order: Key) -> Result<Vec<f64>, Error> {
        let epoch = self.train.epoch(order, BATCH)?;
        let batches = (0..epoch.batches())
            .map(|i| epoch.batch(i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        for slot in &mut self.stacks {
            let state = slot.take().expect("a stack between epochs");
            let (state, metrics) = jit::train_steps(state, &batches)?;
            *slot = Some(state);
            let read = pollster::block_on(jit::read_metrics(&metrics))?;
            let k = read[0].len();
            out.extend(
                (0..k).map(|m| {
                    read.iter().map(|s| s[m].loss as f64).sum::<f64>() / read.len() as f64
                }),
            );
        }
        Ok(out)
    }

    fn val_accuracy(&mut self) -> Result<Vec<f64>, Error> {
        let chunks = self.val.chunks(BATCH)?;
        let n = self.val.len() as f64;
        let mut out = Vec::new();
        for state in self.stacks.iter().flatten() {
            let read = pollster::block_on(jit::read_metrics(&jit::eval_steps(state, &chunks)?))?;
            out.extend((0..state.models()).map(|m| {
                read.iter()
                    .zip(&chunks)
                    .map(|(r, c)| r[m].accuracy as f64 * c.len() as f64)
                    .sum::<f64>()
                    / n
            }));
        }
        Ok(out)
    }

    fn snapshot(&mut self, k: usize) -> Result<TrainState, Error> {
        let (s, m) = self.find(k);
        let state = self.stacks[s].as_ref().expect("a stack between epochs");
        Ok(pollster::block_on(state.model(m))?.restore(&self.gpu.device))
    }

    fn device(&self) -> &Device {
        &self.gpu.device
    }
}

/// Compiles `configs` into as few stacks as the device holds (one, where it can).
fn compile_stacks(
    h: &device::Handles,
    configs: &[TrainConfig],
    keys: &[Key],
) -> Result<Vec<Option<StackState>>, Error> {
    let mut per = configs.len().min(jit::MAX_MODELS);
    loop {
        let built: Result<Vec<_>, Error> = configs
            .chunks(per)
            .zip(keys.chunks(per))
            .map(|(c, k)| {
                Ok(Some(StackState::init(
                    &Program::compile(h, c, BATCH, None)?,
                    k,
                )?))
            })
            .collect();
        match built {
            Err(Error::Config(m)) if per > 1 && m.contains("needs") => per = per.div_ceil(2),
            other => return other,
        }
    }
}

/// The experiments' measures of `state` (the flags say which).
fn measure(
    o: &Options,
    state: &TrainState,
    train: &DeviceDataset,
    small: &Dataset,
) -> Result<Measures, Error> {
    let dev = state.params.layers[0].kernel.device();
    let act = &state.config.activation;
    let read = |t: Tensor<1>| pollster::block_on(read_f32(t));
    let batch = |n: usize| -> Result<Batch, Error> {
        let idx: Vec<u32> = (0..n.min(small.len()) as u32).collect();
        Ok(small.batch(&idx, &dev)?)
    };
    let mut m = Measures::default();
    if o.dead_neurons {
        let counts = analysis::dead_counts_on(&state.params, &[train], act, 1000)?;
        m.dead_neurons = Some(
            counts
                .into_iter()
                .map(|c| read(c).map(|v| v[0].round() as usize))
                .collect::<Result<_, _>>()?,
        );
    }
    if o.gradients {
        let grads =
            analysis::kernel_gradient_magnitudes(&state.params, &batch(GRADIENT_IMAGES)?, act);
        m.gradients = Some(
            grads
                .into_iter()
                .map(|g| {
                    let g = read(g)?;
                    let logs: Vec<f32> = g.iter().map(|v| v.log10()).collect();
                    Ok((Stats::of(&g), Stats::of(&logs)))
                })
                .collect::<Result<_, Error>>()?,
        );
    }
    if o.activation_stats {
        let layers =
            analysis::hidden_activations(&state.params, batch(ACTIVATION_IMAGES)?.images, act);
        m.activation_stats = Some(
            layers
                .into_iter()
                .map(|h| {
                    let [n, w] = h.dims();
                    Ok(Stats::of(&read(h.reshape([n * w]))?))
                })
                .collect::<Result<_, Error>>()?,
        );
    }
    Ok(m)
}

/// Runs the protocol and the experiments on `data`; `progress` gets one line per epoch.
pub fn run(
    o: &Options,
    data: &FashionMnist,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Row>, Error> {
    let (train_split, val_split) = train_val_split_sized(&data.train, key(0), o.val_size);
    let seeds: Vec<u64> = (0..o.seeds as u64).map(|i| o.seed + i).collect();
    let root = |s: u64| key(s).with_mode(o.prng);
    let order_key = split(root(o.seed), 2)[1];
    let (kernel_init, bias_init) = o.init.pair();
    let mlp = MlpConfig {
        hidden: o.hidden.clone(),
        ..MlpConfig::default()
    };
    // Model k: activation k / seeds, seed k % seeds.
    let models: Vec<(Activation, u64)> = o
        .activations
        .iter()
        .flat_map(|a| seeds.iter().map(move |&s| (a.clone(), s)))
        .collect();
    let configs: Vec<TrainConfig> = models
        .iter()
        .map(|(activation, _)| TrainConfig {
            mlp: mlp.clone(),
            activation: activation.clone(),
            kernel_init,
            bias_init,
            ..TrainConfig::default()
        })
        .collect();
    let keys: Vec<Key> = models.iter().map(|m| root(m.1)).collect();
    let mut engine: Box<dyn Engine> = if o.gpu {
        let gpu = pollster::block_on(device::shared_gpu())?;
        let h = gpu.handles()?.clone();
        Box::new(Compiled {
            stacks: if o.epochs > 0 {
                compile_stacks(&h, &configs, &keys)?
            } else {
                Vec::new()
            },
            train: jit::Data::upload(&h, &train_split)?,
            val: jit::Data::upload(
                &h,
                if val_split.is_empty() {
                    &train_split
                } else {
                    &val_split
                },
            )?,
            gpu,
        })
    } else {
        let dev = device::cpu();
        Box::new(BurnPath {
            states: if o.epochs > 0 {
                configs
                    .iter()
                    .zip(&keys)
                    .map(|(c, &k)| TrainState::init(k, c.clone(), &dev))
                    .collect::<Result<_, _>>()?
            } else {
                Vec::new()
            },
            train: DeviceDataset::upload(&train_split, &dev),
            val: DeviceDataset::upload(
                if val_split.is_empty() {
                    &train_split
                } else {
                    &val_split
                },
                &dev,
            ),
            device: dev,
        })
    };
    let dev = engine.device().clone();
    let measuring = o.dead_neurons || o.gradients || o.activation_stats;
    let train_on_device = measuring.then(|| DeviceDataset::upload(&train_split, &dev));
    let small = train_split.first(ACTIVATION_IMAGES.max(GRADIENT_IMAGES));
    let measured = |state: &TrainState| -> Result<Measures, Error> {
        match &train_on_device {
            Some(t) => measure(o, state, t, &small),
            None => Ok(Measures::default()),
        }
    };
    // At initialisation (`TrainState::init` is what a stack's model starts from).
    let init: Vec<Measures> = configs
        .iter()
        .zip(&keys)
        .map(|(c, &k)| measured(&TrainState::init(k, c.clone(), &dev)?))
        .collect::<Result<_, _>>()?;

    let k = configs.len();
    let validated = !val_split.is_empty();
    let mut best: Vec<Option<(usize, f64, TrainState)>> = vec![None; k];
    let mut stopped = vec![0usize; k];
    let label = |m: usize| {
        if o.seeds > 1 {
            format!("{}/{}", models[m].0.name(), models[m].1)
        } else {
            models[m].0.name().to_string()
        }
    };
    for epoch in 1..=o.epochs {
        if stopped.iter().all(|&s| s > 0) {
            break;
        }
        let start = std::time::Instant::now();
        let losses = engine.epoch(fold_in(order_key, epoch as u32))?;
        let val = if validated {
            engine.val_accuracy()?
        } else {
            vec![f64::NAN; k]
        };
        let mut line = format!("epoch {epoch:>2} ({:.1} s):", start.elapsed().as_secs_f64());
        for m in 0..k {
            if stopped[m] > 0 {
                line += &format!("  {} stopped", label(m));
                continue;
            }
            let improved = !validated || best[m].as_ref().is_none_or(|b| val[m] > b.1);
            if improved {
                best[m] = Some((epoch, val[m], engine.snapshot(m)?));
            } else if epoch - best[m].as_ref().map_or(0, |b| b.0) >= PATIENCE {
                stopped[m] = epoch;
            }
            line += &format!(
                "  {} loss {:.4} val {:.2}%",
                label(m),
                losses[m],
                100.0 * val[m]
            );
        }
        progress(&line);
    }
    let test = DeviceDataset::upload(&data.test, &dev);
    models
        .iter()
        .zip(init)
        .enumerate()
        .map(|(m, ((activation, seed), init))| {
            let trained = best[m].take();
            let (best_epoch, val_accuracy, test_accuracy, trained) = match trained {
                Some((e, v, state)) => (
                    Some(e),
                    validated.then_some(v),
                    Some(accuracy(&state, &test)?),
                    Some(measured(&state)?),
                ),
                None => (None, None, None, None),
            };
            Ok(Row {
                activation: activation.clone(),
                seed: *seed,
                best_epoch,
                epochs_run: if stopped[m] > 0 { stopped[m] } else { o.epochs },
                val_accuracy,
                test_accuracy,
                init,
                trained,
            })
        })
        .collect()
}

fn cell(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.2}%", 100.0 * v))
}

/// The table: one row per model and, with several seeds, one per activation over its seeds,
/// beside both published columns.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| activation | seed | best epoch (of run) | val accuracy | test accuracy | published JAX | difference | published PyTorch |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (jax, torch) = published(&r.activation).unzip();
        let diff = match (jax, r.test_accuracy) {
            (Some(j), Some(t)) => format!("{:+.2}", 100.0 * t - j),
            _ => "–".into(),
        };
        s += &format!(
            "| {} | {} | {} ({}) | {} | {} | {} | {diff} | {} |\n",
            r.activation.name(),
            r.seed,
            r.best_epoch.map_or("–".into(), |e| e.to_string()),
            r.epochs_run,
            cell(r.val_accuracy),
            cell(r.test_accuracy),
            jax.map_or("–".into(), |v| format!("{v:.2}%")),
            torch.map_or("–".into(), |v| format!("{v:.2}%"))
        );
    }
    let sums = summaries(rows);
    if sums.iter().any(|x| x.seeds > 1) {
        s += "\n| activation | seeds | test accuracy mean | min | max | escaped random (> 20%) | published JAX | published PyTorch |\n|---|---|---|---|---|---|---|---|\n";
        for x in sums {
            let (jax, torch) = x.published.unzip();
            s += &format!(
                "| {} | {} | {:.2}% | {:.2}% | {:.2}% | {} of {} | {} | {} |\n",
                x.activation,
                x.seeds,
                100.0 * x.mean,
                100.0 * x.min,
                100.0 * x.max,
                x.escaped,
                x.seeds,
                jax.map_or("–".into(), |v| format!("{v:.2}%")),
                torch.map_or("–".into(), |v| format!("{v:.2}%"))
            );
        }
    }
    s
}

#[allow(dead_code)] // the test includes this file for `run` and `parse`
fn main() {
    let opts = parse(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("{e}\n{USAGE}");
        std::process::exit(2)
    });
    let dir = std::env::var("FASHION_MNIST_DIR")
        .unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    let result = FashionMnist::load_dir(dir.as_ref()).and_then(|data| {
        let start = std::time::Instant::now();
        let rows = run(&opts, &data, |line| eprintln!("{line}"))?;
        eprintln!("done in {:.0} s", start.elapsed().as_secs_f64());
        Ok(rows)
    });
    match result {
        Ok(rows) if opts.json => {
            rows.iter().for_each(|r| println!("{}", r.json()));
            if opts.seeds > 1 {
                summaries(&rows)
                    .iter()
                    .for_each(|s| println!("{}", s.json()));
            }
        }
        Ok(rows) => print!("{}", table(&rows)),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    }
}
