/**
 * The Koa adapter: every use koa-comet makes of something Koa, `@koa/router`,
 * `on-finished` or `ee-first` do not document lives here, behind a small
 * named function, and nowhere else.
 *
 * | private detail | used by | function |
 * | --- | --- | --- |
 * | on-finished's queue at `res.__onFinished.queue`, Koa's hook first in it | held requests | {@link detachFromKoa} |
 * | ee-first's watcher closures are named `onevent` | held requests | {@link detachFromKoa} |
 * | parseurl's cache at `req._parsedUrl` | held requests | {@link detachFromKoa} |
 * | `router.match()` (marked private) and `layer.stack[0]` is the route's handler | direct dispatch (and its not-attached warning), upgrades | {@link matchRoute}, {@link matchUpgrade} |
 * | the router sets `ctx.params`, `ctx.routerPath`, `ctx._matchedRoute` | direct dispatch, upgrades | {@link routedContext} |
 * | Koa's `respond()` (not exported) for the bodies a batch route leaves | direct dispatch | {@link respondLikeKoa} |
 * | the app owns its server's `request` listener (`app.callback()`) | direct dispatch | {@link interceptRequests} |
 *
 * Each row has a test in `test/unit/middleware/koa-adapter.test.ts` that fails when the
 * dependency changes shape. {@link checkKoaVersions} runs when `comet()` is
 * created and warns (`COMET_WARN_KOA_VERSION`) when an installed major or
 * minor version differs from the ones this file was written against.
 *
 * Documented Koa API used alongside (not private, listed for the reader):
 * `app.createContext()`, `app.context` (every ctx's prototype),
 * `ctx.respond = false`, `ctx.onerror`.
 */
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import type Koa from 'koa';
import type { Context } from 'koa';
import { endWithBody } from '../lib/wire/batch-transport.js';
import type { AttachableServer } from './servers.js';

// ---------------------------------------------------------------------------
// Versions

/** The `major.minor` of each dependency this adapter was read against. */
export const WRITTEN_AGAINST: Readonly<Record<string, string>> = {
  koa: '3.3',
  '@koa/router': '15.7',
  'on-finished': '2.4',
  'ee-first': '1.1',
};

/** One installed dependency whose `major.minor` is not the one written against. */
export interface VersionMismatch {
  name: string;
  expected: string;
  installed: string;
}

/** The `package.json` version of `name` as resolved from `from` (a file path), or undefined. */
function versionOf(name: string, from: string): { version: string; main: string } | undefined {
  try {
    const main = createRequire(from).resolve(name);
    // Walk up from the entry point: `pkg/package.json` is not always exported.
    for (let dir = dirname(main); dir !== dirname(dir); dir = dirname(dir)) {
      try {
        const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name?: string;
          version?: string;
        };
        if (json.name === name && typeof json.version === 'string') {
          return { version: json.version, main };
        }
      } catch {
        // no package.json at this level
      }
    }
  } catch {
    // not installed where Koa would find it
  }
  return undefined;
}

/**
 * The installed versions, resolved the way Koa resolves them: `on-finished`
 * from Koa's own folder, `ee-first` from `on-finished`'s.
 */
export function installedVersions(): Record<string, string | undefined> {
  const here = import.meta.url;
  const koa = versionOf('koa', here);
  const router = versionOf('@koa/router', here);
  const onFinished = koa ? versionOf('on-finished', koa.main) : undefined;
  const eeFirst = onFinished ? versionOf('ee-first', onFinished.main) : undefined;
  return {
    koa: koa?.version,
    '@koa/router': router?.version,
    'on-finished': onFinished?.version,
    'ee-first': eeFirst?.version,
  };
}

/** The dependencies whose installed `major.minor` differs from {@link WRITTEN_AGAINST}. */
export function versionMismatches(
  installed: Record<string, string | undefined> = installedVersions(),
): VersionMismatch[] {
  const out: VersionMismatch[] = [];
  for (const [name, expected] of Object.entries(WRITTEN_AGAINST)) {
    const version = installed[name];
    if (version === undefined) continue;
    const [major, minor] = version.split('.');
    if (`${major}.${minor}` !== expected) out.push({ name, expected, installed: version });
  }
  return out;
}

let versionsChecked = false;

/**
 * Once per process: warns `COMET_WARN_KOA_VERSION` when an installed Koa,
 * `@koa/router`, `on-finished` or `ee-first` is not the `major.minor` this
 * adapter was written against (its private-detail uses may no longer hold).
 * Returns what differed.
 */
export function checkKoaVersions(
  installed?: Record<string, string | undefined>,
): readonly VersionMismatch[] {
  if (versionsChecked && installed === undefined) return [];
  if (installed === undefined) versionsChecked = true;
  const mismatches = versionMismatches(installed);
  if (mismatches.length > 0) {
    const list = mismatches
      .map((m) => `${m.name} ${m.installed} (written against ${m.expected}.x)`)
      .join(', ');
    process.emitWarning(
      `koa-comet's Koa adapter relies on internals of ${list}; held requests, direct dispatch or WebSocket upgrades may misbehave until koa-comet is updated for them`,
      { type: 'CometWarning', code: 'COMET_WARN_KOA_VERSION' },
    );
  }
  return mismatches;
}

// ---------------------------------------------------------------------------
// Held requests: on-finished, ee-first, parseurl

type Callback = ((error: unknown, res: ServerResponse) => void) & { name: string };
interface Finishable {
  __onFinished?: ((error?: unknown) => void) & { queue?: Callback[] | null };
}

/** The name `ee-first` gives the listener closures it adds. */
export const EE_FIRST_LISTENER = 'onevent';

function dropWatchers(emitter: EventEmitter | null | undefined, events: readonly string[]): void {
  if (!emitter) return;
  for (const event of events) {
    for (const fn of emitter.listeners(event)) {
      if ((fn as { name?: string }).name === EE_FIRST_LISTENER)
        emitter.removeListener(event, fn as () => void);
    }
  }
}

/**
 * Hands `ctx.res` to the comet route: Koa will not answer it, and Koa's
 * own error hook (which holds the ctx) is dropped from `on-finished`.
 *
 * Why: Koa's per-request error hook pins the whole ctx graph (ctx,
 * request, response, router state) and, through `on-finished`, four
 * `ee-first` listener closures on the response and its socket — about
 * 2.5 KiB of heap per held request (`npm run bench`, "held"). The hold
 * drops them and, when the response closes, runs what else was queued on
 * `on-finished` (loggers, metrics) itself, exactly once.
 */
export function detachFromKoa(ctx: Context): void {
  ctx.respond = false;
  // Koa's parseurl cache (`ctx.path`, `ctx.query`): not needed once held.
  (ctx.req as { _parsedUrl?: unknown })._parsedUrl = undefined;
  const res = ctx.res as ServerResponse & Finishable;
  const queue = res.__onFinished?.queue;
  if (!queue) return;
  // Koa's handleRequest queues its hook (`(err) => ctx.onerror(err)`, wrapped
  // by on-finished in an AsyncResource bind, so nameless) before any
  // middleware runs: it is the first entry. Later entries are other
  // middleware's (loggers, metrics) and run at the end, see finishDetached.
  queue.shift();
  dropWatchers(res, ['end', 'finish']);
  // On HTTP/2 on-finished watched the stream (`res.socket` is a proxy that
  // hands `on` to the stream but reads everything else from the session's
  // socket): drop them there.
  dropWatchers((res as { stream?: EventEmitter }).stream ?? res.socket, ['error', 'close']);
  // Nothing else waits: drop the empty queue and its closure too. Else run
  // the rest when the response closes (a shared function: no closure).
  if (queue.length === 0) res.__onFinished = undefined;
  else res.once('close', runQueued);
}

function runQueued(this: ServerResponse): void {
  finishDetached(this);
}

/** Runs what is still queued on `on-finished` for `res` (once; later calls do nothing). */
function finishDetached(res: ServerResponse): void {
  const listener = (res as ServerResponse & Finishable).__onFinished;
  if (typeof listener === 'function') listener(undefined);
}

// ---------------------------------------------------------------------------
// Routing outside Koa's stack: @koa/router

/** What the router would run for a matched path. */
export interface RouteMatch {
  /** The first middleware the route was declared with (`router.get(path, handler)`). */
  readonly handler: unknown;
  /** The route's declared path (`ctx.routerPath`, `ctx._matchedRoute`). */
  readonly path: string;
  readonly params: Record<string, string>;
}

/** The first `method` (default GET) route of `router` matching `path` (a pathname), if any. */
export function matchRoute(router: Router, path: string, method = 'GET'): RouteMatch | undefined {
  const layer = router.match(path, method).pathAndMethod[0];
  const handler = layer?.stack[0];
  if (layer === undefined || handler === undefined) return undefined;
  return {
    handler,
    path: layer.path as string,
    params: layer.params(path, layer.captures(path), {}),
  };
}

/**
 * The first GET route of `router` matching `path` one of whose middleware
 * `pick` maps to a value, with that value and the route's params.
 */
export function matchUpgrade<T>(
  router: Router,
  path: string,
  pick: (handler: unknown) => T | undefined,
): { value: T; params: Record<string, string> } | undefined {
  for (const layer of router.match(path, 'GET').pathAndMethod) {
    for (const handler of layer.stack) {
      const value = pick(handler);
      if (value !== undefined) {
        return { value, params: layer.params(path, layer.captures(path), {}) };
      }
    }
  }
  return undefined;
}

/**
 * A Koa context for `req`/`res` made by `app` (so `app.context` additions,
 * `ctx.query`, `ctx.cookies` work) with what the router would have set.
 */
export function routedContext(
  app: Koa,
  req: IncomingMessage,
  res: ServerResponse,
  match: Pick<RouteMatch, 'params'> & { path?: string },
): RouterContext {
  const ctx = app.createContext(req, res) as RouterContext;
  ctx.params = match.params;
  if (match.path !== undefined) {
    ctx.routerPath = match.path;
    ctx._matchedRoute = match.path;
  }
  return ctx;
}

// ---------------------------------------------------------------------------
// Answering outside Koa's stack: Koa's respond() and the request listener

/**
 * Sends what a batch route left on `ctx` (a poll's body or 304, a coded
 * error's JSON), byte for byte as Koa's `respond()` would: it is not
 * exported. Covers null bodies, 304, strings, Buffers and JSON values —
 * what these routes produce — not streams.
 */
export function respondLikeKoa(ctx: Context): void {
  const res = ctx.res;
  if (ctx.respond === false || res.headersSent || res.writableEnded) return;
  const body = ctx.body;
  if (body == null || ctx.status === 304) {
    res.end();
    return;
  }
  const bytes = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  ctx.length = Buffer.byteLength(bytes);
  endWithBody(res, bytes);
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts `serve` in front of `server`'s request listeners (the Koa app's
 * `callback()`): a request `serve` answers (returns true) goes no further,
 * any other goes on to the listeners the server had. Returns false, and
 * changes nothing, when the server has no request listener yet.
 */
export function interceptRequests(
  server: AttachableServer,
  serve: (req: IncomingMessage, res: ServerResponse) => boolean,
): boolean {
  const listeners = server.listeners('request') as RequestListener[];
  if (listeners.length === 0) return false;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (serve(req, res)) return;
    for (const listener of listeners) listener.call(server, req, res);
  });
  return true;
}

// ---------------------------------------------------------------------------
// app.context

/**
 * Defines `name` on `app.context`, the prototype Koa makes every ctx from,
 * once (a second call for the same app does nothing).
 */
export function extendContext(app: Koa, name: string, value: unknown): void {
  const proto = app.context as object;
  if (Object.hasOwn(proto, name)) return;
  Object.defineProperty(proto, name, { value, configurable: true, writable: true });
}
