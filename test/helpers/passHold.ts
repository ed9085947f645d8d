/** Holding a kept analysis's pass (KeptOptions.testHoldAfterGroup) to look at it mid-way. */

/** A hold after the pass's first layer group: `reached` resolves with that group's layers, `release` lets the pass go on. */
export function holdFirstGroup(): { hook: (layers: number[]) => Promise<void>; reached: Promise<number[]>; release: () => void } {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let reach!: (layers: number[]) => void;
  const reached = new Promise<number[]>((resolve) => (reach = resolve));
  let first = true;
  return {
    hook: async (layers) => {
      if (!first) return;
      first = false;
      reach(layers);
      await held;
    },
    reached,
    release: () => release(),
  };
}

/** Whether `promise` is still pending after the event loop has turned a few times. */
export async function isPending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return !settled;
}
