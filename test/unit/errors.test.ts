import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/platform/errors.js';

describe('ValidationError', () => {
  it('keeps its issues typed and shows them to clients as details.issues', () => {
    const issues = [{ path: 'scheduledAt', message: 'must be in the future' }];
    const err = new ValidationError('invalid schedule', { issues });
    expect(err.issues).toEqual(issues);
    expect(err.details).toEqual({ issues });
  });

  it('keeps other details beside them, and has none when given none', () => {
    expect(new ValidationError('too long', { max: 2_000 })).toMatchObject({
      issues: [],
      details: { max: 2_000 },
    });
    expect(new ValidationError('bad').details).toBeUndefined();
  });
});
