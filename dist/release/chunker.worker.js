import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ var __webpack_modules__ = ({});
/************************************************************************/
/******/ // The module cache
/******/ var __webpack_module_cache__ = {};
/******/ 
/******/ // The require function
/******/ function __nccwpck_require__(moduleId) {
/******/ 	// Check if module is in cache
/******/ 	var cachedModule = __webpack_module_cache__[moduleId];
/******/ 	if (cachedModule !== undefined) {
/******/ 		return cachedModule.exports;
/******/ 	}
/******/ 	// Create a new module (and put it into the cache)
/******/ 	var module = __webpack_module_cache__[moduleId] = {
/******/ 		// no module.id needed
/******/ 		// no module.loaded needed
/******/ 		exports: {}
/******/ 	};
/******/ 
/******/ 	// Execute the module function
/******/ 	var threw = true;
/******/ 	try {
/******/ 		__webpack_modules__[moduleId](module, module.exports, __nccwpck_require__);
/******/ 		threw = false;
/******/ 	} finally {
/******/ 		if(threw) delete __webpack_module_cache__[moduleId];
/******/ 	}
/******/ 
/******/ 	// Return the exports of the module
/******/ 	return module.exports;
/******/ }
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/create fake namespace object */
/******/ (() => {
/******/ 	var getProto = Object.getPrototypeOf ? (obj) => (Object.getPrototypeOf(obj)) : (obj) => (obj.__proto__);
/******/ 	var leafPrototypes;
/******/ 	// create a fake namespace object
/******/ 	// mode & 1: value is a module id, require it
/******/ 	// mode & 2: merge all properties of value into the ns
/******/ 	// mode & 4: return value when already ns object
/******/ 	// mode & 16: return value when it's Promise-like
/******/ 	// mode & 8|1: behave like require
/******/ 	__nccwpck_require__.t = function(value, mode) {
/******/ 		if(mode & 1) value = this(value);
/******/ 		if(mode & 8) return value;
/******/ 		if(typeof value === 'object' && value) {
/******/ 			if((mode & 4) && value.__esModule) return value;
/******/ 			if((mode & 16) && typeof value.then === 'function') return value;
/******/ 		}
/******/ 		var ns = Object.create(null);
/******/ 		__nccwpck_require__.r(ns);
/******/ 		var def = {};
/******/ 		leafPrototypes = leafPrototypes || [null, getProto({}), getProto([]), getProto(getProto)];
/******/ 		for(var current = mode & 2 && value; typeof current == 'object' && !~leafPrototypes.indexOf(current); current = getProto(current)) {
/******/ 			Object.getOwnPropertyNames(current).forEach((key) => (def[key] = () => (value[key])));
/******/ 		}
/******/ 		def['default'] = () => (value);
/******/ 		__nccwpck_require__.d(ns, def);
/******/ 		return ns;
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/******/ /* webpack/runtime/make namespace object */
/******/ (() => {
/******/ 	// define __esModule on exports
/******/ 	__nccwpck_require__.r = (exports) => {
/******/ 		if(typeof Symbol !== 'undefined' && Symbol.toStringTag) {
/******/ 			Object.defineProperty(exports, Symbol.toStringTag, { value: 'Module' });
/******/ 		}
/******/ 		Object.defineProperty(exports, '__esModule', { value: true });
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/compat */
/******/ 
/******/ if (typeof __nccwpck_require__ !== 'undefined') __nccwpck_require__.ab = new URL('.', import.meta.url).pathname.slice(import.meta.url.match(/^file:\/\/\/\w:/) ? 1 : 0, -1) + "/";
/******/ 
/************************************************************************/
var __webpack_exports__ = {};

// EXPORTS
__nccwpck_require__.d(__webpack_exports__, {
  Ex: () => (/* binding */ confirmKnownChunks),
  p$: () => (/* binding */ handle),
  TW: () => (/* binding */ scanFileCuts)
});

;// CONCATENATED MODULE: external "node:crypto"
const external_node_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");
;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
var external_node_fs_namespaceObject_0 = /*#__PURE__*/__nccwpck_require__.t(external_node_fs_namespaceObject, 2);
;// CONCATENATED MODULE: external "node:worker_threads"
const external_node_worker_threads_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:worker_threads");
;// CONCATENATED MODULE: ./lib/core/thread-protocol.js

/** A worker module's name: its file's name without the extension, the same for its .ts, .js and bundle. */
function workerName(file) {
    const name = String(file).split(/[\\/]/).pop() ?? '';
    return name.replace(/\.(?:[cm]?js|ts)$/, '');
}
/**
 * Answers the jobs of the thread this module was started as, with `handle`; does nothing when the
 * module is imported anywhere else (by a test, or on the main thread). `moduleUrl` is the worker
 * module's import.meta.url. A job that throws is answered with the error's code, message and file.
 */
function serveJobs(moduleUrl, handle) {
    const port = external_node_worker_threads_namespaceObject.parentPort;
    if (!port || external_node_worker_threads_namespaceObject.workerData?.serves !== workerName(moduleUrl))
        return;
    port.on('message', ({ id, job }) => {
        let reply;
        try {
            reply = { id, result: handle(job) };
        }
        catch (error) {
            const { code, message, file } = error;
            reply = { id, error: { code, message, file } };
        }
        port.postMessage(reply);
    });
}

;// CONCATENATED MODULE: ./lib/core/store/fastcdc.js

const DEFAULT_CHUNK_PARAMS = {
    minSize: 512 * 1024,
    avgSize: 2 * 1024 * 1024,
    maxSize: 8 * 1024 * 1024
};
/** 256 pseudo-random 32-bit values, fixed forever: changing them changes every chunk boundary. */
const GEAR = (() => {
    // Int32: the rolling hash stays a small integer for V8 (uint32 values above 2^31 become doubles).
    const table = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
        table[i] = (0,external_node_crypto_namespaceObject.createHash)('sha256').update(`artifact-action gear ${i}`).digest().readInt32BE(0);
    }
    return table;
})();
/** The top `bits` bits of a 32-bit word: they depend on the last 32 bytes seen. */
function topBitsMask(bits) {
    return (0xffffffff << (32 - bits)) | 0;
}
function cutOptions(params) {
    const bits = Math.round(Math.log2(params.avgSize));
    const { minSize, avgSize, maxSize } = params;
    const strict = topBitsMask(Math.min(bits + 1, 31));
    const loose = topBitsMask(Math.max(bits - 1, 1));
    return { minSize, avgSize, maxSize, gear: GEAR, strict, loose };
}
/** Length of the first chunk of `data[start, end)`, which holds at least one chunk's worth or the end of the input. */
function findCut(data, start, end, options) {
    const { minSize, avgSize, maxSize, gear, strict, loose } = options;
    const remaining = end - start;
    if (remaining <= minSize)
        return remaining;
    const limit = Math.min(remaining, maxSize);
    const normal = Math.min(limit, avgSize);
    let hash = 0;
    let i = minSize;
    for (; i < normal; i++) {
        hash = ((hash << 1) + gear[data[start + i]]) | 0;
        if ((hash & strict) === 0)
            return i + 1;
    }
    for (; i < limit; i++) {
        hash = ((hash << 1) + gear[data[start + i]]) | 0;
        if ((hash & loose) === 0)
            return i + 1;
    }
    return limit;
}
/** Splits an in-memory buffer; the same cuts as CutFinder gives for a file with these bytes. */
function chunkBuffer(data, params = DEFAULT_CHUNK_PARAMS) {
    const options = cutOptions(params);
    const chunks = [];
    let start = 0;
    while (start < data.length) {
        const cut = findCut(data, start, data.length, options);
        chunks.push(data.subarray(start, start + cut));
        start += cut;
    }
    return chunks;
}

;// CONCATENATED MODULE: ./lib/core/store/chunker.worker.js




/**
 * The chunk lengths of an open file from `position` on, read in a window of two maximum chunks that
 * is compacted only once more than a maximum chunk of it has been consumed.
 */
function scanFileCuts(fs, fd, position, buffer, options) {
    const { maxSize } = options;
    const cuts = [];
    let start = 0;
    let end = 0;
    let eof = false;
    for (;;) {
        if (!eof && end - start < maxSize) {
            if (start >= maxSize) {
                buffer.copyWithin(0, start, end);
                end -= start;
                start = 0;
            }
            while (!eof && end < buffer.length) {
                const bytesRead = fs.readSync(fd, buffer, end, buffer.length - end, position);
                if (bytesRead === 0)
                    eof = true;
                end += bytesRead;
                position += bytesRead;
            }
        }
        if (end === start)
            return cuts;
        const length = findCut(buffer, start, end, options);
        cuts.push(length);
        start += length;
    }
}
/**
 * How many of a file's chunks in an earlier save (`lengths`, and `digests` as hex back to back) it
 * still starts with, checked by sha256. A cut depends only on the bytes of its chunk, so a chunk
 * with the same bytes ends at the same cut; the last known chunk may have ended where the file did
 * rather than at a cut, so it is never confirmed.
 */
function confirmKnownChunks(fs, fd, buffer, lengths, digests, sha256) {
    let confirmed = 0;
    let position = 0;
    for (; confirmed < lengths.length - 1; confirmed++) {
        const length = lengths[confirmed];
        if (length > buffer.length)
            break;
        let filled = 0;
        for (let read = -1; read !== 0 && filled < length; filled += read)
            read = fs.readSync(fd, buffer, filled, length - filled, position + filled);
        if (filled !== length || sha256(buffer.subarray(0, length)) !== digests.slice(confirmed * 64, confirmed * 64 + 64))
            break;
        position += length;
    }
    return confirmed;
}
const sha256 = (data) => (0,external_node_crypto_namespaceObject.hash)('sha256', data, 'hex');
/** The window a thread reads files through, kept from job to job: two maximum chunks. */
let chunker_worker_window;
function handle({ file, lengths, digests, params }) {
    if (chunker_worker_window?.length !== params.maxSize * 2)
        chunker_worker_window = Buffer.allocUnsafe(params.maxSize * 2);
    const fd = external_node_fs_namespaceObject.openSync(file, 'r');
    try {
        const confirmed = confirmKnownChunks(external_node_fs_namespaceObject_0, fd, chunker_worker_window, lengths, digests, sha256);
        const known = lengths.slice(0, confirmed);
        const position = known.reduce((sum, length) => sum + length, 0);
        return { cuts: known.concat(scanFileCuts(external_node_fs_namespaceObject_0, fd, position, chunker_worker_window, cutOptions(params))), confirmed };
    }
    finally {
        external_node_fs_namespaceObject.closeSync(fd);
    }
}
serveJobs(import.meta.url, handle);

var __webpack_exports__confirmKnownChunks = __webpack_exports__.Ex;
var __webpack_exports__handle = __webpack_exports__.p$;
var __webpack_exports__scanFileCuts = __webpack_exports__.TW;
export { __webpack_exports__confirmKnownChunks as confirmKnownChunks, __webpack_exports__handle as handle, __webpack_exports__scanFileCuts as scanFileCuts };
