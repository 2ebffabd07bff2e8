/**
 * A real Prometheus scrapes the demo's `/metrics`: Debian's `prometheus`
 * (installed by .ci/run) is started on a loopback spare port with a 1 s
 * scrape of the demo app, messages are published through the demo's POST
 * route to a stream reader, and Prometheus's HTTP API is asked until
 * `comet_deliveries_total` says what was delivered. Stopped by its pid.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../index.js';
import { whenMet } from '../helpers/requirement.js';
import { createTestApp } from './helpers/app.js';
import { closeAll, listen, post } from './helpers/server.js';

const installed = spawnSync('prometheus', ['--version']).status === 0;

async function sparePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((r) => server.close(r));
  return port;
}

let prometheus: ChildProcess | undefined;
let dir: string | undefined;
afterAll(async () => {
  if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
    prometheus.kill('SIGTERM');
    await once(prometheus, 'exit');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  await closeAll();
});

/** Asks Prometheus for one instant value; undefined until it has one. */
async function query(port: number, expr: string): Promise<number | undefined> {
  const url = `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`;
  try {
    const res = await fetch(url);
    const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
    const sample = body.data?.result?.[0];
    return sample ? Number(sample.value[1]) : undefined;
  } catch {
    return undefined; // not up yet
  }
}

describe('a real Prometheus', () => {
  whenMet(
    {
      met: installed,
      tests: 'the Prometheus scrape test',
      needs: 'a prometheus binary',
      hint: 'apt-get install -y prometheus (.ci/run does)',
    },
    () => {
      it('scrapes comet_deliveries_total from the demo app', { timeout: 60_000 }, async () => {
        const bus = createMemoryBus();
        const registry = new Registry();
        const { app, push } = createTestApp({ bus, metrics: registry });
        const demo = await listen(app, push, bus);

        dir = mkdtempSync(join(tmpdir(), 'comet-prometheus-'));
        const config = join(dir, 'prometheus.yml');
        writeFileSync(
          config,
          [
            'global:',
            '  scrape_interval: 1s',
            'scrape_configs:',
            '  - job_name: comet-demo',
            '    metrics_path: /metrics',
            '    static_configs:',
            `      - targets: ['127.0.0.1:${demo.port}']`,
            '',
          ].join('\n'),
        );
        const port = await sparePort();
        prometheus = spawn(
          'prometheus',
          [
            `--config.file=${config}`,
            `--storage.tsdb.path=${join(dir, 'data')}`,
            `--web.listen-address=127.0.0.1:${port}`,
          ],
          { stdio: 'ignore' },
        );

        // A reader on the NDJSON stream, then five messages through the demo.
        const controller = new AbortController();
        const stream = await fetch(`${demo.base}/rooms/lobby/live?transport=ndjson`, {
          signal: controller.signal,
        });
        expect(stream.status).toBe(200);
        const reader = stream.body?.getReader();
        for (let i = 0; i < 5; i++) await post(demo.base, 'lobby', { i });
        let text = '';
        while ((text.match(/"id"/g) ?? []).length < 5) {
          const chunk = await reader?.read();
          if (!chunk || chunk.done) break;
          text += Buffer.from(chunk.value).toString();
        }
        controller.abort();

        const expr = 'sum(comet_deliveries_total{job="comet-demo",transport="ndjson"})';
        const deadline = Date.now() + 45_000;
        let seen: number | undefined;
        while (Date.now() < deadline) {
          seen = await query(port, expr);
          if (seen === 5) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        expect(seen).toBe(5);
        expect(await query(port, 'sum(comet_publishes_total{job="comet-demo"})')).toBe(5);
      });
    },
  );
});
