// The tests use the sandbox's stand-in: see lib/runtime/sandbox/kinesalite.ts.
export * from '../../lib/runtime/sandbox/kinesalite.ts';
