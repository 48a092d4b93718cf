import type { IncomingMessage } from "node:http";
import { pipeline, type Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { AppError } from "../lib/errors.ts";

/**
 * The batch body as it was meant, decoded per `Content-Encoding` (gzip, deflate, br; a big batch compresses ~10×).
 * express.json() does this for the other routes; the batch route streams its body itself. A body that does not
 * match its encoding fails the read with a zlib error (`Z_…`), which the error handler answers with 400.
 */
export function decodedBody(req: IncomingMessage): AsyncIterable<Buffer> {
  const enc = String(req.headers["content-encoding"] ?? "identity")
    .trim()
    .toLowerCase();
  const decoder = enc === "gzip" || enc === "x-gzip" ? createGunzip() : enc === "deflate" ? createInflate() : enc === "br" ? createBrotliDecompress() : null;
  if (enc === "identity" || enc === "") return req;
  if (!decoder)
    throw new AppError("unsupported_media_type", `unsupported Content-Encoding ${JSON.stringify(enc.slice(0, 40))} (gzip, deflate, br or identity)`);
  // pipeline: an aborted request destroys the decoder too, so the reader's loop ends with the abort's error.
  return pipeline(req, decoder, () => {}) as Readable;
}
