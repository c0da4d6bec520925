// Unit tests of the sender side of dynacast and of sender priorities (node --test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SENDER_PRIORITY, SenderLayers, isSimulcast, prioritize } from '../src/lib/dynacast.js';

/** A mediasoup-client Producer as far as dynacast uses it. */
function producer(id, { kind = 'video', encodings = 3 } = {}) {
  return {
    id,
    kind,
    closed: false,
    maxSpatialLayer: undefined,
    rtpParameters: { encodings: Array.from({ length: encodings }, (_, i) => ({ rid: `r${i}` })) },
    calls: [],
    async setMaxSpatialLayer(layer) {
      this.calls.push(layer);
      this.maxSpatialLayer = layer;
    },
    rtpSender: {
      encodings: Array.from({ length: encodings }, () => ({ active: true })),
      getParameters() {
        return { encodings: this.encodings.map((e) => ({ ...e })) };
      },
      async setParameters(parameters) {
        this.encodings = parameters.encodings;
      },
    },
  };
}

test('a wish for one of our producers switches its layers at once, once', async () => {
  const layers = new SenderLayers();
  const camera = producer('cam');
  await layers.update({ producerId: 'cam', maxSpatialLayer: 1 }, [camera]);
  await layers.update({ producerId: 'cam', maxSpatialLayer: 1 }, [camera]);
  assert.deepEqual(camera.calls, [1]);
  await layers.update({ producerId: 'cam', maxSpatialLayer: 2 }, [camera]);
  assert.deepEqual(camera.calls, [1, 2]);
  assert.deepEqual(layers.snapshot(), { cam: 2 });
});

test('a wish that arrives before its producer is applied when the producer appears', async () => {
  const layers = new SenderLayers();
  await layers.update({ producerId: 'late', maxSpatialLayer: 0 }, []);
  const camera = producer('late');
  await layers.sync([null, camera]);
  assert.deepEqual(camera.calls, [0]);
  layers.clear();
  assert.deepEqual(layers.snapshot(), {});
});

test('audio, single-stream video, closed producers and malformed wishes are left alone', async () => {
  const layers = new SenderLayers();
  const mic = producer('mic', { kind: 'audio', encodings: 1 });
  const screen = producer('screen', { encodings: 1 });
  const closed = Object.assign(producer('gone'), { closed: true });
  for (const p of [mic, screen, closed]) await layers.update({ producerId: p.id, maxSpatialLayer: 0 }, [p]);
  await layers.update({ producerId: 'x', maxSpatialLayer: 'high' }, []);
  assert.deepEqual([mic.calls, screen.calls, closed.calls], [[], [], []]);
  assert.equal(isSimulcast(mic), false);
  assert.equal(isSimulcast(producer('cam')), true);
  assert.equal('x' in layers.snapshot(), false);
});

test('our voice is sent with high priority, the camera with low', async () => {
  const mic = producer('mic', { kind: 'audio', encodings: 1 });
  const camera = producer('cam');
  await prioritize(mic, 'mic');
  await prioritize(camera, 'webcam');
  assert.deepEqual(mic.rtpSender.encodings, [{ active: true, priority: 'high', networkPriority: 'high' }]);
  assert.equal(camera.rtpSender.encodings.length, 3);
  for (const encoding of camera.rtpSender.encodings) assert.deepEqual(encoding, { active: true, ...SENDER_PRIORITY.webcam });
  // A browser without the API keeps its defaults; nothing throws.
  await prioritize({ closed: false }, 'mic');
  await prioritize({ closed: false, rtpSender: { getParameters: () => { throw new Error('no'); } } }, 'mic');
});
