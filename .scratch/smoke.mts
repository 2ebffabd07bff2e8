import http2 from 'node:http2';
import { once } from 'node:events';
import { createChatApp } from '/work/wt/h2ws/examples/chat/app.js';
import { createMemoryBus } from '/work/wt/h2ws/index.js';
const bus = createMemoryBus();
const { app, push } = createChatApp({ bus });
const server = http2.createServer(app.callback());
server.listen(0, '127.0.0.1'); await once(server, 'listening');
try { push.attach(server as any, app); } catch (e) { console.log('attach', e); }
const port = (server.address() as any).port;
const client = http2.connect(`http://127.0.0.1:${port}`);
function req(path: string, headers: any = {}) {
  const s = client.request({ ':path': path, ...headers });
  let data = '';
  s.setEncoding('utf8');
  s.on('response', (h) => console.log(path, h[':status'], h['content-type']));
  s.on('data', (d) => { data += d; console.log(path, 'data', JSON.stringify(d).slice(0, 200)); });
  return { s, done: once(s, 'end').then(() => data) };
}
const lp = req('/rooms/a/messages?timeout=5');
const sse = req('/rooms/a/live');
const nd = req('/rooms/a/live?transport=ndjson');
const mp = req('/rooms/a/live?transport=multipart');
const ifr = req('/rooms/a/live?transport=iframe&callback=cb');
const jp = req('/rooms/a/messages?timeout=5&callback=cb');
await new Promise((r) => setTimeout(r, 300));
console.log('stats', push.stats());
await bus.publish('room:a', { hi: 1 });
console.log('lp', await lp.done);
const p = req('/rooms/a/unread?cursor=earliest');
console.log(await p.done);
// RST a held lp
const lp2 = req('/rooms/a/messages?timeout=30');
await new Promise((r) => setTimeout(r, 200));
console.log('stats before rst', push.stats());
lp2.s.close(http2.constants.NGHTTP2_CANCEL);
await new Promise((r) => setTimeout(r, 200));
console.log('stats after rst', push.stats());
sse.s.close(http2.constants.NGHTTP2_CANCEL);
await new Promise((r) => setTimeout(r, 200));
console.log('stats after sse rst', push.stats());
client.on('goaway', (...a) => console.log('goaway', a));
try { await push.close(); console.log('closed'); } catch (e) { console.log('close err', e); }
console.log('stats after close', push.stats());
client.close();
process.exit(0);
