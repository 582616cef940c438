// Reading a JSON request body without trusting it: the content type is checked before a byte is
// read, the size is capped while reading (a huge body is refused, never buffered whole), and the
// text must be UTF-8 JSON. Each refusal carries the status and a message that says what to send.
import type { IncomingMessage } from 'node:http';

export type JsonBody =
  | { readonly ok: true; /** The body exactly as sent. */ readonly text: string; readonly value: unknown }
  | { readonly ok: false; readonly status: 400 | 413 | 415; readonly error: string }
  /** The client went away before the body was complete: there is no one to answer. */
  | { readonly ok: false; readonly status: 'aborted' };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads and parses the body of `request`, refusing more than `maxBytes`. */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<JsonBody> {
  const contentType = request.headers['content-type'];
  if (!isJsonContentType(contentType)) {
    return { ok: false, status: 415, error: `Content-Type must be application/json (given ${contentType === undefined ? 'none' : JSON.stringify(contentType)})` };
  }
  const tooLarge = { ok: false, status: 413, error: `the body must be at most ${maxBytes} bytes` } as const;
  const declared = Number(request.headers['content-length']);
  // Refused on the header alone: nothing of a body announced as too large is read.
  if (Number.isFinite(declared) && declared > maxBytes) return { ...tooLarge, error: `${tooLarge.error} (given ${declared})` };

  const bytes = await readCapped(request, maxBytes);
  if (bytes === 'aborted') return { ok: false, status: 'aborted' };
  if (bytes === 'too-large') return tooLarge;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, status: 400, error: 'the body must be UTF-8 encoded JSON (it is not valid UTF-8)' };
  }
  if (text.trim() === '') return { ok: false, status: 400, error: 'the body is empty: send a JSON object' };
  try {
    return { ok: true, text, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, status: 400, error: `the body is not valid JSON: ${(error as Error).message}` };
  }
}

/** `application/json`, optionally with `charset=utf-8` (JSON is UTF-8 by definition, RFC 8259). */
function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [mediaType, ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  if (mediaType !== 'application/json') return false;
  return parameters.every((parameter) => !parameter.startsWith('charset=') || parameter.replace(/"/g, '') === 'charset=utf-8');
}

/**
 * The body's bytes, or 'too-large' as soon as more than `maxBytes` arrived. The rest is then left
 * unread: the caller answers 413 with `Connection: close`, and Node.js discards it and closes.
 */
function readCapped(request: IncomingMessage, maxBytes: number): Promise<Uint8Array | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (result: Uint8Array | 'too-large' | 'aborted') => {
      request.off('data', onData).off('end', onEnd).off('error', onAborted).off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        settle('too-large');
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle(Buffer.concat(chunks, size));
    const onAborted = () => settle('aborted');
    const onClose = () => {
      if (!request.complete) settle('aborted');
    };
    request.on('data', onData).once('end', onEnd).once('error', onAborted).once('close', onClose);
  });
}
