// The example work handler's one side effect: POSTing a job to an external HTTP API, bounded by a
// timeout, with every failure classified as retryable (try again later) or permanent (this request
// will not succeed as it is). Either way the call throws, and the queue retries: see work-handler.ts.

/** A call to the external API that did not succeed; `reasonCode` says how, `retryable` whether waiting helps. */
export class ExternalApiError extends Error {
  /** `timeout`, `network`, or `http-<status>`. */
  readonly reasonCode: string;
  /** True for timeouts, network failures, 408, 429 and 5xx; false for any other answer. */
  readonly retryable: boolean;
  /** The HTTP status, when the API answered. */
  readonly status?: number;

  constructor(message: string, details: { reasonCode: string; retryable: boolean; status?: number; cause?: unknown }) {
    super(message, { cause: details.cause });
    this.name = 'ExternalApiError';
    this.reasonCode = details.reasonCode;
    this.retryable = details.retryable;
    if (details.status !== undefined) this.status = details.status;
  }
}

export interface ExternalApiRequest {
  readonly url: URL;
  /** The JSON document to send, as text. */
  readonly body: string;
  /**
   * Sent as `Idempotency-Key`: the same for every delivery of one queue message (its message id),
   * so an API that honours the header performs a redelivered job once.
   */
  readonly idempotencyKey: string;
  /** The caller's own signal (the handler's): aborting it aborts the call and rethrows its reason. */
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

/** Statuses worth trying again later: the API is overloaded, rate-limiting, or failing on its side. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Resolves with the status of a 2xx answer; throws ExternalApiError otherwise. */
export async function postToExternalApi(request: ExternalApiRequest): Promise<number> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const where = `POST ${request.url.origin}${request.url.pathname}`;
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': request.idempotencyKey },
      body: request.body,
      // A redirect means the configured URL is out of date; following it would turn the POST into a GET.
      redirect: 'manual',
      signal: AbortSignal.any([request.signal, timeout]),
    });
  } catch (error) {
    throw failure(where, error, request.signal, timeout, request.timeoutMs);
  }
  // Read (or drop) the answer so that the connection can be reused.
  const answer = await response.text().catch(() => '');
  if (response.status >= 200 && response.status < 300) return response.status;
  const retryable = isRetryableStatus(response.status);
  const excerpt = answer.length > 200 ? `${answer.slice(0, 200)}…` : answer;
  throw new ExternalApiError(
    `${where} answered ${response.status}${excerpt ? `: ${excerpt}` : ''}${retryable ? '' : ' (permanent: the same request would fail again)'}`,
    { reasonCode: `http-${response.status}`, retryable, status: response.status },
  );
}

/** The error a failed fetch becomes: the caller's abort as it is, our timeout, or a network failure. */
function failure(where: string, error: unknown, callerSignal: AbortSignal, timeout: AbortSignal, timeoutMs: number): unknown {
  if (callerSignal.aborted) return callerSignal.reason;
  if (timeout.aborted) return new ExternalApiError(`${where} did not answer within ${timeoutMs} ms`, { reasonCode: 'timeout', retryable: true, cause: error });
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message ?? (error as Error).message;
  return new ExternalApiError(`${where} failed: ${detail}`, { reasonCode: 'network', retryable: true, cause: error });
}
