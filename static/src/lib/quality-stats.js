// How the call is doing, read from the RTCPeerConnections' own statistics (getStats): per
// received track the resolution, bitrate counters, freezes and, for audio, the concealment that
// covers lost packets; per sent camera layer (rid) whether it is encoded, at what size, and why
// the browser limits it. The page's debug hooks expose it (window.conference.quality()), the
// browser tests and bench/quality.py read it.

const INBOUND_VIDEO = [
  'bytesReceived', 'packetsReceived', 'packetsLost', 'framesDecoded', 'framesDropped',
  'frameWidth', 'frameHeight', 'framesPerSecond', 'freezeCount', 'totalFreezesDuration',
  'pauseCount', 'totalPausesDuration', 'keyFramesDecoded', 'nackCount', 'pliCount',
];
const INBOUND_AUDIO = [
  'bytesReceived', 'packetsReceived', 'packetsLost', 'totalSamplesReceived', 'concealedSamples',
  'silentConcealedSamples', 'concealmentEvents', 'insertedSamplesForDeceleration',
  'removedSamplesForAcceleration', 'totalAudioEnergy', 'jitterBufferDelay', 'jitterBufferEmittedCount',
];
const OUTBOUND = [
  'rid', 'active', 'bytesSent', 'packetsSent', 'framesEncoded', 'frameWidth', 'frameHeight',
  'framesPerSecond', 'targetBitrate', 'qualityLimitationReason', 'scalabilityMode',
];

function pick(stat, keys) {
  const out = {};
  for (const key of keys) if (stat[key] !== undefined) out[key] = stat[key];
  return out;
}

/** The selected candidate pair of a report: round-trip time and the bandwidth estimates. */
function transportOf(report) {
  let pair = null;
  report.forEach((s) => {
    if (s.type === 'candidate-pair' && (s.nominated || s.selected) && s.state === 'succeeded') pair = s;
  });
  if (!pair) return null;
  return pick(pair, ['currentRoundTripTime', 'availableOutgoingBitrate', 'availableIncomingBitrate', 'bytesReceived', 'bytesSent']);
}

/**
 * @param {import('./media-session.js').MediaSession|null} session
 * @param {Map<string, {consumer: object, peerId: string, kind: string, source: string}>} consumers
 * @param {Record<string, {producer: object}|null>} local our sources (call-local.js entries)
 * @returns {Promise<{inbound: object[], outbound: object[], recv: object|null, send: object|null}>}
 */
export async function qualityStats(session, consumers, local) {
  const result = { inbound: [], outbound: [], recv: null, send: null };
  if (!session) return result;
  if (session.recvTransport && !session.recvTransport.closed) {
    const byTrack = new Map();
    for (const [consumerId, info] of consumers) {
      byTrack.set(info.consumer.track?.id, { consumerId, peerId: info.peerId, source: info.source });
    }
    const report = await session.recvTransport.getStats();
    result.recv = transportOf(report);
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      const kind = s.kind ?? s.mediaType;
      const owner = byTrack.get(s.trackIdentifier) ?? {};
      result.inbound.push({ kind, ...owner, ...pick(s, kind === 'video' ? INBOUND_VIDEO : INBOUND_AUDIO) });
    });
  }
  if (session.sendTransport && !session.sendTransport.closed) {
    const report = await session.sendTransport.getStats();
    result.send = transportOf(report);
    const sources = new Map();
    for (const [source, entry] of Object.entries(local)) {
      const track = entry?.producer?.track;
      if (track) sources.set(track.id, { source, producerId: entry.producer.id });
    }
    const mediaSources = new Map();
    report.forEach((s) => {
      if (s.type === 'media-source') mediaSources.set(s.id, s.trackIdentifier);
    });
    report.forEach((s) => {
      if (s.type !== 'outbound-rtp') return;
      const kind = s.kind ?? s.mediaType;
      const owner = sources.get(mediaSources.get(s.mediaSourceId)) ?? {};
      result.outbound.push({ kind, ...owner, ...pick(s, OUTBOUND) });
    });
  }
  return result;
}
