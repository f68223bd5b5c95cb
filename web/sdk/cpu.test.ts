// The CPU module (pkg/cpu, built before the unit tests run) in Node: no WebGPU needed. Its
// PRNG and init are held to the same reference vectors as the crate's native and browser tests
// (../shared/spec: JAX 0.10.2, Flax 0.12.8), bit for bit, and it trains.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decode, type ExtData } from '@msgpack/msgpack';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RUN } from '../app/config.js';
import { openModels } from '../app/models.js';
import { bind, type Wasm } from './api.js';
import { guard } from './guard.js';
import { cpuBuildFor, relaxedMadd } from './simd.js';

type Cpu = typeof import('../../pkg/cpu/actlab_cpu.js');
const pkg = new URL('../../pkg/cpu/', import.meta.url);
// ../shared/spec, or $ACTLAB_SPEC_DIR: other files of the same schema.
const spec = (name: string) => JSON.parse(readFileSync(process.env.ACTLAB_SPEC_DIR
  ? `${process.env.ACTLAB_SPEC_DIR}/${name}` : new URL(`../../../shared/spec/${name}`, import.meta.url), 'utf8'));
let cpu: Cpu;

beforeAll(async () => {
  cpu = await import(new URL('actlab_cpu.js', pkg).href) as Cpu;
  cpu.initSync({ module: readFileSync(new URL('actlab_cpu_bg.wasm', pkg)) });
});

/** `n` images that say their label (pixel block `label` is bright), as the four IDX files
 * (train = test), parsed by the CPU module. */
function tellingData(n: number, m: Cpu = cpu) {
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const images = new Uint8Array(n * 784).map((_, p) => (Math.floor((p % 784) / 78) === labels[Math.floor(p / 784)] ? 255 : 0));
  const idx = (magic: number, dims: number[], body: Uint8Array) => {
    const head = new DataView(new ArrayBuffer(4 + 4 * dims.length));
    head.setUint32(0, magic);
    dims.forEach((d, i) => head.setUint32(4 + 4 * i, d));
    return new Uint8Array([...new Uint8Array(head.buffer), ...body]);
  };
  return m.FashionData.parse(idx(2051, [n, 28, 28], images), idx(2049, [n], labels), idx(2051, [n, 28, 28], images), idx(2049, [n], labels), m.key(0));
}

/** `steps` train steps of a small MLP on one fixed batch on module `m`: the init's SHA-256 (its
 * Flax bytes) and every step's loss. */
async function fixedBatchRun(m: Cpu, activation: 'swish' | 'tanh', seed: number, steps: number) {
  const device = await m.Cpu.create();
  const n = 64;
  const batch = tellingData(n, m).batch(device, 'test', Uint32Array.from({ length: n }, (_, i) => i));
  let state = m.init(device, m.key(seed), { activation, mlp: { hidden: [32] } });
  const init = createHash('sha256').update(await state.exportFlax()).digest('hex');
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const out = m.trainStep(state, batch);
    state.free();
    state = out.state;
    losses.push((await out.metrics.read()).loss);
  }
  state.free();
  return { init, losses };
}

interface PrngCase { seed: number; key: number[]; split: Record<string, number[][]>; fold_in: Record<string, number[]>; permutation: Record<string, number[]> }
interface Tensor { shape: number[]; first8: number[]; last4: number[]; sha256_f32le_rowmajor: string }
interface InitCase { seed: number; kernel_init: 'lecun_uniform' | 'torch_default_uniform'; params: Record<string, Tensor> }

describe('the CPU module', () => {
  it('draws JAX\'s keys, splits, fold_ins and permutations bit for bit, in both PRNG modes', () => {
    for (const [file, legacy] of [['jax_prng_vectors.json', false], ['jax_prng_vectors_legacy.json', true]] as const) {
      const cases = spec(file).cases as PrngCase[];
      // A legacy key is its data and a 1; its splits and fold_ins keep the mode.
      const data = (k: Uint32Array) => (legacy ? [...k].filter((_, i) => i % 3 !== 2) : [...k]);
      for (const c of cases) {
        const key = cpu.key(c.seed, { legacy });
        expect(key.length).toBe(legacy ? 3 : 2);
        expect(data(key)).toEqual(c.key);
        for (const [n, keys] of Object.entries(c.split)) expect(data(cpu.split(key, Number(n)))).toEqual(keys.flat());
        for (const [d, k] of Object.entries(c.fold_in)) expect(data(cpu.foldIn(key, Number(d)))).toEqual(k);
        for (const [n, p] of Object.entries(c.permutation)) expect([...cpu.permutation(key, Number(n))]).toEqual(p);
      }
      expect(cases.length).toBeGreaterThan(3);
    }
    expect(() => cpu.key(1, { legacy: 'yes' as never })).toThrow(/legacy must be true or false/);
    expect(() => cpu.split(Uint32Array.of(1, 2, 7), 2)).toThrow(/third word is its mode/);
  });

  it('initialises the notebook\'s networks as the notebook did, from its PRNG, bit for bit', async () => {
    const device = await cpu.Cpu.create();
    interface TutorialCase { seed: number; threefry_partitionable: boolean; hidden: number[]; params: Record<string, Tensor> }
    const cases = spec('tutorial_init.json').cases as TutorialCase[];
    for (const c of cases) {
      const state = cpu.init(device, cpu.key(c.seed, { legacy: !c.threefry_partitionable }),
        { kernel_init: { kind: 'tutorial' }, bias_init: 'tutorial', mlp: { hidden: c.hidden } });
      const tree = decode(await state.exportFlax()) as { params: Record<string, Record<string, ExtData>> };
      state.free();
      for (const [name, want] of Object.entries(c.params)) {
        const [layer, kind] = name.split('/') as [string, string];
        const [, , bytes] = decode(tree.params[layer]![kind]!.data as Uint8Array) as [number[], string, Uint8Array];
        expect(createHash('sha256').update(bytes).digest('hex'), `${c.seed} ${c.threefry_partitionable} ${c.hidden} ${name}`).toBe(want.sha256_f32le_rowmajor);
      }
    }
    expect(cases.some((c) => !c.threefry_partitionable)).toBe(true);
  });

  it('initialises the tutorial MLP as Flax does, bit for bit, under both kernel initialisers', async () => {
    const device = await cpu.Cpu.create();
    const cases = spec('flax_mlp_init.json').cases as InitCase[];
    for (const c of cases) {
      const kernel_init = c.kernel_init === 'lecun_uniform' ? { kind: 'lecun_uniform' as const } : { kind: 'torch_default' as const };
      const state = cpu.init(device, cpu.key(c.seed), { kernel_init, bias_init: 'zeros' });
      // Flax's `to_bytes`: {"params": {"Dense_i": {"kernel", "bias"}}}, each array an ext (shape, dtype, bytes).
      const tree = decode(await state.exportFlax()) as { params: Record<string, Record<string, ExtData>> };
      state.free();
      for (const [name, want] of Object.entries(c.params)) {
        const [layer, kind] = name.split('/') as [string, string];
        const [shape, dtype, bytes] = decode(tree.params[layer]![kind]!.data as Uint8Array) as [number[], string, Uint8Array];
        expect({ name, shape, dtype }).toEqual({ name, shape: want.shape, dtype: 'float32' });
        const values = new Float32Array(bytes.slice().buffer);
        expect([...values.subarray(0, 8)]).toEqual(want.first8.slice(0, Math.min(8, values.length)));
        expect([...values.subarray(values.length - 4)]).toEqual(want.last4);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(want.sha256_f32le_rowmajor);
      }
    }
  });

  it('trains: the loss of a small MLP falls on a fixed batch', async () => {
    const { losses } = await fixedBatchRun(cpu, 'swish', 1, 20);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 2);
  });

  it('narrowing the models on the Burn path goes on with the kept ones as they were', { timeout: 60_000 }, async () => {
    const api = bind(cpu as unknown as Wasm, 'cpu');
    const device = await api.createDevice();
    const data = tellingData(10_064); // the split keeps 10,000 for validation: 64 to train on
    const splits = { train: data.upload(device, 'train'), val: data.upload(device, 'val'), test: data.upload(device, 'test') };
    const cfg = { ...DEFAULT_RUN, hidden: [16], batchSize: 16, limit: 10_064 };
    const both = openModels(api, device, splits, cfg, ['relu', 'tanh']);
    const first = await both.train(0, 0, 2);
    const narrowed = await both.narrow([1], [await both.checkpoint(1, '')]);
    const then = await narrowed.train(0, 2, 2);
    // Tanh alone, the same steps: the same losses, bit for bit.
    const alone = openModels(api, device, splits, cfg, ['tanh']);
    expect(narrowed.activations).toEqual(['tanh']);
    expect((await alone.train(0, 0, 4)).losses).toEqual([...first.losses.map((s) => [s[1]!]), ...then.losses]);
    expect((await narrowed.evaluate()).val).toEqual((await alone.evaluate()).val);
    narrowed.free();
    alone.free();
  });
});

describe('the CPU module\'s relaxed-SIMD build', () => {
  it('is detected here (Node runs with relaxed SIMD) and chosen by auto, unless plain is asked for', () => {
    expect(relaxedMadd()).not.toBe('absent');
    expect(cpuBuildFor('auto')).toBe('relaxed');
    expect(cpuBuildFor('plain')).toBe('plain');
  });

  it('loads through the plain build\'s glue, draws the same init, and trains to float precision of the plain build', async () => {
    // A second instance of the same glue (a distinct module URL), holding the relaxed .wasm.
    const relaxed = await import(new URL('actlab_cpu.js?relaxed', pkg).href) as Cpu;
    relaxed.initSync({ module: readFileSync(new URL('actlab_cpu_relaxed_bg.wasm', pkg)) });
    const plain = await fixedBatchRun(cpu, 'tanh', 5, 10);
    const fused = await fixedBatchRun(relaxed, 'tanh', 5, 10);
    expect(fused.init).toBe(plain.init);
    fused.losses.forEach((l, i) => expect(Math.abs(l - plain.losses[i]!) / plain.losses[i]!).toBeLessThan(1e-5));
    // Fused multiply-adds round once per product term: not the plain build's bits.
    if (relaxedMadd() === 'fused') expect(fused.losses).not.toEqual(plain.losses);
    else expect(fused.losses).toEqual(plain.losses);
  });
});

describe('activations in the CPU module', () => {
  // The same file as the crate's native test (or ACTLAB_ACTIVATIONS_SPEC: any file of its schema).
  const file = process.env.ACTLAB_ACTIVATIONS_SPEC ?? new URL('../../../shared/spec/jax_activations.json', import.meta.url);
  interface Entry { name: string; formula: string; params: Record<string, number>; f: number[]; df: number[] }
  const s = JSON.parse(readFileSync(file, 'utf8')) as { x: number[]; tolerance_f32: { atol: number; rtol: number }; activations: Entry[]; invalid: string[] };
  const bad = (got: ArrayLike<number>, want: number[]) => want.filter((w, i) => !(Math.abs(got[i]! - w) <= s.tolerance_f32.atol + s.tolerance_f32.rtol * Math.abs(w))).length;

  it('computes every formula of the spec and its derivative as JAX does, on Flex and in the scalar evaluator', async () => {
    const api = bind(cpu as unknown as Wasm, 'cpu');
    const device = await api.createDevice();
    const xs = Float32Array.from(s.x);
    for (const e of s.activations) {
      const spec = { name: e.name, formula: e.formula, params: e.params };
      const check = api.checkActivation(spec);
      expect(check.ok, `${e.name}: ${check.error}`).toBe(true);
      const flex = await api.activationCurve(device, spec, xs);
      const scalar = api.activationValues(spec, Float64Array.from(s.x));
      expect([bad(flex.f, e.f), bad(flex.df, e.df), bad(scalar.f, e.f), bad(scalar.df, e.df)], e.name).toEqual([0, 0, 0, 0]);
    }
  });

  it('refuses every invalid formula with its column', () => {
    const api = bind(cpu as unknown as Wasm, 'cpu');
    for (const src of s.invalid) {
      const check = api.checkActivation({ formula: src });
      expect(check.ok, src).toBe(false);
      expect(check.column, src).toBeGreaterThanOrEqual(1);
      expect(check.error, src).toMatch(new RegExp(`column ${check.column}: expected`));
    }
    expect(() => api.activationValues({ formula: 'x +' }, Float64Array.of(0))).toThrow(/column 4/);
  });
});

describe('a used-up object says so', () => {
  it('names the class and the cause after free() and after a call took it, and a second free() does nothing', async () => {
    const api = bind(guard(cpu) as unknown as Wasm, 'cpu');
    const device = await api.createDevice();
    const data = tellingData(64);
    const batch = data.batch(device, 'test', Uint32Array.from({ length: 16 }, (_, i) => i));
    const state = api.init(device, api.key(0), { mlp: { hidden: [8] } });
    const freed = api.init(device, api.key(0), { mlp: { hidden: [8] } });
    freed.free();
    expect(() => freed.free()).not.toThrow();
    expect(() => api.trainStep(freed, batch)).toThrow('this TrainState was freed (free() was called on it); use the state that trainStep returned');
    expect(() => freed.step).toThrow(/this TrainState was freed/);
    const m = api.trainStep(state, batch).metrics;
    await api.readMetrics([m]);
    await expect(async () => api.readMetrics([m])).rejects.toThrow('this Metrics was used up by a call that takes it; read() and readMetrics take it: each can be read once');
    // The module goes on.
    const out = api.trainStep(state, batch);
    expect(Number.isFinite((await out.metrics.read()).loss)).toBe(true);
  });
});
