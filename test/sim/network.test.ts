import assert from 'node:assert/strict';
import { SeededRng } from '../../src/core/index.ts';
import { LOST, NetworkModel, defaultNetworkOptions } from '../../simulations/network/network-model.ts';
import { Topology, defaultTopologyOptions } from '../../simulations/network/topology.ts';

describe('sim network model', () => {
  const topo = new Topology({ ...defaultTopologyOptions, regions: 2, zonesPerRegion: 3, racksPerZone: 4 }, 600);

  it('latency class follows rack, zone and region', () => {
    const net = new NetworkModel(defaultNetworkOptions, { topology: topo, rng: new SeededRng(1), hostCapacity: 600 });
    let checked = 0;
    for (let a = 0; a < 600; a += 7) {
      for (let b = 0; b < 600; b += 5) {
        const want = topo.rackOf[a] === topo.rackOf[b] ? 0.1 : topo.zoneOf[a] === topo.zoneOf[b] ? 0.25 : topo.regionOf[a] === topo.regionOf[b] ? 1 : 35;
        assert.equal(net.baseLatencyMs(a, b), want, `hosts ${a} and ${b}: rack ${topo.rackOf[a]}/${topo.rackOf[b]}, zone ${topo.zoneOf[a]}/${topo.zoneOf[b]}`);
        checked++;
      }
    }
    assert.ok(checked > 5000, 'checked many pairs');
  });

  it('queues sends behind each other on the sender uplink', () => {
    const net = new NetworkModel({ ...defaultNetworkOptions, uplinkBytesPerS: 1_000_000, jitterFraction: 0 }, { topology: topo, rng: new SeededRng(2), hostCapacity: 600 });
    const first = net.transmit(0, 6, 1000, 0);
    const second = net.transmit(0, 6, 1000, 0);
    assert.ok(Math.abs(second - first - 1) < 1e-9, `a 1000-byte send at 1 MB/s occupies the uplink 1 ms: ${first} then ${second}`);
    assert.ok(Math.abs(net.uplinkBacklogBytes(0, 0) - 2000) < 1e-6, 'the backlog is the queued bytes');
    assert.equal(net.uplinkBacklogBytes(0, 10), 0, 'the backlog drains');
  });

  it('partitions stop copies between groups; heal restores them', () => {
    const net = new NetworkModel(defaultNetworkOptions, { topology: topo, rng: new SeededRng(3), hostCapacity: 600 });
    const groups = new Int32Array(600);
    groups[1] = 1;
    net.setPartition(groups);
    assert.equal(net.transmit(0, 1, 100, 0), LOST, 'across the partition: lost');
    assert.notEqual(net.transmit(0, 2, 100, 0), LOST, 'same side: delivered');
    net.setPartition(null);
    assert.notEqual(net.transmit(0, 1, 100, 0), LOST, 'after heal: delivered');
  });

  it('loss drops copies in drop mode and delays them by a retransmission timeout otherwise', () => {
    const drop = new NetworkModel({ ...defaultNetworkOptions, lossRate: 1, lossMode: 'drop' }, { topology: topo, rng: new SeededRng(4), hostCapacity: 600 });
    assert.equal(drop.transmit(0, 6, 100, 0), LOST, 'drop mode loses the copy');
    const rtx = new NetworkModel({ ...defaultNetworkOptions, lossRate: 1, lossMode: 'retransmit' }, { topology: topo, rng: new SeededRng(4), hostCapacity: 600 });
    const at = rtx.transmit(0, 6, 100, 0);
    assert.ok(at >= 200, `retransmit mode delivers after at least the 200 ms RTO, got ${at}`);
  });
});
