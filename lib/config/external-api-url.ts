// The stage's externalApiUrl, checked at synth: it travels as EXTERNAL_API_URL through the instances'
// user data (a heredoc into /etc/sluice/env, read by systemd) and the Lambda consumer's environment,
// and the work handler refuses anything but https at start-up, so a mistake here would only show
// once instances crash-loop.

/** Printable ASCII, no space: what a URL is once percent-encoded. */
const PRINTABLE_ASCII = /^[\x21-\x7E]+$/;
/** What a shell heredoc or a systemd EnvironmentFile line could read as more than a character. */
const QUOTING_CHARACTERS = /["'\\$`]/;

/** Every problem with `value` as an externalApiUrl; none when it is unset. */
export function externalApiUrlProblems(value: string | undefined): string[] {
  if (value === undefined) return [];
  if (!PRINTABLE_ASCII.test(value) || QUOTING_CHARACTERS.test(value)) {
    return [`externalApiUrl must be printable ASCII without spaces, quotes, backslashes, "$" or "\`" (percent-encode the rest) (given ${JSON.stringify(value)})`];
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [`externalApiUrl must be an absolute https URL such as https://api.example.com/jobs (given ${JSON.stringify(value)})`];
  }
  const problems: string[] = [];
  if (url.protocol !== 'https:') problems.push(`externalApiUrl must be an https URL: jobs leave the VPC for the internet (given ${JSON.stringify(value)})`);
  if (url.username !== '' || url.password !== '') {
    // Not echoed: the value holds a secret.
    problems.push('externalApiUrl must not hold a user name or password: the URL is written into the instances\' user data in plain text (given a URL with credentials)');
  }
  return problems;
}
