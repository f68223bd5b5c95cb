// The plain objects that cross the wasm boundary, typed (serde's names and defaults).

/** The six activation functions of the tutorial, by their JS names. */
export const ACTIVATIONS = ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'swish'] as const;
export type Activation = (typeof ACTIVATIONS)[number];

/** A PRNG key: the raw data of a `jax.random.key`, a `Uint32Array` of length 2. */
export type Key = Uint32Array;

export type KernelInit =
  | { kind: 'torch_default' }
  | { kind: 'lecun_uniform' }
  | { kind: 'variance_scaling'; scale: number; mode: 'fan_in' | 'fan_out' | 'fan_avg'; distribution: 'uniform' | 'normal' };

export type Optimizer =
  | { kind: 'sgd'; learning_rate: number; momentum?: number }
  | { kind: 'adam'; learning_rate: number; b1?: number; b2?: number; eps?: number };

/** Every field is optional; the defaults are the tutorial's (see `DEFAULT_CONFIG`). */
export interface TrainConfig {
  mlp?: { input?: number; hidden?: number[]; output?: number };
  activation?: Activation;
  kernel_init?: KernelInit;
  bias_init?: 'zeros' | 'fan_in_uniform';
  optimizer?: Optimizer;
}

/** The tutorial's setup: 784-512-256-256-128-10, ReLU, PyTorch's default init, SGD(1e-2, 0.9). */
export const DEFAULT_CONFIG: Required<TrainConfig> = {
  mlp: { input: 784, hidden: [512, 256, 256, 128], output: 10 },
  activation: 'relu',
  kernel_init: { kind: 'torch_default' },
  bias_init: 'fan_in_uniform',
  optimizer: { kind: 'sgd', learning_rate: 0.01, momentum: 0.9 },
};

export interface MetricValues {
  loss: number;
  accuracy: number;
}

/** Why a GPU device was lost (WebGPU's `GPUDeviceLostInfo`). */
export interface DeviceLoss {
  reason: 'destroyed' | 'unknown' | undefined;
  message: string;
}
