// The plain objects that cross the wasm boundary. Their types are generated from the Rust types
// (tsify: serde's names, tags and defaults, a defaulted field optional) into pkg/actlab.d.ts;
// this file re-exports them and adds what has no Rust type.
import type { Activation } from '../../pkg/actlab.js';

export type {
  Activation, BiasInit, Distribution, FanMode, KernelInit, MetricValues, MlpConfig, Optimizer, TrainConfig,
} from '../../pkg/actlab.js';

/** The six activation functions of the tutorial, by their JS names, in the tutorial's order. */
export const ACTIVATIONS = ['sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu', 'swish'] as const satisfies readonly Activation[];

// ...and every one the crate has (`satisfies` checks the other direction): a compile error if not.
type Assert<T extends true> = T;
type EveryActivationListed = Assert<[Exclude<Activation, (typeof ACTIVATIONS)[number]>] extends [never] ? true : false>;

/** A PRNG key: the raw data of a `jax.random.key`, a `Uint32Array` of length 2. */
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
