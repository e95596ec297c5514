import { describe, expect, it } from 'vitest';
import { isOutOfMemory, parseComfyBackends } from '../../src/integrations/comfyui/index.js';

describe('COMFYUI_URLS parsing', () => {
  it('reads URLs with auth, slots and names; userinfo becomes Basic auth', () => {
    const result = parseComfyBackends(
      ' http://10.0.0.5:8188/ ; slots=2 , https://gpu.example.com/comfy;auth=Bearer abc.def;name=cloud,' +
        'https://me:p%40ss@box.example.com:8443,',
    );
    expect(result).toEqual({
      ok: true,
      backends: [
        { name: '10.0.0.5:8188', baseUrl: 'http://10.0.0.5:8188', slots: 2 },
        {
          name: 'cloud',
          baseUrl: 'https://gpu.example.com/comfy',
          authorization: 'Bearer abc.def',
          slots: 1,
        },
        {
          name: 'box.example.com:8443',
          baseUrl: 'https://box.example.com:8443',
          authorization: `Basic ${Buffer.from('me:p@ss').toString('base64')}`,
          slots: 1,
        },
      ],
    });
  });

  it('treats an empty value as no backend', () => {
    expect(parseComfyBackends('')).toEqual({ ok: true, backends: [] });
    expect(parseComfyBackends(' , ')).toEqual({ ok: true, backends: [] });
  });

  it('lists every bad entry at once without echoing credentials', () => {
    const result = parseComfyBackends(
      [
        'ftp://files.example.com',
        'not a url with secret-token',
        'http://a.example.com;slots=0',
        'http://b.example.com;slots=two',
        'https://u:hunter2@c.example.com;auth=Bearer other-secret',
        'http://d.example.com;colour=blue',
        'http://e.example.com?x=1',
        'http://f.example.com;auth=',
        'http://g.example.com;name=bad name',
        'http://h.example.com',
        'http://h.example.com/',
      ].join(','),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toEqual([
      'COMFYUI_URLS entry 1 (files.example.com): must be http:// or https://',
      'COMFYUI_URLS entry 2: not a URL (expected http(s)://host:port)',
      'COMFYUI_URLS entry 3 (a.example.com): slots must be a whole number from 1 to 64',
      'COMFYUI_URLS entry 4 (b.example.com): slots must be a whole number from 1 to 64',
      'COMFYUI_URLS entry 5 (c.example.com): give credentials once (in the URL or as auth=), not both',
      'COMFYUI_URLS entry 6 (d.example.com): unknown option "colour" (expected auth=, slots= or name=)',
      'COMFYUI_URLS entry 7 (e.example.com): must not have a query or fragment',
      'COMFYUI_URLS entry 8 (f.example.com): auth= is empty',
      'COMFYUI_URLS entry 9 (g.example.com): name must be 1-64 letters, digits or ._:/-',
      'COMFYUI_URLS lists the URL http://h.example.com twice',
      'COMFYUI_URLS lists the name h.example.com twice',
    ]);
    const text = result.errors.join('\n');
    for (const secret of ['hunter2', 'other-secret', 'secret-token']) expect(text).not.toContain(secret);
  });
});

describe('out-of-memory detection', () => {
  it.each([
    ['torch.OutOfMemoryError', 'Allocation on device'],
    ['torch.cuda.OutOfMemoryError', 'CUDA out of memory. Tried to allocate 2.00 GiB'],
    ['RuntimeError', 'HIP out of memory. Tried to allocate 1.50 GiB'],
    ['RuntimeError', 'MPS backend out of memory (MPS allocated: 17.00 GB)'],
    ['RuntimeError', 'CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate(handle)'],
  ])('%s: %s is out of memory', (type, message) => {
    expect(isOutOfMemory(type, message)).toBe(true);
  });

  it('leaves other errors alone', () => {
    expect(
      isOutOfMemory('RuntimeError', 'mat1 and mat2 shapes cannot be multiplied (77x2048 and 768x320)'),
    ).toBe(false);
    expect(isOutOfMemory('FileNotFoundError', 'No such file: sd_xl_base_1.0.safetensors')).toBe(false);
  });
});
