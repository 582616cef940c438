// Lambda hands SQS messages over as event records, whose fields differ from the SDK's Message
// (camelCase names, binary attributes as base64 text). Turning a record into a Message lets the
// Lambda consumer build the handler's QueueMessage exactly as the instance worker does.
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSMessageAttribute, SQSRecord } from 'aws-lambda';

/** The SDK's view of a message delivered to Lambda in an SQS event. */
export function recordToMessage(record: SQSRecord): Message {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.attributes)) {
    if (typeof value === 'string') attributes[name] = value;
  }
  const messageAttributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
    messageAttributes[name] = toMessageAttributeValue(value);
  }
  return {
    MessageId: record.messageId,
    ReceiptHandle: record.receiptHandle,
    Body: record.body,
    MD5OfBody: record.md5OfBody,
    Attributes: attributes,
    MessageAttributes: messageAttributes,
  };
}

/** FIFO queues' names (and so their ARNs) end in `.fifo`. */
export function isFifoRecord(record: SQSRecord): boolean {
  return record.eventSourceARN?.endsWith('.fifo') ?? false;
}

function toMessageAttributeValue(attribute: SQSMessageAttribute): MessageAttributeValue {
  return {
    DataType: attribute.dataType,
    ...(attribute.stringValue === undefined ? {} : { StringValue: attribute.stringValue }),
    ...(attribute.binaryValue === undefined ? {} : { BinaryValue: fromBase64(attribute.binaryValue) }),
    ...(attribute.stringListValues?.length ? { StringListValues: attribute.stringListValues } : {}),
    ...(attribute.binaryListValues?.length ? { BinaryListValues: attribute.binaryListValues.map(fromBase64) } : {}),
  };
}

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}
