import { timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { type Command, InvalidArgumentError } from "commander";
import { createDashboard } from "docket/dashboard";
import { CliError, exitCodes } from "../cli-error.js";
import { adminQueue, type CommonOptions, commandContext, withCommonOptions } from "../context.js";

interface DashboardCommandOptions extends CommonOptions {
  port: number;
  host: string;
  basePath: string;
  readOnly?: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 0 || n > 65_535)
    throw new InvalidArgumentError("expected a port from 0 to 65535");
  return n;
}

/** `user:pass` from DOCKET_DASHBOARD_BASIC_AUTH, or undefined when unset. */
function basicAuth(): { user: string; expected: Buffer } | undefined {
  const value = process.env.DOCKET_DASHBOARD_BASIC_AUTH;
  if (value === undefined || value === "") return undefined;
  const at = value.indexOf(":");
  if (at <= 0) {
    throw new CliError("DOCKET_DASHBOARD_BASIC_AUTH must be user:password", {
      exitCode: exitCodes.usage,
    });
  }
  return {
    user: value.slice(0, at),
    expected: Buffer.from(`Basic ${Buffer.from(value).toString("base64")}`),
  };
}

function matches(header: string | undefined, expected: Buffer): boolean {
  const given = Buffer.from(header ?? "");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `docket dashboard`: serves the web dashboard of the configured database. */
export function registerDashboard(program: Command): void {
  withCommonOptions(
    program
      .command("dashboard")
      .description(
        "serve the web dashboard (basic auth from DOCKET_DASHBOARD_BASIC_AUTH=user:pass)",
      )
      .option("--port <port>", "port to listen on", port, 8080)
      .option("--host <host>", "address to listen on", "127.0.0.1")
      .option("--base-path <path>", "path the dashboard is served under", "/")
      .option("--read-only", "hide and refuse every action"),
  )
    .addHelpText(
      "after",
      `
Examples:
  $ docket dashboard --port 8080
  $ DOCKET_DASHBOARD_BASIC_AUTH=ops:secret docket dashboard --host 0.0.0.0 --base-path /docket`,
    )
    .action(async (options: DashboardCommandOptions) => {
      const auth = basicAuth();
      const { config, output } = await commandContext(options);
      const queue = adminQueue(config);
      const dashboard = createDashboard({
        queue,
        basePath: options.basePath === "/" ? "" : options.basePath,
        readOnly: options.readOnly ?? false,
        ...(auth ? { authorize: () => ({ access: "full" as const, user: auth.user }) } : {}),
      });
      const server = createServer((request, response) => {
        if (auth && !matches(request.headers.authorization, auth.expected)) {
          response.writeHead(401, { "www-authenticate": 'Basic realm="docket", charset="UTF-8"' });
          response.end("Authentication required");
          return;
        }
        dashboard(request, response);
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", (error) =>
          reject(
            new CliError(`cannot listen on ${options.host}:${options.port}: ${error.message}`),
          ),
        );
        server.listen(options.port, options.host, resolve);
      });
      const address = server.address();
      const actual = typeof address === "object" && address ? address.port : options.port;
      const url = `http://${options.host}:${actual}${options.basePath === "/" ? "/" : `${options.basePath.replace(/\/$/, "")}/`}`;
      const line = `docket dashboard on ${url}${options.readOnly ? " (read-only)" : ""}${auth ? "" : " (no authentication: keep it on a private address)"}`;
      if (output.json) {
        output.result({ url, readOnly: options.readOnly ?? false, basicAuth: !!auth }, () => []);
      } else output.note(line);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      output.note(`${signal}: stopping`);
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await queue.stop({ grace: 0 });
    });
}
