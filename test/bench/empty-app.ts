// The baseline app for `npm run bench:synth`: one empty stack.
import { App, Stack } from 'aws-cdk-lib';

const app = new App();
new Stack(app, 'Empty');
