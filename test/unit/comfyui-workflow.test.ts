import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { objectInfo } from '../../src/dev/fake-comfyui/fake-comfyui.nodes.js';
import { validatePrompt } from '../../src/dev/fake-comfyui/fake-comfyui.validate.js';
import {
  type ApiWorkflow,
  applyWorkflow,
  checkAgainstObjectInfo,
  loadWorkflows,
  parseWorkflow,
  type WorkflowDefinition,
  WorkflowError,
} from '../../src/integrations/comfyui/index.js';

let def: WorkflowDefinition;
beforeAll(async () => {
  def = (await loadWorkflows()).get('text-to-image') as WorkflowDefinition;
});

const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof WorkflowError) return err.problems;
    throw err;
  }
  throw new Error('expected a WorkflowError');
};

describe('the default text-to-image workflow', () => {
  it('is the stock SDXL graph with every parameter mapped', () => {
    const classes = Object.values(def.graph)
      .map((n) => n.class_type)
      .sort();
    expect(classes).toEqual([
      'CLIPTextEncode',
      'CLIPTextEncode',
      'CheckpointLoaderSimple',
      'EmptyLatentImage',
      'KSampler',
      'SaveImage',
      'VAEDecode',
    ]);
    expect(Object.keys(def.params).sort()).toEqual(
      ['checkpoint', 'height', 'negativePrompt', 'prompt', 'seed', 'steps', 'width'].sort(),
    );
    expect(def.outputNode).toBe('9');
    // Stock ComfyUI's validation (re-enacted by the fake) accepts it as applied.
    const graph = applyWorkflow(def, { prompt: 'a cat', seed: 1, width: 832, height: 1216, steps: 30 });
    expect(validatePrompt(graph, ['sd_xl_base_1.0.safetensors'])).toEqual({ ok: true, outputs: ['9'] });
  });

  it('apply returns a new graph with the parameters in place and leaves the definition alone', () => {
    const before = structuredClone(def.graph);
    const graph = applyWorkflow(def, {
      prompt: 'лиса в снегу',
      negativePrompt: 'blur',
      seed: 2 ** 40,
      width: 768,
      height: 512,
      steps: 12,
      checkpoint: 'juggernautXL.safetensors',
    });
    expect(graph['6']?.inputs.text).toBe('лиса в снегу');
    expect(graph['7']?.inputs.text).toBe('blur');
    expect(graph['3']?.inputs).toMatchObject({ seed: 2 ** 40, steps: 12, model: ['4', 0] });
    expect(graph['5']?.inputs).toMatchObject({ width: 768, height: 512 });
    expect(graph['4']?.inputs.ckpt_name).toBe('juggernautXL.safetensors');
    expect(def.graph).toEqual(before);
  });

  it('apply refuses bad values and parameters the workflow has no place for', () => {
    const narrow = parseWorkflow('narrow', def.graph, { params: { prompt: { node: '6', input: 'text' } } });
    expect(problems(() => applyWorkflow(narrow, { prompt: 'x', width: 512 }))).toEqual([
      'workflow narrow has no place for "width"',
    ]);
    expect(
      problems(() => applyWorkflow(def, { prompt: '  ', seed: -1, width: 500, height: 8, steps: 0.5 })),
    ).toEqual([
      'prompt must not be empty',
      'seed must be a whole number from 0 to 9007199254740991',
      'width must be a whole number from 16 to 16384, a multiple of 8',
      'height must be a whole number from 16 to 16384, a multiple of 8',
      'steps must be a whole number from 1 to 10000',
    ]);
  });
});

describe('workflow validation', () => {
  const graph = (): ApiWorkflow => structuredClone(def.graph);

  it('checks nodes, links and mapping targets, listing every problem', () => {
    const g = graph() as Record<string, unknown>;
    (g['3'] as ApiWorkflow[string]).inputs.model = ['40', 0];
    (g['8'] as ApiWorkflow[string]).inputs.vae = ['4', 2, 1];
    g['10'] = { inputs: {} };
    g['11'] = { class_type: 'Note' };
    const mapping = {
      output: '99',
      params: {
        negativePrompt: { node: '7', input: 'txt' },
        seed: [
          { node: '3', input: 'seed' },
          { node: '12', input: 'seed' },
        ],
        width: { node: '3', input: 'latent_image' },
        style: { node: '6', input: 'text' },
        steps: 'node 3',
      },
    };
    expect(problems(() => parseWorkflow('broken', g, mapping))).toEqual([
      'broken: node 3 input model links to missing node 40',
      'broken: node 8 input vae: a link must be [nodeId, outputIndex]',
      'broken: node 10 has no class_type',
      'broken: node 11 (Note) has no inputs object',
      'broken: parameter negativePrompt: node 7 has no input "txt"',
      'broken: parameter seed points at missing node 12',
      'broken: parameter width: node 3 input "latent_image" is a link, not a value',
      'broken: unknown parameter "style" (known: prompt, negativePrompt, seed, width, height, steps, checkpoint)',
      'broken: parameter steps: each target must be {"node": "<id>", "input": "<name>"}',
      'broken: the "prompt" parameter must be mapped',
      'broken: output 99 is not a node of the graph',
    ]);
    expect(problems(() => parseWorkflow('Bad Name', [], {}))).toEqual([
      'Bad Name: the name must be lower-case letters, digits and dashes',
      'Bad Name: the graph must be a non-empty object of nodes (export it with "Save (API Format)")',
    ]);
  });

  it('loads every pair in a directory and reports files without their other half', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitte-workflows-'));
    try {
      writeFileSync(join(dir, 'good.json'), JSON.stringify(def.graph));
      writeFileSync(
        join(dir, 'good.params.json'),
        JSON.stringify({ params: { prompt: { node: '6', input: 'text' } } }),
      );
      expect([...(await loadWorkflows(dir)).keys()]).toEqual(['good']);
      writeFileSync(join(dir, 'lonely.json'), JSON.stringify(def.graph));
      writeFileSync(join(dir, 'orphan.params.json'), '{}');
      writeFileSync(join(dir, 'torn.json'), '{"3": ');
      writeFileSync(join(dir, 'torn.params.json'), '{}');
      const err = await loadWorkflows(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowError);
      expect((err as WorkflowError).problems).toEqual([
        'orphan.params.json has no graph beside it',
        'lonely: lonely.params.json is missing',
        expect.stringMatching(/^torn\.json: .*JSON/),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists the graph's node classes a backend's /object_info lacks", () => {
    const info = objectInfo(['sd_xl_base_1.0.safetensors']);
    expect(checkAgainstObjectInfo(def.graph, info as never)).toEqual([]);
    const g = {
      ...graph(),
      20: { class_type: 'UltimateSDUpscale', inputs: {} },
      21: { class_type: 'LoraLoader', inputs: {} },
    };
    expect(checkAgainstObjectInfo(g, info as never)).toEqual(['LoraLoader', 'UltimateSDUpscale']);
  });
});
