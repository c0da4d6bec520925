// The meeting WebSocket as the call page sees it: requests with a requestId whose reply (or
// error) resolves (or rejects) a promise, a timeout on every request, events by type, and
// automatic reconnection with exponential backoff when the socket drops.
//
// Wire format (rtc/signaling/PROTOCOL.md): a request is {type, requestId, data}; its reply carries the same
// requestId and either `data` or `error` (a short message, with a machine-readable `code`);
// an event is {type, data}. The client does not know what a reconnection means for the call:
// it emits "open" with {reconnected: true} and the call controller rejoins.
//
// Close codes (rtc/websocket/envelope.py CloseCode, rtc/signaling/PROTOCOL.md). We close with 1000 when
// we are done (after rtc:leave) and with RECONNECT_CLOSE_CODE when we drop a socket to open
// another, so the server can tell a leave from a reconnection. The server's own codes are
// sorted by closeKind(): refusals (4400-4499: not signed in, not allowed, not found, full,
// meeting ended, flooding) end the connection for good; 4503 (server stopping) and anything
// else reconnect with backoff.

import { Emitter } from './emitter.js';
import { ServerCloseCode } from './protocol-codes.js';

/** States, in the order a healthy connection goes through them. */
export const SocketState = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting',
  OPEN: 'open',
  RECONNECTING: 'reconnecting',
  CLOSED: 'closed',
});

/** A request that failed: the server's error reply, a timeout, or a lost connection. */
export class SignalingError extends Error {
  constructor(message, code = 'error', type = undefined) {
    super(message);
    this.name = 'SignalingError';
    this.code = code;
    this.type = type;
  }
}

/** The server's close codes (generated from rtc/websocket/envelope.py CloseCode), and ours: 1000. */
export const CloseCode = Object.freeze({ NORMAL: 1000, ...ServerCloseCode });

/** What we close with when we drop a socket only to open another (not a leave). */
export const RECONNECT_CLOSE_CODE = 4000;

/**
 * What a close code from the server means for the client:
 * - 'refused': for good (4400-4499: not signed in, not allowed, not found, full, ended,
 *   cut off for flooding); reconnecting would only be refused again, or flood again.
 * - 'restarting': the server is stopping (4503); a new server comes back, reconnect.
 * - 'lost': anything else (network drop 1006, ...): reconnect with backoff.
 */
export function closeKind(code) {
  if (code >= 4400 && code < 4500) return 'refused';
  if (code === CloseCode.SHUTTING_DOWN) return 'restarting';
  return 'lost';
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... up to `maxMs`, each ±20 %. */
export function backoffDelay(attempt, { initialMs = 500, maxMs = 10000, random = Math.random } = {}) {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** The error a reply carries, whatever shape the server gave it. */
function replyError(message) {
  const { error } = message;
  if (error && typeof error === 'object') {
    return new SignalingError(String(error.message ?? 'request failed'), error.code ?? 'error', message.type);
  }
  return new SignalingError(String(error), message.code ?? 'error', message.type);
}

export class SignalingClient extends Emitter {
  /**
   * @param {string} url ws:// or wss:// URL of the meeting WebSocket.
   * @param {object} [options]
   * @param {number} [options.requestTimeoutMs] how long a request waits for its reply.
   * @param {number} [options.initialBackoffMs] first reconnection delay.
   * @param {number} [options.maxBackoffMs] longest reconnection delay.
   */
  constructor(url, { requestTimeoutMs = 15000, initialBackoffMs = 500, maxBackoffMs = 10000 } = {}) {
    super();
    this.url = url;
    this.requestTimeoutMs = requestTimeoutMs;
    this.initialBackoffMs = initialBackoffMs;
    this.maxBackoffMs = maxBackoffMs;
    this.state = SocketState.IDLE;
    this.attempt = 0;
    this._socket = null;
    this._pending = new Map();
    this._nextId = 1;
    this._idPrefix = Math.random().toString(36).slice(2, 8);
    this._retryTimer = null;
    this._everOpened = false;
    this._onOnline = () => {
      if (this.state === SocketState.RECONNECTING) this._retryNow();
    };
  }

  /** Open the socket; resolves on the first open, rejects if the server refuses for good. */
  connect() {
    if (this.state !== SocketState.IDLE) throw new Error('connect() was already called');
    window.addEventListener('online', this._onOnline);
    return new Promise((resolve, reject) => {
      const offOpen = this.on('open', () => {
        offOpen();
        offRefused();
        resolve();
      });
      const offRefused = this.on('refused', (info) => {
        offOpen();
        offRefused();
        reject(new SignalingError(info.reason || 'connection refused', 'refused'));
      });
      this._open();
    });
  }

  /** Send a request and wait for its reply's data; rejects with SignalingError. */
  request(type, data = {}, { timeoutMs = this.requestTimeoutMs } = {}) {
    if (this.state !== SocketState.OPEN) {
      return Promise.reject(new SignalingError('not connected', 'disconnected', type));
    }
    const requestId = `${this._idPrefix}-${this._nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(requestId);
        reject(new SignalingError(`${type} timed out`, 'timeout', type));
      }, timeoutMs);
      this._pending.set(requestId, { resolve, reject, timer, type });
      try {
        this._socket.send(JSON.stringify({ type, requestId, data }));
      } catch (error) {
        clearTimeout(timer);
        this._pending.delete(requestId);
        reject(new SignalingError(`${type} could not be sent`, 'disconnected', type));
      }
    });
  }

  /**
   * Send a request without waiting for its reply (the page is going away); false when the
   * socket is not open. Frames sent before close() still reach the server before the close.
   */
  send(type, data = {}) {
    if (this.state !== SocketState.OPEN || !this._socket) return false;
    try {
      this._socket.send(JSON.stringify({ type, requestId: `${this._idPrefix}-${this._nextId++}`, data }));
      return true;
    } catch {
      return false;
    }
  }

  /** Drop the current socket and connect again (used when the server asks for it). */
  reconnect(reason = 'requested') {
    if (this.state === SocketState.CLOSED || this.state === SocketState.IDLE) return;
    const socket = this._socket;
    this._detach(socket);
    try {
      socket?.close(RECONNECT_CLOSE_CODE, 'reconnect');
    } catch {
      /* already closed */
    }
    this._lost(reason);
  }

  /** Close for good (1000: we are done): pending requests fail, no reconnection. */
  close(code = CloseCode.NORMAL, reason = 'bye') {
    if (this.state === SocketState.CLOSED) return;
    clearTimeout(this._retryTimer);
    window.removeEventListener('online', this._onOnline);
    const socket = this._socket;
    this._detach(socket);
    try {
      socket?.close(code, reason);
    } catch {
      /* already closed */
    }
    this._failPending('connection closed');
    this._setState(SocketState.CLOSED);
  }

  _setState(state, detail = {}) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state, detail);
  }

  _open() {
    this._setState(this._everOpened ? SocketState.RECONNECTING : SocketState.CONNECTING, {
      attempt: this.attempt,
    });
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this._lost(String(error));
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      const reconnected = this._everOpened;
      this._everOpened = true;
      this.attempt = 0;
      this._setState(SocketState.OPEN);
      this.emit('open', { reconnected });
    };
    socket.onmessage = (event) => this._onMessage(event.data);
    socket.onerror = () => {
      /* a close event always follows */
    };
    socket.onclose = (event) => {
      this._detach(socket);
      const kind = closeKind(event.code);
      if (kind === 'refused') {
        this._failPending('connection refused');
        clearTimeout(this._retryTimer);
        window.removeEventListener('online', this._onOnline);
        this._setState(SocketState.CLOSED, { code: event.code, reason: event.reason });
        this.emit('refused', { code: event.code, reason: event.reason });
        return;
      }
      if (kind === 'restarting') {
        // Every client of the server is told at once: start a step later, so the new server
        // is not hit by all of them in its first half second (the jitter spreads them too).
        this.attempt = Math.max(this.attempt, 1);
        this.emit('restarting', { code: event.code });
      }
      this._lost(`closed (${event.code})`, event.code);
    };
  }

  _detach(socket) {
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    if (this._socket === socket) this._socket = null;
  }

  _lost(reason, code = null) {
    this._failPending('connection lost');
    if (this.state === SocketState.CLOSED) return;
    const delay = backoffDelay(this.attempt, {
      initialMs: this.initialBackoffMs,
      maxMs: this.maxBackoffMs,
    });
    this.attempt += 1;
    this._setState(SocketState.RECONNECTING, { attempt: this.attempt, delay, reason });
    this.emit('lost', { reason, delay, attempt: this.attempt, code });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => this._open(), delay);
  }

  _retryNow() {
    clearTimeout(this._retryTimer);
    if (!this._socket) this._open();
  }

  _failPending(reason) {
    for (const [requestId, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(new SignalingError(reason, 'disconnected', pending.type));
      this._pending.delete(requestId);
    }
  }

  _onMessage(raw) {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      console.warn('signaling: ignoring a message that is not JSON');
      return;
    }
    if (!message || typeof message !== 'object') return;
    const pending = message.requestId != null ? this._pending.get(message.requestId) : undefined;
    if (pending) {
      this._pending.delete(message.requestId);
      clearTimeout(pending.timer);
      if (message.error != null) pending.reject(replyError(message));
      else pending.resolve(message.data ?? {});
      return;
    }
    if (typeof message.type !== 'string') return;
    this.emit('event', message);
    this.emit(message.type, message.data ?? {});
  }
}
