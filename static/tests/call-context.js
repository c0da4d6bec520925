// A CallContext (see static/src/lib/call-local.js) for unit tests of the call's parts, without a
// controller or media: it records the events and requests they make (not a test file: node
// --test picks up only *.test.js).

/** A context in state `joined` (false: before rtc:joined) with no media session. */
export function recordingContext({ joined = false } = {}) {
  const events = [];
  const requests = [];
  const context = {
    events,
    requests,
    session: () => null,
    generation: () => 1,
    joined: () => joined,
    request: async (type, data) => {
      requests.push({ type, data });
      return {};
    },
    emit: (name, ...args) => events.push([name, ...args]),
  };
  return context;
}

/** A stand-in for a MediaStreamTrack: stop() is recorded. */
export function fakeTrack(kind, id = `${kind}-${Math.random().toString(36).slice(2, 6)}`) {
  return {
    kind,
    id,
    stopped: false,
    stop() {
      this.stopped = true;
    },
  };
}
