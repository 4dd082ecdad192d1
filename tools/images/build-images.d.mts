// Types for build-images.mjs, so TypeScript (test setup, other tools) can import it.
export interface ImageSpec {
  name: string;
  deps: string[];
  /** The nx project whose `build` target writes what the image copies. */
  project?: string;
  inputs(): Promise<unknown>;
  build(hash: string): Promise<unknown>;
}
export declare const IMAGES: ImageSpec[];
export declare function dockerfileImage(
  name: string,
  options: { dockerfile: string; context: string; inputs?: string[]; base?: string; project?: string },
): ImageSpec;
/**
 * Resolves to { [name]: "built" | "cached" } for the named images and their deps. Runs the nx
 * `build` target of the programs they copy first, unless `build: false`.
 */
export declare function ensureImages(
  names?: string[],
  options?: { force?: boolean; build?: boolean },
): Promise<Record<string, "built" | "cached">>;
