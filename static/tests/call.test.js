// Unit tests of the call controller's leave and server-restart paths, over the real signaling
// client and a scripted fake WebSocket (node --test). No media: the controller is put in the
// joined state by hand, as after rtc:joined.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import { CallController, CallState } from '../src/lib/call-controller.js';
import { SignalingClient, SocketState } from '../src/lib/signaling.js';
import { FakeSocket, installFakeSocket, last, tick } from './fake-socket.js';

let uninstall;
beforeEach(() => {
  uninstall = installFakeSocket();
  globalThis.navigator = {};
});

afterEach(() => {
  uninstall();
  delete globalThis.navigator;
});

/** A controller on an open socket, in the call as peer p1 (as after rtc:joined). */
async function inCall(options = {}) {
  const signaling = new SignalingClient('ws://test/ws/meetings/x/', { initialBackoffMs: 10 });
  const opening = signaling.connect();
  last().open();
  await opening;
  const controller = new CallController({ signaling, displayName: 'Ada', ...options });
  controller.peerId = 'p1';
  controller.resumeToken = 'secret';
  controller.state = CallState.JOINED;
  return { signaling, controller, socket: last() };
}

test('leave() sends rtc:leave, waits for its reply, then closes the socket with 1000', async () => {
  const { controller, socket } = await inCall();
  const leaving = controller.leave();
  assert.equal(controller.state, CallState.LEFT);
  assert.deepEqual(socket.sent.map((m) => m.type), ['rtc:leave']);
  await tick(5);
  assert.equal(socket.closed, null, 'the socket stays open until the server answered');
  socket.receive({ requestId: socket.sent[0].requestId, data: { type: 'rtc:left' } });
  await leaving;
  assert.deepEqual(socket.closed, { code: 1000, reason: 'leave' });
});

test('leave() closes the socket anyway when rtc:leave gets no reply in time', async () => {
  const { controller, signaling, socket } = await inCall({ leaveTimeoutMs: 20 });
  const started = Date.now();
  await controller.leave();
  assert.ok(Date.now() - started >= 15);
  assert.deepEqual(socket.closed, { code: 1000, reason: 'leave' });
  assert.equal(signaling.state, SocketState.CLOSED);
});

test('leaveNow() (page unload) sends rtc:leave and closes at once, in that order', async () => {
  const { controller, socket } = await inCall();
  const order = [];
  const send = socket.send.bind(socket);
  socket.send = (text) => {
    order.push(`send ${JSON.parse(text).type}`);
    send(text);
  };
  const close = socket.close.bind(socket);
  socket.close = (code, reason) => {
    order.push(`close ${code}`);
    close(code, reason);
  };
  controller.leaveNow();
  assert.deepEqual(order, ['send rtc:leave', 'close 1000']);
  assert.equal(controller.state, CallState.LEFT);
  controller.leaveNow(); // twice (pagehide after leave): nothing more
  assert.deepEqual(order, ['send rtc:leave', 'close 1000']);
});

test('rtc:reconnect for a server shutdown: no rejoin on that socket; after 4503 the new socket resumes, then joins afresh', async () => {
  const { controller, socket } = await inCall();
  const restarting = [];
  controller.on('server-restarting', () => restarting.push(true));
  socket.receive({ type: 'rtc:reconnect', data: { reason: 'server_shutdown' } });
  assert.equal(controller.state, CallState.RECONNECTING);
  assert.deepEqual(restarting, [true]);
  await tick(5);
  assert.deepEqual(socket.sent, [], 'nothing is sent to the stopping server');

  socket.drop(4503);
  await tick(40); // backoff (second step: 20 ms ±20 %)
  const next = last();
  assert.notEqual(next, socket);
  next.open();
  await tick();
  const [resume] = next.sent;
  assert.equal(resume.type, 'rtc:join');
  assert.deepEqual(resume.data.resume, { peerId: 'p1', token: 'secret' });
  // The old server's peer is gone: the resume is refused, so the controller joins afresh.
  next.receive({ requestId: resume.requestId, error: 'no peer to resume; join again', code: 'not_found' });
  await tick();
  const fresh = next.sent[1];
  assert.equal(fresh.type, 'rtc:join');
  assert.equal(fresh.data.resume, undefined);
  assert.equal(fresh.data.displayName, 'Ada');
  await controller.leave({ notifyServer: false });
  assert.deepEqual(next.closed, { code: 1000, reason: 'leave' });
  assert.equal(FakeSocket.instances.length, 2);
});

test('rtc:reconnect for a server shutdown: if the server never closes the socket, we drop it', async () => {
  const { controller, socket } = await inCall({ shutdownCloseWaitMs: 20 });
  socket.receive({ type: 'rtc:reconnect', data: { reason: 'server_shutdown' } });
  await tick(5);
  assert.equal(socket.closed, null, 'the server gets its chance to close first');
  await tick(30);
  assert.equal(socket.closed?.code, 4000, 'dropped to reconnect, not closed as a leave');
  await controller.leave({ notifyServer: false });
});

test('leaving while waiting for the stopping server cancels the wait', async () => {
  const { controller, socket } = await inCall({ shutdownCloseWaitMs: 20 });
  socket.receive({ type: 'rtc:reconnect', data: { reason: 'server_shutdown' } });
  await controller.leave({ notifyServer: false });
  await tick(40);
  assert.deepEqual(socket.closed, { code: 1000, reason: 'leave' });
  assert.equal(FakeSocket.instances.length, 1, 'no reconnection after leaving');
});

test('rtc:newProducer while reconnecting is remembered for the rejoin; producerClosed and consumerClosed forget it', async () => {
  const { controller, socket } = await inCall();
  controller.state = CallState.RECONNECTING; // rtc:joined is in, the new media session opening
  socket.receive({ type: 'rtc:newProducer', data: { peerId: 'bob', producerId: 'b-mic', kind: 'audio' } });
  socket.receive({ type: 'rtc:newProducer', data: { peerId: 'bob', producerId: 'b-cam', kind: 'video' } });
  socket.receive({ type: 'rtc:newProducer', data: { peerId: 'p1', producerId: 'ours', kind: 'audio' } });
  await tick();
  assert.deepEqual(socket.sent, [], 'nothing consumed without a session');
  assert.deepEqual(controller.receiving.offeredList().map((o) => o.producerId), ['b-mic', 'b-cam']);
  socket.receive({ type: 'rtc:producerClosed', data: { peerId: 'bob', producerId: 'b-cam' } });
  socket.receive({ type: 'rtc:consumerClosed', data: { consumerId: 'c9', producerId: 'b-mic' } });
  await tick();
  assert.deepEqual(controller.receiving.offeredList(), []);
  await controller.leave({ notifyServer: false });
});
