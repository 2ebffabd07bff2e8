/**
 * A minimal third-party bus: history in one array per channel, ids
 * `<epoch>-<seq>`. It passes koa-comet's bus contract suite
 * (test/docs/writing-a-bus.test.ts); docs/guides/writing-a-bus.md walks
 * through it.
 */
import { randomBytes } from 'node:crypto';
import {
  type Bus,
  CometError,
  EARLIEST,
  type Message,
  type MessageListener,
  type PublishOptions,
  type ReadFrom,
  type ReadResult,
} from '../../../index.js';

export interface ArrayBusOptions {
  /** Messages kept per channel; older ones are dropped. Default 1000. */
  readonly historyLimit?: number;
}

interface Channel {
  /** Retained messages, oldest first, with their sequence numbers. */
  readonly items: { readonly seq: number; readonly message: Message; readonly key?: string }[];
  /** The sequence number of the last message published (0: none yet). */
  last: number;
  readonly listeners: Set<MessageListener>;
  /** Idempotency keys of retained messages. */
  readonly keys: Map<string, Message>;
}

const ID_SHAPE = /^([0-9a-f]{8})-(\d{1,15})$/;
const KEY_SHAPE = /^[\x21-\x7e]{1,128}$/;

export function createArrayBus(options: ArrayBusOptions = {}): Bus {
  const historyLimit = options.historyLimit ?? 1000;
  // A new epoch per bus: ids of a bus whose history was lost never match.
  const epoch = randomBytes(4).toString('hex');
  const channels = new Map<string, Channel>();
  let closed = false;

  const channelOf = (name: string): Channel => {
    let channel = channels.get(name);
    if (channel === undefined) {
      channel = { items: [], last: 0, listeners: new Set(), keys: new Map() };
      channels.set(name, channel);
    }
    return channel;
  };
  const idOf = (seq: number): string => `${epoch}-${seq}`;

  /** The sequence number of `id`, or `undefined` for an id of another epoch. */
  const seqOf = (id: string): number | undefined => {
    const match = ID_SHAPE.exec(id);
    if (match === null) throw new CometError('COMET_ERR_CURSOR_MALFORMED');
    return match[1] === epoch ? Number(match[2]) : undefined;
  };

  const readSync = (name: string, after: ReadFrom, limit = 100): ReadResult => {
    const channel = channelOf(name);
    const head = idOf(channel.last);
    if (after === undefined) return { messages: [], cursor: head, gap: false };
    const oldest = channel.items[0]?.seq ?? channel.last + 1;
    let from: number;
    if (after === EARLIEST) from = oldest;
    else {
      const seq = seqOf(after);
      // Another epoch, a cursor from the future, or older than history: a gap.
      if (seq === undefined || seq > channel.last || seq < oldest - 1) {
        return { messages: [], cursor: head, gap: true };
      }
      from = seq + 1;
    }
    const start = from - oldest;
    const messages = channel.items.slice(start, start + limit).map((item) => item.message);
    const cursor = messages.at(-1)?.id ?? (after === EARLIEST ? head : after);
    return { messages, cursor, gap: false };
  };

  return {
    async publish(name: string, data: unknown, publish?: PublishOptions): Promise<Message> {
      if (closed) throw new CometError('COMET_ERR_BUS_CLOSED');
      const key = publish?.idempotencyKey;
      if (key !== undefined && !KEY_SHAPE.test(key)) {
        throw new CometError('COMET_ERR_IDEMPOTENCY_KEY_INVALID');
      }
      const channel = channelOf(name);
      const seen = key === undefined ? undefined : channel.keys.get(key);
      if (seen !== undefined) return seen;
      // Encode once, here: what JSON cannot carry is refused, never stored.
      let json: string | undefined;
      try {
        json = JSON.stringify(data);
      } catch (cause) {
        throw new CometError('COMET_ERR_MESSAGE_INVALID', undefined, { cause });
      }
      if (json === undefined) throw new CometError('COMET_ERR_MESSAGE_INVALID');
      channel.last += 1;
      const message: Message = {
        id: idOf(channel.last),
        channel: name,
        data: JSON.parse(json),
        time: Date.now(),
      };
      channel.items.push({ seq: channel.last, message, ...(key === undefined ? {} : { key }) });
      if (key !== undefined) channel.keys.set(key, message);
      while (channel.items.length > historyLimit) {
        const dropped = channel.items.shift();
        if (dropped?.key !== undefined) channel.keys.delete(dropped.key);
      }
      for (const listener of [...channel.listeners]) {
        try {
          listener(message);
        } catch {
          // One broken listener must not starve the others or fail the publisher.
        }
      }
      return message;
    },

    async read(name, after, limit) {
      return readSync(name, after, limit);
    },

    readSync,

    subscribe(name, listener) {
      const channel = channelOf(name);
      // A new function per subscription: unsubscribing twice is harmless.
      const entry: MessageListener = (message) => listener(message);
      channel.listeners.add(entry);
      return () => {
        channel.listeners.delete(entry);
      };
    },

    compareIds(a, b) {
      const ma = ID_SHAPE.exec(a);
      const mb = ID_SHAPE.exec(b);
      if (ma === null || mb === null || ma[1] !== mb[1]) return undefined;
      return Number(ma[2]) - Number(mb[2]);
    },

    async close() {
      closed = true;
      for (const channel of channels.values()) channel.listeners.clear();
    },
  };
}
