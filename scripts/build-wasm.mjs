// The browser build, driven by wasm-pack.toml: the page's module (`[build]`: WebGPU) and the CPU
// one (`[cpu]`: Flex with SIMD128, loaded only where there is no usable GPU) in two builds, plain
// and with relaxed SIMD (`[cpu-relaxed]`: its .wasm only, since its glue is the plain one's). Each is
// cargo build for wasm32, wasm-bindgen (the version in Cargo.lock, installed by
// scripts/setup.sh), then wasm-opt from the npm package `binaryen` (Debian's binaryen 108
// misnumbers exported tables: its output pointed `__wbindgen_externrefs` at the function table
// and failed to load). This is what `wasm-pack build --target web` does, without its downloads;
// then the TypeScript wrapper. wasm-opt takes minutes, so its output is reused for an input it
// has seen. Prints raw and gzip sizes. `node scripts/build-wasm.mjs gpu` builds only the
// page's module, `cpu` both CPU builds.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'smol-toml';

const cfg = parse(readFileSync('wasm-pack.toml', 'utf8'));
const { crate, target } = cfg.build;
const targetDir = process.env.CARGO_TARGET_DIR ?? 'target';
const run = (cmd, args, env = {}) => execFileSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
const mib = (n) => (n / 2 ** 20).toFixed(2) + ' MiB';

const modules = [
  { name: 'gpu', ...cfg.build, wasmOpt: cfg['wasm-opt']?.enabled ? cfg['wasm-opt'].args : null },
  { name: 'cpu', ...cfg.cpu, wasmOpt: cfg.cpu['wasm-opt'] ?? null },
  { name: 'cpu-relaxed', ...cfg['cpu-relaxed'], wasmOpt: cfg['cpu-relaxed']['wasm-opt'] ?? null },
];
const only = process.argv[2];
const chosen = modules.filter((m) => !only || m.name === only || m.name.startsWith(`${only}-`));
// f32x4.relaxed_madd instructions in a module: the relaxed build must have them, the plain one
// none (both builds write the same Cargo output path, so this also catches a stale copy).
const relaxedMadds = (wasm) => {
  const text = execFileSync(join('node_modules', '.bin', 'wasm-dis'), ['--enable-simd', '--enable-relaxed-simd', '--enable-reference-types',
    '--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext', '--enable-mutable-globals', '--enable-multivalue', wasm],
  { maxBuffer: 1 << 30, encoding: 'utf8' });
  return (text.match(/f32x4\.relaxed_madd/g) ?? []).length;
};

for (const m of chosen) {
  run('cargo', ['build', '--manifest-path', join(crate, 'Cargo.toml'), '--lib', '--target', 'wasm32-unknown-unknown',
    '--profile', m.profile, '--no-default-features', '--features', m.features],
  m.rustflags ? { CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS: m.rustflags } : {});
  const built = join(targetDir, 'wasm32-unknown-unknown', m.profile, 'actlab.wasm');
  // A build that shares another's glue is bound under that name (the .wasm's import module is
  // named after it) in a folder of its own; only its .wasm goes to out_dir, renamed.
  const bindDir = m.glue_of ? join(targetDir, `bindgen-${m.name}`) : m.out_dir;
  const bindName = m.glue_of ?? m.out_name;
  run('wasm-bindgen', [built, '--target', target, '--out-dir', bindDir, '--out-name', bindName]);

  const wasm = join(bindDir, `${bindName}_bg.wasm`);
  const before = statSync(wasm).size;
  if (m.wasmOpt) {
    const hash = createHash('sha256').update(readFileSync(wasm)).update(JSON.stringify(m.wasmOpt)).digest('hex');
    // One entry per input: the tests' lint-checked build and a plain one (the benchmark's)
    // differ in their bytes, and each keeps its own optimised output; the oldest go.
    const cached = join(targetDir, `${m.out_name}_bg.${hash.slice(0, 16)}.opt.wasm`);
    if (existsSync(cached)) {
      copyFileSync(cached, wasm);
    } else {
      const tmp = `${wasm}.opt`;
      run(join('node_modules', '.bin', 'wasm-opt'), [...m.wasmOpt, wasm, '-o', tmp]);
      renameSync(tmp, wasm);
      copyFileSync(wasm, cached);
      const entries = readdirSync(targetDir).filter((f) => f.startsWith(`${m.out_name}_bg.`) && f.endsWith('.opt.wasm'))
        .map((f) => join(targetDir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
      entries.slice(3).forEach((f) => rmSync(f));
    }
  }
  rmSync(join(bindDir, '.gitignore'), { force: true });
  if (m.name.startsWith('cpu')) {
    const madds = relaxedMadds(wasm);
    if (m.glue_of ? madds === 0 : madds > 0) throw new Error(`${wasm}: ${madds} f32x4.relaxed_madd, expected ${m.glue_of ? 'some' : 'none'}`);
    console.log(`wasm (${m.name}): ${madds} f32x4.relaxed_madd`);
  }
  if (m.glue_of) {
    // Loaded through the plain build's glue: wasm-bindgen must have made the same JavaScript.
    const glue = join(m.out_dir, `${m.glue_of}.js`);
    if (!existsSync(glue)) throw new Error(`build ${m.glue_of} first: ${m.name} is loaded through its glue`);
    if (readFileSync(join(bindDir, `${bindName}.js`), 'utf8') !== readFileSync(glue, 'utf8')) {
      throw new Error(`${m.name}: its bindings differ from ${m.glue_of}.js (wasm-bindgen made other glue)`);
    }
    copyFileSync(wasm, join(m.out_dir, `${m.out_name}_bg.wasm`));
  }
  const bytes = readFileSync(wasm);
  const opt = m.wasmOpt ? `${mib(bytes.length)} after wasm-opt` : 'wasm-opt off';
  console.log(`wasm (${m.name}): ${mib(before)} from wasm-bindgen, ${opt}, ${mib(gzipSync(bytes, { level: 9 }).length)} gzip -9`);
}
// The built-in activations as data for the page and the package (pkg/builtins.js), from the
// crate's own table: read from whichever module was built, instantiated here in Node.
const made = chosen.filter((m) => !m.glue_of).at(-1) ?? modules.find((m) => m.name === 'cpu');
const glue = await import(pathToFileURL(join(made.out_dir, `${made.out_name}.js`)).href);
glue.initSync({ module: readFileSync(join(made.out_dir, `${made.out_name}_bg.wasm`)) });
const builtins = glue.builtinActivations();
writeFileSync(join(cfg.build.out_dir, 'builtins.js'), '// Generated by scripts/build-wasm.mjs from the crate\'s table '
  + '(crate/src/activation/builtins.rs): edit that, not this.\n'
  + `export const BUILTINS = ${JSON.stringify(builtins, null, 2)};\n`);
writeFileSync(join(cfg.build.out_dir, 'builtins.d.ts'), "import type { BuiltinActivation } from './actlab.js';\n"
  + '/** Every built-in activation, in the crate\'s table order. */\nexport declare const BUILTINS: readonly BuiltinActivation[];\n');
console.log(`builtins: ${builtins.map((b) => b.name).join(', ')}`);

// The typed wrapper (web/sdk) that the npm package exports, next to wasm-bindgen's output.
run('npx', ['tsc', '-p', 'tsconfig.sdk.json']);
