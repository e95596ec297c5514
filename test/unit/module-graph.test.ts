import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The modules `src/main.ts` loads through static imports (type-only imports are erased, `import()`
 * runs only when reached), each with the chain that brought it in.
 */
function staticGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length) {
    const file = queue.shift()!;
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    for (const stmt of source.statements) {
      const isImport = ts.isImportDeclaration(stmt) && !stmt.importClause?.isTypeOnly;
      const isExport = ts.isExportDeclaration(stmt) && !stmt.isTypeOnly;
      if (!isImport && !isExport) continue;
      const spec = (stmt.moduleSpecifier as ts.StringLiteral | undefined)?.text;
      if (!spec?.startsWith('.')) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!existsSync(target) || seen.has(target)) continue;
      seen.set(target, [...seen.get(file)!, target]);
      queue.push(target);
    }
  }
  return seen;
}

describe('production module graph', () => {
  it('src/dev (emulator, playground, fake LLM) is never loaded unless a development path asks for it', () => {
    const root = resolve('src');
    const graph = staticGraph(join(root, 'main.ts'));
    expect(graph.size).toBeGreaterThan(50);
    const dev = [...graph.entries()]
      .filter(([file]) => relative(root, file).startsWith('dev/'))
      .map(([, chain]) => chain.map((f) => relative(root, f)).join(' → '));
    expect(dev).toEqual([]);
  });
});
