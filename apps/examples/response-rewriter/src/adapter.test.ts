import { callPostHook, handshake } from "@powerstrip/adapter-sdk/testing";
import { describe, expect, it } from "vitest";
import { hideContainers, isHidden, parseHideLabel } from "./adapter.js";

const visible = { Id: "a1", Names: ["/web"], Labels: { team: "web" } };
const hidden = { Id: "b2", Names: ["/secret"], Labels: { "io.powerstrip.hidden": "true" } };
const unlabelled = { Id: "c3", Names: ["/plain"], Labels: null };

function list(body: unknown, status = 200, adapter = hideContainers()) {
  return callPostHook(adapter, {
    request: { method: "GET", path: "/v1.41/containers/json?all=1" },
    response: { status, body },
  });
}

function inspect(id: string, body: unknown, status = 200, adapter = hideContainers()) {
  return callPostHook(adapter, {
    request: { method: "GET", path: `/v1.41/containers/${id}/json` },
    response: { status, body },
  });
}

describe("HIDE_LABEL", () => {
  it("defaults to io.powerstrip.hidden, with any value", () => {
    expect(parseHideLabel(undefined)).toEqual({ key: "io.powerstrip.hidden" });
    expect(parseHideLabel("")).toEqual({ key: "io.powerstrip.hidden" });
  });

  it("takes a key, or key=value", () => {
    expect(parseHideLabel("secret")).toEqual({ key: "secret" });
    expect(parseHideLabel("team=ops")).toEqual({ key: "team", value: "ops" });
    expect(parseHideLabel("team=")).toEqual({ key: "team", value: "" });
    expect(() => parseHideLabel("=ops")).toThrow("HIDE_LABEL");
  });

  it("matches a label by key, or by key and value", () => {
    expect(isHidden({ team: "ops" }, { key: "team" })).toBe(true);
    expect(isHidden({ team: "ops" }, { key: "team", value: "ops" })).toBe(true);
    expect(isHidden({ team: "web" }, { key: "team", value: "ops" })).toBe(false);
    expect(isHidden(null, { key: "team" })).toBe(false);
    expect(isHidden({ constructor: "x" }, { key: "toString" })).toBe(false);
  });
});

describe("hide-containers", () => {
  it("declares post-hooks on the container list and inspect, with the last word on the way out", async () => {
    expect(await handshake(hideContainers())).toMatchObject({
      name: "hide-containers",
      priority: 50,
      failurePolicy: "fail",
      hooks: [
        { method: "GET", path: "/containers/json", stage: "post", needsBody: true },
        { method: "GET", path: "/containers/{id}/json", stage: "post", needsBody: true },
      ],
    });
  });

  it("removes labelled containers from docker ps and keeps the others in order", async () => {
    await expect(list([visible, hidden, unlabelled])).resolves.toEqual({
      action: "rewrite",
      body: [visible, unlabelled],
    });
  });

  it("passes a list with nothing to hide unchanged", async () => {
    await expect(list([visible, unlabelled])).resolves.toEqual({ action: "pass" });
    await expect(list([])).resolves.toEqual({ action: "pass" });
  });

  it("leaves errors alone, and warns when the list arrives without its body", async () => {
    await expect(list({ message: "boom" }, 500)).resolves.toEqual({ action: "pass" });
    await expect(
      callPostHook(hideContainers(), {
        request: { method: "GET", path: "/containers/json" },
        response: { status: 200, bodyOmitted: "too-large" },
      }),
    ).resolves.toEqual({ action: "pass", warnings: ["could not filter the container list (too-large)"] });
  });

  it("hides by key=value when configured so", async () => {
    const adapter = hideContainers({ key: "team", value: "web" });
    await expect(list([visible, hidden], 200, adapter)).resolves.toEqual({
      action: "rewrite",
      body: [hidden],
    });
  });

  it("turns docker inspect of a hidden container into Docker's own 404, naming what the client asked for", async () => {
    const body = { Id: "b2b2", Name: "/secret", Config: { Labels: { "io.powerstrip.hidden": "" } } };
    await expect(inspect("secret", body)).resolves.toEqual({
      action: "rewrite",
      status: 404,
      body: { message: "No such container: secret" },
    });
  });

  it("passes docker inspect of other containers, and Docker's own errors", async () => {
    await expect(inspect("web", { Id: "a1", Config: { Labels: { team: "web" } } })).resolves.toEqual({
      action: "pass",
    });
    await expect(inspect("nope", { message: "No such container: nope" }, 404)).resolves.toEqual({
      action: "pass",
    });
  });
});
