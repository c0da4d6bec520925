// Unit tests of the call's reconnection policy (call-rejoin.js): whether a resumed peer keeps
// its media session, and what to produce, close, drop and consume after rtc:joined (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { StaleGeneration, isQuiet, keepsMedia, reconnectAction, rejoinPlan } from '../src/lib/call-rejoin.js';
import { SignalingError } from '../src/lib/signaling.js';

const track = (kind) => ({ kind, id: `${kind}-track` });
const producer = (id, closed = false) => ({ id, closed });

test('a resumed peer keeps its media only if the server still has every one of its transports', () => {
  const joined = { resumed: true, transports: [{ id: 'send' }, { id: 'recv' }] };
  assert.equal(keepsMedia(joined, ['send', 'recv']), true);
  assert.equal(keepsMedia({ ...joined, resumed: false }, ['send', 'recv']), false, 'a fresh join');
  assert.equal(keepsMedia({ ...joined, transports: [{ id: 'recv' }] }, ['send', 'recv']), false);
  assert.equal(keepsMedia(joined, []), false, 'no open session to keep');
  assert.equal(keepsMedia({ resumed: true }, ['send']), false, 'the server kept no transport');
});

test('kept media: only sources whose producer the server lost are produced again; strays are closed', () => {
  const local = {
    mic: { track: track('audio'), producer: producer('pm') },
    webcam: { track: track('video'), producer: producer('pw') }, // the server lost it
    screen: { track: track('video'), producer: producer('ps', true) }, // closed here
  };
  const joined = {
    peerId: 'me',
    producers: [{ id: 'pm' }, { id: 'ps' }, { id: 'stray' }],
    consumers: [{ id: 'c1' }],
    peers: [],
  };
  const plan = rejoinPlan(joined, { keep: true, local, consumerIds: ['c1', 'c2'] });
  assert.deepEqual(plan.produce, ['webcam', 'screen']);
  assert.deepEqual(plan.closeProducers, ['stray'], 'ours (even closed) are not closed by the plan');
  assert.deepEqual(plan.dropConsumers, ['c2'], 'consumers the server no longer has');
});

test('a new media session: every source with a track is produced, every server producer closed', () => {
  const local = { mic: { track: track('audio'), producer: null }, webcam: null, screen: { track: null, producer: null } };
  const joined = { peerId: 'me', producers: [{ id: 'old-mic' }], consumers: [{ id: 'c1' }] };
  const plan = rejoinPlan(joined, { keep: false, local, consumerIds: ['c1'] });
  assert.deepEqual(plan.produce, ['mic']);
  assert.deepEqual(plan.closeProducers, ['old-mic']);
  assert.deepEqual(plan.dropConsumers, [], 'closing the old session dropped them already');
  assert.deepEqual(plan.consume, []);
});

test("every other peer's producer is consumed, with its paused state; our own are not", () => {
  const joined = {
    peerId: 'me',
    peers: [
      { peerId: 'me', producers: [{ id: 'mine' }] },
      { peerId: 'bob', producers: [{ id: 'b-mic', paused: true }, { id: 'b-cam' }] },
      { peerId: 'eve' },
    ],
  };
  const plan = rejoinPlan(joined, { keep: false, local: {}, consumerIds: [] });
  assert.deepEqual(plan.consume, [
    { peerId: 'bob', producerId: 'b-mic', paused: true },
    { peerId: 'bob', producerId: 'b-cam', paused: false },
  ]);
});

test('the plan consumes what is offered: also producers announced after the rtc:joined reply', () => {
  const joined = { peerId: 'me', peers: [{ peerId: 'bob', producers: [{ id: 'b-cam' }] }] };
  const offered = [
    { peerId: 'bob', producerId: 'b-cam', paused: false },
    { peerId: 'bob', producerId: 'b-mic', paused: 1 }, // rtc:newProducer while the session opened
  ];
  const plan = rejoinPlan(joined, { keep: false, local: {}, consumerIds: [], offered });
  assert.deepEqual(plan.consume, [
    { peerId: 'bob', producerId: 'b-cam', paused: false },
    { peerId: 'bob', producerId: 'b-mic', paused: true },
  ]);
});

test('rtc:reconnect: a server shutdown waits for the new server, anything else rejoins now', () => {
  assert.equal(reconnectAction('server_shutdown'), 'await-new-server');
  assert.equal(reconnectAction('worker_died'), 'rejoin');
  assert.equal(reconnectAction(undefined), 'rejoin');
});

test('a stale attempt and a lost socket are quiet; other errors are reported', () => {
  assert.equal(isQuiet(new StaleGeneration()), true);
  assert.equal(isQuiet(new SignalingError('gone', 'disconnected')), true);
  assert.equal(isQuiet(new SignalingError('no', 'not_found')), false);
  assert.equal(isQuiet(new Error('boom')), false);
});
