/**
 * The stock node classes the default workflow uses, described the way ComfyUI's `/object_info`
 * describes them.
 */

export type InputSpec = [type: string | string[], options?: Record<string, unknown>];

export interface NodeClass {
  required: Record<string, InputSpec>;
  hidden?: Record<string, string>;
  output: string[];
  outputNode?: boolean;
  category: string;
  displayName: string;
}

const MAX_RESOLUTION = 16_384;
/** ComfyUI's 0xffffffffffffffff, as close as a JSON number gets. */
const SEED_MAX = 2 ** 64 - 1;
const SAMPLERS = [
  'euler',
  'euler_ancestral',
  'heun',
  'dpm_2',
  'dpmpp_2m',
  'dpmpp_2m_sde',
  'dpmpp_sde',
  'ddim',
  'uni_pc',
];
const SCHEDULERS = ['normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform', 'beta'];

export function nodeClasses(checkpoints: string[]): Record<string, NodeClass> {
  return {
    CheckpointLoaderSimple: {
      required: { ckpt_name: [checkpoints, { tooltip: 'The name of the checkpoint (model) to load.' }] },
      output: ['MODEL', 'CLIP', 'VAE'],
      category: 'loaders',
      displayName: 'Load Checkpoint',
    },
    CLIPTextEncode: {
      required: { text: ['STRING', { multiline: true, dynamicPrompts: true }], clip: ['CLIP'] },
      output: ['CONDITIONING'],
      category: 'conditioning',
      displayName: 'CLIP Text Encode (Prompt)',
    },
    EmptyLatentImage: {
      required: {
        width: ['INT', { default: 512, min: 16, max: MAX_RESOLUTION, step: 8 }],
        height: ['INT', { default: 512, min: 16, max: MAX_RESOLUTION, step: 8 }],
        batch_size: ['INT', { default: 1, min: 1, max: 4096 }],
      },
      output: ['LATENT'],
      category: 'latent',
      displayName: 'Empty Latent Image',
    },
    KSampler: {
      required: {
        model: ['MODEL'],
        seed: ['INT', { default: 0, min: 0, max: SEED_MAX, control_after_generate: true }],
        steps: ['INT', { default: 20, min: 1, max: 10_000 }],
        cfg: ['FLOAT', { default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01 }],
        sampler_name: [SAMPLERS],
        scheduler: [SCHEDULERS],
        positive: ['CONDITIONING'],
        negative: ['CONDITIONING'],
        latent_image: ['LATENT'],
        denoise: ['FLOAT', { default: 1.0, min: 0.0, max: 1.0, step: 0.01 }],
      },
      output: ['LATENT'],
      category: 'sampling',
      displayName: 'KSampler',
    },
    VAEDecode: {
      required: { samples: ['LATENT'], vae: ['VAE'] },
      output: ['IMAGE'],
      category: 'latent',
      displayName: 'VAE Decode',
    },
    SaveImage: {
      required: { images: ['IMAGE'], filename_prefix: ['STRING', { default: 'ComfyUI' }] },
      hidden: { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' },
      output: [],
      outputNode: true,
      category: 'image',
      displayName: 'Save Image',
    },
  };
}

/** `/object_info` for the given checkpoints. */
export function objectInfo(checkpoints: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(nodeClasses(checkpoints))) {
    out[name] = {
      input: { required: c.required, ...(c.hidden ? { hidden: c.hidden } : {}) },
      input_order: {
        required: Object.keys(c.required),
        ...(c.hidden ? { hidden: Object.keys(c.hidden) } : {}),
      },
      output: c.output,
      output_is_list: c.output.map(() => false),
      output_name: c.output,
      name,
      display_name: c.displayName,
      description: '',
      python_module: 'nodes',
      category: c.category,
      output_node: c.outputNode === true,
    };
  }
  return out;
}

export type Graph = Record<string, { class_type?: unknown; inputs?: Record<string, unknown> }>;

/** The node ids in execution order (dependencies first) for the given outputs. */
export function executionOrder(graph: Graph, outputs: string[]): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const v of Object.values(graph[id]?.inputs ?? {})) if (Array.isArray(v)) visit(String(v[0]));
    order.push(id);
  };
  for (const o of outputs) visit(o);
  return order;
}
