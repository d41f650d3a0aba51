/**
 * Topic names. They carry the protocol version, the cluster name and, for cell and district
 * topics, cellBits: a change of cellBits is then a clean switch to new topics instead of a
 * mix of two cell layouts on one topic.
 *
 *   shoal/1/<cluster>/b<cellBits>/c<cell>       full host records + member events of one cell
 *   shoal/1/<cluster>/b<cellBits>/d<district>   cell summaries of one district (delegates only)
 *   shoal/1/<cluster>/global                    district digests (everyone)
 */
export const TOPIC_PREFIX = 'shoal/1/';

export type TopicKind = 'cell' | 'district' | 'global';

export interface ParsedTopic {
  readonly kind: TopicKind;
  readonly cluster: string;
  /** cellBits for cell and district topics; -1 for the global topic. */
  readonly cellBits: number;
  /** Cell or district id; -1 for the global topic. */
  readonly id: number;
}

export function cellTopic(cluster: string, cellBits: number, cell: number): string {
  return `${TOPIC_PREFIX}${cluster}/b${cellBits}/c${cell}`;
}

export function districtTopic(cluster: string, cellBits: number, district: number): string {
  return `${TOPIC_PREFIX}${cluster}/b${cellBits}/d${district}`;
}

export function globalTopic(cluster: string): string {
  return `${TOPIC_PREFIX}${cluster}/global`;
}

const TOPIC_RE = /^shoal\/1\/([a-z0-9][a-z0-9._-]{0,62})\/(?:global|b(\d{1,2})\/([cd])(\d{1,8}))$/;

/** Parses a Shoal topic name, or returns null for anything else (including out-of-range ids). */
export function parseTopic(topic: string): ParsedTopic | null {
  const m = TOPIC_RE.exec(topic);
  if (!m) return null;
  const cluster = m[1]!;
  if (m[2] === undefined) return { kind: 'global', cluster, cellBits: -1, id: -1 };
  const cellBits = Number(m[2]);
  const id = Number(m[4]);
  if (cellBits > MAX_CELL_BITS) return null;
  const kind: TopicKind = m[3] === 'c' ? 'cell' : 'district';
  const idBits = kind === 'cell' ? cellBits : districtBitsOf(cellBits, DEFAULT_DISTRICT_CELL_BITS);
  if (id >= 2 ** idBits) return null;
  return { kind, cluster, cellBits, id };
}

/** For metrics labels (bounded): the kind of a topic, never the topic itself. */
export function topicKind(topic: string): TopicKind | 'other' {
  if (!topic.startsWith(TOPIC_PREFIX)) return 'other';
  if (topic.endsWith('/global')) return 'global';
  const slash = topic.lastIndexOf('/');
  const c = topic.charCodeAt(slash + 1);
  return c === 99 /* c */ ? 'cell' : c === 100 /* d */ ? 'district' : 'other';
}

/** 2^24 cells of ~48 hosts is far beyond any cluster we aim at; the bound keeps ids small integers. */
export const MAX_CELL_BITS = 24;

/**
 * A district groups 2^6 = 64 cells: at 100k hosts (2^11 cells) that makes 32 districts, so
 * 32 digests circulate globally instead of 2048 summaries. A protocol constant, not an
 * option: every node must agree on which district a cell belongs to.
 */
export const DEFAULT_DISTRICT_CELL_BITS = 6;

export function districtBitsOf(cellBits: number, districtCellBits: number = DEFAULT_DISTRICT_CELL_BITS): number {
  return cellBits > districtCellBits ? cellBits - districtCellBits : 0;
}

export function districtOf(cell: number, cellBits: number, districtCellBits: number = DEFAULT_DISTRICT_CELL_BITS): number {
  return cellBits > districtCellBits ? cell >>> districtCellBits : 0;
}
