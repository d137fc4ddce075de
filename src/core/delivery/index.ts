/** Callback delivery of `ms365-callback-out`: envelope, signature, outbox journal, sender with retries. */
export * from './signature';
export * from './standard-webhooks';
export * from './signing';
export * from './envelope';
export * from './backoff';
export * from './outbox';
export * from './sender';
export { httpPost } from './http-post';
