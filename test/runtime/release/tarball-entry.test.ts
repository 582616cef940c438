import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readTarballEntry, TarballError } from '../../../lib/runtime/release/tarball-entry.ts';

// Archives made by GNU tar, the way `npm run package` makes an artifact (and `sluice-install` unpacks it).

/** `tar -czf - -C <dir> <entries…>` over the files given, in the order given. */
function tarball(files: Readonly<Record<string, string | Buffer>>, entries = Object.keys(files)): Buffer {
  const directory = mkdtempSync(join(tmpdir(), 'sluice-tarball-'));
  for (const [name, contents] of Object.entries(files)) {
    mkdirSync(join(directory, name, '..'), { recursive: true });
    writeFileSync(join(directory, name), contents);
  }
  return execFileSync('tar', ['-czf', '-', '-C', directory, ...entries], { maxBuffer: 64 * 1024 * 1024 });
}

/** A stream of `bytes` in 16 KiB chunks that counts how many it handed out. */
function countingStream(bytes: Buffer): { stream: Readable; read: () => number } {
  let offset = 0;
  const stream = new Readable({
    read() {
      if (offset >= bytes.length) return void this.push(null);
      const chunk = bytes.subarray(offset, offset + 16_384);
      offset += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, read: () => offset };
}

const manifest = '{"version":"1.2.3","requiredMigration":4}\n';

describe('readTarballEntry', () => {
  it('reads the first entry and stops there, long before the end of a large archive', async () => {
    // Random bytes do not compress: the archive is as large as the bundle after the manifest.
    const archive = tarball({ 'manifest.json': manifest, 'server.mjs': randomBytes(4 * 1024 * 1024) });
    const { stream, read } = countingStream(archive);
    const entry = await readTarballEntry(stream, 'manifest.json');
    expect(entry?.toString('utf8')).toBe(manifest);
    expect(read()).toBeLessThan(archive.length / 10);
    expect(stream.destroyed).toBe(true);
  });

  it('finds an entry after others, whatever their sizes, and one written as ./name', async () => {
    const files = { 'a.bin': randomBytes(1_000_001), 'b/c.txt': 'x'.repeat(512), 'manifest.json': manifest };
    expect((await readTarballEntry(Readable.from([tarball(files)]), 'manifest.json'))?.toString('utf8')).toBe(manifest);
    const directory = mkdtempSync(join(tmpdir(), 'sluice-tarball-'));
    writeFileSync(join(directory, 'manifest.json'), manifest);
    const dotted = execFileSync('tar', ['-czf', '-', '-C', directory, '.']);
    expect((await readTarballEntry(Readable.from([dotted]), 'manifest.json'))?.toString('utf8')).toBe(manifest);
  });

  it('reads an empty file as empty, and a missing one as undefined', async () => {
    const archive = tarball({ 'empty.json': '', 'server.mjs': 'code' });
    expect(await readTarballEntry(Readable.from([archive]), 'empty.json')).toEqual(Buffer.alloc(0));
    expect(await readTarballEntry(Readable.from([archive]), 'manifest.json')).toBeUndefined();
  });

  it('refuses what is not a gzipped tar: plain bytes, gzipped non-tar, a truncated archive, an entry above the limit', async () => {
    const refused = (bytes: Buffer, maxBytes?: number) => readTarballEntry(Readable.from([bytes]), 'manifest.json', maxBytes);
    await expect(refused(Buffer.from('{"version":"1.2.3"}'))).rejects.toThrow(/^not a gzipped tar archive: /);
    await expect(refused(gzipSync(Buffer.from('x'.repeat(2048))))).rejects.toThrow(new TarballError('a header fails its checksum'));
    const archive = tarball({ 'server.mjs': randomBytes(100_000), 'manifest.json': manifest });
    await expect(refused(archive.subarray(0, archive.length / 2))).rejects.toBeInstanceOf(TarballError);
    await expect(refused(tarball({ 'manifest.json': manifest }), 10)).rejects.toThrow(`manifest.json is ${manifest.length} bytes, more than the 10 allowed`);
  });

  it('passes on an error of the source stream', async () => {
    const failing = new Readable({ read() { this.destroy(new Error('connection reset')); } });
    await expect(readTarballEntry(failing, 'manifest.json')).rejects.toThrow(/connection reset/);
  });
});
