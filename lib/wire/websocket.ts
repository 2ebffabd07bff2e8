/**
 * The WebSocket transport's payloads: one envelope `{"id","channel","data"}`
 * per text frame and the gap control frame `{"gap":true,"cursor":"<head>"}`.
 * Frames are encoded once; the same `Buffer` goes to every socket. The
 * connection itself (handshake, Origin check, pings, close codes) is
 * lib/stream/websocket.ts.
 */
import type { Message } from '../bus/bus.js';
import { resetJson } from './envelope.js';
import { envelopeJson } from './stream-transport.js';

/** One message as a text frame's payload; encode once, send to every socket. */
export function encodeWebSocketFrame(message: Message, json = envelopeJson(message)): Buffer {
  return Buffer.from(json);
}

/** The gap control frame's payload. */
export function encodeWebSocketReset(cursor: string): Buffer {
  return Buffer.from(resetJson(cursor));
}

/**
 * The WebSocket frame encoder in the shape the stream member uses for every
 * transport: the payload is the envelope itself.
 */
export const webSocketEncoder = {
  name: 'websocket',
  kind: 'upgrade',
  encode: (message: Message, _variant: string, json?: string): Buffer =>
    encodeWebSocketFrame(message, json),
  encodeReset: (cursor: string): Buffer => encodeWebSocketReset(cursor),
} as const;
