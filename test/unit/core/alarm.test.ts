import assert from 'node:assert/strict';
import { Alarm } from '../../../src/core/alarm.ts';
import { ManualClock } from '../net/fakes.ts';

describe('core: Alarm', () => {
  const setup = (): { clock: ManualClock; alarm: Alarm; rings: number[] } => {
    const clock = new ManualClock(1000);
    const rings: number[] = [];
    const alarm = new Alarm(clock, () => rings.push(clock.now()));
    return { clock, alarm, rings };
  };

  it('setAt moves the one timer to the new time, later or earlier, and rings once', () => {
    const { clock, alarm, rings } = setup();
    alarm.setAt(1500);
    alarm.setAt(1800);
    alarm.setAt(1200);
    assert.equal(clock.pending, 1, 'one timer, however often it moved');
    assert.equal(alarm.armedAtMs, 1200);
    clock.advance(1000);
    assert.deepEqual(rings, [1200], 'rings at the last setting only');
    assert.equal(alarm.armedAtMs, Infinity, 'unset once it rang');
  });

  it('setAt with Infinity or NaN unsets; a time in the past rings at once', () => {
    const { clock, alarm, rings } = setup();
    alarm.setAt(1500);
    alarm.setAt(Infinity);
    assert.equal(clock.pending, 0);
    alarm.setAt(1500);
    alarm.setAt(Number.NaN);
    assert.equal(clock.pending, 0, 'NaN cancels: a node returning NaN never gets a timer');
    assert.equal(alarm.armedAtMs, Infinity);
    alarm.setAt(900);
    clock.advance(0);
    assert.deepEqual(rings, [1000]);
  });

  it('setWithin only ever moves the alarm earlier', () => {
    const { clock, alarm, rings } = setup();
    alarm.setWithin(300);
    alarm.setWithin(500);
    assert.equal(alarm.armedAtMs, 1300, 'a later request keeps the earlier alarm');
    alarm.setWithin(100);
    assert.equal(alarm.armedAtMs, 1100);
    assert.equal(clock.pending, 1);
    clock.advance(1000);
    assert.deepEqual(rings, [1100]);
  });

  it('cancel stops a pending ring', () => {
    const { clock, alarm, rings } = setup();
    alarm.setWithin(10);
    alarm.cancel();
    clock.advance(100);
    assert.deepEqual(rings, []);
    assert.equal(clock.pending, 0);
  });
});
