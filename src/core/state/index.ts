/** Where state lives (ARCHITECTURE `state/`): the interface, and the Redis implementation of cluster mode. */
export * from './types';
export * from './errors';
export { openRedisConnection, parseRedisUrl, redisTarget, type RedisConnectionOptions } from './redis-connection';
export { openRedisState, validatePrefix, DEFAULT_PREFIX, RedisSharedState, RedisKeys, type RedisStateOptions } from './redis-state';
export { LeaseKeeper, type LeaseKeeperOptions, type LeaseLossReason } from './lease-keeper';
export { SharedTokenStore, TokenRecordConflictError, type SharedTokenStoreOptions } from './shared-token-store';
export { LeaseRefreshGate, type LeaseRefreshGateOptions } from './refresh-gate';
export { ClusterPollerCursors, type ClusterCursorOptions } from './cluster-cursors';
