import { describe, expect, it } from 'vitest';
import { checkPrompt, classifyPrompt, deniedBy } from '../../src/domain/images/image-policy.js';
import { cleanPrompt } from '../../src/domain/images/image-prompt-writer.js';
import { decideRunError, type RunErrorKind } from '../../src/domain/images/image-transitions.js';

const rules = { maxLength: 50, denyList: [] as string[], nsfw: 'refuse' as const };

describe('prompt checks', () => {
  it('refuse empty and too long prompts, counting characters, not UTF-16 units', () => {
    expect(checkPrompt('   \n ', rules)).toEqual({ ok: false, reason: 'empty' });
    expect(checkPrompt('x'.repeat(51), rules)).toEqual({ ok: false, reason: 'too_long', max: 50 });
    expect(checkPrompt('🦊'.repeat(50), rules)).toMatchObject({ ok: true });
    expect(checkPrompt('  a   red\nfox ', rules)).toEqual({ ok: true, prompt: 'a red fox', nsfw: false });
  });

  it.each([
    ['naked woman on a beach', true],
    ['N.U.D.E portrait', true],
    ['n4ked man', true],
    ['голая девушка', true],
    ['эротическая сцена', true],
    ['nsfw art', true],
    ['a golden retriever', false],
    ['голова кошки', false],
    ['голубое небо', false],
    ['sussex countryside', false],
    ['nudeln mit tomaten', false],
    ['essex', false],
  ])('classifies %j as sexual: %s', (text, sexual) => {
    expect(classifyPrompt(text).sexual).toBe(sexual);
  });

  it('always refuse sexual content with minors, whatever the policy', () => {
    for (const text of ['nude teen', 'naked 12 year old', 'голая школьница', 'erotic loli']) {
      expect(checkPrompt(text, { ...rules, nsfw: 'allow' }), text).toEqual({ ok: false, reason: 'minors' });
    }
    // Children alone are fine.
    expect(checkPrompt('a child flying a kite', rules)).toMatchObject({ ok: true, nsfw: false });
  });

  it('follow the NSFW policy: refuse, or allow and flag (the photo goes under a spoiler)', () => {
    expect(checkPrompt('nude statue', rules)).toEqual({ ok: false, reason: 'nsfw' });
    expect(checkPrompt('nude statue', { ...rules, nsfw: 'allow' })).toEqual({
      ok: true,
      prompt: 'nude statue',
      nsfw: true,
    });
  });

  it('match deny-list words and phrases whole, case-insensitively, and /regular expressions/', () => {
    const list = ['Red Dragon', 'gun', '/b[o0]mb/'];
    expect(deniedBy('a RED   dragon flies', list)).toBe('Red Dragon');
    expect(deniedBy('a red dragonfly', list)).toBeUndefined();
    expect(deniedBy('a shotgun', list)).toBeUndefined();
    expect(deniedBy('a g.u.n', list)).toBe('gun');
    expect(deniedBy('a b0mb', list)).toBe('/b[o0]mb/');
    expect(checkPrompt('a gun', { ...rules, denyList: list })).toEqual({ ok: false, reason: 'denied' });
  });
});

describe('what the AI writes', () => {
  it('becomes a prompt: the first paragraph, without a label or quotes', () => {
    expect(cleanPrompt('"A cozy cabin, oil painting"')).toBe('A cozy cabin, oil painting');
    expect(cleanPrompt('Prompt: a fox\n\nThis prompt shows a fox.')).toBe('a fox');
    expect(cleanPrompt('  \n ')).toBe('');
  });
});

describe('a failed ComfyUI run', () => {
  const kinds: RunErrorKind[] = [
    'validation',
    'out_of_memory',
    'execution',
    'interrupted',
    'unavailable',
    'no_backend',
    'timeout',
    'cancelled',
  ];

  it('follows the decision table', () => {
    const table = Object.fromEntries(
      kinds.map((k) => [k, [decideRunError(k, 'none', true).kind, decideRunError(k, 'none', false).kind]]),
    );
    expect(table).toEqual({
      validation: ['fail', 'fail'],
      out_of_memory: ['new_run', 'fail'],
      execution: ['fail', 'fail'],
      interrupted: ['new_run', 'fail'],
      unavailable: ['new_run', 'fail'],
      no_backend: ['wait', 'wait'],
      timeout: ['time_out', 'time_out'],
      cancelled: ['stop', 'stop'],
    });
    expect(decideRunError('out_of_memory', 'none', true)).toEqual({ kind: 'new_run', exclude: true });
    expect(decideRunError('interrupted', 'none', true)).toEqual({ kind: 'new_run', exclude: false });
  });

  it('yields to why the attempt itself was stopped', () => {
    for (const k of kinds) {
      expect(decideRunError(k, 'user', true).kind).toBe('stop');
      expect(decideRunError(k, 'lease_lost', true).kind).toBe('stop');
      expect(decideRunError(k, 'shutdown', true).kind).toBe('abandon');
      expect(decideRunError(k, 'job_timeout', true).kind).toBe('time_out');
    }
  });
});
