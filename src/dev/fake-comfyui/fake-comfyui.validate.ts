/**
 * ComfyUI's prompt validation (`execution.validate_prompt` and `validate_inputs`) re-enacted over
 * the fake's node classes, with the same 400 shapes — Python's KeyError on a link to a missing node
 * included.
 */
import { type Graph, type NodeClass, nodeClasses } from './fake-comfyui.nodes.js';

type Reason = { type: string; message: string; details: string; extra_info: Record<string, unknown> };
type Result = [ok: boolean, reasons: Reason[]];

export type Validation =
  | { ok: true; outputs: string[] }
  | { ok: false; error: Reason; node_errors: Record<string, unknown> };

/** Python's KeyError/IndexError, raised where ComfyUI's validation would raise them. */
class PyError extends Error {}

/** ComfyUI's `validate_prompt`: the first failure of a node, or every failed output with node errors. */
export function validatePrompt(prompt: unknown, checkpoints: string[]): Validation {
  const classes = nodeClasses(checkpoints);
  const reason = (type: string, message: string, details = ''): Reason => ({
    type,
    message,
    details,
    extra_info: {},
  });
  if (typeof prompt !== 'object' || prompt === null)
    return { ok: false, error: reason('invalid_prompt', 'Prompt must be an object'), node_errors: {} };
  const graph = prompt as Graph;
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(graph)) {
    if (typeof node?.class_type !== 'string') {
      const msg = 'Cannot execute because a node is missing the class_type property.';
      return { ok: false, error: reason('invalid_prompt', msg, `Node ID '#${id}'`), node_errors: {} };
    }
    const c = classes[node.class_type];
    if (!c) {
      const msg = `Cannot execute because node ${node.class_type} does not exist.`;
      return { ok: false, error: reason('invalid_prompt', msg, `Node ID '#${id}'`), node_errors: {} };
    }
    if (c.outputNode) outputs.push(id);
  }
  if (outputs.length === 0)
    return { ok: false, error: reason('prompt_no_outputs', 'Prompt has no outputs'), node_errors: {} };

  const validated = new Map<string, Result>();
  const good: string[] = [];
  const failed: [string, Reason[]][] = [];
  const nodeErrors: Record<string, { errors: Reason[]; dependent_outputs: string[]; class_type: string }> =
    {};
  for (const o of outputs) {
    let result: Result;
    try {
      result = validateInputs(graph, o, validated, classes);
    } catch (ex) {
      const r = {
        ...reason('exception_during_validation', 'Exception when validating node', (ex as Error).message),
      };
      r.extra_info = { exception_type: (ex as Error).name, traceback: [] };
      result = [false, [r]];
      validated.set(o, result);
    }
    if (result[0]) {
      good.push(o);
      continue;
    }
    failed.push([o, result[1]]);
    for (const [nodeId, [ok, reasons]] of validated) {
      if (ok || reasons.length === 0) continue;
      nodeErrors[nodeId] ??= {
        errors: reasons,
        dependent_outputs: [],
        class_type: String(graph[nodeId]?.class_type),
      };
      nodeErrors[nodeId].dependent_outputs.push(o);
    }
  }
  if (good.length === 0) {
    const details = failed.flatMap(([, rs]) => rs.map((r) => `${r.message}: ${r.details}`)).join('\n');
    return {
      ok: false,
      error: reason('prompt_outputs_failed_validation', 'Prompt outputs failed validation', details),
      node_errors: nodeErrors,
    };
  }
  return { ok: true, outputs: good };
}

function validateInputs(
  graph: Graph,
  id: string,
  validated: Map<string, Result>,
  classes: Record<string, NodeClass>,
): Result {
  const known = validated.get(id);
  if (known) return known;
  const node = graph[id];
  if (!node) throw pyError('KeyError', `'${id}'`);
  const inputs = node.inputs ?? {};
  const c = classes[String(node.class_type)] as NodeClass;
  const errors: Reason[] = [];
  let valid = true;
  for (const [x, info] of Object.entries(c.required)) {
    const [type, options = {}] = info;
    const err = (t: string, message: string, details: string, extra: Record<string, unknown> = {}) =>
      errors.push({ type: t, message, details, extra_info: { input_name: x, ...extra } });
    if (!(x in inputs)) {
      err('required_input_missing', 'Required input is missing', x);
      continue;
    }
    const val = inputs[x];
    if (Array.isArray(val)) {
      if (val.length !== 2) {
        err('bad_linked_input', 'Bad linked input, must be a length-2 list of [node_id, slot_index]', x, {
          input_config: info,
          received_value: val,
        });
        continue;
      }
      const [oid, slot] = val as [string, number];
      const linked = graph[oid];
      if (!linked) throw pyError('KeyError', `'${oid}'`);
      const received = classes[String(linked.class_type)]?.output[slot];
      if (received === undefined) throw pyError('IndexError', 'tuple index out of range');
      if (received !== type) {
        err(
          'return_type_mismatch',
          'Return type mismatch between linked nodes',
          `${x}, received_type(${received}) mismatch input_type(${type})`,
          {
            input_config: info,
            received_type: received,
            linked_node: val,
          },
        );
        continue;
      }
      try {
        if (!validateInputs(graph, oid, validated, classes)[0]) valid = false;
      } catch (ex) {
        valid = false;
        const e = ex as Error;
        validated.set(oid, [
          false,
          [
            {
              type: 'exception_during_inner_validation',
              message: 'Exception when validating inner node',
              details: e.message,
              extra_info: {
                input_name: x,
                input_config: info,
                exception_message: e.message,
                exception_type: e.name,
                traceback: [],
                linked_node: val,
              },
            },
          ],
        ]);
      }
      continue;
    }
    const converted = convert(val, type);
    if (converted.error !== undefined) {
      err(
        'invalid_input_type',
        `Failed to convert an input value to a ${String(type)} value`,
        `${x}, ${String(val)}, ${converted.error}`,
        {
          input_config: info,
          received_value: val,
          exception_message: converted.error,
        },
      );
      continue;
    }
    const v = converted.value;
    const extra = { input_config: info, received_value: v };
    if (typeof options.min === 'number' && typeof v === 'number' && v < options.min) {
      err('value_smaller_than_min', `Value ${v} smaller than min of ${options.min}`, x, extra);
    } else if (typeof options.max === 'number' && typeof v === 'number' && v > options.max) {
      err('value_bigger_than_max', `Value ${v} bigger than max of ${options.max}`, x, extra);
    } else if (Array.isArray(type) && !type.includes(v as string)) {
      err(
        'value_not_in_list',
        'Value not in list',
        `${x}: '${String(v)}' not in ${JSON.stringify(type)}`,
        extra,
      );
    }
  }
  const result: Result = [errors.length === 0 && valid, errors];
  validated.set(id, result);
  return result;
}

function convert(val: unknown, type: string | string[]): { value?: unknown; error?: string } {
  if (type === 'INT') {
    if (typeof val === 'number' && Number.isFinite(val)) return { value: Math.trunc(val) };
    if (typeof val === 'boolean') return { value: val ? 1 : 0 };
    if (typeof val === 'string' && /^\s*[-+]?\d+\s*$/.test(val)) return { value: Number.parseInt(val, 10) };
    return { error: `invalid literal for int() with base 10: '${String(val)}'` };
  }
  if (type === 'FLOAT') {
    if (typeof val === 'number') return { value: val };
    if (typeof val === 'string' && val.trim() !== '' && Number.isFinite(Number(val)))
      return { value: Number(val) };
    return { error: `could not convert string to float: '${String(val)}'` };
  }
  if (type === 'STRING') return { value: String(val) };
  return { value: val };
}

function pyError(name: string, message: string): PyError {
  const e = new PyError(message);
  e.name = name;
  return e;
}
