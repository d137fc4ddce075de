'use strict';
/**
 * Preloaded into a Node-RED process (`NODE_OPTIONS=--require …/shifted-clock.cjs`) by the clock-jump test: the wall
 * clock of that process (`Date.now()`, `new Date()`, `Date()`) is shifted by the number of milliseconds in the file
 * named by SHIFTED_CLOCK_FILE, read again when the file changes (polled every 50 ms; not a signal: Node-RED stops on
 * SIGUSR2 and Node.js keeps SIGUSR1 for the inspector), as when the machine's clock is stepped (NTP) or a VM resumes.
 * Timers (setTimeout, setInterval) are monotonic and do not move, as on a real machine.
 */
const fs = require('node:fs');

const file = process.env.SHIFTED_CLOCK_FILE;
if (file) {
  const RealDate = Date;
  let offset = 0;
  const read = () => {
    try {
      const value = Number(fs.readFileSync(file, 'utf8').trim());
      offset = Number.isFinite(value) ? value : 0;
    } catch {
      offset = 0;
    }
  };
  read();
  fs.watchFile(file, { interval: 50, persistent: false }, read);
  const now = () => RealDate.now() + offset;
  global.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      return args.length === 0 ? Reflect.construct(target, [now()], newTarget) : Reflect.construct(target, args, newTarget);
    },
    apply() {
      return new RealDate(now()).toString();
    },
    get(target, prop, receiver) {
      if (prop === 'now') return now;
      return Reflect.get(target, prop, receiver);
    },
  });
}
