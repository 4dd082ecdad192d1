import { describe, expect, it } from "vitest";
import { validateHookCall } from "./validation/validators.js";
import { buildHeaderMap, buildQueryMap } from "./wire-maps.js";

describe("buildQueryMap", () => {
  it("decodes like application/x-www-form-urlencoded and collects repeated keys in order", () => {
    expect(buildQueryMap("t=app%3Alatest&t=app+1.2&dockerfile=Dockerfile&rm&q=")).toEqual({
      t: ["app:latest", "app 1.2"],
      dockerfile: "Dockerfile",
      rm: "",
      q: "",
    });
    expect(buildQueryMap("")).toEqual({});
    expect(buildQueryMap("filters=%7B%22label%22%3A%5B%22a%22%5D%7D")).toEqual({
      filters: '{"label":["a"]}',
    });
  });

  it("keeps keys such as __proto__ and constructor as plain data", () => {
    const map = buildQueryMap("__proto__=x&constructor=y&constructor=z");
    expect(Object.getPrototypeOf(map)).toBe(Object.prototype);
    expect(map).toEqual(
      Object.fromEntries([
        ["__proto__", "x"],
        ["constructor", ["y", "z"]],
      ]),
    );
  });
});

describe("buildHeaderMap", () => {
  it("lower-cases names, joins repeats with ', ' and drops hop-by-hop headers", () => {
    const raw = [
      "Host",
      "docker",
      "Content-Type",
      "application/json",
      "X-A",
      "1",
      "x-a",
      "2",
      "Connection",
      "Upgrade, X-Trace",
      "Upgrade",
      "tcp",
      "X-Trace",
      "t",
      "Transfer-Encoding",
      "chunked",
    ];
    expect(buildHeaderMap(raw)).toEqual({
      host: "docker",
      "content-type": "application/json",
      "x-a": "1, 2",
    });
  });

  it("takes [name, value] pairs too", () => {
    expect(
      buildHeaderMap([
        ["Keep-Alive", "timeout=5"],
        ["User-Agent", "Docker-Client/28.0.1"],
      ]),
    ).toEqual({ "user-agent": "Docker-Client/28.0.1" });
  });

  it("builds maps a hook call accepts", () => {
    const call = {
      version: "2",
      requestId: "r1",
      adapter: "a",
      stage: "pre",
      hook: "GET /containers/json",
      request: {
        method: "GET",
        path: "/containers/json",
        apiVersion: null,
        params: {},
        query: buildQueryMap("all=1&filters=a&filters=b"),
        headers: buildHeaderMap(["Host", "docker", "Accept", "a", "ACCEPT", "b"]),
      },
    };
    expect(validateHookCall(call)).toMatchObject({ ok: true });
  });
});
