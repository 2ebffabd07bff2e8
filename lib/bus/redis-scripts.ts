/**
 * The two Lua scripts behind the Redis bus, and how their replies are read.
 *
 * Both run atomically in Redis, so a stream never exists without its epoch:
 * the publish script creates the meta hash on first use and, when the stream
 * is missing although the meta says messages were added (the history was
 * lost while the meta survived, or the keys expired after `channelTtl`),
 * starts a new epoch. FLUSHALL removes both keys, so the next publish starts
 * a new epoch as well; either way an old cursor names an epoch that no longer
 * exists and reads as a gap. A caller also passes the highest id it has seen
 * in the current epoch (its "floor"): a meta whose last id is below it went
 * back in time (Redis restored from an older snapshot, a failover to a
 * replica that lagged), and the publish starts a new epoch with a fresh
 * history, as for a lost stream, so a reader whose cursor precedes the lost
 * messages gets a gap instead of skipping them (and a follower does not
 * replay what is left as new). The read script never writes: until such a
 * publish, the channel reads as the empty history of {@link UNBORN_EPOCH}
 * (so reads of rooms nobody publishes to create no keys).
 *
 * Every entry stores `p`, the id of the entry added just before it, chaining
 * the history. Every cursor the bus issues is in that chain (a message id, or
 * the head), so a read after cursor C is a gap exactly when the first entry
 * after C does not name C as its predecessor: entries between were trimmed
 * (exactly or approximately, `MAXLEN ~`), or C itself was lost (a failover to
 * a replica that missed it). A cursor beyond the head is a gap too.
 */
import { createHash } from 'node:crypto';
import { CometError } from '../base/errors.js';
import type { Message } from './bus.js';
import { formatCursor, UNBORN_EPOCH } from './redis-ids.js';

const CMP = `
local function cmpnum(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function cmp(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  local c = cmpnum(am, bm)
  if c ~= 0 then return c end
  return cmpnum(as, bs)
end
-- The channel's epoch and last id when its history is usable as it stands, else nil:
-- no meta yet, the stream lost while the meta says messages were added, or the meta
-- gone back below the caller's floor.
local function current(stream, meta, floorEpoch, floorId)
  local m = redis.call('HMGET', meta, 'e', 'l')
  local back = floorEpoch ~= '' and m[1] == floorEpoch and m[2] and cmp(m[2], floorId) < 0
  if m[1] and m[2] and not back and (m[2] == '0-0' or redis.call('EXISTS', stream) == 1) then
    return m[1], m[2]
  end
  return nil, nil
end
`;

/**
 * KEYS: stream, meta, idempotency key. ARGV: candidate epoch, data JSON, time, maxLen,
 * maxAge ms, '~' or '=', notify channel, floor epoch, floor id, channel TTL ms ('' = none),
 * idempotency window ms ('' = no key).
 *
 * Declares its flags (none: no `allow-oom`), so a Redis over `maxmemory` with
 * `noeviction` refuses the whole script before it runs, for a new channel too (an
 * undeclared script is checked only at its first write, and `DEL` passes).
 */
const PUBLISH = `#!lua
${CMP}
if ARGV[11] ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local se, sid, st = string.match(seen, '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
    if se then return {se, sid, 1, st} end
  end
end
local e, last = current(KEYS[1], KEYS[2], ARGV[8], ARGV[9])
if not e then
  e, last = ARGV[1], '0-0'
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', e, 'l', last)
end
local args = {'XADD', KEYS[1]}
if ARGV[4] ~= '' then
  args[#args + 1] = 'MAXLEN'; args[#args + 1] = ARGV[6]; args[#args + 1] = ARGV[4]
end
args[#args + 1] = '*'
args[#args + 1] = 'd'; args[#args + 1] = ARGV[2]
args[#args + 1] = 't'; args[#args + 1] = ARGV[3]
args[#args + 1] = 'p'; args[#args + 1] = last
local id = redis.call(unpack(args))
if ARGV[5] ~= '' then
  local now = redis.call('TIME')
  local floor = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[5])
  if floor > 0 then redis.call('XTRIM', KEYS[1], 'MINID', ARGV[6], string.format('%d', floor)) end
end
redis.call('HSET', KEYS[2], 'l', id)
if ARGV[10] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[10])
  redis.call('PEXPIRE', KEYS[2], ARGV[10])
end
if ARGV[11] ~= '' then
  redis.call('SET', KEYS[3], e .. '\\n' .. id .. '\\n' .. ARGV[3], 'PX', ARGV[11])
end
redis.call('PUBLISH', ARGV[7], e .. '\\n' .. id .. '\\n' .. last .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[2])
return {e, id, 0, ARGV[3]}
`;

/**
 * KEYS: stream, meta. ARGV: mode (now|earliest|after), epoch, after, count, floor epoch,
 * floor id.
 *
 * Writes nothing: a channel without a usable history reads as the empty history of
 * {@link UNBORN_EPOCH}, whose only position, `0-0`, comes before every entry of
 * whatever epoch the next publish starts (a read after it reads that history from its
 * start, with the usual gap check).
 */
const READ = `${CMP}
local e, last = current(KEYS[1], KEYS[2], ARGV[5], ARGV[6])
if not e then e, last = '${UNBORN_EPOCH}', '0-0' end
local mode, epoch, after = ARGV[1], ARGV[2], ARGV[3]
if mode == 'now' then return {e, last, 0, {}} end
local from = '-'
if mode == 'after' then
  if epoch == '${UNBORN_EPOCH}' and after == '0-0' then epoch = e end
  if epoch ~= e then return {e, last, 1, {}} end
  if after == last then return {e, last, 0, {}} end
  if cmp(after, last) > 0 then return {e, last, 1, {}} end
  from = '(' .. after
end
local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', tonumber(ARGV[4]))
if mode == 'after' then
  local first = entries[1]
  if not first then return {e, last, 1, {}} end
  local fields = first[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'p' and fields[i + 1] ~= after then return {e, last, 1, {}} end
  end
end
return {e, last, 0, entries}
`;

/** A Lua script with its SHA1, for EVALSHA. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Appends a message (creating the epoch if needed), trims, and notifies. */
export const publishScript: LuaScript = script(PUBLISH);
/** Reads a channel's head, or entries after a position, with the gap check. */
export const readScript: LuaScript = script(READ);

/** The subset of a node-redis client the scripts need. */
export interface CommandSender {
  sendCommand<T = unknown>(args: readonly string[], options?: { timeout?: number }): Promise<T>;
}

/**
 * Runs `lua` by SHA over `keys`, loading it with EVAL when Redis does not know
 * it yet (first use, or after a restart or `SCRIPT FLUSH`). Rejects with
 * `COMET_ERR_BUS_TIMEOUT` when no answer came within `timeout` ms in all: a
 * deadline of its own, because node-redis drops a command's timeout once the
 * command is written to the socket (a stalled Redis would hold it for the
 * whole stall). The script may still run after that. `track` is given the
 * command itself, which settles when Redis answers or the connection drops.
 */
export function runScript(
  client: CommandSender,
  lua: LuaScript,
  keys: readonly string[],
  args: readonly string[],
  timeout: number,
  track?: (command: Promise<unknown>) => void,
): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args];
  const run = async () => {
    try {
      return await client.sendCommand(['EVALSHA', lua.sha, ...tail], { timeout });
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await client.sendCommand(['EVAL', lua.source, ...tail], { timeout });
    }
  };
  const command = run();
  // The caller may count it until Redis really answers (or the connection
  // drops), past the deadline: node-redis still holds it until then.
  track?.(command);
  return withDeadline(command, timeout);
}

/** `work`, or a `COMET_ERR_BUS_TIMEOUT` rejection after `ms`; a late rejection is swallowed. */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CometError('COMET_ERR_BUS_TIMEOUT')), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** The decoded reply of {@link readScript}. */
export interface RangeReply {
  readonly epoch: string;
  /** The last stream id added in this epoch (`0-0` when none). */
  readonly head: string;
  readonly gap: boolean;
  readonly messages: Message[];
}

function unexpected(): Error {
  return new Error('Unexpected reply from the Redis bus script');
}

function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw unexpected();
}

function toMessage(channel: string, epoch: string, entry: unknown): Message {
  if (!Array.isArray(entry) || !Array.isArray(entry[1])) throw unexpected();
  const fields = entry[1] as unknown[];
  let data = 'null';
  let time = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = toText(fields[i]);
    if (name === 'd') data = toText(fields[i + 1]);
    else if (name === 't') time = Number(toText(fields[i + 1]));
  }
  return { id: formatCursor(epoch, toText(entry[0])), channel, data: JSON.parse(data), time };
}

/** Decodes a {@link readScript} reply into messages of `channel`. */
export function decodeRange(channel: string, reply: unknown): RangeReply {
  if (!Array.isArray(reply) || reply.length !== 4 || !Array.isArray(reply[3])) throw unexpected();
  const epoch = toText(reply[0]);
  const entries = reply[3] as unknown[];
  return {
    epoch,
    head: toText(reply[1]),
    gap: Number(reply[2]) === 1,
    messages: entries.map((entry) => toMessage(channel, epoch, entry)),
  };
}

/** The decoded reply of {@link publishScript}. */
export interface PublishReply {
  readonly epoch: string;
  readonly streamId: string;
  /** The idempotency key was seen: this is the message stored the first time. */
  readonly duplicate: boolean;
  /** `Message.time` of the stored message. */
  readonly time: number;
}

/** Decodes a {@link publishScript} reply. */
export function decodePublish(reply: unknown): PublishReply {
  if (!Array.isArray(reply) || reply.length !== 4) throw unexpected();
  return {
    epoch: toText(reply[0]),
    streamId: toText(reply[1]),
    duplicate: Number(reply[2]) === 1,
    time: Number(toText(reply[3])),
  };
}

/** A decoded Pub/Sub wake-up: `epoch \n id \n previous id \n time \n data JSON`. */
export interface Notification {
  readonly epoch: string;
  readonly streamId: string;
  readonly previous: string;
  readonly time: number;
  readonly data: string;
}

/** Parses a wake-up payload; `undefined` when it is not one of ours. */
export function parseNotification(payload: string): Notification | undefined {
  const a = payload.indexOf('\n');
  const b = payload.indexOf('\n', a + 1);
  const c = payload.indexOf('\n', b + 1);
  const d = payload.indexOf('\n', c + 1);
  if (a < 0 || b < 0 || c < 0 || d < 0) return undefined;
  return {
    epoch: payload.slice(0, a),
    streamId: payload.slice(a + 1, b),
    previous: payload.slice(b + 1, c),
    time: Number(payload.slice(c + 1, d)),
    data: payload.slice(d + 1),
  };
}
