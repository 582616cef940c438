import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FileReleaseStore, RELEASE_STATE_FILE, ReleaseStateFileError } from '../../../../lib/runtime/release/local/file-release-store.ts';
import { pidNamespace } from '../../../../lib/runtime/release/local/local-process.ts';
import type { LockAttempt } from '../../../../lib/runtime/release/ports.ts';
import { acquired, describeReleaseStoreContract, holder, NOW, release, TTL } from '../release-store-contract.ts';

const directories: string[] = [];

afterEach(async () => {
  await Promise.all(directories.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A store in a fresh state directory that does not exist yet (the first change creates it). */
async function freshStore(props: { mutexWaitMs?: number; historyLimit?: number } = {}): Promise<{ store: FileReleaseStore; stateDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-store-'));
  directories.push(dir);
  const stateDir = join(dir, 'state');
  return { store: new FileReleaseStore({ stateDir, ...props }), stateDir };
}

describeReleaseStoreContract(async () => (await freshStore()).store);

describe('FileReleaseStore', () => {
  it('lets exactly one of ten stores over the same directory win the lock, as separate CLI runs would be', async () => {
    const { stateDir } = await freshStore();

    const attempts = await Promise.all(
      Array.from({ length: 10 }, (_, index) => new FileReleaseStore({ stateDir }).tryAcquireLock(holder(`r${index}`), TTL, NOW)),
    );

    const winners = attempts.filter((attempt) => attempt.acquired);
    expect(winners).toHaveLength(1);
    const winner = acquired(winners[0]!);
    for (const attempt of attempts) if (!attempt.acquired) expect(attempt.heldBy).toEqual(winner);
    expect(await new FileReleaseStore({ stateDir }).readLock()).toEqual(winner);
  });

  it('lets exactly one of four processes that ask at once win the lock', async () => {
    const { stateDir } = await freshStore();
    const moduleUrl = new URL('../../../../lib/runtime/release/local/file-release-store.ts', import.meta.url).href;
    const racer = (releaseId: string) =>
      new Promise<LockAttempt>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', `const { FileReleaseStore } = await import(${JSON.stringify(moduleUrl)});
            const store = new FileReleaseStore({ stateDir: process.env.STATE_DIR });
            // Start together: each waits for the same moment before asking.
            await new Promise((resolve) => setTimeout(resolve, Number(process.env.AT) - Date.now()));
            console.log(JSON.stringify(await store.tryAcquireLock(JSON.parse(process.env.HOLDER), ${TTL}, ${NOW})));`],
          {
            env: { ...process.env, STATE_DIR: stateDir, HOLDER: JSON.stringify(holder(releaseId)), AT: String(Date.now() + 1_500) },
            stdio: ['ignore', 'pipe', 'inherit'],
            cwd: fileURLToPath(new URL('../../../..', import.meta.url)),
          },
        );
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(output) as LockAttempt) : reject(new Error(`racer ${releaseId} exited with ${code}`))));
      });

    const attempts = await Promise.all(['p1', 'p2', 'p3', 'p4'].map(racer));

    const winners = attempts.filter((attempt) => attempt.acquired);
    expect(winners).toHaveLength(1);
    expect(attempts.filter((attempt) => !attempt.acquired).map((attempt) => !attempt.acquired && attempt.heldBy)).toEqual(
      Array(3).fill(acquired(winners[0]!)),
    );
  });

  it('keeps only historyLimit releases, the newest', async () => {
    const { store } = await freshStore({ historyLimit: 3 });
    for (const [id, startedAt] of [['oldest', NOW], ['newest', NOW + 40_000], ['old', NOW + 10_000], ['middle', NOW + 20_000]] as const) {
      await store.finishRelease(release(id, startedAt, { finishedAt: startedAt + 1, outcome: 'succeeded' }));
    }

    expect((await store.listHistory(10)).map((record) => record.releaseId)).toEqual(['newest', 'middle', 'old']);
  });
});

describe('state file', () => {
  it('starts empty when there is none yet, and leaves no temporary files behind', async () => {
    const { store, stateDir } = await freshStore();

    expect(await store.readLock()).toBeUndefined();
    expect(await store.readJournal()).toBeUndefined();
    expect(await store.listQueue(NOW)).toEqual([]);
    expect(await store.listHistory(5)).toEqual([]);

    await store.tryAcquireLock(holder('a'), TTL, NOW);
    await store.joinQueue(holder('b'), NOW, TTL);
    expect(await readdir(stateDir)).toEqual([RELEASE_STATE_FILE]);
    expect(JSON.parse(await readFile(join(stateDir, RELEASE_STATE_FILE), 'utf8'))).toMatchObject({ format: 1, lock: { releaseId: 'a' }, queue: [{ releaseId: 'b' }] });
  });

  it.each([
    ['not JSON', '{"format": 1, "lock": {', /it is not valid JSON/],
    ['another format', '{"format": 2, "queue": [], "history": []}', /it is not a format-1 release state/],
  ])('refuses a state file that is %s, names it and says what to do, and changes nothing', async (_, content, problem) => {
    const { store, stateDir } = await freshStore();
    await store.tryAcquireLock(holder('a'), TTL, NOW);
    const path = join(stateDir, RELEASE_STATE_FILE);
    await writeFile(path, content);

    for (const operation of [() => store.readLock(), () => store.tryAcquireLock(holder('b'), TTL, NOW), () => store.readJournal()]) {
      const error = await operation().then(() => undefined, (failure: unknown) => failure);
      expect(error).toBeInstanceOf(ReleaseStateFileError);
      expect(error).toMatchObject({ reasonCode: 'ReleaseState.Corrupt', path });
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).toMatch(/check that no release is running and every target serves, then move the file aside/);
    }
    expect(await readFile(path, 'utf8')).toBe(content);
  });
});

describe('mutex', () => {
  it('removes the mutex of a process that died holding it, at once', async () => {
    const { store, stateDir } = await freshStore();
    await store.tryAcquireLock(holder('a'), TTL, NOW);
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.once('exit', resolve));
    await writeFile(join(stateDir, `${RELEASE_STATE_FILE}.mutex`), `${dead.pid} ${pidNamespace()}\n`);

    const startedAt = Date.now();
    expect(await store.tryAcquireLock(holder('b'), TTL, NOW + TTL + 1)).toMatchObject({ acquired: true });
    expect(Date.now() - startedAt).toBeLessThan(1_000);
  });

  it('waits for a live owner, then gives up naming it', async () => {
    const { store, stateDir } = await freshStore({ mutexWaitMs: 200 });
    await store.readLock();
    await store.tryAcquireLock(holder('a'), TTL, NOW);
    const namespace = pidNamespace();
    await writeFile(join(stateDir, `${RELEASE_STATE_FILE}.mutex`), `${process.pid} ${namespace}\n`);

    await expect(store.tryAcquireLock(holder('a'), TTL, NOW)).rejects.toMatchObject({
      name: 'ReleaseStateFileError',
      reasonCode: 'ReleaseState.MutexHeld',
      message: expect.stringContaining(`stayed held for 200 ms (owner: ${process.pid} ${namespace}); if that process is not a sluice command that is still running, delete the mutex file and rerun`),
    });
  });

  it('removes a mutex whose owner it cannot check once it is 10 s old', async () => {
    const { store, stateDir } = await freshStore({ mutexWaitMs: 200 });
    await store.tryAcquireLock(holder('a'), TTL, NOW);
    const mutex = join(stateDir, `${RELEASE_STATE_FILE}.mutex`);
    await writeFile(mutex, '4242 pid:[another-namespace]\n');

    await expect(store.releaseLock({ ...holder('a'), acquiredAt: NOW, heartbeatAt: NOW, expiresAt: NOW + TTL })).rejects.toMatchObject({ reasonCode: 'ReleaseState.MutexHeld' });
    const elevenSecondsAgo = new Date(Date.now() - 11_000);
    await utimes(mutex, elevenSecondsAgo, elevenSecondsAgo);
    await store.releaseLock({ ...holder('a'), acquiredAt: NOW, heartbeatAt: NOW, expiresAt: NOW + TTL });
    expect(await store.readLock()).toBeUndefined();
  });
});
