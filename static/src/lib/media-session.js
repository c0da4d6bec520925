// One router's worth of mediasoup-client state: a Device loaded with the router's
// capabilities, a send and a receive transport, and the producers and consumers on them.
// The call controller makes a new MediaSession whenever the server's media objects are gone
// (first join, a resume the server could not honour, a worker restart) and keeps the old one
// when a resumed peer still has its transports.
//
// Wire protocol (rtc/signaling/PROTOCOL.md): rtc:createTransport, rtc:connectTransport,
// rtc:produce, rtc:consume, rtc:resumeConsumer, rtc:restartIce.

import { Device, parseScalabilityMode } from 'mediasoup-client';
import { prioritize } from './dynacast.js';

// Simulcast for the camera: three spatial layers of three temporal layers each, so a
// receiver's small tile gets the small layer (see rtc:setPreferredLayers).
const WEBCAM_SIMULCAST = [
  { scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { scaleResolutionDownBy: 1, maxBitrate: 1_200_000, scalabilityMode: 'L1T3' },
];
const WEBCAM_SVC = [{ scalabilityMode: 'L3T3_KEY', maxBitrate: 1_500_000 }];
const SCREEN_ENCODINGS = [{ maxBitrate: 1_500_000, scalabilityMode: 'L1T3' }];

/** Encodings for the camera: SVC when the first video codec is VP9, simulcast for VP8/H264. */
export function webcamEncodings(rtpCapabilities) {
  const codec = rtpCapabilities.codecs?.find((c) => c.kind === 'video');
  const mime = codec?.mimeType?.toLowerCase();
  if (mime === 'video/vp9') return WEBCAM_SVC;
  if (mime === 'video/vp8' || mime === 'video/h264') return WEBCAM_SIMULCAST;
  return undefined;
}

/** Spatial and temporal layer counts of a consumer (1 and 1 without simulcast/SVC). */
export function consumerLayers(consumer) {
  const mode = consumer.rtpParameters?.encodings?.[0]?.scalabilityMode;
  const { spatialLayers, temporalLayers } = parseScalabilityMode(mode);
  return { spatialLayers, temporalLayers };
}

/** The device description sent with rtc:join (strings of at most 64 characters). */
export function describeDevice() {
  let handler = 'unknown';
  try {
    handler = new Device().handlerName;
  } catch {
    /* unsupported browser: the join will fail with a clear error later */
  }
  const brand = navigator.userAgentData?.brands?.find((b) => !/not.?a.?brand/i.test(b.brand));
  return {
    flag: 'browser',
    name: (brand?.brand ?? 'browser').slice(0, 64),
    version: String(brand?.version ?? '').slice(0, 64),
    handler: handler.slice(0, 64),
  };
}

export class MediaSession {
  /**
   * @param {object} options
   * @param {(type: string, data: object) => Promise<object>} options.request signaling request.
   * @param {(direction: string, state: string) => void} options.onTransportState
   * @param {RTCIceServer[]} [options.iceServers] TURN servers from rtc:joined (short-lived).
   */
  constructor({ request, onTransportState, iceServers = [] }) {
    this.request = request;
    this.iceServers = iceServers;
    this.onTransportState = onTransportState;
    this.device = null;
    this.sendTransport = null;
    this.recvTransport = null;
    this.closed = false;
  }

  /** Load the router's capabilities and create both transports. */
  async open(routerRtpCapabilities) {
    this.device = new Device();
    await this.device.load({ routerRtpCapabilities });
    const canSend = this.device.canProduce('audio') || this.device.canProduce('video');
    const [send, recv] = await Promise.all([
      canSend ? this._createTransport('send') : null,
      this._createTransport('recv'),
    ]);
    if (this.closed) {
      send?.close();
      recv.close();
      throw new Error('media session closed while opening');
    }
    this.sendTransport = send;
    this.recvTransport = recv;
  }

  /** The ids of our transports, to compare with what a resumed peer still has on the server. */
  transportIds() {
    return [this.sendTransport?.id, this.recvTransport?.id].filter(Boolean);
  }

  get rtpCapabilities() {
    return this.device.rtpCapabilities;
  }

  async _createTransport(direction) {
    const info = await this.request('rtc:createTransport', { direction });
    const options = {
      id: info.id,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates,
      dtlsParameters: info.dtlsParameters,
      sctpParameters: info.sctpParameters ?? undefined,
      iceServers: this.iceServers,
    };
    const transport =
      direction === 'send'
        ? this.device.createSendTransport(options)
        : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.request('rtc:connectTransport', { transportId: transport.id, dtlsParameters })
        .then(() => callback())
        .catch(errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        // mediasoup-client 3.2x adds `msid`, which the 3.16 worker's RtpParameters lack.
        const { msid, ...parameters } = rtpParameters;
        const { startPaused, ...labels } = appData;
        this.request('rtc:produce', {
          transportId: transport.id,
          kind,
          rtpParameters: parameters,
          appData: labels,
          paused: Boolean(startPaused),
        })
          .then(({ id }) => callback({ id }))
          .catch(errback);
      });
    }
    transport.on('connectionstatechange', (state) => this.onTransportState(direction, state));
    return transport;
  }

  /** Ask the server for new ICE parameters of one transport and apply them. */
  async restartIce(transport) {
    const { iceParameters } = await this.request('rtc:restartIce', { transportId: transport.id });
    if (!transport.closed) await transport.restartIce({ iceParameters });
  }

  /** Send `track` as `source` (mic, webcam, screen); resolves to the Producer. */
  async produce(source, track, { paused = false } = {}) {
    if (!this.sendTransport || !this.device.canProduce(track.kind)) return null;
    const options = { track, stopTracks: false, appData: { source, startPaused: paused } };
    if (source === 'webcam') {
      options.encodings = webcamEncodings(this.device.rtpCapabilities);
      options.codecOptions = { videoGoogleStartBitrate: 1000 };
    } else if (source === 'screen') {
      options.encodings = SCREEN_ENCODINGS;
      if ('contentHint' in track) track.contentHint = 'detail';
    } else if (source === 'mic') {
      options.codecOptions = { opusStereo: false, opusDtx: true, opusFec: true };
    }
    let producer;
    try {
      producer = await this.sendTransport.produce(options);
    } catch (error) {
      if (!options.encodings || this.closed) throw error;
      // Some browsers refuse a layered encoding: send a single stream instead.
      console.warn(`produce ${source} with layers failed, retrying without`, error);
      producer = await this.sendTransport.produce({ ...options, encodings: undefined });
    }
    if (paused) producer.pause();
    await prioritize(producer, source);
    return producer;
  }

  /** Receive `producerId` of `peerId`; resolves to {consumer, reply} (already resumed). */
  async consume(peerId, producerId) {
    const reply = await this.request('rtc:consume', {
      transportId: this.recvTransport.id,
      producerId,
      rtpCapabilities: this.device.rtpCapabilities,
    });
    const source = reply.appData?.source ?? (reply.kind === 'audio' ? 'mic' : 'webcam');
    const consumer = await this.recvTransport.consume({
      id: reply.id,
      producerId: reply.producerId,
      kind: reply.kind,
      rtpParameters: reply.rtpParameters,
      streamId: `${peerId}-${source}`,
      appData: { peerId, source },
    });
    if (this.closed) {
      consumer.close();
      throw new Error('media session closed while consuming');
    }
    return { consumer, reply, source };
  }

  /** Bytes received and sent so far by kind, from the RTCPeerConnections' stats. */
  async stats(consumerPeers) {
    const result = { inbound: { audio: 0, video: 0 }, outbound: { audio: 0, video: 0 }, inboundByPeer: {} };
    if (this.recvTransport && !this.recvTransport.closed) {
      const report = await this.recvTransport.getStats();
      report.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        const kind = s.kind ?? s.mediaType;
        const bytes = s.bytesReceived ?? 0;
        result.inbound[kind] = (result.inbound[kind] ?? 0) + bytes;
        const peerId = consumerPeers.get(s.trackIdentifier);
        if (peerId) {
          const peer = (result.inboundByPeer[peerId] ??= { audio: 0, video: 0 });
          peer[kind] = (peer[kind] ?? 0) + bytes;
        }
      });
    }
    if (this.sendTransport && !this.sendTransport.closed) {
      const report = await this.sendTransport.getStats();
      report.forEach((s) => {
        if (s.type !== 'outbound-rtp') return;
        const kind = s.kind ?? s.mediaType;
        result.outbound[kind] = (result.outbound[kind] ?? 0) + (s.bytesSent ?? 0);
      });
    }
    return result;
  }

  /** Close both transports locally (their producers and consumers with them); idempotent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.sendTransport?.close();
    this.recvTransport?.close();
  }
}
