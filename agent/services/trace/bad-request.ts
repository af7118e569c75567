/**
 * The error a trace decoder throws for a request it refuses: the receiver answers
 * it with its status, and the worker threads pass it back by value.
 */
/** A client error with the HTTP status and a bounded `reason` label. */
export class BadRequest extends Error {
  constructor(
    readonly status: number,
    readonly reason: 'bad_payload' | 'unsupported_media_type' | 'unsupported_format' | 'too_many_spans',
    message: string,
  ) {
    super(message);
  }
}
