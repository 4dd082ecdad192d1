import { STATUS_CODES } from "node:http";

/**
 * A complete HTTP response in Docker's own error shape, `{"message": "..."}`, which every Docker
 * client prints as it would print an error from the engine.
 */
export function dockerErrorResponse(
  status: number,
  message: string,
  options: { close: boolean; headRequest?: boolean },
): Buffer {
  const body = `${JSON.stringify({ message })}\n`;
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
    "Content-Type: application/json\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    (options.close ? "Connection: close\r\n" : "") +
    "\r\n";
  // A HEAD answer says how long the body would be, but never carries it.
  return Buffer.from(options.headRequest ? head : head + body, "utf8");
}
