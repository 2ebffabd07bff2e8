/**
 * The orchestrator's own Redis connection for the redis scenario: is Redis
 * there at all, what it has executed (`INFO commandstats`, `INFO cpu`), who
 * is subscribed to what (`CLIENT LIST`, `PUBSUB NUMSUB`), and removing the
 * run's keys afterwards. Never used on the path being measured.
 */
import { createClient } from 'redis';

/** Commands Redis has executed and the CPU it has spent, at one moment. */
export interface RedisCounters {
  /** Sum of `calls` over every command in `INFO commandstats`, INFO itself left out. */
  readonly calls: number;
  /** Calls per command (`evalsha`, `xadd`, `publish`, …), INFO left out. */
  readonly byCommand: Readonly<Record<string, number>>;
  /** used_cpu_user + used_cpu_sys of the redis-server process, in seconds. */
  readonly cpuSeconds: number;
}

/** A client connection as `CLIENT LIST` shows it. */
export interface RedisClientInfo {
  readonly name: string;
  /** Channels this connection is subscribed to (`sub=`). */
  readonly sub: number;
}

/** An admin connection that fails fast: no retry, no waiting on a dead Redis. */
function adminClient(url: string, ms: number) {
  return createClient({
    url,
    name: 'comet-bench-admin',
    socket: { connectTimeout: ms, reconnectStrategy: false },
  });
}

/** A short-lived admin connection; `close` it when done. */
export class RedisAdmin {
  private constructor(private readonly client: ReturnType<typeof adminClient>) {}

  /**
   * Connects to `url`, giving up after `ms` without retrying.
   * @throws Error with Redis's or the socket's message when it does not answer.
   */
  static async connect(url: string, ms = 2000): Promise<RedisAdmin> {
    const client = adminClient(url, ms);
    client.on('error', () => {}); // connect() rejects with the same error
    await client.connect();
    await client.ping();
    return new RedisAdmin(client);
  }

  /** Reads the command counters and Redis's CPU time. */
  async counters(): Promise<RedisCounters> {
    const text = String(await this.client.sendCommand(['INFO', 'cpu', 'commandstats']));
    const byCommand: Record<string, number> = {};
    let calls = 0;
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      // Our own INFO calls bracket the measurement; they are not the bus's.
      if (m[1] === 'info') continue;
      byCommand[m[1]!] = Number(m[2]);
      calls += Number(m[2]);
    }
    const cpu = (key: string) => Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
    return { calls, byCommand, cpuSeconds: cpu('used_cpu_user') + cpu('used_cpu_sys') };
  }

  /** Every client connection but this one, with its name and subscription count. */
  async clients(): Promise<RedisClientInfo[]> {
    const text = String(await this.client.sendCommand(['CLIENT', 'LIST']));
    return text
      .split('\n')
      .filter((line) => line.includes(' name=') && !line.includes('name=comet-bench-admin '))
      .map((line) => ({
        name: /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '',
        sub: Number(/ sub=(\d+)/.exec(line)?.[1] ?? 0),
      }));
  }

  /** Subscribers of one Pub/Sub channel, over all connections (`PUBSUB NUMSUB`). */
  async numsub(channel: string): Promise<number> {
    const reply = (await this.client.sendCommand(['PUBSUB', 'NUMSUB', channel])) as unknown[];
    return Number(reply[1] ?? 0);
  }

  /** Deletes every key starting with `prefix`; resolves with how many. */
  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    for await (const keys of this.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) deleted += await this.client.unlink(keys);
    }
    return deleted;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}

/** Per-command call counts in `after` minus `before`, zero deltas left out. */
export function commandDelta(before: RedisCounters, after: RedisCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after.byCommand)) {
    const d = calls - (before.byCommand[name] ?? 0);
    if (d !== 0) out[name] = d;
  }
  return out;
}
