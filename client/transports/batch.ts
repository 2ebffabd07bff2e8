import type { Batch, Envelope } from '../types.js';
import type { TransportSink } from './transport.js';

/** Parses a batch body; null when it is not one (a proxy's error page, a stream). */
export function parseBatch(text: string): Batch | null {
  try {
    return toBatch(JSON.parse(text));
  } catch {
    return null;
  }
}

/** Checks the shape of a parsed batch; null when it is not one. */
export function toBatch(value: unknown): Batch | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { messages?: unknown; cursor?: unknown; gap?: unknown };
  if (!Array.isArray(v.messages)) return null;
  return {
    messages: v.messages as Envelope[],
    cursor: typeof v.cursor === 'string' ? v.cursor : null,
    gap: v.gap === true,
  };
}

/** Reports a batch to the sink: the gap first, then each message, then the cursor. */
export function deliverBatch(batch: Batch, sink: TransportSink): void {
  sink.activity();
  if (batch.gap) sink.gap(batch.cursor);
  for (const envelope of batch.messages) sink.envelope(envelope);
  sink.cursor(batch.cursor);
}
