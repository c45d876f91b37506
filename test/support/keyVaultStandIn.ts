import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A stand-in for the Key Vault secrets REST API (set and get secret, by version), on localhost,
 * enough for @azure/keyvault-secrets: it answers an unauthenticated request with the 401 challenge
 * the SDK's authentication policy expects (naming the resource to request a token for), and then
 * accepts only the bearer token it was given. Plain http, so clients pass allowInsecureConnection,
 * and disableChallengeResourceVerification since 127.0.0.1 is not a *.vault.azure.net host; the
 * app's own vault URL must be https (KEY_VAULT_URL).
 */
export interface KeyVaultStandIn {
  url: string;
  /** Every request, as `METHOD path` with the status answered. */
  requests: { method: string; path: string; status: number }[];
  /** Every version stored under a name, oldest first. */
  versions(name: string): { version: string; value: string }[];
  /** The next requests for any secret answer this status (e.g. 503), until cleared with undefined. */
  failWith(status: number | undefined): void;
  stop(): Promise<void>;
}

export const STAND_IN_TOKEN = "stand-in-token";
const RESOURCE = "https://vault.azure.net";

export async function startKeyVaultStandIn(): Promise<KeyVaultStandIn> {
  const secrets = new Map<string, { version: string; value: string; contentType?: string; created: number }[]>();
  const requests: KeyVaultStandIn["requests"] = [];
  let failing: number | undefined;
  let base = "";

  const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(body === undefined ? "" : JSON.stringify(body));
  };
  const bundle = (name: string, s: { version: string; value: string; contentType?: string; created: number }) => ({
    value: s.value,
    id: `${base}/secrets/${name}/${s.version}`,
    ...(s.contentType ? { contentType: s.contentType } : {}),
    attributes: { enabled: true, created: s.created, updated: s.created, recoveryLevel: "Recoverable+Purgeable" },
  });
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", base);
    const answer = (status: number, body?: unknown, headers?: Record<string, string>) => {
      requests.push({ method: req.method ?? "", path: url.pathname, status });
      send(res, status, body, headers);
    };
    const body = await readBody(req);
    if (!url.searchParams.get("api-version"))
      return answer(400, { error: { code: "MissingApiVersionParameter", message: "api-version is required" } });
    if (req.headers.authorization !== `Bearer ${STAND_IN_TOKEN}`) {
      return answer(
        401,
        { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } },
        {
          "www-authenticate": `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="${RESOURCE}"`,
        },
      );
    }
    if (failing) return answer(failing, { error: { code: "ServiceUnavailable", message: "stand-in told to fail" } });
    const match = /^\/secrets\/([0-9A-Za-z-]{1,127})(?:\/([0-9A-Za-z]*))?\/?$/.exec(url.pathname);
    if (!match) return answer(404, { error: { code: "NotFound", message: "no such operation in the stand-in" } });
    const [, name, version] = match as unknown as [string, string, string | undefined];
    if (req.method === "PUT" && !version) {
      const parsed = JSON.parse(body) as { value?: string; contentType?: string };
      if (typeof parsed.value !== "string") return answer(400, { error: { code: "BadParameter", message: "value is required" } });
      const stored = {
        version: randomBytes(16).toString("hex"),
        value: parsed.value,
        created: Math.floor(Date.now() / 1000),
        ...(parsed.contentType ? { contentType: parsed.contentType } : {}),
      };
      secrets.set(name, [...(secrets.get(name) ?? []), stored]);
      return answer(200, bundle(name, stored));
    }
    if (req.method === "GET") {
      const all = secrets.get(name) ?? [];
      const found = version ? all.find((s) => s.version === version) : all.at(-1);
      if (!found)
        return answer(404, {
          error: { code: "SecretNotFound", message: `A secret with (name/id) ${name}/${version ?? ""} was not found in this key vault.` },
        });
      return answer(200, bundle(name, found));
    }
    return answer(405, { error: { code: "MethodNotAllowed", message: `${req.method} is not supported by the stand-in` } });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    versions: (name) => (secrets.get(name) ?? []).map(({ version, value }) => ({ version, value })),
    failWith: (status) => void (failing = status),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
