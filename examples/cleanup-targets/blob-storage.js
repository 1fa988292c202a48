// Object storage for registry blobs, as the ArtifactBlob target sees it: a folder on disk stands
// in for S3 here (BLOB_DIR, default ./.blob-storage beside this file). A real app would call its
// S3 client's DeleteObject in `delete`; the target only needs `delete` to be safe to repeat.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = process.env.BLOB_DIR ?? fileURLToPath(new URL("./.blob-storage/", import.meta.url));

/** Where a blob's bytes live. Digests are `sha256:<hex>`: safe as file names once the colon goes. */
function pathOf(digest) {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`not a blob digest: ${digest}`);
  return join(root, digest.replace(":", "-"));
}

export const blobStorage = {
  root,
  async put(digest, bytes) {
    await mkdir(root, { recursive: true });
    await writeFile(pathOf(digest), bytes);
  },
  /** Deletes a blob's bytes; deleting one that is gone already is fine. */
  async delete(digest) {
    await rm(pathOf(digest), { force: true });
  },
};
