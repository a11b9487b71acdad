// Waiting for something with a time limit, in one place: the promise's value if it settles first,
// else what `late` returns (or throws) once `ms` have passed. The timer never outlives the race,
// so a waiting process is not kept alive by it, nor a finished one woken.

export function raceTimeout<T, L>(promise: Promise<T>, ms: number, late: () => L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<L>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(late());
      } catch (error) {
        reject(error);
      }
    }, ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** For a wait whose time limit is no failure: resolves undefined when `ms` pass first. */
export const giveUp = (): undefined => undefined;
