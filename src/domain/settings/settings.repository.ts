import { sql } from 'kysely';
import { Repository } from '../../platform/db/transactor.js';

export class SettingsRepository extends Repository {
  /**
   * Serialise writers of one key until the transaction ends — also when no row exists yet, which
   * `for update` could not lock — so each sees the value the previous one committed.
   */
  async lock(key: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`settings:${key}`}, 0))`.execute(this.db);
  }

  async find(key: string): Promise<unknown | undefined> {
    const row = await this.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  async findAll(): Promise<{ key: string; value: unknown; updated_at: Date }[]> {
    return this.db.selectFrom('settings').select(['key', 'value', 'updated_at']).orderBy('key').execute();
  }

  async upsert(key: string, value: unknown, description: string): Promise<void> {
    const json = JSON.stringify(value);
    await this.db
      .insertInto('settings')
      .values({ key, value: json, description })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, description, updated_at: new Date() }))
      .execute();
  }

  async delete(key: string): Promise<void> {
    await this.db.deleteFrom('settings').where('key', '=', key).execute();
  }
}
