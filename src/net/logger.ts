/** The slice of a pino-style logger the adapter uses: fields first, then the message. */
export interface NetLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}
