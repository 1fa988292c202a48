import { createServer, type Server } from "node:http";
import type { Queue } from "docket";

/**
 * The probes of `docket start --health-port`: `/healthz` answers 200 while the process serves
 * requests (liveness: restart only a wedged process), `/readyz` 200 when `queue.health()` says
 * ready and 503 otherwise (readiness: starting, stopping, database away, LISTEN deaf, acks piling
 * up), both with the health document as JSON.
 */
export async function startHealthServer(queue: Queue, port: number, host: string): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path !== "/healthz" && path !== "/readyz") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    queue.health({ timeout: 2 }).then(
      (health) => {
        const ok = path === "/healthz" || health.ready;
        const body = JSON.stringify(
          path === "/healthz" ? { alive: true, state: health.state } : health,
        );
        response
          .writeHead(ok ? 200 : 503, {
            "content-type": "application/json",
            "cache-control": "no-store",
          })
          .end(request.method === "HEAD" ? undefined : `${body}\n`);
      },
      (error: unknown) => {
        response.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
