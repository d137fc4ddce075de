import assert from 'node:assert/strict';
import axios from 'axios';
import { useSimulator } from '../support/simulator';

describe('simulator: server', () => {
  const sim = useSimulator();

  it('listens on loopback and answers Graph requests without a token with 401', async () => {
    assert.match(sim().url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await axios.get(`${sim().graphBaseUrl}/me`, { validateStatus: () => true });
    assert.ok([401, 404].includes(res.status));
  });
});
