#!/usr/bin/env node
/**
 * The `ms365-events` command.
 *
 *   ms365-events import <instance.json> [-o flow.json] [--authority-host URL] [--graph-base-url URL]
 *                [--tenant T] [--client-credentials --user-id ID] [--notification-url URL]
 *       Turn an Open Connectors `POST /instances` body into Node-RED flow JSON (stdout, or the -o file).
 *       Settings without an equivalent and things to do next go to stderr.
 *   ms365-events simulator [--port N]   (from a clone of the repository: the published package leaves it out)
 *       Run the simulated Microsoft 365 tenant (identity platform + Graph + control API) until Ctrl-C.
 *
 * Errors: one line on stderr, exit code 2.
 */
import fs from 'node:fs';
import { importInstance, type ImportOptions } from './core/opencon/instance-import';

function fail(message: string): never {
  process.stderr.write(`ms365-events: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(2);
}

function takeOption(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index === -1) return undefined;
  const value = args[index + 1];
  if (value === undefined || value.startsWith('--')) fail(`${name} needs a value`);
  args.splice(index, 2);
  return value;
}

function takeFlag(args: string[], name: string): boolean {
  const index = args.indexOf(name);
  if (index === -1) return false;
  args.splice(index, 1);
  return true;
}

function runImport(args: string[]): void {
  const out = takeOption(args, '-o') ?? takeOption(args, '--output');
  const options: ImportOptions = {
    authorityHost: takeOption(args, '--authority-host'),
    graphBaseUrl: takeOption(args, '--graph-base-url'),
    tenant: takeOption(args, '--tenant'),
    userId: takeOption(args, '--user-id'),
    notificationUrl: takeOption(args, '--notification-url'),
    grantType: takeFlag(args, '--client-credentials') ? 'client_credentials' : undefined,
  };
  const [file, ...extra] = args;
  if (!file) fail('usage: ms365-events import <instance.json> [-o flow.json]');
  if (extra.length) fail(`unexpected argument ${extra[0]}`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    fail(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let result;
  try {
    result = importInstance(text, options);
  } catch (err) {
    fail(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const json = `${JSON.stringify(result.flow, null, 2)}\n`;
  if (out) fs.writeFileSync(out, json);
  else process.stdout.write(json);
  for (const warning of result.warnings) process.stderr.write(`note: ${warning}\n`);
  if (result.unmapped.length) process.stderr.write(`not mapped: ${result.unmapped.join(', ')}\n`);
}

async function runSimulator(args: string[]): Promise<void> {
  const port = Number(takeOption(args, '--port') ?? 18365);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be a port number');
  // Loaded only for this command. The simulator is a development tool: it needs express (a devDependency) and is
  // left out of the published package (package.json "files"), so an installed package says so and stops.
  // (`require`, not `import()`: the CommonJS build and tsx resolve it the same way.)
  let startSimulator: typeof import('./simulator/server').startSimulator;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ({ startSimulator } = require('./simulator/server') as typeof import('./simulator/server'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'MODULE_NOT_FOUND' && /simulator[\\/]server/.test(e.message)) {
      fail('the simulated tenant is not part of the installed package (a development tool): run it from a clone of the repository (npm install, then npm start or npx tsx src/cli.ts simulator)');
    }
    fail(`the simulator cannot load (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); run it from a clone after npm install`);
  }
  const sim = await startSimulator({ port });
  process.stdout.write(
    `simulated Microsoft 365 tenant\n  authorityHost ${sim.authorityHost}\n  graphBaseUrl  ${sim.graphBaseUrl}\n  control API   ${sim.controlUrl}\nCtrl-C stops it.\n`,
  );
  const stop = () => void sim.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'import') runImport(rest);
else if (command === 'simulator') void runSimulator(rest).catch((err) => fail(String(err)));
else fail('usage: ms365-events import <instance.json> [-o flow.json] | ms365-events simulator [--port N]');
