// Run by each package's `prepack`: copies the repository's LICENSE (and its README, for a package
// without one of its own) into the package, so that the tarball carries them. The copies are
// build output (.gitignore), made fresh on every pack. `--clean` also empties dist/, so that the
// build that follows leaves no file of a source that is gone.
import { copyFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = process.cwd();
copyFileSync(join(root, "LICENSE"), join(pkg, "LICENSE"));
const ownReadme = existsSync(join(pkg, "README.md")) && !process.argv.includes("--readme");
if (!ownReadme) copyFileSync(join(root, "README.md"), join(pkg, "README.md"));
if (process.argv.includes("--clean")) rmSync(join(pkg, "dist"), { recursive: true, force: true });
