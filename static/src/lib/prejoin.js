// The pre-join screen's media: open the microphone and camera for a preview, fill the device
// pickers, show a level meter for the microphone, and explain what is missing. The tracks it
// holds are handed to the call on join (no second permission prompt, no flash of black).

import { t } from './i18n.js';
import { MediaProblem, canChooseSpeaker, listDevices, openDevice, openDevices } from './media.js';

const STORAGE_KEY = 'conference.devices';

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}');
  } catch {
    return {};
  }
}

function remember(kind, deviceId) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ ...remembered(), [kind]: deviceId }));
  } catch {
    /* private mode: not remembered */
  }
}

export class DevicePanel {
  /**
   * @param {object} elements
   * @param {HTMLSelectElement} elements.mic
   * @param {HTMLSelectElement} elements.camera
   * @param {HTMLSelectElement} elements.speaker
   * @param {HTMLElement} elements.speakerField
   * @param {HTMLElement} elements.problems the alert region for device problems.
   */
  constructor({ mic, camera, speaker, speakerField, problems }) {
    this.selects = { audioinput: mic, videoinput: camera, audiooutput: speaker };
    this.speakerField = speakerField;
    this.problemsNode = problems;
    this.problems = { audio: null, video: null };
    this.available = { audioinput: 0, videoinput: 0, audiooutput: 0 };
    this.onChange = null; // (kind, deviceId) => void, set by the page
    for (const [kind, select] of Object.entries(this.selects)) {
      select.addEventListener('change', () => {
        remember(kind, select.value);
        this.onChange?.(kind, select.value);
      });
    }
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.refresh());
  }

  /** The chosen device id for an input kind ('' for the default). */
  selected(kind) {
    return this.selects[kind].value || remembered()[kind] || '';
  }

  /** Open a device of `kind` ('audio' or 'video') with the chosen id; record any problem. */
  async open(kind) {
    const selectKind = kind === 'audio' ? 'audioinput' : 'videoinput';
    const result = await openDevice(kind, this.selected(selectKind));
    this.setProblem(kind, result.problem ?? null);
    if (result.track) {
      // The browser may have picked another device than asked (the default): show it.
      const deviceId = result.track.getSettings?.().deviceId;
      if (deviceId) this._select(selectKind, deviceId);
    }
    return result.track ?? null;
  }

  /** Open microphone and camera together (one prompt); record problems; {audio, video}. */
  async openBoth() {
    const result = await openDevices(this.selected('audioinput'), this.selected('videoinput'));
    this.problems = { ...result.problems };
    this._render();
    return { audio: result.audio, video: result.video };
  }

  /** Re-read the device lists (labels appear once permission is granted). */
  async refresh() {
    let devices;
    try {
      devices = await listDevices();
    } catch {
      return;
    }
    const saved = remembered();
    for (const [kind, select] of Object.entries(this.selects)) {
      const list = devices[kind];
      this.available[kind] = list.length;
      const current = select.value || saved[kind] || '';
      select.replaceChildren();
      if (!list.length) {
        select.append(new Option(t('device.none'), ''));
        select.disabled = true;
        continue;
      }
      select.disabled = false;
      list.forEach((device, index) => {
        const label = device.label || t('device.unnamed', { n: index + 1 });
        select.append(new Option(label, device.deviceId));
      });
      if (current && list.some((d) => d.deviceId === current)) select.value = current;
    }
    this.speakerField.hidden = !(canChooseSpeaker() && this.available.audiooutput > 0);
    this._render();
  }

  setProblem(kind, problem) {
    this.problems[kind] = problem;
    this._render();
  }

  _select(kind, deviceId) {
    const select = this.selects[kind];
    if ([...select.options].some((o) => o.value === deviceId)) select.value = deviceId;
  }

  _render() {
    const lines = [];
    for (const kind of ['audio', 'video']) {
      const problem = this.problems[kind];
      if (problem) lines.push(t(`media.${problem}.${kind}`));
    }
    if (this.problems.audio && this.problems.video) lines.push(t('media.listenOnly'));
    this.problemsNode.replaceChildren(
      ...lines.map((text) => {
        const p = document.createElement('p');
        p.className = 'alert alert--warning';
        p.textContent = text;
        return p;
      }),
    );
  }
}

/** A microphone level meter: scales `bar` with the track's loudness until stopped. */
export function startLevelMeter(track, bar) {
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;
  if (!AudioContextClass || !track) return () => {};
  const context = new AudioContextClass();
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let frame = 0;
  const tick = () => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const value of samples) sum += value * value;
    const rms = Math.sqrt(sum / samples.length);
    bar.style.setProperty('--level', Math.min(1, rms * 4).toFixed(3));
    frame = requestAnimationFrame(tick);
  };
  context.resume().catch(() => {});
  tick();
  return () => {
    cancelAnimationFrame(frame);
    source.disconnect();
    context.close().catch(() => {});
    bar.style.setProperty('--level', '0');
  };
}

export { MediaProblem };
