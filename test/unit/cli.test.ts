import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import axios from 'axios';

const CLI = path.join(__dirname, '..', '..', 'src', 'cli.ts');
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'open-connectors');
const run = (...args: string[]) => spawnSync(process.execPath, ['-r', 'tsx/cjs', CLI, ...args], { encoding: 'utf8', timeout: 20_000 });
type Node = Record<string, unknown> & { type: string };

describe('ms365-events CLI', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ms365-cli-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('import <file> -o flow.json --authority-host --graph-base-url → exit 0, the file holds the flow pointed at those URLs', () => {
    const out = path.join(dir, 'flow.json');
    const res = run('import', path.join(FIXTURES, 'outlookemail-polling.json'), '-o', out, '--authority-host', 'http://127.0.0.1:1/sim', '--graph-base-url', 'http://127.0.0.1:1/v1.0');
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, '');
    const flow = JSON.parse(fs.readFileSync(out, 'utf8')) as Node[];
    const connector = flow.find((n) => n.type === 'ms365-connector');
    assert.equal(connector?.authorityHost, 'http://127.0.0.1:1/sim');
    assert.equal(connector?.graphBaseUrl, 'http://127.0.0.1:1/v1.0');
    assert.ok(flow.some((n) => n.type === 'ms365-poller'));
  });

  it('import of every fixture → exit 0 and flow JSON on stdout (the malformed one → exit 2)', () => {
    for (const file of fs.readdirSync(FIXTURES)) {
      const res = run('import', path.join(FIXTURES, file));
      if (file.includes('malformed')) {
        assert.equal(res.status, 2, file);
        assert.match(res.stderr, /^ms365-events: .*line 12, column 5.*\n$/);
      } else {
        assert.equal(res.status, 0, `${file}: ${res.stderr}`);
        assert.equal((JSON.parse(res.stdout) as Node[])[0].type, 'tab', file);
      }
    }
  });

  it('import of an instance with an untranslatable url → exit 2, one stderr line naming the resource', () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ element: { key: 'outlookemail' }, configuration: { 'event.poller.configuration': { messages: { url: '/hubs/crm/leads', idField: 'id' } } } }));
    const res = run('import', file);
    assert.equal(res.status, 2);
    assert.equal(res.stderr.trim().split('\n').length, 1);
    assert.match(res.stderr, /event\.poller\.configuration\.messages\.url: .*hub "crm"/);
  });

  it('a missing file, a missing argument and an unknown command → exit 2 with one usage/error line', () => {
    for (const args of [['import', path.join(dir, 'nope.json')], ['import'], ['frobnicate'], []]) {
      const res = run(...args);
      assert.equal(res.status, 2, args.join(' '));
      assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
      assert.match(res.stderr, /^ms365-events: /);
    }
  });

  it('simulator --port 0 prints its URLs, answers on them, and stops on SIGINT with exit 0', async () => {
    const child: ChildProcess = spawn(process.execPath, ['-r', 'tsx/cjs', CLI, 'simulator', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 20_000;
      while (!/Ctrl-C/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`simulator did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const graphBaseUrl = /graphBaseUrl\s+(\S+)/.exec(out)?.[1];
      assert.match(graphBaseUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+/);
      const res = await axios.get(`${graphBaseUrl}/me`, { validateStatus: () => true, timeout: 5000 });
      assert.equal(res.status, 401, 'Graph without a token answers 401');
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
