import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inflateRawSync } from "node:zlib";
import {
  contextFiles,
  isIgnored,
  parseDockerignore,
  readBuildContext,
  sha256Hex,
  zipArchive,
} from "../../lib/buildContext";

/** The entries of a zip, read from its central directory (the layout any unzip reads). */
function readZip(zip: Buffer): { path: string; content: string; mode: number }[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const mode = zip.readUInt32LE(at + 38) >>> 16;
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString("utf8");
    const localName = zip.readUInt16LE(local + 26);
    const data = zip.subarray(local + 30 + localName, local + 30 + localName + size);
    entries.push({ path: name, content: inflateRawSync(data).toString("utf8"), mode });
    at += 46 + nameLength;
  }
  return entries;
}

describe("build context (.dockerignore, zip)", () => {
  // Docker's rules: the last matching line wins, a folder pattern covers what is inside it,
  // `**` spans folders, a leading "/" is dropped (https://docs.docker.com/build/concepts/context/).
  const cases: [string, string, boolean][] = [
    ["node_modules", "node_modules/x/index.js", true],
    ["node_modules", "src/node_modules.ts", false],
    ["*.log", "npm.log", true],
    ["*.log", "logs/npm.log", false],
    ["**/*.log", "logs/deep/npm.log", true],
    ["**/*.log", "npm.log", true],
    ["/dist", "dist/main.js", true],
    ["src/*.test.ts", "src/a.test.ts", true],
    ["src/*.test.ts", "src/sub/a.test.ts", false],
    ["src/?.ts", "src/a.ts", true],
    ["src/?.ts", "src/ab.ts", false],
    ["[a-c].txt", "b.txt", true],
    ["[!a-c].txt", "b.txt", false],
    ["dist\n!dist/keep.js", "dist/keep.js", false],
    ["dist\n!dist/keep.js", "dist/drop.js", true],
    ["# a comment\n\n  *.md  ", "README.md", true],
    ["./build/../out", "out/x", true],
  ];
  for (const [ignore, file, ignored] of cases) {
    it(`${JSON.stringify(ignore)} ${ignored ? "leaves out" : "keeps"} ${file}`, () => {
      assert.equal(isIgnored(parseDockerignore(ignore), file), ignored);
    });
  }

  it("always sends the Dockerfile and .dockerignore, as Docker's CLI does", () => {
    const listing = ["Dockerfile", ".dockerignore", "README.md", "src/a.ts", "node_modules/x.js"];
    assert.deepEqual(contextFiles(listing, "Dockerfile\n.dockerignore\nREADME.md\nnode_modules"), [
      ".dockerignore",
      "Dockerfile",
      "src/a.ts",
    ]);
    assert.deepEqual(contextFiles(listing, undefined), [...listing].sort());
  });

  it("zips deterministically: same files, same bytes; a changed byte, another hash", () => {
    const files = [
      { path: "b.sh", content: Buffer.from("#!/bin/sh\necho b\n"), mode: 0o755 },
      { path: "a/x.txt", content: Buffer.from("x".repeat(5000)), mode: 0o644 },
    ];
    const zip = zipArchive(files);
    assert.deepEqual(zip, zipArchive([...files].reverse()));
    assert.deepEqual(readZip(zip), [
      { path: "a/x.txt", content: "x".repeat(5000), mode: 0o100644 },
      { path: "b.sh", content: "#!/bin/sh\necho b\n", mode: 0o100755 },
    ]);
    const changed = zipArchive([
      { ...files[0], content: Buffer.from("#!/bin/sh\necho c\n") },
      files[1],
    ]);
    assert.notEqual(sha256Hex(changed), sha256Hex(zip));
  });

  it("packs a folder as docker build would send it, skipping ignored folders", () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "tj-context-"));
    try {
      fs.mkdirSync(path.join(folder, "src"));
      fs.mkdirSync(path.join(folder, "node_modules", "pkg"), { recursive: true });
      fs.writeFileSync(path.join(folder, "Dockerfile"), "FROM scratch\nCOPY src /src\n");
      fs.writeFileSync(path.join(folder, ".dockerignore"), "node_modules\n*.md\n");
      fs.writeFileSync(path.join(folder, "README.md"), "docs");
      fs.writeFileSync(path.join(folder, "src", "main.ts"), "export {};\n");
      fs.writeFileSync(path.join(folder, "node_modules", "pkg", "index.js"), "x");
      const packed = readBuildContext(folder);
      assert.deepEqual(packed.files, [".dockerignore", "Dockerfile", "src/main.ts"]);
      assert.equal(packed.sha256, sha256Hex(packed.archive));
      assert.deepEqual(
        readZip(packed.archive).map((e) => e.path),
        packed.files,
      );
      fs.writeFileSync(path.join(folder, "README.md"), "ignored, so the same context");
      assert.equal(readBuildContext(folder).sha256, packed.sha256);
      fs.writeFileSync(path.join(folder, "src", "main.ts"), "export const changed = 1;\n");
      assert.notEqual(readBuildContext(folder).sha256, packed.sha256);
      fs.rmSync(path.join(folder, "Dockerfile"));
      assert.throws(() => readBuildContext(folder), /has no Dockerfile/);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
