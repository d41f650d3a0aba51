import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, curl, startAgent, stopAllAgents, tempDir } from '../../helpers/agent-process.ts';
import { waitFor } from '../../helpers/wait-for.ts';

function checkConfig(toml: string | undefined, env: Record<string, string> = {}, extra: string[] = []): ReturnType<typeof cli> {
  const dir = tempDir();
  const args = ['agent', '--check-config', '--data-dir', join(dir, 'data'), ...extra];
  if (toml !== undefined) {
    writeFileSync(join(dir, 'shoal.toml'), toml);
    args.push('--config', join(dir, 'shoal.toml'));
  }
  return cli(args, { env });
}

describe('agent configuration', function () {
  after(() => stopAllAgents());

  it('--check-config accepts the embedded defaults and prints the effective config', () => {
    const r = checkConfig(undefined);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^configuration is valid/);
    assert.equal(JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).cluster, 'default');
  });

  const bad: [string, string, Record<string, string>, RegExp][] = [
    ['an unknown key', '[host]\nzone = "a"\ncolour = "blue"\n', {}, /host\.colour: unknown key/],
    ['an unknown section', '[hoist]\nzone = "a"\n', {}, /hoist: unknown key/],
    ['a bad value', '[host.overcommit]\ncpu = -2\n', {}, /host\.overcommit\.cpu: Too small/],
    ['a wrong type', '[agent]\nmax_body_bytes = "lots"\n', {}, /agent\.max_body_bytes: Invalid input: expected number/],
    ['broken TOML', '[host\nzone = ', {}, /is not valid TOML at line 1/],
    ['an unknown SHOAL_ variable', '', { SHOAL_HOST_COLOUR: 'x' }, /unknown environment variable SHOAL_HOST_COLOUR/],
    ['a bad SHOAL_ value', '', { SHOAL_HOST_OVERCOMMIT_CPU: 'many' }, /host\.overcommit\.cpu: Invalid input: expected number/],
  ];
  for (const [what, toml, env, message] of bad) {
    it(`exits 1 and names the key for ${what}`, () => {
      const r = checkConfig(toml, env);
      assert.equal(r.code, 1, `expected exit 1, got ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stderr, message);
    });
  }

  it('layers defaults < file < SHOAL_* < flags', () => {
    const toml = '[host]\nzone = "from-file"\nregion = "from-file"\n[log]\nlevel = "warn"\n';
    const r = checkConfig(toml, { SHOAL_HOST_ZONE: 'from-env', SHOAL_LOG_LEVEL: 'error' }, ['--log-level', 'debug']);
    assert.equal(r.code, 0, r.stderr);
    const config = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    assert.equal(config.host.region, 'from-file', 'file overrides defaults');
    assert.equal(config.host.zone, 'from-env', 'env overrides file');
    assert.equal(config.log.level, 'debug', 'flag overrides env');
    assert.equal(config.host.overcommit.cpu, 4, 'defaults fill the rest');
  });

  it('SIGHUP reloads host labels without a restart', async () => {
    const dir = tempDir();
    const agent = await startAgent({ dir, configToml: '[host]\ndrivers = ["fake"]\nlabels = { energy = "coal" }\n' });
    const pidBefore = agent.proc.pid;
    assert.deepEqual(curl(agent.socket, 'GET', '/v1/agent/self').body.labels, { energy: 'coal' });
    writeFileSync(join(dir, 'shoal.toml'), '[host]\ndrivers = ["fake"]\nlabels = { energy = "hydro" }\n');
    agent.proc.kill('SIGHUP');
    await waitFor(() => curl(agent.socket, 'GET', '/v1/agent/self').body.labels?.energy === 'hydro', { timeoutMs: 10_000, what: 'labels to change after SIGHUP' });
    assert.equal(agent.proc.pid, pidBefore, 'same process');
    assert.equal(await agent.stop(), 0, 'SIGTERM exits 0');
    assert.match(agent.output(), /agent stopped/);
  });

  it('persists the node identity across restarts and bumps the incarnation', async () => {
    const agent = await startAgent({ configToml: '[host]\ndrivers = ["fake"]\n' });
    const first = curl(agent.socket, 'GET', '/v1/agent/self').body;
    await agent.restart();
    const second = curl(agent.socket, 'GET', '/v1/agent/self').body;
    assert.equal(second.id, first.id, 'peer id survives a restart');
    assert.equal(second.incarnation, first.incarnation + 1, 'each start bumps the incarnation');
  });

  it('refuses to start a second agent on a live socket', async () => {
    const agent = await startAgent({ configToml: '[host]\ndrivers = ["fake"]\n' });
    const r = cli(['agent', '--data-dir', join(agent.dir, 'data2'), '--socket', agent.socket]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /another agent is already listening/);
  });
});
