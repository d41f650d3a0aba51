import { XMLParser } from 'fast-xml-parser';

/**
 * libvirt domain XML: generated for Shoal's VMs, parsed (with a real XML parser) for every
 * domain libvirt reports. Shoal marks its domains with a `<metadata>` element in its own
 * namespace holding the job id; a domain without it was made by someone else and is an
 * import candidate.
 */

export const SHOAL_XML_NAMESPACE = 'https://shoal.dev/xmlns/job/1';

export type DomainType = 'kvm' | 'qemu' | 'xen';

export interface DomainXmlInput {
  readonly name: string;
  readonly title: string;
  readonly jobId: string;
  readonly tenant: string;
  readonly type: DomainType;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** qcow2 overlay path; absent for a diskless VM that idles in firmware. */
  readonly disk?: string;
  /** Machine type for KVM/QEMU domains (Xen HVM picks its own). */
  readonly machine: string;
}

export function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&apos;');
}

/** A minimal headless domain: no network, no graphics, no balloon; destroyed (not restarted) when the guest powers off. */
export function domainXml(d: DomainXmlInput): string {
  const e = escapeXml;
  const xen = d.type === 'xen';
  const osType = xen ? `<type arch='x86_64'>hvm</type>` : `<type arch='x86_64' machine='${e(d.machine)}'>hvm</type>`;
  const disk = d.disk
    ? `
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${e(d.disk)}'/>
      <target dev='${xen ? 'xvda' : 'vda'}' bus='${xen ? 'xen' : 'virtio'}'/>
    </disk>`
    : '';
  return `<domain type='${d.type}'>
  <name>${e(d.name)}</name>
  <title>${e(d.title)}</title>
  <metadata>
    <shoal:job xmlns:shoal='${SHOAL_XML_NAMESPACE}'>
      <shoal:id>${e(d.jobId)}</shoal:id>
      <shoal:tenant>${e(d.tenant)}</shoal:tenant>
    </shoal:job>
  </metadata>
  <memory unit='MiB'>${d.memoryMiB}</memory>
  <vcpu>${d.vcpus}</vcpu>
  <os>
    ${osType}
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>${disk}
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

export interface ParsedDomain {
  readonly name: string;
  readonly uuid?: string;
  readonly title?: string;
  readonly type?: string;
  /** The running domain's id; absent when shut off. */
  readonly id?: number;
  readonly jobId?: string;
  readonly tenant?: string;
  readonly vcpus?: number;
  readonly memoryMiB?: number;
  readonly disks: readonly string[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Keep text as strings: a domain named "0123" must not become the number 123.
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => name === 'disk',
});

type Node = Record<string, unknown>;

/** Parses `virsh dumpxml` output. Throws on text that is not a domain document. */
export function parseDomainXml(xml: string): ParsedDomain {
  const doc = parser.parse(xml) as Node;
  const dom = doc.domain as Node | undefined;
  if (!dom || typeof dom !== 'object') throw new Error('not a libvirt domain document');
  const name = text(dom.name);
  if (!name) throw new Error('domain has no name');
  const meta = shoalMetadata(dom.metadata);
  const devices = (dom.devices ?? {}) as Node;
  const disks: string[] = [];
  for (const disk of (devices.disk ?? []) as Node[]) {
    const src = disk.source as Node | undefined;
    const file = src?.['@_file'] ?? src?.['@_dev'];
    if (typeof file === 'string') disks.push(file);
  }
  const idAttr = dom['@_id'];
  const out: ParsedDomain = {
    name,
    disks,
    ...(text(dom.uuid) ? { uuid: text(dom.uuid) } : {}),
    ...(text(dom.title) ? { title: text(dom.title) } : {}),
    ...(typeof dom['@_type'] === 'string' ? { type: dom['@_type'] } : {}),
    ...(typeof idAttr === 'string' && idAttr !== '-1' ? { id: Number(idAttr) } : {}),
    ...(meta.jobId ? { jobId: meta.jobId } : {}),
    ...(meta.tenant ? { tenant: meta.tenant } : {}),
  };
  const vcpus = Number(text(dom.vcpu));
  const memory = memoryMiB(dom.memory);
  return { ...out, ...(Number.isFinite(vcpus) && vcpus > 0 ? { vcpus } : {}), ...(memory ? { memoryMiB: memory } : {}) };
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number') return String(v);
  if (v && typeof v === 'object' && '#text' in v) return String((v as Node)['#text']).trim();
  return undefined;
}

const UNIT_TO_MIB: Record<string, number> = { b: 1 / 1024 ** 2, bytes: 1 / 1024 ** 2, k: 1 / 1024, kib: 1 / 1024, m: 1, mib: 1, g: 1024, gib: 1024, t: 1024 ** 2, tib: 1024 ** 2 };

function memoryMiB(v: unknown): number | undefined {
  const n = Number(text(v));
  if (!Number.isFinite(n) || n <= 0) return undefined;
  const unit = v && typeof v === 'object' ? String((v as Node)['@_unit'] ?? 'KiB').toLowerCase() : 'kib';
  const factor = UNIT_TO_MIB[unit];
  return factor === undefined ? undefined : Math.round(n * factor);
}

/** Finds our `<x:job xmlns:x=NS>` under <metadata>, whatever prefix it was written with. */
function shoalMetadata(metadata: unknown): { jobId?: string; tenant?: string } {
  if (!metadata || typeof metadata !== 'object') return {};
  for (const [key, value] of Object.entries(metadata as Node)) {
    if (!value || typeof value !== 'object') continue;
    const node = value as Node;
    const prefix = key.includes(':') ? key.slice(0, key.indexOf(':')) : '';
    const ns = prefix ? node[`@_xmlns:${prefix}`] : node['@_xmlns'];
    if (ns !== SHOAL_XML_NAMESPACE || !key.endsWith('job')) continue;
    const p = prefix ? `${prefix}:` : '';
    const jobId = text(node[`${p}id`]);
    const tenant = text(node[`${p}tenant`]);
    return { ...(jobId ? { jobId } : {}), ...(tenant ? { tenant } : {}) };
  }
  return {};
}
