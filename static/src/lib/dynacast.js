// What we send, as the network and the others need it: sender priorities (our voice before our
// video when the uplink is thin) and dynacast (only the camera layers somebody receives).
//
// Dynacast: the server adds up what every receiver of our camera prefers and tells us the
// highest spatial layer anybody wants (rtc:producerLayers {producerId, maxSpatialLayer}); the
// encoder then stops the layers above it (mediasoup-client's setMaxSpatialLayer: the
// RTCRtpSender's encodings get active=false, and the local SDP follows), so a meeting where
// everyone watches thumbnails sends no 720p layer. Layers below it stay on, so a receiver whose
// bandwidth drops gets a lower one at once. A wish that arrives before its producer exists here
// (the reply to rtc:produce is still on its way) is kept and applied when it appears.

/** Encoding priorities by source: `priority` weighs the browser's own bitrate allocation
 * between our senders, `networkPriority` marks the packets (DSCP) for the network. */
export const SENDER_PRIORITY = Object.freeze({
  mic: { priority: 'high', networkPriority: 'high' },
  'screen-audio': { priority: 'high', networkPriority: 'high' },
  screen: { priority: 'medium', networkPriority: 'medium' },
  webcam: { priority: 'low', networkPriority: 'low' },
});

/** Give `producer` the priorities of `source` on its RTCRtpSender (no renegotiation is
 * needed for these); a browser that refuses them keeps its defaults. */
export async function prioritize(producer, source) {
  const wanted = SENDER_PRIORITY[source];
  const sender = producer?.rtpSender;
  if (!wanted || !sender || producer.closed) return;
  try {
    const parameters = sender.getParameters();
    if (!parameters.encodings?.length) return;
    for (const encoding of parameters.encodings) Object.assign(encoding, wanted);
    await sender.setParameters(parameters);
  } catch (error) {
    console.warn(`sender priority of ${source} not applied`, error);
  }
}

/** Whether `producer` sends several encodings (simulcast) that can be switched one by one. */
export function isSimulcast(producer) {
  return producer?.kind === 'video' && (producer.rtpParameters?.encodings?.length ?? 0) > 1;
}

export class SenderLayers {
  constructor() {
    /** producerId -> the highest spatial layer the server says anybody receives. */
    this.wanted = new Map();
  }

  /** rtc:producerLayers: remember the wish; apply it to `producers` (ours) if one matches. */
  async update({ producerId, maxSpatialLayer }, producers) {
    if (typeof producerId !== 'string' || !Number.isInteger(maxSpatialLayer)) return;
    this.wanted.set(producerId, maxSpatialLayer);
    const producer = [...producers].find((p) => p?.id === producerId);
    if (producer) await this.apply(producer);
  }

  /** Apply the wish for `producer`, if any (a new producer, or a wish that came early). */
  async apply(producer) {
    const max = this.wanted.get(producer?.id);
    if (max === undefined || producer.closed || !isSimulcast(producer)) return;
    if (producer.maxSpatialLayer === max) return;
    try {
      await producer.setMaxSpatialLayer(max);
    } catch (error) {
      console.warn('setMaxSpatialLayer failed', error);
    }
  }

  /** Apply every kept wish to `producers` (after ours changed). */
  async sync(producers) {
    await Promise.all([...producers].filter(Boolean).map((p) => this.apply(p)));
  }

  /** Our producers are gone (the media session closed): so are the wishes about them. */
  clear() {
    this.wanted.clear();
  }

  /** producerId -> maxSpatialLayer, for tests and the debug hooks. */
  snapshot() {
    return Object.fromEntries(this.wanted);
  }
}
