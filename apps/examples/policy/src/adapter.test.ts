import type { ClientIdentity } from "@powerstrip/adapter-sdk";
import { callPreHook, handshake } from "@powerstrip/adapter-sdk/testing";
import { describe, expect, it } from "vitest";
import {
  isAllowedHostPath,
  normalizeHostPath,
  parseAllowedBindPrefixes,
  parsePrivilegedClients,
  policy,
} from "./adapter.js";

const NO_BINDS = "no host path may be bind-mounted here; use a named volume (-v NAME:/path) instead";

function create(body: unknown, allowed: string[] = []) {
  return callPreHook(policy({ allowedBindPrefixes: allowed }), {
    method: "POST",
    path: "/v1.41/containers/create",
    body,
  });
}

function volumeCreate(body: unknown, allowed: string[] = []) {
  return callPreHook(policy({ allowedBindPrefixes: allowed }), {
    method: "POST",
    path: "/v1.41/volumes/create",
    body,
  });
}

describe("ALLOWED_BIND_PREFIXES", () => {
  it("allows none when unset or blank", () => {
    expect(parseAllowedBindPrefixes(undefined)).toEqual([]);
    expect(parseAllowedBindPrefixes(" ")).toEqual([]);
  });

  it("reads colon-separated absolute paths, normalized", () => {
    expect(parseAllowedBindPrefixes("/srv/data/:/tmp/./scratch::/a//b")).toEqual([
      "/srv/data",
      "/tmp/scratch",
      "/a/b",
    ]);
  });

  it("refuses a relative path, naming it", () => {
    expect(() => parseAllowedBindPrefixes("/srv:data")).toThrow(
      'ALLOWED_BIND_PREFIXES: "data" is not an absolute path',
    );
  });
});

describe("host paths", () => {
  it("normalizes . and .. and repeated slashes", () => {
    expect(normalizeHostPath("/allowed/../etc")).toBe("/etc");
    expect(normalizeHostPath("//etc///passwd/")).toBe("/etc/passwd");
    expect(normalizeHostPath("/../../etc")).toBe("/etc");
  });

  it("allows a prefix and what is under it, on segment boundaries only", () => {
    const prefixes = ["/srv/data"];
    expect(isAllowedHostPath("/srv/data", prefixes)).toBe(true);
    expect(isAllowedHostPath("/srv/data/app/x", prefixes)).toBe(true);
    expect(isAllowedHostPath("/srv/database", prefixes)).toBe(false);
    expect(isAllowedHostPath("/srv/data/../../etc", prefixes)).toBe(false);
    expect(isAllowedHostPath("/srv", prefixes)).toBe(false);
    expect(isAllowedHostPath("/etc", ["/"])).toBe(true);
  });
});

describe("policy: containers", () => {
  it("declares pre-hooks on container and volume create, late in the chain, failing closed", async () => {
    expect(await handshake(policy())).toMatchObject({
      name: "policy",
      priority: 9000,
      failurePolicy: "fail",
      hooks: [
        { method: "POST", path: "/containers/create", stage: "pre", needsBody: true },
        { method: "POST", path: "/volumes/create", stage: "pre", needsBody: true },
      ],
    });
  });

  it("allows an ordinary container, named volumes and anonymous volumes", async () => {
    await expect(create({ Image: "nginx" })).resolves.toEqual({ action: "allow" });
    await expect(
      create({
        Image: "nginx",
        HostConfig: {
          Privileged: false,
          Binds: ["data:/data", "cache:/cache:ro", "/anonymous"],
          Mounts: [
            { Type: "volume", Source: "logs", Target: "/logs" },
            { Type: "tmpfs", Target: "/tmp" },
          ],
        },
      }),
    ).resolves.toEqual({ action: "allow" });
  });

  it("denies privileged containers with 403 and a message the docker CLI prints", async () => {
    await expect(create({ Image: "nginx", HostConfig: { Privileged: true } })).resolves.toEqual({
      action: "deny",
      status: 403,
      message: "policy: privileged containers are not allowed",
    });
  });

  it("denies host binds in Binds when nothing is allowed", async () => {
    await expect(create({ Image: "nginx", HostConfig: { Binds: ["/etc:/x:ro"] } })).resolves.toEqual({
      action: "deny",
      status: 403,
      message: `policy: bind mount of host path /etc is not allowed: ${NO_BINDS}`,
    });
  });

  it("denies bind Mounts, and a bind without a usable Source", async () => {
    await expect(
      create({
        Image: "nginx",
        HostConfig: { Mounts: [{ Type: "bind", Source: "/var/run", Target: "/r" }] },
      }),
    ).resolves.toMatchObject({
      action: "deny",
      message: expect.stringContaining("host path /var/run is not"),
    });
    await expect(
      create({ Image: "nginx", HostConfig: { Mounts: [{ Type: "bind", Target: "/r" }] } }),
    ).resolves.toMatchObject({ action: "deny", message: expect.stringContaining("host path / is not") });
  });

  it("allows binds under an allowed prefix, and not those that climb out of it", async () => {
    const allowed = ["/srv/data"];
    await expect(
      create(
        {
          Image: "nginx",
          HostConfig: {
            Binds: ["/srv/data/app:/app"],
            Mounts: [{ Type: "bind", Source: "/srv/data", Target: "/d" }],
          },
        },
        allowed,
      ),
    ).resolves.toEqual({ action: "allow" });
    await expect(
      create({ Image: "nginx", HostConfig: { Binds: ["/srv/data/../../etc:/x"] } }, allowed),
    ).resolves.toEqual({
      action: "deny",
      status: 403,
      message:
        "policy: bind mount of host path /srv/data/../../etc (that is /etc) is not allowed: allowed host paths are /srv/data and what is under them",
    });
    await expect(
      create({ Image: "nginx", HostConfig: { Binds: ["/srv/database:/x"] } }, allowed),
    ).resolves.toMatchObject({ action: "deny" });
  });

  it("names every problem in one message", async () => {
    const reply = await create({
      Image: "nginx",
      HostConfig: {
        Privileged: true,
        Binds: ["/etc:/a", "ok:/b"],
        Mounts: [{ Type: "bind", Source: "/root" }],
      },
    });
    expect(reply).toEqual({
      action: "deny",
      status: 403,
      message: `policy: privileged containers are not allowed; bind mount of host path /etc, /root is not allowed: ${NO_BINDS}`,
    });
  });

  it("reads member names as Docker's Go decoder does: case-insensitively, with ſ and K folded", async () => {
    await expect(create({ Image: "x", hostconfig: { privileged: true } })).resolves.toMatchObject({
      action: "deny",
      message: "policy: privileged containers are not allowed",
    });
    await expect(create({ Image: "x", HOSTCONFIG: { bindſ: ["/etc:/x"] } })).resolves.toMatchObject({
      action: "deny",
      message: expect.stringContaining("/etc"),
    });
    await expect(
      create({ Image: "x", HostConfig: { mounts: [{ type: "bind", source: "/etc", target: "/x" }] } }),
    ).resolves.toMatchObject({ action: "deny", message: expect.stringContaining("/etc") });
  });

  it("denies a local volume mount that binds a host path through its driver options", async () => {
    const mount = {
      Type: "volume",
      Target: "/x",
      VolumeOptions: {
        DriverConfig: { Name: "local", Options: { type: "none", o: "bind", device: "/etc" } },
      },
    };
    await expect(create({ Image: "x", HostConfig: { Mounts: [mount] } })).resolves.toEqual({
      action: "deny",
      status: 403,
      message: `policy: bind mount of host path /etc is not allowed: ${NO_BINDS}`,
    });
  });

  it("denies a request whose body it did not see", async () => {
    await expect(
      callPreHook(policy(), { method: "POST", path: "/containers/create", bodyOmitted: "binary" }),
    ).resolves.toEqual({
      action: "deny",
      status: 403,
      message:
        "policy: cannot check this request: its body did not reach the policy (binary); send it as application/json",
    });
  });
});

describe("policy: volumes", () => {
  it("allows plain named volumes, a volume create without a body, and other drivers", async () => {
    await expect(volumeCreate({ Name: "data" })).resolves.toEqual({ action: "allow" });
    await expect(callPreHook(policy(), { method: "POST", path: "/volumes/create" })).resolves.toEqual({
      action: "allow",
    });
    await expect(
      volumeCreate({
        Name: "n",
        Driver: "local",
        DriverOpts: { type: "nfs", o: "addr=10.0.0.1", device: ":/export" },
      }),
    ).resolves.toEqual({ action: "allow" });
    await expect(
      volumeCreate({ Name: "n", Driver: "some-plugin", DriverOpts: { o: "bind", device: "/etc" } }),
    ).resolves.toEqual({ action: "allow" });
  });

  it("denies local volumes that bind a host path outside the allowlist", async () => {
    const body = { Name: "sneaky", DriverOpts: { type: "none", o: "bind", device: "/etc" } };
    await expect(volumeCreate(body)).resolves.toEqual({
      action: "deny",
      status: 403,
      message: `policy: bind mount of host path /etc is not allowed: ${NO_BINDS}`,
    });
    await expect(
      volumeCreate({ ...body, DriverOpts: { ...body.DriverOpts, device: "/srv/data/x" } }, ["/srv/data"]),
    ).resolves.toEqual({ action: "allow" });
  });

  it("denies local volumes on a host block device", async () => {
    await expect(
      volumeCreate({ Name: "disk", DriverOpts: { type: "ext4", device: "/dev/sda1" } }),
    ).resolves.toMatchObject({ action: "deny", message: expect.stringContaining("/dev/sda1") });
  });
});

describe("PRIVILEGED_CLIENTS: privileged containers for named TLS clients", () => {
  const privileged = { Image: "debian", HostConfig: { Privileged: true } };
  const tlsClient = (commonName: string): ClientIdentity => ({
    transport: "tls",
    address: "127.0.0.1:50000",
    certificate: {
      commonName,
      subject: `CN=${commonName},O=ops`,
      issuer: "CN=ops-ca",
      fingerprint256: Array.from({ length: 32 }, () => "AB").join(":"),
    },
  });
  const asClient = (client: ClientIdentity | undefined, body: unknown = privileged) =>
    callPreHook(policy({ privilegedClients: ["admin"] }), {
      method: "POST",
      path: "/v1.41/containers/create",
      body,
      ...(client ? { client } : {}),
    });

  it("reads comma-separated common names", () => {
    expect(parsePrivilegedClients(undefined)).toEqual([]);
    expect(parsePrivilegedClients(" admin, ops-bot ,,")).toEqual(["admin", "ops-bot"]);
  });

  it("lets the holder of a listed certificate create a privileged container", async () => {
    await expect(asClient(tlsClient("admin"))).resolves.toEqual({ action: "allow" });
  });

  it("denies everyone else: another CN, a unix or TCP client, a proxy that does not say", async () => {
    for (const client of [
      tlsClient("alice"),
      { transport: "unix", uid: 0, gid: 0, pid: 1 } as const,
      { transport: "tcp", address: "127.0.0.1:1" } as const,
      undefined,
    ]) {
      await expect(asClient(client)).resolves.toMatchObject({
        action: "deny",
        message: "policy: privileged containers are not allowed",
      });
    }
  });

  it("still checks the rest of the request for the listed client", async () => {
    const body = { ...privileged, HostConfig: { Privileged: true, Binds: ["/etc:/x"] } };
    await expect(asClient(tlsClient("admin"), body)).resolves.toEqual({
      action: "deny",
      status: 403,
      message: `policy: bind mount of host path /etc is not allowed: ${NO_BINDS}`,
    });
  });
});
