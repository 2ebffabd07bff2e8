/**
 * CORS with an explicit allow-list. The default is same-origin only: no
 * CORS header is ever sent. An allowed Origin is echoed (with
 * `Vary: Origin`); `'*'` allows any origin but then never with credentials,
 * so no configuration can reflect an arbitrary Origin with cookies.
 */
import type { Context } from 'koa';
import { CometError } from '../lib/base/errors.js';

/** CORS settings of {@link comet}. */
export interface CorsOptions {
  /** Origins allowed to read responses, e.g. `['https://app.example']`, or `['*']`. */
  origins: readonly string[];
  /** Send `Access-Control-Allow-Credentials: true` (refused together with `'*'`). */
  credentials?: boolean;
  /** Preflight cache time in seconds (`Access-Control-Max-Age`). Default 600. */
  maxAge?: number;
  /**
   * Request headers a cross-origin request may send, besides `Content-Type`,
   * `Last-Event-ID` and `If-None-Match`: e.g. `['Authorization']` for
   * bearer-token clients (fetch-event-source, extended-eventsource).
   */
  allowHeaders?: readonly string[];
  /** Response headers a cross-origin page may read, besides `ETag`. */
  exposeHeaders?: readonly string[];
}

/** A compiled CORS policy. */
export interface CorsPolicy {
  /** True when `origin` is on the allow-list. */
  allows(origin: string): boolean;
  /** The allow-list as given (`'*'` included): WebSocket applies it with its credential rule. */
  readonly origins: readonly string[];
  /** Sets the CORS response headers for the request's Origin; true if it is a preflight it answered. */
  apply(ctx: Context): boolean;
  /** The origins for `Content-Security-Policy: frame-ancestors` (`'self'` plus the list). */
  readonly frameAncestors: string;
}

/** An HTTP header name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `defaults` plus `extra`, once each (case-insensitively), as one header value. */
function headerList(
  defaults: readonly string[],
  extra: readonly string[] | undefined,
  name: string,
) {
  const list = [...defaults];
  for (const header of extra ?? []) {
    if (typeof header !== 'string' || !TOKEN.test(header)) {
      throw new CometError(
        'COMET_ERR_OPTIONS_INVALID',
        `CORS: ${name} holds an invalid header name`,
      );
    }
    if (!list.some((h) => h.toLowerCase() === header.toLowerCase())) list.push(header);
  }
  return list.join(', ');
}

/**
 * Compiles {@link CorsOptions}.
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for `'*'` with credentials, a
 * `maxAge` that is not a whole number of seconds, or a header name that is
 * not an HTTP token.
 */
export function createCorsPolicy(options: CorsOptions | undefined): CorsPolicy {
  const origins = new Set(options?.origins ?? []);
  const any = origins.has('*');
  const credentials = options?.credentials === true;
  if (any && credentials) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', "CORS: '*' cannot be used with credentials");
  }
  const age = options?.maxAge ?? 600;
  if (!Number.isSafeInteger(age) || age < 0) {
    throw new CometError('COMET_ERR_OPTIONS_INVALID', 'CORS: maxAge must be whole seconds >= 0');
  }
  const maxAge = String(age);
  const allowHeaders = headerList(
    ['Content-Type', 'Last-Event-ID', 'If-None-Match'],
    options?.allowHeaders,
    'allowHeaders',
  );
  const exposeHeaders = headerList(['ETag'], options?.exposeHeaders, 'exposeHeaders');
  const allows = (origin: string): boolean => any || origins.has(origin);
  const listed = [...origins].filter((o) => o !== '*');
  return {
    allows,
    origins: [...origins],
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
      ctx.set('Access-Control-Expose-Headers', exposeHeaders);
      if (ctx.method !== 'OPTIONS' || !ctx.get('Access-Control-Request-Method')) return false;
      ctx.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
      ctx.set('Access-Control-Allow-Headers', allowHeaders);
      ctx.set('Access-Control-Max-Age', maxAge);
      ctx.status = 204;
      return true;
    },
  };
}
