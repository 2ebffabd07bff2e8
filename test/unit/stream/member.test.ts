/**
 * lib/stream/member.ts against fake buses (no sockets; reads answered by
 * hand): the backlog then live, messages held while the backlog is read,
 * no duplicate when a live delivery repeats a backlog message, live gaps
 * before and after attach, paging, several channels, failures.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../../lib/bus/bus.js';
import { Hub } from '../../../lib/hub/hub.js';
import type {
  ConnectionCloseTarget,
  StreamConnection,
  StreamEndReason,
} from '../../../lib/stream/connection.js';
import {
  type FrameEncoder,
  openStreamMember,
  StreamMember,
  type StreamMemberRequest,
} from '../../../lib/stream/member.js';
import type { TimerWheel } from '../../../lib/suspend/timer-wheel.js';
import { parseCursor } from '../../../lib/wire/cursor.js';
import { FakeBus } from '../../helpers/fake-bus.js';
import { withFakeWheel } from '../../helpers/fake-wheel.js';

/** Frames as readable text: `id json` for a message, `reset cursor` for a gap. */
const encoder: FrameEncoder = {
  name: 'fake',
  encode: (message: Message, variant: string, json?: string) =>
    Buffer.from(`${variant}${message.id} ${json ?? ''}`),
  encodeReset: (cursor: string, variant: string) => Buffer.from(`${variant}reset ${cursor}`),
};

/** A connection that records frames and how it ended. */
class FakeConnection implements StreamConnection {
  readonly frames: string[] = [];
  closed: StreamEndReason | undefined;
  readonly queuedBytes = 0;
  wire(frame: Buffer): Buffer {
    return frame;
  }
  send(frame: Buffer): void {
    this.frames.push(frame.toString());
  }
  heartbeat(): void {}
  close(reason: StreamEndReason): void {
    this.closed = reason;
  }
  destroy(): void {
    this.closed = 'slow';
  }
  onClose(_target: ConnectionCloseTarget): void {}
  /** Just the ids (or `reset <cursor>`) of the frames sent. */
  ids(): string[] {
    return this.frames.map((f) => (f.startsWith('reset') ? f : (f.split(' ')[0] ?? '')));
  }
}

let wheel: TimerWheel;
let bus: FakeBus;
let hub: Hub;

function setUp(mode: 'sync' | 'async'): void {
  bus = new FakeBus(mode);
  hub = new Hub(bus, { timers: wheel, linger: 0 });
}

function member(positions: (string | undefined)[], channels = ['room'], pageSize?: number) {
  const request: StreamMemberRequest = { channels, positions, encoder, variant: '', pageSize };
  return new StreamMember(hub, request, { wheel, heartbeatMs: 0, maxLifetimeMs: 0 });
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Answers parked reads until `promise` settles (async bus). */
async function answerUntil(promise: Promise<unknown>): Promise<void> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 20 && !done; i++) {
    bus.resolveAll();
    await flush();
  }
}

withFakeWheel((w) => {
  wheel = w;
});

describe('stream member: backlog then live', () => {
  it('sends the backlog after the cursor, then live messages', async () => {
    setUp('sync');
    bus.add('room', 'a');
    bus.add('room', 'b');
    const m = member(['f-1']);
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    expect(conn.ids()).toEqual(['f-2']);
    expect(conn.frames[0]).toBe('f-2 {"id":"f-2","channel":"room","data":"b"}');
    bus.add('room', 'c');
    expect(conn.ids()).toEqual(['f-2', 'f-3']);
  });

  it('"from now" sends no backlog, whatever history holds', async () => {
    setUp('sync');
    bus.add('room', 'old');
    const m = member([undefined]);
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    expect(conn.frames).toEqual([]);
    bus.add('room', 'new');
    expect(conn.ids()).toEqual(['f-2']);
  });

  it('a live message already sent from the backlog is not repeated', async () => {
    setUp('sync');
    bus.add('room', 'a');
    const m = member(['f-0']);
    // Published after the member joined and before its read: both held and in the backlog.
    bus.add('room', 'b');
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    expect(conn.ids()).toEqual(['f-1', 'f-2']);
    bus.add('room', 'c');
    expect(conn.ids()).toEqual(['f-1', 'f-2', 'f-3']);
  });

  it('a late live delivery of a backlog message (a lagging wake-up) is dropped', async () => {
    setUp('sync');
    const old = bus.add('room', 'a');
    const m = member(['f-0']);
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    expect(conn.ids()).toEqual(['f-1']);
    bus.redeliver(old);
    expect(conn.ids()).toEqual(['f-1']);
    bus.add('room', 'b');
    expect(conn.ids()).toEqual(['f-1', 'f-2']);
  });

  it('messages arriving while the backlog is read are held and sent after it, once, in order', async () => {
    setUp('async');
    bus.add('room', 'a');
    const m = member(['f-0']);
    const first = m.readFirst();
    expect(bus.pending).toHaveLength(1);
    bus.add('room', 'b'); // after the backend took the read: not in the backlog
    bus.add('room', 'c');
    bus.resolveAll();
    await first;
    const conn = new FakeConnection();
    m.attach(conn);
    expect(conn.ids()).toEqual(['f-1', 'f-2', 'f-3']);
    bus.add('room', 'd');
    expect(conn.ids()).toEqual(['f-1', 'f-2', 'f-3', 'f-4']);
  });

  it('pages through a long backlog; live messages during later pages come once, after it', async () => {
    setUp('async');
    for (let i = 1; i <= 5; i++) bus.add('room', i);
    const m = member(['f-0'], ['room'], 2);
    const first = m.readFirst();
    bus.resolveAll();
    await first;
    const conn = new FakeConnection();
    m.attach(conn);
    expect(conn.ids()).toEqual(['f-1', 'f-2']);
    expect(bus.pending.map((r) => r.after)).toEqual(['f-2']);
    bus.add('room', 6); // live during the second page: in the third page's read and held
    bus.resolveAll();
    await flush();
    expect(conn.ids()).toEqual(['f-1', 'f-2', 'f-3', 'f-4']);
    bus.resolveAll();
    await flush();
    expect(conn.ids()).toEqual(['f-1', 'f-2', 'f-3', 'f-4', 'f-5', 'f-6']);
    // A full page: one more read, which finds nothing; a message meanwhile is held.
    expect(bus.pending.map((r) => r.after)).toEqual(['f-6']);
    bus.add('room', 7);
    expect(conn.ids()).toHaveLength(6);
    bus.resolveAll();
    await flush();
    bus.add('room', 8); // live now
    expect(conn.ids()).toEqual(['f-1', 'f-2', 'f-3', 'f-4', 'f-5', 'f-6', 'f-7', 'f-8']);
  });

  it('a later page failing ends the stream as failed and leaves the hub', async () => {
    setUp('async');
    for (let i = 1; i <= 3; i++) bus.add('room', i);
    const m = member(['f-0'], ['room'], 2);
    const first = m.readFirst();
    bus.resolveAll();
    await first;
    const conn = new FakeConnection();
    m.attach(conn);
    bus.pending[0]?.reject(new Error('connection reset'));
    await flush();
    expect(conn.closed).toBe('failed');
    expect(hub.memberCount()).toBe(0);
  });
});

describe('stream member: gaps', () => {
  it('a cursor from another epoch: a reset frame with the head, then live', async () => {
    setUp('sync');
    bus.add('room', 'a');
    const m = member(['x-5']);
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    expect(conn.ids()).toEqual(['reset f-1']);
    expect(hub.meters.gaps).toBe(1);
    bus.add('room', 'b');
    expect(conn.ids()).toEqual(['reset f-1', 'f-2']);
  });

  it('a live gap before attach: the first page is sent, then the stream ends', async () => {
    setUp('async');
    bus.add('room', 'a');
    const m = member(['f-0']);
    const first = m.readFirst();
    bus.liveGap('room', { kind: 'lost', cursor: 'f-9' });
    bus.resolveAll();
    await first;
    const conn = new FakeConnection();
    m.attach(conn);
    expect(conn.ids()).toEqual(['f-1']);
    expect(conn.closed).toBe('ended');
    expect(hub.memberCount()).toBe(0);
  });

  it('a lost live gap once live: a reset frame, and delivery goes on after its cursor', async () => {
    setUp('sync');
    const m = member([undefined]);
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    bus.add('room', 'a', true);
    bus.add('room', 'b', true);
    bus.liveGap('room', { kind: 'lost', cursor: 'f-2' });
    bus.add('room', 'c');
    expect(conn.ids()).toEqual(['reset f-2', 'f-3']);
    expect(conn.closed).toBeUndefined();
  });

  it('an interrupted live path once live ends the stream (the client resumes by cursor)', async () => {
    setUp('sync');
    const m = member([undefined]);
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    bus.liveGap('room', { kind: 'interrupted' });
    expect(conn.closed).toBe('ended');
    expect(hub.memberCount()).toBe(0);
    bus.add('room', 'late');
    expect(conn.frames).toEqual([]);
  });
});

describe('stream member: several channels', () => {
  it('each frame carries the combined cursor after it', async () => {
    setUp('sync');
    bus.add('a', 'a1');
    bus.add('b', 'b1');
    const m = member(['f-0', 'f-0'], ['a', 'b']);
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    bus.add('b', 'b2');
    const cursors = conn.frames.map((f) => {
      const [, json] = f.split(' ');
      return parseCursor((JSON.parse(json ?? '') as { cursor: string }).cursor, ['a', 'b']);
    });
    expect(cursors).toEqual([
      ['f-1', 'f-0'],
      ['f-1', 'f-2'],
      ['f-1', 'f-3'],
    ]);
  });
});

describe('stream member: streams sharing a round', () => {
  it('one-channel streams share a frame; a several-channel stream on the same round gets its own', async () => {
    setUp('sync');
    const one = member([undefined], ['a']);
    const other = member([undefined], ['a']);
    const both = member([undefined, undefined], ['a', 'b']);
    for (const m of [one, other, both]) await m.readFirst();
    const conns = [one, other, both].map((m) => {
      const conn = new FakeConnection();
      m.attach(conn);
      return conn;
    });
    const [oneConn, otherConn, bothConn] = conns as [
      FakeConnection,
      FakeConnection,
      FakeConnection,
    ];
    // Three messages: the first takes the backlog check, the rest the shared path.
    for (const text of ['x', 'y', 'z']) bus.add('a', text);
    expect(oneConn.ids()).toEqual(['f-1', 'f-2', 'f-3']);
    expect(otherConn.frames).toEqual(oneConn.frames);
    for (const frame of oneConn.frames) expect(frame).not.toContain('"cursor"');
    expect(bothConn.frames).toHaveLength(3);
    for (const frame of bothConn.frames) expect(frame).toContain('"cursor"');
  });
});

describe('stream member: opening and leaving', () => {
  it('a refused cursor fails the open, leaving the hub, before anything is written', async () => {
    setUp('sync');
    await expect(
      openStreamMember(
        hub,
        { channels: ['room'], positions: ['nonsense'], encoder, variant: '' },
        { wheel },
      ),
    ).rejects.toMatchObject({ code: 'COMET_ERR_CURSOR_MALFORMED' });
    expect(hub.memberCount()).toBe(0);
  });

  it('shutdown during the first read refuses the open with COMET_ERR_SHUTTING_DOWN', async () => {
    setUp('async');
    const m = member([undefined]);
    const first = m.readFirst();
    hub.shutdown();
    expect(hub.memberCount()).toBe(0);
    bus.resolveAll();
    await expect(first).rejects.toMatchObject({ code: 'COMET_ERR_SHUTTING_DOWN' });
  });

  it('shutdown once attached ends the stream cleanly', async () => {
    setUp('sync');
    const m = member([undefined]);
    await m.readFirst();
    const conn = new FakeConnection();
    m.attach(conn);
    hub.shutdown();
    expect(conn.closed).toBe('ended');
    expect(hub.memberCount()).toBe(0);
    expect(hub.meters.shutdownDrains).toBe(1);
  });

  it('abandoned before attach: leaves the hub and hears nothing more', async () => {
    setUp('async');
    const m = member([undefined]);
    const first = answerUntil(m.readFirst());
    await first;
    m.abandon();
    expect(hub.memberCount()).toBe(0);
    expect(bus.subscriptions('room')).toBe(0);
  });
});
