import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { hostname, loadavg } from 'node:os';
import si from 'systeminformation';

/** What this machine is, read from the OS. Refreshed periodically by the agent. */
export interface HostFacts {
  readonly hostname: string;
  readonly cpuCores: number;
  readonly memoryMiB: number;
  /** Size of the filesystem holding the data directory (VM disks live there). */
  readonly diskGiB: number;
  readonly diskFreeGiB: number;
  /** 1-minute load average divided by cores: 1.0 means every core busy. */
  readonly loadPerCore: number;
  readonly kvm: { readonly usable: boolean; readonly reason?: string };
  readonly os: string;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export async function readHostFacts(dataDir: string): Promise<HostFacts> {
  const [cpu, mem, osInfo, fs, kvm] = await Promise.all([si.cpu(), si.mem(), si.osInfo(), statfs(dataDir), probeKvm()]);
  const cores = cpu.cores || 1;
  return {
    hostname: hostname(),
    cpuCores: cores,
    memoryMiB: Math.floor(mem.total / MiB),
    diskGiB: Math.floor((fs.blocks * fs.bsize) / GiB),
    diskFreeGiB: Math.floor((fs.bavail * fs.bsize) / GiB),
    loadPerCore: Math.round((loadavg()[0]! / cores) * 100) / 100,
    kvm,
    os: `${osInfo.distro} ${osInfo.release} (${osInfo.kernel})`,
  };
}

/** KVM is usable when /dev/kvm exists and this process may open it read-write. */
export async function probeKvm(device = '/dev/kvm'): Promise<{ usable: boolean; reason?: string }> {
  try {
    await access(device, constants.R_OK | constants.W_OK);
    return { usable: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { usable: false, reason: code === 'ENOENT' ? `${device} does not exist` : `${device} is not accessible (${code})` };
  }
}
