import type { Encoded, Millis, PeerIdStr } from '../../src/core/index.ts';
import { EntryRequestSchema, RemoteRequestSchema, decodeFederationMessage, encodeFederationMessage, type FederationOptions, type Reply } from '../../src/federation/index.ts';
import type { GossipNode } from '../../src/gossip/index.ts';
import type { PlacementNode } from '../../src/placement/index.ts';
import { ShoalSimNode } from '../shoal/shoal-sim-node.ts';
import { FederationPayload, type FederationRpc } from './rpc.ts';
import type { SimEntry } from './sim-entry.ts';
import type { SimGateway } from './sim-gateway.ts';

/**
 * One host of a federated world: the unchanged GossipNode and PlacementNode (ShoalSimNode),
 * plus its federation roles: every host is an entry, some are gateways. Federation frames
 * are decoded from their bytes with the real schemas before any handler sees them, as the
 * agent's channels do; everything else goes to ShoalSimNode.
 */
export class FederatedSimNode extends ShoalSimNode {
  readonly rpc: FederationRpc;
  readonly entry: SimEntry;
  readonly gateway: SimGateway | null;
  readonly #fed: FederationOptions;

  constructor(gossip: GossipNode, placement: PlacementNode, roles: { rpc: FederationRpc; entry: SimEntry; gateway: SimGateway | null; federation: FederationOptions }) {
    super(gossip, placement);
    this.rpc = roles.rpc;
    this.entry = roles.entry;
    this.gateway = roles.gateway;
    this.#fed = roles.federation;
  }

  override start(now: Millis): void {
    super.start(now);
    this.gateway?.start(now);
  }

  override onDirect(from: PeerIdStr, payload: Encoded, now: Millis): void {
    if (!(payload instanceof FederationPayload)) return super.onDirect(from, payload, now);
    this.rpc.onFrame(payload, now);
    if (payload.kind !== 'request') return;
    const respond = (reply: Reply): void => this.rpc.reply(from, payload, encodeFederationMessage(reply, this.#fed.maxMessageBytes));
    const g = this.gateway;
    // Not a gateway: the agent has no handler for the protocol.
    if (g === null) return respond({ ok: false, code: 'NET_NO_HANDLER', message: 'not a gateway' });
    const max = this.#fed.maxMessageBytes;
    try {
      if (payload.channel === 'entry') {
        g.serveEntry(decodeFederationMessage(payload.bytes, EntryRequestSchema, 'federation entry request', max), now, respond);
        return;
      }
      const origin = g.directory.clusterOf(from);
      if (origin === undefined) {
        g.stats.refusedPeers++;
        return respond({ ok: false, code: 'FEDERATION_NOT_ALLOWED', message: `peer ${from} is not an allowlisted gateway` });
      }
      g.serveRemote(from, origin, decodeFederationMessage(payload.bytes, RemoteRequestSchema, 'federation request', max), now, respond);
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      respond({ ok: false, code: typeof e.code === 'string' ? e.code : 'INTERNAL', message: String(e.message ?? err) });
    }
  }

  override onTimer(now: Millis): void {
    super.onTimer(now);
    if (this.rpc.nextTimerAtMs() <= now) this.rpc.onTimer(now);
    if (this.gateway !== null && this.gateway.nextTimerAtMs() <= now) this.gateway.onTimer(now);
  }

  override nextTimerAtMs(): Millis {
    const a = super.nextTimerAtMs();
    const b = this.rpc.nextTimerAtMs();
    const c = this.gateway?.nextTimerAtMs() ?? Infinity;
    return Math.min(a, b, c);
  }
}
