import { type Connection, type ConnectionOptions, createConnection } from './connection.js';
import { createResumeState, type ResumeState } from './resume.js';
import { electLeader, type LeaderElection } from './tab-leader.js';
import type { Envelope, ResetInfo, Status, TransportName } from './types.js';

/** One subscriber of a hub. */
export interface HubListener {
  onMessage(envelope: Envelope): void;
  onReset?(info: ResetInfo): void;
  onStatus?(status: Status): void;
}

/** What the leader tab tells the others over BroadcastChannel. */
type TabMessage =
  | { readonly type: 'envelope'; readonly envelope: Envelope }
  | { readonly type: 'reset'; readonly info: ResetInfo }
  | { readonly type: 'status'; readonly status: Status; readonly transport: TransportName | null }
  | { readonly type: 'hello' };

/** Options of {@link Hub}: a connection's, plus whether tabs share it. */
export interface HubOptions extends ConnectionOptions {
  /** Share one connection among the tabs of this origin (default true). */
  readonly shareAcrossTabs: boolean;
}

/**
 * The one connection of a tab for a route, shared by all its subscriptions — and,
 * through a leader tab, by all tabs of the origin, so the seventh tab never waits
 * on the browser's six-connections-per-host limit.
 *
 * The leader connects and re-broadcasts every envelope; followers deliver them with
 * their own duplicate filter and cursor, so when the leader's tab closes the next
 * leader resumes from its own last delivered id and misses nothing.
 */
export class Hub {
  readonly #options: HubOptions;
  readonly #listeners = new Set<HubListener>();
  readonly #resume: ResumeState;
  readonly #onEmpty: () => void;
  #connection: Connection | null = null;
  #channel: BroadcastChannel | null = null;
  #election: LeaderElection | null = null;
  #leaderTransport: TransportName | null = null;
  #lastStatus: Status | null = null;
  #closed = false;

  constructor(options: HubOptions, onEmpty: () => void) {
    this.#options = options;
    this.#onEmpty = onEmpty;
    this.#resume = createResumeState(options.cursor);
    if (options.shareAcrossTabs) this.#joinTabs();
    if (this.#election === null) this.#lead();
  }

  /** The transport in use (the leader tab's, in a follower tab). */
  get transport(): TransportName | null {
    return this.#connection?.transport ?? this.#leaderTransport;
  }

  /** `leader` when this tab holds the connection, `follower` when another tab does. */
  get role(): 'leader' | 'follower' {
    return this.#connection !== null || this.#election === null ? 'leader' : 'follower';
  }

  /** The last id delivered to this tab (or the last head learned). */
  get cursor(): string | null {
    return this.#connection?.cursor ?? this.#resume.cursor;
  }

  /** Publishes on this tab's connection when it has an open WebSocket; else undefined. */
  publish(data: unknown): Promise<{ id: string }> | undefined {
    return this.#connection?.publish(data);
  }

  /** Adds a listener; returns its removal, which closes the hub after the last one. */
  add(listener: HubListener): () => void {
    this.#listeners.add(listener);
    if (this.#lastStatus !== null) listener.onStatus?.(this.#lastStatus);
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#close();
    };
  }

  #joinTabs(): void {
    // The same key as the tab's own hubs (index.ts): a subscription that forces a
    // transport must never be fed by another tab's connection over a different one.
    const { streamUrl, longpollUrl, transports, withCredentials } = this.#options;
    const name = `koa-comet:${JSON.stringify([streamUrl, longpollUrl, transports, withCredentials])}`;
    this.#election = electLeader(name, () => this.#lead());
    if (this.#election === null) return;
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (event: MessageEvent<TabMessage>) => this.#fromTab(event.data);
    this.#status({ kind: 'follower', transport: null });
    this.#channel.postMessage({ type: 'hello' } satisfies TabMessage);
  }

  #lead(): void {
    if (this.#connection !== null || this.#closed) return;
    this.#connection = createConnection(
      // A follower that becomes leader resumes from what it delivered itself.
      { ...this.#options, cursor: this.#resume.cursor },
      {
        envelope: (envelope) => {
          this.#resume.accept(envelope);
          this.#post({ type: 'envelope', envelope });
          for (const l of this.#listeners) l.onMessage(envelope);
        },
        reset: (info) => {
          this.#resume.moveTo(info.cursor);
          this.#post({ type: 'reset', info });
          for (const l of this.#listeners) l.onReset?.(info);
        },
        status: (status) => {
          // A leader stepping down is no news for followers: one of them takes over.
          if (status.kind !== 'closed')
            this.#post({ type: 'status', status, transport: this.#connection?.transport ?? null });
          this.#status(status);
        },
      },
    );
  }

  #fromTab(message: TabMessage): void {
    if (message.type === 'hello') {
      if (this.#connection !== null && this.#lastStatus !== null) {
        this.#post({ type: 'status', status: this.#lastStatus, transport: this.transport });
      }
      return;
    }
    if (this.#connection !== null) return;
    if (message.type === 'envelope') {
      if (!this.#resume.accept(message.envelope)) return;
      for (const l of this.#listeners) l.onMessage(message.envelope);
    } else if (message.type === 'reset') {
      this.#resume.moveTo(message.info.cursor);
      for (const l of this.#listeners) l.onReset?.(message.info);
    } else {
      this.#leaderTransport = message.transport;
      this.#status(message.status);
    }
  }

  #post(message: TabMessage): void {
    this.#channel?.postMessage(message);
  }

  #status(status: Status): void {
    this.#lastStatus = status;
    for (const l of this.#listeners) l.onStatus?.(status);
  }

  #close(): void {
    this.#closed = true;
    this.#connection?.close();
    this.#connection = null;
    // Stepping down releases the lock: the next tab in line takes over.
    this.#election?.close();
    this.#channel?.close();
    this.#onEmpty();
  }
}
