/**
 * A failure the operator fixes by changing something we can name (a variable, a port, another
 * process): printed as one line without a stack trace, exiting with `exitCode`.
 */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A listen() failure as the one line an operator needs: which variable names the busy port. */
export function listenError(err: unknown, what: string, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new CliError(
      `port ${port} on ${host} is already in use (${what}): stop the process that holds it, or set ${what} to a free port`,
    );
  }
  if (code === 'EACCES') {
    return new CliError(`not allowed to listen on port ${port} (${what}): choose a port above 1023`);
  }
  if (code === 'EADDRNOTAVAIL') {
    return new CliError(
      `this machine has no address ${host} (HOST): use 127.0.0.1, 0.0.0.0 or one of its own`,
    );
  }
  return err;
}
