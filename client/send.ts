/**
 * `subscription.send(data)`: publishes on the open WebSocket when there is
 * one (a `{"op":"publish"}` frame, answered by an ack carrying the id), else
 * by `POST` to the publish route. Either way the result is `{ id }`, or a
 * {@link SendError} with the server's `COMET_ERR_…` code.
 */

/** What a send resolves with: the id the message got (the id every transport delivers). */
export interface SendResult {
  readonly id: string;
}

/** A refused or failed send: `code` is the server's `COMET_ERR_…` code, or `COMET_CLIENT_…`. */
export class SendError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'SendError';
    this.code = code;
  }
}

/** Publishes one value on a connection; `undefined` when it has no socket to publish on. */
export type SocketPublish = (data: unknown) => Promise<SendResult> | undefined;

interface Pending {
  resolve(result: SendResult): void;
  reject(error: SendError): void;
}

/**
 * The publishes in flight on one WebSocket, matched to their answers by `ref`.
 * `answer()` takes the ack and error frames (true when the frame was one).
 */
export class AckTable {
  readonly #pending = new Map<string, Pending>();
  #next = 0;

  /** Sends a publish frame on `ws` and waits for its answer. */
  publish(ws: WebSocket, data: unknown): Promise<SendResult> {
    this.#next += 1;
    const ref = `c${this.#next}`;
    return new Promise((resolve, reject) => {
      this.#pending.set(ref, { resolve, reject });
      ws.send(JSON.stringify({ op: 'publish', ref, data }));
    });
  }

  /** Settles the publish a frame answers; false when the frame is no answer. */
  answer(text: string): boolean {
    if (!text.startsWith('{"op":')) return false;
    let frame: {
      op?: unknown;
      ref?: unknown;
      id?: unknown;
      error?: { code?: unknown; message?: unknown };
    };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      return false;
    }
    const pending = typeof frame.ref === 'string' ? this.#pending.get(frame.ref) : undefined;
    if (pending === undefined || typeof frame.ref !== 'string') return frame.op !== undefined;
    this.#pending.delete(frame.ref);
    if (frame.op === 'ack' && typeof frame.id === 'string') pending.resolve({ id: frame.id });
    else pending.reject(new SendError(String(frame.error?.code), String(frame.error?.message)));
    return true;
  }

  /** The socket closed: what was not answered may or may not have been published. */
  fail(): void {
    for (const pending of this.#pending.values()) {
      pending.reject(
        new SendError(
          'COMET_CLIENT_CONNECTION_LOST',
          'The WebSocket closed before the server answered: the message may have been published',
        ),
      );
    }
    this.#pending.clear();
  }
}

/** `POST`s `data` as JSON to the publish route; resolves with `{ id }` from its 201. */
export async function postPublish(
  url: string,
  data: unknown,
  withCredentials: boolean,
): Promise<SendResult> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
    credentials: withCredentials ? 'include' : 'same-origin',
  });
  const body = (await res.json().catch(() => null)) as {
    id?: unknown;
    error?: { code?: unknown; message?: unknown };
  } | null;
  if (res.ok && typeof body?.id === 'string') return { id: body.id };
  throw new SendError(
    String(body?.error?.code ?? `HTTP_${res.status}`),
    String(body?.error?.message ?? res.statusText),
  );
}

/**
 * Sends on the socket when `viaSocket` has one, else (or when the route
 * takes no publishes on its socket) by POST to `url`.
 */
export async function send(
  viaSocket: SocketPublish,
  url: string,
  data: unknown,
  withCredentials: boolean,
): Promise<SendResult> {
  const onSocket = viaSocket(data);
  if (onSocket === undefined) return postPublish(url, data, withCredentials);
  try {
    return await onSocket;
  } catch (error) {
    if (error instanceof SendError && error.code === 'COMET_ERR_PUBLISH_DISABLED') {
      return postPublish(url, data, withCredentials);
    }
    throw error;
  }
}
