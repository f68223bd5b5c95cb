// The browser build, driven by wasm-pack.toml: cargo build for wasm32, wasm-bindgen (the
// version in Cargo.lock, installed by scripts/setup.sh), then wasm-opt from the npm package
// `binaryen` (Debian's binaryen 108 misnumbers exported tables: its output pointed
// `__wbindgen_externrefs` at the function table and failed to load). This is what
// `wasm-pack build --target web` does, without its downloads; then the TypeScript wrapper.
// wasm-opt takes minutes, so its output is reused while its input is unchanged.
// Prints raw and gzip sizes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  const args = cfg['wasm-opt'].args;
  const hash = createHash('sha256').update(readFileSync(wasm)).update(JSON.stringify(args)).digest('hex');
  const cached = join(targetDir, `${outName}_bg.opt.wasm`);
  if (existsSync(cached) && existsSync(`${cached}.sha256`) && readFileSync(`${cached}.sha256`, 'utf8') === hash) {
    copyFileSync(cached, wasm);
  } else {
    const tmp = `${wasm}.opt`;
    run(join('node_modules', '.bin', 'wasm-opt'), [...args, wasm, '-o', tmp]);
    renameSync(tmp, wasm);
    copyFileSync(wasm, cached);
    writeFileSync(`${cached}.sha256`, hash);
  }
}
rmSync(join(outDir, '.gitignore'), { force: true });
// The typed wrapper (web/sdk) that the npm package exports, next to wasm-bindgen's output.
run('npx', ['tsc', '-p', 'tsconfig.sdk.json']);
const bytes = readFileSync(wasm);
const mib = (n) => (n / 2 ** 20).toFixed(2) + ' MiB';
const opt = cfg['wasm-opt']?.enabled ? `${mib(bytes.length)} after wasm-opt` : 'wasm-opt off';
console.log(`wasm: ${mib(before)} from wasm-bindgen, ${opt}, ` +
  `${mib(gzipSync(bytes, { level: 9 }).length)} gzip -9`);
