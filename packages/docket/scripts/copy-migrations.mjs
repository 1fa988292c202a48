// Copies the repository's migrations/ into the package so that they ship inside the build.
import { cpSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const from = fileURLToPath(new URL("../../../migrations/", import.meta.url));
const to = fileURLToPath(new URL("../migrations/", import.meta.url));
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
