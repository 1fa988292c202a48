import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { MigrationError } from "../errors.js";

/** The migrations shipped in the package, or the repository's own when running from source. */
export function migrationsDir(): string {
  const candidates = [
    new URL("../../migrations/", import.meta.url),
    new URL("../../../../migrations/", import.meta.url),
  ];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  throw new MigrationError("docket's migrations directory is missing from the installed package");
}
