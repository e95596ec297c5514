import { describe, expect, it } from 'vitest';
import {
  AppError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  ValidationError,
} from '../../src/platform/errors.js';

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

describe('AppError kinds', () => {
  it.each([
    [NotFoundError, 'NotFoundError', 404, 'not_found'],
    [ConflictError, 'ConflictError', 409, 'conflict'],
    [UnauthorizedError, 'UnauthorizedError', 401, 'unauthorized'],
    [ForbiddenError, 'ForbiddenError', 403, 'forbidden'],
    [TooManyRequestsError, 'TooManyRequestsError', 429, 'too_many_requests'],
  ])('%o answers with its own name, status and code', (Kind, name, status, code) => {
    const err = new Kind('nope', { id: 7 });
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ name, status, code, message: 'nope', details: { id: 7 } });
    expect(new ConflictError('x')).not.toBeInstanceOf(NotFoundError);
  });
});
