import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layers of src/ and who may import whom, checked over every file's imports: static imports,
 * `export … from`, type-level `import('…')`, and dynamic `import()` (which is how development code
 * is started; see DEV_LOADERS).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

type Layer =
  | 'main'
  | 'cli'
  | 'bot'
  | 'api'
  | 'admin'
  | 'worker'
  | 'app'
  | 'config'
  | 'domain'
  | 'platform'
  | 'integrations'
  | 'dev';

/** The processes' entry points: each role, the CLI that starts them, and main.ts. */
const ENTRY: readonly Layer[] = ['main', 'cli', 'bot', 'api', 'admin', 'worker'];
/** The roles proper; only the role starters (main.ts, cli/) may import them. */
const ROLES: readonly Layer[] = ['bot', 'api', 'admin', 'worker'];
/** Frameworks and drivers the domain must not see: it speaks in its own ports. */
const FRAMEWORKS = [
  /^grammy$/,
  /^@grammyjs\//,
  /^fastify$/,
  /^@fastify\//,
  /^bullmq$/,
  /^ioredis$/,
  /^pg$/,
  /^@electric-sql\/pglite$/,
  /^openai$/,
  /^ws$/,
  /^@aws-sdk\//,
];
/** The only production files that load development code, and only with a dynamic import(). */
const DEV_LOADERS: Record<string, readonly string[]> = {
  'src/cli/roles.ts': ['src/dev/playground/index.ts'],
  'src/cli/role-prepare.ts': ['src/dev/bot-api-emulator/index.ts', 'src/dev/fake-comfyui/index.ts'],
  'src/cli/llm-setup.ts': ['src/dev/fake-llm/index.ts'],
  'src/cli/dev.command.ts': ['src/dev/fake-llm/index.ts'],
};

interface Edge {
  /** The importing file, relative to the repository root. */
  from: string;
  line: number;
  specifier: string;
  /** A source file relative to the root, or a package name. */
  target: string;
  local: boolean;
  dynamic: boolean;
  /** `import type`: erased when compiled, so it adds nothing to what runs. */
  typeOnly: boolean;
}

function layerOf(file: string): Layer | undefined {
  const rel = relative(SRC, join(ROOT, file));
  if (rel === 'main.ts') return 'main';
  if (rel === 'app.ts') return 'app';
  if (rel === 'config.ts') return 'config';
  const top = rel.split('/')[0];
  const dirs: readonly Layer[] = [
    'cli',
    'bot',
    'api',
    'admin',
    'worker',
    'domain',
    'platform',
    'integrations',
    'dev',
  ];
  return dirs.find((d) => d === top);
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The import forms of src/ as Biome formats them: a statement at the start of a line (`import`,
 * `import type`, `export … from`, a bare `import '…'`), and `import('…')` — at run time, or in a
 * type after `typeof`. A scanner rather than TypeScript's parser, which took 2 s of this fast tier
 * to load; the first test below proves it reads every kind, and the unresolved check catches a
 * specifier it misread.
 */
const STATIC_IMPORT = /^(?:import|export)\s+(type\s+)?(?:[^;'"]*?\bfrom\s+)?'([^']+)'/gm;
const CALL_IMPORT = /(\btypeof\s+)?\bimport\(\s*'([^']+)'\s*\)/g;
/** Comment lines, blanked to the same length so offsets (and so line numbers) stay true. */
const COMMENT_LINE = /^\s*(?:\/\/|\/\*|\*).*$/gm;

/** Every import of one file. */
function importsOf(path: string): Edge[] {
  const text = readFileSync(path, 'utf8').replace(COMMENT_LINE, (line) => ' '.repeat(line.length));
  const from = relative(ROOT, path);
  const edge = (at: number, spec: string, dynamic: boolean, typeOnly: boolean): Edge => {
    const local = spec.startsWith('.');
    const target = local
      ? relative(ROOT, resolve(dirname(path), spec)).replace(/\.js$/, '.ts')
      : packageName(spec);
    const line = text.slice(0, at).split('\n').length;
    return { from, line, specifier: spec, target, local, dynamic, typeOnly };
  };
  return [
    ...[...text.matchAll(STATIC_IMPORT)].map((m) => edge(m.index, m[2]!, false, Boolean(m[1]))),
    ...[...text.matchAll(CALL_IMPORT)].map((m) => edge(m.index, m[2]!, !m[1], Boolean(m[1]))),
  ];
}

/** Why an import breaks the layering, or undefined when it is allowed. */
function violation(edge: Edge): string | undefined {
  const from = layerOf(edge.from);
  const to = edge.local ? layerOf(edge.target) : undefined;
  const framework = !edge.local && FRAMEWORKS.some((f) => f.test(edge.target));

  if (to === 'dev' && from !== 'dev') {
    // What runs is what counts here: a type-only import of dev/ code loads nothing.
    const allowed = edge.typeOnly || (edge.dynamic && DEV_LOADERS[edge.from]?.includes(edge.target));
    if (!allowed) return 'production code loads dev/ only by a dynamic import() in DEV_LOADERS';
  }
  switch (from) {
    case 'domain':
      if (framework) return 'domain/ uses no framework or driver; it defines ports';
      if (to && (ENTRY.includes(to) || to === 'app')) return 'domain/ imports no entry layer and not app.ts';
      return undefined;
    case 'integrations':
    case 'platform':
      if (to && (ENTRY.includes(to) || to === 'app')) return `${from}/ imports no entry layer and not app.ts`;
      if (from === 'platform' && (to === 'domain' || to === 'integrations'))
        return 'platform/ is technical: it imports no domain/ or integrations/';
      return undefined;
    case 'app':
      if (to && ENTRY.includes(to)) return 'app.ts (the composition root) imports no entry layer';
      return undefined;
    case 'bot':
    case 'api':
    case 'admin':
    case 'worker':
      if (to && to !== from && ENTRY.includes(to))
        return `${from}/ imports no other entry layer (only main.ts and cli/ start roles)`;
      return undefined;
    case 'cli':
      if (to === 'main') return 'cli/ does not import main.ts';
      return undefined;
    case 'main':
      if (to && ROLES.includes(to)) return 'main.ts starts roles through cli/';
      return undefined;
    default:
      return undefined;
  }
}

const files = sourceFiles(SRC);
const edges = files.flatMap(importsOf);

describe('architecture: the import graph of src/', () => {
  it('is read completely: every local import resolves to a file', () => {
    expect(files.length).toBeGreaterThan(100);
    const unresolved = edges
      .filter((e) => e.local && !existsSync(join(ROOT, e.target)))
      .map((e) => `${e.from}:${e.line} '${e.specifier}'`);
    expect(unresolved).toEqual([]);
    // The scanner sees every kind of import it checks.
    expect(edges).toContainEqual(expect.objectContaining({ from: 'src/app.ts', target: 'src/config.ts' }));
    expect(edges).toContainEqual(
      expect.objectContaining({ from: 'src/platform/redis.ts', target: 'ioredis', typeOnly: true }),
    );
    expect(edges).toContainEqual(
      expect.objectContaining({
        from: 'src/cli/roles.ts',
        target: 'src/dev/playground/index.ts',
        dynamic: true,
      }),
    );
  });

  it('keeps every layer to what it may import', () => {
    const broken = edges.flatMap((e) => {
      const why = violation(e);
      return why ? [`${e.from}:${e.line} imports '${e.specifier}': ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });
});

/**
 * Job names that break the rule below and stay: `broadcast.*` deliveries wait in Redis under their
 * names with fixed ids (a renamed job would fail as unknown in a rolling deploy and its id would keep
 * the tick from queueing the delivery again).
 */
const KEPT_JOB_NAMES: Record<string, string> = {
  'broadcast.start': 'broadcasts',
  'broadcast.tick': 'broadcasts',
  'broadcast.deliver': 'broadcasts',
};

describe('names', () => {
  it('a job <domain>.<verb> is handled in src/domain/<domain>/<domain>.jobs.ts', () => {
    const misplaced: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.jobs.ts'))) {
      const rel = relative(ROOT, file);
      const [, domain, base] = /^src\/domain\/([^/]+)\/([^/]+)\.jobs\.ts$/.exec(rel) ?? [];
      if (!domain || base !== domain) {
        misplaced.push(`${rel}: job handlers live in src/domain/<domain>/<domain>.jobs.ts`);
        continue;
      }
      for (const [, name] of readFileSync(file, 'utf8').matchAll(/^\s+'([a-z]+\.[a-z-]+)':/gm)) {
        const home = KEPT_JOB_NAMES[name!] ?? name!.split('.')[0];
        if (home !== domain) misplaced.push(`${rel} handles '${name}', which belongs in src/domain/${home}/`);
      }
    }
    expect(misplaced).toEqual([]);
  });
});
