#!/usr/bin/env node
// The `vitte` command. In a source checkout it runs src/ through tsx; in the image it runs dist/.
import { existsSync } from 'node:fs';

const src = new URL('../src/main.ts', import.meta.url);
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(src.href);
} else {
  await import(new URL('../dist/main.js', import.meta.url).href);
}
