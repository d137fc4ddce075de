/**
 * Access tokens issued by the simulated identity platform and checked by the simulated Graph. Opaque random
 * strings (real Graph tokens are JWTs, but clients must treat them as opaque). Expired and revoked tokens get
 * Graph's real 401 bodies (`reference/graph.md` §8). Each token carries what Graph authorizes with: delegated
 * scopes (`scp`) or, app-only, app roles (`roles`); `graph/permissions.ts` checks them per request (§11.6).
 */
import { randomBytes } from 'node:crypto';
import type { SimClock } from './clock';

export interface TokenPrincipal {
  /** The user whose data `/me` means; for app-only tokens, undefined. */
  userId?: string;
  clientId: string;
  tenantId: string;
  /** Delegated permissions (the token's `scp` claim), short names (`Mail.Read`). */
  scopes: string[];
  /** Application permissions (the `roles` claim of app-only tokens): the app roles an admin granted to the app. */
  roles?: string[];
  appOnly: boolean;
}

interface IssuedToken extends TokenPrincipal {
  expiresAt: number;
  revoked: boolean;
}

export type TokenCheck =
  | { ok: true; principal: TokenPrincipal }
  | { ok: false; status: 401; body: { error: { code: string; message: string; innerError?: Record<string, string> } } };

export class AccessTokenRegistry {
  private readonly tokens = new Map<string, IssuedToken>();
  /** Lifetime of new access tokens in seconds (Microsoft: 3599; tests shorten it). */
  lifetimeSeconds = 3599;

  constructor(private readonly clock: SimClock) {}

  issue(principal: TokenPrincipal): { token: string; expiresIn: number } {
    const token = `sim-at-${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, { ...principal, expiresAt: this.clock.now() + this.lifetimeSeconds * 1000, revoked: false });
    this.prune();
    return { token, expiresIn: this.lifetimeSeconds };
  }

  /** Check an `Authorization` header value. */
  check(authorization: string | undefined): TokenCheck {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) {
      return unauthorized('InvalidAuthenticationToken', 'Access token is empty.');
    }
    const issued = this.tokens.get(match[1]);
    if (!issued) return unauthorized('InvalidAuthenticationToken', 'IDX14100: JWT is not well formed.');
    if (issued.revoked) {
      return unauthorized('InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
    }
    if (issued.expiresAt <= this.clock.now()) {
      return unauthorized('InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
    }
    const { expiresAt: _e, revoked: _r, ...principal } = issued;
    return { ok: true, principal };
  }

  /** Fault: make every access token issued so far expire now. */
  expireAll(): void {
    for (const issued of this.tokens.values()) issued.expiresAt = Math.min(issued.expiresAt, this.clock.now());
  }

  /** Fault: revoke every access token issued so far. */
  revokeAll(): void {
    for (const issued of this.tokens.values()) issued.revoked = true;
  }

  private prune(): void {
    if (this.tokens.size < 10_000) return;
    const now = this.clock.now();
    for (const [token, issued] of this.tokens) if (issued.expiresAt < now - 3_600_000) this.tokens.delete(token);
  }
}

function unauthorized(code: string, message: string): TokenCheck {
  return {
    ok: false,
    status: 401,
    body: { error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19) } } },
  };
}
