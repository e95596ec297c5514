import type { Migration } from 'kysely';
import * as m0001 from './0001-initial.js';

/** Every migration, by name. Names sort in the order they must run. */
export const migrations: Record<string, Migration> = {
  '0001-initial': m0001,
};
