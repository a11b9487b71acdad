// Why a server could not listen, as one line a newcomer can act on (EADDRINUSE and its kin),
// for the service (PORT / HOST) and `npm run backend` (BACKEND_PORT / HOST).

export interface ListenTarget {
  /** The variable that sets the port: PORT, or BACKEND_PORT. */
  readonly portVariable: string;
  readonly port: number;
  readonly host: string;
}

/** One line saying what to change, or undefined when `error` is not about the address. */
export function listenProblem(error: unknown, {portVariable, port, host}: ListenTarget): string | undefined {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use (another copy running?): stop it, or set ${portVariable} to a free port, e.g. ${portVariable}=${port + 1}`;
    case 'EACCES':
      return `no permission to listen on port ${port}: set ${portVariable} to a port above 1023`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `HOST ${host} is not an address of this machine: set HOST to one (0.0.0.0 listens on all, 127.0.0.1 on loopback only)`;
    default:
      return undefined;
  }
}
