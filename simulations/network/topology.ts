/**
 * Where each simulated host sits: region → zone → rack. Latency classes and correlated
 * failures (a zone, a power domain) follow from it. Hosts are dealt round-robin over zones
 * and then racks, so every zone and rack holds an equal share whatever the cluster size,
 * and a host's place does not depend on its peer id (cells, which do, thin out evenly when
 * a zone fails: DESIGN.md decision 2).
 */
export interface TopologyOptions {
  regions: number;
  zonesPerRegion: number;
  racksPerZone: number;
  /** Racks that share one power feed: the unit of a correlated "power domain" failure. */
  racksPerPowerDomain: number;
}

export const defaultTopologyOptions: TopologyOptions = {
  regions: 1, // count; one region is the common deployment of one Shoal cluster
  zonesPerRegion: 3, // count; three availability zones, as most clouds and on-prem sites offer
  racksPerZone: 40, // count; ~40 racks of ~40 hosts per zone at 5k hosts, scales with N anyway
  racksPerPowerDomain: 4, // count; a PDU pair often feeds a row of ~4 racks
};

export class Topology {
  readonly opts: TopologyOptions;
  readonly zoneCount: number;
  /** Global zone index per host (region-major). */
  readonly zoneOf: Int32Array;
  /** Global rack index per host. */
  readonly rackOf: Int32Array;
  readonly regionOf: Int32Array;
  /** Global power domain index per host. */
  readonly powerDomainOf: Int32Array;
  private readonly zoneNames: string[];

  constructor(opts: TopologyOptions, hostCapacity: number) {
    this.opts = opts;
    this.zoneCount = opts.regions * opts.zonesPerRegion;
    this.zoneOf = new Int32Array(hostCapacity);
    this.rackOf = new Int32Array(hostCapacity);
    this.regionOf = new Int32Array(hostCapacity);
    this.powerDomainOf = new Int32Array(hostCapacity);
    this.zoneNames = [];
    for (let z = 0; z < this.zoneCount; z++) {
      const region = Math.floor(z / opts.zonesPerRegion);
      this.zoneNames.push(`r${region + 1}-${String.fromCharCode(97 + (z % opts.zonesPerRegion))}`);
    }
    for (let i = 0; i < hostCapacity; i++) this.place(i);
  }

  private place(i: number): void {
    const zone = i % this.zoneCount;
    const rackInZone = Math.floor(i / this.zoneCount) % this.opts.racksPerZone;
    this.zoneOf[i] = zone;
    this.regionOf[i] = Math.floor(zone / this.opts.zonesPerRegion);
    this.rackOf[i] = zone * this.opts.racksPerZone + rackInZone;
    this.powerDomainOf[i] = zone * Math.ceil(this.opts.racksPerZone / this.opts.racksPerPowerDomain) + Math.floor(rackInZone / this.opts.racksPerPowerDomain);
  }

  /** Zone name as hosts report it in their records (`r1-a`, `r1-b`, …). */
  zoneName(zone: number): string {
    return this.zoneNames[zone]!;
  }

  zoneIndex(name: string): number {
    return this.zoneNames.indexOf(name);
  }

  get zones(): readonly string[] {
    return this.zoneNames;
  }
}
