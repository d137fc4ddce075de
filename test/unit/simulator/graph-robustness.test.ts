import assert from 'node:assert/strict';
import net from 'node:net';
import { useSimulator } from '../../support/simulator';
import { delegatedToken, get } from './graph-helpers';

describe('simulated Graph: malformed requests', () => {
  const sim = useSimulator();

  it('malformed paths, query options and tokens → 4xx Graph error bodies, and the server keeps answering', async () => {
    const token = delegatedToken(sim());
    sim().state.graph.store.createMessage(sim().state.defaultUser.id, {});
    const bad = [
      '/me/messages/%E0%A4%A',
      '/me/messages?$filter=' + '('.repeat(5000),
      '/me/messages?$filter=' + encodeURIComponent('subject eq \'x'),
      '/me/messages?$filter=isRead eq',
      '/me/messages?$filter=and or not',
      '/me/messages?$orderby=,,,',
      '/me/messages?$top=1e3',
      '/me/messages?$skip=-1',
      '/me/messages?$select=a;b',
      "/me/mailFolders('x/messages",
      '/me/mailFolders/inbox/messages/delta?$deltatoken=%FF%FE',
      '/me/mailFolders/inbox/messages/delta?$skiptoken=eyJyIjoxfQ',
      '/me/drive/root/delta?token=9999-99-99T99:99:99Z',
      '/me/drive/items/nope/children',
      '/me/calendarView?startDateTime=never&endDateTime=later',
      '/users/%00/messages',
      '/',
    ];
    for (const path of bad) {
      const res = await get(sim(), token, path);
      assert.ok(res.status >= 400 && res.status < 500, `${path.slice(0, 80)} → ${res.status}`);
      assert.equal(typeof res.data?.error?.code, 'string', path.slice(0, 80));
    }
    assert.equal((await get(sim(), token, '/me/messages')).status, 200);
  });

  it('a raw request with a broken request line is refused and the server keeps answering', async () => {
    const { port } = new URL(sim().url);
    await new Promise<void>((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end('GET /v1.0/me/\u0000 HTTP/1.1\r\nHost: x\r\n\r\n'));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.setTimeout(5000, () => socket.destroy());
    });
    assert.equal((await get(sim(), delegatedToken(sim()), '/me')).status, 200);
  });
});
