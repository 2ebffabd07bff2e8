import { whyNeverOpened } from './buffering-watch.js';
import { probeBatch, probeRefusal } from './probe.js';
import { classifyRefusal } from './refusal.js';
import type { ClientTransport, TransportEnd } from './transports/transport.js';
import type { FallbackReason } from './types.js';
import { withQuery } from './url.js';

/** A 4xx answer as a transport or a probe read it. */
export type Refusal = Extract<TransportEnd, { kind: 'refused' }>;

/** What the connection does about an attempt that went wrong, a union on `kind`. */
export type Verdict =
  | { readonly kind: 'fallback'; readonly reason: FallbackReason; readonly toBatch: boolean }
  /** The network is down, not the transport: the same one again after a backoff. */
  | { readonly kind: 'retry' }
  /** The server cannot parse the cursor: a gap, follow from the head. */
  | { readonly kind: 'reset'; readonly refusal: Refusal }
  /** A refusal retrying cannot fix. */
  | { readonly kind: 'stop'; readonly refusal: Refusal };

/** What a diagnosis needs to know about the connection. */
export interface DiagnosisContext {
  readonly streamUrl: string;
  readonly longpollUrl: string;
  readonly withCredentials: boolean;
  readonly cursor: string | null;
  /** Is there a batch transport later in the list (somewhere to step down to)? */
  readonly hasBatchAfter: boolean;
}

/** A 4xx answer: a malformed cursor is a gap, a refusal of the transport falls back, the rest stops. */
export function judgeRefusal(refusal: Refusal): Verdict {
  const action = classifyRefusal(refusal.status, refusal.code);
  if (action === 'fallback') return { kind: 'fallback', reason: 'failed', toBatch: false };
  return { kind: action, refusal };
}

/**
 * A transport that never opened: refused, unreachable, or just not working here? Asks
 * the same request again with a plain `fetch`, cursor included (the cursor may be
 * what the server refused).
 */
export async function diagnoseFailure(
  transport: ClientTransport,
  context: DiagnosisContext,
): Promise<Verdict> {
  const { cursor } = context;
  const url =
    transport.kind === 'batch'
      ? withQuery(context.longpollUrl, { cursor, timeout: 0 })
      : withQuery(context.streamUrl, { cursor });
  const result = await probeRefusal(url, context.withCredentials);
  if (result.kind === 'refused') return judgeRefusal(result);
  if (result.kind === 'unreachable') return { kind: 'retry' };
  return { kind: 'fallback', reason: 'failed', toBatch: false };
}

/**
 * A transport that did not open within its deadline. A stream is checked by the
 * buffering watch's rule for streams that never open ({@link whyNeverOpened}): held
 * back (`buffering`, step down to a batch transport) or `timeout` (the next one).
 */
export async function diagnoseNeverOpened(
  transport: ClientTransport,
  context: DiagnosisContext,
): Promise<Verdict> {
  if (transport.kind !== 'stream' || !context.hasBatchAfter) {
    return { kind: 'fallback', reason: 'timeout', toBatch: false };
  }
  const { longpollUrl, withCredentials } = context;
  const reason = await whyNeverOpened(
    (cursor) => probeBatch(longpollUrl, cursor, withCredentials),
    context.cursor,
  );
  return { kind: 'fallback', reason, toBatch: reason === 'buffering' };
}
