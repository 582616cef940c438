// A received message while this worker holds it: from the receive until it is deleted, handed back,
// or given up. Its visibility clock runs the whole time, so the heartbeat watches every lease.
import type { Message } from '@aws-sdk/client-sqs';
import { receiveCountOf } from './queue-message.ts';

/** SQS's limit on a message's total visibility timeout per receive. */
export const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

/** Kept off the 12-hour limit so that clock skew and call latency never push a request past it. */
const LIMIT_SAFETY_SECONDS = 10;

export interface MessageLease {
  readonly message: Message;
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly receiveCount: number;
  /** FIFO queues only. */
  readonly messageGroupId: string | undefined;
  /**
   * When the receive call that brought the message was sent. SQS took the message at this moment or
   * later, so timing visibility from here errs on the early side, never the late one.
   */
  readonly receiveRequestedAt: number;
  /** When SQS makes the message visible again unless extended (epoch milliseconds, estimated early). */
  visibleAt: number;
}

export function createLease(message: Message, receiveRequestedAt: number, visibilityTimeoutSeconds: number): MessageLease {
  return {
    message,
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    receiveCount: receiveCountOf(message),
    messageGroupId: message.Attributes?.MessageGroupId,
    receiveRequestedAt,
    visibleAt: receiveRequestedAt + visibilityTimeoutSeconds * 1000,
  };
}

/** The longest visibility timeout SQS still accepts for this lease at `now`, in whole seconds (0 when none). */
export function visibilitySecondsLeft(lease: MessageLease, now: number): number {
  const heldSeconds = Math.ceil((now - lease.receiveRequestedAt) / 1000);
  return Math.max(0, MAX_VISIBILITY_SECONDS - LIMIT_SAFETY_SECONDS - heldSeconds);
}
