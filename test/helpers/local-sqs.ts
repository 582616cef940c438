// The tests use the sandbox's stand-in: see lib/runtime/sandbox/local-sqs.ts.
export * from '../../lib/runtime/sandbox/local-sqs.ts';
