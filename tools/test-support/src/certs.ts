import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate and its key, as PEM file paths. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A throwaway PKI, as `dockerd --tlsverify` and `docker --tlsverify` take it. */
export interface TestCertificates {
  dir: string;
  /** The CA that issued the server's and the clients' certificates. */
  ca: string;
  /** For the server: SANs IP:127.0.0.1, IP:::1 and DNS:localhost. */
  server: CertFiles;
  /** Client certificates by common name, issued by `ca`. */
  clients: Record<string, CertFiles>;
  /** Another CA, and a client certificate it issued (CN "intruder"): a client from elsewhere. */
  otherCa: string;
  intruder: CertFiles;
  close(): Promise<void>;
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/**
 * A CA, a server certificate and one client certificate per common name, made with the openssl
 * command in a fresh temp dir. EC P-256 keys: the whole set takes a fraction of a second.
 */
export async function makeTestCertificates(clientNames: readonly string[]): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), "pst-certs-"));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run("openssl", args, { cwd: dir });
  const newCa = (name: string) =>
    openssl(
      "req",
      "-x509",
      ...EC_KEY,
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/O=powerstrip-test/CN=${name}`,
    );
  const issue = async (ca: string, name: string, subject: string, extensions: string): Promise<CertFiles> => {
    await writeFile(file(`${name}.ext`), extensions);
    await openssl("req", ...EC_KEY, "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", subject);
    await openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      `${ca}.pem`,
      "-CAkey",
      `${ca}-key.pem`,
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-out",
      `${name}-cert.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
    return { cert: file(`${name}-cert.pem`), key: file(`${name}-key.pem`) };
  };
  const clientAuth = "extendedKeyUsage=clientAuth\n";
  await Promise.all([newCa("ca"), newCa("other-ca")]);
  const [server, intruder, ...issued] = await Promise.all([
    issue(
      "ca",
      "server",
      "/O=powerstrip-test/CN=localhost",
      "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    ),
    issue("other-ca", "intruder", "/O=elsewhere/CN=intruder", clientAuth),
    ...clientNames.map((name) => issue("ca", `client-${name}`, `/O=powerstrip-test/CN=${name}`, clientAuth)),
  ]);
  const clients = Object.fromEntries(clientNames.map((name, i) => [name, issued[i]!]));
  return {
    dir,
    ca: file("ca.pem"),
    server: server!,
    clients,
    otherCa: file("other-ca.pem"),
    intruder: intruder!,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
