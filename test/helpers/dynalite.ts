// The tests use the sandbox's stand-in: see lib/runtime/sandbox/dynalite.ts.
export * from '../../lib/runtime/sandbox/dynalite.ts';
