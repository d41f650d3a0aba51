import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** pino JSON logs; pretty-printed when a person is watching (stdout is a TTY). */
export function createLogger(opts: { level: string; pretty?: boolean; name?: string }): Logger {
  const usePretty = opts.pretty ?? process.stdout.isTTY === true;
  const base = { level: opts.level, name: opts.name ?? 'shoal' };
  return usePretty ? pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' })) : pino(base);
}
