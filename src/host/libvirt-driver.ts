import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { DriverName } from '../core/job.ts';
import { writeFileAtomic } from './atomic-file.ts';
import { CallScope } from './call-scope.ts';
import { createOverlay, inspectImage } from './disk-image.ts';
import { DriverError, isDriverError } from './driver-errors.ts';
import type { Driver, DriverCallOptions, DriverJob, HostLogger, Instance, InstanceStats, InstanceStatus, ProbeResult, StopOptions } from './driver.ts';
import { runCommand, type CommandResult } from './exec.ts';
import { probeKvm } from './facts.ts';
import { KeyedLock } from './keyed-lock.ts';
import { domainXml, parseDomainXml, type DomainType, type ParsedDomain } from './libvirt-domain-xml.ts';
import { readPidFile, readProcStat } from './proc-fs.ts';

/**
 * The `libvirt` driver: everything through `virsh -c <uri>`, so it works the same against
 * `qemu:///system`, `qemu+ssh://…` or `xen:///system`. Shoal's domains are named
 * `<prefix><jobId>` and carry the job id in `<metadata>`; the ref is the domain name. Disks
 * are qcow2 overlays in `<dataDir>/vms/<jobId>/`. Domains Shoal did not define are listed
 * too (without a job id) so they can be imported.
 */

export interface LibvirtDriverOptions {
  dataDir: string;
  /** libvirt connection URI. */
  uri: string;
  virshBinary: string;
  qemuImgBinary: string;
  /** Prefix of the domain names Shoal defines. */
  domainPrefix: string;
  /** `auto`: `xen` for a xen URI, else `kvm` when /dev/kvm is usable, else `qemu` (TCG). */
  domainType: 'auto' | DomainType;
  /** Machine type for KVM/QEMU domains. */
  machine: string;
  kvmDevice: string;
  /** Where a local libvirtd keeps QEMU pid files (to learn when a domain started); null to skip. */
  qemuPidDir: string | null;
  /** Default bound for calls that do not pass `timeoutMs`. */
  callTimeoutMs: number;
  /** How often stop() re-reads the domain state while waiting for a guest shutdown. */
  stopPollMs: number;
}

export const defaultLibvirtDriverOptions: Omit<LibvirtDriverOptions, 'dataDir'> = {
  uri: 'qemu:///system', // the system libvirtd, which owns /dev/kvm access and survives the agent
  virshBinary: 'virsh',
  qemuImgBinary: 'qemu-img',
  domainPrefix: 'shoal-', // makes Shoal's domains obvious in `virsh list`
  domainType: 'auto',
  machine: 'q35', // PCIe machine, libvirt's recommended default for new KVM guests
  kvmDevice: '/dev/kvm',
  qemuPidDir: '/run/libvirt/qemu', // Debian's libvirtd, qemu:///system
  callTimeoutMs: 60_000, // 60 s: covers a graceful stop with the default 30 s grace plus destroy
  stopPollMs: 100, // 100 ms: a virsh domstats call costs a few ms; finer polling buys nothing
};

export interface LibvirtDriverModules {
  log: HostLogger | null;
}

/** virDomainState numbers (libvirt-domain.h). */
const STATE_RUNNING = new Set([1, 2, 4]); // running, blocked, shutdown-in-progress
const STATE_PAUSED = new Set([3, 7]); // paused, pmsuspended
const STATE_SHUTOFF = 5;
const STATE_CRASHED = 6;
/** virDomainShutoffReason values that mean the domain died rather than being stopped. */
const SHUTOFF_CRASHED_REASONS = new Set([3, 6]); // crashed, failed

interface DomainState {
  readonly state: number;
  readonly reason: number;
}

export class LibvirtDriver implements Driver {
  readonly name: DriverName = 'libvirt';
  private readonly opts: LibvirtDriverOptions;
  private readonly log: HostLogger | null;
  private readonly lock = new KeyedLock();

  constructor(opts: LibvirtDriverOptions, modules: LibvirtDriverModules = { log: null }) {
    this.opts = opts;
    this.log = modules.log;
  }

  domainName(jobId: string): string {
    return `${this.opts.domainPrefix}${jobId}`;
  }

  async probe(opts?: DriverCallOptions): Promise<ProbeResult> {
    const scope = CallScope.begin('libvirt probe', opts, this.opts.callTimeoutMs);
    const details: Record<string, unknown> = { uri: this.opts.uri };
    try {
      details.virshVersion = (await runCommand(this.opts.virshBinary, ['--version'], scope)).stdout.trim();
      details.hypervisor = (await this.virsh(['version', '--daemon'], scope)).stdout
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .join('; ');
      details.domainType = await this.domainType();
      details.qemuImgVersion = (await runCommand(this.opts.qemuImgBinary, ['--version'], scope)).stdout.split('\n')[0]!.trim();
    } catch (err) {
      return { available: false, reason: (err as Error).message, details };
    }
    return { available: true, details };
  }

  async create(job: DriverJob, opts?: DriverCallOptions): Promise<{ ref: string }> {
    const scope = CallScope.begin(`libvirt create ${job.jobId}`, opts, this.opts.callTimeoutMs);
    if (job.spec.kind !== 'vm') throw new DriverError('DRIVER_INVALID_JOB', `the libvirt driver runs vm jobs, not ${job.spec.kind} jobs`, { jobId: job.jobId });
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(job.jobId)) throw new DriverError('DRIVER_INVALID_JOB', `job id ${JSON.stringify(job.jobId)} cannot name a domain`, { jobId: job.jobId });
    const name = this.domainName(job.jobId);
    return this.lock.run(name, async () => {
      if (await this.stateOf(name, scope)) throw new DriverError('DRIVER_ALREADY_EXISTS', `libvirt domain ${name} already exists`, { ref: name });
      const image = job.spec.image ? await inspectImage(this.opts.qemuImgBinary, job.spec.image, scope) : undefined;
      const dir = resolve(job.dataDir, 'vms', job.jobId);
      let defined = false;
      await rm(dir, { recursive: true, force: true });
      try {
        // 0755: libvirtd runs QEMU as its own user, which must reach the overlay.
        await mkdir(dir, { recursive: true, mode: 0o755 });
        const disk = join(dir, 'disk.qcow2');
        if (image) await createOverlay(this.opts.qemuImgBinary, image, disk, job.spec.resources.diskGiB, scope);
        const xml = domainXml({
          name,
          title: job.name,
          jobId: job.jobId,
          tenant: job.spec.tenant,
          type: await this.domainType(),
          vcpus: job.spec.resources.vcpus,
          memoryMiB: job.spec.resources.memoryMiB,
          machine: this.opts.machine,
          ...(image ? { disk } : {}),
        });
        const xmlPath = join(dir, 'domain.xml');
        await writeFileAtomic(xmlPath, xml, 0o644);
        await this.virsh(['define', xmlPath], scope);
        defined = true;
        return { ref: name };
      } catch (err) {
        if (defined) await this.virsh(['undefine', name], scope).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
        throw scope.translate(err);
      }
    });
  }

  async start(ref: string, opts?: DriverCallOptions): Promise<void> {
    const scope = CallScope.begin(`libvirt start ${ref}`, opts, this.opts.callTimeoutMs);
    await this.lock.run(ref, async () => {
      const st = await this.stateOf(ref, scope);
      if (!st) throw new DriverError('DRIVER_NOT_FOUND', `no libvirt domain ${ref}`, { ref, uri: this.opts.uri });
      if (st.state !== STATE_SHUTOFF && st.state !== STATE_CRASHED && st.state !== 0) return; // already up: never a second start
      try {
        await this.virsh(['start', ref], scope);
      } catch (err) {
        if (isDriverError(err, 'DRIVER_COMMAND_FAILED')) {
          throw new DriverError('DRIVER_START_FAILED', `libvirt could not start ${ref}: ${String(err.details.stderr || err.message)}`, { ...err.details, ref });
        }
        throw err;
      }
      this.log?.info({ ref, uri: this.opts.uri }, 'libvirt domain started');
    });
  }

  async stop(ref: string, stopOpts: StopOptions, opts?: DriverCallOptions): Promise<void> {
    const scope = CallScope.begin(`libvirt stop ${ref}`, opts, Math.max(this.opts.callTimeoutMs, stopOpts.graceMs + 30_000));
    await this.lock.run(ref, () => this.stopUnlocked(ref, stopOpts.graceMs, scope));
  }

  async destroy(ref: string, opts?: DriverCallOptions): Promise<void> {
    const scope = CallScope.begin(`libvirt destroy ${ref}`, opts, this.opts.callTimeoutMs);
    await this.lock.run(ref, async () => {
      const dom = await this.dumpxml(ref, scope);
      if (!dom) return;
      await this.stopUnlocked(ref, 0, scope);
      await this.virsh(['undefine', ref], scope).catch((err: unknown) => {
        if (!isDriverError(err, 'DRIVER_NOT_FOUND')) throw err; // a transient domain vanishes when it stops
      });
      // Only Shoal's own disk directory is removed; a foreign domain's disks are not ours to delete.
      if (dom.jobId && dom.name === this.domainName(dom.jobId)) {
        const dirs = new Set(dom.disks.map((d) => dirname(d)).filter((d) => basename(d) === dom.jobId && basename(dirname(d)) === 'vms'));
        dirs.add(resolve(this.opts.dataDir, 'vms', dom.jobId));
        for (const d of dirs) await rm(d, { recursive: true, force: true });
      }
    });
  }

  async list(opts?: DriverCallOptions): Promise<Instance[]> {
    const scope = CallScope.begin('libvirt list', opts, this.opts.callTimeoutMs);
    const names = (await this.virsh(['list', '--all', '--name'], scope)).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    const states = parseDomstats((await this.virsh(['domstats', '--state', '--raw'], scope)).stdout);
    const out: Instance[] = [];
    for (const name of names) {
      const dom = await this.dumpxml(name, scope);
      if (!dom) continue; // vanished between the two calls
      const st = states.get(name);
      const state = st ? toStatus(st) : 'missing';
      const startedAtMs = state === 'running' || state === 'paused' ? await this.startedAtMs(name) : undefined;
      out.push({
        ref: name,
        name: dom.title ?? name,
        state,
        ...(dom.jobId ? { jobId: dom.jobId } : {}),
        ...(dom.vcpus ? { vcpus: dom.vcpus } : {}),
        ...(dom.memoryMiB ? { memoryMiB: dom.memoryMiB } : {}),
        ...(startedAtMs ? { startedAtMs } : {}),
      });
    }
    return out;
  }

  async status(ref: string, opts?: DriverCallOptions): Promise<InstanceStatus> {
    const scope = CallScope.begin(`libvirt status ${ref}`, opts, this.opts.callTimeoutMs);
    const st = await this.stateOf(ref, scope);
    return st ? toStatus(st) : 'missing';
  }

  async stats(ref: string, opts?: DriverCallOptions): Promise<InstanceStats> {
    const scope = CallScope.begin(`libvirt stats ${ref}`, opts, this.opts.callTimeoutMs);
    let out: CommandResult;
    try {
      out = await this.virsh(['domstats', '--raw', '--state', '--cpu-total', '--balloon', ref], scope);
    } catch (err) {
      if (isDriverError(err, 'DRIVER_NOT_FOUND')) return {};
      throw err;
    }
    const fields = parseDomstatsFields(out.stdout).get(ref) ?? new Map<string, string>();
    const cpuNs = Number(fields.get('cpu.time'));
    const rssKiB = Number(fields.get('balloon.rss'));
    const startedAtMs = await this.startedAtMs(ref);
    return {
      ...(Number.isFinite(cpuNs) ? { cpuSeconds: cpuNs / 1e9 } : {}),
      ...(Number.isFinite(rssKiB) ? { memoryBytes: rssKiB * 1024 } : {}),
      ...(startedAtMs ? { startedAtMs } : {}),
    };
  }

  // ---- internals ----

  private async stopUnlocked(ref: string, graceMs: number, scope: CallScope): Promise<void> {
    const st = await this.stateOf(ref, scope);
    if (!st || !isActive(st)) return;
    if (graceMs > 0 && STATE_RUNNING.has(st.state)) {
      const asked = await this.virsh(['shutdown', ref], scope).then(
        () => true,
        (err: unknown) => {
          if (scope.signal.aborted) throw scope.translate(err);
          this.log?.warn({ ref, err: (err as Error).message }, 'virsh shutdown refused; forcing');
          return false;
        },
      );
      if (asked) {
        const down = await scope.waitFor(async () => !isActiveOrMissing(await this.stateOf(ref, scope)), Math.min(graceMs, scope.remainingMs()), this.opts.stopPollMs);
        if (down) return;
      }
    }
    await this.virsh(['destroy', ref], scope).catch((err: unknown) => {
      // It may have shut down on its own between our check and the destroy.
      if (isDriverError(err, 'DRIVER_NOT_FOUND')) return;
      if (isDriverError(err, 'DRIVER_COMMAND_FAILED') && /not running|is not active/i.test(String(err.details.stderr))) return;
      throw err;
    });
    const after = await this.stateOf(ref, scope);
    if (after && isActive(after)) {
      throw new DriverError('DRIVER_STOP_FAILED', `libvirt domain ${ref} is still active after virsh destroy`, { ref, state: after.state });
    }
  }

  private async stateOf(name: string, scope: CallScope): Promise<DomainState | undefined> {
    try {
      const out = await this.virsh(['domstats', '--state', '--raw', name], scope);
      return parseDomstats(out.stdout).get(name);
    } catch (err) {
      if (isDriverError(err, 'DRIVER_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  private async dumpxml(name: string, scope: CallScope): Promise<ParsedDomain | undefined> {
    let xml: string;
    try {
      xml = (await this.virsh(['dumpxml', name], scope)).stdout;
    } catch (err) {
      if (isDriverError(err, 'DRIVER_NOT_FOUND')) return undefined;
      throw err;
    }
    try {
      return parseDomainXml(xml);
    } catch (err) {
      throw new DriverError('DRIVER_COMMAND_FAILED', `virsh dumpxml ${name} returned XML Shoal cannot read: ${(err as Error).message}`, { ref: name }, err);
    }
  }

  private async startedAtMs(name: string): Promise<number | undefined> {
    if (!this.opts.qemuPidDir || !this.opts.uri.startsWith('qemu:///system')) return undefined;
    const pid = await readPidFile(join(this.opts.qemuPidDir, `${name}.pid`));
    return pid ? (await readProcStat(pid))?.startedAtMs : undefined;
  }

  private async domainType(): Promise<DomainType> {
    if (this.opts.domainType !== 'auto') return this.opts.domainType;
    if (this.opts.uri.startsWith('xen')) return 'xen';
    return (await probeKvm(this.opts.kvmDevice)).usable ? 'kvm' : 'qemu';
  }

  /** Runs virsh against the configured URI, mapping libvirt's well-known failures to precise codes. */
  private async virsh(args: readonly string[], scope: CallScope): Promise<CommandResult> {
    try {
      return await runCommand(this.opts.virshBinary, ['-c', this.opts.uri, ...args], scope);
    } catch (err) {
      if (!isDriverError(err, 'DRIVER_COMMAND_FAILED')) throw err;
      const stderr = String(err.details.stderr ?? '');
      if (/failed to get domain|Domain not found|no domain with matching/i.test(stderr)) {
        throw new DriverError('DRIVER_NOT_FOUND', `libvirt: ${firstError(stderr)}`, { ...err.details, uri: this.opts.uri }, err);
      }
      if (/failed to connect to the hypervisor/i.test(stderr)) {
        throw new DriverError('DRIVER_UNAVAILABLE', `libvirt at ${this.opts.uri} is unreachable: ${firstError(stderr)}`, { ...err.details, uri: this.opts.uri }, err);
      }
      throw err;
    }
  }
}

function isActive(st: DomainState): boolean {
  return STATE_RUNNING.has(st.state) || STATE_PAUSED.has(st.state);
}

function isActiveOrMissing(st: DomainState | undefined): boolean {
  return st !== undefined && isActive(st);
}

function toStatus(st: DomainState): InstanceStatus {
  if (STATE_RUNNING.has(st.state)) return 'running';
  if (STATE_PAUSED.has(st.state)) return 'paused';
  if (st.state === STATE_CRASHED) return 'crashed';
  if (st.state === STATE_SHUTOFF && SHUTOFF_CRASHED_REASONS.has(st.reason)) return 'crashed';
  return 'stopped';
}

/** `virsh domstats --raw` output: "Domain: 'name'" headers, then "  key=value" lines. */
export function parseDomstatsFields(out: string): Map<string, Map<string, string>> {
  const result = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of out.split('\n')) {
    const line = raw.trim();
    const header = /^Domain: '(.*)'$/.exec(line);
    if (header) {
      current = new Map();
      result.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return result;
}

function parseDomstats(out: string): Map<string, DomainState> {
  const result = new Map<string, DomainState>();
  for (const [name, fields] of parseDomstatsFields(out)) {
    result.set(name, { state: Number(fields.get('state.state') ?? 0), reason: Number(fields.get('state.reason') ?? 0) });
  }
  return result;
}

/** libvirt prints "error: a\nerror: b"; the last line is usually the specific one. */
function firstError(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^error:\s*/, '').trim())
    .filter((l) => l !== '');
  return lines.join('; ');
}
