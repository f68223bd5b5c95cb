// The browser build, driven by wasm-pack.toml: cargo build for wasm32, wasm-bindgen (the
// version in Cargo.lock, installed by scripts/setup.sh), then Debian's wasm-opt. This is what
// `wasm-pack build --target web` does, without its downloads; then the TypeScript wrapper.
// Prints raw and gzip sizes.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, renameSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { parse } from 'smol-toml';

const cfg = parse(readFileSync('wasm-pack.toml', 'utf8'));
const { crate, target, profile, out_dir: outDir, out_name: outName } = cfg.build;
const targetDir = process.env.CARGO_TARGET_DIR ?? 'target';
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit' });

run('cargo', ['build', '--manifest-path', join(crate, 'Cargo.toml'), '--lib',
  '--target', 'wasm32-unknown-unknown', '--profile', profile]);
const built = join(targetDir, 'wasm32-unknown-unknown', profile, 'actlab.wasm');
run('wasm-bindgen', [built, '--target', target, '--out-dir', outDir, '--out-name', outName]);

const wasm = join(outDir, `${outName}_bg.wasm`);
const before = statSync(wasm).size;
if (cfg['wasm-opt']?.enabled) {
  const tmp = `${wasm}.opt`;
  run('wasm-opt', [...cfg['wasm-opt'].args, wasm, '-o', tmp]);
  renameSync(tmp, wasm);
}
rmSync(join(outDir, '.gitignore'), { force: true });
// The typed wrapper (web/sdk) that the npm package exports, next to wasm-bindgen's output.
run('npx', ['tsc', '-p', 'tsconfig.sdk.json']);
const bytes = readFileSync(wasm);
const mib = (n) => (n / 2 ** 20).toFixed(2) + ' MiB';
const opt = cfg['wasm-opt']?.enabled ? `${mib(bytes.length)} after wasm-opt` : 'wasm-opt off';
console.log(`wasm: ${mib(before)} from wasm-bindgen, ${opt}, ` +
  `${mib(gzipSync(bytes, { level: 9 }).length)} gzip -9`);
