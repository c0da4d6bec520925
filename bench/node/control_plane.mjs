// Control-plane cost of mediasoup 3.16.0's Node layer on the same mediasoup-worker binary that
// packages/mediasoup-ctl/src/mediasoup_ctl drives, so the Python layer can be compared with it as a ratio in one run.
//
//   bash scripts/setup-node-reference.sh          # once; installs into ~/.cache/conference
//   MEDIASOUP_WORKER_BIN=.../mediasoup-worker node bench/node/control_plane.mjs [--iterations N] [--warmup W]
//
// It prints one JSON object on stdout: {"impl": "node", ..., "ops": {name: {n, p50_ms, p99_ms,
// mean_ms, min_ms, max_ms}}}. Percentiles are nearest-rank over the measured iterations (warm-up
// excluded). Ops, all awaited one at a time on one worker:
//   worker_dump, worker_resource_usage, router_dump   request round trips
//   router_create, webrtc_transport_create, produce_audio, produce_video_simulcast,
//   consume_video (paused)                            the awaited create call
//   *_close                                           close() itself (Node sends the request
//                                                     and does not wait for the answer)
//   *_close_acked                                     close() then one worker_resource_usage
//                                                     round trip, which the worker answers only
//                                                     after it processed the close
// Inputs (codecs, RTP parameters, listen infos) come from bench/node/fixtures.json.

import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

import { here, require } from './reference.mjs';

if (!existsSync(process.env.MEDIASOUP_WORKER_BIN)) {
	console.error(`mediasoup-worker not found at ${process.env.MEDIASOUP_WORKER_BIN}; run mediasoup-ctl-worker`);
	process.exit(2);
}

const mediasoup = require('mediasoup');
const fixtures = JSON.parse(readFileSync(path.join(here, 'fixtures.json'), 'utf8'));

function argValue(name, fallback) {
	const index = process.argv.indexOf(name);
	return index > -1 ? Number(process.argv[index + 1]) : fallback;
}
const iterations = argValue('--iterations', Number(process.env.BENCH_ITERATIONS ?? 200));
const warmup = argValue('--warmup', Number(process.env.BENCH_WARMUP ?? 20));

const samples = {};
let recording = false;

function record(op, ns) {
	if (recording) (samples[op] ??= []).push(Number(ns) / 1e6);
}

async function timed(op, fn) {
	const start = process.hrtime.bigint();
	const result = await fn();
	record(op, process.hrtime.bigint() - start);
	return result;
}

// close() is synchronous in Node; "_acked" adds the round trip that proves the worker did it.
async function timedClose(op, worker, object) {
	const start = process.hrtime.bigint();
	object.close();
	const closed = process.hrtime.bigint();
	await worker.getResourceUsage();
	record(`${op}_close`, closed - start);
	record(`${op}_close_acked`, process.hrtime.bigint() - start);
}

function nearestRank(sorted, p) {
	return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarize() {
	const ops = {};
	for (const [op, values] of Object.entries(samples)) {
		const sorted = [...values].sort((a, b) => a - b);
		const round = (v) => Math.round(v * 1000) / 1000;
		ops[op] = {
			n: sorted.length,
			p50_ms: round(nearestRank(sorted, 50)),
			p99_ms: round(nearestRank(sorted, 99)),
			mean_ms: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
			min_ms: round(sorted[0]),
			max_ms: round(sorted[sorted.length - 1]),
		};
	}
	return ops;
}

async function iteration(worker, router, consumerTransport, videoProducer) {
	await timed('worker_dump', () => worker.dump());
	await timed('worker_resource_usage', () => worker.getResourceUsage());
	await timed('router_dump', () => router.dump());

	const r = await timed('router_create', () => worker.createRouter({ mediaCodecs: fixtures.mediaCodecs }));
	await timedClose('router', worker, r);

	const t = await timed('webrtc_transport_create', () => router.createWebRtcTransport({ listenInfos: fixtures.listenInfos }));
	const audio = await timed('produce_audio', () => t.produce({ kind: 'audio', rtpParameters: fixtures.audioRtpParameters }));
	await timedClose('producer_audio', worker, audio);
	const video = await timed('produce_video_simulcast', () => t.produce({ kind: 'video', rtpParameters: fixtures.videoRtpParameters }));
	await timedClose('producer_video', worker, video);
	await timedClose('webrtc_transport', worker, t);

	const consumer = await timed('consume_video', () => consumerTransport.consume({
		producerId: videoProducer.id, rtpCapabilities: router.rtpCapabilities, paused: true,
	}));
	await timedClose('consumer', worker, consumer);
}

async function main() {
	const worker = await mediasoup.createWorker({ logLevel: 'error', rtcMinPort: 40000, rtcMaxPort: 49999 });
	try {
		const router = await worker.createRouter({ mediaCodecs: fixtures.mediaCodecs });
		const producerTransport = await router.createWebRtcTransport({ listenInfos: fixtures.listenInfos });
		const consumerTransport = await router.createWebRtcTransport({ listenInfos: fixtures.listenInfos });
		const videoProducer = await producerTransport.produce({ kind: 'video', rtpParameters: fixtures.videoRtpParameters });
		for (let i = 0; i < warmup + iterations; i++) {
			recording = i >= warmup;
			await iteration(worker, router, consumerTransport, videoProducer);
		}
		const result = {
			impl: 'node',
			mediasoup: mediasoup.version,
			node: process.version,
			worker_bin: process.env.MEDIASOUP_WORKER_BIN,
			iterations,
			warmup,
			ops: summarize(),
		};
		process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
	}
	finally {
		worker.close();
	}
}

await main();
