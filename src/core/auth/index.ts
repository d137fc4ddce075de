/** OAuth 2.0 against the Microsoft identity platform: token endpoint client, token manager, token stores. */
export * from './errors';
export * from './pkce';
export * from './id-token';
export * from './oauth';
export * from './token-store';
export * from './token-manager';
export * from './connector-config';
