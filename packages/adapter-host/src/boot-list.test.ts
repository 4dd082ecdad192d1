import { describe, expect, it } from "vitest";
import { parseBootList } from "./boot-list.js";

describe("parseBootList", () => {
  it("reads images, each with the grants written after it", () => {
    expect(
      parseBootList(
        "  acme/policy\tacme/set:1 --allow-docker\nlocalhost:5000/m --allow-credentials --allow-docker ",
      ),
    ).toEqual([
      { image: "acme/policy" },
      { image: "acme/set:1", allowDocker: true },
      { image: "localhost:5000/m", allowCredentials: true, allowDocker: true },
    ]);
    expect(parseBootList("")).toEqual([]);
  });

  it.each([
    [
      "--allow-docker acme/set",
      "the boot list (--adapters) starts with --allow-docker: write it after the image it is for",
    ],
    [
      "acme/set --grant-all",
      'the boot list (--adapters) has "--grant-all": after an image, only --allow-docker and --allow-credentials may follow',
    ],
    [
      "acme/set --allow-docker acme/set --allow-credentials",
      "the boot list (--adapters) names acme/set twice: write each image once, followed by all its grants",
    ],
    [
      "acme/set docker.io/acme/set:latest",
      "the boot list (--adapters) names acme/set and docker.io/acme/set:latest (the same image) twice",
    ],
  ])("refuses %j with one clear line", (text, message) => {
    expect(() => parseBootList(text)).toThrow(
      expect.objectContaining({ code: "INVALID_REQUEST", message: expect.stringContaining(message) }),
    );
  });
});
