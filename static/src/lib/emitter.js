// A tiny event emitter: the signaling client and the call controller tell the page what
// happened through it, so the DOM code never reaches into their state.

export class Emitter {
  constructor() {
    this._listeners = new Map();
  }

  /** Add `listener` for `name`; returns a function that removes it. */
  on(name, listener) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(listener);
    return () => this.off(name, listener);
  }

  off(name, listener) {
    this._listeners.get(name)?.delete(listener);
  }

  /** Call every listener of `name`; a listener that throws is logged and does not stop the rest. */
  emit(name, ...args) {
    for (const listener of [...(this._listeners.get(name) ?? [])]) {
      try {
        listener(...args);
      } catch (error) {
        console.error(`listener of "${name}" failed`, error);
      }
    }
  }
}
