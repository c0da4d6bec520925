// What the call page's connection badge says, as pure functions of the socket's and the call's
// states (static/src/call.js shows the result and reads it out through the status region).

import { CallState } from './call-controller.js';
import { CloseCode, SocketState } from './signaling.js';

/** Close codes after which rejoining by hand makes sense; other refusals would only repeat. */
const REJOINABLE = new Set([
  CloseCode.UNAUTHENTICATED, CloseCode.FULL, CloseCode.TOO_MANY_REQUESTS, CloseCode.TOO_MANY_SOCKETS,
]);

/**
 * The badge for the page's current state: {state, key, params} (state is the badge's
 * data-state: connecting, connected, reconnecting or failed; key and params the string to
 * show), or null when the badge stays as it is (before joining, after leaving).
 *
 * @param {object} status
 * @param {string} [status.socket] the SignalingClient's state (SocketState).
 * @param {string} [status.call] the CallController's state (CallState).
 * @param {boolean} [status.restarting] the server said it is stopping (4503 or rtc:reconnect).
 * @param {number} [status.attempt] the signaling client's reconnection attempt.
 * @param {Record<string, string>} [status.transportStates] connection state by direction.
 */
export function connectionStatus({ socket, call, restarting = false, attempt = 0, transportStates = {} }) {
  if (socket === SocketState.RECONNECTING || call === CallState.RECONNECTING) {
    if (restarting) return { state: 'reconnecting', key: 'state.serverRestarting' };
    if (attempt > 1) return { state: 'reconnecting', key: 'state.reconnectingAttempt', params: { attempt } };
    return { state: 'reconnecting', key: 'state.reconnecting' };
  }
  if (socket === SocketState.CONNECTING || call === CallState.JOINING) {
    return { state: 'connecting', key: socket === SocketState.CONNECTING ? 'state.connecting' : 'state.joining' };
  }
  if (call === CallState.JOINED) {
    const states = Object.values(transportStates);
    const up = (s) => s === 'connected' || s === 'completed';
    if (states.includes('failed')) return { state: 'reconnecting', key: 'state.mediaFailed' };
    if (states.length && states.every((s) => up(s) || s === 'new') && states.some(up)) {
      return { state: 'connected', key: 'state.joined' };
    }
    if (states.some((s) => s === 'connecting' || s === 'disconnected')) {
      return { state: 'connecting', key: 'state.mediaConnecting' };
    }
    return { state: 'connected', key: 'state.joined' };
  }
  if (call === CallState.FAILED) return { state: 'failed', key: 'state.failed' };
  return null;
}

/** After the server refused us with `code`: the string key and whether to offer "Rejoin". */
export function refusal(code) {
  return { key: `refused.${code}`, canRejoin: REJOINABLE.has(code) };
}
