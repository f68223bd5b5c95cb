// The plain objects that cross the wasm boundary. Their types are generated from the Rust types
// (tsify: serde's names, tags and defaults, a defaulted field optional) into pkg/actlab.d.ts;
// this file re-exports them and adds what has no Rust type.
import type { Builtin } from '../../pkg/actlab.js';

export type {
  Activation, ActivationCheck, ActivationSpec, BiasInit, Builtin, BuiltinActivation, Distribution, FanMode, KernelInit,
  MetricValues, MlpConfig, Optimizer, TrainConfig,
} from '../../pkg/actlab.js';

/** Every built-in activation (`{ name, formula, params, about }`), in the crate's table order:
 * generated from that table when the module is built. */
export { BUILTINS } from '../../pkg/builtins.js';

/** The tutorial's six activation functions, by name, in the tutorial's order. */
export const ACTIVATIONS = ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'swish'] as const satisfies readonly Builtin[];

/** A PRNG key: the raw data of a `jax.random.key`, a `Uint32Array` of length 2; or, from
 * `key(seed, { legacy: true })`, of length 3 (the data, then 1): a key of JAX before 0.5, whose
 * splits and draws are that JAX's (the tutorial notebook's). */
export type Key = Uint32Array;

/**
 * `T` with every field present, as the crate returns a configuration (`defaultConfig()`,
 * `fullConfig(c)`, `state.config`): serde's defaults filled in.
 */
export type Complete<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]-?: Complete<T[K]> } : T;

/** Why a GPU device was lost (WebGPU's `GPUDeviceLostInfo`). */
export interface DeviceLoss {
  reason: 'destroyed' | 'unknown' | undefined;
  message: string;
}
