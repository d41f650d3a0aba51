export { Store, StoreError, durably, type StoreErrorCode } from './store.ts';
export { JobStore } from './job-store.ts';
export { MetaStore } from './meta-store.ts';
export { PeerCache, defaultPeerCacheOptions, type CachedPeer, type PeerCacheOptions } from './peer-cache.ts';
export { BindingStore } from './binding-store.ts';
