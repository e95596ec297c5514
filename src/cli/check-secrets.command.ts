import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { SECRET_VARIABLES, secretProblems } from '../config-secrets.js';
import type { Command } from './commands.js';

/**
 * Production start-up refuses placeholder and weak secrets in the app's own configuration; the
 * Compose file also holds secrets only its other services see (Grafana, MinIO, the database and
 * Redis servers). This checks them all in an env file before `docker compose up`.
 */
export const checkSecretsCommand: Command = {
  usage: '[--env-file <path>]',
  describe: 'refuse placeholder or weak secrets (of the environment or an env file)',
  help: `Checks ${Object.keys(SECRET_VARIABLES).join(', ')}: a placeholder from an example file is
refused everywhere; the ones you generate yourself must also be 16+ varied characters
(openssl rand -hex 32). Exit 0 when every secret set is fit for production, 78 otherwise.
In production every role runs this check on its own configuration at start-up.`,
  async run(args, config) {
    const at = args.indexOf('--env-file');
    const file = at >= 0 ? args[at + 1] : undefined;
    if (at >= 0 && !file) {
      process.stderr.write(`usage: vitte check-secrets ${checkSecretsCommand.usage}\n`);
      return 2;
    }
    const env: Record<string, unknown> = file ? parseEnv(readFileSync(file, 'utf8')) : config;
    const checked = Object.keys(SECRET_VARIABLES).filter((k) => typeof env[k] === 'string' && env[k] !== '');
    const problems = secretProblems(env);
    if (problems.length) {
      process.stderr.write(
        `not fit for production${file ? ` (${file})` : ''}:\n${problems.map((p) => `  - ${p}\n`).join('')}`,
      );
      return 78;
    }
    process.stdout.write(
      `${checked.length} secrets checked (${checked.join(', ') || 'none set'}): none is a placeholder or weak\n`,
    );
    return 0;
  },
};
