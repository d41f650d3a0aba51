import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, startAgent, stopAllAgents, type AgentProcess } from '../../helpers/agent-process.ts';

describe('shoal CLI against a real agent', function () {
  let agent: AgentProcess;

  before(async () => {
    agent = await startAgent({
      configToml: `[host]\ndrivers = ["fake"]\ncapacity = { vcpus = 4, memory_mib = 8192, disk_gib = 100 }\novercommit = { cpu = 1.0 }\nreserved = { vcpus = 0, memory_mib = 0, disk_gib = 0 }\n`,
    });
  });
  after(() => stopAllAgents());

  it('submit FILE places a job and prints it; --json prints the record', () => {
    const file = join(agent.dir, 'job.json');
    writeFileSync(file, JSON.stringify({ name: 'cli-vm', kind: 'vm', resources: { vcpus: 1, memoryMiB: 512 }, idempotencyKey: 'cli-1' }));
    const r = cli(['submit', file], { address: agent.address });
    assert.equal(r.code, 0, `submit should exit 0: ${r.stderr}`);
    assert.match(r.stdout, /^job \w+ \(cli-vm\) placed on 12D3Koo\w+ with driver fake, state (placed|starting|running)$/m);
    const again = cli(['submit', file, '--json'], { address: agent.address });
    assert.equal(again.code, 0);
    assert.equal(JSON.parse(again.stdout).spec.name, 'cli-vm');
  });

  it('submit - reads the spec from stdin, TOML files work too', () => {
    const r = cli(['submit', '-'], { address: agent.address, input: JSON.stringify({ name: 'stdin-job', kind: 'process', command: ['sleep', '60'], resources: { vcpus: 1, memoryMiB: 64 } }) });
    assert.equal(r.code, 0, r.stderr);
    const toml = join(agent.dir, 'job.toml');
    writeFileSync(toml, `name = "toml-job"\nkind = "vm"\n[resources]\nvcpus = 1\nmemoryMiB = 128\n`);
    const t = cli(['submit', toml], { address: agent.address });
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /toml-job/);
  });

  it('exits 2 when the job cannot be placed, 1 for an invalid spec', () => {
    const big = cli(['submit', '-'], { address: agent.address, input: JSON.stringify({ name: 'huge', kind: 'vm', resources: { vcpus: 100, memoryMiB: 512 } }) });
    assert.equal(big.code, 2, `unplaceable job should exit 2, got ${big.code}: ${big.stderr}`);
    assert.match(big.stderr, /JOB_UNPLACEABLE: no host with 100 vCPUs, 512 MiB memory free \(1 host checked: 1 short of vCPUs\)/);
    const bad = cli(['submit', '-'], { address: agent.address, input: JSON.stringify({ name: 'bad', kind: 'vm', resources: { vcpus: -1, memoryMiB: 1 } }) });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /JOB_INVALID_SPEC: invalid job spec: resources\.vcpus: Too small/);
    const notJson = cli(['submit', '-'], { address: agent.address, input: '{nope' });
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /not valid JSON/);
  });

  it('jobs prints aligned columns, status and stop work by id', () => {
    const list = cli(['jobs'], { address: agent.address });
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+KIND\s+STATE\s+DESIRED\s+HOST\s+RESOURCES\s+TENANT\s+AGE$/);
    const stateColumn = lines[0]!.indexOf('STATE');
    for (const line of lines.slice(1)) assert.match(line.slice(stateColumn), /^(placed|starting|running)\s/, `columns must align: ${line}`);
    const json = JSON.parse(cli(['jobs', '--json'], { address: agent.address }).stdout) as { id: string; spec: { name: string } }[];
    const id = json.find((j) => j.spec.name === 'cli-vm')!.id;
    const status = cli(['status', id], { address: agent.address });
    assert.equal(status.code, 0);
    assert.match(status.stdout, /^Name\s+cli-vm$/m);
    const stop = cli(['stop', id, '--address', agent.address]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /stopping; capacity released/);
    assert.equal(JSON.parse(cli(['status', id, '--json'], { address: agent.address }).stdout).desired, 'deleted');
    const missing = cli(['status', 'nope'], { address: agent.address });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /JOB_NOT_FOUND/);
  });

  it('members and info show this host', () => {
    const members = cli(['members'], { address: agent.address });
    assert.equal(members.code, 0);
    assert.match(members.stdout, /^NAME\s+ID\s+STATUS\s+CELL\s+ZONE\s+CAPACITY\s+FREE\s+AGE$/m);
    assert.match(members.stdout, /alive/);
    const info = JSON.parse(cli(['info', '--json'], { address: agent.address }).stdout);
    assert.match(info.id, /^12D3Koo/);
    assert.ok(info.stats, 'info includes counters');
    const text = cli(['info'], { address: agent.address });
    assert.match(text.stdout, /^agent:\n\tid = 12D3Koo/m);
  });

  it('reports an unreachable agent clearly, exit 1', () => {
    const r = cli(['jobs'], { address: `unix://${join(agent.dir, 'missing.sock')}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /CLI_UNREACHABLE: cannot reach the agent at unix:\/\/.*missing\.sock.*is the agent running/);
  });
});
