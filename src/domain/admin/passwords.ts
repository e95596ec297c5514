import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { ValidationError } from '../../platform/errors.js';

/** OWASP's argon2id baseline (19 MiB, 2 passes): ~20 ms here, costly enough for offline guessing. */
const PARAMS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;

export function checkPasswordPolicy(password: string, field = 'password'): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new ValidationError(`the password needs ${PASSWORD_MIN}-${PASSWORD_MAX} characters`, {
      issues: [{ path: field, message: `${PASSWORD_MIN}-${PASSWORD_MAX} characters` }],
    });
  }
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, PARAMS);
}

/** False for a wrong password and for a malformed hash (never throws on bad input). */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

export function needsRehash(hash: string): boolean {
  try {
    return argon2.needsRehash(hash, PARAMS);
  } catch {
    return true;
  }
}

/** A readable random password (~120 bits) for generated accounts. */
export function generatePassword(): string {
  return randomBytes(20)
    .toString('base64url')
    .replace(/[-_]/g, 'x')
    .match(/.{1,9}/g)!
    .join('-');
}
