/**
 * A Docker build context as the CodeBuild builder uploads it: the files `docker build` would
 * send (`.dockerignore` applied the way Docker applies it), packed into a deterministic zip whose
 * SHA-256 names the uploaded object. Pure apart from reading the folder in
 * {@link readBuildContext}: the same files always give the same bytes and the same key, so an
 * unchanged context uploads nothing and starts no build.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { deflateRawSync } from "node:zlib";

/** One `.dockerignore` line, compiled. */
export interface IgnorePattern {
  /** The cleaned pattern, as Docker matches it (no leading `/`, no `!`). */
  pattern: string;
  /** A `!` line: it re-includes what earlier lines excluded. */
  exception: boolean;
  regex: RegExp;
}

/** Cleans a path the way Go's `filepath.Clean` does, for the patterns Docker reads. */
function cleanPath(value: string): string {
  const parts: string[] = [];
  for (const part of value.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/") || ".";
}

/** Docker's pattern syntax (Go's `filepath.Match` plus `**`) as a regular expression. */
function patternRegex(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === "*" && pattern[i + 1] === "*") {
      i++;
      // `**/` also matches no directory at all; a trailing `**` matches everything below.
      if (pattern[i + 1] === "/") {
        i++;
        source += "(?:.*/)?";
      } else source += ".*";
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else if (char === "\\" && i + 1 < pattern.length) source += `\\${pattern[++i]}`;
    else if (char === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) throw new Error(`.dockerignore: "${pattern}" has an unclosed "["`);
      const body = pattern.slice(i + 1, end).replace(/^\^/, "!");
      source += `[${body.startsWith("!") ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else source += char.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/**
 * Parses a `.dockerignore` file: `#` comments and blank lines skipped, each line trimmed and
 * cleaned, a leading `/` dropped, `!` marking an exception
 * (https://docs.docker.com/build/concepts/context/#dockerignore-files).
 */
export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const exception = line.startsWith("!");
    if (exception) line = line.slice(1).trim();
    const pattern = cleanPath(line.replace(/^\/+/, ""));
    patterns.push({ pattern, exception, regex: patternRegex(pattern) });
  }
  return patterns;
}

/**
 * Whether Docker leaves `file` (a `/`-separated path inside the context) out of the context: the
 * last pattern that matches the file or one of its parent folders decides.
 */
export function isIgnored(patterns: IgnorePattern[], file: string): boolean {
  const parts = file.split("/");
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const { regex, exception } of patterns) {
    if (candidates.some((candidate) => regex.test(candidate))) ignored = !exception;
  }
  return ignored;
}

/**
 * Files Docker needs whatever `.dockerignore` says: the daemon reads the Dockerfile and the
 * ignore file from the context even when they are excluded from `COPY`
 * (docker/cli `TrimBuildFilesFromExcludes`,
 * https://github.com/docker/cli/blob/v23.0.0-rc.1/cli/command/image/build/dockerignore.go).
 */
export const ALWAYS_SENT = ["Dockerfile", ".dockerignore"] as const;

/**
 * The files of a context that `docker build` sends, sorted: every file of `listing` that the
 * `.dockerignore` text leaves in, plus {@link ALWAYS_SENT}.
 */
export function contextFiles(listing: string[], dockerignore: string | undefined): string[] {
  const patterns = parseDockerignore(dockerignore ?? "");
  return listing
    .filter(
      (file) => (ALWAYS_SENT as readonly string[]).includes(file) || !isIgnored(patterns, file),
    )
    .sort();
}

/** One file of an archive. */
export interface ArchiveEntry {
  /** `/`-separated path inside the archive. */
  path: string;
  content: Buffer;
  /** Unix permission bits (e.g. 0o644, 0o755 for a script). */
  mode: number;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** 1980-01-01 00:00, the earliest zip date: a fixed time keeps the bytes reproducible. */
const ZIP_DATE = (0 << 9) | (1 << 5) | 1;
const ZIP_TIME = 0;
/** "Made by" Unix (3), zip version 2.0: the high bytes of the external attributes are the mode. */
const MADE_BY_UNIX = (3 << 8) | 20;
const UTF8_NAMES = 0x0800;
const DEFLATE = 8;

/**
 * A zip archive of `entries` (deflated, sorted by path, fixed timestamps): the format CodeBuild
 * takes as an S3 source (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ProjectSource.html).
 */
export function zipArchive(entries: ArchiveEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of sorted) {
    const name = Buffer.from(entry.path, "utf8");
    const data = deflateRawSync(entry.content, { level: 9 });
    const crc = crc32(entry.content);
    // The fields local and central headers share, in the same order (flags to name length).
    const shared = (header: Buffer, at: number) => {
      header.writeUInt16LE(UTF8_NAMES, at);
      header.writeUInt16LE(DEFLATE, at + 2);
      header.writeUInt16LE(ZIP_TIME, at + 4);
      header.writeUInt16LE(ZIP_DATE, at + 6);
      header.writeUInt32LE(crc, at + 8);
      header.writeUInt32LE(data.length, at + 12);
      header.writeUInt32LE(entry.content.length, at + 16);
      header.writeUInt16LE(name.length, at + 20);
      return header;
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    shared(local, 6);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(MADE_BY_UNIX, 4);
    central.writeUInt16LE(20, 6);
    shared(central, 8);
    // Extra field, comment, disk number and internal attributes stay 0.
    central.writeUInt32LE(((0o100000 | (entry.mode & 0o777)) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(sorted.length, 8);
  end.writeUInt16LE(sorted.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** Hex SHA-256 of `data`. */
export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A build context packed for upload. */
export interface PackedContext {
  /** The files sent, sorted. */
  files: string[];
  /** The zip of those files. */
  archive: Buffer;
  /** Hex SHA-256 of {@link archive}: the object's name and the image tag. */
  sha256: string;
}

/** Every file below `folder`, `/`-separated and relative to it; symbolic links are not followed. */
function listFiles(folder: string, patterns: IgnorePattern[]): string[] {
  // Without exceptions an ignored folder cannot hold a file that is sent: skip it unread.
  const prune = !patterns.some((p) => p.exception);
  const found: string[] = [];
  const walk = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(folder, relative), { withFileTypes: true })) {
      const file = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!(prune && isIgnored(patterns, file))) walk(file);
      } else if (entry.isFile()) found.push(file);
    }
  };
  walk("");
  return found;
}

/**
 * Reads the build context `folder` (relative to the working directory, which `pulumi up` sets to
 * the project) and packs what `docker build` would send.
 * @throws Error naming the folder when it has no Dockerfile.
 */
export function readBuildContext(folder: string): PackedContext {
  if (!fs.existsSync(path.join(folder, "Dockerfile"))) {
    throw new Error(`build context "${folder}" has no Dockerfile`);
  }
  const ignoreFile = path.join(folder, ".dockerignore");
  const dockerignore = fs.existsSync(ignoreFile) ? fs.readFileSync(ignoreFile, "utf8") : undefined;
  const files = contextFiles(
    listFiles(folder, parseDockerignore(dockerignore ?? "")),
    dockerignore,
  );
  const archive = zipArchive(
    files.map((file) => {
      const absolute = path.join(folder, file);
      return {
        path: file,
        content: fs.readFileSync(absolute),
        mode: fs.statSync(absolute).mode & 0o777,
      };
    }),
  );
  return { files, archive, sha256: sha256Hex(archive) };
}
