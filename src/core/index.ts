export * from './clock.ts';
export * from './rng.ts';
export * from './hash.ts';
export * from './resources.ts';
export * from './transport.ts';
export * from './errors.ts';
export * from './job.ts';
export * from './protocol.ts';
