/** The few Docker Engine API calls the loader makes itself (compose does the rest), over node:http. */
import { type IncomingMessage, request } from "node:http";

export interface Engine {
  get<T>(path: string): Promise<T | undefined>;
  /** A line-delimited JSON stream (events); `close()` ends it. */
  stream(path: string, onLine: (value: unknown) => void, onEnd: (error?: Error) => void): { close(): void };
}

export function engineAt(socketPath: string): Engine {
  return {
    get<T>(path: string): Promise<T | undefined> {
      return new Promise((resolve, reject) => {
        const req = request({ socketPath, path, method: "GET" }, (res) => {
          collect(res).then((body) => {
            if (res.statusCode === 404) resolve(undefined);
            else if (res.statusCode !== 200)
              reject(new Error(`GET ${path}: ${res.statusCode} ${reason(body)}`));
            else resolve(JSON.parse(body) as T);
          }, reject);
        });
        req.once("error", (error) =>
          reject(new Error(`cannot reach the Docker engine at ${socketPath}: ${error.message}`)),
        );
        req.end();
      });
    },
    stream(path, onLine, onEnd) {
      let buffered = "";
      let ended = false;
      const end = (error?: Error) => {
        if (ended) return;
        ended = true;
        onEnd(error);
      };
      const req = request({ socketPath, path, method: "GET" }, (res) => {
        if (res.statusCode !== 200) {
          void collect(res).then((body) => end(new Error(`GET ${path}: ${res.statusCode} ${reason(body)}`)));
          return;
        }
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          for (let nl = buffered.indexOf("\n"); nl !== -1; nl = buffered.indexOf("\n")) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line !== "") {
              try {
                onLine(JSON.parse(line));
              } catch {
                // not JSON: skip
              }
            }
          }
        });
        res.once("end", () => end());
        res.once("error", (error) => end(error));
      });
      req.once("error", (error) => end(error));
      req.end();
      return {
        close() {
          ended = true;
          req.destroy();
        },
      };
    },
  };
}

function collect(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (c: string) => (body += c));
    res.once("end", () => resolve(body));
    res.once("error", reject);
  });
}

function reason(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

/** Docker's filters query parameter. */
export function filters(value: Record<string, string[]>): string {
  return encodeURIComponent(JSON.stringify(value));
}
