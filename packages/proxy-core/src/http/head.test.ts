import { describe, expect, it } from "vitest";
import { ProxyErrorCode } from "../errors.js";
import { findHeadEnd, parseRequestHead, parseResponseHead, serializeHead } from "./head.js";

const head = (text: string) => Buffer.from(text, "latin1");

function expectBadRequest(text: string) {
  expect(() => parseRequestHead(head(text))).toThrowError(
    expect.objectContaining({ code: ProxyErrorCode.BadRequest }),
  );
}

describe("findHeadEnd", () => {
  it("finds the index after the blank line, or -1", () => {
    expect(findHeadEnd(head("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"))).toBe(27);
    expect(findHeadEnd(head("GET / HTTP/1.1\r\nHost: x\r\n"))).toBe(-1);
  });
});

describe("parseRequestHead", () => {
  it("reads the request line and keeps headers in order with their case", () => {
    const parsed = parseRequestHead(
      head("POST /v1.41/containers/create?name=a HTTP/1.1\r\nHost: d\r\nX-A: 1\r\n\r\n"),
    );
    expect(parsed.method).toBe("POST");
    expect(parsed.target).toBe("/v1.41/containers/create?name=a");
    expect(parsed.minorVersion).toBe(1);
    expect(parsed.headers).toEqual(["Host", "d", "X-A", "1"]);
    expect(parsed.hasHopByHop).toBe(false);
  });

  it("gathers framing facts", () => {
    const parsed = parseRequestHead(
      head(
        "PUT /x HTTP/1.1\r\nContent-Length: 5\r\nConnection: keep-alive, X-Foo\r\nX-Foo: y\r\nUpgrade: tcp\r\n\r\n",
      ),
    );
    expect(parsed.contentLengths).toEqual(["5"]);
    expect(parsed.connectionTokens).toEqual(["keep-alive", "x-foo"]);
    expect(parsed.upgrade).toBe("tcp");
    expect(parsed.hasHopByHop).toBe(true);
  });

  it("joins repeated Transfer-Encoding headers in order", () => {
    const parsed = parseRequestHead(
      head("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
    );
    expect(parsed.transferEncoding).toBe("gzip, chunked");
  });

  it("accepts HTTP/1.0", () => {
    expect(parseRequestHead(head("GET /_ping HTTP/1.0\r\n\r\n")).minorVersion).toBe(0);
  });

  it.each([
    ["a malformed request line", "GET /\r\n\r\n"],
    ["an extra space in the request line", "GET  / HTTP/1.1\r\n\r\n"],
    ["an unknown version", "GET / HTTP/2.0\r\n\r\n"],
    ["a method that is not a token", "G(T / HTTP/1.1\r\n\r\n"],
    ["obsolete line folding", "GET / HTTP/1.1\r\nX-A: 1\r\n continued\r\n\r\n"],
    ["whitespace before the colon", "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n"],
    ["a header without a colon", "GET / HTTP/1.1\r\nNoColon\r\n\r\n"],
    ["a bare LF inside the head", "GET / HTTP/1.1\r\nX-A: 1\nX-B: 2\r\n\r\n"],
    ["a bare CR inside a value", "GET / HTTP/1.1\r\nX-A: 1\rX\r\n\r\n"],
    ["a NUL in a value", "GET / HTTP/1.1\r\nX-A: a\u0000b\r\n\r\n"],
    ["a control character in the target", "GET /a\u0001 HTTP/1.1\r\n\r\n"],
  ])("refuses %s", (_, text) => expectBadRequest(text));
});

describe("parseResponseHead", () => {
  it("reads status, reason and headers", () => {
    const parsed = parseResponseHead(
      head("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"),
    );
    expect(parsed.status).toBe(101);
    expect(parsed.statusText).toBe("UPGRADED");
    expect(parsed.upgrade).toBe("tcp");
  });

  it("accepts a status line without a reason", () => {
    expect(parseResponseHead(head("HTTP/1.1 204\r\n\r\n")).status).toBe(204);
  });

  it("refuses a malformed status line as a bad upstream response", () => {
    expect(() => parseResponseHead(head("HTTP/1.1 2000 OK\r\n\r\n"))).toThrowError(
      expect.objectContaining({ code: ProxyErrorCode.BadUpstreamResponse }),
    );
  });
});

describe("serializeHead", () => {
  it("drops hop-by-hop headers and those named by Connection, and appends extra lines", () => {
    const parsed = parseRequestHead(
      head(
        "GET / HTTP/1.1\r\nHost: d\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nX-Secret: s\r\nTE: trailers\r\nProxy-Authorization: p\r\nX-Kept: k\r\n\r\n",
      ),
    );
    expect(serializeHead("GET / HTTP/1.1", parsed, ["Connection: close"]).toString("latin1")).toBe(
      "GET / HTTP/1.1\r\nHost: d\r\nX-Kept: k\r\nConnection: close\r\n\r\n",
    );
  });

  it("never drops framing headers, even when Connection names them", () => {
    const parsed = parseRequestHead(
      head("POST / HTTP/1.1\r\nHost: d\r\nConnection: Content-Length, Host\r\nContent-Length: 3\r\n\r\n"),
    );
    expect(serializeHead("POST / HTTP/1.1", parsed, []).toString("latin1")).toBe(
      "POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\n\r\n",
    );
  });
});
