/* Optional SHA-256 for the audit rows' hash chain, with the x86 SHA extensions (module
 * dana_workflows.schemas._sha256ni; schemas/sha256.py chooses it, tests/unit/schemas/test_sha256.py holds it
 * to hashlib).
 *
 * One job: two entry points, sha256_hex(bytes) and joined_sha256_hex(*parts), over one streaming state,
 * and sealed_row(*columns), joined_sha256_hex's digest with the audit row made around it (bind_row first).
 * They are module functions only where the build targets x86 with GCC/Clang (SHA_NI_BUILT = 1) and CPUID
 * says the CPU runs the SHA extensions; on any other build or CPU the module imports without them and
 * schemas/sha256.py uses hashlib. Its own extension, apart from the Avro codec's schemas/_avrofast.c, so
 * either can be absent or rebuilt without the other.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* ---- SHA-256 with the x86 SHA extensions ----------------------------------------------------------
 *
 * Why C: hashlib's sha256(data).hexdigest() costs ~0.9 us for a ~200-byte audit row on this project's
 * machines, of which the hashing is a fraction: OpenSSL 3 allocates and initialises a digest context per
 * call and hexdigest copies it before finalising. Reaching OpenSSL's block function without that would
 * mean linking libcrypto into this extension (a build dependency the image does not have). So the block
 * function is written here, for CPUs with the SHA extensions only (sha_ni: the SHA256RNDS2/MSG1/MSG2
 * instructions), chosen at run time by CPUID; everywhere else (other CPUs, other architectures, valgrind,
 * which does not offer the extensions) `sha256_hex` is not offered and the caller uses hashlib.
 * schemas/sha256.py checks it against hashlib when it loads and tests hold it to hashlib on every length
 * around the block and padding boundaries. */

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DWF_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t SHA256_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Whether this CPU runs the SHA extensions and the SSSE3/SSE4.1 shuffles and blends the block function
 * uses (CPUID leaf 1 ECX bits 9 and 19, leaf 7 EBX bit 29). */
static int sha_ni_available(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9)) || !(c & (1u << 19))) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 29)) != 0;
}

/* `blocks` 64-byte blocks of `data` into `state` (a, b, c, d, e, f, g, h). The instructions keep the
 * state as two vectors, ABEF and CDGH; the message schedule runs four words at a time: for words
 * 4j..4j+3 (j >= 4), MSG1 adds sigma0 of group j-3 to group j-4, the add brings in the words seven back
 * (group j-2 shifted by one word into group j-1), and MSG2 adds sigma1 of the two words before. */
__attribute__((target("sha,sse4.1,ssse3")))
static void sha256_blocks(uint32_t state[8], const unsigned char *data, size_t blocks) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);   /* a b c d (low to high) */
    __m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);    /* e f g h */
    tmp = _mm_shuffle_epi32(tmp, 0xB1);                           /* b a d c */
    s1 = _mm_shuffle_epi32(s1, 0x1B);                             /* h g f e */
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);                     /* f e b a: ABEF */
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);                          /* h g d c: CDGH */
    while (blocks--) {
        __m128i abef = s0, cdgh = s1, w[4];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) {
            __m128i m;
            if (j < 4) {
                m = w[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * j)), swap);
            } else {
                /* w[j & 3] holds MSG1(group j-4, group j-3) (set two groups ago, below) */
                __m128i seven = _mm_alignr_epi8(w[(j - 1) & 3], w[(j - 2) & 3], 4);
                m = w[j & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(w[j & 3], seven), w[(j - 1) & 3]);
            }
            __m128i k = _mm_add_epi32(m, _mm_loadu_si128((const __m128i *)&SHA256_K[4 * j]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, k);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(k, 0x0E));
            /* group j-2 is not read as it is any more: make it MSG1(group j-2, group j-1) for group j+2 */
            if (j >= 2 && j <= 13) w[(j - 2) & 3] = _mm_sha256msg1_epu32(w[(j - 2) & 3], w[(j - 1) & 3]);
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
        data += 64;
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);                            /* a b e f */
    s1 = _mm_shuffle_epi32(s1, 0xB1);                             /* d c h g */
    s0 = _mm_blend_epi16(tmp, s1, 0xF0);                          /* a b c d... as stored below */
    s1 = _mm_alignr_epi8(s1, tmp, 8);
    _mm_storeu_si128((__m128i *)&state[0], s0);
    _mm_storeu_si128((__m128i *)&state[4], s1);
}

/* A SHA-256 fed in pieces: whole blocks go straight to sha256_blocks, the rest waits in `buf`. */
typedef struct {
    uint32_t state[8];
    unsigned char buf[64];
    size_t used;      /* bytes waiting in buf, < 64 */
    uint64_t length;  /* bytes fed so far */
} Sha256;

static void sha_start(Sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->state, h0, sizeof h0);
    s->used = 0;
    s->length = 0;
}

static void sha_feed(Sha256 *s, const unsigned char *p, size_t n) {
    s->length += n;
    if (s->used > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->buf + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used < 64) return;
        sha256_blocks(s->state, s->buf, 1);
        s->used = 0;
    }
    if (n >= 64) {
        sha256_blocks(s->state, p, n / 64);
        p += n - n % 64;
        n %= 64;
    }
    memcpy(s->buf, p, n);
    s->used = n;
}

/* The padding (0x80, zeros, the bit length big-endian: one block, or two when over 55 bytes wait) and
 * the digest as 64 lowercase hex digits, as hexdigest() writes them. */
static PyObject *sha_hex(Sha256 *s) {
    unsigned char last[128];
    size_t tail = s->used, total = tail < 56 ? 64 : 128;
    memcpy(last, s->buf, tail);
    last[tail] = 0x80;
    memset(last + tail + 1, 0, total - tail - 1);
    uint64_t bits = s->length * 8;
    for (int i = 0; i < 8; i++) last[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha256_blocks(s->state, last, total / 64);
    PyObject *out = PyUnicode_New(64, 127);
    if (out == NULL) return NULL;
    Py_UCS1 *hex = PyUnicode_1BYTE_DATA(out);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        for (int k = 0; k < 8; k++) hex[8 * i + k] = (Py_UCS1)digits[(s->state[i] >> (28 - 4 * k)) & 0xF];
    }
    return out;
}

/* sha256_hex(data: bytes) -> str: hashlib.sha256(data).hexdigest(), for exact bytes. */
static PyObject *mod_sha256_hex(PyObject *m, PyObject *data) {
    (void)m;
    if (!PyBytes_CheckExact(data)) {
        PyErr_Format(PyExc_TypeError, "sha256_hex takes bytes, not %.100s", Py_TYPE(data)->tp_name);
        return NULL;
    }
    Sha256 s;
    sha_start(&s);
    sha_feed(&s, (const unsigned char *)PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data));
    return sha_hex(&s);
}

/* joined_sha256_hex(*parts) -> str | None: sha256("\x1f".join(f"{p}" for p in parts).encode()).hexdigest()
 * without the joined text, for parts that are exact str or exact int (an int's text is its decimal
 * digits); None for any other part, or a str that is not valid UTF-8 (a lone surrogate): the caller then
 * writes the text and hashes it, with its conversions and its errors. processors/audit_trail.py hashes
 * an audit row's 15 columns this way (sinks.audit_model.content_text). */
static PyObject *mod_joined_sha256_hex(PyObject *m, PyObject *const *parts, Py_ssize_t nparts) {
    (void)m;
    Sha256 s;
    sha_start(&s);
    for (Py_ssize_t i = 0; i < nparts; i++) {
        PyObject *v = parts[i];
        if (i > 0) sha_feed(&s, (const unsigned char *)"\x1f", 1);
        if (PyUnicode_CheckExact(v)) {
            if (PyUnicode_IS_ASCII(v)) {
                sha_feed(&s, PyUnicode_1BYTE_DATA(v), (size_t)PyUnicode_GET_LENGTH(v));
                continue;
            }
            Py_ssize_t n;
            const char *utf8 = PyUnicode_AsUTF8AndSize(v, &n);
            if (utf8 == NULL) {  /* not text .encode() takes: the caller's path raises its error */
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            sha_feed(&s, (const unsigned char *)utf8, (size_t)n);
        } else if (PyLong_CheckExact(v)) {
            int overflow;
            long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow != 0 || (x == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            char digits[24];
            size_t at = sizeof digits;
            unsigned long long mag = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
            do {
                digits[--at] = (char)('0' + mag % 10);
                mag /= 10;
            } while (mag > 0);
            if (x < 0) digits[--at] = '-';
            sha_feed(&s, (const unsigned char *)digits + at, sizeof digits - at);
        } else {
            Py_RETURN_NONE;  /* a bool, a float, a subclass...: converted by the caller's f-string */
        }
    }
    return sha_hex(&s);
}

/* ---- the audit row sealed in one call ------------------------------------------------------------
 *
 * processors/audit_trail.py `transition` writes ~7 audit rows an event: the columns' digest
 * (joined_sha256_hex) and then a row object with its 16 slots stored one by one from Python, ~0.12 us a
 * row of the ~0.27 us transition spends outside the hashing (docs/performance.md, "Session 15"). Here the
 * row is made as `AuditRow.__new__(AuditRow)` makes it (the type's tp_alloc) and its slots are stored
 * where the class's member descriptors say they are, in the same call that hashes the columns.
 * bind_row(cls, columns) names the class and its column slots once (it refuses a class whose column is not
 * a plain writable object slot of its own); sealed_row(*15 columns) then returns the row, its hash the
 * joined digest of those 15, or None where joined_sha256_hex says None (the caller's path decides). */
#define ROW_COLUMNS 16
static PyTypeObject *row_type = NULL;
static Py_ssize_t row_offsets[ROW_COLUMNS];

static PyObject *mod_bind_row(PyObject *m, PyObject *args) {
    (void)m;
    PyObject *cls, *names;
    if (!PyArg_ParseTuple(args, "O!O!", &PyType_Type, &cls, &PyTuple_Type, &names)) return NULL;
    PyTypeObject *t = (PyTypeObject *)cls;
    if (PyTuple_GET_SIZE(names) != ROW_COLUMNS || t->tp_itemsize != 0 || t->tp_alloc == NULL ||
        t->tp_dict == NULL) {
        PyErr_SetString(PyExc_ValueError, "bind_row takes a class with slots and its 16 column names");
        return NULL;
    }
    Py_ssize_t offsets[ROW_COLUMNS];
    for (Py_ssize_t i = 0; i < ROW_COLUMNS; i++) {
        PyObject *d = PyDict_GetItemWithError(t->tp_dict, PyTuple_GET_ITEM(names, i));
        if (d == NULL && PyErr_Occurred()) return NULL;
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX ||
            (((PyMemberDescrObject *)d)->d_member->flags & READONLY)) {
            PyErr_Format(PyExc_ValueError, "bind_row: column %zd is not a writable object slot", i);
            return NULL;
        }
        /* the class's own slot, once: a descriptor of another class (set on this one as an attribute) has
         * that class's offset, past this row's end, and a name given twice would store two references in
         * one slot (one never released) */
        Py_ssize_t at = ((PyMemberDescrObject *)d)->d_member->offset;
        int ok = PyDescr_TYPE(d) == t && at >= (Py_ssize_t)sizeof(PyObject) &&
                 at <= t->tp_basicsize - (Py_ssize_t)sizeof(PyObject *);
        for (Py_ssize_t k = 0; ok && k < i; k++) ok = offsets[k] != at;
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "bind_row: column %zd is not a slot of its own in this class", i);
            return NULL;
        }
        offsets[i] = at;
    }
    memcpy(row_offsets, offsets, sizeof offsets);
    Py_XSETREF(row_type, (PyTypeObject *)Py_NewRef(cls));
    Py_RETURN_NONE;
}

static PyObject *mod_sealed_row(PyObject *m, PyObject *const *parts, Py_ssize_t nparts) {
    if (row_type == NULL || nparts != ROW_COLUMNS - 1) {
        PyErr_SetString(PyExc_TypeError, "sealed_row takes the 15 hashed columns, after bind_row");
        return NULL;
    }
    PyObject *digest = mod_joined_sha256_hex(m, parts, nparts);
    if (digest == NULL || digest == Py_None) return digest;
    /* the class and its offsets as they are now: tp_alloc may run a collection (CPython 3.11 collects in
     * the allocation), whose finalizers or callbacks may call bind_row or let another thread do it; the row
     * is of `type` and gets `type`'s offsets, and `type` lives until the row holds it */
    PyTypeObject *type = (PyTypeObject *)Py_NewRef(row_type);
    Py_ssize_t offsets[ROW_COLUMNS];
    memcpy(offsets, row_offsets, sizeof offsets);
    PyObject *row = type->tp_alloc(type, 0);
    Py_DECREF(type);
    if (row == NULL) {
        Py_DECREF(digest);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < ROW_COLUMNS - 1; i++) {
        *(PyObject **)((char *)row + offsets[i]) = Py_NewRef(parts[i]);
    }
    *(PyObject **)((char *)row + offsets[ROW_COLUMNS - 1]) = digest; /* the reference is the row's */
    return row;
}

static PyMethodDef sha_methods[] = {
    {"bind_row", (PyCFunction)mod_bind_row, METH_VARARGS,
     "bind_row(cls, columns): the audit row class and its 16 column slots, for sealed_row"},
    {"sealed_row", (PyCFunction)(void (*)(void))mod_sealed_row, METH_FASTCALL,
     "sealed_row(*columns) -> row | None: a row of the bound class, its hash the joined digest, or None"},
    {"sha256_hex", (PyCFunction)mod_sha256_hex, METH_O,
     "sha256_hex(data: bytes) -> str: hashlib.sha256(data).hexdigest() (offered only with the SHA extensions)"},
    {"joined_sha256_hex", (PyCFunction)(void (*)(void))mod_joined_sha256_hex, METH_FASTCALL,
     "joined_sha256_hex(*parts) -> str | None: the hex SHA-256 of the parts' text joined by \\x1f, or None"},
    {NULL, NULL, 0, NULL},
};
#endif

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "schemas._sha256ni",
    .m_doc = "SHA-256 hex digests with the x86 SHA extensions, for the audit hash chain (optional).",
    .m_size = -1,
    .m_methods = NULL,
};

PyMODINIT_FUNC PyInit__sha256ni(void) {
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
#ifdef DWF_SHA_NI
    /* SHA_NI_BUILT: this build can offer the functions (tests tell a CPU without the extensions from a
     * build for another architecture) */
    if (PyModule_AddIntConstant(m, "SHA_NI_BUILT", 1) < 0 ||
        (sha_ni_available() && PyModule_AddFunctions(m, sha_methods) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
