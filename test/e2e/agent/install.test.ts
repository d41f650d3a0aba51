import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, SHOAL, cli, tempDir } from '../../helpers/agent-process.ts';

describe('installing on a host', () => {
  it('the shipped systemd unit passes systemd-analyze verify', function () {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
      console.log('      skipped: systemd-analyze is not installed on this machine');
      return this.skip();
    }
    const unit = readFileSync(join(REPO, 'deploy/shoal.service'), 'utf8');
    assert.match(unit, /^KillMode=process$/m, 'VMs must outlive an agent restart');
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    // Point ExecStart at this checkout, since /usr/local/bin/shoal is not installed here.
    const dir = tempDir();
    const local = join(dir, 'shoal.service');
    writeFileSync(local, unit.replace('/usr/local/bin/shoal', SHOAL));
    const r = spawnSync('systemd-analyze', ['verify', local], { encoding: 'utf8' });
    assert.equal(r.status, 0, `systemd-analyze verify failed: ${r.stderr}`);
  });

  it('the example /etc/shoal/shoal.toml is a valid configuration', () => {
    const r = cli(['agent', '--check-config', '--config', join(REPO, 'deploy/shoal.toml')]);
    assert.equal(r.code, 0, r.stderr);
    const config = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    assert.equal(config.agent.socketGroup, 'shoal');
  });
});
