/** Reading a streamed fetch body in the integration tests. */

/**
 * Reads `body` until `done(text)` is true for the text so far (or the body
 * ends), then cancels it so the server sees the client leave.
 */
export async function readUntil(
  body: ReadableStream<Uint8Array>,
  done: (text: string) => boolean,
): Promise<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!done(text)) {
    const { value, done: end } = await reader.read();
    if (end) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}
