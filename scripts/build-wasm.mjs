// The browser build, driven by wasm-pack.toml: two modules, the page's (`[build]`: WebGPU) and
// the CPU one (`[cpu]`: Flex with SIMD128, loaded only where there is no usable GPU). Each is
// cargo build for wasm32, wasm-bindgen (the version in Cargo.lock, installed by
// scripts/setup.sh), then wasm-opt from the npm package `binaryen` (Debian's binaryen 108
// misnumbers exported tables: its output pointed `__wbindgen_externrefs` at the function table
// and failed to load). This is what `wasm-pack build --target web` does, without its downloads;
// then the TypeScript wrapper. wasm-opt takes minutes, so its output is reused while its input
// is unchanged. Prints raw and gzip sizes. `node scripts/build-wasm.mjs gpu` builds only the
// page's module.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { parse } from 'smol-toml';

const cfg = parse(readFileSync('wasm-pack.toml', 'utf8'));
const { crate, target } = cfg.build;
const targetDir = process.env.CARGO_TARGET_DIR ?? 'target';
const run = (cmd, args, env = {}) => execFileSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
const mib = (n) => (n / 2 ** 20).toFixed(2) + ' MiB';

const modules = [
  { name: 'gpu', ...cfg.build, wasmOpt: cfg['wasm-opt']?.enabled ? cfg['wasm-opt'].args : null },
  { name: 'cpu', ...cfg.cpu, wasmOpt: cfg.cpu['wasm-opt'] ?? null },
];
const only = process.argv[2];

for (const m of modules.filter((m) => !only || m.name === only)) {
  run('cargo', ['build', '--manifest-path', join(crate, 'Cargo.toml'), '--lib', '--target', 'wasm32-unknown-unknown',
    '--profile', m.profile, '--no-default-features', '--features', m.features],
  m.rustflags ? { CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS: m.rustflags } : {});
  const built = join(targetDir, 'wasm32-unknown-unknown', m.profile, 'actlab.wasm');
  run('wasm-bindgen', [built, '--target', target, '--out-dir', m.out_dir, '--out-name', m.out_name]);

  const wasm = join(m.out_dir, `${m.out_name}_bg.wasm`);
  const before = statSync(wasm).size;
  if (m.wasmOpt) {
    const hash = createHash('sha256').update(readFileSync(wasm)).update(JSON.stringify(m.wasmOpt)).digest('hex');
    const cached = join(targetDir, `${m.out_name}_bg.opt.wasm`);
    if (existsSync(cached) && existsSync(`${cached}.sha256`) && readFileSync(`${cached}.sha256`, 'utf8') === hash) {
      copyFileSync(cached, wasm);
    } else {
      const tmp = `${wasm}.opt`;
      run(join('node_modules', '.bin', 'wasm-opt'), [...m.wasmOpt, wasm, '-o', tmp]);
      renameSync(tmp, wasm);
      copyFileSync(wasm, cached);
      writeFileSync(`${cached}.sha256`, hash);
    }
  }
  rmSync(join(m.out_dir, '.gitignore'), { force: true });
  const bytes = readFileSync(wasm);
  const opt = m.wasmOpt ? `${mib(bytes.length)} after wasm-opt` : 'wasm-opt off';
  console.log(`wasm (${m.name}): ${mib(before)} from wasm-bindgen, ${opt}, ${mib(gzipSync(bytes, { level: 9 }).length)} gzip -9`);
}
// The typed wrapper (web/sdk) that the npm package exports, next to wasm-bindgen's output.
run('npx', ['tsc', '-p', 'tsconfig.sdk.json']);
