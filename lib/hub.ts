/**
 * The hub: one process's view of the bus for everything it holds open.
 *
 * It keeps ONE bus subscription per active channel, whatever the number of
 * held long-polls and streams following it (the Redis bus turns that into
 * one Redis subscription per process per channel), and fans each message
 * out to the members following the channel. Members share a {@link Round}
 * per message so that bytes are encoded once per transport and variant and
 * the same `Buffer` goes to every member that needs it.
 */
import { debuglog } from 'node:util';
import type { Bus, Message } from './bus/bus.js';
import { createEnvelopeCache, type EnvelopeCache } from './envelope.js';

const debug = debuglog('comet:hub');

/** Shared work for one message's fan-out: what one member builds under a key, the others reuse. */
export class Round {
  /** The message being delivered. */
  readonly message: Message;
  #memo: Map<string, unknown> | undefined;

  constructor(message: Message) {
    this.message = message;
  }

  /** The value stored under `key`, if any. */
  get<T>(key: string): T | undefined {
    return this.#memo?.get(key) as T | undefined;
  }

  /** Stores `value` under `key` for the rest of this round. */
  set(key: string, value: unknown): void {
    this.#memo ??= new Map();
    this.#memo.set(key, value);
  }
}

/** Something held open that follows channels: a long-poll waiter or a stream. */
export interface HubMember {
  /** A message arrived on a followed channel. Must not throw. */
  notify(round: Round): void;
  /** The server is shutting down: answer or end now, with the current cursor. */
  shutdown(): void;
}

interface ChannelEntry {
  readonly members: Set<HubMember>;
  readonly unsubscribe: () => void;
}

/** See the module comment. */
export class Hub {
  /** The bus behind the hub. */
  readonly bus: Bus;
  /** The envelope cache shared by every transport of this hub. */
  readonly envelopes: EnvelopeCache;
  readonly #channels = new Map<string, ChannelEntry>();
  #closing = false;

  constructor(bus: Bus) {
    this.bus = bus;
    this.envelopes = createEnvelopeCache();
  }

  /** True once {@link Hub.shutdown} started: no new members are accepted. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Members following `channel`, or distinct members on any channel when
   * omitted (a request following two channels counts once). O(members).
   */
  memberCount(channel?: string): number {
    if (channel !== undefined) return this.#channels.get(channel)?.members.size ?? 0;
    const distinct = new Set<HubMember>();
    for (const entry of this.#channels.values()) for (const m of entry.members) distinct.add(m);
    return distinct.size;
  }

  /** Channels with a live bus subscription. */
  get activeChannels(): number {
    return this.#channels.size;
  }

  /** Starts delivering `channel`'s messages to `member` (subscribing the bus if first). */
  join(channel: string, member: HubMember): void {
    let entry = this.#channels.get(channel);
    if (entry === undefined) {
      const members = new Set<HubMember>();
      const unsubscribe = this.bus.subscribe(channel, (message) => this.#fanOut(members, message));
      entry = { members, unsubscribe };
      this.#channels.set(channel, entry);
    }
    entry.members.add(member);
  }

  /** Stops delivering to `member`; the last member leaving releases the bus subscription. */
  leave(channel: string, member: HubMember): void {
    const entry = this.#channels.get(channel);
    if (entry === undefined || !entry.members.delete(member)) return;
    if (entry.members.size === 0) {
      this.#channels.delete(channel);
      entry.unsubscribe();
    }
  }

  /** Answers or ends every member now (graceful shutdown) and refuses new ones. */
  shutdown(): void {
    this.#closing = true;
    const members = new Set<HubMember>();
    for (const entry of this.#channels.values()) for (const m of entry.members) members.add(m);
    for (const member of members) member.shutdown();
  }

  #fanOut(members: Set<HubMember>, message: Message): void {
    if (members.size === 0) return;
    const round = new Round(message);
    // Members leave during notify (a waiter answers and completes): iterate a snapshot.
    for (const member of [...members]) {
      try {
        member.notify(round);
      } catch (error) {
        debug('member threw on notify: %o', error);
      }
    }
  }
}
