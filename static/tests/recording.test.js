// Unit tests of the call page's recording state (recording.js): what rtc:joined and the
// recording events make the indicator show, and what the host's button sends (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RecordingState } from '../src/lib/recording.js';

function recorder() {
  const sent = [];
  const state = new RecordingState(async (type, data) => {
    sent.push([type, data]);
    return { type };
  });
  const seen = [];
  state.on('started', (data) => seen.push(['started', data.recordingId]));
  state.on('stopped', (reason) => seen.push(['stopped', reason]));
  return { state, sent, seen };
}

test('rtc:joined sets the state quietly; the events announce changes once', () => {
  const { state, seen } = recorder();
  state.set({ recordingId: 'r1', startedAt: '2026-01-01T00:00:00Z' });
  assert.equal(state.active, true);
  assert.deepEqual(seen, []);
  state.started({ recordingId: 'r1' }); // already known: no second announcement
  assert.deepEqual(seen, []);
  state.stopped({ recordingId: 'other', reason: 'stopped' }); // not ours
  assert.equal(state.active, true);
  state.stopped({ recordingId: 'r1', reason: 'call_ended' });
  assert.equal(state.active, false);
  assert.deepEqual(seen, [['stopped', 'call_ended']]);
  state.set(null);
  state.started({ recordingId: 'r2' });
  assert.deepEqual(seen.at(-1), ['started', 'r2']);
});

test('the button sends start, then stop, and is busy meanwhile', async () => {
  const { state, sent } = recorder();
  const changes = [];
  state.on('change', (change) => changes.push(change.busy));
  await state.toggle();
  assert.deepEqual(sent, [['rtc:startRecording', {}]]);
  state.started({ recordingId: 'r1' });
  await state.toggle();
  assert.deepEqual(sent.at(-1), ['rtc:stopRecording', {}]);
  assert.deepEqual(changes.slice(0, 2), [true, false]);
});

test('a second press while a request is pending sends nothing', async () => {
  let release;
  const state = new RecordingState(() => new Promise((resolve) => { release = resolve; }));
  const first = state.toggle();
  assert.equal(await state.toggle(), null);
  release({});
  await first;
  assert.equal(state.busy, false);
});
