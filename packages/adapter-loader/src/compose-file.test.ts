import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ComposeFileError, composeOverride, planCompose, projectName, readLabels } from "./compose-file.js";

const EXAMPLE = readFileSync(
  join(import.meta.dirname, "../../../apps/examples/socketplane/docker-compose.yml"),
  "utf8",
);

function refusal(text: string): string {
  try {
    planCompose(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ComposeFileError);
    return (error as Error).message;
  }
  throw new Error("expected a refusal");
}

describe("planCompose", () => {
  it("reads the socketplane example: two host-network services, one serving hooks", () => {
    const plan = planCompose(EXAMPLE);
    expect(plan).toMatchObject({ version: "2.4", hooksService: "socketplane", networks: [], volumes: [] });
    expect(plan.services.map((s) => [s.name, s.hooks, s.usesDefaultNetwork])).toEqual([
      ["ovs", false, false],
      ["socketplane", true, false],
    ]);
  });

  it("reads labels in both spellings", () => {
    expect(readLabels(["a=1", "io.powerstrip.hooks=true", "bare"])).toEqual({
      a: "1",
      "io.powerstrip.hooks": "true",
      bare: "",
    });
    expect(readLabels({ "io.powerstrip.hooks": "true", n: 1 })).toEqual({
      "io.powerstrip.hooks": "true",
      n: "1",
    });
    const plan = planCompose("services:\n  a:\n    image: x\n    labels: [io.powerstrip.hooks=true]\n");
    expect(plan.hooksService).toBe("a");
  });

  it("finds no hooks service in a lifecycle-only set, and the networks and volumes compose creates", () => {
    const plan = planCompose(
      [
        "services:",
        "  a: {image: x, networks: [back]}",
        "  b: {image: y}",
        "networks:",
        "  back: {}",
        "  outside: {external: true}",
        "volumes:",
        "  data: {}",
        "  shared: {external: {name: s}}",
      ].join("\n"),
    );
    expect(plan).toMatchObject({ hooksService: undefined, networks: ["back"], volumes: ["data"] });
  });

  it("refuses what the loader cannot run, saying how to fix it", () => {
    expect(refusal("services: [oops")).toMatch(/^docker-compose.yml is not valid YAML: /);
    expect(refusal("web:\n  image: x\n  net: host\n")).toMatch(
      /no services: mapping \(the 2014 format.*network_mode: host/,
    );
    expect(refusal("services: {}\n")).toMatch(/declares no services/);
    expect(refusal("services:\n  a:\n    build: .\n")).toMatch(
      /service a has build: the loader has no build context/,
    );
    expect(refusal("services:\n  a:\n    image: x\n    volumes: ['./conf:/etc/conf:ro']\n")).toMatch(
      /service a bind-mounts the relative path \.\/conf: the Docker daemon resolves bind mounts on the host/,
    );
    expect(
      refusal("services:\n  a:\n    image: x\n    volumes: [{type: bind, source: conf, target: /c}]\n"),
    ).toMatch(/relative path conf/);
    expect(refusal("services:\n  a:\n    image: x\n    env_file: .env\n")).toMatch(/env_file/);
    expect(
      refusal(
        "services:\n  a: {image: x, labels: {io.powerstrip.hooks: 'true'}}\n  b: {image: y, labels: {io.powerstrip.hooks: 'true'}}\n",
      ),
    ).toMatch(/services a, b are all labelled io.powerstrip.hooks/);
  });

  it("accepts absolute bind mounts, named and anonymous volumes", () => {
    const plan = planCompose(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a compose variable, not a template
      "services:\n  a:\n    image: x\n    volumes: ['/var/lib/x:/x', 'data:/data', '/anon', '${HOME}/y:/y']\nvolumes:\n  data: {}\n",
    );
    expect(plan.services).toHaveLength(1);
  });
});

describe("composeOverride", () => {
  const options = {
    name: "socketplane",
    hostSocketDir: "/var/lib/powerstrip/run/socketplane",
    loaderImage: "sha256:abc",
  };

  it("labels every service and gives the hooks service the socket directory and environment", () => {
    const override = composeOverride(planCompose(EXAMPLE), {
      ...options,
      labels: { "io.powerstrip.test": "r" },
    });
    const labels = {
      "io.powerstrip.test": "r",
      "io.powerstrip.adapter": "socketplane",
      "io.powerstrip.loader-image": "sha256:abc",
    };
    expect(override).toEqual({
      version: "2.4",
      services: {
        ovs: { labels },
        socketplane: {
          labels,
          volumes: ["/var/lib/powerstrip/run/socketplane:/run/powerstrip"],
          environment: {
            POWERSTRIP_ADAPTER_SOCKET: "/run/powerstrip/adapter.sock",
            POWERSTRIP_ADAPTER_NAME: "socketplane",
          },
        },
      },
    });
  });

  it("labels the default network when a service uses it, and the declared networks and volumes", () => {
    const plan = planCompose("services:\n  a: {image: x}\nnetworks:\n  back: {}\nvolumes:\n  data: {}\n");
    const override = composeOverride(plan, options) as Record<string, Record<string, unknown>>;
    expect(Object.keys(override.networks!)).toEqual(["back", "default"]);
    expect(Object.keys(override.volumes!)).toEqual(["data"]);
    expect("version" in override).toBe(false);
  });

  it("names the project after the adapter", () => {
    expect(projectName("socketplane")).toBe("powerstrip-socketplane");
  });
});
