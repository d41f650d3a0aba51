import { Packr, Unpackr } from 'msgpackr';
import { ShoalError } from '../core/errors.ts';
import { hashPrefix } from '../core/hash.ts';
import type { Encoded } from '../core/protocol.ts';
import { crc32 } from './crc32.ts';
import { LABEL_FILTER_BYTES, NO_LABELS, type LabelFilter } from './label-filter.ts';
import { ignoreMsg, rejectMsg } from './errors.ts';
import type {
  AccuseMsg,
  AckMsg,
  DigestMsg,
  NackMsg,
  DirectMsg,
  EventsMsg,
  MemberEventWire,
  PingMsg,
  PingReqMsg,
  RecordMsg,
  SummaryMsg,
  SyncMember,
  SyncReqMsg,
  SyncRespMsg,
  SummaryVersion,
  TopicMsg,
} from './messages.ts';
import { SUMMARY_SHAPES, type CellBucket, type CellSummary, type Contact, type HostRecord, type MemberStatus } from './records.ts';
import { MAX_CELL_BITS, districtOf, parseTopic, type ParsedTopic } from './topics.ts';
import {
  CLUSTER_RE,
  PRINTABLE_RE,
  bool,
  boundsError,
  driversFromMask,
  driversToMask,
  int,
  labelsFromFlat,
  labelsToFlat,
  notAbove,
  peerId,
  resources,
  resourcesTuple,
  schemaError,
  str,
  stringList,
  tuple,
} from './wire-check.ts';

/**
 * The gossip wire format. Every message is
 *
 *   msgpack([WIRE_VERSION, typeCode, ...fields]) ++ crc32(msgpack bytes) (4 bytes, big-endian)
 *
 * Tuples, not maps: a record is ~140 bytes instead of ~300, and a tuple has no unknown keys
 * to worry about. Decoding checks, in order: total size, checksum, version, type, the
 * type's own size limit, the topic the type may travel on, every field's type and bounds,
 * cross-field invariants (free ≤ capacity, fits non-increasing, …) and the topic-level
 * facts (cluster, the origin's cell). What needs a node's state (origin = signer,
 * staleness, clock skew) is checked by GossipNode.onTopicMessage.
 */
export const WIRE_VERSION = 1;

export const TYPE_CODES = {
  record: 1,
  events: 2,
  summary: 3,
  digest: 4,
  ping: 10,
  ack: 11,
  'ping-req': 12,
  accuse: 13,
  'sync-req': 14,
  'sync-resp': 15,
  nack: 16,
} as const;

/**
 * Hard size limits in bytes, per message type: protocol constants (every node must agree),
 * each far above what a correct sender produces, so a legit message never hits them.
 */
export const MESSAGE_LIMITS = {
  /** ~140 bytes typical; 32 labels, 8 addresses and 32 anti-affinity groups at full length stay under it. */
  record: 16 * 1024,
  /** 64 events × ~70 bytes, or up to MAX_ANNOUNCED_PER_MESSAGE of them `alive` with a record of ≤ MAX_ANNOUNCED_RECORD_BYTES. */
  events: 16 * 1024,
  /** ~150–600 bytes typical (one bucket per zone × driver set, up to 3 contacts). */
  summary: 16 * 1024,
  /** Up to 128 summaries; the publisher splits bigger digests. Under the libp2p adapter's 64 KiB gossipsub message cap, with room for the signed envelope. */
  digest: 60 * 1024,
  /** ping, ack, nack, ping-req, accuse: a few ids and integers. */
  probe: 512,
  'sync-req': 17 * 1024,
  /** 256 records and a page of 64 summaries; the responder trims the page to fit. */
  'sync-resp': 256 * 1024,
} as const;

export const MAX_TOPIC_MESSAGE_BYTES = MESSAGE_LIMITS.digest;
export const MAX_DIRECT_MESSAGE_BYTES = MESSAGE_LIMITS['sync-resp'];
export const MAX_EVENTS_PER_MESSAGE = 64;
/** `alive` events per events message: the aggregator publishes a full batch at once and starts the next. */
export const MAX_ANNOUNCED_PER_MESSAGE = 16;
/** A newcomer's record the aggregator announces for it is at most this big (a record with many labels is published by its host). */
export const MAX_ANNOUNCED_RECORD_BYTES = 512;
export const MAX_SUMMARIES_PER_DIGEST = 128;
/** Versions a digest may name (~17 bytes each): a district of 2^10 cells; a larger one takes several digests. */
export const MAX_VERSIONS_PER_DIGEST = 1024;
export const MAX_SYNC_MEMBERS = 256;
export const MAX_SYNC_SUMMARIES = 64;
export const MAX_BUCKETS = 32;
export const MAX_CONTACTS = 4;
/** Incarnations and sequences: 2^48 leaves room for an agent that seeds its incarnation from wall-clock milliseconds. */
export const MAX_COUNTER = 2 ** 48;
/** Timestamps: up to the year 10^4 or so in epoch ms. */
export const MAX_TIME_MS = 2 ** 48;
/** Summaries count hosts and fits up to this (the CellBucket contract saturates at 65535). */
export const MAX_COUNT = 65535;

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, int64AsType: 'number' });

// ---------------------------------------------------------------------------------------
// Encoding

function seal<T>(msg: T, body: unknown[], limit: number): Encoded<T> {
  const packed = packr.pack(body);
  const bytes = new Uint8Array(packed.length + 4);
  bytes.set(packed, 0);
  const crc = crc32(bytes, 0, packed.length);
  bytes[packed.length] = crc >>> 24;
  bytes[packed.length + 1] = (crc >>> 16) & 0xff;
  bytes[packed.length + 2] = (crc >>> 8) & 0xff;
  bytes[packed.length + 3] = crc & 0xff;
  if (bytes.length > limit) {
    throw new ShoalError('GOSSIP_TOO_LARGE', `a ${String(body[1])} message of ${bytes.length} bytes exceeds its ${limit}-byte limit`, {
      bytes: bytes.length,
      limit,
    });
  }
  return { msg, bytes };
}

/**
 * Packed tuples of immutable summaries and records, keyed by the object. A seed answers many
 * joiners with the same pages of summaries, a digest repeats its district's summaries, and the
 * simulator shares one decoded object among 100k nodes: each is packed once. msgpack is
 * context-free, so header ++ packed elements is byte for byte what packing the whole body gives.
 */
const packedSummaries = new WeakMap<CellSummary, Uint8Array>();
const packedRecords = new WeakMap<HostRecord, Uint8Array>();

const contentHashes = new WeakMap<CellSummary, number>();

/** CRC-32 of a summary's packed tuple with issuedAtMs zeroed: equal for two issues of an unchanged cell. */
export function summaryContentHash(s: CellSummary): number {
  let h = contentHashes.get(s);
  if (h === undefined) {
    const t = summaryTuple(s);
    t[4] = 0;
    h = crc32(packr.pack(t));
    contentHashes.set(s, h);
  }
  return h;
}

/** A copy: packr reuses its buffer on the next call. */
function packCopy(value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value));
}

function packedSummary(s: CellSummary): Uint8Array {
  let b = packedSummaries.get(s);
  if (b === undefined) {
    b = packCopy(summaryTuple(s));
    packedSummaries.set(s, b);
  }
  return b;
}

function packedRecord(r: HostRecord): Uint8Array {
  let b = packedRecords.get(r);
  if (b === undefined) {
    b = packCopy(recordTuple(r));
    packedRecords.set(r, b);
  }
  return b;
}

// Parts are only ever read, so small ones are shared rather than allocated per message.
const FIXARRAY_HEADERS = Array.from({ length: 16 }, (_, n) => Uint8Array.of(0x90 | n));

/** The msgpack array header for `n` elements. */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return FIXARRAY_HEADERS[n]!;
  if (n < 0x10000) return Uint8Array.of(0xdc, n >>> 8, n & 0xff);
  return Uint8Array.of(0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** The elements of a short array, without its header: for splicing scalars between packed parts. */
function packElements(values: unknown[]): Uint8Array {
  if (values.length >= 16) throw new Error('packElements: at most 15 values');
  return packCopy(values).subarray(1);
}

/**
 * Like seal, for a body already packed in parts (concatenated in order). The size limit is
 * checked at once; the parts are joined and checksummed when `bytes` is first read. A sync
 * answer of 64 summaries was ~90 KB copied and checksummed per answer, and the simulator,
 * which only counts a direct message's size, spent a tenth of a warm start doing it.
 */
class PartsEncoded<T> implements Encoded<T> {
  readonly msg: T;
  readonly byteLength: number;
  #parts: readonly Uint8Array[] | null;
  #bytes: Uint8Array | null = null;

  constructor(msg: T, parts: readonly Uint8Array[], typeName: string, limit: number) {
    let n = 0;
    for (const p of parts) n += p.length;
    if (n + 4 > limit) {
      throw new ShoalError('GOSSIP_TOO_LARGE', `a ${typeName} message of ${n + 4} bytes exceeds its ${limit}-byte limit`, { bytes: n + 4, limit });
    }
    this.msg = msg;
    this.byteLength = n + 4;
    this.#parts = parts;
  }

  get bytes(): Uint8Array {
    if (this.#bytes === null) {
      this.#bytes = joinAndSeal(this.#parts!, this.byteLength - 4);
      this.#parts = null;
    }
    return this.#bytes;
  }
}

function joinAndSeal(parts: readonly Uint8Array[], n: number): Uint8Array {
  const bytes = new Uint8Array(n + 4);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  const crc = crc32(bytes, 0, n);
  bytes[n] = crc >>> 24;
  bytes[n + 1] = (crc >>> 16) & 0xff;
  bytes[n + 2] = (crc >>> 8) & 0xff;
  bytes[n + 3] = crc & 0xff;
  return bytes;
}

function sealParts<T>(msg: T, parts: readonly Uint8Array[], typeName: string, limit: number): Encoded<T> {
  return new PartsEncoded(msg, parts, typeName, limit);
}

function recordTuple(r: HostRecord): unknown[] {
  return [
    r.origin,
    r.incarnation,
    r.seq,
    r.cluster,
    r.zone,
    labelsToFlat(r.labels),
    driversToMask(r.drivers),
    resourcesTuple(r.capacity),
    resourcesTuple(r.free),
    r.antiAffinityGroups,
    r.jobs,
    r.health === 'ok' ? 0 : 1,
    r.draining,
    r.addrs,
  ];
}

function summaryTuple(s: CellSummary): unknown[] {
  const buckets = s.buckets.map((b) => [
    b.zone,
    driversToMask(b.drivers),
    b.hosts,
    b.fits,
    resourcesTuple(b.maxFree),
    resourcesTuple(b.totalFree),
    resourcesTuple(b.totalCapacity),
    b.labelFilter,
  ]);
  const contacts = s.contacts.map((c) => [c.peer, c.addrs]);
  // The reporter is nearly always a contact too (the lowest placeable member): then its
  // index, not its peer id again (54 of a summary's ~570 bytes).
  const asContact = s.contacts.findIndex((c) => c.peer === s.reporter);
  return [s.cluster, s.cell, s.cellBits, asContact >= 0 ? asContact : s.reporter, s.issuedAtMs, s.members, buckets, contacts];
}

export function encodeRecord(record: HostRecord): Encoded<RecordMsg> {
  return seal({ type: 'record', record }, [WIRE_VERSION, TYPE_CODES.record, ...recordTuple(record)], MESSAGE_LIMITS.record);
}

const EVENT_KIND_CODES = { suspect: 1, failed: 2, left: 3, alive: 4 } as const;
const EVENT_KINDS = [undefined, 'suspect', 'failed', 'left', 'alive'] as const;

export function encodeEvents(cluster: string, origin: string, events: readonly MemberEventWire[]): Encoded<EventsMsg> {
  const wire = events.map((e) =>
    e.kind === 'alive' ? [EVENT_KIND_CODES.alive, e.peer, e.incarnation, 0, recordTuple(e.record!)] : [EVENT_KIND_CODES[e.kind], e.peer, e.incarnation, e.confirmations],
  );
  return seal({ type: 'events', cluster, origin, events }, [WIRE_VERSION, TYPE_CODES.events, cluster, origin, wire], MESSAGE_LIMITS.events);
}

export function encodeSummary(summary: CellSummary): Encoded<SummaryMsg> {
  // [version, type, ...tuple]: the cached tuple's elements follow the two envelope fields.
  const tuple = packedSummary(summary);
  return sealParts({ type: 'summary', summary }, [arrayHeader(10), packElements([WIRE_VERSION, TYPE_CODES.summary]), tuple.subarray(1)], String(TYPE_CODES.summary), MESSAGE_LIMITS.summary);
}

export function encodeDigest(d: Omit<DigestMsg, 'type'>): Encoded<DigestMsg> {
  const msg: DigestMsg = { type: 'digest', ...d };
  const parts: Uint8Array[] = [
    arrayHeader(11),
    packElements([WIRE_VERSION, TYPE_CODES.digest, d.cluster, d.reporter, d.cellBits, d.districtBits, d.district, d.issuedAtMs, d.full]),
    arrayHeader(d.summaries.length),
  ];
  for (const s of d.summaries) parts.push(packedSummary(s));
  parts.push(packCopy(d.versions.map((v) => [v.cellBits, v.cell, v.issuedAtMs, v.contentHash])));
  return sealParts(msg, parts, String(TYPE_CODES.digest), MESSAGE_LIMITS.digest);
}

/**
 * ping, ack and nack are most of the traffic (4 per node per second): they are written by
 * hand as the msgpack a generic encoder could also have produced — fixarray(3), version,
 * type, uint32 seq — plus the CRC, 12 bytes, no msgpackr call. decodeDirect has the
 * matching fast path and falls back to the generic decoder for anything else.
 */
const PROBE_BYTES = 12;

function sealProbe<T>(msg: T, code: number, seq: number): Encoded<T> {
  const b = new Uint8Array(PROBE_BYTES);
  b[0] = 0x93;
  b[1] = WIRE_VERSION;
  b[2] = code;
  b[3] = 0xce;
  b[4] = seq >>> 24;
  b[5] = (seq >>> 16) & 0xff;
  b[6] = (seq >>> 8) & 0xff;
  b[7] = seq & 0xff;
  const crc = crc32(b, 0, 8);
  b[8] = crc >>> 24;
  b[9] = (crc >>> 16) & 0xff;
  b[10] = (crc >>> 8) & 0xff;
  b[11] = crc & 0xff;
  return { msg, bytes: b };
}

export function encodePing(seq: number): Encoded<PingMsg> {
  return sealProbe({ type: 'ping', seq }, TYPE_CODES.ping, seq >>> 0);
}

export function encodeAck(seq: number): Encoded<AckMsg> {
  return sealProbe({ type: 'ack', seq }, TYPE_CODES.ack, seq >>> 0);
}

export function encodeNack(seq: number): Encoded<NackMsg> {
  return sealProbe({ type: 'nack', seq }, TYPE_CODES.nack, seq >>> 0);
}

/** The fast path for hand-sealed probes; null when `bytes` is not one (the generic decoder then decides). */
function openProbe(bytes: Uint8Array): DirectMsg | null {
  if (bytes.length !== PROBE_BYTES || bytes[0] !== 0x93 || bytes[1] !== WIRE_VERSION || bytes[3] !== 0xce) return null;
  const code = bytes[2];
  if (code !== TYPE_CODES.ping && code !== TYPE_CODES.ack && code !== TYPE_CODES.nack) return null;
  const want = ((bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!) >>> 0;
  if (crc32(bytes, 0, 8) !== want) throw rejectMsg('GOSSIP_CHECKSUM', 'checksum mismatch: the message was corrupted');
  const seq = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  return code === TYPE_CODES.ping ? { type: 'ping', seq } : code === TYPE_CODES.ack ? { type: 'ack', seq } : { type: 'nack', seq };
}

export function encodePingReq(seq: number, target: string): Encoded<PingReqMsg> {
  return seal({ type: 'ping-req', seq, target }, [WIRE_VERSION, TYPE_CODES['ping-req'], seq, target], MESSAGE_LIMITS.probe);
}

export function encodeAccuse(peer: string, incarnation: number): Encoded<AccuseMsg> {
  return seal({ type: 'accuse', peer, incarnation }, [WIRE_VERSION, TYPE_CODES.accuse, peer, incarnation], MESSAGE_LIMITS.probe);
}

/** The largest layout a repair sends its bitmap of known cells for (2^16 cells: 8 KB). */
export const MAX_HAVE_BITS = 16;

export function encodeSyncReq(req: Omit<SyncReqMsg, 'type' | 'have'> & { have?: Uint8Array | null }): Encoded<SyncReqMsg> {
  const m = { ...req, have: req.have ?? null };
  // In parts, with the requester's own record packed once (a joiner sends it in every request).
  const parts = [
    arrayHeader(8),
    packElements([WIRE_VERSION, TYPE_CODES['sync-req'], m.cluster]),
    m.record ? packedRecord(m.record) : packElements([null]),
    packElements([m.wantRecords, m.summaryCursor, m.viewHash, m.have]),
  ];
  return sealParts({ type: 'sync-req', ...m }, parts, String(TYPE_CODES['sync-req']), MESSAGE_LIMITS['sync-req']);
}

const STATUS_CODES: Record<MemberStatus, number> = { alive: 0, suspect: 1, failed: 2, left: 3 };
const STATUSES: readonly MemberStatus[] = ['alive', 'suspect', 'failed', 'left'];

/** [status, statusIncarnation] of a sync member: two positive fixints, one byte each, when the incarnation is below 128. */
const SMALL_STATUS_TAILS = [0, 1, 2, 3].map((code) => Array.from({ length: 128 }, (_, inc) => Uint8Array.of(code, inc)));

/** The packed status and status incarnation of a sync member, without packing the common case anew for each of 256 members. */
function statusTail(code: number, incarnation: number): Uint8Array {
  return Number.isInteger(incarnation) && incarnation >= 0 && incarnation < 128 ? SMALL_STATUS_TAILS[code]![incarnation]! : packElements([code, incarnation]);
}

export function encodeSyncResp(m: Omit<SyncRespMsg, 'type'>): Encoded<SyncRespMsg> {
  const parts: Uint8Array[] = [
    arrayHeader(11),
    packElements([WIRE_VERSION, TYPE_CODES['sync-resp'], m.cluster, m.cellBits, m.estimatedSize, m.cell]),
    arrayHeader(m.members.length),
  ];
  for (const x of m.members) {
    parts.push(arrayHeader(3), packedRecord(x.record), statusTail(STATUS_CODES[x.status], x.statusIncarnation));
  }
  parts.push(arrayHeader(m.summaries.length));
  for (const s of m.summaries) parts.push(packedSummary(s));
  parts.push(packElements([m.nextCursor, m.inSync, m.announced]));
  return sealParts({ type: 'sync-resp', ...m }, parts, String(TYPE_CODES['sync-resp']), MESSAGE_LIMITS['sync-resp']);
}

// ---------------------------------------------------------------------------------------
// Decoding

/** Size, checksum, msgpack, envelope. Returns [typeCode, tuple]. */
function open(bytes: Uint8Array, maxBytes: number): [number, unknown[]] {
  if (!(bytes instanceof Uint8Array)) throw rejectMsg('GOSSIP_SCHEMA', 'payload is not bytes');
  if (bytes.length > maxBytes) throw rejectMsg('GOSSIP_TOO_LARGE', `${bytes.length} bytes exceeds ${maxBytes}`, { bytes: bytes.length, limit: maxBytes });
  if (bytes.length < 7) throw rejectMsg('GOSSIP_SCHEMA', `${bytes.length} bytes is too short for an envelope`);
  const end = bytes.length - 4;
  const want = ((bytes[end]! << 24) | (bytes[end + 1]! << 16) | (bytes[end + 2]! << 8) | bytes[end + 3]!) >>> 0;
  if (crc32(bytes, 0, end) !== want) throw rejectMsg('GOSSIP_CHECKSUM', 'checksum mismatch: the message was corrupted');
  let value: unknown;
  try {
    value = unpackr.unpack(bytes.subarray(0, end));
  } catch (err) {
    throw rejectMsg('GOSSIP_SCHEMA', `not msgpack: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!Array.isArray(value) || value.length < 2) throw rejectMsg('GOSSIP_SCHEMA', 'envelope: expected [version, type, …]');
  const version = value[0];
  if (version !== WIRE_VERSION) {
    // A newer version is a peer mid rolling upgrade: not its fault, so ignore rather than penalise.
    if (typeof version === 'number' && Number.isInteger(version) && version > WIRE_VERSION && version < 256) {
      throw ignoreMsg('GOSSIP_BAD_VERSION', `wire version ${version} is newer than ${WIRE_VERSION}`, { version });
    }
    throw rejectMsg('GOSSIP_BAD_VERSION', `bad wire version ${String(version)}`);
  }
  const type = value[1];
  if (typeof type !== 'number') throw rejectMsg('GOSSIP_BAD_TYPE', 'envelope: type is not a number');
  return [type, value];
}

function limitFor(code: number): number {
  switch (code) {
    case TYPE_CODES.record:
      return MESSAGE_LIMITS.record;
    case TYPE_CODES.events:
      return MESSAGE_LIMITS.events;
    case TYPE_CODES.summary:
      return MESSAGE_LIMITS.summary;
    case TYPE_CODES.digest:
      return MESSAGE_LIMITS.digest;
    case TYPE_CODES['sync-req']:
      return MESSAGE_LIMITS['sync-req'];
    case TYPE_CODES['sync-resp']:
      return MESSAGE_LIMITS['sync-resp'];
    default:
      return MESSAGE_LIMITS.probe;
  }
}

function checkLimit(code: number, bytes: Uint8Array): void {
  const limit = limitFor(code);
  if (bytes.length > limit) throw rejectMsg('GOSSIP_TOO_LARGE', `${bytes.length} bytes exceeds the ${limit}-byte limit of its type`, { bytes: bytes.length, limit });
}

function parseRecord(t: unknown[], at: number, path: string): HostRecord {
  const origin = peerId(t[at], `${path}.origin`);
  const capacity = resources(t[at + 7], `${path}.capacity`, false);
  const free = resources(t[at + 8], `${path}.free`, true);
  notAbove(free, capacity, `${path}.free`, 'free exceeds capacity');
  const health = int(t[at + 11], `${path}.health`, 0, 1);
  return {
    origin,
    incarnation: int(t[at + 1], `${path}.incarnation`, 0, MAX_COUNTER),
    seq: int(t[at + 2], `${path}.seq`, 0, MAX_COUNTER),
    cluster: str(t[at + 3], `${path}.cluster`, 1, 63, CLUSTER_RE),
    zone: str(t[at + 4], `${path}.zone`, 0, 63, PRINTABLE_RE),
    labels: labelsFromFlat(t[at + 5], `${path}.labels`),
    drivers: driversFromMask(t[at + 6], `${path}.drivers`),
    capacity,
    free,
    antiAffinityGroups: stringList(t[at + 9], `${path}.antiAffinityGroups`, 32, 128, PRINTABLE_RE),
    jobs: int(t[at + 10], `${path}.jobs`, 0, 1_000_000),
    health: health === 0 ? 'ok' : 'degraded',
    draining: bool(t[at + 12], `${path}.draining`),
    addrs: stringList(t[at + 13], `${path}.addrs`, 8, 256, PRINTABLE_RE),
  };
}

const RECORD_FIELDS = 14;

function parseRecordTuple(v: unknown, path: string): HostRecord {
  return parseRecord(tuple(v, path, RECORD_FIELDS, RECORD_FIELDS), 0, path);
}

function inCell(peer: string, cellBits: number, cell: number): boolean {
  return hashPrefix(peer, cellBits) === cell;
}

function parseBucket(v: unknown, path: string, members: number): CellBucket {
  const t = tuple(v, path, 8, 8);
  const hosts = int(t[2], `${path}.hosts`, 0, members);
  const fitsRaw = tuple(t[3], `${path}.fits`, SUMMARY_SHAPES.length, SUMMARY_SHAPES.length);
  let prev = hosts;
  for (let i = 0; i < fitsRaw.length; i++) {
    // Shapes grow on every axis, so a host that fits shape i+1 fits shape i: fits never increase.
    prev = int(fitsRaw[i], `${path}.fits[${i}]`, 0, prev);
  }
  const maxFree = resources(t[4], `${path}.maxFree`, false);
  const totalFree = resources(t[5], `${path}.totalFree`, false);
  const totalCapacity = resources(t[6], `${path}.totalCapacity`, false);
  notAbove(maxFree, totalFree, `${path}.maxFree`, 'max free exceeds total free');
  notAbove(totalFree, totalCapacity, `${path}.totalFree`, 'total free exceeds total capacity');
  return {
    zone: str(t[0], `${path}.zone`, 0, 63, PRINTABLE_RE),
    drivers: driversFromMask(t[1], `${path}.drivers`),
    hosts,
    fits: fitsRaw as number[],
    maxFree,
    totalFree,
    totalCapacity,
    labelFilter: labelFilter(t[7], `${path}.labelFilter`),
  };
}

const SUMMARY_FIELDS = 8;

function parseSummary(t: unknown[], at: number, path: string): CellSummary {
  const cluster = str(t[at], `${path}.cluster`, 1, 63, CLUSTER_RE);
  const cellBits = int(t[at + 2], `${path}.cellBits`, 0, MAX_CELL_BITS);
  const cell = int(t[at + 1], `${path}.cell`, 0, 2 ** cellBits - 1);
  const issuedAtMs = int(t[at + 4], `${path}.issuedAtMs`, 0, MAX_TIME_MS);
  const members = int(t[at + 5], `${path}.members`, 0, MAX_COUNT);
  const bucketsRaw = tuple(t[at + 6], `${path}.buckets`, 0, MAX_BUCKETS);
  const buckets: CellBucket[] = new Array(bucketsRaw.length);
  let hosts = 0;
  for (let i = 0; i < bucketsRaw.length; i++) {
    const b = parseBucket(bucketsRaw[i], `${path}.buckets[${i}]`, members);
    hosts += b.hosts;
    buckets[i] = b;
  }
  if (hosts > members) boundsError(`${path}.buckets`, `${hosts} placeable hosts in a cell of ${members} members`);
  const contactsRaw = tuple(t[at + 7], `${path}.contacts`, 0, MAX_CONTACTS);
  const contacts: Contact[] = new Array(contactsRaw.length);
  for (let i = 0; i < contactsRaw.length; i++) {
    const c = tuple(contactsRaw[i], `${path}.contacts[${i}]`, 2, 2);
    const peer = peerId(c[0], `${path}.contacts[${i}].peer`);
    if (!inCell(peer, cellBits, cell)) throw rejectMsg('GOSSIP_WRONG_CELL', `${path}: contact ${peer} is not in cell ${cell}/${cellBits}`);
    contacts[i] = { peer, addrs: stringList(c[1], `${path}.contacts[${i}].addrs`, 8, 256, PRINTABLE_RE) };
  }
  const reporterField = t[at + 3];
  const reporter = typeof reporterField === 'number' ? contacts[int(reporterField, `${path}.reporter`, 0, contacts.length - 1)]!.peer : peerId(reporterField, `${path}.reporter`);
  if (!inCell(reporter, cellBits, cell)) throw rejectMsg('GOSSIP_WRONG_CELL', `${path}: reporter ${reporter} is not in cell ${cell}/${cellBits}`);
  return { cluster, cell, cellBits, reporter, issuedAtMs, members, buckets, contacts };
}

function parseSummaryTuple(v: unknown, path: string): CellSummary {
  return parseSummary(tuple(v, path, SUMMARY_FIELDS, SUMMARY_FIELDS), 0, path);
}

function wrongCluster(path: string, got: string, want: string): never {
  throw rejectMsg('GOSSIP_WRONG_CLUSTER', `${path}: cluster ${got} on a topic of cluster ${want}`);
}

function decodeRecordBody(t: unknown[], topic: ParsedTopic): RecordMsg {
  if (t.length !== 2 + RECORD_FIELDS) schemaError('record', `expected ${RECORD_FIELDS} fields`);
  const record = parseRecord(t, 2, 'record');
  if (record.cluster !== topic.cluster) wrongCluster('record', record.cluster, topic.cluster);
  if (!inCell(record.origin, topic.cellBits, topic.id)) {
    throw rejectMsg('GOSSIP_WRONG_CELL', `record of ${record.origin} published on the topic of cell ${topic.id}/${topic.cellBits}`);
  }
  return { type: 'record', record };
}

function decodeEventsBody(t: unknown[], topic: ParsedTopic): EventsMsg {
  if (t.length !== 5) schemaError('events', 'expected 3 fields');
  const cluster = str(t[2], 'events.cluster', 1, 63, CLUSTER_RE);
  if (cluster !== topic.cluster) wrongCluster('events', cluster, topic.cluster);
  const origin = peerId(t[3], 'events.origin');
  const raw = tuple(t[4], 'events.events', 1, MAX_EVENTS_PER_MESSAGE);
  const events: MemberEventWire[] = new Array(raw.length);
  let announced = 0;
  for (let i = 0; i < raw.length; i++) {
    const path = `events.events[${i}]`;
    const e = tuple(raw[i], path, 4, 5);
    const kind = EVENT_KINDS[int(e[0], `${path}.kind`, 1, 4)]!;
    const peer = peerId(e[1], `${path}.peer`);
    if (!inCell(peer, topic.cellBits, topic.id)) throw rejectMsg('GOSSIP_WRONG_CELL', `${path}: ${peer} is not in cell ${topic.id}/${topic.cellBits}`);
    if (kind === 'left' && peer !== origin) throw rejectMsg('GOSSIP_ORIGIN_MISMATCH', `${path}: only ${peer} itself can announce its leave`);
    const incarnation = int(e[2], `${path}.incarnation`, 0, MAX_COUNTER);
    const confirmations = int(e[3], `${path}.confirmations`, 0, 255);
    if (kind !== 'alive') {
      if (e.length !== 4) schemaError(path, `a ${kind} event has 4 fields`);
      events[i] = { kind, peer, incarnation, confirmations };
      continue;
    }
    if (e.length !== 5) schemaError(path, 'an alive event carries the record');
    if (++announced > MAX_ANNOUNCED_PER_MESSAGE) schemaError(path, `more than ${MAX_ANNOUNCED_PER_MESSAGE} alive events`);
    const record = parseRecordTuple(e[4], `${path}.record`);
    if (record.origin !== peer || record.incarnation !== incarnation) schemaError(`${path}.record`, `the record of ${record.origin}/${record.incarnation} in an alive event about ${peer}/${incarnation}`);
    if (record.cluster !== cluster) wrongCluster(`${path}.record`, record.cluster, cluster);
    events[i] = { kind, peer, incarnation, confirmations: 0, record };
  }
  return { type: 'events', cluster, origin, events };
}

function decodeSummaryBody(t: unknown[], topic: ParsedTopic): SummaryMsg {
  if (t.length !== 2 + SUMMARY_FIELDS) schemaError('summary', `expected ${SUMMARY_FIELDS} fields`);
  const summary = parseSummary(t, 2, 'summary');
  if (summary.cluster !== topic.cluster) wrongCluster('summary', summary.cluster, topic.cluster);
  if (summary.cellBits !== topic.cellBits) throw rejectMsg('GOSSIP_WRONG_TOPIC', `summary at cellBits ${summary.cellBits} on a topic of cellBits ${topic.cellBits}`);
  if (districtOf(summary.cell, summary.cellBits) !== topic.id) {
    throw rejectMsg('GOSSIP_WRONG_CELL', `summary of cell ${summary.cell} on the topic of district ${topic.id}`);
  }
  return { type: 'summary', summary };
}

function decodeDigestBody(t: unknown[], topic: ParsedTopic): DigestMsg {
  // 9 fields; 8 from an agent that predates versions.
  if (t.length !== 11 && t.length !== 10) schemaError('digest', 'expected 9 fields');
  const cluster = str(t[2], 'digest.cluster', 1, 63, CLUSTER_RE);
  if (cluster !== topic.cluster) wrongCluster('digest', cluster, topic.cluster);
  const reporter = peerId(t[3], 'digest.reporter');
  const cellBits = int(t[4], 'digest.cellBits', 0, MAX_CELL_BITS);
  const districtBits = int(t[5], 'digest.districtBits', 0, cellBits);
  const district = int(t[6], 'digest.district', 0, 2 ** districtBits - 1);
  if (!inCell(reporter, districtBits, district)) throw rejectMsg('GOSSIP_WRONG_CELL', `digest reporter ${reporter} is not in district ${district}/${districtBits}`);
  const issuedAtMs = int(t[7], 'digest.issuedAtMs', 0, MAX_TIME_MS);
  const full = bool(t[8], 'digest.full');
  const raw = tuple(t[9], 'digest.summaries', 0, MAX_SUMMARIES_PER_DIGEST);
  const summaries: CellSummary[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const s = parseSummaryTuple(raw[i], `digest.summaries[${i}]`);
    if (s.cluster !== cluster) wrongCluster(`digest.summaries[${i}]`, s.cluster, cluster);
    if (s.cellBits < districtBits || s.cell >>> (s.cellBits - districtBits) !== district) {
      throw rejectMsg('GOSSIP_WRONG_CELL', `digest.summaries[${i}]: cell ${s.cell}/${s.cellBits} is not in district ${district}/${districtBits}`);
    }
    summaries[i] = s;
  }
  const rawVersions = t.length === 10 ? [] : tuple(t[10], 'digest.versions', 0, MAX_VERSIONS_PER_DIGEST);
  const versions: SummaryVersion[] = new Array(rawVersions.length);
  for (let i = 0; i < rawVersions.length; i++) {
    const v = tuple(rawVersions[i], `digest.versions[${i}]`, 4, 4);
    const bits = int(v[0], `digest.versions[${i}].cellBits`, districtBits, MAX_CELL_BITS);
    const cell = int(v[1], `digest.versions[${i}].cell`, 0, 2 ** bits - 1);
    if (cell >>> (bits - districtBits) !== district) throw rejectMsg('GOSSIP_WRONG_CELL', `digest.versions[${i}]: cell ${cell}/${bits} is not in district ${district}/${districtBits}`);
    versions[i] = { cellBits: bits, cell, issuedAtMs: int(v[2], `digest.versions[${i}].issuedAtMs`, 0, MAX_TIME_MS), contentHash: int(v[3], `digest.versions[${i}].contentHash`, 0, 0xffffffff) };
  }
  return { type: 'digest', cluster, reporter, cellBits, districtBits, district, issuedAtMs, full, summaries, versions };
}

const ALLOWED_ON: Record<ParsedTopic['kind'], readonly number[]> = {
  cell: [TYPE_CODES.record, TYPE_CODES.events],
  district: [TYPE_CODES.summary],
  global: [TYPE_CODES.digest],
};

/**
 * Decodes a message received on `topic`, or throws a GossipValidationError saying why
 * not and whether to reject or ignore it. Pure: no node state, so the simulator runs it
 * once per distinct message and shares the result.
 */
export function decodeTopicMessage(topic: string, bytes: Uint8Array): Encoded<TopicMsg> {
  const parsed = parseTopic(topic);
  if (!parsed) throw ignoreMsg('GOSSIP_UNKNOWN_TOPIC', `not a Shoal topic: ${topic.slice(0, 100)}`);
  const [code, t] = open(bytes, MAX_TOPIC_MESSAGE_BYTES);
  if (!ALLOWED_ON[parsed.kind].includes(code)) {
    throw rejectMsg(Object.values(TYPE_CODES).includes(code as never) ? 'GOSSIP_WRONG_TOPIC' : 'GOSSIP_BAD_TYPE', `message type ${code} is not allowed on a ${parsed.kind} topic`);
  }
  checkLimit(code, bytes);
  let msg: TopicMsg;
  switch (code) {
    case TYPE_CODES.record:
      msg = decodeRecordBody(t, parsed);
      break;
    case TYPE_CODES.events:
      msg = decodeEventsBody(t, parsed);
      break;
    case TYPE_CODES.summary:
      msg = decodeSummaryBody(t, parsed);
      break;
    default:
      msg = decodeDigestBody(t, parsed);
  }
  return { msg, bytes };
}

/** Decodes a direct (request/response) message, or throws a GossipValidationError. */
export function decodeDirect(bytes: Uint8Array): Encoded<DirectMsg> {
  if (bytes instanceof Uint8Array) {
    const probe = openProbe(bytes);
    if (probe) return { msg: probe, bytes };
  }
  const [code, t] = open(bytes, MAX_DIRECT_MESSAGE_BYTES);
  checkLimit(code, bytes);
  let msg: DirectMsg;
  switch (code) {
    case TYPE_CODES.ping:
      tuple(t, 'ping', 3, 3);
      msg = { type: 'ping', seq: int(t[2], 'ping.seq', 0, 0xffffffff) };
      break;
    case TYPE_CODES.ack:
      tuple(t, 'ack', 3, 3);
      msg = { type: 'ack', seq: int(t[2], 'ack.seq', 0, 0xffffffff) };
      break;
    case TYPE_CODES.nack:
      tuple(t, 'nack', 3, 3);
      msg = { type: 'nack', seq: int(t[2], 'nack.seq', 0, 0xffffffff) };
      break;
    case TYPE_CODES['ping-req']:
      tuple(t, 'ping-req', 4, 4);
      msg = { type: 'ping-req', seq: int(t[2], 'ping-req.seq', 0, 0xffffffff), target: peerId(t[3], 'ping-req.target') };
      break;
    case TYPE_CODES.accuse:
      tuple(t, 'accuse', 4, 4);
      msg = { type: 'accuse', peer: peerId(t[2], 'accuse.peer'), incarnation: int(t[3], 'accuse.incarnation', 0, MAX_COUNTER) };
      break;
    case TYPE_CODES['sync-req']:
      tuple(t, 'sync-req', 7, 8);
      msg = {
        type: 'sync-req',
        cluster: str(t[2], 'sync-req.cluster', 1, 63, CLUSTER_RE),
        record: t[3] === null ? null : parseRecordTuple(t[3], 'sync-req.record'),
        wantRecords: bool(t[4], 'sync-req.wantRecords'),
        summaryCursor: int(t[5], 'sync-req.summaryCursor', -1, 2 ** (MAX_CELL_BITS + 1)),
        viewHash: int(t[6], 'sync-req.viewHash', -1, 0xffffffff),
        have: t[7] === undefined || t[7] === null ? null : haveBitmap(t[7]),
      };
      break;
    case TYPE_CODES['sync-resp']:
      msg = decodeSyncResp(t);
      break;
    case TYPE_CODES.summary:
      if (t.length !== 2 + SUMMARY_FIELDS) schemaError('summary', `expected ${SUMMARY_FIELDS} fields`);
      msg = { type: 'summary', summary: parseSummary(t, 2, 'summary') };
      break;
    default:
      throw rejectMsg(Object.values(TYPE_CODES).includes(code as never) ? 'GOSSIP_WRONG_TOPIC' : 'GOSSIP_BAD_TYPE', `message type ${code} is not a direct message`);
  }
  return { msg, bytes };
}

/** A bucket's label filter: empty (no labels) or LABEL_FILTER_BYTES, copied so it does not pin the message's buffer. */
function labelFilter(v: unknown, path: string): LabelFilter {
  if (!(v instanceof Uint8Array)) schemaError(path, 'expected bytes');
  if (v.length === 0) return NO_LABELS;
  if (v.length !== LABEL_FILTER_BYTES) boundsError(path, `length ${v.length}, expected 0 or ${LABEL_FILTER_BYTES}`);
  return new Uint8Array(v);
}

/** A layout's bitmap: 2^bits / 8 bytes (at least 1), bits ≤ MAX_HAVE_BITS. */
function haveBitmap(v: unknown): Uint8Array {
  if (!(v instanceof Uint8Array)) schemaError('sync-req.have', 'expected bytes');
  const n = v.length;
  if (n === 0 || n > 2 ** MAX_HAVE_BITS / 8 || (n & (n - 1)) !== 0) boundsError('sync-req.have', `length ${n} is not a power of two in [1, ${2 ** MAX_HAVE_BITS / 8}]`);
  return v;
}

function decodeSyncResp(t: unknown[]): SyncRespMsg {
  tuple(t, 'sync-resp', 11, 11);
  const cluster = str(t[2], 'sync-resp.cluster', 1, 63, CLUSTER_RE);
  const cellBits = int(t[3], 'sync-resp.cellBits', 0, MAX_CELL_BITS);
  const estimatedSize = int(t[4], 'sync-resp.estimatedSize', 0, 2 ** 32);
  const cell = int(t[5], 'sync-resp.cell', 0, 2 ** cellBits - 1);
  const rawMembers = tuple(t[6], 'sync-resp.members', 0, MAX_SYNC_MEMBERS);
  const members: SyncMember[] = new Array(rawMembers.length);
  for (let i = 0; i < rawMembers.length; i++) {
    const path = `sync-resp.members[${i}]`;
    const m = tuple(rawMembers[i], path, 3, 3);
    const record = parseRecordTuple(m[0], `${path}.record`);
    if (record.cluster !== cluster) wrongCluster(path, record.cluster, cluster);
    members[i] = { record, status: STATUSES[int(m[1], `${path}.status`, 0, 3)]!, statusIncarnation: int(m[2], `${path}.statusIncarnation`, 0, MAX_COUNTER) };
  }
  const rawSummaries = tuple(t[7], 'sync-resp.summaries', 0, MAX_SYNC_SUMMARIES);
  const summaries: CellSummary[] = new Array(rawSummaries.length);
  for (let i = 0; i < rawSummaries.length; i++) {
    const s = parseSummaryTuple(rawSummaries[i], `sync-resp.summaries[${i}]`);
    if (s.cluster !== cluster) wrongCluster(`sync-resp.summaries[${i}]`, s.cluster, cluster);
    summaries[i] = s;
  }
  const nextCursor = int(t[8], 'sync-resp.nextCursor', -2, 2 ** (MAX_CELL_BITS + 1));
  const inSync = bool(t[9], 'sync-resp.inSync');
  if (inSync && members.length > 0) schemaError('sync-resp.inSync', 'an in-sync answer carries no members');
  const announced = bool(t[10], 'sync-resp.announced');
  return { type: 'sync-resp', cluster, cellBits, estimatedSize, cell, members, summaries, nextCursor, inSync, announced };
}
