// A minimal meeting signaling server on mediasoup 3.16.0's Node layer and the same
// mediasoup-worker binary as the project, so bench/signaling.py can run the same scripted
// peers against it in the same run and report the project's call set-up as a ratio to it.
//
//   MEDIASOUP_WORKER_BIN=.../mediasoup-worker node bench/node/signaling_server.mjs \
//       --port 8123 --seats seats.json [--workers N]
//
// It speaks the subset of rtc/signaling/PROTOCOL.md the benchmark uses, with the same envelope
// ({type, requestId, data} → {requestId, data} | {requestId, error, code}): rtc:join,
// rtc:createTransport, rtc:connectTransport, rtc:produce, rtc:consume, rtc:resumeConsumer, and
// the events rtc:peerJoined, rtc:newProducer, rtc:peerLeft. What a real server must do and a
// minimal one still does, in memory: the socket's `?token=` must be a known one, and its user
// must be invited to the meeting in the path (seats.json: {"tokens": {token: [meeting ids]}});
// otherwise it is closed with 4401/4403, as the project does. Nothing is persisted: no database,
// no attendance, no channel layer. Rooms are placed on the workers round-robin, one worker per
// CPU by default, with the routers' codecs and the transports' listen infos of the project's
// defaults (Opus, VP8, VP9, H264 x2; UDP and TCP on 127.0.0.1).
// It prints "listening <port>" on stdout once it accepts connections.

import { readFileSync } from 'node:fs';
import os from 'node:os';
import { randomUUID } from 'node:crypto';

import { require } from './reference.mjs';

const mediasoup = require('mediasoup');
const { WebSocketServer } = require('ws');

function argValue(name, fallback) {
	const index = process.argv.indexOf(name);
	return index > -1 ? process.argv[index + 1] : fallback;
}
const port = Number(argValue('--port', 8123));
const seats = JSON.parse(readFileSync(argValue('--seats', 'seats.json'), 'utf8'));
const workerCount = Number(argValue('--workers', os.cpus().length));

const MEDIA_CODECS = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
	{ kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2, 'x-google-start-bitrate': 1000 } },
	{ kind: 'video', mimeType: 'video/H264', clockRate: 90000,
		parameters: { 'packetization-mode': 1, 'profile-level-id': '4d0032', 'level-asymmetry-allowed': 1, 'x-google-start-bitrate': 1000 } },
	{ kind: 'video', mimeType: 'video/H264', clockRate: 90000,
		parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1, 'x-google-start-bitrate': 1000 } },
];
const LISTEN_INFOS = [{ protocol: 'udp', ip: '127.0.0.1' }, { protocol: 'tcp', ip: '127.0.0.1' }];

const workers = [];
for (let i = 0; i < workerCount; i++) {
	workers.push(await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort: 40000, rtcMaxPort: 49999 }));
}
let nextWorker = 0;
const rooms = new Map(); // meeting id -> {router, peers: Map(peerId -> peer)}
const creating = new Map(); // meeting id -> Promise(room)

async function roomFor(meetingId) {
	const open = rooms.get(meetingId);
	if (open) return open;
	if (!creating.has(meetingId)) {
		const worker = workers[nextWorker++ % workers.length];
		creating.set(meetingId, worker.createRouter({ mediaCodecs: MEDIA_CODECS }).then((router) => {
			const room = { router, peers: new Map() };
			rooms.set(meetingId, room);
			creating.delete(meetingId);
			return room;
		}));
	}
	return creating.get(meetingId);
}

function send(socket, message) {
	if (socket.readyState === 1) socket.send(JSON.stringify(message));
}

function broadcast(room, except, type, data) {
	for (const other of room.peers.values()) {
		if (other !== except) send(other.socket, { type, data });
	}
}

function peerInfo(peer) {
	return {
		peerId: peer.id, displayName: peer.displayName,
		producers: [...peer.producers.values()].map((p) => ({ id: p.id, kind: p.kind })),
	};
}

const handlers = {
	async 'rtc:join'(conn, data) {
		if (conn.peer) throw Object.assign(new Error('already joined'), { code: 'invalid' });
		const room = await roomFor(conn.meetingId);
		const peer = { id: randomUUID(), displayName: String(data.displayName ?? ''), socket: conn.socket,
			transports: new Map(), producers: new Map(), consumers: new Map() };
		const others = [...room.peers.values()].map(peerInfo);
		room.peers.set(peer.id, peer);
		conn.peer = peer;
		conn.room = room;
		broadcast(room, peer, 'rtc:peerJoined', { peerId: peer.id, displayName: peer.displayName, role: 'member' });
		return { type: 'rtc:joined', peerId: peer.id, routerRtpCapabilities: room.router.rtpCapabilities, peers: others };
	},
	async 'rtc:createTransport'(conn, data) {
		const transport = await conn.room.router.createWebRtcTransport({
			listenInfos: LISTEN_INFOS, enableUdp: true, enableTcp: true, preferUdp: true,
			initialAvailableOutgoingBitrate: 1000000, appData: { direction: data.direction },
		});
		conn.peer.transports.set(transport.id, transport);
		return { type: 'rtc:transportCreated', id: transport.id, iceParameters: transport.iceParameters,
			iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters };
	},
	async 'rtc:connectTransport'(conn, data) {
		await transportOf(conn, data.transportId).connect({ dtlsParameters: data.dtlsParameters });
		return { type: 'rtc:transportConnected' };
	},
	async 'rtc:produce'(conn, data) {
		const producer = await transportOf(conn, data.transportId).produce({
			kind: data.kind, rtpParameters: data.rtpParameters, appData: data.appData ?? {} });
		conn.peer.producers.set(producer.id, producer);
		broadcast(conn.room, conn.peer, 'rtc:newProducer', { peerId: conn.peer.id, producerId: producer.id, kind: producer.kind });
		return { type: 'rtc:produced', id: producer.id };
	},
	async 'rtc:consume'(conn, data) {
		if (!conn.room.router.canConsume({ producerId: data.producerId, rtpCapabilities: data.rtpCapabilities })) {
			throw Object.assign(new Error('cannot consume'), { code: 'invalid' });
		}
		const consumer = await transportOf(conn, data.transportId).consume({
			producerId: data.producerId, rtpCapabilities: data.rtpCapabilities, paused: true });
		conn.peer.consumers.set(consumer.id, consumer);
		return { type: 'rtc:consumed', id: consumer.id, producerId: data.producerId, kind: consumer.kind,
			rtpParameters: consumer.rtpParameters };
	},
	async 'rtc:resumeConsumer'(conn, data) {
		const consumer = conn.peer?.consumers.get(data.consumerId);
		if (!consumer) throw Object.assign(new Error('no such consumer'), { code: 'not_found' });
		await consumer.resume();
		return { type: 'rtc:consumerResumed' };
	},
};

function transportOf(conn, id) {
	const transport = conn.peer?.transports.get(id);
	if (!transport) throw Object.assign(new Error('no such transport'), { code: 'not_found' });
	return transport;
}

function leave(conn) {
	const { peer, room } = conn;
	if (!peer) return;
	conn.peer = null;
	for (const transport of peer.transports.values()) transport.close();
	room.peers.delete(peer.id);
	broadcast(room, peer, 'rtc:peerLeft', { peerId: peer.id, reason: 'disconnected' });
	if (room.peers.size === 0) {
		room.router.close();
		rooms.delete(conn.meetingId);
	}
}

const server = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
server.on('connection', (socket, request) => {
	const url = new URL(request.url, 'http://localhost');
	const match = url.pathname.match(/^\/ws\/meetings\/([0-9a-f-]{36})\/$/);
	const allowed = seats.tokens[url.searchParams.get('token') ?? ''];
	if (!match) return socket.close(4404);
	if (!allowed) return socket.close(4401);
	if (!allowed.includes(match[1])) return socket.close(4403);
	const conn = { socket, meetingId: match[1], peer: null, room: null };
	send(socket, { type: 'meeting.state', data: { meeting: { id: conn.meetingId }, participants: [] } });
	socket.on('message', async (raw) => {
		let message;
		try {
			message = JSON.parse(raw);
		} catch {
			return send(socket, { error: 'Malformed JSON.', code: 'invalid' });
		}
		const { type, requestId, data } = message;
		const handler = handlers[type];
		if (!handler) return send(socket, { requestId, error: 'Unknown message type.', code: 'unknown_type' });
		if (type !== 'rtc:join' && !conn.peer) return send(socket, { requestId, error: 'join first', code: 'invalid' });
		try {
			send(socket, { requestId, data: await handler(conn, data ?? {}) });
		} catch (error) {
			send(socket, { requestId, error: String(error.message), code: error.code ?? 'internal' });
		}
	});
	socket.on('close', () => leave(conn));
});
server.on('listening', () => console.log(`listening ${port}`));
for (const signal of ['SIGINT', 'SIGTERM']) {
	process.on(signal, () => {
		server.close();
		for (const worker of workers) worker.close();
		process.exit(0);
	});
}
