import { describe, expect, it } from "vitest";
import { type ExchangeRecord, Observers } from "./observer.js";

const record: ExchangeRecord = {
  method: "GET",
  path: "/_ping",
  status: 200,
  hooked: false,
  bytesIn: 1,
  bytesOut: 2,
};

describe("Observers", () => {
  it("an observer that throws is reported once and never reaches the data path; the others still hear", () => {
    const errors: unknown[] = [];
    const observers = new Observers((error) => errors.push(error));
    const heard: string[] = [];
    observers.add({
      exchange() {
        throw new Error("counter went negative");
      },
      tunnelClosed() {
        throw new Error("counter went negative");
      },
      hookCall() {
        throw new Error("bad label");
      },
    });
    observers.add({ exchange: () => heard.push("exchange"), tunnelClosed: () => heard.push("tunnel") });
    expect(() => observers.exchange(record)).not.toThrow();
    expect(() => observers.tunnelClosed({ bytesIn: 0, bytesOut: -5 })).not.toThrow();
    expect(() => observers.exchange(record)).not.toThrow();
    expect(() => observers.tunnelOpened()).not.toThrow();
    expect(() =>
      observers.hookCall({
        time: 0,
        requestId: "r",
        adapter: "a",
        stage: "pre",
        hook: "GET /x",
        method: "GET",
        path: "/x",
        durationMs: 1,
        decision: "allow",
        shadow: false,
      }),
    ).not.toThrow();
    expect(heard).toEqual(["exchange", "tunnel", "exchange"]);
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/counter went negative/);
  });

  it("a throwing error reporter is survived too", () => {
    const observers = new Observers(() => {
      throw new Error("reporter broke");
    });
    observers.add({
      exchange() {
        throw new Error("observer broke");
      },
    });
    expect(() => observers.exchange(record)).not.toThrow();
  });

  it("requestIds is on while some exchange observer wants ids", () => {
    const observers = new Observers();
    const remove = observers.add({ exchange() {}, wantsRequestIds: () => true });
    expect(observers.requestIds).toBe(true);
    remove();
    observers.add({ exchange() {} });
    expect(observers.requestIds).toBe(false);
  });
});
