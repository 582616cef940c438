// kinesalite and dynalite in a process of their own, for the stream bench: the consumer being
// measured then shares its event loop with nobody, as against AWS. Prints one JSON line
// `{"kinesis": "<endpoint>", "dynamodb": "<endpoint>"}` and stops when its standard input closes.
import { startDynalite } from './dynalite.ts';
import { startKinesalite } from './kinesalite.ts';

const [kinesis, dynamo] = await Promise.all([startKinesalite(), startDynalite()]);
process.stdout.write(`${JSON.stringify({ kinesis: kinesis.endpoint, dynamodb: dynamo.endpoint })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void Promise.all([kinesis.stop(), dynamo.stop()]).then(() => process.exit(0));
});
