/**
 * A stream following channels on the {@link Hub}: the backlog after the
 * client's cursor, then every live message, each frame encoded once per
 * (message, transport, variant, cursor) and shared by every stream that
 * needs the same bytes.
 *
 * Order, so no message is lost or doubled: join the hub first, then read
 * the backlog; messages the hub delivers while the read is in flight are
 * held, and after the backlog only those after its last id are sent
 * (`Bus.compareIds`), so a late live delivery is never a duplicate.
 */
import { debuglog } from 'node:util';
import { type ReadPosition, readBatch } from './batch-read.js';
import type { LiveGap, Message } from './bus/bus.js';
import { formatCursor } from './cursor.js';
import { withCursor } from './envelope.js';
import type { Hub, HubMember, Round } from './hub.js';
import {
  createStreamSession,
  type StreamConnection,
  type StreamOwner,
  type StreamSession,
  type StreamSessionOptions,
} from './stream-session.js';
import type { StreamTransport } from './transports/stream-transport.js';

const debug = debuglog('comet:stream');

/** How frames are made: a {@link StreamTransport} or the WebSocket encoder. */
export type FrameEncoder = Pick<StreamTransport, 'encode' | 'encodeReset'> & {
  readonly name: string;
};

/** What one stream follows and how it is encoded. */
export interface StreamMemberRequest extends ReadPosition {
  readonly encoder: FrameEncoder;
  /** `''`, or the iframe callback name. */
  readonly variant: string;
  /** Backlog page size per channel. Default 100. */
  readonly pageSize?: number;
}

/** See the module comment. Created by {@link startStreamMember}. */
export class StreamMember implements HubMember, StreamOwner {
  readonly session: StreamSession;
  readonly #hub: Hub;
  readonly #request: StreamMemberRequest;
  #positions: (string | undefined)[];
  /** Messages delivered while the backlog was being read; `undefined` once live. */
  #held: Message[] | undefined = [];
  readonly #connection: StreamConnection;
  /** Whether a live message may still repeat one the backlog sent. */
  #mayRepeat = true;
  /** Round key of this member's frames: transport and variant (plus cursor for several channels). */
  readonly #keyPrefix: string;

  constructor(
    hub: Hub,
    request: StreamMemberRequest,
    connection: StreamConnection,
    options: StreamSessionOptions,
  ) {
    this.#hub = hub;
    this.#request = request;
    this.#connection = connection;
    this.#keyPrefix = `stream\0${request.encoder.name}\0${request.variant}\0`;
    this.#positions = [...request.positions];
    // The route's options object is shared by all its streams; the member
    // itself is told of the end (no per-stream options copy or closure).
    this.session = createStreamSession(connection, options, this);
    for (const channel of request.channels) hub.join(channel, this);
  }

  /** @internal Hub callback. */
  notify(round: Round): void {
    if (this.session.ended) return;
    if (this.#held !== undefined) this.#held.push(round.message);
    else this.#deliver(round.message, round);
  }

  /**
   * @internal Hub callback: messages were lost on the live path — send the
   * `reset` frame and go on from its cursor; when the loss is unknown (the
   * live path was interrupted) or the backlog is still being read, end: the
   * client resumes by cursor, and its read finds any gap.
   */
  gap(channel: string, gap: LiveGap): void {
    if (this.session.ended) return;
    const index = this.#request.channels.indexOf(channel);
    if (gap.kind === 'interrupted' || this.#held !== undefined || index === -1) {
      this.session.end();
      return;
    }
    this.#positions[index] = gap.cursor;
    const cursor = this.#request.channels.length === 1 ? gap.cursor : this.#cursor();
    this.#send(this.#request.encoder.encodeReset(cursor, this.#request.variant));
  }

  /** @internal The session ended: leave the hub. */
  streamEnded(): void {
    for (const channel of this.#request.channels) this.#hub.leave(channel, this);
  }

  /** @internal Hub callback: end cleanly; the client resumes elsewhere by cursor. */
  shutdown(): void {
    this.session.end();
  }

  /** Reads the backlog after the positions, sends it, then goes live. */
  async catchUp(): Promise<void> {
    const { channels, encoder, variant } = this.#request;
    const pageSize = this.#request.pageSize ?? 100;
    if (this.#positions.every((p) => p === undefined)) {
      // "From now": the head is where the bus stands when we joined.
      const read = await readBatch(this.#hub.bus, { channels, positions: this.#positions }, 1);
      this.#positions = [...read.positions];
    } else {
      for (;;) {
        const at = { channels, positions: this.#positions };
        const read = await readBatch(this.#hub.bus, at, pageSize);
        if (this.session.ended) return;
        if (read.gap) this.#send(encoder.encodeReset(read.cursor, variant));
        for (const message of read.messages) this.#sendBacklog(message);
        this.#positions = [...read.positions];
        if (read.gap || read.messages.length < pageSize) break;
      }
    }
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const message of held) this.#deliver(message, undefined);
  }

  /** A backlog frame; several channels: the cursor walks the positions message by message. */
  #sendBacklog(message: Message): void {
    const { channels, encoder, variant } = this.#request;
    const json = this.#hub.envelopes.envelope(message);
    if (channels.length === 1) {
      this.#send(encoder.encode(message, variant, json));
      return;
    }
    this.#positions[channels.indexOf(message.channel)] = message.id;
    const cursor = this.#cursor();
    this.#send(encoder.encode({ ...message, id: cursor }, variant, withCursor(json, cursor)));
  }

  /** The combined cursor of several channels at the current positions. */
  #cursor(): string {
    return formatCursor(
      this.#positions.map((p) => p ?? ''),
      this.#request.channels,
    );
  }

  #send(frame: Buffer): void {
    this.session.send(this.#connection.wire(frame));
  }

  #deliver(message: Message, round: Round | undefined): void {
    const { channels, encoder, variant } = this.#request;
    const index = channels.indexOf(message.channel);
    if (index === -1) return;
    // Already sent (from history, or a live delivery that lagged behind the
    // backlog read, as a Redis wake-up can): ids order within a channel.
    // Live messages come in order, so once one is past the backlog the rest
    // are too: one channel stops comparing then (no per-delivery parsing).
    if (this.#mayRepeat) {
      const last = this.#positions[index];
      if (last !== undefined && (this.#hub.bus.compareIds(message.id, last) ?? 1) <= 0) return;
      if (channels.length === 1 && round !== undefined) this.#mayRepeat = false;
    }
    this.#positions[index] = message.id;
    // One channel: the cursor is the message id and every stream shares the
    // frame. Several: the cursor combines positions, shared by equal ones.
    const cursor = channels.length === 1 ? message.id : this.#cursor();
    // One channel: the round is this message's, so transport and variant
    // alone name the bytes (no per-subscriber key or closure on this path).
    const key = channels.length === 1 ? this.#keyPrefix : this.#keyPrefix + cursor;
    let wired = round?.get<Buffer>(key);
    if (wired === undefined) {
      const json = this.#hub.envelopes.envelope(message);
      wired = this.#connection.wire(
        channels.length === 1
          ? encoder.encode(message, variant, json)
          : encoder.encode({ ...message, id: cursor }, variant, withCursor(json, cursor)),
      );
      round?.set(key, wired);
    }
    this.session.send(wired);
  }
}

/**
 * Starts a stream member: joins the hub now and sends the backlog as soon
 * as it is read. A read failure ends the stream (the client retries).
 *
 * @example
 * ```ts
 * const writer = sseTransport.open(res, { variant: '' });
 * startStreamMember(hub, { channels, positions, encoder: sseTransport, variant: '' },
 *   createHttpConnection(res, writer), { wheel });
 * ```
 */
export function startStreamMember(
  hub: Hub,
  request: StreamMemberRequest,
  connection: StreamConnection,
  options: StreamSessionOptions,
): StreamMember {
  const member = new StreamMember(hub, request, connection, options);
  member.catchUp().catch((error: unknown) => {
    debug('backlog read failed: %o', error);
    member.session.end();
  });
  return member;
}
