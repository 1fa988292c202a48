import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

/** A TCP proxy in front of a real PostgreSQL whose answers can be held back. */
export interface TcpProxy {
  /** The URL to connect through the proxy (the target's URL with the proxy's host and port). */
  url: string;
  /**
   * From now on, what the server sends on the connections open now is held back (what clients
   * send still reaches the server): statements on those connections run, their answers do not
   * arrive. New connections are not affected.
   */
  silence(): void;
  /** Delivers everything held back, late, and lets those connections speak again. */
  restore(): void;
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  server: Socket;
  held: Buffer[] | null;
}

/**
 * Starts a proxy on 127.0.0.1 to the host and port of `targetUrl`: a connection that goes
 * silent without breaking (no reset, no error), as a dropped network or a lost reply looks
 * to the client.
 */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const links = new Set<Link>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port), target.hostname);
    const link: Link = { client, server: upstream, held: null };
    links.add(link);
    client.on("data", (data) => upstream.write(data));
    upstream.on("data", (data) => {
      if (link.held) link.held.push(data);
      else client.write(data);
    });
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", drop).on("error", drop);
    upstream.on("close", drop).on("error", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  const url = new URL(targetUrl);
  url.hostname = "127.0.0.1";
  url.port = String(address.port);
  return {
    url: url.toString(),
    silence() {
      for (const link of links) link.held ??= [];
    },
    restore() {
      for (const link of links) {
        const held = link.held ?? [];
        link.held = null;
        for (const data of held) link.client.write(data);
      }
    },
    async close() {
      for (const link of links) {
        link.client.destroy();
        link.server.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
