/** Starts a fresh simulated tenant for a test suite: `const sim = useSimulator();` then `sim().graphBaseUrl`. */
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server';

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
