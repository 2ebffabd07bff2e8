/**
 * Server-Sent Events (WHATWG HTML, "Server-sent events").
 *
 * ```
 * id: <cursor>\n
 * data: {"id":…,"channel":…,"data":…}\n
 * \n
 * ```
 * The event has no `event:` field, so `EventSource.onmessage` gets it; the
 * gap frame is `event: reset` carrying the head as its `id:` so a reconnect
 * resumes from there. Heartbeat: the one comment line `:\n`.
 *
 * No blank line is ever written outside an event: the opening `retry:` and
 * every heartbeat are single lines. A native EventSource skips an event with
 * no data, but `@microsoft/fetch-event-source` and `extended-eventsource`
 * dispatch a `message` for every blank line — an empty one, which a
 * `JSON.parse(e.data)` handler throws on. A comment or `retry:` line before
 * an event is simply part of it (fields apply as they are read).
 */
import { randomUUID } from 'node:crypto';
import { debuglog } from 'node:util';
import { CometError } from '../base/errors.js';
import type { Message } from '../bus/bus.js';
import { resetJson } from './envelope.js';
import { escapeHtml } from './html.js';
import { HttpStreamWriter } from './http-writer.js';
import {
  envelopeJson,
  isLineSafe,
  type StreamTransport,
  streamHeaders,
} from './stream-transport.js';
import { NO_VARIANT } from './variant.js';

const debug = debuglog('comet:sse');
const HEARTBEAT = Buffer.from(':\n');
const EMPTY = Buffer.alloc(0);

/**
 * `data:` lines for `text`. A field value ends at CR, LF or CRLF, so a value
 * holding one would let the rest forge fields; each line becomes its own
 * `data:` (the client joins them back with LF). JSON never has raw CR/LF,
 * so for envelopes this is one line; the split is the guard, not the norm.
 * NUL is legal in SSE data, but JSON escapes it anyway.
 */
function dataLines(text: string): string {
  if (!/[\r\n]/.test(text)) return `data: ${text}\n`;
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => `data: ${line}\n`)
    .join('');
}

/**
 * The `id:` line, or nothing when the cursor is not line-safe: an `id:` with
 * CR/LF would forge fields and one with NUL is ignored by browsers. Bus ids
 * are always safe; this keeps a broken backend from corrupting the stream.
 */
function idLine(cursor: string): string {
  return isLineSafe(cursor) ? `id: ${cursor}\n` : '';
}

/**
 * The SSE transport: `text/event-stream`.
 *
 * @example
 * ```ts
 * const writer = sseTransport.open(res, { variant: '', retryMs: 2000 });
 * writer.send(sseTransport.encode(message, ''));
 * ```
 */
export const sseTransport: StreamTransport = {
  name: 'sse',
  kind: 'stream',
  requestVariant: NO_VARIANT,
  mediaType: 'text/event-stream',

  encode(message: Message, _variant: string, json = envelopeJson(message)): Buffer {
    return Buffer.from(`${idLine(message.id)}${dataLines(json)}\n`);
  },

  encodeReset(cursor: string): Buffer {
    return Buffer.from(`event: reset\n${idLine(cursor)}${dataLines(resetJson(cursor))}\n`);
  },

  open(res, init) {
    // One line, no blank line after it (see the module comment): `retry:`,
    // or a comment when there is no delay to send.
    const retry = init.retryMs;
    const opening =
      retry !== undefined && Number.isSafeInteger(retry) && retry >= 0
        ? `retry: ${retry}\n`
        : ':\n';
    const writer = new HttpStreamWriter(res, init.variant, {
      headers: streamHeaders(res, 'text/event-stream; charset=utf-8', init),
      opening: Buffer.from(opening),
      heartbeat: HEARTBEAT,
      closing: EMPTY,
    });
    writer.head();
    return writer;
  },
};

/** How a route's SSE events carry messages (see {@link createSseEventEncoder}). */
export interface SseEventOptions {
  /** The `event:` name of message events; none: unnamed (`message`). */
  readonly event?: string | undefined;
  /** What a message's event carries; default: its data as escaped HTML text. */
  readonly render?: ((message: Message) => string) | undefined;
}

/**
 * The data of an event when the route gives no `render`: the message's data
 * as text (a string as is, anything else as JSON), HTML-escaped, so a client
 * that swaps it in as HTML shows published markup instead of running it.
 */
export function renderEscaped(message: Message): string {
  const { data } = message;
  return escapeHtml(typeof data === 'string' ? data : (JSON.stringify(data) ?? 'null'));
}

/**
 * An SSE frame encoder for a route that names its events or renders what they
 * carry (HTML fragments for htmx): `event: NAME`, `id: CURSOR`, then the
 * rendered text as `data:` lines. The framing cannot be broken out of: the
 * name is checked here to be printable ASCII without CR/LF; the id is dropped
 * unless line-safe; CR, LF and CRLF in the rendered text start new `data:`
 * lines, which the client joins back with LF. Gap frames stay `event: reset`
 * with the JSON body. A `render` that throws sends a comment and the `id:`
 * alone (the client's resume point moves past the message, nothing is
 * dispatched), logged under `NODE_DEBUG=comet:sse`.
 *
 * @throws CometError `COMET_ERR_OPTIONS_INVALID` for an empty or unsafe event name, or `reset`.
 * @example
 * ```ts
 * const encoder = createSseEventEncoder({ event: 'chat', render: (m) => `<li>${m.id}</li>` });
 * writer.send(encoder.encode(message, ''));
 * ```
 */
export function createSseEventEncoder(options: SseEventOptions): {
  readonly name: string;
  encode(message: Message, variant: string): Buffer;
  encodeReset(cursor: string): Buffer;
} {
  const { event, render = renderEscaped } = options;
  if (event !== undefined && (event === '' || event === 'reset' || !isLineSafe(event))) {
    throw new CometError(
      'COMET_ERR_OPTIONS_INVALID',
      `SSE event name ${JSON.stringify(event)}: printable ASCII, not empty, not "reset"`,
    );
  }
  const eventLine = event === undefined ? '' : `event: ${event}\n`;
  return {
    // Frames are shared per (encoder name, variant): this route's own name.
    name: `sse/${randomUUID()}`,
    encode(message) {
      let text: string;
      try {
        text = render(message);
      } catch (error) {
        debug('render failed for %s: %o', message.id, error);
        return Buffer.from(`: render failed\n${idLine(message.id)}\n`);
      }
      return Buffer.from(`${eventLine}${idLine(message.id)}${dataLines(String(text))}\n`);
    },
    encodeReset: (cursor) => sseTransport.encodeReset(cursor, ''),
  };
}
