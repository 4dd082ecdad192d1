import { describe, expect, it } from "vitest";
import { runCli, startAdmin, startV2Adapter } from "./testing/harness.js";

const pullHook = { method: "POST", path: "/images/create", stage: "pre" };

describe("powerstrip load --allow-credentials", () => {
  it("sends credentials to an adapter that asks, and ls and inspect say so", async () => {
    const admin = await startAdmin();
    const mirror = await startV2Adapter({
      declare: { name: "mirror", hooks: [pullHook], credentials: true },
    });
    const cli = (...argv: string[]) => runCli(["--admin", admin.address, ...argv]);

    expect(await cli("load", "--url", mirror.url, "--allow-credentials")).toEqual({
      code: 0,
      stdout: `loaded mirror (1 hook) from ${mirror.url}; it receives credentials\n`,
      stderr: "",
    });
    expect(admin.registry.get("mirror")?.receivesCredentials).toBe(true);
    const table = (await cli("ls")).stdout.split("\n");
    expect(table[0]).toMatch(/^NAME +SOURCE +STATE +HOOKS +CREDENTIALS +SINCE$/);
    expect(table[1]).toMatch(/^mirror +\S+ +ready +1 +sent +/);
    expect((await cli("inspect", "mirror")).stdout).toContain(
      "Credentials:     sent (it asks for them, and the operator allowed it)\n",
    );
    expect(JSON.parse((await cli("ls", "--json")).stdout)[0]).toMatchObject({ credentials: "sent" });
  });

  it("without the flag, withholds them and tells the operator how to send them", async () => {
    const admin = await startAdmin();
    const mirror = await startV2Adapter({
      declare: { name: "mirror", hooks: [pullHook], credentials: true },
    });
    const loaded = await runCli(["--admin", admin.address, "load", "--url", mirror.url]);
    expect(loaded.stdout).toBe(
      `loaded mirror (1 hook) from ${mirror.url}; it asks for credentials, withheld (load it with --allow-credentials to send them)\n`,
    );
    expect(admin.registry.get("mirror")?.receivesCredentials).toBeUndefined();
    expect((await runCli(["--admin", admin.address, "ls"])).stdout).toMatch(
      /\n mirror|mirror +\S+ +ready +1 +withheld /,
    );
  });
});

describe("powerstrip load --allow-docker", () => {
  it("is refused for an adapter loaded by URL, in one line", async () => {
    expect(await runCli(["load", "--url", "unix:///run/a.sock", "--allow-docker"])).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "powerstrip: --allow-docker is only for image adapters: Powerstrip does not run an adapter loaded by --url\n",
    });
  });
});

describe("powerstrip load --legacy --allow-credentials", () => {
  it("is refused in one line: the 2015 messages carry no headers", async () => {
    expect(
      await runCli([
        "load",
        "--url",
        "http://127.0.0.1:8080/v1/extension",
        "--legacy",
        "--hook",
        "pre:POST /*/containers/create",
        "--allow-credentials",
      ]),
    ).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "powerstrip: --allow-credentials is not for --legacy adapters: the 2015 messages carry no headers, so there is nothing to allow\n",
    });
  });
});
