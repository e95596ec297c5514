import type { App } from '../app.js';
import type { RunImageAttempt } from '../domain/images/images.jobs.js';
import {
  ComfyPool,
  DEFAULT_WORKFLOW_DIR,
  loadWorkflows,
  type WorkflowDefinition,
  WorkflowError,
} from '../integrations/comfyui/index.js';

/** The built-in workflows, then COMFYUI_WORKFLOW_DIR's (a file there replaces a built-in one of its name). */
export async function workflowsOf(app: App): Promise<Map<string, WorkflowDefinition>> {
  const workflows = await loadWorkflows(DEFAULT_WORKFLOW_DIR);
  const dir = app.config.COMFYUI_WORKFLOW_DIR;
  if (dir) for (const [name, def] of await loadWorkflows(dir)) workflows.set(name, def);
  return workflows;
}

/**
 * The worker's side of pictures: the object store made ready (the bucket created), the workflows
 * loaded (a broken file stops the start, naming every problem), the ComfyUI pool started (its
 * sockets open here only) and checked against each backend's `/object_info` (a warning: a backend
 * may get the nodes later). The pool closes after the queue has drained, so a run in flight at
 * shutdown either ends or is aborted (and handed back) first. Undefined when no backend is set.
 */
export async function startImages(app: App): Promise<RunImageAttempt | undefined> {
  await app.objects.ensureReady();
  const backends = app.config.COMFYUI_URLS;
  if (!backends.length) {
    app.logger.info('no COMFYUI_URLS: pictures are off');
    return undefined;
  }
  const workflows = await workflowsOf(app).catch((err: unknown) => {
    if (err instanceof WorkflowError)
      throw new Error(`workflow files are invalid: ${err.problems.join('; ')}`);
    throw err;
  });
  const pool = new ComfyPool({ backends, logger: app.logger, metrics: app.metrics });
  app.lifecycle.onClose('comfyui', async () => {
    await app.queue.close();
    await pool.close();
  });
  await pool.start();
  const chosen = (await app.settings.get('images.workflow')).name;
  const def = workflows.get(chosen);
  if (!def) {
    app.logger.error(
      { workflow: chosen, available: [...workflows.keys()] },
      'the images.workflow setting names a workflow that is not loaded: pictures will fail',
    );
  } else {
    for (const c of await pool.checkWorkflow(def.graph)) {
      if (c.error)
        app.logger.warn({ backend: c.backend, err: c.error }, "could not read the backend's /object_info");
      else if (c.missing.length)
        app.logger.warn(
          { backend: c.backend, workflow: chosen, missing: c.missing },
          'the backend lacks nodes the workflow uses',
        );
    }
  }
  app.logger.info(
    {
      backends: pool.status().map((b) => ({ name: b.name, healthy: b.healthy, slots: b.slots })),
      workflows: [...workflows.keys()],
    },
    'comfyui pool started',
  );
  return app.imageAttempts(pool, workflows);
}
