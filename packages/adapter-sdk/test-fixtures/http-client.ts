// A tiny HTTP client for the tests: what the proxy does on the wire, over a unix socket or TCP.
import { type Agent, request } from "node:http";

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** POSTs `body` (JSON-encoded unless a string) to an adapter address (`unix:///...` or `http://...`). */
export function post(
  address: string,
  path: string,
  body: unknown,
  options: { agent?: Agent; method?: string } = {},
): Promise<Reply> {
  const target = address.startsWith("unix://")
    ? { socketPath: address.slice("unix://".length) }
    : { host: new URL(address).hostname, port: Number(new URL(address).port) };
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...target,
        path,
        method: options.method ?? "POST",
        agent: options.agent,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text === "" ? undefined : JSON.parse(text),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export const offer = { protocol: "powerstrip", versions: ["2"], proxy: { version: "0.1.0" } };

/** A pre-hook call for `POST /v1.41/containers/create` carrying `body`. */
export function createCall(
  adapter: string,
  body: unknown,
  stage: "pre" | "post" = "pre",
  response?: unknown,
) {
  return {
    version: "2",
    requestId: "req-1",
    adapter,
    stage,
    hook: "POST /containers/create",
    request: {
      method: "POST",
      path: "/containers/create",
      apiVersion: "1.41",
      params: {},
      query: { name: "web" },
      headers: { "content-type": "application/json" },
      body,
    },
    ...(response === undefined ? {} : { response }),
  };
}
