/**
 * Scenario "rooms": memory under room churn on the memory bus. One process
 * (`load/rooms.ts`, core 0) publishes one message of `size` bytes to each of
 * N distinct rooms with the bus's default byte budget (64 MiB), then waits
 * until aged history has expired. Reports bytes held (`push.stats()`) and
 * RSS during and after. There is no raw column: a hand-written server with
 * per-room history and no cross-room bound simply holds N × size — the
 * unbounded growth this scenario exists to rule out.
 */
import type { ProcessGroup } from '../lib/proc.js';
import type { Row } from '../lib/table.js';
import type { RoomsResult } from '../load/rooms.js';
import { SERVER_NODE_FLAGS } from './common.js';

/** Options of the rooms scenario. */
export interface RoomsOptions {
  readonly rooms: number;
  readonly size: number;
  readonly ageMs: number;
}

/** Runs the publisher process and returns what it measured. */
export async function runRooms(group: ProcessGroup, options: RoomsOptions): Promise<RoomsResult> {
  const child = group.start('load/rooms.ts', {
    core: 0,
    measured: true,
    nodeFlags: SERVER_NODE_FLAGS,
    args: [JSON.stringify({ rooms: options.rooms, size: options.size, ageMs: options.ageMs })],
  });
  const message = await child.next('rooms', 600_000);
  return message as unknown as RoomsResult;
}

/** Table rows: the framework column only (see the module comment). */
export function roomsRows(r: RoomsResult, options: RoomsOptions): Row[] {
  const scenario = `rooms (N=${options.rooms.toLocaleString('en-US')} × ${Math.round(options.size / 1024)} KiB)`;
  const mib = (n: number) => n / 2 ** 20;
  const row = (metric: string, unit: string, comet: number): Row => ({
    scenario,
    metric,
    unit,
    comet,
  });
  return [
    row('published', 'MiB', mib(r.published * options.size)),
    row('bus byte budget (historyMaxBytes)', 'MiB', mib(r.budget)),
    row('bytes held by the bus, peak (stats())', 'MiB', mib(r.busBytesPeak)),
    row('RSS at baseline', 'MiB', mib(r.rssBaseline)),
    row('RSS growth, peak while publishing', 'MiB', mib(r.rssPeak - r.rssBaseline)),
    row('publish time', 'ms', r.publishMs),
    row(`time until aged history expired (age ${options.ageMs} ms)`, 'ms', r.expiryMs),
    row('bytes held after expiry', 'bytes', r.busBytesAfter),
    row('channels on record after expiry', 'count', r.busChannelsAfter),
    row('RSS growth after expiry and GC', 'MiB', mib(r.rssAfter - r.rssBaseline)),
  ];
}
