import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { helper, allNodes, useNodeRed } from '../support/node-red-helper';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'open-connectors');

describe('POST ms365-events/import (editor action behind the connector dialog)', () => {
  useNodeRed();
  beforeEach(async () => {
    const flow = [{ id: 'c1', type: 'ms365-connector', name: 'c', elementKey: 'outlookemail' }];
    await helper.load(allNodes, flow);
  });

  it('answers the flow for a valid instance body', async () => {
    const json = fs.readFileSync(path.join(FIXTURES, 'outlookemail-polling.json'), 'utf8');
    const res = await helper.request().post('/ms365-events/import').send({ json }).expect(200);
    const types = (res.body.flow as Array<{ type: string }>).map((n) => n.type);
    assert.deepEqual(types, ['tab', 'comment', 'ms365-connector', 'ms365-poller', 'debug', 'ms365-callback-out']);
  });

  it('answers 400 with line and column for the malformed fixture, and 400 for an empty body', async () => {
    const json = fs.readFileSync(path.join(FIXTURES, 'microsoftgraph-webhooks-malformed.json'), 'utf8');
    const res = await helper.request().post('/ms365-events/import').send({ json }).expect(400);
    assert.match(res.body.error, /line 12, column 5/);
    await helper.request().post('/ms365-events/import').send({}).expect(400);
  });

  it('a body that is not JSON or whose json is not a string → 4xx, and the next request is served', async () => {
    const raw = await helper.request().post('/ms365-events/import').set('Content-Type', 'application/json').send('{"json": ');
    assert.ok(raw.status >= 400 && raw.status < 500, String(raw.status));
    await helper.request().post('/ms365-events/import').send({ json: 42 }).expect(400);
    await helper.request().post('/ms365-events/preview-url').send({ url: ['/me/messages'] }).expect(400);
    const json = fs.readFileSync(path.join(FIXTURES, 'office365-polling.json'), 'utf8');
    await helper.request().post('/ms365-events/import').send({ json }).expect(200);
  });
});

describe('POST ms365-events/preview-url (poller dialog preview)', () => {
  useNodeRed();
  beforeEach(async () => {
    const flow = [{ id: 'c1', type: 'ms365-connector', name: 'c', elementKey: 'outlookemail' }];
    await helper.load(allNodes, flow);
  });

  it('answers the Graph path, mode, date field and the URL expanded for "at"', async () => {
    const url = "/hubs/general/messages?where=LastModifiedDateTime>='${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'";
    const res = await helper.request().post('/ms365-events/preview-url').send({ url, elementKey: 'outlookemail', at: '2020-03-04T05:06:07Z' }).expect(200);
    assert.equal(res.body.mode, 'filter');
    assert.equal(res.body.dateField, 'lastModifiedDateTime');
    assert.equal(res.body.expanded, '/me/messages?$filter=lastModifiedDateTime%20ge%202020-03-04T05:06:07Z');
    assert.deepEqual(res.body.warnings, []);
  });

  it('answers 400 with the reason for an unknown macro, an unknown zone, a bad element key or no url', async () => {
    const bad = async (body: object, re: RegExp) => {
      const res = await helper.request().post('/ms365-events/preview-url').send(body).expect(400);
      assert.match(res.body.error, re);
    };
    await bad({ url: '/me/messages?$filter=x ge ${when}' }, /unknown macro \$\{when\}/);
    await bad({ url: '/me/messages', timezone: 'Moon/Base' }, /unknown time zone "Moon\/Base"/);
    await bad({ url: '/me/messages', elementKey: 'gmail' }, /elementKey "gmail"/);
    await bad({ url: '/me/messages', at: 'tomorrow' }, /not a time/);
    await bad({}, /url is empty/);
  });
});
