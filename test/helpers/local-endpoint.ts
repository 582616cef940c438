// The tests use the sandbox's stand-in: see lib/runtime/sandbox/local-endpoint.ts.
export * from '../../lib/runtime/sandbox/local-endpoint.ts';
