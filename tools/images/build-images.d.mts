// Types for build-images.mjs, so TypeScript (test setup, other tools) can import it.
export interface ImageSpec {
  name: string;
  deps: string[];
  inputs(): Promise<unknown>;
  build(hash: string): Promise<unknown>;
}
export declare const IMAGES: ImageSpec[];
export declare function dockerfileImage(
  name: string,
  options: { dockerfile: string; context: string; inputs?: string[]; base?: string },
): ImageSpec;
/** Resolves to { [name]: "built" | "cached" } for the named images and their deps. */
export declare function ensureImages(
  names?: string[],
  options?: { force?: boolean },
): Promise<Record<string, "built" | "cached">>;
