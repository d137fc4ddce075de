#!/usr/bin/env node
'use strict';
// `npm start`: the simulated Microsoft 365 tenant with scripted activity, a local callback receiver, and Node-RED
// 4.1 (the devDependency) with this package loaded from the project (dist/, built by `npm install`) and the demo
// flow deployed on first run. User directory: .userdir/ (git-ignored). Ctrl-C stops everything.
//
// Ports (env): PORT (Node-RED, 1880), MS365_SIM_PORT (18365), MS365_RECEIVER_PORT (18366).
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const userDir = path.join(root, '.userdir');
const nodeRedPort = Number(process.env.PORT || 1880);
const simPort = Number(process.env.MS365_SIM_PORT || 18365);
const receiverPort = Number(process.env.MS365_RECEIVER_PORT || 18366);
const log = (line) => console.log(`[ms365-demo] ${line}`);

async function main() {
  if (!fs.existsSync(path.join(root, 'dist', 'nodes', 'ms365-connector.js'))) {
    log('building dist/ ...');
    execFileSync(process.execPath, [path.join(__dirname, 'build.js')], { cwd: root, stdio: 'inherit' });
  }
  const { startSimulator } = require('../dist/simulator/server');
  const { startActivity } = require('../dist/simulator/activity');
  const { SIM_CLIENT_ID, SIM_CLIENT_SECRET } = require('../dist/simulator/identity');
  const demoFlow = require('../demo/demo-flow');
  const startReceiver = require('../demo/receiver');

  const sim = await startSimulator({ port: simPort });
  const activity = startActivity(sim.state, 5000);
  log(`simulated tenant on ${sim.url} (Graph ${sim.graphBaseUrl}, control API ${sim.controlUrl})`);
  const receiver = await startReceiver({ port: receiverPort, key: 'demo-signature-key', log });
  log(`callback receiver on http://127.0.0.1:${receiverPort}/events`);

  // The package, installed in the user directory as a link to this project (as `npm install <path>` would).
  const pkgLink = path.join(userDir, 'node_modules', '@ms365-events', 'node-red-ms365-events');
  fs.mkdirSync(path.dirname(pkgLink), { recursive: true });
  if (!fs.existsSync(pkgLink)) fs.symlinkSync(root, pkgLink, 'dir');
  const pkgJson = path.join(userDir, 'package.json');
  if (!fs.existsSync(pkgJson)) {
    fs.writeFileSync(pkgJson, JSON.stringify({ name: 'ms365-demo', private: true, dependencies: { '@ms365-events/node-red-ms365-events': 'file:..' } }, null, 2));
  }
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(settingsFile, `module.exports = ${JSON.stringify({
    uiHost: '127.0.0.1',
    uiPort: nodeRedPort,
    flowFile: 'flows.json',
    credentialSecret: 'ms365-demo-credential-secret',
    contextStorage: { default: { module: 'localfilesystem' } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: false, ui: false },
    editorTheme: { tours: false, projects: { enabled: false } },
  }, null, 2)};\n`);

  const firstRun = !fs.existsSync(path.join(userDir, 'flows.json'));
  // The simulated tenant starts empty on every run: the demo nodes' stored state (poller cursor with delta links,
  // webhook subscriptions) belongs to the last run's tenant, possibly on another port, so it starts fresh too.
  for (const id of ['demo-poller', 'demo-webhook']) fs.rmSync(path.join(userDir, 'context', 'ms365demo', `${id}.json`), { force: true });
  const red = spawn(process.execPath, [require.resolve('node-red/red.js'), '-u', userDir, '-s', settingsFile], {
    cwd: userDir,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const editorUrl = `http://127.0.0.1:${nodeRedPort}/`;

  let stopping = false;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    log('stopping ...');
    activity.stop();
    red.kill('SIGTERM');
    const force = setTimeout(() => red.kill('SIGKILL'), 5000);
    red.once('exit', async () => {
      clearTimeout(force);
      receiver.close();
      await sim.close();
      process.exit(code);
    });
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  red.once('exit', (code) => {
    if (!stopping) {
      log(`Node-RED exited (${code})`);
      stopping = true;
      activity.stop();
      receiver.close();
      sim.close().then(() => process.exit(code || 1));
    }
  });

  // Wait for the admin API, then deploy the demo flow.
  const deadline = Date.now() + 60000;
  for (;;) {
    const ok = await fetch(`${editorUrl}settings`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('Node-RED did not start within 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  // The demo nodes point at this run's simulator and receiver (ports may differ from the last run): deployed on
  // first run, and on later runs refreshed in place when they are still there (other nodes are left as they are;
  // nodes sent without credentials keep their stored ones).
  const current = firstRun ? [] : await fetch(`${editorUrl}flows`).then((r) => (r.ok ? r.json() : [])).catch(() => []);
  const hasDemo = Array.isArray(current) && current.some((n) => n && n.id === 'demo-conn');
  if (firstRun || hasDemo) {
    const demo = demoFlow({
      sim,
      clientId: SIM_CLIENT_ID,
      clientSecret: SIM_CLIENT_SECRET,
      userId: sim.state.defaultUser.id,
      receiverUrl: `http://127.0.0.1:${receiverPort}/events`,
      nodeRedUrl: editorUrl,
    });
    const demoIds = new Set(demo.map((n) => n.id));
    const flows = firstRun ? demo : [...current.filter((n) => !demoIds.has(n.id)), ...demo];
    const res = await fetch(`${editorUrl}flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flows),
    });
    log(res.ok ? (firstRun ? 'demo flow deployed' : 'demo flow pointed at this run\'s simulator and receiver') : `demo flow deploy failed: ${res.status} ${await res.text()}`);
  }
  log(`Node-RED editor: ${editorUrl}  (open the debug sidebar; Ctrl-C stops everything)`);
}

main().catch((err) => {
  console.error(`[ms365-demo] ${err.stack || err}`);
  process.exit(1);
});
