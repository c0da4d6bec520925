// Unit tests of the signaling client against a scripted fake WebSocket (node --test).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';

import {
  CloseCode,
  RECONNECT_CLOSE_CODE,
  SignalingClient,
  SignalingError,
  SocketState,
  backoffDelay,
  closeKind,
} from '../src/lib/signaling.js';
import { FakeSocket, installFakeSocket, last, tick } from './fake-socket.js';

let uninstall;
beforeEach(() => {
  uninstall = installFakeSocket();
});

afterEach(() => uninstall());

async function connected(options = {}) {
  const client = new SignalingClient('ws://test/ws/meetings/x/', options);
  const opening = client.connect();
  last().open();
  await opening;
  return client;
}

test('replies resolve their own request, whatever the order', async () => {
  const client = await connected();
  const first = client.request('rtc:join', { displayName: 'Ada' });
  const second = client.request('rtc:createTransport', { direction: 'send' });
  const [a, b] = last().sent;
  assert.equal(a.type, 'rtc:join');
  assert.deepEqual(a.data, { displayName: 'Ada' });
  assert.notEqual(a.requestId, b.requestId);
  last().receive({ requestId: b.requestId, type: 'rtc:transportCreated', data: { id: 't1' } });
  last().receive({ requestId: a.requestId, type: 'rtc:joined', data: { peerId: 'p1' } });
  assert.deepEqual(await first, { peerId: 'p1' });
  assert.deepEqual(await second, { id: 't1' });
  client.close();
});

test('an error reply rejects with its code; an unknown requestId is ignored', async () => {
  const client = await connected();
  const pending = client.request('rtc:consume', { producerId: 'nope' });
  const { requestId } = last().sent[0];
  last().receive({ requestId: 'someone-else', data: {} });
  last().receive({ requestId, error: 'producer not found', code: 'not_found' });
  await assert.rejects(pending, (error) => {
    assert.ok(error instanceof SignalingError);
    assert.equal(error.code, 'not_found');
    assert.equal(error.message, 'producer not found');
    return true;
  });
  client.close();
});

test('a request without a reply times out', async () => {
  const client = await connected({ requestTimeoutMs: 20 });
  await assert.rejects(client.request('rtc:join', {}), { code: 'timeout' });
  client.close();
});

test('events are emitted by type, with their data', async () => {
  const client = await connected();
  const seen = [];
  client.on('rtc:newProducer', (data) => seen.push(data));
  last().receive({ type: 'rtc:newProducer', data: { peerId: 'p2', producerId: 'x', kind: 'video' } });
  assert.deepEqual(seen, [{ peerId: 'p2', producerId: 'x', kind: 'video' }]);
  client.close();
});

test('a lost socket fails pending requests, then reconnects with backoff', async () => {
  const client = await connected({ initialBackoffMs: 10, maxBackoffMs: 40 });
  const states = [];
  client.on('state', (state) => states.push(state));
  const reopened = new Promise((resolve) => client.on('open', resolve));
  const pending = client.request('rtc:join', {});
  last().drop(1006);
  await assert.rejects(pending, { code: 'disconnected' });
  assert.equal(client.state, SocketState.RECONNECTING);
  await assert.rejects(client.request('rtc:join', {}), { code: 'disconnected' });
  // The second attempt fails too; the third opens.
  await tick(30);
  assert.equal(FakeSocket.instances.length, 2);
  last().drop(1006);
  await tick(80);
  assert.equal(FakeSocket.instances.length, 3);
  last().open();
  assert.deepEqual(await reopened, { reconnected: true });
  assert.equal(client.state, SocketState.OPEN);
  assert.equal(client.attempt, 0);
  assert.ok(states.includes(SocketState.RECONNECTING));
  client.close();
});

test('a refusal close code (4403) stops reconnecting and is reported', async () => {
  const client = await connected({ initialBackoffMs: 5 });
  const refused = new Promise((resolve) => client.on('refused', resolve));
  last().drop(4403, 'forbidden');
  assert.deepEqual(await refused, { code: 4403, reason: 'forbidden' });
  await tick(30);
  assert.equal(FakeSocket.instances.length, 1);
  assert.equal(client.state, SocketState.CLOSED);
});

test('a first connection refused rejects connect()', async () => {
  const client = new SignalingClient('ws://test/x/');
  const opening = client.connect();
  last().drop(4401, 'sign in');
  await assert.rejects(opening, { code: 'refused' });
});

test('close() is final: no reconnection, requests refused', async () => {
  const client = await connected({ initialBackoffMs: 5 });
  client.close();
  assert.deepEqual(FakeSocket.instances[0].closed, { code: 1000, reason: 'bye' });
  await tick(20);
  assert.equal(FakeSocket.instances.length, 1);
  await assert.rejects(client.request('rtc:join', {}), { code: 'disconnected' });
});

test('backoff doubles up to the cap, with ±20 % jitter', () => {
  const fixed = { initialMs: 500, maxMs: 10000, random: () => 0.5 };
  assert.deepEqual([0, 1, 2, 3, 10].map((n) => backoffDelay(n, fixed)), [500, 1000, 2000, 4000, 10000]);
  assert.equal(backoffDelay(0, { ...fixed, random: () => 0 }), 400);
  assert.equal(backoffDelay(0, { ...fixed, random: () => 1 }), 600);
});

test('close codes: refusals (44xx) are final, 4503 is a restart, the rest a loss', () => {
  for (const code of [4401, 4403, 4404, 4409, 4410, 4429, 4430]) assert.equal(closeKind(code), 'refused', code);
  assert.equal(closeKind(CloseCode.SHUTTING_DOWN), 'restarting');
  for (const code of [1000, 1001, 1006, 1011, 4000, 4500]) assert.equal(closeKind(code), 'lost', code);
});

test('4503 (server stopping) is reported and reconnected with backoff, a step later', async () => {
  const client = await connected({ initialBackoffMs: 10, maxBackoffMs: 1000 });
  const restarting = [];
  const lost = [];
  client.on('restarting', (info) => restarting.push(info));
  client.on('lost', (info) => lost.push(info));
  const reopened = new Promise((resolve) => client.on('open', resolve));
  last().drop(4503);
  assert.deepEqual(restarting, [{ code: 4503 }]);
  assert.equal(client.state, SocketState.RECONNECTING);
  // Starts at the second step of the backoff (20 ms ±20 %), not the first (10 ms).
  assert.equal(lost[0].code, 4503);
  assert.ok(lost[0].delay >= 16 && lost[0].delay <= 24, lost[0].delay);
  await tick(30);
  assert.equal(FakeSocket.instances.length, 2);
  last().drop(1006); // the server is still down: keep trying, further apart
  assert.ok(lost[1].delay > lost[0].delay);
  await tick(60);
  assert.equal(FakeSocket.instances.length, 3);
  last().open();
  assert.deepEqual(await reopened, { reconnected: true });
  assert.equal(client.state, SocketState.OPEN);
  client.close();
});

test('4429 (flooding) ends the connection: reported once, no reconnection loop', async () => {
  const client = await connected({ initialBackoffMs: 5 });
  const refused = [];
  client.on('refused', (info) => refused.push(info));
  const pending = client.request('rtc:getStats', { producerId: 'p' });
  last().drop(CloseCode.TOO_MANY_REQUESTS);
  await assert.rejects(pending, { code: 'disconnected' });
  await tick(40);
  assert.deepEqual(refused, [{ code: 4429, reason: '' }]);
  assert.equal(FakeSocket.instances.length, 1);
  assert.equal(client.state, SocketState.CLOSED);
});

test('reconnect() closes with the reconnect code (not 1000, which means we are done)', async () => {
  const client = await connected({ initialBackoffMs: 5 });
  client.reconnect('test');
  assert.deepEqual(FakeSocket.instances[0].closed, { code: RECONNECT_CLOSE_CODE, reason: 'reconnect' });
  assert.notEqual(RECONNECT_CLOSE_CODE, 1000);
  await tick(20);
  assert.equal(FakeSocket.instances.length, 2);
  client.close(1000, 'leave');
  assert.deepEqual(FakeSocket.instances[1].closed, { code: 1000, reason: 'leave' });
});

test('send() writes a request without waiting for a reply; refused when not open', async () => {
  const client = await connected();
  assert.equal(client.send('rtc:leave'), true);
  assert.equal(last().sent[0].type, 'rtc:leave');
  assert.ok(last().sent[0].requestId);
  client.close();
  assert.equal(client.send('rtc:leave'), false);
  assert.equal(last().sent.length, 1);
});
