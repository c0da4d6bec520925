// Unit tests of what the call receives (call-remote.js): the peers list and its events, and
// the requests it must not send (node --test). No media session: consumers need a browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { RemoteMedia } from '../src/lib/call-remote.js';
import { recordingContext } from './call-context.js';

test('rtc:joined peers: new ones join, renamed ones update, absent ones leave, we are skipped', () => {
  const context = recordingContext();
  const remote = new RemoteMedia(context);
  remote.addPeer('bob', 'Bob');
  remote.addPeer('eve', 'Eve');
  context.events.length = 0;
  remote.syncPeers(
    [
      { peerId: 'me', displayName: 'Ada' },
      { peerId: 'bob', displayName: 'Robert' },
      { peerId: 'cy', displayName: 'Cy' },
    ],
    'me',
  );
  assert.deepEqual(context.events, [
    ['peer-updated', { peerId: 'bob', displayName: 'Robert' }],
    ['peer-joined', { peerId: 'cy', displayName: 'Cy' }],
    ['peer-left', 'eve'],
  ]);
  assert.deepEqual([...remote.peers.keys()], ['bob', 'cy']);
});

test('a peer seen again without a name, or with the same one, is not announced twice', () => {
  const context = recordingContext();
  const remote = new RemoteMedia(context);
  const bob = remote.addPeer('bob', 'Bob');
  assert.equal(remote.addPeer('bob'), bob);
  assert.equal(remote.addPeer('bob', 'Bob'), bob);
  remote.removePeer('nobody');
  assert.deepEqual(context.events, [['peer-joined', { peerId: 'bob', displayName: 'Bob' }]]);
  remote.removeAll();
  assert.deepEqual(context.events.at(-1), ['peer-left', 'bob']);
  assert.equal(remote.peers.size, 0);
});

test('no request for the layers of an unknown consumer, nor a consume without a session', async () => {
  const context = recordingContext({ joined: true });
  const remote = new RemoteMedia(context);
  await remote.setPreferredLayers('c1', 2, 2);
  await remote.consume('bob', 'p1', false, 1);
  remote.setProducerPaused('p1', true);
  remote.drop('c1');
  assert.deepEqual(context.requests, []);
  assert.deepEqual(context.events, []);
  assert.equal(remote.preferredLayers.size, 0);
});

test('offered producers: the join list replaces what we knew; announcements, pauses and closes update it', () => {
  const remote = new RemoteMedia(recordingContext());
  remote.offer('old', 'gone-with-the-old-router', false);
  remote.setOffered({
    peerId: 'me',
    peers: [
      { peerId: 'me', producers: [{ id: 'mine' }] },
      { peerId: 'bob', producers: [{ id: 'b-mic', paused: true }] },
    ],
  });
  assert.deepEqual(remote.offeredList(), [{ peerId: 'bob', producerId: 'b-mic', paused: true }]);
  // Announced while our session is still opening (the call is not joined): kept all the same.
  remote.offer('bob', 'b-cam', false);
  remote.offer('eve', 'e-mic', false);
  remote.setProducerPaused('b-mic', false);
  remote.dropProducer('b-cam');
  remote.removePeer('eve');
  assert.deepEqual(remote.offeredList(), [{ peerId: 'bob', producerId: 'b-mic', paused: false }]);
  remote.withdraw('b-mic');
  assert.deepEqual(remote.offeredList(), []);
});
