import { BlockList, isIP } from "node:net";

/**
 * Which IP addresses a webhook may never reach (SSRF): anything that is not the public
 * internet. Pure: the caller resolves names; this only judges addresses.
 *
 * IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d,
 * NAT64 64:ff9b::/96) are judged by the IPv4 address inside, so ::ffff:127.0.0.1 is loopback.
 */
export type AddressClass =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "link-local"
  | "unique-local"
  | "cgnat"
  | "multicast"
  | "metadata"
  | "reserved"
  | "not-an-ip";

const RANGES: readonly [AddressClass, string, number, "ipv4" | "ipv6"][] = [
  // Cloud instance metadata and platform endpoints first, so they are named as such.
  ["metadata", "169.254.169.254", 32, "ipv4"],
  ["metadata", "168.63.129.16", 32, "ipv4"], // Azure's WireServer / platform DNS
  ["metadata", "100.100.100.200", 32, "ipv4"], // Alibaba Cloud metadata
  ["metadata", "fd00:ec2::254", 128, "ipv6"], // AWS IPv6 metadata
  ["unspecified", "0.0.0.0", 8, "ipv4"],
  ["private", "10.0.0.0", 8, "ipv4"],
  ["cgnat", "100.64.0.0", 10, "ipv4"],
  ["loopback", "127.0.0.0", 8, "ipv4"],
  ["link-local", "169.254.0.0", 16, "ipv4"],
  ["private", "172.16.0.0", 12, "ipv4"],
  ["reserved", "192.0.0.0", 24, "ipv4"], // IETF protocol assignments
  ["reserved", "192.0.2.0", 24, "ipv4"], // documentation
  ["reserved", "192.88.99.0", 24, "ipv4"], // 6to4 relay anycast
  ["private", "192.168.0.0", 16, "ipv4"],
  ["reserved", "198.18.0.0", 15, "ipv4"], // benchmarking
  ["reserved", "198.51.100.0", 24, "ipv4"], // documentation
  ["reserved", "203.0.113.0", 24, "ipv4"], // documentation
  ["multicast", "224.0.0.0", 4, "ipv4"],
  ["reserved", "240.0.0.0", 4, "ipv4"], // includes 255.255.255.255
  ["unspecified", "::", 128, "ipv6"],
  ["loopback", "::1", 128, "ipv6"],
  ["reserved", "100::", 64, "ipv6"], // discard-only
  ["reserved", "2001:db8::", 32, "ipv6"], // documentation
  ["reserved", "2001::", 23, "ipv6"], // IETF protocol assignments (Teredo etc.)
  ["reserved", "2002::", 16, "ipv6"], // 6to4: reaches an embedded IPv4 address
  ["unique-local", "fc00::", 7, "ipv6"],
  ["link-local", "fe80::", 10, "ipv6"],
  ["reserved", "fec0::", 10, "ipv6"], // deprecated site-local
  ["multicast", "ff00::", 8, "ipv6"],
];

const lists = new Map<AddressClass, BlockList>();
for (const [kind, network, prefix, family] of RANGES) {
  let list = lists.get(kind);
  if (!list) lists.set(kind, (list = new BlockList()));
  list.addSubnet(network, prefix, family);
}

export function classifyAddress(address: string): AddressClass {
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  const family = isIP(bare);
  if (family === 0) return "not-an-ip";
  if (family === 6) {
    const embedded = embeddedIpv4(bare);
    if (embedded !== undefined) return classifyAddress(embedded);
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  for (const [kind, list] of lists) if (list.check(bare, type)) return kind;
  return "public";
}

export function isPublicAddress(address: string): boolean {
  return classifyAddress(address) === "public";
}

/** The IPv4 address inside ::ffff:0:0/96, ::/96 (compatible, deprecated) and 64:ff9b::/96 (NAT64). */
function embeddedIpv4(address: string): string | undefined {
  const words = expandIpv6(address);
  if (!words) return undefined;
  const high = words.slice(0, 6);
  const zeros = (n: number) => high.slice(0, n).every((w) => w === 0);
  const mapped = zeros(5) && high[5] === 0xffff;
  const compatible = zeros(6) && (words[6]! !== 0 || words[7]! > 1); // not :: or ::1
  const nat64 = high[0] === 0x64 && high[1] === 0xff9b && high.slice(2).every((w) => w === 0);
  if (!mapped && !compatible && !nat64) return undefined;
  return [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join(".");
}

/** Eight 16-bit words, from any valid textual IPv6 form (with "::" and a dotted IPv4 tail). */
function expandIpv6(address: string): number[] | undefined {
  let text = address.split("%")[0]!.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = dotted[1]!.split(".").map(Number);
    text = text.slice(0, -dotted[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((w) => parseInt(w, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (tail === undefined && fill !== 0)) return undefined;
  return [...left, ...Array<number>(fill).fill(0), ...right];
}
