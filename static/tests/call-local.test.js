// Unit tests of what the call sends (call-local.js) before any media session exists: turning
// sources on and off, device switches and muting, with the devices they stop (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LocalSources } from '../src/lib/call-local.js';
import { fakeTrack, recordingContext } from './call-context.js';

const summaries = (context) => context.events.filter(([name]) => name === 'local-changed').map(([, s]) => s);

test('a camera turned on and off before joining: reported each time, the device freed, nothing sent', async () => {
  const context = recordingContext();
  const local = new LocalSources(context);
  const camera = fakeTrack('video');
  await local.set('webcam', camera);
  assert.equal(local.entries.webcam.track, camera);
  assert.deepEqual(summaries(context).at(-1).webcam, { on: true, paused: false, producing: false, track: camera });
  await local.set('webcam', null);
  assert.equal(camera.stopped, true);
  assert.equal(local.entries.webcam, null);
  assert.deepEqual(summaries(context).at(-1).webcam, { on: false, paused: false, producing: false, track: null });
  assert.deepEqual(context.requests, []);
});

test('switching devices stops the old track; a track for a source that is off is stopped at once', async () => {
  const context = recordingContext();
  const local = new LocalSources(context);
  const first = fakeTrack('audio');
  const second = fakeTrack('audio');
  local.start({ audioTrack: first, micMuted: true });
  await local.replaceTrack('mic', second);
  assert.equal(first.stopped, true);
  assert.equal(second.stopped, false);
  assert.equal(local.entries.mic.track, second);
  assert.equal(local.entries.mic.paused, true, 'the mute survives the switch');
  const stray = fakeTrack('video');
  await local.replaceTrack('webcam', stray);
  assert.equal(stray.stopped, true);
  assert.equal(local.entries.webcam, null);
});

test('muting without a producer only changes what is shown; leaving stops every device', async () => {
  const context = recordingContext({ joined: true });
  const local = new LocalSources(context);
  const mic = fakeTrack('audio');
  const screen = fakeTrack('video');
  local.start({ audioTrack: mic });
  local.entries.screen = { track: screen, producer: null, paused: false };
  await local.setMicMuted(true);
  assert.deepEqual(summaries(context).at(-1).mic, { on: true, paused: true, producing: false, track: mic });
  assert.deepEqual(context.requests, []);
  local.stopAll();
  assert.equal(mic.stopped && screen.stopped, true);
  assert.deepEqual(local.entries, { mic: null, webcam: null, screen: null });
});
