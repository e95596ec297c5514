import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiWorkflow, ObjectInfo } from './comfyui-types.js';

/** The parameters a workflow can take; its `.params.json` says which node input each one sets. */
export const WORKFLOW_PARAMS = [
  'prompt',
  'negativePrompt',
  'seed',
  'width',
  'height',
  'steps',
  'checkpoint',
] as const;
export type WorkflowParamName = (typeof WORKFLOW_PARAMS)[number];

export interface InputTarget {
  node: string;
  input: string;
}

/** A validated workflow: the API-format graph and where each parameter goes. */
export interface WorkflowDefinition {
  name: string;
  description?: string;
  graph: ApiWorkflow;
  /** Every mapped parameter; `prompt` always is. A parameter may set several inputs. */
  params: Partial<Record<WorkflowParamName, InputTarget[]>>;
  /** The node whose saved image is the result. */
  outputNode?: string;
}

export interface WorkflowParams {
  prompt: string;
  negativePrompt?: string;
  seed?: number;
  width?: number;
  height?: number;
  steps?: number;
  checkpoint?: string;
}

/** A workflow file or a parameter is wrong; `problems` lists every one found. */
export class WorkflowError extends Error {
  override name = 'WorkflowError';
  constructor(
    readonly problems: string[],
    options?: { cause?: unknown },
  ) {
    super(problems.join('; '), options);
  }
}

/** `src/integrations/comfyui/workflows/` (copied beside the build output as well). */
export const DEFAULT_WORKFLOW_DIR = fileURLToPath(new URL('./workflows/', import.meta.url));

const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates an API-format graph and its parameter mapping: every node has a `class_type` and
 * `inputs`, every link is `[nodeId, outputIndex]` to an existing node, and every mapping target is a
 * literal input of an existing node.
 */
export function parseWorkflow(name: string, graph: unknown, mapping: unknown): WorkflowDefinition {
  const problems: string[] = [];
  const p = (msg: string) => problems.push(`${name}: ${msg}`);
  if (!NAME.test(name)) p('the name must be lower-case letters, digits and dashes');
  if (!isObject(graph) || Object.keys(graph).length === 0) {
    p('the graph must be a non-empty object of nodes (export it with "Save (API Format)")');
    throw new WorkflowError(problems);
  }
  for (const [id, node] of Object.entries(graph)) {
    if (!isObject(node) || typeof node.class_type !== 'string' || !node.class_type) {
      p(`node ${id} has no class_type`);
      continue;
    }
    if (!isObject(node.inputs)) {
      p(`node ${id} (${node.class_type}) has no inputs object`);
      continue;
    }
    for (const [input, value] of Object.entries(node.inputs)) {
      if (!Array.isArray(value)) continue;
      const [target, index] = value as unknown[];
      if (
        value.length !== 2 ||
        typeof target !== 'string' ||
        !Number.isInteger(index) ||
        (index as number) < 0
      )
        p(`node ${id} input ${input}: a link must be [nodeId, outputIndex]`);
      else if (!(target in graph)) p(`node ${id} input ${input} links to missing node ${target}`);
    }
  }
  const nodes = graph as ApiWorkflow;
  const def: WorkflowDefinition = { name, graph: nodes, params: {} };
  if (!isObject(mapping) || !isObject(mapping.params)) {
    p('the .params.json must be {"params": {"prompt": {"node": "…", "input": "…"}, …}}');
    throw new WorkflowError(problems);
  }
  if (typeof mapping.description === 'string') def.description = mapping.description;
  for (const [param, raw] of Object.entries(mapping.params)) {
    if (!(WORKFLOW_PARAMS as readonly string[]).includes(param)) {
      p(`unknown parameter "${param}" (known: ${WORKFLOW_PARAMS.join(', ')})`);
      continue;
    }
    const targets = (Array.isArray(raw) ? raw : [raw]) as unknown[];
    const ok: InputTarget[] = [];
    for (const t of targets) {
      if (!isObject(t) || typeof t.node !== 'string' || typeof t.input !== 'string') {
        p(`parameter ${param}: each target must be {"node": "<id>", "input": "<name>"}`);
        continue;
      }
      const node = nodes[t.node];
      if (!node || !isObject(node.inputs)) p(`parameter ${param} points at missing node ${t.node}`);
      else if (!(t.input in node.inputs)) p(`parameter ${param}: node ${t.node} has no input "${t.input}"`);
      else if (Array.isArray(node.inputs[t.input]))
        p(`parameter ${param}: node ${t.node} input "${t.input}" is a link, not a value`);
      else ok.push({ node: t.node, input: t.input });
    }
    if (ok.length) def.params[param as WorkflowParamName] = ok;
  }
  if (!('prompt' in mapping.params)) p('the "prompt" parameter must be mapped');
  if (mapping.output !== undefined) {
    if (typeof mapping.output !== 'string' || !nodes[mapping.output])
      p(`output ${String(mapping.output)} is not a node of the graph`);
    else def.outputNode = mapping.output;
  }
  if (problems.length) throw new WorkflowError(problems);
  return def;
}

/** Loads every `<name>.json` + `<name>.params.json` pair of a directory; reports all problems at once. */
export async function loadWorkflows(dir = DEFAULT_WORKFLOW_DIR): Promise<Map<string, WorkflowDefinition>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const graphs = files.filter((f) => !f.endsWith('.params.json'));
  const problems: string[] = [];
  const out = new Map<string, WorkflowDefinition>();
  for (const file of files.filter((f) => f.endsWith('.params.json'))) {
    if (!graphs.includes(file.replace(/\.params\.json$/, '.json')))
      problems.push(`${file} has no graph beside it`);
  }
  for (const file of graphs) {
    const name = file.replace(/\.json$/, '');
    try {
      const graph = await readJson(join(dir, file));
      const mapping = files.includes(`${name}.params.json`)
        ? await readJson(join(dir, `${name}.params.json`))
        : undefined;
      if (mapping === undefined) throw new WorkflowError([`${name}: ${name}.params.json is missing`]);
      out.set(name, parseWorkflow(name, graph, mapping));
    } catch (err) {
      if (err instanceof WorkflowError) problems.push(...err.problems);
      else problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new WorkflowError(problems);
  return out;
}

/** A new graph with the parameters set; a parameter the workflow has no place for is an error. */
export function applyWorkflow(def: WorkflowDefinition, params: WorkflowParams): ApiWorkflow {
  const problems = checkParams(params);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && !def.params[key as WorkflowParamName])
      problems.push(`workflow ${def.name} has no place for "${key}"`);
  }
  if (problems.length) throw new WorkflowError(problems);
  const graph = structuredClone(def.graph);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const t of def.params[key as WorkflowParamName] ?? []) {
      (graph[t.node] as ApiWorkflow[string]).inputs[t.input] = value;
    }
  }
  return graph;
}

/** The graph's node classes that a backend's `/object_info` does not list. */
export function checkAgainstObjectInfo(graph: ApiWorkflow, objectInfo: ObjectInfo): string[] {
  const classes = new Set(Object.values(graph).map((n) => n.class_type));
  return [...classes].filter((c) => !(c in objectInfo)).sort();
}

function checkParams(params: WorkflowParams): string[] {
  const problems: string[] = [];
  const int = (key: keyof WorkflowParams, min: number, max: number, step = 1) => {
    const v = params[key];
    if (v === undefined) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max || v % step !== 0)
      problems.push(
        `${key} must be a whole number from ${min} to ${max}${step > 1 ? `, a multiple of ${step}` : ''}`,
      );
  };
  if (typeof params.prompt !== 'string' || params.prompt.trim() === '')
    problems.push('prompt must not be empty');
  if (params.negativePrompt !== undefined && typeof params.negativePrompt !== 'string')
    problems.push('negativePrompt must be text');
  if (params.checkpoint !== undefined && (typeof params.checkpoint !== 'string' || !params.checkpoint))
    problems.push('checkpoint must be a file name');
  int('seed', 0, Number.MAX_SAFE_INTEGER);
  int('width', 16, 16_384, 8);
  int('height', 16, 16_384, 8);
  int('steps', 1, 10_000);
  return problems;
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8'));
}
