import { pino, type Logger } from 'pino';

/** pino JSON logs; pretty-printed when a person is watching (stdout is a TTY). */
export async function createLogger(opts: { level: string; pretty?: boolean; name?: string }): Promise<Logger> {
  const usePretty = opts.pretty ?? process.stdout.isTTY === true;
  const base = { level: opts.level, name: opts.name ?? 'shoal' };
  if (!usePretty) return pino(base);
  // Loaded only for a person at a terminal: a daemon under systemd never pays for it.
  const { default: pretty } = await import('pino-pretty');
  return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' }));
}
