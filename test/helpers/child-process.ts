// The tests use the sandbox's stand-in: see lib/runtime/sandbox/child-process.ts.
export * from '../../lib/runtime/sandbox/child-process.ts';
