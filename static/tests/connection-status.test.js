// Unit tests of the call page's connection badge and refusal handling (connection-status.js):
// what each combination of socket, call and transport states shows (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CallState } from '../src/lib/call-controller.js';
import { connectionStatus, refusal } from '../src/lib/connection-status.js';
import { SocketState } from '../src/lib/signaling.js';

const joined = (transportStates) => connectionStatus({ socket: SocketState.OPEN, call: CallState.JOINED, transportStates });

test('reconnecting: a server restart says so; from the second attempt the attempt is counted', () => {
  const lost = { socket: SocketState.RECONNECTING, call: CallState.RECONNECTING };
  assert.deepEqual(connectionStatus({ ...lost, restarting: true, attempt: 3 }), { state: 'reconnecting', key: 'state.serverRestarting' });
  assert.deepEqual(connectionStatus({ ...lost, attempt: 1 }), { state: 'reconnecting', key: 'state.reconnecting' });
  assert.deepEqual(connectionStatus({ ...lost, attempt: 2 }), {
    state: 'reconnecting',
    key: 'state.reconnectingAttempt',
    params: { attempt: 2 },
  });
  assert.equal(connectionStatus({ socket: SocketState.OPEN, call: CallState.RECONNECTING }).key, 'state.reconnecting');
});

test('connecting, then joining', () => {
  assert.deepEqual(connectionStatus({ socket: SocketState.CONNECTING }), { state: 'connecting', key: 'state.connecting' });
  assert.deepEqual(connectionStatus({ socket: SocketState.OPEN, call: CallState.JOINING }), { state: 'connecting', key: 'state.joining' });
});

test('in the call, the transports decide: failed, connecting, or connected', () => {
  assert.deepEqual(joined({}), { state: 'connected', key: 'state.joined' }, 'listening only, no transport yet');
  assert.deepEqual(joined({ send: 'connected', recv: 'new' }), { state: 'connected', key: 'state.joined' });
  assert.deepEqual(joined({ send: 'new', recv: 'new' }), { state: 'connected', key: 'state.joined' });
  assert.deepEqual(joined({ send: 'connecting', recv: 'connected' }), { state: 'connecting', key: 'state.mediaConnecting' });
  assert.deepEqual(joined({ send: 'disconnected' }), { state: 'connecting', key: 'state.mediaConnecting' });
  assert.deepEqual(joined({ send: 'failed', recv: 'connected' }), { state: 'reconnecting', key: 'state.mediaFailed' });
});

test('a failed join shows failure; before joining and after leaving the badge stays', () => {
  assert.deepEqual(connectionStatus({ socket: SocketState.OPEN, call: CallState.FAILED }), { state: 'failed', key: 'state.failed' });
  assert.equal(connectionStatus({ socket: SocketState.IDLE }), null);
  assert.equal(connectionStatus({ socket: SocketState.CLOSED, call: CallState.LEFT }), null);
});

test('refusals: rejoining is offered after an expired session, a full meeting or flooding only', () => {
  assert.deepEqual(refusal(4429), { key: 'refused.4429', canRejoin: true });
  assert.deepEqual(refusal(4430), { key: 'refused.4430', canRejoin: true });
  assert.equal(refusal(4401).canRejoin, true);
  assert.equal(refusal(4409).canRejoin, true);
  for (const code of [4403, 4404, 4410, 4499]) assert.equal(refusal(code).canRejoin, false, code);
});
