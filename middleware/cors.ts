/**
 * CORS with an explicit allow-list. The default is same-origin only: no
 * CORS header is ever sent. An allowed Origin is echoed (with
 * `Vary: Origin`); `'*'` allows any origin but then never with credentials,
 * so no configuration can reflect an arbitrary Origin with cookies.
 */
import type { Context } from 'koa';
import { CometError } from '../lib/errors.js';

/** CORS settings of {@link comet}. */
export interface CorsOptions {
  /** Origins allowed to read responses, e.g. `['https://app.example']`, or `['*']`. */
  origins: readonly string[];
  /** Send `Access-Control-Allow-Credentials: true` (refused together with `'*'`). */
  credentials?: boolean;
  /** Preflight cache time in seconds. Default 600. */
  maxAge?: number;
}

/** A compiled CORS policy. */
export interface CorsPolicy {
  /** True when `origin` is on the allow-list. */
  allows(origin: string): boolean;
  /** Sets the CORS response headers for the request's Origin; true if it is a preflight it answered. */
  apply(ctx: Context): boolean;
  /** The origins for `Content-Security-Policy: frame-ancestors` (`'self'` plus the list). */
  readonly frameAncestors: string;
}

/**
 * Compiles {@link CorsOptions}.
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for `'*'` with credentials.
 */
export function createCorsPolicy(options: CorsOptions | undefined): CorsPolicy {
  const origins = new Set(options?.origins ?? []);
  const any = origins.has('*');
  const credentials = options?.credentials === true;
  if (any && credentials) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', "CORS: '*' cannot be used with credentials");
  }
  const maxAge = String(options?.maxAge ?? 600);
  const allows = (origin: string): boolean => any || origins.has(origin);
  const listed = [...origins].filter((o) => o !== '*');
  return {
    allows,
    frameAncestors: ["'self'", ...(any ? ['*'] : listed)].join(' '),
    apply(ctx) {
      // Straight from the parsed headers: this runs on every request.
      const origin = ctx.req.headers.origin ?? '';
      if (origin === '' || !allows(origin)) {
        if (ctx.method === 'OPTIONS' && origin !== '' && ctx.get('Access-Control-Request-Method')) {
          throw new CometError('COMET_ERR_ORIGIN_FORBIDDEN');
        }
        return false;
      }
      ctx.set('Access-Control-Allow-Origin', any && !credentials ? '*' : origin);
      ctx.vary('Origin');
      if (credentials) ctx.set('Access-Control-Allow-Credentials', 'true');
      ctx.set('Access-Control-Expose-Headers', 'ETag');
      if (ctx.method !== 'OPTIONS' || !ctx.get('Access-Control-Request-Method')) return false;
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      ctx.set('Access-Control-Allow-Headers', 'Content-Type, Last-Event-ID, If-None-Match');
      ctx.set('Access-Control-Max-Age', maxAge);
      ctx.status = 204;
      return true;
    },
  };
}
