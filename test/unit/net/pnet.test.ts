import assert from 'node:assert/strict';
import { ShoalError } from '../../../src/core/errors.ts';
import type { Libp2pTransport } from '../../../src/net/libp2p-transport.ts';
import { generateSwarmKey } from '../../../src/net/swarm-key.ts';
import { connectTransports, startLibp2pTransports, waitFor } from './libp2p-harness.ts';

/** Dials b from a; asserts it fails with NET_UNREACHABLE and that neither side holds a connection afterwards. */
async function assertCannotConnect(a: Libp2pTransport, b: Libp2pTransport, what: string): Promise<void> {
  let connects = 0;
  a.onPeerEvent((e) => e.type === 'connect' && connects++);
  b.onPeerEvent((e) => e.type === 'connect' && connects++);
  // No caller signal: the node's own dialTimeoutMs must end the attempt. A wrong-key handshake
  // often cannot fail fast: the peer reads pnet-garbled noise frames and waits for more bytes.
  await assert.rejects(
    a.dial(b.self, b.listenAddrs()),
    (e: unknown) => e instanceof ShoalError && e.code === 'NET_UNREACHABLE',
    `${what}: dial must fail with NET_UNREACHABLE`,
  );
  assert.deepEqual(a.connectedPeers(), [], `${what}: dialer must hold no connection`);
  assert.deepEqual(b.connectedPeers(), [], `${what}: listener must hold no connection`);
  assert.equal(a.libp2p.getConnections().length + b.libp2p.getConnections().length, 0, `${what}: no raw libp2p connection either`);
  assert.equal(connects, 0, `${what}: no peer connect event may fire`);
}

/** Short dial timeout: a wrong-key handshake usually ends only when it expires. */
const opts = { connections: { dialTimeoutMs: 1_500 } };

describe('private network (pnet)', () => {
  let nodes: Libp2pTransport[] = [];
  afterEach(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    nodes = [];
  });

  it('connects peers that share a key (control)', async () => {
    const key = generateSwarmKey();
    nodes = await startLibp2pTransports([{ swarmKey: key, opts }, { swarmKey: key, opts }]);
    await connectTransports(nodes[0]!, nodes[1]!);
    assert.deepEqual(nodes[0]!.connectedPeers(), [nodes[1]!.self], 'same key connects');
  });

  it('refuses peers with a different key, in both directions', async () => {
    nodes = await startLibp2pTransports([{ swarmKey: generateSwarmKey(), opts }, { swarmKey: generateSwarmKey(), opts }]);
    await assertCannotConnect(nodes[0]!, nodes[1]!, 'a→b with different keys');
    await assertCannotConnect(nodes[1]!, nodes[0]!, 'b→a with different keys');
  });

  it('refuses a node without any key, whichever side dials', async () => {
    const key = generateSwarmKey();
    nodes = await startLibp2pTransports([{ swarmKey: key, opts }, { swarmKey: null, opts }]);
    await assertCannotConnect(nodes[1]!, nodes[0]!, 'keyless → keyed');
    await assertCannotConnect(nodes[0]!, nodes[1]!, 'keyed → keyless');
    // The keyed node stays healthy for members after the failed attempts.
    const [member] = await startLibp2pTransports([{ swarmKey: key, opts }]);
    nodes.push(member!);
    await connectTransports(member!, nodes[0]!);
    await waitFor(() => nodes[0]!.connectedPeers().includes(member!.self), 5_000, 'member connects after failed outsiders');
  });
});
