'use strict';
// The demo's callback receiver: checks `Elements-Webhook-Signature` over the exact body bytes with the demo key
// and logs one line per notification.
const http = require('node:http');
const crypto = require('node:crypto');

module.exports = function startReceiver({ port, key, log }) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const expected = 'sha256=' + crypto.createHmac('sha256', key).update(body).digest('base64');
      const got = String(req.headers['elements-webhook-signature'] || '');
      const ok = got.length === expected.length && crypto.timingSafeEqual(Buffer.from(got), Buffer.from(expected));
      let summary = '';
      try {
        const events = JSON.parse(body.toString('utf8')).message.events;
        summary = events.map((e) => `${e.objectType}/${e.eventType}`).join(', ');
      } catch {
        summary = 'unparseable body';
      }
      log(`receiver: ${ok ? 'signature ok' : 'BAD SIGNATURE'}: ${summary}`);
      res.statusCode = ok ? 200 : 401;
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
};
