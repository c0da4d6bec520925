// Where the bench's Node scripts load mediasoup 3.16.0's Node layer from, and which worker it
// runs: the reference install (scripts/setup-node-reference.sh, ~/.cache/conference/node-reference)
// or else a node_modules beside these scripts; MEDIASOUP_WORKER_BIN defaults to the worker the
// library builds (mediasoup-ctl-worker). Import it before loading mediasoup.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
const cacheDir = process.env.CONFERENCE_CACHE ?? path.join(os.homedir(), '.cache', 'conference');
const referenceDir = process.env.NODE_REFERENCE_DIR ?? path.join(cacheDir, 'node-reference');
const searchDir = existsSync(path.join(referenceDir, 'node_modules', 'mediasoup')) ? referenceDir : here;

// `require` as the reference install resolves packages (mediasoup, ws).
export const require = createRequire(path.join(searchDir, 'package.json'));

if (!process.env.MEDIASOUP_WORKER_BIN) {
	process.env.MEDIASOUP_WORKER_BIN = path.join(cacheDir, 'mediasoup-worker-3.16.0', 'bin', 'mediasoup-worker');
}
