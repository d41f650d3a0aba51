import { generateKeyPair } from '@libp2p/crypto/keys';
import { Libp2pTransport } from '../../../src/net/libp2p-transport.ts';
import type { NetMetrics } from '../../../src/net/metrics.ts';
import type { NetOptionsInput } from '../../../src/net/options.ts';
import { generateSwarmKey } from '../../../src/net/swarm-key.ts';
import type { TransportHarness } from '../../compliance/transport-suite.ts';

/** Polls `cond` every 5 ms until true; throws naming `what` after `timeoutMs` of real time. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Small limits so the suite's oversized-frame tests stay cheap. */
export const testNetOptions: NetOptionsInput = {
  listenAddrs: ['/ip4/127.0.0.1/tcp/0'],
  requests: { maxFrameBytes: 64 * 1024, handlerTimeoutMs: 5_000, maxInboundStreams: 64, maxOutboundStreams: 64 },
  gossip: { heartbeatIntervalMs: 200 },
  stopDrainMs: 200,
};

export interface Libp2pNodeSpec {
  /** Swarm key text; omit for the shared key of this harness, null for no pnet. */
  swarmKey?: Uint8Array | null;
  opts?: NetOptionsInput;
  metrics?: NetMetrics | null;
}

/** Real libp2p transports on 127.0.0.1, started, sharing one fresh swarm key. */
export async function startLibp2pTransports(specs: readonly Libp2pNodeSpec[]): Promise<Libp2pTransport[]> {
  const shared = generateSwarmKey();
  const out: Libp2pTransport[] = [];
  try {
    for (const spec of specs) {
      const t = await Libp2pTransport.create({ ...testNetOptions, ...spec.opts }, {
        privateKey: await generateKeyPair('Ed25519'),
        swarmKey: spec.swarmKey === undefined ? shared : spec.swarmKey,
        metrics: spec.metrics ?? null,
      });
      out.push(t);
      await t.start();
    }
  } catch (err) {
    await Promise.allSettled(out.map((t) => t.stop()));
    throw err;
  }
  return out;
}

export async function connectTransports(a: Libp2pTransport, b: Libp2pTransport): Promise<void> {
  await a.dial(b.self, b.listenAddrs());
  await waitFor(() => a.connectedPeers().includes(b.self) && b.connectedPeers().includes(a.self), 5_000, 'both sides see the connection');
}

/**
 * Waits until every connected, subscribed neighbour pair among `nodes` is in each other's
 * gossipsub mesh, so relays forward. Test topologies are smaller than D, so the mesh is all of them.
 */
export async function settleMesh(ts: readonly Libp2pTransport[], topic: string, nodes: readonly number[]): Promise<void> {
  await waitFor(() => nodes.every((i) => {
    const t = ts[i]!;
    const neighbours = nodes.map((j) => ts[j]!.self).filter((p) => p !== t.self && t.connectedPeers().includes(p));
    const mesh = t.meshPeers(topic);
    return neighbours.every((p) => mesh.includes(p));
  }), 10_000, `gossipsub mesh on ${topic} among nodes ${nodes.join(',')}`);
}

export async function libp2pHarness(n: number, opts: NetOptionsInput = {}): Promise<TransportHarness> {
  const ts = await startLibp2pTransports(Array.from({ length: n }, () => ({ opts })));
  return {
    transports: ts,
    connect: (a, b) => connectTransports(ts[a]!, ts[b]!),
    waitFor,
    settleTopic: (topic, nodes) => settleMesh(ts, topic, nodes),
    maxFrameBytes: 64 * 1024,
    async stop() {
      await Promise.allSettled(ts.map((t) => t.stop()));
    },
  };
}
