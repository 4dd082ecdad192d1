import { validateHandshakeReply } from "@powerstrip/protocol";
import { describe, expect, it, vi } from "vitest";
import { defineAdapter } from "./define.js";
import { answerHandshake } from "./handshake.js";
import { silentLogger } from "./logger.js";
import { createSession } from "./session.js";

const offer = { protocol: "powerstrip", versions: ["2"], proxy: { version: "0.1.0" } };
const noop = () => undefined;

const adapter = defineAdapter({
  name: "label-injector",
  version: "1.0.0",
  priority: 100,
  failurePolicy: "ignore",
  timeoutMs: 500,
  hooks: {
    "POST /containers/create": { pre: noop, post: noop },
    "* /containers/{id}/start": { post: noop, needsBody: false },
  },
});

describe("the handshake", () => {
  it("answers from what the adapter implements", async () => {
    const answer = await answerHandshake(createSession(adapter, silentLogger), offer);
    expect(answer).toEqual({
      status: 200,
      body: {
        version: "2",
        name: "label-injector",
        adapterVersion: "1.0.0",
        priority: 100,
        failurePolicy: "ignore",
        timeoutMs: 500,
        hooks: [
          { method: "POST", path: "/containers/create", stage: "pre", needsBody: true },
          { method: "POST", path: "/containers/create", stage: "post", needsBody: true },
          { method: "*", path: "/containers/{id}/start", stage: "post", needsBody: false },
        ],
      },
    });
    expect(validateHandshakeReply(answer.body).ok).toBe(true);
  });

  it("leaves defaults to the proxy", async () => {
    const minimal = defineAdapter({ name: "minimal", hooks: { "GET /x": { pre: noop } } });
    const { body } = await answerHandshake(createSession(minimal, silentLogger), offer);
    expect(Object.keys(body)).toEqual(["version", "name", "hooks"]);
  });

  it("picks 2 from a wider offer", async () => {
    const answer = await answerHandshake(createSession(adapter, silentLogger), {
      ...offer,
      versions: ["3", "2"],
    });
    expect(answer).toMatchObject({ status: 200, body: { version: "2" } });
  });

  it("refuses with 400 when 2 is not offered", async () => {
    const answer = await answerHandshake(createSession(adapter, silentLogger), { ...offer, versions: ["3"] });
    expect(answer).toEqual({
      status: 400,
      body: { message: "label-injector: the proxy offers protocol versions 3; this adapter speaks 2" },
    });
  });

  it("refuses an invalid offer, naming the field", async () => {
    const answer = await answerHandshake(createSession(adapter, silentLogger), {
      protocol: "powerstrip",
      versions: "2",
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      message: "label-injector: invalid handshake request: proxy: is required; versions: must be an array",
    });
  });

  it("answers with the name the proxy sends, and keeps it", async () => {
    const session = createSession(adapter, silentLogger);
    const answer = await answerHandshake(session, { ...offer, name: "labels-prod" });
    expect(answer.body).toMatchObject({ name: "labels-prod" });
    expect(session.name).toBe("labels-prod");
  });

  it("validates config against configSchema, then calls configure", async () => {
    const configure = vi.fn();
    const configurable = defineAdapter({
      name: "configurable",
      configSchema: { type: "object", required: ["label"], properties: { label: { type: "string" } } },
      configure,
      hooks: { "GET /x": { pre: noop } },
    });
    const session = createSession(configurable, silentLogger);
    expect(await answerHandshake(session, { ...offer, config: { label: 5 } })).toEqual({
      status: 400,
      body: { message: "configurable: invalid config: config.label: must be a string" },
    });
    expect(await answerHandshake(session, offer)).toMatchObject({
      status: 400,
      body: { message: "configurable: invalid config: config.label: is required" },
    });
    expect(configure).not.toHaveBeenCalled();
    const answer = await answerHandshake(session, { ...offer, name: "c2", config: { label: "team" } });
    expect(answer).toMatchObject({ status: 200, body: { configSchema: { required: ["label"] } } });
    expect(configure).toHaveBeenCalledWith({ label: "team" }, { name: "c2" });
    expect(session.config).toEqual({ label: "team" });
  });

  it("refuses when configure throws", async () => {
    const picky = defineAdapter({
      name: "picky",
      configure() {
        throw new Error("label must not be empty");
      },
      hooks: { "GET /x": { pre: noop } },
    });
    expect(await answerHandshake(createSession(picky, silentLogger), offer)).toEqual({
      status: 400,
      body: { message: "picky: configure failed: label must not be empty" },
    });
  });
});
