#!/usr/bin/env node
// tsc emits only JavaScript; the runtime also reads files that sit beside the sources (Fluent
// locales, playground and admin assets). Copy every non-TypeScript file under src/ into the build
// output at the same relative path, so dist/ runs without src/ (the Docker image has no src/).
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');
const outDir = resolve(process.argv[2] ?? join(root, 'dist'));

/** Sources and their type declarations are compiled; documentation stays in the repository. */
const skip = (name) => /\.(c|m)?ts$/.test(name) || name.toLowerCase() === 'readme.md';

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile() && !skip(entry.name)) yield path;
  }
}

let count = 0;
for (const file of files(srcDir)) {
  const target = join(outDir, relative(srcDir, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  count += 1;
}
process.stdout.write(`copied ${count} asset file(s) from src/ to ${relative(root, outDir) || '.'}\n`);
