// A scripted stand-in for the browser's WebSocket, shared by the unit tests (not a test file:
// node --test picks up only *.test.js). Install it with installFakeSocket() in beforeEach.

export class FakeSocket {
  static instances = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closed = null;
    FakeSocket.instances.push(this);
  }
  send(text) {
    if (this.closed) throw new Error('send after close');
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000, reason = '') {
    this.closed = { code, reason };
  }
  // Test-side helpers.
  open() {
    this.onopen?.();
  }
  receive(message) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006, reason = '') {
    this.onclose?.({ code, reason });
  }
}

/** The most recently created socket. */
export const last = () => FakeSocket.instances[FakeSocket.instances.length - 1];

/** Wait `ms` milliseconds (0: let pending promise callbacks run). */
export const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** Replace the globals the signaling client uses; returns the undo function. */
export function installFakeSocket() {
  FakeSocket.instances = [];
  globalThis.WebSocket = FakeSocket;
  globalThis.window = new EventTarget();
  return () => {
    delete globalThis.WebSocket;
    delete globalThis.window;
  };
}
