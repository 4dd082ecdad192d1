import { ProxyError, ProxyErrorCode, type TlsFiles } from "@powerstrip/proxy-core";
import { Option } from "commander";

/**
 * The TLS flags, as dockerd spells them: `--tlsverify --tlscacert ca.pem --tlscert cert.pem
 * --tlskey key.pem` serves every tcp:// listener over TLS and requires client certificates issued
 * by the CA; `--tls` alone serves TLS without verifying clients (loopback listeners only).
 */
export function tlsOption(name: keyof TlsFlagValues): Option {
  switch (name) {
    case "tls":
      return new Option(
        "--tls",
        "serve the tcp:// listeners over TLS, without verifying clients (loopback only)",
      ).env("POWERSTRIP_TLS");
    case "tlsverify":
      return new Option(
        "--tlsverify",
        "serve the tcp:// listeners over TLS and require client certificates issued by --tlscacert (any interface)",
      ).env("POWERSTRIP_TLSVERIFY");
    case "tlscacert":
      return new Option("--tlscacert <file>", "PEM: the CA that client certificates must be issued by").env(
        "POWERSTRIP_TLSCACERT",
      );
    case "tlscert":
      return new Option("--tlscert <file>", "PEM: the proxy's TLS certificate").env("POWERSTRIP_TLSCERT");
    case "tlskey":
      return new Option("--tlskey <file>", "PEM: the proxy's TLS private key").env("POWERSTRIP_TLSKEY");
  }
}

export interface TlsFlagValues {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/**
 * The TLS files to serve with, or undefined for no TLS. Combinations that would leave the
 * operator believing clients are checked when they are not are refused (INVALID_TLS).
 */
export function tlsFiles(values: TlsFlagValues, listen: readonly string[]): TlsFiles | undefined {
  const invalid = (message: string) => new ProxyError(ProxyErrorCode.InvalidTls, message);
  const on = values.tls === true || values.tlsverify === true;
  if (!on) {
    const stray = (["tlscacert", "tlscert", "tlskey"] as const).find((name) => values[name] !== undefined);
    if (stray !== undefined) throw invalid(`--${stray} given without --tlsverify (or --tls): TLS is off`);
    return undefined;
  }
  const flag = values.tlsverify === true ? "--tlsverify" : "--tls";
  if (values.tlsverify === true && values.tlscacert === undefined) {
    throw invalid("--tlsverify needs --tlscacert, the CA that issues the client certificates");
  }
  if (values.tlsverify !== true && values.tlscacert !== undefined) {
    throw invalid("--tlscacert given without --tlsverify: client certificates would not be verified");
  }
  if (values.tlscert === undefined || values.tlskey === undefined) {
    throw invalid(`${flag} needs --tlscert and --tlskey, the proxy's certificate and key`);
  }
  if (!listen.some((address) => address.startsWith("tcp://"))) {
    throw invalid(`${flag} applies to tcp:// listeners, and no --listen tcp://HOST:PORT is given`);
  }
  const files: TlsFiles = { cert: values.tlscert, key: values.tlskey };
  if (values.tlscacert !== undefined) files.ca = values.tlscacert;
  return files;
}
