import type { Envelope, TransportName } from '../types.js';

/**
 * How a transport's connection ended, a union on `kind`:
 * - `clean` — the server ended it on purpose (lifetime or byte budget): resume at once;
 * - `dropped` — it had opened, then broke: resume after a backoff;
 * - `failed` — it never opened: maybe unsupported, maybe refused (the connection probes);
 * - `refused` — the transport itself read a 4xx answer (its status and the server's
 *   error code): the connection decides — a malformed cursor is a gap, a refusal of
 *   this transport falls back, anything else (401/403, an unknown route) stops.
 */
export type TransportEnd =
  | { readonly kind: 'clean' }
  | { readonly kind: 'dropped'; readonly detail: string }
  | { readonly kind: 'failed'; readonly detail: string }
  | {
      readonly kind: 'refused';
      readonly status: number;
      readonly code: string | null;
      readonly message: string | null;
    };

/** Where a transport reports what it sees. Calls after `end` are ignored by the caller. */
export interface TransportSink {
  /** The connection is established (headers, handshake, or first answer). */
  open(): void;
  /** Any sign of life: a message, a heartbeat, a control frame. */
  activity(): void;
  envelope(envelope: Envelope): void;
  /** The server's gap control: history after the cursor was lost; continue from `cursor`. */
  gap(cursor: string | null): void;
  /** The server moved the cursor without a message (a batch's cursor). */
  cursor(cursor: string | null): void;
  end(outcome: TransportEnd): void;
}

/** What one connection attempt gets. */
export interface TransportRequest {
  /** The stream route (SSE, NDJSON, iframe, WebSocket). */
  readonly streamUrl: string;
  /** The long-poll route (long-poll, JSONP). */
  readonly longpollUrl: string;
  /** The resume cursor now; read again before every request of a polling loop. */
  cursor(): string | null;
  /** Long-poll hold time, whole seconds (0–60). */
  readonly longpollTimeoutS: number;
  /** Send cookies cross-origin (fetch `credentials: 'include'`, EventSource `withCredentials`). */
  readonly withCredentials: boolean;
  readonly sink: TransportSink;
}

/** A live connection attempt. `close()` is idempotent and reports nothing. */
export interface TransportHandle {
  close(): void;
  /** Publishes on this connection (an open WebSocket); undefined when it cannot. */
  publish?(data: unknown): Promise<{ id: string }> | undefined;
}

/** One client transport: a name, whether the browser has it, and how to open it. */
export interface ClientTransport {
  readonly name: TransportName;
  /** `stream` transports are watched for buffering proxies; `batch` ones are the step down. */
  readonly kind: 'stream' | 'batch';
  isSupported(): boolean;
  open(request: TransportRequest): TransportHandle;
}

/** Parses one JSON frame and routes it to the sink; malformed frames are dropped. */
export function dispatchFrame(text: string, sink: TransportSink): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return;
  }
  dispatchValue(value, sink);
}

/** Routes an already-parsed frame (envelope or gap control) to the sink. */
export function dispatchValue(value: unknown, sink: TransportSink): void {
  sink.activity();
  if (typeof value !== 'object' || value === null) return;
  const v = value as { gap?: unknown; cursor?: unknown; id?: unknown; channel?: unknown };
  if (v.gap === true) {
    sink.gap(typeof v.cursor === 'string' ? v.cursor : null);
  } else if (typeof v.id === 'string' && typeof v.channel === 'string') {
    sink.envelope(value as Envelope);
  }
}

/**
 * Is this HTTP status a refusal, an answer to read rather than a failure to retry?
 * Every 4xx but 408 and 429, which ask to try again later.
 */
export function isRefusal(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** Reads a refusal's `{"error": {"code", "message"}}` body (koa-comet's error shape). */
export async function readRefusal(
  response: Response,
): Promise<Extract<TransportEnd, { kind: 'refused' }>> {
  let code: string | null = null;
  let message: string | null = null;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // Not koa-comet's JSON (a proxy's page): the status alone has to do.
  }
  return { kind: 'refused', status: response.status, code, message };
}
