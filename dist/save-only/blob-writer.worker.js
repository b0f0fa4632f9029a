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
  p: () => (/* binding */ handle)
});

;// CONCATENATED MODULE: external "node:crypto"
const external_node_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");
;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
var external_node_fs_namespaceObject_0 = /*#__PURE__*/__nccwpck_require__.t(external_node_fs_namespaceObject, 2);
;// CONCATENATED MODULE: external "node:zlib"
const external_node_zlib_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:zlib");
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

;// CONCATENATED MODULE: ./lib/core/store/file-times.js
/**
 * The seconds futimes takes for a whole-millisecond mtime. libuv cuts seconds to the nanosecond
 * and a file system to its step (1 ns, 100 ns, 1 µs), and `ms / 1000` is often a hair below the
 * millisecond; half a microsecond more makes the file's mtimeMs that millisecond exactly, which is
 * what a save compares. The writer threads and the restore's main thread use it.
 */
function futimesSeconds(mtimeMs) {
    return mtimeMs / 1000 + 5e-7;
}

;// CONCATENATED MODULE: ./lib/core/store/open-replacing.js
/** Errors of an open that something in the way causes. */
const IN_THE_WAY = ['EEXIST', 'ELOOP', 'ETXTBSY', 'ENXIO', 'EACCES'];
/**
 * Opens a file for writing in place of whatever non-directory is there. With O_EXCL in `flags`
 * anything in the way fails (EEXIST) and is replaced by a new file; with O_NOFOLLOW a symlink in
 * the way fails (ELOOP) instead of being followed; it is replaced, as are a busy executable, a
 * FIFO and a read-only file. `inTheWay`: something may be there, so it is looked for first (a
 * failed open costs far more than a look). The writer threads and the restore's main thread use it.
 */
function openReplacing(fs, file, flags, mode, inTheWay = true) {
    if (inTheWay && fs.lstatSync(file, { throwIfNoEntry: false })?.isDirectory() === false)
        fs.unlinkSync(file);
    try {
        return fs.openSync(file, flags, mode);
    }
    catch (error) {
        const code = error.code;
        if (!IN_THE_WAY.includes(code ?? ''))
            throw error;
        fs.unlinkSync(file);
        return fs.openSync(file, flags, mode);
    }
}

;// CONCATENATED MODULE: ./lib/core/store/write-job.js
/** A blob's fields in `numbers`: where its stored bytes are in `bytes`, their codec, and its target count. */
const BLOB = {
    offset: 0,
    length: 1,
    /** Raw size. */
    size: 2,
    codec: 3,
    /** Place within its shared frame, and the frame's raw size (else 0). */
    within: 4,
    frameSize: 5,
    targets: 6,
    count: 7
};
/**
 * A target's fields: where the blob goes in its file; whole (1: the blob is the whole file, 2: the same where
 * something may be in the way, 0: a chunk at the position); mode; mtime (NaN when none).
 */
const TARGET = { position: 0, whole: 1, mode: 2, mtime: 3, count: 4 };
/** Lays out a WriteJob: each blob, in offset order, followed by its targets. */
class WriteJobBuilder {
    numbers = new Float64Array(1024);
    length = 0;
    files = [];
    digests = [];
    /** Where the last blob's fields start. */
    blobAt = -1;
    blob(digest, offset, length, size, codec, within, frameSize) {
        this.blobAt = this.length;
        // In BLOB's order.
        this.push(offset, length, size, codec, within, frameSize, 0);
        this.digests.push(digest);
    }
    /**
     * A target of the last blob: the `whole` file, or a chunk of it at `position`; `mtime` NaN when none.
     * `inTheWay`: the file's directory was there before, so something may already be at its place (a new
     * directory of the restore holds nothing).
     */
    target(file, position, whole, mode, mtime, inTheWay = true) {
        this.numbers[this.blobAt + BLOB.targets]++;
        // In TARGET's order.
        this.push(position, whole ? (inTheWay ? 2 : 1) : 0, mode, mtime);
        this.files.push(file);
    }
    build(bytes) {
        let fileBytes = 0;
        for (const file of this.files)
            fileBytes += Buffer.byteLength(file) + 1;
        // Plain typed arrays, each with a buffer of its own, so that they can move to a thread.
        const files = new Uint8Array(fileBytes);
        const fileText = Buffer.from(files.buffer);
        let at = 0;
        for (const file of this.files)
            at += fileText.write(file, at) + 1;
        const digests = new Uint8Array(32 * this.digests.length);
        const digestBytes = Buffer.from(digests.buffer);
        this.digests.forEach((digest, blob) => digestBytes.write(digest, 32 * blob, 32, 'hex'));
        return { bytes, numbers: this.numbers.slice(0, this.length), files, digests };
    }
    push(...values) {
        if (this.length + values.length > this.numbers.length) {
            const grown = new Float64Array(2 * this.numbers.length);
            grown.set(this.numbers);
            this.numbers = grown;
        }
        this.numbers.set(values, this.length);
        this.length += values.length;
    }
}
/** Codes a writer thread fails with when a blob is not what the manifest says. */
const BLOB_UNDECODABLE = 'EBLOBDECODE';
const BLOB_MISMATCH = 'EBLOBDIGEST';
/**
 * Reads a WriteJob in the order it was laid out: `nextBlob()` moves to the next blob and
 * `nextTarget()` to the next target of the current blob, each setting the fields below.
 */
class WriteJobReader {
    offset = 0;
    length = 0;
    size = 0;
    codec = 0;
    within = 0;
    frameSize = 0;
    targets = 0;
    digest = '';
    file = '';
    position = 0;
    whole = false;
    inTheWay = false;
    mode = 0;
    mtime = NaN;
    at = 0;
    blob = -1;
    /** Where the next target's file starts in `files`. */
    fileAt = 0;
    job;
    files;
    digests;
    // No parameter property: a writer thread run from the sources takes this file as node strips it.
    constructor(job) {
        this.job = job;
        this.files = Buffer.from(job.files.buffer, job.files.byteOffset, job.files.byteLength);
        this.digests = Buffer.from(job.digests.buffer, job.digests.byteOffset, job.digests.byteLength);
    }
    nextBlob() {
        const { numbers } = this.job;
        const at = this.at;
        if (at >= numbers.length)
            return false;
        this.offset = numbers[at + BLOB.offset];
        this.length = numbers[at + BLOB.length];
        this.size = numbers[at + BLOB.size];
        this.codec = numbers[at + BLOB.codec];
        this.within = numbers[at + BLOB.within];
        this.frameSize = numbers[at + BLOB.frameSize];
        this.targets = numbers[at + BLOB.targets];
        this.at += BLOB.count;
        this.blob++;
        this.digest = this.digests.toString('hex', this.blob * 32, this.blob * 32 + 32);
        return true;
    }
    nextTarget() {
        const { numbers } = this.job;
        const at = this.at;
        this.position = numbers[at + TARGET.position];
        this.whole = numbers[at + TARGET.whole] !== 0;
        this.inTheWay = numbers[at + TARGET.whole] === 2;
        this.mode = numbers[at + TARGET.mode];
        this.mtime = numbers[at + TARGET.mtime];
        this.at += TARGET.count;
        const end = this.files.indexOf(0, this.fileAt);
        this.file = this.files.toString('utf8', this.fileAt, end);
        this.fileAt = end + 1;
    }
}

;// CONCATENATED MODULE: ./lib/core/store/blob-writer.worker.js







// Windows has no O_NOFOLLOW: a chunk's file there is opened following a link (the restore made the file itself).
const CHUNK_FLAGS = external_node_fs_namespaceObject.constants.O_WRONLY | (external_node_fs_namespaceObject.constants.O_NOFOLLOW ?? 0);
const failure = (code, message) => Object.assign(new Error(message), { code });
const unzstd = (stored, size) => external_node_zlib_namespaceObject.zstdDecompressSync(stored, { chunkSize: Math.max(64, size), maxOutputLength: Math.max(1, size) });
function writeAll(fd, data, position) {
    let written = 0;
    while (written < data.length) {
        written += external_node_fs_namespaceObject.writeSync(fd, data, written, data.length - written, position === null ? null : position + written);
    }
}
function handle(job) {
    const { bytes, flags, umask } = job;
    const blob = new WriteJobReader(job);
    // Blobs come in offset order, so a shared frame's blobs are neighbours: one decoded frame is kept.
    let frame;
    let frameOffset = -1;
    let current = '';
    let written = 0;
    try {
        while (blob.nextBlob()) {
            current = '';
            const { offset, size } = blob;
            const stored = bytes.subarray(offset, offset + blob.length);
            let raw;
            try {
                if (blob.codec === 0)
                    raw = stored;
                else if (blob.codec === 1)
                    raw = unzstd(stored, size);
                else {
                    if (frameOffset !== offset || !frame) {
                        frame = unzstd(stored, blob.frameSize);
                        frameOffset = offset;
                    }
                    raw = frame.subarray(blob.within, blob.within + size);
                }
            }
            catch {
                throw failure(BLOB_UNDECODABLE, 'a blob does not decode');
            }
            if (raw.length !== size || (0,external_node_crypto_namespaceObject.hash)('sha256', raw, 'hex') !== blob.digest) {
                throw failure(BLOB_MISMATCH, 'a blob does not match its sha256');
            }
            for (let target = 0; target < blob.targets; target++) {
                blob.nextTarget();
                const { whole, inTheWay, mode, mtime } = blob;
                current = blob.file;
                const fd = whole ? openReplacing(external_node_fs_namespaceObject_0, current, flags, mode, inTheWay) : external_node_fs_namespaceObject.openSync(current, CHUNK_FLAGS);
                try {
                    writeAll(fd, raw, whole ? null : blob.position);
                    if (whole && (mode & umask) !== 0)
                        external_node_fs_namespaceObject.fchmodSync(fd, mode);
                    if (whole && !Number.isNaN(mtime))
                        external_node_fs_namespaceObject.futimesSync(fd, futimesSeconds(mtime), futimesSeconds(mtime));
                }
                finally {
                    external_node_fs_namespaceObject.closeSync(fd);
                }
                written += raw.length;
            }
        }
    }
    catch (error) {
        if (current)
            error.file = current;
        throw error;
    }
    return written;
}
serveJobs(import.meta.url, handle);

var __webpack_exports__handle = __webpack_exports__.p;
export { __webpack_exports__handle as handle };
