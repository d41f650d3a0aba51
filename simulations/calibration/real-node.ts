import { generateKeyPair } from '@libp2p/crypto/keys';
import { Libp2pTransport } from '../../src/net/libp2p-transport.ts';
import { calibrationPayload, calibrationPayloadId } from './payload.ts';

/**
 * One real calibration node, in a process of its own (forked by calibrate.ts), so that it
 * has its own event loop as a host would: a peer's IDONTWANT can then race this node's
 * forwarding the way it does between machines, which it cannot among nodes sharing one loop.
 * Driven over the IPC channel: each request carries `rid`, and the answer echoes it.
 */
export type NodeRequest =
  | { rid: number; cmd: 'init'; swarmKey: number[]; topic: string }
  | { rid: number; cmd: 'dial'; peer: string; addrs: string[] }
  | { rid: number; cmd: 'mesh' }
  | { rid: number; cmd: 'publish'; id: number; size: number }
  | { rid: number; cmd: 'report' }
  | { rid: number; cmd: 'stop' };

export interface NodeReport {
  /** Copies gossipsub handed its duplicate check (first deliveries included). */
  copies: number;
  /** [message id, first delivery time (ms since the epoch, sub-ms)]. */
  firstAt: [number, number][];
  /** Forward targets gossipsub skipped because their IDONTWANT had arrived. */
  idontwantSkipped: number;
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** The private parts of @libp2p/gossipsub 17 this node counts through (not public API; checked against 17.1.1). */
interface GossipsubInternals {
  handleReceivedMessage(from: unknown, msg: { topic?: string }): Promise<void>;
  forwardMessage(msgIdStr: string, raw: { topic: string }, source: unknown, exclude: unknown): void;
  selectPeersToForward(topic: string, source: unknown, exclude: unknown): Set<string>;
  idontwants: Map<string, Map<string, number>>;
}

let transport: Libp2pTransport | undefined;
let topic = '';
const report: NodeReport = { copies: 0, firstAt: [], idontwantSkipped: 0 };
const firstAt = new Map<number, number>();

function instrument(gs: GossipsubInternals): void {
  const receive = gs.handleReceivedMessage.bind(gs);
  gs.handleReceivedMessage = (from, msg) => {
    if (msg.topic === topic) report.copies++;
    return receive(from, msg);
  };
  const forward = gs.forwardMessage.bind(gs);
  gs.forwardMessage = (msgIdStr, raw, source, exclude) => {
    // The same test forwardMessage makes next, made first so it can be counted.
    for (const peer of gs.selectPeersToForward(raw.topic, source, exclude)) {
      if (gs.idontwants.get(peer)?.has(msgIdStr) === true) report.idontwantSkipped++;
    }
    forward(msgIdStr, raw, source, exclude);
  };
}

async function handle(req: NodeRequest): Promise<object> {
  switch (req.cmd) {
    case 'init': {
      const t = await Libp2pTransport.create(
        { listenAddrs: ['/ip4/127.0.0.1/tcp/0'], stopDrainMs: 100 },
        { privateKey: await generateKeyPair('Ed25519'), swarmKey: Uint8Array.from(req.swarmKey), metrics: null },
      );
      await t.start();
      transport = t;
      topic = req.topic;
      instrument(t.libp2p.services.pubsub as unknown as GossipsubInternals);
      t.setTopicHandler((m) => {
        const id = calibrationPayloadId(m.data);
        if (!firstAt.has(id)) firstAt.set(id, epochNow());
        return 'accept';
      });
      t.subscribe(topic);
      return { self: t.self, addrs: t.listenAddrs() };
    }
    case 'dial':
      await transport!.dial(req.peer, req.addrs);
      return {};
    case 'mesh':
      return { mesh: transport!.meshPeers(topic).length, peers: transport!.topicPeers(topic).length };
    case 'publish': {
      const b = calibrationPayload(req.id, req.size);
      const at = epochNow();
      transport!.publish(topic, b);
      return { at };
    }
    case 'report':
      return { ...report, firstAt: [...firstAt] };
    case 'stop':
      await transport?.stop();
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (req: NodeRequest) => {
  handle(req).then(
    (answer) => process.send!({ rid: req.rid, ...answer }),
    (err: unknown) => process.send!({ rid: req.rid, error: err instanceof Error ? err.message : String(err) }),
  );
});
