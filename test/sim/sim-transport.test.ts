import { transportComplianceSuite, type TransportHarness } from '../compliance/transport-suite.ts';
import { SimNetwork, defaultSimNetworkOptions } from '../../simulations/transport/sim-network.ts';

/** The simulator's in-memory transport under the same suite as the libp2p adapter; waitFor advances virtual time. */
async function simHarness(n: number): Promise<TransportHarness> {
  const maxFrameBytes = 64 * 1024;
  const net = new SimNetwork({ ...defaultSimNetworkOptions, seed: 7, hostCapacity: Math.max(n, 8), maxFrameBytes });
  const transports = Array.from({ length: n }, () => net.createTransport());
  for (const t of transports) await t.start();
  return {
    transports,
    async connect(a, b) {
      await transports[a]!.dial(transports[b]!.self, transports[b]!.listenAddrs());
      await net.waitFor(
        () => transports[a]!.connectedPeers().includes(transports[b]!.self) && transports[b]!.connectedPeers().includes(transports[a]!.self),
        5_000,
        `both sides see the connection ${a}—${b}`,
      );
    },
    waitFor: (cond, timeoutMs, what) => net.waitFor(cond, timeoutMs, what),
    // Without a mesh to form, a topic is ready once subscriptions have been announced, which waitFor on topicPeers already covers.
    settleTopic: async () => {},
    maxFrameBytes,
    async stop() {
      await Promise.allSettled(transports.map((t) => t.stop()));
      net.close();
    },
  };
}

transportComplianceSuite('simulator in-memory transport (virtual time)', simHarness);
