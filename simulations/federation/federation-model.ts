import { SeededRng, ShoalError, type JobSpec, type Millis, type PeerIdStr, type Resources, type Rng } from '../../src/core/index.ts';
import { defaultFederationOptions, federationOptions, type FederationOptions, type FederationPolicy } from '../../src/federation/index.ts';
import type { LedgerSnapshot } from '../../src/placement/index.ts';
import type { Histogram } from '../metrics/histogram.ts';
import type { CorruptInjection, HostModel, PlacementDriver, RunHooks } from '../run/host-model.ts';
import type { Truth } from '../run/truth.ts';
import { overrideOptions } from '../scenario/options-override.ts';
import type { Scenario } from '../scenario/schema.ts';
import { ShoalHostModel } from '../shoal/shoal-model.ts';
import type { ShoalSimNode } from '../shoal/shoal-sim-node.ts';
import type { HostContext, World } from '../world/world.ts';
import { BurstRecorder } from './burst-recorder.ts';
import { FederatedSimNode } from './federated-node.ts';
import { FederationRpc, type RpcLinks, type TrafficClass, type TrafficTap } from './rpc.ts';
import type { FederationSpec } from './schema.ts';
import { SimEntry, type EntryOutcome } from './sim-entry.ts';
import { SimGateway } from './sim-gateway.ts';

const CLASSES: readonly TrafficClass[] = ['summary', 'burst', 'lookup'];

/** Federation frames one gateway sent and received, per simulated second and class. */
class GatewayTraffic {
  readonly requests: Record<TrafficClass, Float64Array>;
  readonly bytes: Record<TrafficClass, Float64Array>;
  constructor(seconds: number) {
    this.requests = { summary: new Float64Array(seconds), burst: new Float64Array(seconds), lookup: new Float64Array(seconds) };
    this.bytes = { summary: new Float64Array(seconds), burst: new Float64Array(seconds), lookup: new Float64Array(seconds) };
  }
  /** Mean per second over [fromS, toS). */
  rate(what: 'requests' | 'bytes', cls: TrafficClass, fromS: number, toS: number): number | null {
    const a = this[what][cls];
    const hi = Math.min(toS, a.length);
    if (hi <= fromS) return null;
    let s = 0;
    for (let k = Math.max(0, fromS); k < hi; k++) s += a[k]!;
    return s / (hi - Math.max(0, fromS));
  }
}

/**
 * A federated world: the hosts split into `clusters` clusters, one per topology region (so
 * gateways talk across the WAN latency class), each cluster its own gossip mesh and placement
 * (the unchanged ShoalHostModel, told each host's cluster). Every host is a federation entry;
 * the first `gateways_per_cluster` hosts of each cluster (one per zone) are its gateways. A
 * burst load submits through entries of the full clusters; a gateway can be killed mid-run.
 */
export class FederatedShoalModel implements HostModel<ShoalSimNode> {
  readonly protocol = 'shoal';
  readonly inner: ShoalHostModel;
  readonly spec: FederationSpec;
  readonly options: FederationOptions;
  readonly recorder = new BurstRecorder();
  private readonly scenario: Scenario;
  private world: World<ShoalSimNode> | null = null;
  private truth: Truth | null = null;
  private readonly names: string[];
  private hostsOf: number[][] = [];
  private gatewayHosts: number[][] = [];
  private gatewayIds: PeerIdStr[][] = [];
  private readonly gatewayCluster = new Map<number, number>();
  private readonly gateways = new Map<number, SimGateway>();
  private readonly entries = new Map<number, SimEntry>();
  private readonly traffic = new Map<number, GatewayTraffic>();
  private allowlist: Record<string, readonly PeerIdStr[]> = {};
  private readonly policies: FederationPolicy[];
  /** Agents killed with their host up: connections to them are refused. */
  private readonly killedProcesses = new Set<PeerIdStr>();
  private killAtMs = Infinity;
  private killedHost = -1;
  private readonly rng: Rng;
  private seq = 0;

  constructor(scenario: Scenario) {
    const fed = scenario.federation;
    if (fed === undefined) throw new Error('FederatedShoalModel needs a [federation] table');
    this.scenario = scenario;
    this.spec = fed;
    this.options = federationOptions(overrideOptions(defaultFederationOptions, fed.options, 'federation.options'));
    this.names = Array.from({ length: fed.clusters }, (_, c) => `c${c}`);
    for (const c of fed.closed_clusters) {
      if (c >= fed.clusters) throw new ShoalError('SIM_SCENARIO_INVALID', `federation.closed_clusters: no cluster ${c} (clusters: 0–${fed.clusters - 1})`);
    }
    const tenants: Record<string, { maxVcpus: number }> = {};
    for (const [t, v] of Object.entries(fed.tenant_quota_vcpus)) tenants[t] = { maxVcpus: v };
    this.policies = this.names.map((_, c) => ({ acceptClusters: fed.closed_clusters.includes(c) ? [] : ['*'], allowTenants: ['*'], denyTenants: fed.deny_tenants, clusters: {}, tenants }));
    this.rng = new SeededRng(scenario.seed).fork('federation-load');
    this.inner = new ShoalHostModel(scenario, {
      clusterOf: (h) => this.names[this.clusterIndex(h)]!,
      prefill: (h, cap) => this.prefill(h, cap),
      clusterSize: Math.ceil(scenario.nodes / fed.clusters),
    });
  }

  get placement(): PlacementDriver {
    return this.inner.placement;
  }

  clusterIndex(host: number): number {
    return this.world!.topology.regionOf[host]!;
  }

  groupOf(host: number): number {
    return this.clusterIndex(host);
  }

  regionName(c: number): string {
    return `r${c + 1}`;
  }

  topicKindOf(topic: string): string {
    return this.inner.topicKindOf(topic);
  }

  cellBitsOf(node: ShoalSimNode): number {
    return this.inner.cellBitsOf(node);
  }

  bind(world: World<ShoalSimNode>, truth: Truth, hooks: RunHooks): void {
    const fed = this.spec;
    if (world.topology.opts.regions !== fed.clusters) {
      throw new ShoalError('SIM_SCENARIO_INVALID', `[federation] clusters = ${fed.clusters} needs [topology] regions = ${fed.clusters} (one region per cluster), got ${world.topology.opts.regions}`);
    }
    this.world = world;
    this.truth = truth;
    this.inner.bind(world, truth, hooks);
    this.hostsOf = this.names.map(() => []);
    for (let i = 0; i < this.scenario.nodes; i++) this.hostsOf[this.clusterIndex(i)]!.push(i);
    this.gatewayHosts = this.hostsOf.map((hosts) => hosts.slice(0, fed.gateways_per_cluster));
    this.gatewayIds = this.gatewayHosts.map((hosts) => hosts.map((h) => world.ids[h]!));
    this.allowlist = Object.fromEntries(this.names.map((n, c) => [n, this.gatewayIds[c]!]));
    const seconds = Math.ceil(this.scenario.duration_s) + 2;
    this.gatewayHosts.forEach((hosts, c) =>
      hosts.forEach((h) => {
        this.gatewayCluster.set(h, c);
        this.traffic.set(h, new GatewayTraffic(seconds));
      }),
    );
    this.scheduleLoad();
    if (fed.kill_at_s !== null) {
      if (fed.kill_cluster >= fed.clusters) throw new ShoalError('SIM_SCENARIO_INVALID', `federation.kill_cluster: no cluster ${fed.kill_cluster}`);
      world.at(fed.kill_at_s * 1000, (now) => this.killGateway(now));
    }
  }

  private prefill(host: number, cap: Resources): LedgerSnapshot | undefined {
    const fill = this.clusterIndex(host) < this.spec.full_clusters ? 1 : this.spec.other_fill;
    const vcpus = Math.floor(cap.vcpus * fill);
    const memoryMiB = Math.floor(cap.memoryMiB * fill);
    if (vcpus === 0 && memoryMiB === 0) return undefined;
    const id = `prefill-${host}`;
    return { v: 1, reservations: [{ jobId: id, epoch: 1, tenant: 'prefill', key: id, specDigest: 'prefill', resources: { vcpus, memoryMiB, diskGiB: 0 }, antiAffinity: null, driver: 'qemu' }] };
  }

  build(ctx: HostContext): ShoalSimNode {
    const w = this.world!;
    const base = this.inner.build(ctx);
    const i = ctx.index;
    const c = this.clusterIndex(i);
    const cluster = this.names[c]!;
    const region = this.regionName(c);
    const clock = (): Millis => w.hostTime(w.nowMs);
    const links: RpcLinks = {
      refuses: (peer) => this.killedProcesses.has(peer),
      rttMs: (peer) => 2 * w.network.baseLatencyMs(i, w.indexOf.get(peer) ?? i),
    };
    const t = this.traffic.get(i);
    const tap: TrafficTap | null =
      t === undefined
        ? null
        : (_dir, kind, cls, bytes) => {
            const s = Math.floor(w.nowMs / 1000);
            if (s >= t.bytes[cls].length) return;
            t.bytes[cls][s]! += bytes;
            if (kind === 'request') t.requests[cls][s]!++;
          };
    const rpc = new FederationRpc(ctx.outbox, links, tap);
    let gateway: SimGateway | null = null;
    if (this.gatewayCluster.has(i)) {
      gateway = new SimGateway(
        { cluster, region, self: ctx.self, federation: this.options, policy: this.policies[c]!, allowlist: this.allowlist, siblings: this.gatewayIds[c]!.filter((p) => p !== ctx.self) },
        { rpc, placement: base.placement, view: base.gossip, clock },
      );
      this.gateways.set(i, gateway);
    }
    const entry = new SimEntry({ cluster, region, self: ctx.self, gateways: this.gatewayIds[c]!, federation: this.options }, { rpc, placement: base.placement, gateway, clock });
    this.entries.set(i, entry);
    return new FederatedSimNode(base.gossip, base.placement, { rpc, entry, gateway, federation: this.options });
  }

  // ---- burst load ----

  private scheduleLoad(): void {
    const w = this.world!;
    const load = this.spec.load;
    const tickMs = 10;
    const perTick = (load.rate_per_s * tickMs) / 1000;
    const endMs = (load.end_s > 0 ? load.end_s : this.scenario.duration_s) * 1000;
    let carry = 0;
    const tick = (now: Millis): void => {
      if (now >= endMs) return;
      carry += perTick;
      while (carry >= 1) {
        carry -= 1;
        this.submitOne(now);
      }
      w.at(now + tickMs, tick);
    };
    w.at(load.start_s * 1000, tick);
  }

  private pickEntry(c: number, not: number): number {
    const w = this.world!;
    const hosts = this.hostsOf[c]!;
    for (let tries = 0; tries < 16; tries++) {
      const h = hosts[this.rng.int(hosts.length)]!;
      if (h !== not && w.alive[h]) return h;
    }
    return -1;
  }

  private pickTenant(): string {
    const entries = Object.entries(this.spec.load.tenants);
    if (entries.length === 0) return 'default';
    const total = entries.reduce((a, [, v]) => a + v, 0);
    let x = this.rng.next() * total;
    for (const [t, v] of entries) {
      x -= v;
      if (x < 0) return t;
    }
    return entries[entries.length - 1]![0];
  }

  private submitOne(now: Millis): void {
    const load = this.spec.load;
    const from = Math.min(this.spec.clusters, load.from_clusters ?? Math.max(1, this.spec.full_clusters));
    const c = this.rng.int(from);
    const entry = this.pickEntry(c, -1);
    if (entry < 0) return;
    const n = this.seq++;
    const key = `fed-${n}`;
    const spec: JobSpec = {
      name: key,
      kind: 'vm',
      resources: { vcpus: load.vcpus, memoryMiB: load.memory_mib, diskGiB: 0 },
      labels: {},
      constraints: { hostLabels: {} },
      preferences: [],
      policy: 'binpack',
      idempotencyKey: key,
      tenant: this.pickTenant(),
      evacuate: true,
      restart: 'on-failure',
    };
    const twice = this.rng.next() < load.repeat_fraction;
    this.submitAt(entry, spec, now, twice ? key : null);
    if (!twice) return;
    const again = (t: Millis): void => {
      const other = this.pickEntry(c, entry);
      if (other >= 0) this.submitAt(other, spec, t, key);
    };
    if (load.repeat_after_ms > 0) this.world!.at(now + load.repeat_after_ms, again);
    else again(now);
  }

  private submitAt(entry: number, spec: JobSpec, now: Millis, repeatKey: string | null): void {
    const w = this.world!;
    const node = w.hosts[entry];
    if (!(node instanceof FederatedSimNode)) return;
    this.recorder.submitted++;
    const own = this.names[this.clusterIndex(entry)]!;
    const submitAt = w.hostTime(now);
    w.guard(entry, 'federation.place', () =>
      node.entry.place(spec, submitAt, (r: EntryOutcome, t: Millis) => this.recorder.record(r, own, submitAt, t, this.killAtMs, repeatKey)),
    );
  }

  // ---- gateway kill ----

  private killGateway(now: Millis): void {
    const w = this.world!;
    const c = this.spec.kill_cluster;
    let victim = -1;
    for (const h of this.gatewayHosts[c]!) {
      if (!w.alive[h]) continue;
      if (victim < 0 || this.gateways.get(h)!.burstsServed > this.gateways.get(victim)!.burstsServed) victim = h;
    }
    if (victim < 0) return;
    this.killAtMs = now;
    this.killedHost = victim;
    const peer = w.ids[victim]!;
    if (this.spec.kill_mode === 'process') {
      this.killedProcesses.add(peer);
      // Its streams are reset: requests in flight to it fail after the RST's one-way trip.
      for (const [h, node] of w.hosts.entries()) {
        if (h === victim || !w.alive[h] || !(node instanceof FederatedSimNode) || node.rpc.pending === 0) continue;
        w.guard(h, 'federation.reset', () => node.rpc.reset(peer, w.hostTime(now + w.network.baseLatencyMs(victim, h))));
      }
    }
    w.crashHost(victim, now);
    this.truth!.wentDown(victim, now, true);
  }

  // ---- delegated observation ----

  viewCorrect(host: number, node: ShoalSimNode, nowMs: Millis, rng: Rng): boolean {
    return this.inner.viewCorrect(host, node, nowMs, rng);
  }

  sampleFreshness(host: number, node: ShoalSimNode, nowMs: Millis, a: Histogram, b: Histogram, c: Histogram): void {
    this.inner.sampleFreshness(host, node, nowMs, a, b, c);
  }

  queueDepth(host: number, node: ShoalSimNode): number {
    return this.inner.queueDepth(host, node);
  }

  injectCorrupt(nowMs: Millis, rng: Rng, kind: string): CorruptInjection | null {
    return this.inner.injectCorrupt(nowMs, rng, kind);
  }

  driftCapacity(host: number, node: ShoalSimNode, nowMs: Millis, rng: Rng): void {
    this.inner.driftCapacity(host, node, nowMs, rng);
  }

  // ---- metrics ----

  finalMetrics(): Record<string, number | null> {
    const w = this.world!;
    const s = this.scenario;
    const fed = this.spec;
    const durationS = s.duration_s;
    const loadFromS = fed.load.start_s;
    const loadToS = fed.load.end_s > 0 ? Math.min(fed.load.end_s, durationS) : durationS;
    const killS = Number.isFinite(this.killAtMs) ? this.killAtMs / 1000 : Infinity;
    const stat = (what: 'requests' | 'bytes', cls: TrafficClass, fromS: number, toS: number): { max: number | null; mean: number | null } => {
      const xs: number[] = [];
      for (const [h, t] of this.traffic) {
        const end = h === this.killedHost ? Math.min(toS, Math.floor(killS)) : toS;
        const r = t.rate(what, cls, Math.floor(fromS), Math.floor(end));
        if (r !== null) xs.push(r);
      }
      if (xs.length === 0) return { max: null, mean: null };
      return { max: Math.max(...xs), mean: xs.reduce((a, b) => a + b, 0) / xs.length };
    };
    const out: Record<string, number | null> = {};
    const warm = s.metrics.warmup_s;
    for (const cls of CLASSES) {
      const [from, to] = cls === 'summary' ? [warm, durationS] : [loadFromS, loadToS];
      const req = stat('requests', cls, from, to);
      const bytes = stat('bytes', cls, from, to);
      out[`gateway_${cls}_req_per_s_max`] = req.max;
      out[`gateway_${cls}_req_per_s_mean`] = req.mean;
      out[`gateway_${cls}_bytes_per_s_max`] = bytes.max;
      out[`gateway_${cls}_bytes_per_s_mean`] = bytes.mean;
    }
    // Load spread: remote placements asked of each gateway of the clusters that can take bursts.
    const receivers: number[] = [];
    let failovers = 0;
    let remoteKnownMin = Infinity;
    let summariesReceived = 0;
    for (const [h, g] of this.gateways) {
      const c = this.gatewayCluster.get(h)!;
      failovers += g.stats.failovers;
      summariesReceived += g.stats.summariesReceived;
      if (c >= fed.full_clusters && !fed.closed_clusters.includes(c)) receivers.push(g.placesServed);
      if (w.alive[h]) remoteKnownMin = Math.min(remoteKnownMin, g.directory.states().size);
    }
    const meanPlaces = receivers.length > 0 ? receivers.reduce((a, b) => a + b, 0) / receivers.length : null;
    const maxPlaces = receivers.length > 0 ? Math.max(...receivers) : null;
    let entryFailovers = 0;
    for (const e of this.entries.values()) entryFailovers += e.failovers;
    let intoFull = 0;
    let intoClosed = 0;
    const intoOpen: number[] = [];
    this.names.forEach((cluster, c) => {
      const n = this.recorder.landedIn.get(cluster) ?? 0;
      if (c < fed.full_clusters) intoFull += n;
      else if (fed.closed_clusters.includes(c)) intoClosed += n;
      else intoOpen.push(n);
    });
    const meanOpen = intoOpen.length > 0 ? intoOpen.reduce((a, b) => a + b, 0) / intoOpen.length : 0;
    const audit = this.inner.placement.audit();
    return {
      ...this.inner.finalMetrics(),
      ...this.recorder.metrics(),
      ...out,
      gateway_places_per_gateway_max: maxPlaces,
      gateway_places_per_gateway_mean: meanPlaces,
      gateway_places_spread: maxPlaces !== null && meanPlaces !== null && meanPlaces > 0 ? maxPlaces / meanPlaces : null,
      gateway_failovers: failovers,
      entry_failovers: entryFailovers,
      gateway_summaries_received: summariesReceived,
      gateway_remote_clusters_known_min: Number.isFinite(remoteKnownMin) ? remoteKnownMin : null,
      gateway_killed_at_s: Number.isFinite(killS) ? killS : null,
      bursts_into_full_clusters: intoFull,
      bursts_into_closed_clusters: intoClosed,
      bursts_per_cluster_spread: meanOpen > 0 ? Math.max(...intoOpen) / meanOpen : null,
      fed_duplicate_jobs: audit.duplicateJobs,
      fed_overcommitted_hosts: audit.overcommittedHosts,
    };
  }
}
