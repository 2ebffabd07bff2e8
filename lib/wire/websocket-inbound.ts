/**
 * WebSocket both ways: what a client sends on a stream socket.
 *
 * A client text frame `{"op":"publish","ref":"<client ref>","data":<json>}`
 * is a publish, answered on the same socket by
 * `{"op":"ack","ref":"…","id":"<message id>"}` or
 * `{"op":"error","ref":"…","error":{"code":"COMET_ERR_…","message":"…"}}`.
 * The body rules are the POST route's: `data` is any JSON value up to the
 * limit (measured as compact JSON, default 65,536 bytes, else
 * `COMET_ERR_BODY_TOO_LARGE`), nesting at most 64 levels, checked on the
 * text before parsing (`COMET_ERR_BODY_MALFORMED`); invalid UTF-8 in a text frame is a protocol
 * error `ws` closes with 1007. A frame that is not a publish frame is
 * answered `COMET_ERR_FRAME_MALFORMED` (with its `ref` when one can be read).
 *
 * Flooding: publishes are metered by a token bucket (`burst`, refilled at
 * `perSecond`) and at most `maxInFlight` wait on the bus at once; a client
 * past either bound is closed with {@link FLOOD_CLOSE_CODE}. The meter is a
 * few numbers on the socket's handler: no timer.
 */
import { debuglog } from 'node:util';
import type { RawData, WebSocket } from 'ws';
import { CometError, isCometError } from '../base/errors.js';
import { DEFAULT_MAX_DEPTH, exceedsJsonDepth } from '../base/json-depth.js';

const debug = debuglog('comet:ws');

/** Close code for a client that sent publishes faster than its rate bound. */
export const FLOOD_CLOSE_CODE = 4029;

/** Limits of inbound publishes on one socket; every field has a default. */
export interface InboundLimits {
  /** Largest `data`, bytes of compact JSON. Default 65,536. */
  limit?: number;
  /** Publishes a client may send at once before the rate applies. Default 20. */
  burst?: number;
  /** Sustained publishes per second. Default 10. */
  perSecond?: number;
  /** Publishes waiting on the bus at once. Default 16. */
  maxInFlight?: number;
}

/** The defaults of {@link InboundLimits}. */
export const inboundDefaults = {
  limit: 65_536,
  burst: 20,
  perSecond: 10,
  maxInFlight: 16,
} as const;

/**
 * Publishes one client value; resolves with the new message's id or
 * rejects with a {@link CometError} (refused, bus down).
 */
export type InboundPublish = (data: unknown) => Promise<{ id: string }>;

/** Largest frame `ws` should accept when publishes of `limit` bytes are allowed. */
export function inboundMaxPayload(limit: number = inboundDefaults.limit): number {
  // The frame's own keys and a ref of reasonable length around `data`.
  return limit + 1024;
}

/** What a frame asked for, or why it is no publish frame. */
type Parsed =
  | { kind: 'publish'; ref: string; data: unknown; size: number }
  | { kind: 'invalid'; ref: string | undefined; error: CometError };

/** Reads one client frame. */
export function parseInboundFrame(text: string): Parsed {
  // The frame object is one level around `data`: 64 levels of data, 65 in all.
  // Checked on the text, before parsing (lib/base/json-depth.ts).
  if (exceedsJsonDepth(text, DEFAULT_MAX_DEPTH + 1)) {
    const reason = `data nests deeper than ${DEFAULT_MAX_DEPTH} levels`;
    return invalid(refOf(text), new CometError('COMET_ERR_BODY_MALFORMED', reason));
  }
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return invalid(undefined, new CometError('COMET_ERR_FRAME_MALFORMED'));
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
    return invalid(undefined, new CometError('COMET_ERR_FRAME_MALFORMED'));
  }
  const { op, ref, data } = frame as { op?: unknown; ref?: unknown; data?: unknown };
  const r = typeof ref === 'string' && ref.length <= 128 ? ref : undefined;
  if (op !== 'publish' || r === undefined || !('data' in frame)) {
    return invalid(r, new CometError('COMET_ERR_FRAME_MALFORMED'));
  }
  return { kind: 'publish', ref: r, data, size: Buffer.byteLength(JSON.stringify(data)) };
}

/** The `ref` of a frame too deep to parse, when it leads the frame as documented. */
function refOf(text: string): string | undefined {
  return /^\{"op":"publish","ref":"([^"\\]{0,128})"/.exec(text)?.[1];
}

function invalid(ref: string | undefined, error: CometError): Parsed {
  return { kind: 'invalid', ref, error };
}

/** The ack frame's text. */
export function ackFrame(ref: string, id: string): string {
  return JSON.stringify({ op: 'ack', ref, id });
}

/** The error frame's text; `ref` is left out when the frame had none. */
export function errorFrame(ref: string | undefined, error: CometError): string {
  return JSON.stringify({ op: 'error', ...(ref === undefined ? {} : { ref }), ...error.toJSON() });
}

/** The per-socket handler: a token bucket and the in-flight count. */
class Inbound {
  private tokens: number;
  private last = Date.now();
  private inFlight = 0;
  private readonly limits: Required<InboundLimits>;

  constructor(
    private readonly ws: WebSocket,
    private readonly publish: InboundPublish | undefined,
    limits: InboundLimits,
  ) {
    this.limits = { ...inboundDefaults, ...limits };
    this.tokens = this.limits.burst;
  }

  onMessage(raw: RawData, isBinary: boolean): void {
    if (!this.take()) {
      debug('client flooded: closing with %d', FLOOD_CLOSE_CODE);
      this.ws.close(FLOOD_CLOSE_CODE, 'flood');
      return;
    }
    const parsed = isBinary
      ? invalid(
          undefined,
          new CometError('COMET_ERR_FRAME_MALFORMED', 'Binary frames are not read'),
        )
      : parseInboundFrame(rawText(raw));
    if (parsed.kind === 'invalid') {
      this.reply(errorFrame(parsed.ref, parsed.error));
      return;
    }
    const { ref, data, size } = parsed;
    if (this.publish === undefined) {
      this.reply(errorFrame(ref, new CometError('COMET_ERR_PUBLISH_DISABLED')));
    } else if (size > this.limits.limit) {
      this.reply(errorFrame(ref, new CometError('COMET_ERR_BODY_TOO_LARGE')));
    } else {
      this.inFlight += 1;
      this.publish(data).then(
        (message) => this.settle(ackFrame(ref, message.id)),
        (error: unknown) => this.settle(errorFrame(ref, asCometError(error))),
      );
    }
  }

  /** One token per publish; false past the burst, the rate or the in-flight bound. */
  private take(): boolean {
    const now = Date.now();
    const { burst, perSecond, maxInFlight } = this.limits;
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * perSecond);
    this.last = now;
    if (this.tokens < 1 || this.inFlight >= maxInFlight) return false;
    this.tokens -= 1;
    return true;
  }

  private settle(frame: string): void {
    this.inFlight -= 1;
    this.reply(frame);
  }

  private reply(frame: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(frame);
  }
}

function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  if (Buffer.isBuffer(raw)) return raw.toString('utf8');
  return Buffer.from(raw).toString('utf8');
}

function asCometError(error: unknown): CometError {
  if (isCometError(error)) return error;
  debug('publish failed: %s', error instanceof Error ? error.message : String(error));
  return new CometError('COMET_ERR_BUS_UNAVAILABLE');
}

/**
 * Reads client frames on `ws`: publishes through `publish` (undefined: the
 * route takes none, every publish is answered `COMET_ERR_PUBLISH_DISABLED`),
 * acks or answers coded errors, closes a flooding client with 4029.
 *
 * @example
 * ```ts
 * handleInboundFrames(ws, (data) => bus.publish('room:a', data), { limit: 65_536 });
 * ```
 */
export function handleInboundFrames(
  ws: WebSocket,
  publish: InboundPublish | undefined,
  limits: InboundLimits = {},
): void {
  const inbound = new Inbound(ws, publish, limits);
  ws.on('message', (raw, isBinary) => inbound.onMessage(raw, isBinary));
}
