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
 *
 * Nothing is written before the first read has answered: the route opens
 * its response (or completes the WebSocket handshake) only then, so a bus
 * that refuses the cursor or cannot answer is a coded error response.
 */
import { debuglog } from 'node:util';
import { CometError } from '../base/errors.js';
import type { LiveGap, Message } from '../bus/bus.js';
import type { BatchRead, ReadPosition } from '../hub/batch-read.js';
import type { Hub, HubMember, Round } from '../hub/hub.js';
import { formatCursor } from '../wire/cursor.js';
import { withCursor } from '../wire/envelope.js';
import type { StreamTransport } from '../wire/stream-transport.js';
import type { StreamConnection } from './connection.js';
import {
  createStreamSession,
  type StreamOwner,
  type StreamSession,
  type StreamSessionOptions,
} from './session.js';

const debug = debuglog('comet:stream');

/** How frames are made: a {@link StreamTransport} or the WebSocket encoder. */
export type FrameEncoder = Pick<StreamTransport, 'encode' | 'encodeReset'> & {
  readonly name: string;
};

/**
 * Round keys of streams without a variant, one string per encoder (weakly,
 * beside the encoder): every stream of a room shares it, so a delivery's
 * key lookup compares pointers and a held stream keeps no key of its own.
 */
const sharedKeys = new WeakMap<FrameEncoder, string>();

/** The round key prefix of `encoder`'s frames for `variant`. */
function roundKey(encoder: FrameEncoder, variant: string): string {
  if (variant !== '') return `stream\0${encoder.name}\0${variant}\0`;
  let key = sharedKeys.get(encoder);
  if (key === undefined) {
    key = `stream\0${encoder.name}\0\0`;
    sharedKeys.set(encoder, key);
  }
  return key;
}

/** What one stream follows and how it is encoded. */
export interface StreamMemberRequest extends ReadPosition {
  readonly encoder: FrameEncoder;
  /** `''`, or the iframe callback name. */
  readonly variant: string;
  /** Backlog page size per channel. Default 100. */
  readonly pageSize?: number;
}

/** See the module comment. Created by {@link openStreamMember}. */
export class StreamMember implements HubMember, StreamOwner {
  readonly #hub: Hub;
  readonly #request: StreamMemberRequest;
  readonly #options: StreamSessionOptions;
  #positions: (string | undefined)[];
  /** Messages delivered while the backlog was being read; `undefined` once live. */
  #held: Message[] | undefined = [];
  /** Set by {@link StreamMember.attach}: nothing is written before the first read succeeded. */
  #connection: StreamConnection | undefined;
  #session: StreamSession | undefined;
  /** The first backlog page, read before the response starts; sent on attach. */
  #first: BatchRead | undefined;
  /** Left the hub (ended, abandoned, or shut down before attach). */
  #left = false;
  /** A live gap came before attach: send the first page, then end (see {@link StreamMember.gap}). */
  #endOnAttach = false;
  /** Whether a live message may still repeat one the backlog sent. */
  #mayRepeat = true;
  /** Round key of this member's frames: transport and variant (plus cursor for several channels). */
  readonly #keyPrefix: string;

  constructor(hub: Hub, request: StreamMemberRequest, options: StreamSessionOptions) {
    this.#hub = hub;
    this.#request = request;
    this.#options = options;
    this.#keyPrefix = roundKey(request.encoder, request.variant);
    this.#positions = [...request.positions];
    for (const channel of request.channels) hub.join(channel, this);
  }

  /** The stream's session, once {@link StreamMember.attach}ed. */
  get session(): StreamSession | undefined {
    return this.#session;
  }

  /** @internal Hub callback. */
  notify(round: Round): void {
    if (this.#left || this.#session?.ended === true) return;
    if (this.#held !== undefined) this.#held.push(round.message);
    else this.#deliver(round.message, round);
  }

  /**
   * @internal Hub callback: messages were lost on the live path — send the
   * `reset` frame and go on from its cursor; when the loss is unknown (the
   * live path was interrupted) or the backlog is still being read, end (at
   * once, or right after the first page once attached): the client resumes
   * by cursor, and its read finds any gap.
   */
  gap(channel: string, gap: LiveGap): void {
    if (this.#left || this.#session?.ended === true) return;
    const index = this.#request.channels.indexOf(channel);
    if (index === -1) return;
    if (gap.kind === 'interrupted' || this.#held !== undefined) {
      if (this.#session !== undefined) this.#session.end();
      else this.#endOnAttach = true;
      return;
    }
    this.#positions[index] = gap.cursor;
    const cursor = this.#request.channels.length === 1 ? gap.cursor : this.#cursor();
    this.#hub.meters.gaps++;
    debug('gap: %s %s: live gap, reset to %s', this.#request.encoder.name, channel, cursor);
    this.#send(this.#request.encoder.encodeReset(cursor, this.#request.variant));
  }

  /** @internal The session ended: leave the hub. */
  streamEnded(): void {
    this.#leave();
  }

  /** @internal Hub callback: end cleanly; the client resumes elsewhere by cursor. */
  shutdown(): void {
    if (this.#session !== undefined) this.#session.end();
    else this.#leave(); // not started: readFirst() refuses with 503
  }

  /**
   * Reads the first backlog page (or, from now, the head) before anything
   * is written, so a bus that refuses the cursor or cannot answer fails
   * the request with its coded error instead of an empty stream.
   * @throws CometError from the bus; `COMET_ERR_SHUTTING_DOWN` when the server began closing.
   */
  async readFirst(): Promise<void> {
    const { channels } = this.#request;
    const fromNow = this.#positions.every((p) => p === undefined);
    try {
      const limit = fromNow ? 1 : this.#pageSize();
      this.#first = await this.#hub.read({ channels, positions: this.#positions }, limit);
    } catch (error) {
      this.#leave();
      throw error;
    }
    if (this.#left) throw new CometError('COMET_ERR_SHUTTING_DOWN');
    // "From now": the head is where the bus stood when we joined; no backlog.
    if (fromNow) this.#first = { ...this.#first, messages: [], gap: false };
  }

  /** The client went away (or the upgrade failed) before {@link StreamMember.attach}. */
  abandon(): void {
    this.#leave();
  }

  /**
   * Starts the stream over `connection`: sends the first page, then any
   * further pages, then goes live. A later page that fails ends the stream
   * with reason `'failed'` (the client resumes by cursor).
   */
  attach(connection: StreamConnection): void {
    this.#connection = connection;
    const session = createStreamSession(connection, this.#options, this);
    this.#session = session;
    if (this.#left) {
      session.end();
      return;
    }
    const first = this.#first;
    this.#first = undefined;
    if (this.#endOnAttach) {
      if (first !== undefined) this.#sendPage(first);
      session.end();
      return;
    }
    if (first !== undefined && this.#sendPage(first)) {
      this.#rest().catch((error: unknown) => {
        debug('backlog read failed: %o', error);
        session.fail();
      });
      return;
    }
    this.#goLive();
  }

  #pageSize(): number {
    return this.#request.pageSize ?? 100;
  }

  /** Sends one page; true when another page may follow. */
  #sendPage(read: BatchRead): boolean {
    const { channels, encoder, variant } = this.#request;
    if (read.gap) {
      this.#hub.meters.gaps++;
      debug('gap: %s %s: reset to %s', encoder.name, channels.join(','), read.cursor);
      this.#send(encoder.encodeReset(read.cursor, variant));
    }
    for (const message of read.messages) this.#sendBacklog(message);
    this.#positions = [...read.positions];
    return !read.gap && read.messages.length >= this.#pageSize();
  }

  /** Reads and sends the pages after the first, then goes live. */
  async #rest(): Promise<void> {
    const { channels } = this.#request;
    for (;;) {
      const read = await this.#hub.read({ channels, positions: this.#positions }, this.#pageSize());
      if (this.#session?.ended !== false) return;
      if (!this.#sendPage(read)) break;
    }
    this.#goLive();
  }

  #goLive(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const message of held) this.#deliver(message, undefined);
  }

  #leave(): void {
    if (this.#left) return;
    this.#left = true;
    for (const channel of this.#request.channels) this.#hub.leave(channel, this);
  }

  /** A backlog frame; several channels: the cursor walks the positions message by message. */
  #sendBacklog(message: Message): void {
    const { channels, encoder, variant } = this.#request;
    const json = this.#hub.encodeMessage(message);
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
    const connection = this.#connection;
    if (connection !== undefined) this.#session?.send(connection.wire(frame));
  }

  #deliver(message: Message, round: Round | undefined): void {
    // The common case of a fan-out: a live message on a one-channel stream
    // past its backlog (`#mayRepeat` is only cleared for one channel), whose
    // bytes an earlier stream of the round built. The hub hands such a
    // stream only its channel's messages, and past the backlog its position
    // is never read again, so nothing of its request is looked at here.
    if (round !== undefined && !this.#mayRepeat) {
      const shared = round.get<Buffer>(this.#keyPrefix);
      if (shared !== undefined) {
        this.#session?.send(shared);
        return;
      }
    }
    const { channels, encoder, variant } = this.#request;
    const index = channels.indexOf(message.channel);
    if (index === -1) return;
    // Already sent (from history, or a live delivery that lagged behind the
    // backlog read, as a Redis wake-up can): ids order within a channel.
    // Live messages come in order, so once one is past the backlog the rest
    // are too: one channel stops comparing then (no per-delivery parsing).
    if (this.#mayRepeat) {
      const last = this.#positions[index];
      if (last !== undefined && (this.#hub.compareIds(message.id, last) ?? 1) <= 0) return;
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
      const json = this.#hub.encodeMessage(message);
      const connection = this.#connection;
      if (connection === undefined) return;
      wired = connection.wire(
        channels.length === 1
          ? encoder.encode(message, variant, json)
          : encoder.encode({ ...message, id: cursor }, variant, withCursor(json, cursor)),
      );
      if (round !== undefined) {
        round.set(key, wired);
        // The first write of this message on this transport: how long since it was published.
        this.#hub.meters.observers.delivery?.(encoder.name, (Date.now() - message.time) / 1000);
      }
    }
    this.#session?.send(wired);
  }
}

/**
 * Opens a stream member: joins the hub and reads the first backlog page
 * before anything is written. The caller then starts its response and
 * calls {@link StreamMember.attach} (or {@link StreamMember.abandon} if the
 * client left meanwhile).
 * @throws CometError from the first read (`COMET_ERR_CURSOR_MALFORMED`,
 * `COMET_ERR_BUS_UNAVAILABLE`, …) or `COMET_ERR_SHUTTING_DOWN`: nothing was
 * written, answer it with its status.
 *
 * @example
 * ```ts
 * const member = await openStreamMember(hub, { channels, positions, encoder: sseTransport, variant: '' }, { wheel });
 * member.attach(createHttpConnection(res, sseTransport.open(res, { variant: '' })));
 * ```
 */
export async function openStreamMember(
  hub: Hub,
  request: StreamMemberRequest,
  options: StreamSessionOptions,
): Promise<StreamMember> {
  const member = new StreamMember(hub, request, options);
  await member.readFirst();
  return member;
}
