// The process's signals, installed before any other module loads (main.ts imports this file
// first): a SIGHUP that comes while the service is still loading or starting is kept, never lost
// and never Node's default (which ends the process), and is acted on once the service is up; the
// latest registry file then wins. SIGTERM / SIGINT before the service can drain end the process
// at once (exit 0: nothing was admitted yet).
//
// The title is what `ps` and `pgrep agent-batcher` show (README, "Stopping").

process.title = 'agent-batcher';

/** What the running service does on a signal. */
export interface SignalTarget {
  /** SIGTERM / SIGINT: drain and exit. */
  stop(signal: NodeJS.Signals): void;
  /** SIGHUP: read MODELS_FILE again. */
  reload(): void;
}

let target: SignalTarget | undefined;
/** A SIGHUP came while starting (however many: one reload reads the latest file). */
let reloadWanted = false;

process.on('SIGHUP', () => {
  if (target) target.reload();
  else reloadWanted = true;
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (target) target.stop(signal);
    else process.exit(0);
  });
}

/** While the service loads and starts: a stop is handled by `stop`, a SIGHUP waits. */
export function whileStarting(stop: (signal: NodeJS.Signals) => void): void {
  target = {stop, reload: () => (reloadWanted = true)};
}

/** The service is up: signals go to `running`; a SIGHUP kept while starting is acted on now. */
export function started(running: SignalTarget): boolean {
  target = running;
  const wanted = reloadWanted;
  reloadWanted = false;
  if (wanted) running.reload();
  return wanted;
}
