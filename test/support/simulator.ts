/** Starts a fresh simulated tenant for a test suite: `const sim = useSimulator();` then `sim().graphBaseUrl`. */
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server';
import { SIM_CLIENT_ID, SIM_CLIENT_SECRET } from '../../src/simulator/identity';
import { MicrosoftOAuth } from '../../src/core/auth/oauth';
import { TokenManager } from '../../src/core/auth/token-manager';
import { MemoryTokenStore } from '../../src/core/auth/token-store';
import { GraphClient } from '../../src/core/graph/client';
import { APP_ONLY_SCOPE } from '../../src/core/elements';

export function useSimulator(options: SimulatorOptions = {}): () => Simulator {
  let sim: Simulator | undefined;
  before(async () => {
    sim = await startSimulator(options);
  });
  after(async () => {
    await sim?.close();
  });
  return () => {
    if (!sim) throw new Error('simulator not started');
    return sim;
  };
}

/** The project's token manager for the simulator's app (client credentials, tokens in memory). */
export function simAppTokens(sim: Simulator): TokenManager {
  const oauth = new MicrosoftOAuth({ authorityHost: sim.authorityHost, tenant: sim.state.tenantId, clientId: SIM_CLIENT_ID, clientSecret: SIM_CLIENT_SECRET });
  return new TokenManager({ grantType: 'client_credentials', oauth, scope: APP_ONLY_SCOPE, store: new MemoryTokenStore() });
}

/** The project's Graph client on the simulator, signed in as its app. */
export function simGraphClient(sim: Simulator): GraphClient {
  return new GraphClient({ baseUrl: sim.graphBaseUrl, tokens: simAppTokens(sim) });
}
