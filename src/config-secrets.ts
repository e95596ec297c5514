/**
 * What makes a secret unfit for production: a placeholder from an example file, or one short or
 * plain enough to guess. One set of rules for the app's own configuration (refused at start-up in
 * production) and for the Compose file's secrets only Compose sees (`vitte check-secrets`).
 */

/** Placeholders of the example files and the usual stand-ins people leave in. */
const PLACEHOLDER =
  /change[_-]?me|changeit|placeholder|example|replace[_-]?me|your[_-]?(password|secret|token|key)|^(x+|\*+|0+|1234\w*|password\w*|secret\w*|admin\w*|default|test|qwerty\w*)$/i;

/** Secrets we generate ourselves (`openssl rand -hex 32`) are long and varied. */
const MIN_LENGTH = 16;
const MIN_DISTINCT = 8;

export type SecretKind =
  /** One the operator generates for this deployment: placeholder, length and variety are checked. */
  | 'generated'
  /** Issued by someone else or chosen under its own policy (a bot token, an API key): only a placeholder is caught. */
  | 'given';

/** Why `value` is not fit for production, or undefined when it is. */
export function secretProblem(value: string, kind: SecretKind): string | undefined {
  if (PLACEHOLDER.test(value)) return 'is a placeholder from an example file';
  if (kind === 'given') return undefined;
  if (value.length < MIN_LENGTH)
    return `is too short (${value.length} characters; use ${MIN_LENGTH} or more)`;
  if (new Set(value).size < MIN_DISTINCT) return 'is too plain (too few different characters)';
  return undefined;
}

/** The password inside a connection URL (postgres://user:password@…), decoded; undefined without one. */
export function urlPassword(value: string): string | undefined {
  try {
    const password = new URL(value).password;
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}

/** The secrets of Vitte's configuration and of deploy/docker-compose.yml, by variable name. */
export const SECRET_VARIABLES: Readonly<Record<string, SecretKind | 'url'>> = {
  WEBHOOK_SECRET: 'generated',
  ADMIN_BOOTSTRAP_PASSWORD: 'generated',
  DATABASE_URL: 'url',
  REDIS_URL: 'url',
  BOT_TOKEN: 'given',
  LLM_API_KEY: 'given',
  // `vitte admin create-user` checks its own password policy.
  ADMIN_PASSWORD: 'given',
  // Only Compose sees these: the database and Redis passwords reach the app inside the URLs above.
  POSTGRES_PASSWORD: 'generated',
  REDIS_PASSWORD: 'generated',
  GRAFANA_ADMIN_PASSWORD: 'generated',
  MINIO_ROOT_PASSWORD: 'generated',
};

const FIX = 'generate one with: openssl rand -hex 32';

/**
 * Every secret in `env` that is unfit for production, one line each naming the variable. Unset
 * secrets are not this check's business (the schema and Compose require what they need); a URL
 * without a password is left alone (other ways to authenticate exist).
 */
export function secretProblems(env: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  for (const [name, kind] of Object.entries(SECRET_VARIABLES)) {
    const value = env[name];
    if (typeof value !== 'string' || value === '') continue;
    if (kind === 'url') {
      const password = urlPassword(value);
      const problem = password === undefined ? undefined : secretProblem(password, 'generated');
      if (problem) problems.push(`${name}: the password in it ${problem}; ${FIX}`);
      continue;
    }
    const problem = secretProblem(value, kind);
    if (problem) problems.push(`${name}: ${problem}${kind === 'generated' ? `; ${FIX}` : ''}`);
  }
  return problems;
}
