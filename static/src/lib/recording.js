// The call's recording as the page shows it: whether the call is being recorded (everyone sees
// the indicator) and the host's Record / Stop recording button. State comes from rtc:joined
// (`recording`: {recordingId, startedAt} or null) and the events rtc:recordingStarted and
// rtc:recordingStopped; toggle() sends rtc:startRecording / rtc:stopRecording. No DOM here:
// the page renders on 'change'.

import { Emitter } from './emitter.js';

export class RecordingState extends Emitter {
  /** @param {(type: string, data?: object) => Promise<object>} request signaling request. */
  constructor(request) {
    super();
    this.request = request;
    this.current = null; // {recordingId, startedAt, startedBy?} while recording
    this.busy = false;
  }

  get active() {
    return this.current !== null;
  }

  /** The state rtc:joined reported (after every join or resume). */
  set(recording) {
    this._update(recording ? { ...recording } : null, null);
  }

  /** rtc:recordingStarted. */
  started(data) {
    this._update({ ...data }, 'started');
  }

  /** rtc:recordingStopped (only for the recording we know of, or any when we knew none). */
  stopped(data) {
    if (this.current && data?.recordingId && data.recordingId !== this.current.recordingId) return;
    this._update(null, 'stopped', data?.reason ?? 'stopped');
  }

  /** Start or stop (the host's button); the events update the state for everyone. */
  async toggle() {
    if (this.busy) return null;
    this.busy = true;
    this.emit('change', { active: this.active, busy: true });
    try {
      return await this.request(this.active ? 'rtc:stopRecording' : 'rtc:startRecording', {});
    } finally {
      this.busy = false;
      this.emit('change', { active: this.active, busy: false });
    }
  }

  _update(next, transition, reason = null) {
    const was = this.active;
    this.current = next;
    this.emit('change', { active: this.active, busy: this.busy });
    if (transition === 'started' && !was) this.emit('started', next);
    if (transition === 'stopped' && was) this.emit('stopped', reason);
  }
}
