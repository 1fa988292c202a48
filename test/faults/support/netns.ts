// A network namespace joined to the host by a veth pair, for tests of a silent network between
// a docket node and PostgreSQL: the node runs inside the namespace, the server listens on the
// host end of the pair, and an nftables rule in the namespace drops every packet on the link
// (no RST, no ICMP: the connection just goes quiet) until it is lifted. Needs root, `ip`
// (iproute2) and `nft` (nftables); `.ci/run` installs them.
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";

function has(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why the namespace cannot be made here, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  if (!has("ip")) return "needs `ip` (apt-get install -y iproute2)";
  if (!has("nft")) return "needs `nft` (apt-get install -y nftables)";
  return undefined;
}

/** A namespace with one veth link to the host. */
export interface LinkedNamespace {
  readonly name: string;
  /** The host's address on the link (the server listens here). */
  readonly hostAddress: string;
  /** Prefixes a command to run it inside the namespace. */
  readonly exec: string[];
  /** Drops every packet on the link, both ways, silently. */
  cut(): void;
  /** Lets packets through again. */
  restore(): void;
  /** Deletes the namespace and the link. */
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });

/** Creates the namespace and the link, with a random /30 in 10.200.0.0/16. */
export function createLinkedNamespace(): LinkedNamespace {
  const tag = randomInt(0x1000, 0xffff).toString(16);
  const name = `docket-${tag}`;
  const hostSide = `dkh${tag}`;
  const nsSide = `dkn${tag}`;
  const block = randomInt(0, 16_384) * 4;
  const base = `10.200.${Math.floor(block / 256)}.`;
  const hostAddress = `${base}${(block % 256) + 1}`;
  const nsAddress = `${base}${(block % 256) + 2}`;
  const inNs = (...args: string[]) =>
    execFileSync("ip", ["netns", "exec", name, ...args], { stdio: "pipe" });
  ip("netns", "add", name);
  try {
    ip("link", "add", hostSide, "type", "veth", "peer", "name", nsSide);
    ip("link", "set", nsSide, "netns", name);
    ip("addr", "add", `${hostAddress}/30`, "dev", hostSide);
    ip("link", "set", hostSide, "up");
    inNs("ip", "addr", "add", `${nsAddress}/30`, "dev", nsSide);
    inNs("ip", "link", "set", nsSide, "up");
    inNs("ip", "link", "set", "lo", "up");
  } catch (error) {
    ip("netns", "del", name);
    throw error;
  }
  const table = "docket_cut";
  return {
    name,
    hostAddress,
    exec: ["ip", "netns", "exec", name],
    cut() {
      execFileSync("ip", ["netns", "exec", name, "nft", "-f", "-"], {
        stdio: ["pipe", "pipe", "pipe"],
        input: `table inet ${table} {
  chain out { type filter hook output priority 0; oifname "${nsSide}" drop; }
  chain in { type filter hook input priority 0; iifname "${nsSide}" drop; }
}
`,
      });
    },
    restore() {
      inNs("nft", "delete", "table", "inet", table);
    },
    destroy() {
      try {
        ip("netns", "del", name);
      } finally {
        try {
          ip("link", "del", hostSide);
        } catch {
          // Gone with the namespace, as it should be.
        }
      }
    },
  };
}
