/**
 * The one JSON shape every transport carries per message, `{"id","channel","data"}`,
 * and the batch shape of poll / long-poll / JSONP, `{"messages","cursor","gap"}`.
 */
import type { Message } from '../bus/bus.js';

/** What a batch answer carries. */
export interface Batch {
  readonly messages: readonly Message[];
  readonly cursor: string;
  readonly gap: boolean;
}

/**
 * Encodes envelopes at most once per message: the JSON text is kept beside
 * the message (weakly) so the long-poll batch, every stream transport and
 * every subscriber reuse it.
 */
export interface EnvelopeCache {
  /** The envelope JSON text for `message`. */
  envelope(message: Message): string;
  /** The batch JSON text. */
  batch(batch: Batch): string;
  /**
   * The same, remembered for this very `batch` object (weakly): for a bus
   * that hands the same read result to pollers asking the same question.
   */
  sharedBatch(batch: Batch): string;
}

/**
 * Creates an {@link EnvelopeCache}. One per hub; entries go with their messages.
 * @example
 * ```ts
 * const cache = createEnvelopeCache();
 * cache.batch({ messages: [m], cursor: m.id, gap: false });
 * ```
 */
export function createEnvelopeCache(): EnvelopeCache {
  const cache = new WeakMap<Message, string>();
  const envelope = (message: Message): string => {
    let text = cache.get(message);
    if (text === undefined) {
      // `data ?? null` keeps all three keys even for `undefined` data.
      text = JSON.stringify({
        id: message.id,
        channel: message.channel,
        data: message.data ?? null,
      });
      cache.set(message, text);
    }
    return text;
  };
  const batch = (b: Batch): string => {
    let messages = '';
    for (const message of b.messages) {
      messages += (messages === '' ? '' : ',') + envelope(message);
    }
    return `{"messages":[${messages}],"cursor":${JSON.stringify(b.cursor)},"gap":${b.gap}}`;
  };
  const batches = new WeakMap<Batch, string>();
  return {
    envelope,
    batch,
    sharedBatch(b) {
      let text = batches.get(b);
      if (text === undefined) {
        text = batch(b);
        batches.set(b, text);
      }
      return text;
    },
  };
}

/**
 * The envelope JSON of a message on a stream that follows several
 * channels, with the combined resume cursor after it added as `"cursor"`
 * (`{"id","channel","data","cursor"}`): every stream transport can then
 * resume all the channels from any frame, not only SSE and multipart.
 */
export function withCursor(envelopeJson: string, cursor: string): string {
  return `${envelopeJson.slice(0, -1)},"cursor":${JSON.stringify(cursor)}}`;
}

/** The stream control frame for a gap: `{"gap":true,"cursor":"<head>"}`. */
export function resetJson(cursor: string): string {
  return `{"gap":true,"cursor":${JSON.stringify(cursor)}}`;
}
