// Local media: opening the microphone and camera, listing devices, and telling the user in
// plain words why a device could not be opened (permission denied, no such device, busy).

/** Why a device could not be opened; the page maps each to a translated message. */
export const MediaProblem = Object.freeze({
  DENIED: 'denied',
  NOT_FOUND: 'not-found',
  IN_USE: 'in-use',
  INSECURE: 'insecure',
  OTHER: 'other',
});

/** Map a getUserMedia/getDisplayMedia error to a MediaProblem. */
export function classifyMediaError(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return MediaProblem.DENIED;
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return MediaProblem.NOT_FOUND;
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return MediaProblem.IN_USE;
    case 'TypeError':
      return navigator.mediaDevices ? MediaProblem.OTHER : MediaProblem.INSECURE;
    default:
      return MediaProblem.OTHER;
  }
}

/** Constraints for the microphone, optionally a given device. */
export function audioConstraints(deviceId) {
  return {
    ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    echoCancellation: true,
    noiseSuppression: true,
    autoGainControl: true,
  };
}

/** Constraints for the camera: 640x480 is enough for a grid tile and the top simulcast layer. */
export function videoConstraints(deviceId) {
  return {
    ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
    width: { ideal: 1280 },
    height: { ideal: 720 },
    frameRate: { ideal: 24, max: 30 },
  };
}

/**
 * Open one kind of device; resolves to {track} or {problem}, never rejects, so the page can
 * go on with what works (audio only, video only, or nothing but listening).
 */
export async function openDevice(kind, deviceId) {
  if (!navigator.mediaDevices?.getUserMedia) return { problem: MediaProblem.INSECURE };
  const constraints =
    kind === 'audio' ? { audio: audioConstraints(deviceId) } : { video: videoConstraints(deviceId) };
  try {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const [track] = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
    return track ? { track } : { problem: MediaProblem.NOT_FOUND };
  } catch (error) {
    // A remembered device that went away: fall back to the default one.
    if (deviceId && (error?.name === 'OverconstrainedError' || error?.name === 'NotFoundError')) {
      return openDevice(kind, undefined);
    }
    return { problem: classifyMediaError(error), error };
  }
}

/**
 * Open microphone and camera with one permission prompt; if that fails, each on its own, so
 * the page can say which one is missing. Resolves to {audio, video, problems: {audio, video}}.
 */
export async function openDevices(audioId, videoId) {
  if (!navigator.mediaDevices?.getUserMedia) {
    return { audio: null, video: null, problems: { audio: MediaProblem.INSECURE, video: MediaProblem.INSECURE } };
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: audioConstraints(audioId),
      video: videoConstraints(videoId),
    });
    const [audio] = stream.getAudioTracks();
    const [video] = stream.getVideoTracks();
    if (audio && video) return { audio, video, problems: { audio: null, video: null } };
    for (const track of stream.getTracks()) track.stop();
  } catch {
    /* find out which one below */
  }
  const [a, v] = [await openDevice('audio', audioId), await openDevice('video', videoId)];
  return {
    audio: a.track ?? null,
    video: v.track ?? null,
    problems: { audio: a.problem ?? null, video: v.problem ?? null },
  };
}

/** Inputs and outputs by kind: {audioinput: [...], videoinput: [...], audiooutput: [...]}. */
export async function listDevices() {
  const result = { audioinput: [], videoinput: [], audiooutput: [] };
  if (!navigator.mediaDevices?.enumerateDevices) return result;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const device of devices) {
    if (result[device.kind] && device.deviceId) result[device.kind].push(device);
  }
  return result;
}

/** Whether the browser can share a screen (phones usually cannot). */
export const canShareScreen = () => Boolean(navigator.mediaDevices?.getDisplayMedia);

/** Ask for a screen, window or tab; resolves to {track} or {problem} (cancel is DENIED). */
export async function openScreen() {
  if (!canShareScreen()) return { problem: MediaProblem.NOT_FOUND };
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({
      video: { frameRate: { ideal: 15, max: 30 } },
      audio: false,
    });
    const [track] = stream.getVideoTracks();
    return track ? { track } : { problem: MediaProblem.NOT_FOUND };
  } catch (error) {
    return { problem: classifyMediaError(error), error };
  }
}

/** Whether an output device can be chosen for <audio> elements. */
export const canChooseSpeaker = () =>
  typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
