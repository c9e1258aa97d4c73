/** An HTTP error with its status; `juxta serve` answers it as {error, status} JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
