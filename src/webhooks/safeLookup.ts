import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { classifyAddress } from "../model/addressPolicy.js";

export class BlockedAddressError extends Error {
  readonly code = "EWEBHOOKBLOCKED";
  constructor(
    readonly hostname: string,
    readonly kind: string,
  ) {
    super(`${hostname} resolves to a ${kind} address; webhooks are never delivered there`);
    this.name = "BlockedAddressError";
  }
}

type Resolve = (hostname: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

/**
 * A `lookup` for http(s).request that resolves the name, refuses it if ANY of its addresses is
 * not public, and hands the socket the address it checked. Since the connection goes to that
 * very address, a second, different DNS answer (rebinding) never gets a say.
 */
export function safeLookup(resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 4);
          return;
        }
        for (const { address } of addresses) {
          const kind = classifyAddress(address);
          if (kind !== "public") {
            callback(new BlockedAddressError(hostname, kind), "", 4);
            return;
          }
        }
        if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, wanted);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 4),
    );
  };
}

/** A literal IP host never goes through lookup, so it is judged here before connecting. */
export function literalAddressProblem(hostname: string): string | undefined {
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  if (!isIP(bare)) return undefined;
  const kind = classifyAddress(bare);
  return kind === "public" ? undefined : `${hostname} is a ${kind} address; webhooks are never delivered there`;
}
