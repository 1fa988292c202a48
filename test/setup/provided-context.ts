// What the global setup hands to every test file through vitest's provide/inject.

/** The PostgreSQL server of this test run. */
export interface TestServer {
  /** Connection string of a superuser on the server's maintenance database. */
  adminUrl: string;
  /** A database with docket's migrations applied, to clone for each test file. */
  template: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    docketTestServer: TestServer;
  }
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}
