// Golden vectors for packages/mediasoup-ctl/src/mediasoup_ctl/ortc.py, produced by mediasoup 3.16.0's own Node layer.
//
//   cd scripts/golden && npm ci --ignore-scripts && node make_ortc_vectors.mjs [OUT_DIR]
//
// or, with the copy scripts/setup-node-reference.sh installs (same lock: h264-profile-level-id
// 2.3.2), NODE_REFERENCE_DIR=~/.cache/conference/node-reference node make_ortc_vectors.mjs.
// OUT_DIR defaults to packages/mediasoup-ctl/tests/ortc/golden. No worker is needed:
// only node/lib/ortc.js and its helpers run. Each vector is {name, fn, input} plus either
// {output} or {error: {kind, message, native}}; "native" marks errors thrown by the JavaScript
// engine (reading a property of null ...), whose message Python need not copy. Random SSRCs
// come from a deterministic sequence that packages/mediasoup-ctl/tests/ortc/test_golden.py replays.

import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(
	path.join(process.env.NODE_REFERENCE_DIR ?? here, 'package.json')
);
const libDir = path.dirname(require.resolve('mediasoup'));
const pkg = require(path.join(libDir, '..', '..', 'package.json'));
if (pkg.version !== '3.16.0') {
	throw new Error(`mediasoup 3.16.0 expected, found ${pkg.version}`);
}
const ortc = require(path.join(libDir, 'ortc.js'));
const utils = require(path.join(libDir, 'utils.js'));
const { parseScalabilityMode } = require(path.join(libDir, 'scalabilityModesUtils.js'));
const h264 = require(createRequire(path.join(libDir, 'ortc.js')).resolve('h264-profile-level-id'));
const h264Version = require(
	path.join(path.dirname(createRequire(path.join(libDir, 'ortc.js')).resolve('h264-profile-level-id')), '..', 'package.json')
).version;

// Deterministic "random" numbers: same sequence in packages/mediasoup-ctl/tests/ortc/test_golden.py.
export const RANDOM_START = 123400000;
export const RANDOM_STEP = 1000000;
let nextRandom = RANDOM_START;
utils.generateRandomNumber = () => {
	const value = nextRandom;
	nextRandom += RANDOM_STEP;
	return value;
};

const outDir = process.argv[2] ?? path.join(here, '..', '..', 'tests', 'ortc', 'golden');
const clone = (v) => (v === undefined ? undefined : structuredClone(v));
const jsonCopy = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

const NATIVE = /^(Cannot read properties|Cannot set properties|Cannot create property|.* is not iterable|.* is not a function|Cannot convert)/;

function describeError(error) {
	const kind = error.name === 'UnsupportedError' ? 'UnsupportedError' : error.constructor.name;
	return { kind, message: error.message, native: error instanceof TypeError && NATIVE.test(error.message) };
}

function run(name, fn, input, body) {
	nextRandom = RANDOM_START;
	const vector = { name, fn, input: jsonCopy(input) };
	try {
		vector.output = jsonCopy(body(jsonCopy(input)) ?? null);
	}
	catch (error) {
		if (!(error instanceof Error)) throw error;
		vector.error = describeError(error);
	}
	return vector;
}

// ----------------------------------------------------------------------------------------------
// Inputs.

const opus = { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 };
const vp8 = { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 };
const vp9p0 = { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 0 } };
const vp9p2 = { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2 } };
const h264Codec = (plid, mode = 1, extra = {}) => ({
	kind: 'video', mimeType: 'video/H264', clockRate: 90000,
	parameters: { 'packetization-mode': mode, 'profile-level-id': plid, ...extra },
});
const h265 = { kind: 'video', mimeType: 'video/H265', clockRate: 90000 };
const av1 = { kind: 'video', mimeType: 'video/AV1', clockRate: 90000 };

const FULL_CODECS = [
	{ ...opus, parameters: { useinbandfec: 1, usedtx: 1 } },
	vp8, vp9p0, vp9p2,
	h264Codec('42e01f', 1, { 'level-asymmetry-allowed': 1 }),
	h264Codec('42e01f', 0, { 'level-asymmetry-allowed': 1 }),
	h264Codec('4d001f', 1, { 'level-asymmetry-allowed': 1 }),
	h264Codec('640032', 1, { 'level-asymmetry-allowed': 1 }),
	h265, av1,
];

const routerCases = [
	['no codecs', []],
	['opus', [opus]],
	['opus with fec/dtx and custom parameters', [{ ...opus, parameters: { useinbandfec: 1, usedtx: 1, foo: 222.222, bar: '333' } }]],
	['opus mono is not supported', [{ ...opus, channels: 1 }]],
	['opus without channels defaults to 1 and is not supported', [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000 }]],
	['opus upper-case mime type', [{ ...opus, mimeType: 'AUDIO/OPUS' }]],
	['opus with wrong kind (kind comes from mimeType)', [{ ...opus, kind: 'video' }]],
	['opus with user rtcpFeedback (ignored)', [{ ...opus, rtcpFeedback: [{ type: 'foo' }] }]],
	['opus without kind', [{ mimeType: 'audio/opus', clockRate: 48000, channels: 2 }]],
	['multiopus 4.0', [{ kind: 'audio', mimeType: 'audio/multiopus', clockRate: 48000, channels: 4, parameters: { num_streams: 2, coupled_streams: 2, channel_mapping: '0,1,2,3' } }]],
	['multiopus 5.1', [{ kind: 'audio', mimeType: 'audio/multiopus', clockRate: 48000, channels: 6, parameters: { num_streams: 4, coupled_streams: 2, channel_mapping: '0,4,1,2,3,5' } }]],
	['multiopus 7.1', [{ kind: 'audio', mimeType: 'audio/multiopus', clockRate: 48000, channels: 8, parameters: { num_streams: 5, coupled_streams: 3 } }]],
	['multiopus 5.1 with wrong num_streams', [{ kind: 'audio', mimeType: 'audio/multiopus', clockRate: 48000, channels: 6, parameters: { num_streams: 3, coupled_streams: 2 } }]],
	['multiopus 5.1 with string num_streams', [{ kind: 'audio', mimeType: 'audio/multiopus', clockRate: 48000, channels: 6, parameters: { num_streams: '4', coupled_streams: 2 } }]],
	['PCMU PCMA G722 keep static payload types', [
		{ kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/PCMA', clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/G722', clockRate: 8000 },
	]],
	['PCMU with a dynamic preferredPayloadType', [{ kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000, preferredPayloadType: 100 }, opus]],
	['PCMU with preferredPayloadType 0 given', [{ kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000, preferredPayloadType: 0 }]],
	['CN, telephone-event, iLBC, ISAC, SILK', [
		{ kind: 'audio', mimeType: 'audio/CN', clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 48000 },
		{ kind: 'audio', mimeType: 'audio/telephone-event', clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/iLBC', clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/ISAC', clockRate: 16000 },
		{ kind: 'audio', mimeType: 'audio/ISAC', clockRate: 32000 },
		{ kind: 'audio', mimeType: 'audio/SILK', clockRate: 24000 },
	]],
	['two CN codecs collide on payload type 13', [
		{ kind: 'audio', mimeType: 'audio/CN', clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/CN', clockRate: 16000 },
	]],
	['VP8', [vp8]],
	['VP8 lower-case', [{ ...vp8, mimeType: 'video/vp8' }]],
	['VP8 with channels (dropped for video)', [{ ...vp8, channels: 2 }]],
	['VP8 with wrong clock rate', [{ ...vp8, clockRate: 8000 }]],
	['VP9 profile 0', [vp9p0]],
	['VP9 profile 2', [vp9p2]],
	['VP9 profiles 0 and 2', [vp9p0, vp9p2]],
	['VP9 without profile-id', [{ kind: 'video', mimeType: 'video/VP9', clockRate: 90000 }]],
	['H264-SVC', [{ kind: 'video', mimeType: 'video/H264-SVC', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } }]],
	['H265', [h265]],
	['H265 with parameters', [{ ...h265, parameters: { 'level-id': 93, 'profile-id': 1, 'tier-flag': 0 } }]],
	['AV1', [av1]],
	['AV1 with profile', [{ ...av1, parameters: { profile: 0, 'level-idx': 5, tier: 0 } }]],
	['full set', FULL_CODECS],
	['preferred payload types', [{ ...opus, preferredPayloadType: 111 }, { ...vp8, preferredPayloadType: 96 }, { ...vp9p0, preferredPayloadType: 98 }]],
	['preferred payload type outside the dynamic range', [{ ...opus, preferredPayloadType: 63 }, vp8]],
	['duplicated preferredPayloadType', [{ ...opus, preferredPayloadType: 111 }, { ...vp8, preferredPayloadType: 111 }]],
	['preferredPayloadType taken by an earlier RTX', [vp8, { ...opus, preferredPayloadType: 101 }]],
	['preferredPayloadType 0 on VP8 collides with PCMU', [{ kind: 'audio', mimeType: 'audio/PCMU', clockRate: 8000 }, { ...vp8, preferredPayloadType: 0 }]],
	['same codec twice', [vp8, vp8]],
	['16 video codecs use all dynamic payload types', Array.from({ length: 16 }, () => vp8)],
	['17 video codecs exhaust dynamic payload types', Array.from({ length: 17 }, () => vp8)],
	['32 audio codecs exhaust dynamic payload types', Array.from({ length: 33 }, () => opus)],
	['unsupported audio codec', [{ kind: 'audio', mimeType: 'audio/foo', clockRate: 8000 }]],
	['unsupported video codec H263', [{ kind: 'video', mimeType: 'video/H263', clockRate: 90000 }]],
	['missing mimeType', [{ kind: 'audio', clockRate: 48000 }]],
	['mimeType without media type', [{ kind: 'audio', mimeType: 'opus', clockRate: 48000 }]],
	['mimeType application/foo', [{ mimeType: 'application/foo', clockRate: 48000 }]],
	['mimeType not a string', [{ mimeType: 5, clockRate: 48000 }]],
	['missing clockRate', [{ kind: 'audio', mimeType: 'audio/opus', channels: 2 }]],
	['clockRate as string', [{ ...opus, clockRate: '48000' }]],
	['preferredPayloadType as string', [{ ...opus, preferredPayloadType: '100' }]],
	['parameter with object value', [{ ...opus, parameters: { foo: { a: 1 } } }]],
	['parameter with boolean value', [{ ...opus, parameters: { foo: true } }]],
	['parameter with null value', [{ ...opus, parameters: { foo: null } }]],
	['parameter with array value', [{ ...opus, parameters: { foo: [1, 2] } }]],
	['apt as string', [{ ...vp8, parameters: { apt: '100' } }]],
	['parameters as string are replaced', [{ ...opus, parameters: 'foo' }]],
	['mediaCodecs not an array', 'foo'],
	['mediaCodecs an object', { codecs: [] }],
	['codec is null', [null]],
	['codec is a string', ['audio/opus']],
];

for (const plid of ['42e01f', '42001f', '4d001f', '64001f', '640032', '640c1f', 'f4001f', '42e034', '4d0032', '42E01F', '', 'zzzzzz']) {
	for (const mode of [0, 1]) {
		routerCases.push([`H264 ${plid || 'no profile-level-id'} packetization-mode ${mode}`, [h264Codec(plid, mode)]]);
	}
}
routerCases.push(['H264 with level-asymmetry-allowed 0', [h264Codec('42e01f', 1, { 'level-asymmetry-allowed': 0 })]]);
routerCases.push(['H264 without parameters', [{ kind: 'video', mimeType: 'video/H264', clockRate: 90000 }]]);

function routerVectors() {
	const vectors = routerCases.map(([name, codecs]) =>
		run(name, 'generateRouterRtpCapabilities', { mediaCodecs: codecs }, (i) => ortc.generateRouterRtpCapabilities(i.mediaCodecs)));
	vectors.push(run('undefined media codecs', 'generateRouterRtpCapabilities', {}, () => ortc.generateRouterRtpCapabilities()));
	return vectors;
}

// ----------------------------------------------------------------------------------------------
// Validation.

const goodCaps = {
	codecs: [
		{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, rtcpFeedback: [{ type: 'nack' }, { type: 'transport-cc', parameter: '' }] },
		{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }] },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 102, clockRate: 90000, parameters: { apt: 101 } },
	],
	headerExtensions: [
		{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1 },
		{ kind: 'video', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: true, direction: 'recvonly' },
	],
};
const withCodec = (patch) => ({ codecs: [{ ...goodCaps.codecs[0], ...patch }] });
const withExt = (patch) => ({ headerExtensions: [{ ...goodCaps.headerExtensions[0], ...patch }] });

const capsCases = [
	['good capabilities', goodCaps],
	['empty object', {}],
	['null codecs', { codecs: null, headerExtensions: null }],
	['codecs not an array', { codecs: 'foo' }],
	['codecs an object', { codecs: { a: 1 } }],
	['headerExtensions not an array', { headerExtensions: 5 }],
	['video codec channels removed', { codecs: [{ ...goodCaps.codecs[1], channels: 2 }] }],
	['audio codec channels default 1', withCodec({ channels: undefined })],
	['audio codec channels string becomes 1', withCodec({ channels: '2' })],
	['codec parameters null become {}', withCodec({ parameters: null })],
	['codec rtcpFeedback not array becomes []', withCodec({ rtcpFeedback: 'nack' })],
	['feedback missing type', withCodec({ rtcpFeedback: [{ parameter: 'pli' }] })],
	['feedback type not a string', withCodec({ rtcpFeedback: [{ type: 1 }] })],
	['feedback parameter number becomes empty', withCodec({ rtcpFeedback: [{ type: 'nack', parameter: 5 }] })],
	['feedback null', withCodec({ rtcpFeedback: [null] })],
	['feedback a string', withCodec({ rtcpFeedback: ['nack'] })],
	['preferredPayloadType 0 accepted', withCodec({ preferredPayloadType: 0 })],
	['preferredPayloadType null kept', withCodec({ preferredPayloadType: null })],
	['preferredPayloadType string', withCodec({ preferredPayloadType: '100' })],
	['mimeType empty', withCodec({ mimeType: '' })],
	['mimeType text/plain', withCodec({ mimeType: 'text/plain' })],
	['mimeType audio/ only', withCodec({ mimeType: 'audio/' })],
	['clockRate missing', withCodec({ clockRate: undefined })],
	['clockRate null', withCodec({ clockRate: null })],
	['codec parameter apt string', withCodec({ parameters: { apt: 'x' } })],
	['codec parameter float', withCodec({ parameters: { foo: 1.5, bar: 'baz' } })],
	['ext kind missing', withExt({ kind: undefined })],
	['ext kind empty', withExt({ kind: '' })],
	['ext kind data', withExt({ kind: 'data' })],
	['ext uri missing', withExt({ uri: undefined })],
	['ext uri number', withExt({ uri: 5 })],
	['ext preferredId missing', withExt({ preferredId: undefined })],
	['ext preferredId string', withExt({ preferredId: '1' })],
	['ext preferredEncrypt string', withExt({ preferredEncrypt: 'yes' })],
	['ext preferredEncrypt 0 becomes false', withExt({ preferredEncrypt: 0 })],
	['ext direction number', withExt({ direction: 5 })],
	['ext direction unknown string kept', withExt({ direction: 'sideways' })],
	['ext direction empty becomes sendrecv', withExt({ direction: '' })],
	['ext null', { headerExtensions: [null] }],
	['caps null', null],
	['caps string', 'foo'],
];

const goodParams = {
	mid: 'AUDIO',
	codecs: [
		{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1, foo: 'bar' }, rtcpFeedback: [{ type: 'transport-cc' }] },
	],
	headerExtensions: [
		{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 10 },
		{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 12, encrypt: true, parameters: { vad: 'on' } },
	],
	encodings: [{ ssrc: 11111111, dtx: true }],
	rtcp: { cname: 'FOOBAR', reducedSize: true },
};
const withParam = (patch) => ({ ...goodParams, ...patch });
const withPCodec = (patch) => withParam({ codecs: [{ ...goodParams.codecs[0], ...patch }] });
const withEnc = (patch) => withParam({ encodings: [{ ssrc: 1111, ...patch }] });
const withPExt = (patch) => withParam({ headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1, ...patch }] });

const paramsCases = [
	['good parameters', goodParams],
	['minimal parameters', { codecs: [] }],
	['defaults filled', { codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, channels: 1 }] }],
	['missing codecs', { encodings: [] }],
	['codecs not an array', { codecs: {} }],
	['mid a number', withParam({ mid: 1 })],
	['mid empty string', withParam({ mid: '' })],
	['codec payloadType missing', withPCodec({ payloadType: undefined })],
	['codec payloadType string', withPCodec({ payloadType: '111' })],
	['codec clockRate missing', withPCodec({ clockRate: undefined })],
	['codec mimeType missing', withPCodec({ mimeType: undefined })],
	['codec mimeType invalid', withPCodec({ mimeType: 'opus' })],
	['codec null', withParam({ codecs: [null] })],
	['codec parameter undefined-free boolean', withPCodec({ parameters: { x: false } })],
	['codec apt string', withParam({ codecs: [{ mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: '96' } }] })],
	['headerExtensions not an array', withParam({ headerExtensions: 'foo' })],
	['headerExtensions null', withParam({ headerExtensions: null })],
	['ext uri missing', withPExt({ uri: undefined })],
	['ext id missing', withPExt({ id: undefined })],
	['ext id string', withPExt({ id: '1' })],
	['ext encrypt string', withPExt({ encrypt: 'yes' })],
	['ext encrypt 0', withPExt({ encrypt: 0 })],
	['ext parameters null', withPExt({ parameters: null })],
	['ext parameter object', withPExt({ parameters: { a: {} } })],
	['ext parameter number', withPExt({ parameters: { a: 1 } })],
	['encodings not an array', withParam({ encodings: 5 })],
	['encodings null', withParam({ encodings: null })],
	['encoding ssrc string', withEnc({ ssrc: '1' })],
	['encoding ssrc 0 kept', { codecs: [], encodings: [{ ssrc: 0 }] }],
	['encoding rid number', withEnc({ rid: 1 })],
	['encoding rtx number', withEnc({ rtx: 5 })],
	['encoding rtx without ssrc', withEnc({ rtx: {} })],
	['encoding rtx ssrc string', withEnc({ rtx: { ssrc: '2' } })],
	['encoding rtx null', withEnc({ rtx: null })],
	['encoding dtx string becomes false', withEnc({ dtx: 'yes' })],
	['encoding dtx 1 becomes false', withEnc({ dtx: 1 })],
	['encoding scalabilityMode number', withEnc({ scalabilityMode: 3 })],
	['encoding extra fields kept', withEnc({ maxBitrate: 500000, scaleResolutionDownBy: 2, maxFramerate: 30, priority: 'high' })],
	['encoding null', withParam({ encodings: [null] })],
	['rtcp string', withParam({ rtcp: 'x' })],
	['rtcp null', withParam({ rtcp: null })],
	['rtcp cname number', withParam({ rtcp: { cname: 5 } })],
	['rtcp reducedSize false becomes true', withParam({ rtcp: { cname: 'a', reducedSize: false } })],
	['rtcp reducedSize string becomes true', withParam({ rtcp: { reducedSize: 'no' } })],
	['params null', null],
	['params number', 5],
];

const sctpCases = [
	['stream id only', { streamId: 1 }],
	['ordered false', { streamId: 1, ordered: false }],
	['ordered string is replaced', { streamId: 1, ordered: 'no' }],
	['maxPacketLifeTime implies unordered', { streamId: 2, maxPacketLifeTime: 1000 }],
	['maxRetransmits implies unordered', { streamId: 2, maxRetransmits: 3 }],
	['maxRetransmits 0 is ignored', { streamId: 2, maxRetransmits: 0 }],
	['unordered with maxRetransmits', { streamId: 2, ordered: false, maxRetransmits: 3 }],
	['ordered with maxRetransmits', { streamId: 2, ordered: true, maxRetransmits: 3 }],
	['both limits', { streamId: 2, maxPacketLifeTime: 100, maxRetransmits: 3 }],
	['maxPacketLifeTime string', { streamId: 2, maxPacketLifeTime: '100' }],
	['maxRetransmits string', { streamId: 2, maxRetransmits: '3' }],
	['missing streamId', { ordered: true }],
	['streamId string', { streamId: '1' }],
	['params null', null],
	['params string', 'x'],
	['extra fields kept', { streamId: 5, label: 'chat', protocol: 'p' }],
];

function validationVectors() {
	const vectors = [];
	for (const [name, input] of capsCases) {
		vectors.push(run(name, 'validateRtpCapabilities', { caps: input }, (i) => { ortc.validateRtpCapabilities(i.caps); return i.caps; }));
	}
	for (const [name, input] of paramsCases) {
		vectors.push(run(name, 'validateRtpParameters', { params: input }, (i) => { ortc.validateRtpParameters(i.params); return i.params; }));
	}
	for (const [name, input] of sctpCases) {
		vectors.push(run(name, 'validateSctpStreamParameters', { params: input }, (i) => { ortc.validateSctpStreamParameters(i.params); return i.params; }));
	}
	return vectors;
}

// ----------------------------------------------------------------------------------------------
// Producers: Transport.produce()'s ortc steps.

function produce(kind, rtpParameters, routerCaps) {
	const params = clone(rtpParameters);
	ortc.validateRtpParameters(params);
	if (!params.encodings || !Array.isArray(params.encodings) || params.encodings.length === 0) {
		params.encodings = [{}];
	}
	const rtpMapping = ortc.getProducerRtpParametersMapping(params, routerCaps);
	const consumableRtpParameters = ortc.getConsumableRtpParameters(kind, params, routerCaps, rtpMapping);
	return { rtpParameters: params, rtpMapping, consumableRtpParameters };
}

const EXT = {
	mid: 'urn:ietf:params:rtp-hdrext:sdes:mid',
	rid: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
	rrid: 'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
	abs: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
	twcc: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
	level: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
	orient: 'urn:3gpp:video-orientation',
	toffset: 'urn:ietf:params:rtp-hdrext:toffset',
	dd: 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension',
	capture: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
	playout: 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
};
const FB_VIDEO = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }];

const audioExts = [{ uri: EXT.mid, id: 4 }, { uri: EXT.level, id: 1 }, { uri: EXT.twcc, id: 3 }, { uri: EXT.abs, id: 2 }];
const videoExts = [{ uri: EXT.mid, id: 4 }, { uri: EXT.rid, id: 10 }, { uri: EXT.rrid, id: 11 }, { uri: EXT.abs, id: 2 }, { uri: EXT.twcc, id: 3 }, { uri: EXT.orient, id: 13 }];
const vcodec = (mimeType, pt, parameters = {}) => ({ mimeType, payloadType: pt, clockRate: 90000, parameters, rtcpFeedback: FB_VIDEO });
const rtx = (pt, apt) => ({ mimeType: 'video/rtx', payloadType: pt, clockRate: 90000, parameters: { apt } });

const opusParams = {
	mid: '0',
	codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc' }] }],
	headerExtensions: audioExts,
	encodings: [{ ssrc: 11111111, dtx: false }],
	rtcp: { cname: 'audio-cname' },
};
const simulcastRids = (mode) => [
	{ rid: 'r0', maxBitrate: 100000, scaleResolutionDownBy: 4, ...(mode ? { scalabilityMode: mode } : {}) },
	{ rid: 'r1', maxBitrate: 300000, scaleResolutionDownBy: 2, ...(mode ? { scalabilityMode: mode } : {}) },
	{ rid: 'r2', maxBitrate: 900000, ...(mode ? { scalabilityMode: mode } : {}) },
];
const vp8Simulcast = (mode) => ({
	mid: '1',
	codecs: [vcodec('video/VP8', 96), rtx(97, 96)],
	headerExtensions: videoExts,
	encodings: simulcastRids(mode),
	rtcp: { cname: 'video-cname' },
});
const vp8SimulcastSsrcs = {
	mid: '1',
	codecs: [vcodec('video/VP8', 96), rtx(97, 96)],
	headerExtensions: videoExts,
	encodings: [
		{ ssrc: 21111111, rtx: { ssrc: 21111112 }, maxBitrate: 150000 },
		{ ssrc: 21111113, rtx: { ssrc: 21111114 }, maxBitrate: 500000 },
		{ ssrc: 21111115, rtx: { ssrc: 21111116 }, maxBitrate: 1200000 },
	],
	rtcp: { cname: 'video-cname' },
};
const vp9Svc = (mode, profile = 0) => ({
	mid: '2',
	codecs: [vcodec('video/VP9', 98, { 'profile-id': profile }), rtx(99, 98)],
	headerExtensions: videoExts,
	encodings: [{ ssrc: 31111111, rtx: { ssrc: 31111112 }, scalabilityMode: mode, maxBitrate: 2000000 }],
	rtcp: { cname: 'video-cname' },
});
const h264Params = (plid, mode = 1, extra = {}) => ({
	mid: '3',
	codecs: [vcodec('video/H264', 125, { 'packetization-mode': mode, ...(plid === undefined ? {} : { 'profile-level-id': plid }), ...extra }), rtx(107, 125)],
	headerExtensions: videoExts,
	encodings: [{ ssrc: 41111111, rtx: { ssrc: 41111112 } }],
	rtcp: { cname: 'video-cname' },
});

const producerCases = [
	['opus plain', 'audio', opusParams],
	['opus without encodings gets one', 'audio', { ...opusParams, encodings: undefined }],
	['opus with dtx', 'audio', { ...opusParams, encodings: [{ ssrc: 11111111, dtx: true }] }],
	['opus without rtcp', 'audio', { ...opusParams, rtcp: undefined }],
	['opus ssrc-less encoding', 'audio', { ...opusParams, encodings: [{}] }],
	['opus with audio RTX (router has none)', 'audio', { ...opusParams, codecs: [...opusParams.codecs, { mimeType: 'audio/rtx', payloadType: 112, clockRate: 48000, parameters: { apt: 111 } }] }],
	['opus mono (not in router)', 'audio', { ...opusParams, codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 1 }] }],
	['PCMU producer on full router', 'audio', { codecs: [{ mimeType: 'audio/PCMU', payloadType: 0, clockRate: 8000 }], encodings: [{ ssrc: 5 }] }],
	['multiopus 5.1 on full router (unsupported)', 'audio', { codecs: [{ mimeType: 'audio/multiopus', payloadType: 112, clockRate: 48000, channels: 6, parameters: { num_streams: 4, coupled_streams: 2, channel_mapping: '0,4,1,2,3,5' } }] }],
	['VP8 simulcast 3 rids', 'video', vp8Simulcast()],
	['VP8 simulcast 3 rids L1T3', 'video', vp8Simulcast('L1T3')],
	['VP8 simulcast 3 rids L1T2', 'video', vp8Simulcast('L1T2')],
	['VP8 simulcast 3 ssrcs with RTX', 'video', vp8SimulcastSsrcs],
	['VP8 single stream', 'video', { ...vp8SimulcastSsrcs, encodings: [{ ssrc: 22222222 }] }],
	['VP8 without RTX', 'video', { ...vp8SimulcastSsrcs, codecs: [vcodec('video/VP8', 96)] }],
	['VP8 RTX before media codec', 'video', { ...vp8SimulcastSsrcs, codecs: [rtx(97, 96), vcodec('video/VP8', 96)] }],
	['VP8 RTX without media codec', 'video', { ...vp8SimulcastSsrcs, codecs: [vcodec('video/VP8', 96), rtx(97, 95)] }],
	['VP8 RTX without apt', 'video', { ...vp8SimulcastSsrcs, codecs: [vcodec('video/VP8', 96), { mimeType: 'video/rtx', payloadType: 97, clockRate: 90000 }] }],
	['VP8 RTX pointing to RTX', 'video', { ...vp8SimulcastSsrcs, codecs: [vcodec('video/VP8', 96), rtx(97, 96), rtx(98, 97)] }],
	['VP8 and VP9 codecs', 'video', { ...vp8SimulcastSsrcs, codecs: [vcodec('video/VP8', 96), rtx(97, 96), vcodec('video/VP9', 98), rtx(99, 98)] }],
	['VP8 with codecPayloadType in encodings', 'video', { ...vp8SimulcastSsrcs, encodings: [{ ssrc: 1234, codecPayloadType: 96, rtx: { ssrc: 1235 } }] }],
	['VP9 SVC L1T3', 'video', vp9Svc('L1T3')],
	['VP9 SVC L3T3', 'video', vp9Svc('L3T3')],
	['VP9 SVC L3T3_KEY', 'video', vp9Svc('L3T3_KEY')],
	['VP9 SVC S3T3', 'video', vp9Svc('S3T3')],
	['VP9 SVC L2T2 profile 2', 'video', vp9Svc('L2T2', 2)],
	['VP9 profile 1 (not in router)', 'video', vp9Svc('L1T1', 1)],
	['VP9 profile-id as string', 'video', vp9Svc('L1T1', '2')],
	['AV1 with dependency descriptor', 'video', { codecs: [vcodec('video/AV1', 45), rtx(46, 45)], headerExtensions: [...videoExts, { uri: EXT.dd, id: 8 }], encodings: [{ ssrc: 51111111, rtx: { ssrc: 51111112 }, scalabilityMode: 'L1T3' }], rtcp: { cname: 'c' } }],
	['H265', 'video', { codecs: [vcodec('video/H265', 49, { 'level-id': 93, 'profile-id': 1, 'tier-flag': 0, 'tx-mode': 'SRST' }), rtx(50, 49)], encodings: [{ ssrc: 61111111, rtx: { ssrc: 61111112 } }] }],
	['kind audio given for a video producer', 'audio', vp8SimulcastSsrcs],
];
const h264Plids = [
	['42e01f', 1], ['42e01f', 0], ['42E01F', 1], ['42001f', 1], ['42c01f', 1], ['4d001f', 1], ['4d0032', 1],
	['64001f', 1], ['640032', 1], ['640c1f', 1], ['42e034', 1], ['42e00a', 1], ['42f00b', 1], ['42e00b', 1],
	['f4001f', 1], [undefined, 1], ['zzzzzz', 1], ['42e01f', '1'],
];
for (const [plid, mode] of h264Plids) {
	producerCases.push([`H264 ${plid ?? 'no profile-level-id'} mode ${JSON.stringify(mode)}`, 'video', h264Params(plid, mode)]);
	producerCases.push([`H264 ${plid ?? 'no profile-level-id'} mode ${JSON.stringify(mode)} level-asymmetry-allowed`, 'video', h264Params(plid, mode, { 'level-asymmetry-allowed': 1 })]);
}

const routerSets = {
	full: FULL_CODECS,
	basic: [opus, vp8],
	'h264 without profile-level-id': [{ kind: 'video', mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1 } }],
	'h264 level 5.2 no asymmetry': [h264Codec('42e034', 1)],
};

function producerVectors() {
	const vectors = [];
	for (const [name, kind, params] of producerCases) {
		vectors.push(run(`${name} [router: full]`, 'produce', { mediaCodecs: routerSets.full, kind, rtpParameters: params },
			(i) => produce(i.kind, i.rtpParameters, ortc.generateRouterRtpCapabilities(i.mediaCodecs))));
	}
	for (const [plid, mode] of h264Plids) {
		for (const set of ['h264 without profile-level-id', 'h264 level 5.2 no asymmetry']) {
			vectors.push(run(`H264 ${plid ?? 'none'} mode ${JSON.stringify(mode)} [router: ${set}]`, 'produce',
				{ mediaCodecs: routerSets[set], kind: 'video', rtpParameters: h264Params(plid, mode) },
				(i) => produce(i.kind, i.rtpParameters, ortc.generateRouterRtpCapabilities(i.mediaCodecs))));
		}
	}
	vectors.push(run('VP9 on a VP8-only router', 'produce', { mediaCodecs: routerSets.basic, kind: 'video', rtpParameters: vp9Svc('L3T3') },
		(i) => produce(i.kind, i.rtpParameters, ortc.generateRouterRtpCapabilities(i.mediaCodecs))));
	return vectors;
}

// ----------------------------------------------------------------------------------------------
// Consumers: Router.canConsume() and Transport.consume()'s ortc steps, on browser-like
// capabilities.

const chromeCaps = {
	codecs: [
		{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc' }, { type: 'nack' }] },
		{ kind: 'audio', mimeType: 'audio/red', preferredPayloadType: 63, clockRate: 48000, channels: 2, parameters: { '': '111/111' } },
		{ kind: 'audio', mimeType: 'audio/G722', preferredPayloadType: 9, clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/PCMU', preferredPayloadType: 0, clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/PCMA', preferredPayloadType: 8, clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/CN', preferredPayloadType: 13, clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/telephone-event', preferredPayloadType: 126, clockRate: 48000 },
		{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 96, clockRate: 90000, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 97, clockRate: 90000, parameters: { apt: 96 } },
		{ kind: 'video', mimeType: 'video/VP9', preferredPayloadType: 98, clockRate: 90000, parameters: { 'profile-id': 0 }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 99, clockRate: 90000, parameters: { apt: 98 } },
		{ kind: 'video', mimeType: 'video/VP9', preferredPayloadType: 100, clockRate: 90000, parameters: { 'profile-id': 2 }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 101, clockRate: 90000, parameters: { apt: 100 } },
		{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 102, clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42001f' }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 103, clockRate: 90000, parameters: { apt: 102 } },
		{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 104, clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 0, 'profile-level-id': '42001f' }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 106, clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 107, clockRate: 90000, parameters: { apt: 106 } },
		{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 108, clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 0, 'profile-level-id': '42e01f' }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 127, clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '4d001f' }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 125, clockRate: 90000, parameters: { apt: 127 } },
		{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 112, clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '64001f' }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 113, clockRate: 90000, parameters: { apt: 112 } },
		{ kind: 'video', mimeType: 'video/AV1', preferredPayloadType: 45, clockRate: 90000, parameters: { 'level-idx': 5, profile: 0, tier: 0 }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 46, clockRate: 90000, parameters: { apt: 45 } },
		{ kind: 'video', mimeType: 'video/H265', preferredPayloadType: 49, clockRate: 90000, parameters: { 'level-id': 93, 'profile-id': 1, 'tier-flag': 0, 'tx-mode': 'SRST' }, rtcpFeedback: FB_VIDEO },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 50, clockRate: 90000, parameters: { apt: 49 } },
		{ kind: 'video', mimeType: 'video/red', preferredPayloadType: 116, clockRate: 90000 },
		{ kind: 'video', mimeType: 'video/ulpfec', preferredPayloadType: 118, clockRate: 90000 },
	],
	headerExtensions: [
		{ kind: 'audio', uri: EXT.level, preferredId: 1, direction: 'sendrecv' },
		{ kind: 'audio', uri: EXT.abs, preferredId: 2 },
		{ kind: 'audio', uri: EXT.twcc, preferredId: 3 },
		{ kind: 'audio', uri: EXT.mid, preferredId: 4 },
		{ kind: 'video', uri: EXT.toffset, preferredId: 14 },
		{ kind: 'video', uri: EXT.abs, preferredId: 2 },
		{ kind: 'video', uri: EXT.twcc, preferredId: 3 },
		{ kind: 'video', uri: EXT.orient, preferredId: 13 },
		{ kind: 'video', uri: EXT.playout, preferredId: 12 },
		{ kind: 'video', uri: EXT.mid, preferredId: 4 },
		{ kind: 'video', uri: EXT.rid, preferredId: 10 },
		{ kind: 'video', uri: EXT.rrid, preferredId: 11 },
		{ kind: 'video', uri: EXT.dd, preferredId: 8 },
	],
};
const firefoxCaps = {
	codecs: [
		{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 109, clockRate: 48000, channels: 2, parameters: { maxplaybackrate: 48000, 'stereo': 1, useinbandfec: 1 } },
		{ kind: 'audio', mimeType: 'audio/G722', preferredPayloadType: 9, clockRate: 8000, channels: 1 },
		{ kind: 'audio', mimeType: 'audio/PCMU', preferredPayloadType: 0, clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/PCMA', preferredPayloadType: 8, clockRate: 8000 },
		{ kind: 'audio', mimeType: 'audio/telephone-event', preferredPayloadType: 101, clockRate: 8000, parameters: { '0-15': '' } },
		{ kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 120, clockRate: 90000, parameters: { 'max-fs': 12288, 'max-fr': 60 }, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }] },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 124, clockRate: 90000, parameters: { apt: 120 } },
		{ kind: 'video', mimeType: 'video/VP9', preferredPayloadType: 121, clockRate: 90000, parameters: { 'max-fs': 12288, 'max-fr': 60 }, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }] },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 125, clockRate: 90000, parameters: { apt: 121 } },
		{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 126, clockRate: 90000, parameters: { 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1, 'packetization-mode': 1 }, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }] },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 127, clockRate: 90000, parameters: { apt: 126 } },
		{ kind: 'video', mimeType: 'video/H264', preferredPayloadType: 97, clockRate: 90000, parameters: { 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 }, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }] },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 98, clockRate: 90000, parameters: { apt: 97 } },
		{ kind: 'video', mimeType: 'video/AV1', preferredPayloadType: 99, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }, { type: 'transport-cc' }] },
		{ kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 100, clockRate: 90000, parameters: { apt: 99 } },
		{ kind: 'video', mimeType: 'video/ulpfec', preferredPayloadType: 123, clockRate: 90000 },
		{ kind: 'video', mimeType: 'video/red', preferredPayloadType: 122, clockRate: 90000 },
	],
	headerExtensions: [
		{ kind: 'audio', uri: EXT.level, preferredId: 1 },
		{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:csrc-audio-level', preferredId: 2, direction: 'recvonly' },
		{ kind: 'audio', uri: EXT.mid, preferredId: 3 },
		{ kind: 'video', uri: EXT.mid, preferredId: 3 },
		{ kind: 'video', uri: EXT.abs, preferredId: 4 },
		{ kind: 'video', uri: EXT.toffset, preferredId: 5 },
		{ kind: 'video', uri: EXT.playout, preferredId: 6, direction: 'recvonly' },
		{ kind: 'video', uri: EXT.twcc, preferredId: 7 },
	],
};
// What mediasoup-client's Device reports after loading the "full" router: router payload types
// and header extension ids, Chrome's codec set.
const fullRouterCaps = ortc.generateRouterRtpCapabilities(clone(FULL_CODECS));
const clientChromeCaps = {
	codecs: fullRouterCaps.codecs.filter((c) => c.mimeType !== 'video/H265'),
	headerExtensions: fullRouterCaps.headerExtensions.filter((e) => e.uri !== EXT.twcc || e.kind === 'video'),
};
const clientNoTwccCaps = {
	codecs: fullRouterCaps.codecs,
	headerExtensions: fullRouterCaps.headerExtensions.filter((e) => e.uri !== EXT.twcc),
};
const clientNoBweCaps = {
	codecs: fullRouterCaps.codecs,
	headerExtensions: fullRouterCaps.headerExtensions.filter((e) => e.uri !== EXT.twcc && e.uri !== EXT.abs),
};
const audioOnlyCaps = { codecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, rtcpFeedback: [{ type: 'nack' }] }] };
const noRtxCaps = { codecs: fullRouterCaps.codecs.filter((c) => !c.mimeType.endsWith('/rtx')), headerExtensions: fullRouterCaps.headerExtensions };

const consumerCaps = {
	chrome: chromeCaps,
	firefox: firefoxCaps,
	'mediasoup-client chrome': clientChromeCaps,
	'no transport-cc': clientNoTwccCaps,
	'no bwe extension': clientNoBweCaps,
	'audio only': audioOnlyCaps,
	'no rtx': noRtxCaps,
	empty: {},
};

const consumedProducers = [
	['opus', 'audio', opusParams],
	['VP8 simulcast rids', 'video', vp8Simulcast('L1T3')],
	['VP8 simulcast ssrcs', 'video', vp8SimulcastSsrcs],
	['VP9 L3T3_KEY', 'video', vp9Svc('L3T3_KEY')],
	['VP9 profile 2 L1T3', 'video', vp9Svc('L1T3', 2)],
	['H264 42e01f', 'video', h264Params('42e01f', 1, { 'level-asymmetry-allowed': 1 })],
	['H264 640032', 'video', h264Params('640032', 1, { 'level-asymmetry-allowed': 1 })],
	['AV1', 'video', { codecs: [vcodec('video/AV1', 45), rtx(46, 45)], headerExtensions: [...videoExts, { uri: EXT.dd, id: 8 }], encodings: [{ ssrc: 51111111, rtx: { ssrc: 51111112 }, scalabilityMode: 'L1T3' }], rtcp: { cname: 'c' } }],
	['H265', 'video', { codecs: [vcodec('video/H265', 49), rtx(50, 49)], encodings: [{ ssrc: 61111111 }] }],
];

function consume(i) {
	const routerCaps = ortc.generateRouterRtpCapabilities(i.mediaCodecs);
	const { consumableRtpParameters } = produce(i.kind, i.rtpParameters, routerCaps);
	const canConsume = ortc.canConsume(consumableRtpParameters, clone(i.rtpCapabilities));
	const caps = clone(i.rtpCapabilities);
	ortc.validateRtpCapabilities(caps);
	nextRandom = RANDOM_START + 50 * RANDOM_STEP;
	let consumer;
	try {
		consumer = { rtpParameters: ortc.getConsumerRtpParameters({ consumableRtpParameters, remoteRtpCapabilities: caps, pipe: i.pipe, enableRtx: i.enableRtx }) };
	}
	catch (error) {
		consumer = { error: describeError(error) };
	}
	return { canConsume, consumer };
}

function consumerVectors() {
	const vectors = [];
	for (const [pname, kind, params] of consumedProducers) {
		for (const [cname, caps] of Object.entries(consumerCaps)) {
			const combos = kind === 'audio' ? [[false, false], [true, false], [false, true]] : [[true, false], [false, false], [true, true], [false, true]];
			for (const [enableRtx, pipe] of combos) {
				vectors.push(run(`${pname} -> ${cname} rtx=${enableRtx} pipe=${pipe}`, 'consume',
					{ mediaCodecs: FULL_CODECS, kind, rtpParameters: params, rtpCapabilities: caps, enableRtx, pipe }, consume));
			}
		}
		for (const enableRtx of [true, false]) {
			vectors.push(run(`${pname} pipe consumer rtx=${enableRtx}`, 'pipeConsume',
				{ mediaCodecs: FULL_CODECS, kind, rtpParameters: params, enableRtx },
				(i) => {
					const { consumableRtpParameters } = produce(i.kind, i.rtpParameters, ortc.generateRouterRtpCapabilities(i.mediaCodecs));
					nextRandom = RANDOM_START + 50 * RANDOM_STEP;
					return ortc.getPipeConsumerRtpParameters({ consumableRtpParameters, enableRtx: i.enableRtx });
				}));
		}
	}
	// canConsume with invalid capabilities throws (Router.canConsume() turns that into false).
	for (const [name, caps] of [['codecs not an array', { codecs: 5 }], ['codec without clockRate', { codecs: [{ mimeType: 'audio/opus' }] }], ['null', null]]) {
		vectors.push(run(`canConsume with invalid caps: ${name}`, 'canConsume',
			{ mediaCodecs: FULL_CODECS, kind: 'audio', rtpParameters: opusParams, rtpCapabilities: caps },
			(i) => {
				const { consumableRtpParameters } = produce(i.kind, i.rtpParameters, ortc.generateRouterRtpCapabilities(i.mediaCodecs));
				return ortc.canConsume(consumableRtpParameters, i.rtpCapabilities);
			}));
	}
	return vectors;
}

// ----------------------------------------------------------------------------------------------
// Helpers: scalability modes and H264 profile-level-id.

function helperVectors() {
	const vectors = [];
	for (const mode of ['L1T1', 'L1T2', 'L1T3', 'L2T3', 'L3T3', 'L3T3_KEY', 'L3T3_KEY_SHIFT', 'S2T3', 'S3T3', 'L2T2h', 'L10T12', 'L0T1', 'L1T0', 'l1t3', 'T3', 'foo', '', 'L99T99', 'L100T1', null, 5]) {
		vectors.push(run(`scalability mode ${JSON.stringify(mode)}`, 'parseScalabilityMode', { mode }, (i) => parseScalabilityMode(i.mode)));
	}
	const plids = ['42e01f', '42E01F', '42001f', '42c01f', '42f00b', '42100b', '4d100b', '42e00b', '42000b', '4d001f', '4d0032', '4d400a', '58f01f', '58a01f', '64001f', '640c1f', '640032', 'f4001f', '640c0b', '000000', 'zzzzzz', '42e0zz', ' 42e01', '0x42e0', '-42e01', '42e01', '42e01f0', '42e015', '6d001f', 5];
	for (const plid of plids) {
		vectors.push(run(`parse profile-level-id ${JSON.stringify(plid)}`, 'h264.parseProfileLevelId', { plid },
			(i) => { const p = h264.parseProfileLevelId(i.plid); return p ? { profile: p.profile, level: p.level, string: h264.profileLevelIdToString(p) ?? null } : null; }));
	}
	const pairs = [
		[{}, {}], [{ 'profile-level-id': '42e01f' }, {}], [{}, { 'profile-level-id': '42e01f' }],
		[{ 'profile-level-id': '42e034' }, { 'profile-level-id': '42e01f' }],
		[{ 'profile-level-id': '42e034', 'level-asymmetry-allowed': 1 }, { 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 }],
		[{ 'profile-level-id': '42e034', 'level-asymmetry-allowed': '1' }, { 'profile-level-id': '42e01f', 'level-asymmetry-allowed': true }],
		[{ 'profile-level-id': '42e034', 'level-asymmetry-allowed': 1 }, { 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 0 }],
		[{ 'profile-level-id': '42e00b' }, { 'profile-level-id': '42f00b' }],
		[{ 'profile-level-id': '42f00b' }, { 'profile-level-id': '42e00b' }],
		[{ 'profile-level-id': '42f00b' }, { 'profile-level-id': '42e00a' }],
		[{ 'profile-level-id': '42e00a' }, { 'profile-level-id': '42f00b' }],
		[{ 'profile-level-id': '4d001f' }, { 'profile-level-id': '42e01f' }],
		[{ 'profile-level-id': '640c1f' }, { 'profile-level-id': '640c34' }],
		[{ 'profile-level-id': 'zzzzzz' }, { 'profile-level-id': '42e01f' }],
		[{ 'profile-level-id': '42e01f' }, { 'profile-level-id': 'zzzzzz' }],
		[{ 'profile-level-id': '4d100b' }, { 'profile-level-id': '4d001f' }],
	];
	for (const [a, b] of pairs) {
		vectors.push(run(`answer ${JSON.stringify(a)} / ${JSON.stringify(b)}`, 'h264.answer', { local: a, remote: b },
			(i) => ({ sameProfile: h264.isSameProfile(i.local, i.remote), answer: h264.generateProfileLevelIdStringForAnswer(i.local, i.remote) ?? null })));
	}
	return vectors;
}

// ----------------------------------------------------------------------------------------------

const files = {
	'router_capabilities.json': routerVectors(),
	'validation.json': validationVectors(),
	'producers.json': producerVectors(),
	'consumers.json': consumerVectors(),
	'helpers.json': helperVectors(),
};

// Inputs shared by many vectors are stored once per file under "shared" and referenced as
// {"$ref": name}; the Python test resolves them.
const sharedInputs = {
	'mediaCodecs:full': FULL_CODECS,
	...Object.fromEntries(Object.entries(consumerCaps).map(([k, v]) => [`rtpCapabilities:${k}`, v])),
	...Object.fromEntries(consumedProducers.map(([k, , v]) => [`rtpParameters:${k}`, v])),
};
const sharedByJson = new Map(Object.entries(sharedInputs).map(([k, v]) => [JSON.stringify(jsonCopy(v)), k]));

function factorOut(vector, shared) {
	if (!vector.input || typeof vector.input !== 'object') return vector;
	for (const [key, value] of Object.entries(vector.input)) {
		const json = JSON.stringify(value);
		const ref = value && typeof value === 'object' && json.length > 50 ? sharedByJson.get(json) : undefined;
		if (ref) {
			shared[ref] = value;
			vector.input[key] = { $ref: ref };
		}
	}
	return vector;
}

mkdirSync(outDir, { recursive: true });
let total = 0;
for (const [file, vectors] of Object.entries(files)) {
	const names = new Set();
	for (const v of vectors) {
		if (names.has(`${v.fn}:${v.name}`)) throw new Error(`duplicate vector name in ${file}: ${v.name}`);
		names.add(`${v.fn}:${v.name}`);
	}
	const shared = {};
	const lines = vectors.map((v) => JSON.stringify(factorOut(v, shared)));
	const header = {
		generator: 'scripts/golden/make_ortc_vectors.mjs',
		mediasoup: pkg.version,
		'h264-profile-level-id': h264Version,
		random: { start: RANDOM_START, step: RANDOM_STEP },
	};
	const text = `${JSON.stringify(header, null, 1).slice(0, -2)},\n "shared": ${JSON.stringify(shared, null, 1)},\n "vectors": [\n${lines.join(',\n')}\n]}\n`;
	JSON.parse(text);
	writeFileSync(path.join(outDir, file), text);
	total += vectors.length;
	console.log(`${file}: ${vectors.length} vectors`);
}
console.log(`total: ${total} vectors`);
