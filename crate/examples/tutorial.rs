//! The tutorial's protocol and its table: each activation trained on FashionMNIST (50k/10k
//! train/val split, batch 256, SGD 1e-2 momentum 0.9, up to 50 epochs, early stopping with
//! patience 7 on validation accuracy), then the test accuracy of its best-validation epoch,
//! printed beside the published value.
//!
//! ```sh
//! cargo run --release -p actlab --example tutorial -- [--epochs N] [--activations a,b,...]
//!     [--device flex|wgpu] [--seed S] [--init torch_default|lecun_uniform] [--json]
//! ```
//!
//! On `wgpu` the activations train together in one compiled stack (`jit`); on `flex` (CPU) each
//! trains through the Burn path. Keys: the train/val split comes from `key(0)` (as the page's
//! default), the init and the batch order from `split(key(seed), 2)`, epoch e's order from
//! `fold_in(order, e)` (as the page). `FASHION_MNIST_DIR` points at the four `.gz` files.
//! `--json` prints one JSON object per activation, each on its own line.

use actlab::Error;
use actlab::activation::{Activation, Builtin};
use actlab::data::{DeviceDataset, FashionMnist, train_val_split};
use actlab::device;
use actlab::init::{BiasInit, KernelInit};
use actlab::jit::{self, Program, StackState};
use actlab::prng::{Key, fold_in, key, split};
use actlab::train::{self, TrainConfig, TrainState};
use burn::tensor::Device;

const BATCH: usize = 256;
const PATIENCE: usize = 7;

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

fn published_jax(a: &Activation) -> Option<f64> {
    published(a).map(|p| p.0)
}

fn published_torch(a: &Activation) -> Option<f64> {
    published(a).map(|p| p.1)
}

#[derive(Clone, Debug)]
pub struct Options {
    pub epochs: usize,
    pub activations: Vec<Activation>,
    pub gpu: bool,
    pub seed: u64,
    pub init: KernelInit,
    pub json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            epochs: 50,
            activations: Activation::tutorial(),
            gpu: false,
            seed: 42,
            init: KernelInit::TorchDefault,
            json: false,
        }
    }
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--epochs" => {
                o.epochs = value()?
                    .parse()
                    .ok()
                    .filter(|&e| e > 0)
                    .ok_or("--epochs takes a positive whole number")?
            }
            "--activations" => {
                o.activations = value()?
                    .split(',')
                    .map(|a| a.parse::<Activation>().map_err(|e| e.to_string()))
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
            "--init" => {
                o.init = match value()?.as_str() {
                    "torch_default" => KernelInit::TorchDefault,
                    "lecun_uniform" => KernelInit::LecunUniform,
                    i => {
                        return Err(format!(
                            "--init is torch_default or lecun_uniform, not {i:?}"
                        ));
                    }
                }
            }
            "--json" => o.json = true,
            f => return Err(format!("unknown argument {f:?}")),
        }
    }
    Ok(o)
}

/// One activation's result.
#[derive(Clone, Debug)]
pub struct Row {
    pub activation: Activation,
    /// 1-based; the epoch whose params are tested.
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub val_accuracy: f64,
    pub test_accuracy: f64,
}

impl Row {
    pub fn json(&self) -> String {
        format!(
            "{{\"activation\":{},\"best_epoch\":{},\"epochs_run\":{},\"val_accuracy\":{:.4},\"test_accuracy\":{:.4},\"published_jax\":{},\"published_torch\":{}}}",
            serde_json::Value::from(self.activation.name()),
            self.best_epoch,
            self.epochs_run,
            self.val_accuracy * 100.0,
            self.test_accuracy * 100.0,
            published_jax(&self.activation).map_or("null".into(), |v| v.to_string()),
            published_torch(&self.activation).map_or("null".into(), |v| v.to_string())
        )
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

struct Compiled {
    gpu: device::Gpu,
    state: Option<StackState>,
    train: jit::Data,
    val: jit::Data,
}

impl Engine for Compiled {
    fn epoch(&mut self, order: Key) -> Result<Vec<f64>, Error> {
        let epoch = self.train.epoch(order, BATCH)?;
        let batches = (0..epoch.batches())
            .map(|i| epoch.batch(i))
            .collect::<Result<Vec<_>, _>>()?;
        let state = self.state.take().expect("a stack between epochs");
        let (state, metrics) = jit::train_steps(state, &batches)?;
        self.state = Some(state);
        let read = pollster::block_on(jit::read_metrics(&metrics))?;
        let k = read[0].len();
        Ok((0..k)
            .map(|m| read.iter().map(|s| s[m].loss as f64).sum::<f64>() / read.len() as f64)
            .collect())
    }

    fn val_accuracy(&mut self) -> Result<Vec<f64>, Error> {
        let state = self.state.as_ref().expect("a stack between epochs");
        let chunks = self.val.chunks(BATCH)?;
        let read = pollster::block_on(jit::read_metrics(&jit::eval_steps(state, &chunks)?))?;
        let n = self.val.len() as f64;
        Ok((0..state.models())
            .map(|m| {
                read.iter()
                    .zip(&chunks)
                    .map(|(r, c)| r[m].accuracy as f64 * c.len() as f64)
                    .sum::<f64>()
                    / n
            })
            .collect())
    }

    fn snapshot(&mut self, k: usize) -> Result<TrainState, Error> {
        let state = self.state.as_ref().expect("a stack between epochs");
        Ok(pollster::block_on(state.model(k))?.restore(&self.gpu.device))
    }

    fn device(&self) -> &Device {
        &self.gpu.device
    }
}

/// Runs the protocol on `data`; `progress` gets one line per epoch.
pub fn run(
    o: &Options,
    data: &FashionMnist,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Row>, Error> {
    let (train_split, val_split) = train_val_split(&data.train, key(0));
    let keys = split(key(o.seed), 2);
    let (init_key, order_key) = (keys[0], keys[1]);
    let configs: Vec<TrainConfig> = o
        .activations
        .iter()
        .map(|activation| TrainConfig {
            activation: activation.clone(),
            kernel_init: o.init,
            bias_init: match o.init {
                KernelInit::TorchDefault => BiasInit::FanInUniform,
                _ => BiasInit::Zeros,
            },
            ..TrainConfig::default()
        })
        .collect();
    let mut engine: Box<dyn Engine> = if o.gpu {
        let gpu = pollster::block_on(device::shared_gpu())?;
        let h = gpu.handles()?.clone();
        let program = Program::compile(&h, &configs, BATCH, None)?;
        Box::new(Compiled {
            state: Some(StackState::init(&program, &vec![init_key; configs.len()])?),
            train: jit::Data::upload(&h, &train_split)?,
            val: jit::Data::upload(&h, &val_split)?,
            gpu,
        })
    } else {
        let dev = device::cpu();
        Box::new(BurnPath {
            states: configs
                .iter()
                .map(|c| TrainState::init(init_key, c.clone(), &dev))
                .collect::<Result<_, _>>()?,
            train: DeviceDataset::upload(&train_split, &dev),
            val: DeviceDataset::upload(&val_split, &dev),
            device: dev,
        })
    };
    let k = configs.len();
    let mut best: Vec<Option<(usize, f64, TrainState)>> = vec![None; k];
    let mut stopped = vec![0usize; k];
    for epoch in 1..=o.epochs {
        if stopped.iter().all(|&s| s > 0) {
            break;
        }
        let start = std::time::Instant::now();
        let losses = engine.epoch(fold_in(order_key, epoch as u32))?;
        let val = engine.val_accuracy()?;
        let mut line = format!("epoch {epoch:>2} ({:.1} s):", start.elapsed().as_secs_f64());
        for m in 0..k {
            if stopped[m] > 0 {
                line += &format!("  {} stopped", o.activations[m].name());
                continue;
            }
            let improved = best[m].as_ref().is_none_or(|b| val[m] > b.1);
            if improved {
                best[m] = Some((epoch, val[m], engine.snapshot(m)?));
            } else if epoch - best[m].as_ref().map_or(0, |b| b.0) >= PATIENCE {
                stopped[m] = epoch;
            }
            line += &format!(
                "  {} loss {:.4} val {:.2}%",
                o.activations[m].name(),
                losses[m],
                100.0 * val[m]
            );
        }
        progress(&line);
    }
    let test = DeviceDataset::upload(&data.test, engine.device());
    best.into_iter()
        .enumerate()
        .map(|(m, b)| {
            let (best_epoch, val_accuracy, state) = b.expect("at least one epoch ran");
            Ok(Row {
                activation: o.activations[m].clone(),
                best_epoch,
                epochs_run: if stopped[m] > 0 { stopped[m] } else { o.epochs },
                val_accuracy,
                test_accuracy: accuracy(&state, &test)?,
            })
        })
        .collect()
}

/// The table: activation, best epoch, validation and test accuracy, published values.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| activation | best epoch (of run) | val accuracy | test accuracy | published JAX | difference | published PyTorch |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let jax = published_jax(&r.activation);
        s += &format!(
            "| {} | {} ({}) | {:.2}% | {:.2}% | {} | {} | {} |\n",
            r.activation.name(),
            r.best_epoch,
            r.epochs_run,
            100.0 * r.val_accuracy,
            100.0 * r.test_accuracy,
            jax.map_or("–".into(), |v| format!("{v:.2}%")),
            jax.map_or("–".into(), |v| format!(
                "{:+.2}",
                100.0 * r.test_accuracy - v
            )),
            published_torch(&r.activation).map_or("–".into(), |v| format!("{v:.2}%"))
        );
    }
    s
}

#[allow(dead_code)] // the test includes this file for `run` and `parse`
fn main() {
    let opts = parse(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("{e}\nusage: tutorial [--epochs N] [--activations a,b] [--device flex|wgpu] [--seed S] [--init torch_default|lecun_uniform] [--json]");
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
        Ok(rows) if opts.json => rows.iter().for_each(|r| println!("{}", r.json())),
        Ok(rows) => print!("{}", table(&rows)),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    }
}
