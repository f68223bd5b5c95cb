// Which build of the CPU module this engine should run: relaxed SIMD (gemm's kernels with
// f32x4.relaxed_madd, vendor/README.md) where the engine validates it, else the plain SIMD128
// build. Detected at run time by compiling a tiny module, as wasm-feature-detect does.

/**
 * A 92-byte module (`f() -> f32`) computing lane 0 of `f32x4.relaxed_madd(a, a, c)` with
 * a = 1 + 2^-12, c = -(1 + 2^-11): 2^-24 where the engine fuses the multiply-add, 0 where it
 * rounds the product first. Assembled by binaryen's wasm-as from:
 * `(f32x4.extract_lane 0 (f32x4.relaxed_madd (v128.const f32x4 0x1.001p+0 …) (… same)
 *  (v128.const f32x4 -0x1.002p+0 …)))`.
 */
const PROBE = 'AGFzbQEAAAABBQFgAAF9AwIBAAcFAQFmAAAKQAE+AP0MAAiAPwAIgD8ACIA/AAiAP/0MAAiAPwAIgD8ACIA/AAiAP/0MABCAvwAQgL8AEIC/ABCAv/2FAv0fAAs=';

/** `fused`/`unfused`: the engine has relaxed SIMD (and how its madd rounds); `absent`: not. */
export type RelaxedMadd = 'fused' | 'unfused' | 'absent';

/** Which CPU module build runs: with relaxed SIMD, or plain SIMD128. */
export type CpuBuild = 'relaxed' | 'plain';

let probed: RelaxedMadd | undefined;

/** Whether this engine has WebAssembly relaxed SIMD, and whether its multiply-add is fused. */
export function relaxedMadd(): RelaxedMadd {
  if (probed !== undefined) return probed;
  const bytes = Uint8Array.from(atob(PROBE), (c) => c.charCodeAt(0));
  if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return (probed = 'absent');
  try {
    const f = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.f as () => number;
    probed = f() === 2 ** -24 ? 'fused' : 'unfused';
  } catch {
    // Validated but refused (a policy against synchronous compiles): use the plain build.
    probed = 'absent';
  }
  return probed;
}

/** The CPU build `simd` asks for here: `auto` is relaxed where the engine has it. */
export function cpuBuildFor(simd: 'auto' | CpuBuild = 'auto'): CpuBuild {
  if (simd !== 'auto') return simd;
  return relaxedMadd() === 'absent' ? 'plain' : 'relaxed';
}
