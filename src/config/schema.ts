import { z } from 'zod';
import { DRIVER_NAMES, LabelsSchema } from '../core/job.ts';
import { schemaKeyFor } from './schema-walk.ts';

/**
 * The agent's configuration: one schema, every field documented, unknown keys rejected
 * (fastify-style strict config). In TOML and in `SHOAL_*` variables keys are snake_case
 * (`data_dir`, `SHOAL_AGENT_DATA_DIR`); in code they are camelCase.
 */

const positive = z.number().positive();

export const ResourcesConfigSchema = z.strictObject({
  vcpus: z.number().nonnegative(),
  memoryMiB: z.number().int().nonnegative(),
  diskGiB: z.number().int().nonnegative(),
});

/** The loader leaves keys inside records as written (record keys are names), so accept the snake_case fields of record values here. */
function snakeCaseFields<T extends z.ZodObject>(schema: T) {
  return z.preprocess((v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [schemaKeyFor(schema.shape, k) ?? k, x]));
  }, schema);
}

const clusterNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and "-"');
const peerIdSchema = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{40,100}$/, 'must be a peer id (12D3KooW…)');
const P2P_SUFFIX = /\/p2p\/([1-9A-HJ-NP-Za-km-z]{40,100})$/;
const dialableSchema = z.string().regex(P2P_SUFFIX, 'must be a multiaddr ending in /p2p/<peer id>');
const tenantNameSchema = z.string().min(1).max(63);

export const FederationConfigSchema = z
  .strictObject({
    /** Run a gateway: a second libp2p node, on `listen`, that peers only with other clusters' allowlisted gateways. */
    gateway: z.boolean().default(false),
    /** Federation listen multiaddrs (gateways only), apart from `net.listen`. */
    listen: z.array(z.string().min(1)).default(['/ip4/0.0.0.0/tcp/7947']),
    /** Federation addresses to advertise instead of the listen addresses. */
    announce: z.array(z.string().min(1)).default([]),
    /** A private-network key shared by the federated clusters' gateways; without one the allowlist alone admits peers. */
    networkKey: z.string().min(1).optional(),
    /** Remote gateways to dial (federation multiaddrs ending in /p2p/<peer id>); each id must be allowlisted under `clusters`. */
    peers: z.array(dialableSchema).default([]),
    /** This cluster's gateways, as mesh multiaddrs ending in /p2p/<peer id>: where every agent sends jobs for other clusters. */
    gateways: z.array(dialableSchema).max(16).default([]),
    /** This cluster's region as other clusters see it (`constraints.region`); default `host.region`. */
    region: z.string().min(1).max(63).optional(),
    /** Send a job to another cluster when no local host fits. */
    burst: z.boolean().default(true),
    /** The allowlist: remote cluster name → the peer ids of its gateways. Any other identity is refused. */
    clusters: z.record(clusterNameSchema, snakeCaseFields(z.strictObject({ gateways: z.array(peerIdSchema).min(1).max(16) }))).default({}),
    /** Local governance: which remote clusters and tenants may place jobs here, and their quotas. */
    policy: z
      .strictObject({
        /** Remote clusters whose jobs may run here; "*" for every allowlisted one. Default: none. */
        acceptClusters: z.array(z.union([clusterNameSchema, z.literal('*')])).default([]),
        /** Tenants that may place here from accepted clusters; "*" for all. */
        allowTenants: z.array(tenantNameSchema).default(['*']),
        /** Tenants refused whatever `allow_tenants` says. */
        denyTenants: z.array(tenantNameSchema).default([]),
        /** Per remote cluster: its own tenant lists and a quota on what its jobs reserve here together. */
        clusters: z
          .record(
            clusterNameSchema,
            snakeCaseFields(
              z.strictObject({
                allowTenants: z.array(tenantNameSchema).optional(),
                denyTenants: z.array(tenantNameSchema).optional(),
                maxVcpus: z.number().nonnegative().optional(),
                maxMemoryMiB: z.number().int().nonnegative().optional(),
              }),
            ),
          )
          .default({}),
        /** Per tenant, whichever cluster its jobs come from: a quota on what they reserve here together. */
        tenants: z
          .record(tenantNameSchema, snakeCaseFields(z.strictObject({ maxVcpus: z.number().nonnegative().optional(), maxMemoryMiB: z.number().int().nonnegative().optional() })))
          .default({}),
      })
      .prefault({}),
  })
  .superRefine((f, ctx) => {
    const listed = new Set(Object.values(f.clusters).flatMap((c) => c.gateways));
    f.peers.forEach((addr, i) => {
      const id = P2P_SUFFIX.exec(addr)?.[1];
      if (id !== undefined && !listed.has(id)) {
        ctx.addIssue({ code: 'custom', path: ['peers', i], message: `peer ${id} is not in any [federation.clusters.<name>] gateways list` });
      }
    });
  })
  .prefault({});

export const ConfigSchema = z.strictObject({
  /** The cluster this agent belongs to; agents of other clusters are rejected. */
  cluster: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and "-"')
    .default('default'),

  agent: z
    .strictObject({
      /** Durable state: the job store, node identity, peer cache. */
      dataDir: z.string().min(1).optional(),
      /** The local API socket (HTTP/JSON). */
      socket: z.string().min(1).optional(),
      /** Group that owns the socket (mode 0660), so operators in it can talk to the agent. */
      socketGroup: z.string().min(1).optional(),
      /** A human name for this host in listings; defaults to the hostname. */
      nodeName: z.string().min(1).max(253).optional(),
      /** Largest accepted request body: a job spec is a few hundred bytes. */
      maxBodyBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
      /** Also serve `GET /v1/metrics` on this TCP address (`127.0.0.1:9464`), for Prometheus. */
      metricsListen: z
        .string()
        .regex(/^[^:]+:\d+$/, 'must be host:port')
        .optional(),
    })
    .prefault({}),

  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),

  host: z
    .strictObject({
      zone: z.string().min(1).max(63).default('default'),
      region: z.string().min(1).max(63).default('default'),
      labels: LabelsSchema.default({}),
      /** Drivers this agent may use; each is probed at start and only available ones are advertised. */
      drivers: z.array(z.enum(DRIVER_NAMES)).min(1).default(['qemu', 'libvirt', 'process']),
      /** Allocatable = physical × ratio − reserved. CPU is commonly overcommitted, memory and disk are not. */
      overcommit: z
        .strictObject({
          cpu: positive.max(64).default(4),
          memory: positive.max(4).default(1),
          disk: positive.max(16).default(1),
        })
        .prefault({}),
      /** Kept back for the host itself (hypervisor, agent, page cache). */
      reserved: ResourcesConfigSchema.default({ vcpus: 1, memoryMiB: 1024, diskGiB: 10 }),
      /** Replace the detected physical capacity (to cap Shoal's share of a host, or in tests). */
      capacity: ResourcesConfigSchema.optional(),
      /** At start and on every reconcile pass, VMs in the hypervisors that Shoal does not know become job records. */
      importUnknown: z.boolean().default(false),
      /** Time between reconcile passes (desired vs actual state); a VM killed from outside is noticed within it. */
      reconcileIntervalMs: z.number().int().min(100).max(600_000).default(5_000),
      /** Time a guest or process gets to shut down cleanly on stop before it is forced. */
      stopGraceMs: z.number().int().min(0).max(3_600_000).default(30_000),
      /** How often host facts (load, memory, disk, KVM) are re-read. */
      factsRefreshMs: z.number().int().min(1000).max(3_600_000).default(30_000),
    })
    .prefault({}),

  net: z
    .strictObject({
      /** libp2p listen multiaddrs. */
      listen: z.array(z.string().min(1)).default(['/ip4/0.0.0.0/tcp/7946']),
      /** Peers to join at start (multiaddrs with /p2p/<peer id>); a restarted agent also uses its peer cache. */
      join: z.array(z.string().min(1)).default([]),
      /** Addresses to advertise instead of the listen addresses (behind NAT, or when listening on 0.0.0.0). */
      announce: z.array(z.string().min(1)).default([]),
      /** Private-network key file (`shoal keygen`); peers without it cannot connect. Default: `<data_dir>/swarm.key`, created on first start. */
      networkKey: z.string().min(1).optional(),
      /** Find peers on the LAN by mDNS. */
      mdns: z.boolean().default(false),
    })
    .prefault({}),

  /** No job lost: replicated job records, evacuation of failed hosts, fencing (see README, "Failure and recovery"). */
  recovery: z
    .strictObject({
      /** Hosts of the cell keeping a durable copy of each job record (the host's ring successors); 0 turns evacuation off. */
      replicas: z.number().int().min(0).max(8).default(2),
      /** A host declared failed gets this long to come back before its jobs are re-placed elsewhere. */
      evacuateAfterMs: z.number().int().min(0).max(86_400_000).default(10_000),
      /** The same for a host that left gracefully (an agent restart or upgrade); its instances keep running meanwhile. */
      evacuateLeftAfterMs: z.number().int().min(0).max(86_400_000).default(300_000),
      /** How often this host asks whether its jobs were re-placed while it was away (also on every rejoin): bounds two running copies after a partition heals. */
      fenceCheckIntervalMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
      /** At start, how long jobs wait for that answer before they start anyway (a host with no connection at all stops waiting after 3 s); 0 does not wait. */
      startFenceTimeoutMs: z.number().int().min(0).max(600_000).default(10_000),
      /** Re-placements one evacuator runs at once. */
      maxConcurrentReplacements: z.number().int().min(1).max(1_024).default(8),
      /** Re-placements one evacuator starts per second. */
      maxReplacementsPerSec: z.number().positive().max(10_000).default(50),
    })
    .prefault({}),

  gossip: z
    .strictObject({
      /** Tuned defaults: `lan` (up to ~10k hosts), `wan` (higher latency), `large` (100k). See README, "Profiles". */
      profile: z.enum(['lan', 'wan', 'large']).default('lan'),
      /** Like Consul's bootstrap-expect: the starting size estimate, so a cold start of a large cluster begins in right-sized cells. */
      expectedClusterSize: z.number().int().min(1).max(10_000_000).default(1),
      /** Fix the cell layout (2^bits cells) instead of following the size estimate. */
      cellBits: z.number().int().min(0).max(20).optional(),
      /** Mean hosts per cell the layout aims at. */
      targetCellSize: z.number().int().min(2).max(1024).optional(),
    })
    .prefault({}),

  /** Federation with other clusters through gateways (see README, "Federation"). */
  federation: FederationConfigSchema,
});

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
