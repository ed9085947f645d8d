import * as assert from 'assert';
import { PHASE_SHARES, PhasedProgress } from '../../src/commands/progress';

describe('progress: download, load and analyze each get their share of the bar', () => {
  const run = (steps: [Parameters<PhasedProgress['report']>[0], number | undefined][]) => {
    const increments: (number | undefined)[] = [];
    const bar = new PhasedProgress((v) => increments.push(v.increment));
    for (const [phase, fraction] of steps) bar.report(phase, 'msg', fraction);
    return { bar, increments };
  };

  it('a download, a load and an analysis fill the bar in their shares, ending at 100', () => {
    const { bar, increments } = run([['download', 0], ['download', 0.5], ['download', 1], ['load', 0.5], ['load', 1], ['analyze', 0.5], ['analyze', 1]]);
    assert.deepEqual(increments, [0, 30, 30, 12.5, 12.5, 7.5, 7.5]);
    assert.equal(bar.position, 100);
  });

  it('a cached model jumps over the download share; the bar never moves back; messages alone move nothing', () => {
    const { bar, increments } = run([['download', undefined], ['load', 0], ['load', 1], ['download', 0.5], ['analyze', 1]]);
    assert.deepEqual(increments, [undefined, PHASE_SHARES.load[0], 25, 0, 15]);
    assert.equal(bar.position, 100);
  });

  it('the shares cover 0–100 without gaps', () => {
    assert.deepEqual([PHASE_SHARES.download[0], PHASE_SHARES.download[1] === PHASE_SHARES.load[0], PHASE_SHARES.load[1] === PHASE_SHARES.analyze[0], PHASE_SHARES.analyze[1]], [0, true, true, 100]);
  });
});
