import { callPreHook, handshake } from "@powerstrip/adapter-sdk/testing";
import { describe, expect, it } from "vitest";
import { DEFAULT_LABELS, labelInjector, parseLabels } from "./adapter.js";

describe("parseLabels (LABELS)", () => {
  it("gives the default label when unset or blank", () => {
    expect(parseLabels(undefined)).toEqual({ "io.powerstrip.injected": "true" });
    expect(parseLabels("  ")).toEqual(DEFAULT_LABELS);
  });

  it("reads comma-separated key=value pairs, trimming spaces and a trailing comma", () => {
    expect(parseLabels("team=web, env = dev,")).toEqual({ team: "web", env: "dev" });
  });

  it("keeps '=' in values and allows empty values", () => {
    expect(parseLabels("expr=a=b,empty=")).toEqual({ expr: "a=b", empty: "" });
  });

  it("refuses an entry that is not key=value, naming it", () => {
    expect(() => parseLabels("team=web,oops")).toThrow('LABELS: "oops" is not key=value');
    expect(() => parseLabels("=value")).toThrow('LABELS: "=value" is not key=value');
  });
});

describe("label-injector", () => {
  const adapter = labelInjector({ labels: { team: "web", "io.powerstrip.injected": "true" } });

  it("declares one pre-hook on container create, early in the chain", async () => {
    expect(await handshake(adapter)).toMatchObject({
      name: "label-injector",
      priority: 100,
      failurePolicy: "fail",
      hooks: [{ method: "POST", path: "/containers/create", stage: "pre", needsBody: true }],
    });
  });

  it("adds its labels and keeps the client's", async () => {
    const reply = await callPreHook(adapter, {
      method: "POST",
      path: "/v1.41/containers/create?name=web",
      body: { Image: "nginx", Labels: { owner: "alice" }, Cmd: ["true"] },
    });
    expect(reply).toEqual({
      action: "rewrite",
      body: {
        Image: "nginx",
        Cmd: ["true"],
        Labels: { owner: "alice", team: "web", "io.powerstrip.injected": "true" },
      },
    });
  });

  it("labels a request without Labels, or with Labels null", async () => {
    for (const Labels of [undefined, null]) {
      const reply = await callPreHook(adapter, {
        method: "POST",
        path: "/containers/create",
        body: { Image: "nginx", Labels },
      });
      expect(reply).toMatchObject({
        action: "rewrite",
        body: { Labels: { team: "web", "io.powerstrip.injected": "true" } },
      });
    }
  });

  it("overrides a client's label of the same key, with a warning for the operator", async () => {
    const reply = await callPreHook(adapter, {
      method: "POST",
      path: "/containers/create",
      body: { Image: "nginx", Labels: { team: "ops", "io.powerstrip.injected": "true" } },
    });
    expect(reply).toEqual({
      action: "rewrite",
      body: { Image: "nginx", Labels: { team: "web", "io.powerstrip.injected": "true" } },
      warnings: ["replaced the client's label team=ops with team=web"],
    });
  });

  it("lets a request it cannot read pass, with a warning", async () => {
    const reply = await callPreHook(adapter, {
      method: "POST",
      path: "/containers/create",
      bodyOmitted: "too-large",
    });
    expect(reply).toEqual({
      action: "allow",
      warnings: ["not labelled: the request carried no JSON object (too-large)"],
    });
  });

  it("defaults to io.powerstrip.injected=true", async () => {
    const reply = await callPreHook(labelInjector(), {
      method: "POST",
      path: "/containers/create",
      body: { Image: "nginx" },
    });
    expect(reply).toEqual({
      action: "rewrite",
      body: { Image: "nginx", Labels: { "io.powerstrip.injected": "true" } },
    });
  });
});
