// The canned meeting server of bench/stack_floor.py in Node, on the `ws` package as
// bench/node/signaling_server.mjs uses it: the same frames as bench/stack_floor_app.py (canned
// replies of the project's sizes, the same group events), no mediasoup, no seats, `?token=`
// ignored. Group events go straight to the meeting's other sockets (no channel layer).
//
//   node bench/node/stack_floor_server.mjs --port 8123 --sizes sizes.json
//
// sizes.json: {"state": bytes, "replies": {type: bytes}, "events": {type: bytes}, "rid": n}.
// It prints "listening <port>" on stdout once it accepts connections.

import { readFileSync } from 'node:fs';

import { require } from './reference.mjs';

const { WebSocketServer } = require('ws');

function argValue(name, fallback) {
	const index = process.argv.indexOf(name);
	return index > -1 ? process.argv[index + 1] : fallback;
}
const port = Number(argValue('--port', 8123));
const sizes = JSON.parse(readFileSync(argValue('--sizes', 'sizes.json'), 'utf8'));

function padded(fields, size, overhead) {
	const base = JSON.stringify({ ...fields, pad: '' }).length;
	return JSON.stringify({ ...fields, pad: 'x'.repeat(Math.max(0, size - overhead - base)) });
}
function eventText(type, fields) {
	const envelope = JSON.stringify({ type, data: null }).length - 4;
	return `{"type":${JSON.stringify(type)},"data":${padded(fields ?? {}, sizes.events[type], envelope)}}`;
}
const EVENTS = Object.fromEntries(Object.keys(sizes.events).map((t) => [t, eventText(t)]));
sizes.events['meeting.state'] = sizes.state;
const STATE_TEXT = eventText('meeting.state');
const REPLY_OVERHEAD = '{"requestId":"","data":}'.length + sizes.rid;
let nextId = 1;
const CAPABILITIES = { pad: 'x'.repeat(sizes.capabilities - '{"pad":""}'.length) };
const newId = () => `00000000-0000-4000-8000-${String(nextId++).padStart(12, '0')}`;
const meetings = new Map(); // id -> {sockets: Set, producers: [], updated, speaker}

function answer(meeting, content) {
	const events = [];
	let fields = {};
	switch (content.type) {
	case 'rtc:join':
		meeting.joins += 1;
		fields = { peers: [{ producers: meeting.producers.map((id) => ({ id })) }], routerRtpCapabilities: CAPABILITIES };
		events.push([EVENTS['rtc:peerJoined'], false], [EVENTS['meeting.participantJoined'], false]);
		if (!meeting.updated) { meeting.updated = true; events.push([EVENTS['meeting.updated'], true]); }
		break;
	case 'rtc:createTransport':
	case 'rtc:consume':
		fields = { id: newId() };
		break;
	case 'rtc:produce': {
		const producer = newId();
		fields = { id: producer };
		meeting.producers.push(producer);
		events.push([eventText('rtc:newProducer', { producerId: producer }), false]);
		if (!meeting.speaker) { meeting.speaker = true; events.push([EVENTS['rtc:activeSpeaker'], true]); }
		break;
	}
	default:
	}
	const body = padded(fields, sizes.replies[content.type] ?? 70, REPLY_OVERHEAD);
	return [`{"requestId":${JSON.stringify(content.requestId)},"data":${body}}`, events];
}

const server = new WebSocketServer({ port, host: '127.0.0.1' });
server.on('connection', (socket, request) => {
	const parts = request.url.split('?')[0].split('/').filter(Boolean);
	if (parts[0] !== 'ws' || parts[1] !== 'meetings') return; // /ws/handshake/: accept only
	const id = parts[2];
	if (!meetings.has(id)) meetings.set(id, { sockets: new Set(), joins: 0, producers: [], updated: false, speaker: false });
	const meeting = meetings.get(id);
	meeting.sockets.add(socket);
	socket.send(STATE_TEXT);
	// The group events sent before this socket opened (as bench/stack_floor_app.py does).
	for (let i = 0; i < meeting.joins; i++) {
		socket.send(EVENTS['rtc:peerJoined']);
		socket.send(EVENTS['meeting.participantJoined']);
	}
	if (meeting.updated) socket.send(EVENTS['meeting.updated']);
	for (const producerId of meeting.producers) socket.send(eventText('rtc:newProducer', { producerId }));
	if (meeting.speaker) socket.send(EVENTS['rtc:activeSpeaker']);
	socket.on('message', (raw) => {
		const [reply, events] = answer(meeting, JSON.parse(raw));
		socket.send(reply);
		for (const [text, toSelf] of events) {
			for (const other of meeting.sockets) {
				if ((toSelf || other !== socket) && other.readyState === 1) other.send(text);
			}
		}
	});
	socket.on('close', () => meeting.sockets.delete(socket));
});
server.on('listening', () => console.log(`listening ${port}`));
