import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { parse as parseToml } from 'smol-toml';
import { ShoalError } from '../../core/errors.ts';
import type { JobRecord } from '../../core/job.ts';
import { printJson } from '../output.ts';
import { clientCommand, withClient, type ClientFlags } from './client-command.ts';

export function submitCommand(): Command {
  return clientCommand('submit', 'submit a job spec (JSON, or TOML when the file ends in .toml); "-" reads stdin')
    .argument('<file>', 'job spec file, or - for stdin')
    .action(async (file: string, flags: ClientFlags) => {
      const spec = await readSpec(file);
      const { status, data } = await withClient(flags, (c) => c.call<JobRecord>('POST', '/v1/jobs', spec));
      if (flags.json) return printJson(data);
      const verb = status === 201 ? 'placed' : 'already exists (same idempotency key and spec)';
      process.stdout.write(`job ${data.id} (${data.spec.name}) ${verb} on ${data.host} with driver ${data.driver}, state ${data.state}\n`);
    });
}

async function readSpec(file: string): Promise<unknown> {
  let raw: string;
  try {
    raw = file === '-' ? await text(process.stdin) : await readFile(file, 'utf8');
  } catch (err) {
    throw new ShoalError('CLI_BAD_INPUT', `cannot read job spec ${file}: ${(err as Error).message}`);
  }
  try {
    return file.endsWith('.toml') ? parseToml(raw) : JSON.parse(raw);
  } catch (err) {
    throw new ShoalError('CLI_BAD_INPUT', `job spec ${file === '-' ? 'on stdin' : file} is not valid ${file.endsWith('.toml') ? 'TOML' : 'JSON'}: ${(err as Error).message}`);
  }
}
