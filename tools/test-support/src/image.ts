/** The locally built base image tests run (no registry: nothing can be pulled). */
export const BASE_IMAGE = "powerstrip/base-node:latest";
