'use strict';
/**
 * Preloaded into a Node-RED process by the soak (`NODE_OPTIONS="--expose-gc --require …/memory-probe.cjs"`): every
 * MEMORY_PROBE_MS (default 5000) it runs a full garbage collection and writes `process.memoryUsage()` (plus the time)
 * as JSON to MEMORY_PROBE_FILE, so the soak reads resident memory and live heap after GC, not the sawtooth of the
 * young generation between collections.
 */
const fs = require('node:fs');

const file = process.env.MEMORY_PROBE_FILE;
if (file) {
  const every = Number(process.env.MEMORY_PROBE_MS) || 5000;
  const timer = setInterval(() => {
    if (typeof global.gc === 'function') global.gc();
    try {
      fs.writeFileSync(`${file}.tmp`, JSON.stringify({ at: Date.now(), gc: typeof global.gc === 'function', ...process.memoryUsage() }));
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      // the soak reads the last complete sample
    }
  }, every);
  timer.unref();
}
