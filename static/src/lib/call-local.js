// What we send: our microphone, camera and screen tracks, and the producers that carry them.
// Tracks outlive media sessions (a rebuilt session produces them again); a producer belongs to
// one session. Part of the call controller (call-controller.js), which gives it a CallContext and tells it
// when to produce; it reports through the controller's events: local-changed (a summary by
// source) and muted-by-host.

import { SOURCES, StaleGeneration, isQuiet } from './call-rejoin.js';

/**
 * What the parts of a call share, handed to them by the controller.
 * @typedef {object} CallContext
 * @property {() => import('./media-session.js').MediaSession|null} session the current one.
 * @property {() => number} generation the current connection attempt.
 * @property {() => boolean} joined whether the call is in the joined state.
 * @property {(type: string, data?: object) => Promise<object>} request a signaling request.
 * @property {(name: string, ...args: unknown[]) => void} emit one of the controller's events.
 */

export class LocalSources {
  /** @param {CallContext} context */
  constructor(context) {
    this.context = context;
    /** Our media by source: {track, producer, paused}, or null when that source is off. */
    this.entries = { mic: null, webcam: null, screen: null };
  }

  /** The tracks we join with (either may be null). Nothing is produced or emitted yet. */
  start({ audioTrack = null, videoTrack = null, micMuted = false }) {
    if (audioTrack) this.entries.mic = { track: audioTrack, producer: null, paused: micMuted };
    if (videoTrack) this.entries.webcam = { track: videoTrack, producer: null, paused: false };
  }

  /** Mute or unmute the microphone (the producer pauses on both ends). */
  async setMicMuted(muted) {
    const mic = this.entries.mic;
    if (!mic) return;
    mic.paused = muted;
    const producer = mic.producer;
    this.emitChanged();
    if (producer && !producer.closed) {
      if (muted) producer.pause();
      else producer.resume();
      await this.context.request(muted ? 'rtc:pauseProducer' : 'rtc:resumeProducer', { producerId: producer.id });
    }
  }

  /**
   * Turn `source` off (its producer closes, its track stops) and, with a `track`, on again:
   * produced at once when joined, else by the next (re)join.
   */
  async set(source, track) {
    const entry = this.entries[source];
    if (entry) {
      this.entries[source] = null;
      const producer = entry.producer;
      if (entry.track !== track) entry.track?.stop();
      this.emitChanged();
      if (producer && !producer.closed) {
        producer.close();
        if (this.context.joined()) {
          await this.context.request('rtc:closeProducer', { producerId: producer.id }).catch((e) => {
            if (!isQuiet(e)) console.warn(e);
          });
        }
      }
    }
    if (track) {
      const created = { track, producer: null, paused: false };
      this.entries[source] = created;
      this.emitChanged();
      if (this.context.joined()) await this.produce(source, created, this.context.generation());
    }
  }

  /** Switch the mic or camera to another device's track, without renegotiation. */
  async replaceTrack(source, track) {
    const entry = this.entries[source];
    if (!entry) {
      track.stop();
      return;
    }
    const old = entry.track;
    entry.track = track;
    if (entry.producer && !entry.producer.closed) await entry.producer.replaceTrack({ track });
    if (old && old !== track) old.stop();
    this.emitChanged();
  }

  /**
   * Send `entry` (still this.entries[source]) on the current session; throws StaleGeneration,
   * after closing the new producer, if the attempt, the entry or the session changed meanwhile.
   */
  async produce(source, entry, generation) {
    const { context } = this;
    if (!context.session() || this.entries[source] !== entry) return;
    const session = context.session();
    const producer = await session.produce(source, entry.track, { paused: source === 'mic' && entry.paused });
    if (!producer) return;
    if (generation !== context.generation() || this.entries[source] !== entry || session !== context.session()) {
      producer.close();
      if (context.joined() && session === context.session()) {
        context.request('rtc:closeProducer', { producerId: producer.id }).catch(() => {});
      }
      throw new StaleGeneration();
    }
    entry.producer = producer;
    producer.on('trackended', () => {
      // The device went away, or the user stopped sharing from the browser's own bar.
      if (this.entries[source] === entry) this.set(source, null).catch((e) => console.warn(e));
    });
    this.emitChanged();
  }

  /** The host paused or resumed one of our producers: follow it if it is the microphone. */
  hostPaused(producerId, paused) {
    const mic = this.entries.mic;
    if (mic?.producer?.id !== producerId) return;
    if (paused && !mic.paused) this.context.emit('muted-by-host', { producerId });
    mic.paused = paused;
    if (paused) mic.producer.pause();
    else mic.producer.resume();
    this.emitChanged();
  }

  /** The session closed: our producers went with it; the tracks stay for the next one. */
  forgetProducers() {
    for (const entry of Object.values(this.entries)) if (entry) entry.producer = null;
  }

  /** Stop every track and turn every source off (leaving). */
  stopAll() {
    for (const source of SOURCES) {
      this.entries[source]?.track?.stop();
      this.entries[source] = null;
    }
  }

  /** Emit local-changed: by source, {on, paused, producing, track}. */
  emitChanged() {
    const summary = {};
    for (const source of SOURCES) {
      const entry = this.entries[source];
      summary[source] = entry
        ? { on: true, paused: entry.paused, producing: Boolean(entry.producer && !entry.producer.closed), track: entry.track }
        : { on: false, paused: false, producing: false, track: null };
    }
    this.context.emit('local-changed', summary);
  }
}
