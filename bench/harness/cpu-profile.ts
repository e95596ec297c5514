import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeEntry {
  fn: string;
  /** src/…ts:line (through the source maps), node_modules/…:line or node:… */
  location: string;
  selfMs: number;
}

const ROOT = resolve(import.meta.dirname, '../..');

/** Maps a position in the built app back to src/, as --enable-source-maps does for stack traces. */
function sourceMapper() {
  const maps = new Map<string, SourceMap | undefined>();
  return (frame: CallFrame): string => {
    const { url, lineNumber, columnNumber } = frame;
    // No script: V8's pseudo-frames ((garbage collector), (program)) or a native function — a V8
    // builtin or a C++ binding such as a socket write, which also takes the time the thread spent
    // descheduled inside the system call.
    if (!url) return frame.functionName.startsWith('(') ? '' : '(native)';
    if (!url.startsWith('file://')) return url;
    const path = fileURLToPath(url);
    if (!maps.has(path)) {
      const mapPath = `${path}.map`;
      maps.set(
        path,
        existsSync(mapPath) ? new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8'))) : undefined,
      );
    }
    const map = maps.get(path);
    const entry = map?.findEntry(lineNumber, columnNumber) as
      | { originalSource?: string; originalLine?: number }
      | undefined;
    if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
      const original = fileURLToPath(new URL(entry.originalSource, pathToFileURL(path)));
      return `${relative(ROOT, original)}:${entry.originalLine + 1}`;
    }
    return `${relative(ROOT, path)}:${lineNumber + 1}`;
  };
}

/**
 * Self time per function (name + where it is defined) from a V8 .cpuprofile, optionally only for
 * samples taken between two CLOCK_MONOTONIC times in µs (`process.hrtime.bigint() / 1000n`, the
 * clock V8 stamps samples with) — the measured load, without start-up and shutdown.
 */
export function selfTimes(
  file: string,
  window: { fromUs?: number; toUs?: number } = {},
): { entries: SelfTimeEntry[]; sampledMs: number; idleMs: number } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const locate = sourceMapper();
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, SelfTimeEntry>();
  let t = profile.startTime;
  let sampledMs = 0;
  let idleMs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if ((window.fromUs !== undefined && t < window.fromUs) || (window.toUs !== undefined && t > window.toUs))
      continue;
    const frame = byNode.get(profile.samples[i]!)!.callFrame;
    sampledMs += ms;
    if (frame.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const fn = frame.functionName || '(anonymous)';
    const location = locate(frame);
    const key = `${fn}\u0000${location}`;
    const entry = totals.get(key);
    if (entry) entry.selfMs += ms;
    else totals.set(key, { fn, location, selfMs: ms });
  }
  return { entries: [...totals.values()].sort((a, b) => b.selfMs - a.selfMs), sampledMs, idleMs };
}

/** Where a function belongs: a src/ directory, an npm package, node internals, native code or V8. */
function area({ fn, location }: SelfTimeEntry): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location);
  if (pkg) return pkg[1]!;
  if (location.startsWith('src/')) return location.split('/').slice(0, 3).join('/').replace(/:\d+$/, '');
  if (location.startsWith('node:')) return 'node internals (JS)';
  if (location === '(native)') return 'native (V8 builtins, C++ bindings, system calls)';
  return location === '' ? fn : 'other';
}

/** The text the optimisers read: the top `top` functions by self time, then self time by area. */
export function formatSelfTimes(profile: ReturnType<typeof selfTimes>, top = 25): string {
  const busy = profile.sampledMs - profile.idleMs;
  const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)} %`;
  const lines = [
    `${profile.sampledMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms not idle; self time and its share of that:`,
  ];
  for (const e of profile.entries.slice(0, top)) {
    lines.push(`${e.selfMs.toFixed(0).padStart(7)} ms ${pct(e.selfMs)}  ${e.fn}  ${e.location}`);
  }
  const areas = new Map<string, number>();
  for (const e of profile.entries) areas.set(area(e), (areas.get(area(e)) ?? 0) + e.selfMs);
  lines.push('', 'self time by area:');
  for (const [name, ms] of [...areas].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    lines.push(`${ms.toFixed(0).padStart(7)} ms ${pct(ms)}  ${name}`);
  }
  return lines.join('\n');
}
