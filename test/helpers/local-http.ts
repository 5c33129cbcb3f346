/** A node:http server on a free local port for the tests of one file: started before them, closed after. */
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll } from "vitest";

/** Serves `handler`; returns the base URL (`http://127.0.0.1:<port>`), known once the tests run. */
export function useLocalServer(handler: RequestListener): () => string {
  const server = createServer(handler);
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  });
  return () => base;
}
