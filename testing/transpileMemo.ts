/**
 * ts-node (`transpile-only`, as the mocha configs load it) transpiles a TypeScript file every
 * time it is required, and the offline engine requires the program's modules afresh for each
 * evaluation. In test processes, each file's output is kept and reused while its source is
 * unchanged. The first output also stays in ts-node's source-map cache, so stack traces are
 * mapped as before.
 */
interface TsNodeService {
  compile(code: string, fileName: string, lineOffset?: number): string;
}

const service = (process as unknown as Record<symbol, TsNodeService | undefined>)[
  Symbol.for("ts-node.register.instance")
];

if (service) {
  const compile = service.compile.bind(service);
  const outputs = new Map<string, { code: string; lineOffset?: number; output: string }>();
  service.compile = (code, fileName, lineOffset) => {
    const known = outputs.get(fileName);
    if (known && known.code === code && known.lineOffset === lineOffset) return known.output;
    const output = compile(code, fileName, lineOffset);
    outputs.set(fileName, { code, lineOffset, output });
    return output;
  };
}
