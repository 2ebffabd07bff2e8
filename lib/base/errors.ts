/**
 * The one catalog of koa-comet errors.
 *
 * Every error the framework raises carries a stable code `COMET_ERR_<AREA>_<PROBLEM>`.
 * Codes a client can cause carry the HTTP status the middleware answers with; the
 * rest (`status: 500`, `expose: false`) are programmer or infrastructure errors.
 * `docs/reference/errors.md` lists the same codes; `test/unit/base/errors.test.ts` keeps
 * the two in step both ways.
 */

/** Static description of one coded error. */
export interface ErrorSpec {
  /** HTTP status the middleware answers with when this error ends a request. */
  readonly status: number;
  /** Default human-readable message. */
  readonly message: string;
}

/** Every code koa-comet raises, with its HTTP status and default message. */
export const errorCatalog = {
  COMET_ERR_CURSOR_MALFORMED: { status: 400, message: 'The cursor is not one this server issued' },
  COMET_ERR_TIMEOUT_INVALID: {
    status: 400,
    message: "timeout must be whole seconds from 0 to the route's maxTimeout",
  },
  COMET_ERR_CALLBACK_INVALID: {
    status: 400,
    message: 'callback must be a JavaScript identifier path (at most 4 parts of 64 characters)',
  },
  COMET_ERR_CALLBACK_MISSING: { status: 400, message: 'This transport needs a callback name' },
  COMET_ERR_JSONP_DISABLED: { status: 400, message: 'JSONP is not enabled on this route' },
  COMET_ERR_TRANSPORT_UNKNOWN: { status: 400, message: 'Unknown transport' },
  COMET_ERR_TRANSPORT_NOT_ACCEPTABLE: {
    status: 406,
    message: 'None of the offered media types is acceptable',
  },
  COMET_ERR_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  COMET_ERR_BODY_UNSUPPORTED_TYPE: {
    status: 415,
    message: 'The request body must be application/json',
  },
  COMET_ERR_BODY_MALFORMED: { status: 400, message: 'The request body is not valid JSON' },
  COMET_ERR_FRAME_MALFORMED: {
    status: 400,
    message: 'A client WebSocket frame must be {"op":"publish","ref":"…","data":…}',
  },
  COMET_ERR_PUBLISH_DISABLED: {
    status: 405,
    message: 'This route does not take publishes on its WebSocket',
  },
  COMET_ERR_CHANNEL_INVALID: { status: 400, message: 'Invalid channel name' },
  COMET_ERR_CHANNELS_TOO_MANY: {
    status: 400,
    message: 'A request may follow at most 32 channels',
  },
  COMET_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  COMET_ERR_AUTH_UNAUTHORIZED: { status: 401, message: 'Authentication required' },
  COMET_ERR_AUTH_FORBIDDEN: { status: 403, message: 'Forbidden' },
  COMET_ERR_ORIGIN_FORBIDDEN: { status: 403, message: 'Origin not allowed' },
  COMET_ERR_MESSAGE_INVALID: {
    status: 400,
    message: 'The message cannot be stored as JSON',
  },
  COMET_ERR_SHUTTING_DOWN: { status: 503, message: 'The server is shutting down' },
  COMET_ERR_BUS_UNAVAILABLE: { status: 503, message: 'The message bus is unavailable' },
  COMET_ERR_BUS_CLOSED: { status: 503, message: 'The message bus is closed' },
  COMET_ERR_BUS_TIMEOUT: {
    status: 503,
    message: 'The message bus did not answer in time; a publish may still have been stored',
  },
  COMET_ERR_BUS_OVERLOADED: {
    status: 503,
    message: 'Too many calls are waiting for the message bus',
  },
  COMET_ERR_IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    message: 'Idempotency-Key must be 1 to 128 visible ASCII characters',
  },
  COMET_ERR_ASYNC_STATE: {
    status: 500,
    message: 'The async context is in a state that does not allow this call',
  },
  COMET_ERR_ASYNC_DISCONNECTED: {
    status: 499,
    message: 'The client went away before the response completed',
  },
  COMET_ERR_ASYNC_TIMEOUT: { status: 504, message: 'The async context timed out' },
  COMET_ERR_ASYNC_NOT_DISPATCHABLE: {
    status: 500,
    message: 'This async context has no handler to dispatch to',
  },
  COMET_ERR_ROUTE_INVALID: {
    status: 500,
    message: 'A route handler returned something other than a channel name or names',
  },
  COMET_ERR_OPTIONS_INVALID: { status: 500, message: 'Invalid options' },
} as const satisfies Record<string, ErrorSpec>;

/** A stable error code from {@link errorCatalog}. */
export type CometErrorCode = keyof typeof errorCatalog;

/**
 * An error with a stable `code` and an HTTP `status`.
 *
 * `expose` is true for 4xx and 503 codes: their message is safe to send to the client.
 *
 * @example
 * ```ts
 * throw new CometError('COMET_ERR_AUTH_FORBIDDEN', 'Not a member of this room');
 * ```
 */
export class CometError extends Error {
  /** The stable code, e.g. `COMET_ERR_CURSOR_MALFORMED`. */
  readonly code: CometErrorCode;
  /** The HTTP status the middleware answers with. */
  readonly status: number;
  /** Whether the message may be shown to the client (true for 4xx and 503). */
  readonly expose: boolean;

  constructor(code: CometErrorCode, message?: string, options?: { cause?: unknown }) {
    const spec: ErrorSpec = errorCatalog[code];
    super(message ?? spec.message, options);
    this.name = 'CometError';
    this.code = code;
    this.status = spec.status;
    // 503s tell the client to retry elsewhere: their message is safe and useful.
    this.expose = spec.status < 500 || spec.status === 503;
  }

  /** The JSON body a client receives: `{ error: { code, message } }`. */
  toJSON(): { error: { code: CometErrorCode; message: string } } {
    return { error: { code: this.code, message: this.expose ? this.message : 'Internal error' } };
  }
}

/** True when `value` is a {@link CometError}, whatever realm created it. */
export function isCometError(value: unknown): value is CometError {
  if (value instanceof CometError) return true;
  const code = value instanceof Error ? (value as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code in errorCatalog;
}
