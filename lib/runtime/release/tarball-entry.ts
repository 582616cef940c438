// Reads one file out of a gzipped tar stream without unpacking the rest: `sluice release` needs only
// an artifact's manifest.json, which packageRelease writes first (the entries are sorted), so it
// stops after the first few kilobytes of a download of many megabytes.
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

const BLOCK = 512;

/** The stream is not a gzipped tar archive, or the entry is larger than allowed. */
export class TarballError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TarballError';
  }
}

/**
 * The contents of the regular file `entryName` (`manifest.json` and `./manifest.json` alike) in the
 * gzipped tar `source`, or undefined when the archive has no such entry. Reading stops, and
 * `source` is destroyed, as soon as the entry is read.
 */
export async function readTarballEntry(source: Readable, entryName: string, maxBytes = 1_048_576): Promise<Buffer | undefined> {
  const gunzip = createGunzip();
  source.on('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0;
  let capture: number | undefined;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      for (;;) {
        if (skip > 0) {
          const skipped = Math.min(skip, pending.length);
          pending = pending.subarray(skipped);
          skip -= skipped;
          if (skip > 0) break;
        }
        if (capture !== undefined) {
          if (pending.length < capture) break;
          return Buffer.from(pending.subarray(0, capture));
        }
        if (pending.length < BLOCK) break;
        const header = pending.subarray(0, BLOCK);
        pending = pending.subarray(BLOCK);
        // Two zero blocks end the archive; the first is enough to know the entry is not in it.
        if (header.every((byte) => byte === 0)) return undefined;
        const entry = parseHeader(header);
        const isFile = entry.type === '0' || entry.type === '\0';
        if (isFile && entry.name.replace(/^\.\//, '') === entryName) {
          if (entry.size > maxBytes) throw new TarballError(`${entryName} is ${entry.size} bytes, more than the ${maxBytes} allowed`);
          capture = entry.size;
        } else {
          skip = Math.ceil(entry.size / BLOCK) * BLOCK;
        }
      }
    }
  } catch (error) {
    if (error instanceof TarballError) throw error;
    throw new TarballError(`not a gzipped tar archive: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    source.unpipe(gunzip);
    source.destroy();
    gunzip.destroy();
  }
  if (capture !== undefined || pending.length > 0 || skip > 0) throw new TarballError('the archive ends in the middle of an entry');
  return undefined;
}

function parseHeader(header: Buffer): { name: string; size: number; type: string } {
  const text = (start: number, length: number) => {
    const field = header.subarray(start, start + length);
    const end = field.indexOf(0);
    return field.subarray(0, end === -1 ? length : end).toString('utf8');
  };
  // The checksum counts its own field as spaces: a header that fails it is not tar.
  const stored = Number.parseInt(text(148, 8).trim(), 8);
  let sum = 0;
  for (let index = 0; index < BLOCK; index += 1) sum += index >= 148 && index < 156 ? 0x20 : header[index];
  if (stored !== sum) throw new TarballError('a header fails its checksum');
  const size = Number.parseInt(text(124, 12).trim() || '0', 8);
  if (!Number.isSafeInteger(size) || size < 0) throw new TarballError('a header has an invalid size');
  // ustar keeps the start of a long path in its prefix field.
  const prefix = text(257, 6).startsWith('ustar') ? text(345, 155) : '';
  const name = text(0, 100);
  return { name: prefix ? `${prefix}/${name}` : name, size, type: String.fromCharCode(header[156]) };
}
