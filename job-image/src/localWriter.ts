/**
 * Writes a result to `<dir>/<run id>/pi.txt` and `manifest.json`. Each file is written to a
 * temporary name, flushed to disk and renamed, so a reader never sees a partial file.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import {
  DATA_FILE,
  encodeManifest,
  Manifest,
  MANIFEST_FILE,
  ResultWriter,
  StoredLocation,
} from "./manifest";

/** A {@link ResultWriter} for a local folder. */
export class LocalResultWriter implements ResultWriter {
  readonly destination: string;

  constructor(dir: string, runId: string) {
    this.destination = path.join(dir, runId);
  }

  async write(data: Buffer, manifest: Manifest): Promise<StoredLocation> {
    await fs.mkdir(this.destination, { recursive: true });
    const dataPath = path.join(this.destination, DATA_FILE);
    const manifestPath = path.join(this.destination, MANIFEST_FILE);
    await writeDurably(dataPath, data);
    await writeDurably(manifestPath, encodeManifest(manifest));
    return { data: dataPath, manifest: manifestPath };
  }
}

async function writeDurably(file: string, content: Buffer): Promise<void> {
  const temporary = `${file}.partial`;
  const handle = await fs.open(temporary, "w");
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, file);
}
