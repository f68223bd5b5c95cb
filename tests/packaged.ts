// The npm package as a user installs it, shared by tests/package.e2e.ts and tests/engines.e2e.ts:
// `npm pack`, unpacked into a fresh folder's node_modules, and apps built against it with Vite
// from their sources (the README's examples, the fixture pages). @msgpack/msgpack sits beside it
// as an app's own dependency (the spec page reads Flax's bytes with it).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'vite';

export interface Installed {
  /** The folder whose node_modules holds the package. */
  root: string;
  /** The files `npm pack` put in the tarball. */
  files: string[];
  /** Each app's built site (its dist/), by name. */
  sites: Record<string, string>;
  /** Each app's source folder (for type checks), by name. */
  sources: Record<string, string>;
}

/** Packs and installs the package, then builds `apps` (name → folder with index.html and main.ts). */
export async function installPackage(apps: Record<string, string>): Promise<Installed> {
  const root = mkdtempSync(join(tmpdir(), 'actlab-pkg-'));
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', root], { encoding: 'utf8' })) as
    { filename: string; files: { path: string }[] }[];
  mkdirSync(join(root, 'node_modules', '@msgpack'), { recursive: true });
  execFileSync('tar', ['-xzf', join(root, packed!.filename), '-C', join(root, 'node_modules')]);
  renameSync(join(root, 'node_modules', 'package'), join(root, 'node_modules', 'actlab'));
  symlinkSync(resolve('node_modules/@msgpack/msgpack'), join(root, 'node_modules', '@msgpack', 'msgpack'));
  const sites: Record<string, string> = {};
  const sources: Record<string, string> = {};
  for (const [name, from] of Object.entries(apps)) {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const f of ['index.html', 'main.ts']) copyFileSync(join(from, f), join(dir, f));
    await build({ root: dir, base: './', configFile: false, logLevel: 'warn', build: { outDir: join(dir, 'dist'), target: 'es2022' } });
    sites[name] = join(dir, 'dist');
    sources[name] = dir;
  }
  return { root, files: packed!.files.map((f) => f.path).sort(), sites, sources };
}
