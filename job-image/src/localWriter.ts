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
import { ParamError } from "./params";

/** A {@link ResultWriter} for a local folder. */
export class LocalResultWriter implements ResultWriter {
  readonly destination: string;

  constructor(
    private readonly dir: string,
    runId: string,
    private readonly overwrite = false,
  ) {
    this.destination = path.join(dir, runId);
  }

  /**
   * Refuses to replace an earlier run's results unless asked, and proves the folder writable
   * with a probe file, so a bad `--out` fails at once instead of after the whole duration.
   */
  async prepare(): Promise<void> {
    const manifest = path.join(this.destination, MANIFEST_FILE);
    if (!this.overwrite && (await exists(manifest))) {
      throw new ParamError([
        `--run-id: ${path.basename(this.destination)} already has results in ${this.destination}; use another --run-id (or leave it out), or add --overwrite to replace them`,
      ]);
    }
    const probe = path.join(this.dir, `.write-check-${process.pid}`);
    try {
      await fs.mkdir(this.dir, { recursive: true });
      await fs.writeFile(probe, "");
      await fs.rm(probe, { force: true });
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      throw new ParamError([
        `--out: cannot write results to ${JSON.stringify(this.dir)} (${code ?? message}); choose a folder you can write to, e.g. --out results`,
      ]);
    }
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

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
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
