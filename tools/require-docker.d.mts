// Types for require-docker.mjs, so the TypeScript test setup can import it.
export declare const DOCKER_SOCKET: string;
export declare function checkDocker(socketPath?: string, timeoutMs?: number): Promise<string | null>;
export declare function dockerProblem(what?: string): Promise<string | null>;
