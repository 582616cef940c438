// The handler contract, shared by the instance worker and the Lambda variant: a handler gets one
// message and an abort signal; resolving means done (the message is deleted), throwing means failed
// (the message is retried later, and after maxReceiveCount receives SQS moves it to the DLQ).
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import { MessageParseError } from './errors.ts';

export interface QueueMessage<Body = string> {
  readonly messageId: string;
  /** The body after `parse` (the raw text unless a parser is configured). */
  readonly body: Body;
  readonly rawBody: string;
  /** How many times SQS has handed this message out, this time included (1 on the first try). */
  readonly receiveCount: number;
  /** FIFO queues only. */
  readonly messageGroupId?: string;
  /** When the producer sent the message. */
  readonly sentAt?: Date;
  /** SQS system attributes as received (e.g. `SentTimestamp`, `AWSTraceHeader`). */
  readonly attributes: Readonly<Record<string, string>>;
  readonly messageAttributes: Readonly<Record<string, MessageAttributeValue>>;
}

export interface HandlerContext {
  /**
   * Aborted when the handler runs past its timeout or past the stop deadline; pass it to every call
   * that accepts one (fetch, SDK `abortSignal`) so the handler ends promptly.
   */
  readonly signal: AbortSignal;
  readonly receiveCount: number;
}

export type QueueHandler<Body = string> = (message: QueueMessage<Body>, context: HandlerContext) => Promise<void>;

/**
 * How a body becomes `message.body`: `'text'` leaves it as it is, `'json'` runs JSON.parse, a
 * function does anything else (and may validate: throwing marks the message unparseable).
 */
export type BodyParser<Body> = 'text' | 'json' | ((rawBody: string) => Body);

/** Parses `rawBody`, turning any failure into a MessageParseError. */
export function parseBody<Body>(messageId: string, rawBody: string, parser: BodyParser<Body>): Body {
  if (parser === 'text') return rawBody as Body;
  try {
    return (parser === 'json' ? JSON.parse(rawBody) : parser(rawBody)) as Body;
  } catch (error) {
    throw new MessageParseError(messageId, error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** The receive count SQS reported; 1 when it is missing (SQS always sends it when asked). */
export function receiveCountOf(message: Message): number {
  const count = Number(message.Attributes?.ApproximateReceiveCount);
  return Number.isInteger(count) && count > 0 ? count : 1;
}

/** Builds the handler's view of an SDK message, with `body` parsed. */
export function toQueueMessage<Body>(message: Message, parser: BodyParser<Body>): QueueMessage<Body> {
  const messageId = message.MessageId ?? '';
  const rawBody = message.Body ?? '';
  const attributes = message.Attributes ?? {};
  const sentTimestamp = Number(attributes.SentTimestamp);
  return {
    messageId,
    body: parseBody(messageId, rawBody, parser),
    rawBody,
    receiveCount: receiveCountOf(message),
    ...(attributes.MessageGroupId ? { messageGroupId: attributes.MessageGroupId } : {}),
    ...(Number.isFinite(sentTimestamp) && sentTimestamp > 0 ? { sentAt: new Date(sentTimestamp) } : {}),
    attributes,
    messageAttributes: message.MessageAttributes ?? {},
  };
}
