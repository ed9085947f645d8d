#!/usr/bin/env node
// Builds the VSIX for one platform (default: this machine's) with @vscode/vsce --target, shipping
// the bundles from dist/, media/, and only the node_modules the bundles load at run time, with only
// that platform's native binaries of onnxruntime-node and tokenizers. Then checks the archive: the
// runtime modules load from the unpacked extension, and no other platform's binaries slipped in.
//
// Usage: node scripts/package.js [--target linux-x64] [--out attention-inspector-linux-x64.vsix]
//        [--no-build]   (use dist/ as it is)
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { builtinModules } = require('module');

const root = path.resolve(__dirname, '..');

/**
 * Per VS Code target: the onnxruntime-node binary folder and the tokenizers binary suffix.
 * onnxruntime-node ships no musl (Alpine) or Intel-macOS builds, so those targets are not offered.
 */
const TARGETS = {
  'linux-x64': { onnxruntime: 'linux/x64', tokenizers: 'linux-x64-gnu' },
  'linux-arm64': { onnxruntime: 'linux/arm64', tokenizers: 'linux-arm64-gnu' },
  'darwin-arm64': { onnxruntime: 'darwin/arm64', tokenizers: 'darwin-arm64' },
  'win32-x64': { onnxruntime: 'win32/x64', tokenizers: 'win32-x64-msvc' },
  'win32-arm64': { onnxruntime: 'win32/arm64', tokenizers: 'win32-arm64-msvc' },
};

/** Dependencies that only a package's install script uses; the extension never loads them. */
const INSTALL_TIME_ONLY = {
  'onnxruntime-node': ['adm-zip', 'global-agent'],
};

function parseArgs(argv) {
  const args = { target: `${process.platform}-${process.arch}`, out: undefined, build: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => inline ?? argv[++i];
    if (flag === '--target') args.target = value();
    else if (flag === '--out') args.out = value();
    else if (flag === '--no-build') args.build = false;
    else throw new Error(`unknown argument ${argv[i]}\nusage: node scripts/package.js [--target <${Object.keys(TARGETS).join('|')}>] [--out <file.vsix>] [--no-build]`);
  }
  if (!TARGETS[args.target]) {
    throw new Error(`no VSIX for target '${args.target}': onnxruntime-node and tokenizers ship native binaries for ${Object.keys(TARGETS).join(', ')}`);
  }
  return args;
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** Packages the bundles in dist/ require at run time (everything esbuild left external). */
function externalRequires() {
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const found = new Map();
  for (const file of fs.readdirSync(path.join(root, 'dist')).filter((f) => f.endsWith('.js'))) {
    const code = fs.readFileSync(path.join(root, 'dist', file), 'utf8');
    for (const match of code.matchAll(/\brequire\((?:"([^"]+)"|'([^']+)')\)/g)) {
      const spec = match[1] ?? match[2];
      if (builtins.has(spec) || spec === 'vscode' || spec.startsWith('.')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!found.has(name)) found.set(name, new Set());
      found.get(name).add(file);
    }
  }
  return found;
}

/** The runtime modules and everything they depend on, as installed in node_modules. */
function runtimeModules(direct) {
  const modules = new Set();
  const visit = (name, from) => {
    if (modules.has(name)) return;
    const manifest = path.join(root, 'node_modules', name, 'package.json');
    if (!fs.existsSync(manifest)) throw new Error(`${from} needs '${name}' at run time, but node_modules/${name} is missing: run npm ci`);
    modules.add(name);
    const pkg = readJson(manifest);
    const skip = new Set(INSTALL_TIME_ONLY[name] ?? []);
    for (const dep of Object.keys(pkg.dependencies ?? {})) if (!skip.has(dep)) visit(dep, name);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
      if (!skip.has(dep) && fs.existsSync(path.join(root, 'node_modules', dep, 'package.json'))) visit(dep, name);
    }
  };
  for (const [name, files] of direct) visit(name, [...files].map((f) => `dist/${f}`).join(', '));
  return [...modules].sort();
}

/** .vscodeignore plus the rules that keep exactly the runtime modules, with one platform's binaries. */
function ignoreFileFor(target, modules) {
  const native = TARGETS[target];
  const lines = [
    fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8'),
    `# --- added by scripts/package.js for ${target} ---`,
    'node_modules/**',
  ];
  for (const name of modules) {
    lines.push(`!node_modules/${name}/**`);
    if (name === 'onnxruntime-node') {
      // Re-included folders win over ignores in vsce, so keep the other platforms out by listing
      // what to keep instead of the whole package.
      lines.pop();
      lines.push('!node_modules/onnxruntime-node/package.json', '!node_modules/onnxruntime-node/dist/**', `!node_modules/onnxruntime-node/bin/napi-v6/${native.onnxruntime}/**`);
    } else if (name === 'tokenizers') {
      lines.pop();
      lines.push('!node_modules/tokenizers/package.json', '!node_modules/tokenizers/index.js', `!node_modules/tokenizers/tokenizers.${native.tokenizers}.node`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function run(command, args, options = {}) {
  execFileSync(command, args, { cwd: root, stdio: 'inherit', ...options });
}

/** Unpacks the VSIX with yauzl (a dependency of vsce) into `dir`. */
async function unpack(vsix, dir) {
  const yauzl = require(require.resolve('yauzl', { paths: [path.dirname(require.resolve('@vscode/vsce/package.json'))] }));
  const zip = await new Promise((resolve, reject) => yauzl.open(vsix, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))));
  const entries = [];
  await new Promise((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', resolve);
    zip.on('entry', (entry) => {
      entries.push({ name: entry.fileName, size: entry.uncompressedSize });
      if (entry.fileName.endsWith('/')) return zip.readEntry();
      zip.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        const file = path.join(dir, entry.fileName);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        stream.pipe(fs.createWriteStream(file)).on('finish', () => zip.readEntry()).on('error', reject);
      });
    });
    zip.readEntry();
  });
  return entries;
}

/** Fails unless the archive holds what the extension needs for `target` and nothing for others. */
async function verify(vsix, target, direct) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-vsix-'));
  try {
    const entries = await unpack(vsix, dir);
    const names = entries.map((e) => e.name);
    const problems = [];
    for (const forbidden of [/^extension\/src\//, /^extension\/test\//, /^extension\/tools\//, /^extension\/out\//]) {
      const hit = names.find((n) => forbidden.test(n));
      if (hit) problems.push(`ships ${hit} (development files must stay out)`);
    }
    for (const [other, native] of Object.entries(TARGETS)) {
      if (other === target) continue;
      const hit = names.find((n) => n.includes(`/onnxruntime-node/bin/napi-v6/${native.onnxruntime}/`) || n.endsWith(`/tokenizers.${native.tokenizers}.node`));
      if (hit) problems.push(`ships ${other}'s native binary ${hit}`);
    }
    const main = readJson(path.join(root, 'package.json')).main;
    if (main && !names.includes(`extension/${path.posix.normalize(main.replace(/^\.\//, ''))}`)) problems.push(`the entry point ${main} is missing`);
    // Loading the native modules from the unpacked copy proves their files and dependencies are all
    // there (only possible when packaging for this machine's platform).
    if (target === `${process.platform}-${process.arch}`) {
      for (const name of direct.keys()) {
        try {
          execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(dir, 'extension', 'node_modules', name))})`], { stdio: 'pipe' });
        } catch (err) {
          problems.push(`node_modules/${name} does not load from the package: ${String(err.stderr || err.message).split('\n').find((l) => l.trim()) ?? ''}`);
        }
      }
    }
    if (problems.length) throw new Error(`${path.basename(vsix)} is not right:\n  ${problems.join('\n  ')}`);
    return entries;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function mib(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const manifest = readJson(path.join(root, 'package.json'));
  const out = path.resolve(root, args.out ?? `${manifest.name}-${args.target}-${manifest.version}.vsix`);

  fs.mkdirSync(path.dirname(out), { recursive: true });
  if (args.build) run(process.execPath, ['esbuild.js', '--production']);
  const direct = externalRequires();
  const modules = runtimeModules(direct);
  console.log(`runtime node_modules for ${args.target}: ${modules.join(', ') || '(none)'}`);

  const ignoreFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-ignore-')), '.vscodeignore');
  fs.writeFileSync(ignoreFile, ignoreFileFor(args.target, modules));
  try {
    const vsce = require.resolve('@vscode/vsce/vsce');
    // dist/ is built above (or deliberately kept with --no-build): vsce must not rebuild it.
    run(process.execPath, [vsce, 'package', '--target', args.target, '--out', out, '--ignoreFile', ignoreFile, '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links'], {
      env: { ...process.env, npm_config_onnxruntime_node_install: 'skip' },
    });
  } finally {
    fs.rmSync(path.dirname(ignoreFile), { recursive: true, force: true });
  }

  const entries = await verify(out, args.target, direct);
  const total = entries.reduce((sum, e) => sum + e.size, 0);
  const byTop = new Map();
  for (const e of entries) {
    const parts = e.name.split('/');
    const key = parts[1] === 'node_modules' ? parts.slice(1, parts[2]?.startsWith('@') ? 4 : 3).join('/') : parts.slice(1, 2).join('/') || e.name;
    byTop.set(key, (byTop.get(key) ?? 0) + e.size);
  }
  console.log(`\n${path.relative(root, out)}: ${mib(fs.statSync(out).size)} (${mib(total)} unpacked, ${entries.length} files)`);
  for (const [key, size] of [...byTop].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${mib(size).padStart(10)}  ${key}`);
}

main().catch((err) => {
  console.error(`package: ${err.message}`);
  process.exit(1);
});
