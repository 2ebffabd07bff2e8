/**
 * The three scratch apps the package test installs the tarball into, each a complete
 * project as a user would write it: an ESM TypeScript app (strict, standard
 * decorators), a CommonJS JavaScript app (`require`, routes without decorators), and
 * a browser page bundled by esbuild from `koa-comet/client` with its server.
 */

/** Fails the app after 20 s instead of hanging the test. */
const watchdog =
  "setTimeout(() => { console.error('timed out'); process.exit(1); }, 20_000).unref();";

/** ESM + TypeScript: `tsc` (strict, NodeNext, standard decorators), then `node dist/app.js`. */
export const esmTypeScriptApp: Record<string, string> = {
  'tsconfig.json': `${JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023', 'ESNext.Decorators'],
        types: ['node'],
        strict: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        skipLibCheck: false,
        outDir: 'dist',
        rootDir: 'src',
      },
      include: ['src'],
    },
    null,
    2,
  )}\n`,
  // koa-comet/testing from the installed package: the bus contract run by the app's vitest.
  'test/memory-bus.test.ts': `import { createMemoryBus } from 'koa-comet';
import { busContract } from 'koa-comet/testing';

busContract('memory, from the installed package', {
  create: async ({ historyLimit }) => createMemoryBus({ historyLimit }),
  loseHistory: async (bus) => {
    await bus.close();
    return createMemoryBus();
  },
});
`,
  'src/app.ts': `// Importing koa-comet first installs the Symbol.metadata polyfill the decorators need.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { RouterContext } from '@koa/router';
import Koa from 'koa';
import { comet, createMemoryBus, longpoll, type Message } from 'koa-comet';
import type { BusContractSetup } from 'koa-comet/testing';

${watchdog}

class Chat {
  @longpoll('/rooms/:room/messages', { timeout: 10 })
  messages(ctx: RouterContext): string {
    return \`room:\${ctx.params['room']}\`;
  }
}

// The contract suite's types resolve through the subpath.
const setup: Pick<BusContractSetup, 'create'> = {
  create: async ({ historyLimit }) => createMemoryBus({ historyLimit }),
};
const bus = await setup.create({ historyLimit: 100 });
const app = new Koa();
const push = comet({ bus, controllers: [Chat] });
app.use(push);
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
push.attach(server, app);
const { port } = server.address() as AddressInfo;

const head = await bus.publish('room:lobby', 'before');
const held = fetch(\`http://127.0.0.1:\${port}/rooms/lobby/messages?cursor=\${head.id}\`);
while (push.stats().held === 0) await new Promise((r) => setTimeout(r, 10));
await bus.publish('room:lobby', { text: 'hello from esm' });
const body = (await (await held).json()) as { messages: Message[] };
console.log(\`received \${JSON.stringify(body.messages.map((m) => m.data))}\`);
await push.close();
await bus.close();
`,
};

/** CommonJS JavaScript: \`require('koa-comet')\`, routes without decorators, an SSE stream. */
export const commonJsApp: Record<string, string> = {
  'app.js': `'use strict';
const { once } = require('node:events');
const Koa = require('koa');
const { comet, createMemoryBus, longpoll, stream } = require('koa-comet');

${watchdog}

const room = (ctx) => \`room:\${ctx.params.room}\`;

async function main() {
  const bus = createMemoryBus();
  const app = new Koa();
  const push = comet({
    bus,
    routes: [longpoll('/rooms/:room/messages', room), stream('/rooms/:room/live', room)],
  });
  app.use(push);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  push.attach(server, app);
  const base = \`http://127.0.0.1:\${server.address().port}\`;

  const res = await fetch(\`\${base}/rooms/lobby/live\`, { headers: { Accept: 'text/event-stream' } });
  const reader = res.body.getReader();
  while (push.stats().held === 0) await new Promise((r) => setTimeout(r, 10));
  await bus.publish('room:lobby', { text: 'hello from cjs' });
  let text = '';
  while (!text.includes('hello from cjs')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  await reader.cancel();
  const data = text.split('\\n').find((line) => line.startsWith('data: {'));
  console.log(\`received \${JSON.stringify(JSON.parse(data.slice(6)).data)}\`);
  await push.close();
  await bus.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`,
};

/**
 * A browser bundle: \`src/page.ts\` imports \`koa-comet/client\` (type-checked with the
 * DOM lib, bundled by esbuild), served with its page by \`server.mjs\`, which publishes
 * what \`POST /say\` carries. The server prints \`listening PORT\`.
 */
export const browserBundleApp: Record<string, string> = {
  'tsconfig.json': `${JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        types: [],
        strict: true,
        skipLibCheck: false,
        noEmit: true,
      },
      include: ['src'],
    },
    null,
    2,
  )}\n`,
  'src/page.ts': `import { type Envelope, type Status, subscribe } from 'koa-comet/client';

const out = document.getElementById('out');
if (out === null) throw new Error('no #out');
subscribe('/rooms/lobby/live', {
  longpollUrl: '/rooms/lobby/messages',
  onMessage(message: Envelope) {
    out.textContent = JSON.stringify(message.data);
  },
  onStatus(status: Status) {
    document.title = status.kind;
  },
});
`,
  'public/index.html': `<!doctype html>
<html><head><meta charset="utf-8"><title>loading</title></head>
<body><p id="out"></p><script type="module" src="/page.js"></script></body></html>
`,
  'server.mjs': `import { readFileSync } from 'node:fs';
import Koa from 'koa';
import { comet, createMemoryBus, longpoll, readJsonBody, stream } from 'koa-comet';

const room = (ctx) => \`room:\${ctx.params.room}\`;
const bus = createMemoryBus();
const app = new Koa();
const push = comet({
  bus,
  routes: [longpoll('/rooms/:room/messages', room), stream('/rooms/:room/live', room)],
});
app.use(push);
app.use(async (ctx) => {
  if (ctx.method === 'POST' && ctx.path === '/say') {
    const message = await bus.publish('room:lobby', await readJsonBody(ctx));
    ctx.body = { id: message.id };
  } else if (ctx.path === '/') {
    ctx.type = 'html';
    ctx.body = readFileSync(new URL('public/index.html', import.meta.url));
  } else if (ctx.path === '/page.js') {
    ctx.type = 'application/javascript';
    ctx.body = readFileSync(new URL('public/page.js', import.meta.url));
  }
});
const server = app.listen(0, '127.0.0.1', () => {
  push.attach(server, app);
  console.log(\`listening \${server.address().port}\`);
});
process.on('SIGTERM', () => push.close().then(() => process.exit(0)));
`,
};
