import { describe, expect, it } from "vitest";
import { ProxyErrorCode } from "../errors.js";
import { requestFraming, responseFraming } from "./framing.js";
import { parseRequestHead, parseResponseHead } from "./head.js";

const request = (headers: string) =>
  parseRequestHead(Buffer.from(`POST /build HTTP/1.1\r\n${headers}\r\n`, "latin1"));
const response = (status: string, headers = "") =>
  parseResponseHead(Buffer.from(`HTTP/1.1 ${status}\r\n${headers}\r\n`, "latin1"));

describe("requestFraming", () => {
  it("reads no body, a length, or chunked", () => {
    expect(requestFraming(request(""))).toEqual({ kind: "none" });
    expect(requestFraming(request("Content-Length: 0\r\n"))).toEqual({ kind: "none" });
    expect(requestFraming(request("Content-Length: 42\r\n"))).toEqual({ kind: "length", length: 42 });
    expect(requestFraming(request("Transfer-Encoding: chunked\r\n"))).toEqual({ kind: "chunked" });
    expect(requestFraming(request("Transfer-Encoding: gzip, Chunked\r\n"))).toEqual({ kind: "chunked" });
  });

  it.each([
    ["Content-Length with Transfer-Encoding", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"],
    ["Transfer-Encoding with Content-Length", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"],
    ["two different Content-Length headers", "Content-Length: 5\r\nContent-Length: 6\r\n"],
    ["two equal Content-Length headers", "Content-Length: 5\r\nContent-Length: 5\r\n"],
    ["a Content-Length list", "Content-Length: 5, 5\r\n"],
    ["a signed Content-Length", "Content-Length: +5\r\n"],
    ["a hex Content-Length", "Content-Length: 0x5\r\n"],
    ["a Transfer-Encoding that does not end in chunked", "Transfer-Encoding: chunked, gzip\r\n"],
    ["an unknown Transfer-Encoding", "Transfer-Encoding: xchunked\r\n"],
  ])("refuses %s as ambiguous", (_, headers) => {
    expect(() => requestFraming(request(headers))).toThrowError(
      expect.objectContaining({ code: ProxyErrorCode.AmbiguousFraming, status: 400 }),
    );
  });
});

describe("responseFraming", () => {
  it("has no body for HEAD, 1xx, 204 and 304 whatever the headers say", () => {
    expect(responseFraming("HEAD", response("200 OK", "Content-Length: 10\r\n"))).toEqual({ kind: "none" });
    expect(responseFraming("POST", response("204 No Content", "Content-Length: 10\r\n"))).toEqual({
      kind: "none",
    });
    expect(responseFraming("POST", response("304 Not Modified"))).toEqual({ kind: "none" });
    expect(responseFraming("GET", response("100 Continue"))).toEqual({ kind: "none" });
  });

  it("reads chunked, a length, or the connection closing", () => {
    expect(responseFraming("GET", response("200 OK", "Transfer-Encoding: chunked\r\n"))).toEqual({
      kind: "chunked",
    });
    expect(responseFraming("GET", response("200 OK", "Content-Length: 7\r\n"))).toEqual({
      kind: "length",
      length: 7,
    });
    expect(responseFraming("GET", response("200 OK"))).toEqual({ kind: "close" });
  });
});
