/**
 * Errors of the Microsoft identity platform, classified as `reference/graph.md` §8 prescribes:
 * `invalid_grant` / `interaction_required` / `consent_required` ⇒ stop retrying, a user must sign in again;
 * `temporarily_unavailable` / 5xx / network ⇒ back off and retry; `invalid_client` ⇒ an admin must fix the secret.
 * Messages carry the OAuth error code and the first line of Microsoft's description, never a token or secret.
 */
import { Ms365Error } from '../errors';

export type AuthFailureKind = 'sign_in_needed' | 'transient' | 'client' | 'other';

const SIGN_IN_NEEDED = new Set(['invalid_grant', 'interaction_required', 'consent_required', 'login_required']);

export class OAuthError extends Ms365Error {
  /** OAuth `error` (`invalid_grant`, ...), or `network_error` / `no_refresh_token`. */
  readonly error: string;
  /** Microsoft's AADSTS number, when it sent one. */
  readonly aadsts?: number;
  /** HTTP status of the token endpoint answer (undefined for network errors). */
  readonly status?: number;
  readonly kind: AuthFailureKind;

  constructor(init: { error: string; description?: string; aadsts?: number; status?: number; cause?: unknown }) {
    const detail = firstLine(init.description);
    super(`oauth_${init.error}`, `Microsoft sign-in failed: ${init.error}${detail ? ` (${detail})` : ''}`, { cause: init.cause });
    this.name = 'OAuthError';
    this.error = init.error;
    this.aadsts = init.aadsts;
    this.status = init.status;
    this.kind = classify(init.error, init.status);
  }

  /** True when retrying cannot help until a user signs in again. */
  get needsSignIn(): boolean {
    return this.kind === 'sign_in_needed';
  }
}

function classify(error: string, status: number | undefined): AuthFailureKind {
  if (SIGN_IN_NEEDED.has(error) || error === 'no_refresh_token') return 'sign_in_needed';
  if (error === 'temporarily_unavailable' || error === 'network_error' || (status !== undefined && status >= 500)) return 'transient';
  if (error === 'invalid_client' || error === 'unauthorized_client') return 'client';
  return 'other';
}

/** The first line of an AADSTS description (the rest is trace ids and timestamps), bounded in length. */
function firstLine(description: string | undefined): string {
  if (!description) return '';
  return description.split(/\r?\n/)[0].slice(0, 300);
}
