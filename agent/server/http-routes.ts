/**
 * How inputs expose HTTP endpoints on the agent's server.
 *
 * Fastify cannot add routes after it is listening, and hot reload starts and
 * stops HTTP inputs at run time, so the core owns one dispatch table: routes are
 * added and removed at any time and looked up per request. The core handles
 * body limits, gzip/deflate request bodies (with a decompressed-size cap) and
 * memory back-pressure (503 + Retry-After) before a handler runs.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface HttpRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Raw body, already decompressed when Content-Encoding was gzip/deflate. */
  body: Buffer;
  remoteAddress: string;
}

export interface HttpResponse {
  status: number;
  /** An object is sent as JSON. */
  body?: string | Buffer | object;
  headers?: Record<string, string>;
}

export type HttpHandler = (req: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export interface RouteOptions {
  /**
   * Max body size in bytes (after decompression), sized to what the route
   * carries (a trace batch is not a stats post). Default: the server's limit;
   * never more. A declared Content-Length over it is answered 413 before the
   * body is read.
   */
  bodyLimit?: number;
}

export interface HttpRoutes {
  /**
   * Registers `handler` for the methods on the exact path. Throws if the path
   * is already taken for one of the methods. Returns a function that removes it.
   */
  route(methods: string[], path: string, handler: HttpHandler, opts?: RouteOptions): () => void;
}
