/* Optional C executor for the Avro codec plans that schemas/codec.py compiles.
 *
 * Why: the generated Python codec costs ~5 us to encode and ~7 us to decode a claims envelope, and
 * the local runtime crosses Avro 5 times per event. This module walks a compact plan (a tree built
 * once per schema from nested tuples, see codec._Planner) with the CPython C API only.
 *
 * Contract: the same bytes, values and errors as the generated Python code. Fast paths cover the
 * exact builtin types (dict, list, str, int, float, bool, None, bytes); anything else is handed to
 * the Python helpers of schemas/codec.py (passed to Plan()), which convert it or raise the
 * TypeError/ValueError naming the field. So the validation rules and messages live in one place.
 * Decoding never calls Python code and checks every length against the buffer.
 *
 * Plan nodes (tuples; the opcode first):
 *   (NULL|BOOLEAN|INT|LONG|TIMESTAMP|FLOAT|DOUBLE|BYTES|STRING,)
 *   (ARRAY, items, min_item_size)       (MAP, values, min_entry_size)
 *   (RECORD, ((name, node, required, default), ...))
 *   (NULLABLE, null_index, node)        (UNION, (node, ...), picker)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum {
    OP_NULL = 0, OP_BOOLEAN, OP_INT, OP_LONG, OP_TIMESTAMP, OP_FLOAT, OP_DOUBLE, OP_BYTES, OP_STRING,
    OP_ARRAY, OP_MAP, OP_RECORD, OP_NULLABLE, OP_UNION, OP_COUNT
};

/* Python helpers, in the order codec._HELPERS lists them. */
enum {
    H_NEED_INT = 0, H_NEED_LONG, H_NEED_TS, H_NEED_DOUBLE, H_NEED_BOOL, H_NEED_BYTES, H_NEED_STR,
    H_NEED_SEQ, H_NEED_MAP, H_NEED_RECORD, H_COUNT
};

#define MAX_DEPTH 64                 /* schema nesting; deeper plans are refused */
#define MAX_ZERO_SIZE_ITEMS (1 << 20) /* same cap as codec._MAX_ZERO_SIZE_ITEMS */

typedef struct Node Node;

typedef struct {
    PyObject *name;
    Node *node;
    int required;
    PyObject *dflt;
} Field;

struct Node {
    int op;
    int null_index;      /* NULLABLE */
    Py_ssize_t min_size; /* ARRAY, MAP */
    Node *child;         /* ARRAY items, MAP values, NULLABLE's other branch */
    Py_ssize_t n;        /* RECORD fields, UNION branches */
    Field *fields;
    Node **branches;
    PyObject *picker;    /* UNION */
    int scalars;         /* RECORD: every field's value is copied as it is (no container, no union) */
};

typedef struct {
    PyObject_HEAD
    Node *root;
    PyObject *helpers[H_COUNT];
    PyObject *top_field; /* "<top level>" */
    PyObject *no_field;  /* "" */
    PyTypeObject *slots_type;   /* copy_into: the class whose slot offsets are cached (a strong ref), or NULL */
    unsigned int slots_version; /* ... its tp_version_tag then: a changed class is looked up again */
    Py_ssize_t *slot_offsets;   /* ... the root record's fields as byte offsets of its __slots__ */
} PlanObject;

static PyTypeObject PlanType;

/* ------------------------------------------------------------------ plan building */

static void free_node(Node *nd) {
    if (nd == NULL) return;
    free_node(nd->child);
    if (nd->fields != NULL) {
        for (Py_ssize_t i = 0; i < nd->n; i++) {
            Py_XDECREF(nd->fields[i].name);
            Py_XDECREF(nd->fields[i].dflt);
            free_node(nd->fields[i].node);
        }
        PyMem_Free(nd->fields);
    }
    if (nd->branches != NULL) {
        for (Py_ssize_t i = 0; i < nd->n; i++) free_node(nd->branches[i]);
        PyMem_Free(nd->branches);
    }
    Py_XDECREF(nd->picker);
    PyMem_Free(nd);
}

static Node *bad_plan(Node *nd, const char *why) {
    if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "malformed Avro plan: %s", why);
    free_node(nd);
    return NULL;
}

static Node *build_node(PyObject *t, int depth) {
    if (depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "malformed Avro plan: nested too deeply");
        return NULL;
    }
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 1) {
        PyErr_SetString(PyExc_ValueError, "malformed Avro plan: a node is not a non-empty tuple");
        return NULL;
    }
    Node *nd = PyMem_Calloc(1, sizeof(Node));
    if (nd == NULL) return (Node *)PyErr_NoMemory();
    long op = PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
    if (op < 0 || op >= OP_COUNT) return bad_plan(nd, "unknown opcode");
    nd->op = (int)op;
    Py_ssize_t size = PyTuple_GET_SIZE(t);
    switch (nd->op) {
    case OP_ARRAY:
    case OP_MAP:
        if (size != 3) return bad_plan(nd, "array/map node needs 3 items");
        nd->min_size = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 2));
        if (nd->min_size < 0) return bad_plan(nd, "negative min size");
        nd->child = build_node(PyTuple_GET_ITEM(t, 1), depth + 1);
        if (nd->child == NULL) return bad_plan(nd, "");
        break;
    case OP_NULLABLE: {
        if (size != 3) return bad_plan(nd, "nullable node needs 3 items");
        long ni = PyLong_AsLong(PyTuple_GET_ITEM(t, 1));
        if (ni != 0 && ni != 1) return bad_plan(nd, "null index must be 0 or 1");
        nd->null_index = (int)ni;
        nd->child = build_node(PyTuple_GET_ITEM(t, 2), depth + 1);
        if (nd->child == NULL) return bad_plan(nd, "");
        break;
    }
    case OP_UNION: {
        if (size != 3) return bad_plan(nd, "union node needs 3 items");
        PyObject *bs = PyTuple_GET_ITEM(t, 1);
        if (!PyTuple_Check(bs) || PyTuple_GET_SIZE(bs) < 1 || PyTuple_GET_SIZE(bs) > 63)
            return bad_plan(nd, "union branches must be a tuple of 1..63 nodes");
        if (!PyCallable_Check(PyTuple_GET_ITEM(t, 2))) return bad_plan(nd, "union picker not callable");
        nd->picker = Py_NewRef(PyTuple_GET_ITEM(t, 2));
        nd->branches = PyMem_Calloc((size_t)PyTuple_GET_SIZE(bs), sizeof(Node *));
        if (nd->branches == NULL) return bad_plan(nd, "out of memory");
        nd->n = PyTuple_GET_SIZE(bs);
        for (Py_ssize_t i = 0; i < nd->n; i++) {
            nd->branches[i] = build_node(PyTuple_GET_ITEM(bs, i), depth + 1);
            if (nd->branches[i] == NULL) return bad_plan(nd, "");
        }
        break;
    }
    case OP_RECORD: {
        if (size != 2) return bad_plan(nd, "record node needs 2 items");
        PyObject *fs = PyTuple_GET_ITEM(t, 1);
        if (!PyTuple_Check(fs)) return bad_plan(nd, "record fields must be a tuple");
        Py_ssize_t nf = PyTuple_GET_SIZE(fs);
        nd->fields = PyMem_Calloc(nf ? (size_t)nf : 1, sizeof(Field));
        if (nd->fields == NULL) return bad_plan(nd, "out of memory");
        nd->n = nf;
        for (Py_ssize_t i = 0; i < nf; i++) {
            PyObject *f = PyTuple_GET_ITEM(fs, i);
            if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 4 || !PyUnicode_Check(PyTuple_GET_ITEM(f, 0)))
                return bad_plan(nd, "a field must be (name, node, required, default)");
            PyObject *name = PyTuple_GET_ITEM(f, 0);
            Py_INCREF(name);
            PyUnicode_InternInPlace(&name);
            nd->fields[i].name = name;
            nd->fields[i].dflt = Py_NewRef(PyTuple_GET_ITEM(f, 3));
            int req = PyObject_IsTrue(PyTuple_GET_ITEM(f, 2));
            if (req < 0) return bad_plan(nd, "");
            nd->fields[i].required = req;
            nd->fields[i].node = build_node(PyTuple_GET_ITEM(f, 1), depth + 1);
            if (nd->fields[i].node == NULL) return bad_plan(nd, "");
        }
        nd->scalars = 1;
        for (Py_ssize_t i = 0; i < nf; i++) {
            Node *fn = nd->fields[i].node;
            if (fn->op == OP_NULLABLE) fn = fn->child;
            if (fn->op >= OP_ARRAY || fn->op == OP_FLOAT) nd->scalars = 0;
        }
        break;
    }
    default:
        if (size != 1) return bad_plan(nd, "a primitive node has only its opcode");
    }
    return nd;
}

static PyObject *Plan_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *tree, *helpers;
    static char *kwlist[] = {"tree", "helpers", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!:Plan", kwlist, &tree, &PyTuple_Type, &helpers))
        return NULL;
    if (PyTuple_GET_SIZE(helpers) != H_COUNT) {
        PyErr_Format(PyExc_ValueError, "Plan needs %d helpers, got %zd", H_COUNT, PyTuple_GET_SIZE(helpers));
        return NULL;
    }
    PlanObject *self = (PlanObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    for (int i = 0; i < H_COUNT; i++) self->helpers[i] = Py_NewRef(PyTuple_GET_ITEM(helpers, i));
    self->top_field = PyUnicode_FromString("<top level>");
    self->no_field = PyUnicode_FromString("");
    if (self->top_field == NULL || self->no_field == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->root = build_node(tree, 0);
    if (self->root == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void Plan_dealloc(PlanObject *self) {
    free_node(self->root);
    for (int i = 0; i < H_COUNT; i++) Py_XDECREF(self->helpers[i]);
    Py_XDECREF(self->top_field);
    Py_XDECREF(self->no_field);
    Py_XDECREF(self->slots_type);
    PyMem_Free(self->slot_offsets);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ------------------------------------------------------------------ encoding */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
    int heap;
    char stack[2048];
} Buf;

static int buf_grow(Buf *b, Py_ssize_t extra) {
    if (extra > PY_SSIZE_T_MAX / 2 - b->len) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t cap = b->cap * 2;
    if (cap < b->len + extra) cap = b->len + extra;
    char *p;
    if (b->heap) {
        p = PyMem_Realloc(b->data, (size_t)cap);
    } else {
        p = PyMem_Malloc((size_t)cap);
        if (p != NULL) memcpy(p, b->data, (size_t)b->len);
    }
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = p;
    b->cap = cap;
    b->heap = 1;
    return 0;
}

#define RESERVE(b, k) (((b)->cap - (b)->len >= (k)) ? 0 : buf_grow((b), (k)))

static inline int put_byte(Buf *b, unsigned char c) {
    if (RESERVE(b, 1) < 0) return -1;
    b->data[b->len++] = (char)c;
    return 0;
}

static inline int put_varint(Buf *b, uint64_t n) {
    if (RESERVE(b, 10) < 0) return -1;
    unsigned char *p = (unsigned char *)b->data + b->len;
    while (n > 0x7F) {
        *p++ = (unsigned char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    *p++ = (unsigned char)n;
    b->len = (Py_ssize_t)(p - (unsigned char *)b->data);
    return 0;
}

static inline int put_bytes(Buf *b, const char *s, Py_ssize_t n) {
    if (put_varint(b, (uint64_t)n << 1) < 0) return -1;
    if (RESERVE(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

static inline PyObject *call2(PyObject *f, PyObject *a, PyObject *b) {
    PyObject *args[2] = {a, b};
    return PyObject_Vectorcall(f, args, 2, NULL);
}

static int enc(PlanObject *pl, Node *nd, PyObject *v, PyObject *field, Buf *b);

/* A string, or a map key: exact str on the fast path, the rest through codec._need_str. */
static int enc_str(PlanObject *pl, PyObject *v, PyObject *field, Buf *b) {
    if (PyUnicode_CheckExact(v)) {
        if (PyUnicode_IS_COMPACT_ASCII(v))
            return put_bytes(b, (const char *)PyUnicode_DATA(v), PyUnicode_GET_LENGTH(v));
        PyObject *u = PyUnicode_AsUTF8String(v);
        if (u != NULL) {
            int rc = put_bytes(b, PyBytes_AS_STRING(u), PyBytes_GET_SIZE(u));
            Py_DECREF(u);
            return rc;
        }
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
        PyErr_Clear(); /* the helper raises the ValueError naming the field */
    }
    PyObject *x = call2(pl->helpers[H_NEED_STR], v, field);
    if (x == NULL) return -1;
    if (!PyBytes_Check(x)) {
        Py_DECREF(x);
        PyErr_Format(PyExc_TypeError, "must be string (got %s) on field %U", Py_TYPE(v)->tp_name, field);
        return -1;
    }
    int rc = put_bytes(b, PyBytes_AS_STRING(x), PyBytes_GET_SIZE(x));
    Py_DECREF(x);
    return rc;
}

static int enc_integer(PlanObject *pl, Node *nd, PyObject *v, PyObject *field, Buf *b) {
    PyObject *x;
    if (PyLong_CheckExact(v)) {
        x = Py_NewRef(v);
    } else {
        int h = nd->op == OP_INT ? H_NEED_INT : nd->op == OP_LONG ? H_NEED_LONG : H_NEED_TS;
        x = call2(pl->helpers[h], v, field);
        if (x == NULL) return -1;
    }
    int overflow = 0;
    long long n = PyLong_AsLongLongAndOverflow(x, &overflow);
    Py_DECREF(x);
    if (n == -1 && PyErr_Occurred()) return -1;
    const char *kind = nd->op == OP_INT ? "int" : "long";
    if (overflow || (nd->op == OP_INT && (n < INT32_MIN || n > INT32_MAX))) {
        PyErr_Format(PyExc_ValueError, "value out of range for %s on field %U", kind, field);
        return -1;
    }
    return put_varint(b, ((uint64_t)n << 1) ^ (uint64_t)(n >> 63));
}

static int need_double(PlanObject *pl, PyObject *v, PyObject *field, double *out) {
    if (PyFloat_CheckExact(v)) {
        *out = PyFloat_AS_DOUBLE(v);
        return 0;
    }
    PyObject *x = call2(pl->helpers[H_NEED_DOUBLE], v, field);
    if (x == NULL) return -1;
    double d = PyFloat_AsDouble(x);
    Py_DECREF(x);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    *out = d;
    return 0;
}

static int enc_array(PlanObject *pl, Node *nd, PyObject *v, PyObject *field, Buf *b) {
    PyObject *seq = PyList_CheckExact(v) ? Py_NewRef(v) : call2(pl->helpers[H_NEED_SEQ], v, field);
    if (seq == NULL) return -1;
    int rc = -1;
    if (PyList_CheckExact(seq)) {
        Py_ssize_t n = PyList_GET_SIZE(seq);
        if (n && put_varint(b, (uint64_t)n << 1) < 0) goto done;
        for (Py_ssize_t i = 0; i < n && i < PyList_GET_SIZE(seq); i++) {
            PyObject *item = Py_NewRef(PyList_GET_ITEM(seq, i));
            int r = enc(pl, nd->child, item, field, b);
            Py_DECREF(item);
            if (r < 0) goto done;
        }
    } else {
        Py_ssize_t n = PyObject_Size(seq);
        if (n < 0) goto done;
        if (n) {
            if (put_varint(b, (uint64_t)n << 1) < 0) goto done;
            PyObject *it = PyObject_GetIter(seq);
            if (it == NULL) goto done;
            PyObject *item;
            while ((item = PyIter_Next(it)) != NULL) {
                int r = enc(pl, nd->child, item, field, b);
                Py_DECREF(item);
                if (r < 0) break;
            }
            Py_DECREF(it);
            if (PyErr_Occurred()) goto done;
        }
    }
    rc = put_byte(b, 0);
done:
    Py_DECREF(seq);
    return rc;
}

static int enc_entry(PlanObject *pl, Node *nd, PyObject *k, PyObject *val, PyObject *field, Buf *b) {
    Py_INCREF(k);
    Py_INCREF(val);
    int r = enc_str(pl, k, field, b);
    if (r == 0) r = enc(pl, nd->child, val, field, b);
    Py_DECREF(k);
    Py_DECREF(val);
    return r;
}

static int enc_map(PlanObject *pl, Node *nd, PyObject *v, PyObject *field, Buf *b) {
    PyObject *m = PyDict_CheckExact(v) ? Py_NewRef(v) : call2(pl->helpers[H_NEED_MAP], v, field);
    if (m == NULL) return -1;
    int rc = -1;
    Py_ssize_t n = PyObject_Size(m);
    if (n < 0) goto done;
    if (n) {
        if (put_varint(b, (uint64_t)n << 1) < 0) goto done;
        if (PyDict_CheckExact(m)) {
            Py_ssize_t pos = 0;
            PyObject *k, *val;
            while (PyDict_Next(m, &pos, &k, &val)) {
                if (enc_entry(pl, nd, k, val, field, b) < 0) goto done;
                if (PyDict_GET_SIZE(m) != n) { /* a helper resized it: what `for k, v in x.items()` says */
                    PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
                    goto done;
                }
            }
        } else {
            PyObject *items = PyMapping_Items(m);
            if (items == NULL) goto done;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
                PyObject *pair = PyList_GET_ITEM(items, i);
                if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                    PyErr_Format(PyExc_TypeError, "must be map (got %s) on field %U", Py_TYPE(v)->tp_name, field);
                    Py_DECREF(items);
                    goto done;
                }
                if (enc_entry(pl, nd, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1), field, b) < 0) {
                    Py_DECREF(items);
                    goto done;
                }
            }
            Py_DECREF(items);
        }
    }
    rc = put_byte(b, 0);
done:
    Py_DECREF(m);
    return rc;
}

static int enc_record(PlanObject *pl, Node *nd, PyObject *v, PyObject *field, Buf *b) {
    PyObject *r;
    if (PyDict_CheckExact(v) || PyUnicode_GET_LENGTH(field) == 0) {
        r = Py_NewRef(v); /* the top level was checked by Plan.encode, as the generated prologue does */
    } else {
        r = call2(pl->helpers[H_NEED_RECORD], v, field);
        if (r == NULL) return -1;
    }
    int exact = PyDict_CheckExact(r);
    for (Py_ssize_t i = 0; i < nd->n; i++) {
        Field *f = &nd->fields[i];
        PyObject *x;
        if (exact) {
            x = PyDict_GetItemWithError(r, f->name);
            if (x != NULL) {
                Py_INCREF(x);
            } else if (PyErr_Occurred()) {
                goto fail;
            } else if (f->required) {
                PyErr_Format(PyExc_ValueError, "no value and no default for %U", f->name);
                goto fail;
            } else {
                x = Py_NewRef(f->dflt);
            }
        } else if (f->required) {
            x = PyObject_GetItem(r, f->name);
            if (x == NULL) {
                if (PyErr_ExceptionMatches(PyExc_KeyError)) {
                    PyErr_Clear();
                    PyErr_Format(PyExc_ValueError, "no value and no default for %U", f->name);
                }
                goto fail;
            }
        } else {
            PyObject *args[3] = {r, f->name, f->dflt};
            static PyObject *get_name = NULL;
            if (get_name == NULL && (get_name = PyUnicode_InternFromString("get")) == NULL) goto fail;
            x = PyObject_VectorcallMethod(get_name, args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            if (x == NULL) goto fail;
        }
        int rc = enc(pl, f->node, x, f->name, b);
        Py_DECREF(x);
        if (rc < 0) goto fail;
    }
    Py_DECREF(r);
    return 0;
fail:
    Py_DECREF(r);
    return -1;
}

static int enc(PlanObject *pl, Node *nd, PyObject *v, PyObject *field, Buf *b) {
    switch (nd->op) {
    case OP_NULL:
        if (v == Py_None) return 0;
        PyErr_Format(PyExc_TypeError, "must be null on field %U", field);
        return -1;
    case OP_BOOLEAN:
        if (v == Py_True) return put_byte(b, 1);
        if (v == Py_False) return put_byte(b, 0);
        {
            PyObject *x = call2(pl->helpers[H_NEED_BOOL], v, field);
            Py_XDECREF(x);
            if (x != NULL)
                PyErr_Format(PyExc_TypeError, "must be boolean (got %s) on field %U", Py_TYPE(v)->tp_name, field);
            return -1;
        }
    case OP_INT:
    case OP_LONG:
    case OP_TIMESTAMP:
        return enc_integer(pl, nd, v, field, b);
    case OP_DOUBLE: {
        double d;
        if (need_double(pl, v, field, &d) < 0 || RESERVE(b, 8) < 0) return -1;
        if (PyFloat_Pack8(d, b->data + b->len, 1) < 0) return -1;
        b->len += 8;
        return 0;
    }
    case OP_FLOAT: {
        double d;
        if (need_double(pl, v, field, &d) < 0 || RESERVE(b, 4) < 0) return -1;
        float f = (float)d; /* a C cast, as fastavro: past the float range is +-inf, not an error */
        if (isinf(f) && !isinf(d)) f = (float)copysign(INFINITY, d);
        unsigned char raw[4];
        memcpy(raw, &f, 4);
#if PY_BIG_ENDIAN
        for (int i = 0; i < 4; i++) b->data[b->len + i] = (char)raw[3 - i];
#else
        memcpy(b->data + b->len, raw, 4);
#endif
        b->len += 4;
        return 0;
    }
    case OP_STRING:
        return enc_str(pl, v, field, b);
    case OP_BYTES: {
        PyObject *x = PyBytes_CheckExact(v) ? Py_NewRef(v) : call2(pl->helpers[H_NEED_BYTES], v, field);
        if (x == NULL) return -1;
        if (!PyBytes_Check(x)) {
            Py_DECREF(x);
            PyErr_Format(PyExc_TypeError, "must be bytes (got %s) on field %U", Py_TYPE(v)->tp_name, field);
            return -1;
        }
        int rc = put_bytes(b, PyBytes_AS_STRING(x), PyBytes_GET_SIZE(x));
        Py_DECREF(x);
        return rc;
    }
    case OP_ARRAY:
        return enc_array(pl, nd, v, field, b);
    case OP_MAP:
        return enc_map(pl, nd, v, field, b);
    case OP_RECORD:
        return enc_record(pl, nd, v, field, b);
    case OP_NULLABLE:
        if (v == Py_None) return put_byte(b, (unsigned char)(nd->null_index << 1));
        if (put_byte(b, (unsigned char)((1 - nd->null_index) << 1)) < 0) return -1;
        return enc(pl, nd->child, v, field, b);
    case OP_UNION: {
        PyObject *idx = call2(nd->picker, v, field);
        if (idx == NULL) return -1;
        Py_ssize_t i = PyLong_AsSsize_t(idx);
        Py_DECREF(idx);
        if (i == -1 && PyErr_Occurred()) return -1;
        if (i < 0 || i >= nd->n) {
            PyErr_Format(PyExc_ValueError, "union branch %zd out of range on field %U", i, field);
            return -1;
        }
        if (put_byte(b, (unsigned char)(i << 1)) < 0) return -1;
        return enc(pl, nd->branches[i], v, field, b);
    }
    }
    PyErr_SetString(PyExc_SystemError, "bad opcode in Avro plan");
    return -1;
}

static PyObject *plan_encode(PlanObject *pl, PyObject *record, PyObject *prefix) {
    Buf b;
    b.data = b.stack;
    b.len = 0;
    b.cap = (Py_ssize_t)sizeof(b.stack);
    b.heap = 0;
    PyObject *out = NULL, *rec = NULL;
    if (prefix != NULL && prefix != Py_None) {
        Py_buffer view;
        if (PyObject_GetBuffer(prefix, &view, PyBUF_SIMPLE) < 0) return NULL;
        int rc = RESERVE(&b, view.len);
        if (rc == 0) {
            memcpy(b.data, view.buf, (size_t)view.len);
            b.len = view.len;
        }
        PyBuffer_Release(&view);
        if (rc < 0) goto done;
    }
    if (pl->root->op == OP_RECORD && !PyDict_CheckExact(record)) {
        rec = call2(pl->helpers[H_NEED_RECORD], record, pl->top_field);
        if (rec == NULL) goto done;
    } else {
        rec = Py_NewRef(record);
    }
    if (enc(pl, pl->root, rec, pl->no_field, &b) == 0) out = PyBytes_FromStringAndSize(b.data, b.len);
done:
    Py_XDECREF(rec);
    if (b.heap) PyMem_Free(b.data);
    return out;
}

/* ------------------------------------------------------------------ decoding */

typedef struct {
    const unsigned char *d;
    Py_ssize_t len, p;
} Rd;

static int truncated(Rd *r) {
    PyErr_Format(PyExc_EOFError, "truncated Avro data: need more than the %zd bytes at offset %zd", r->len - r->p,
                 r->p);
    return -1;
}

/* A varint as read (not zig-zag decoded); at most 10 bytes and 64 bits, as codec._rraw. */
static inline int read_raw(Rd *r, uint64_t *out) {
    Py_ssize_t p = r->p;
    if (p >= r->len) return truncated(r);
    uint64_t b = r->d[p++];
    if (b < 0x80) {
        r->p = p;
        *out = b;
        return 0;
    }
    uint64_t n = b & 0x7F;
    for (int shift = 7;; shift += 7) {
        if (p >= r->len) {
            r->p = p;
            return truncated(r);
        }
        b = r->d[p++];
        if (shift == 63) {
            if (b & 0x80) {
                PyErr_Format(PyExc_ValueError, "varint longer than 10 bytes at offset %zd", p);
                return -1;
            }
            if (b > 1) {
                PyErr_Format(PyExc_ValueError, "varint out of 64-bit range at offset %zd", p);
                return -1;
            }
        }
        n |= (b & 0x7F) << shift;
        if (b < 0x80) break;
    }
    r->p = p;
    *out = n;
    return 0;
}

static inline int read_long(Rd *r, int64_t *out) {
    uint64_t n;
    if (read_raw(r, &n) < 0) return -1;
    *out = (int64_t)(n >> 1) ^ -(int64_t)(n & 1);
    return 0;
}

/* (start, length) of a string or bytes value, checked against the buffer. */
static inline int read_span(Rd *r, const char **s, Py_ssize_t *n) {
    int64_t len;
    if (r->p < r->len && r->d[r->p] < 0x80 && !(r->d[r->p] & 1)) {
        len = r->d[r->p] >> 1;
        r->p += 1;
    } else if (read_long(r, &len) < 0) {
        return -1;
    }
    if (len < 0) {
        PyErr_Format(PyExc_ValueError, "negative length %lld at offset %zd", (long long)len, r->p);
        return -1;
    }
    if (len > r->len - r->p) {
        PyErr_Format(PyExc_EOFError, "length %lld at offset %zd runs past the end (%zd bytes)", (long long)len,
                     r->p, r->len);
        return -1;
    }
    *s = (const char *)r->d + r->p;
    *n = (Py_ssize_t)len;
    r->p += (Py_ssize_t)len;
    return 0;
}

static PyObject *dec(Node *nd, Rd *r);

static PyObject *dec_string(Rd *r) {
    const char *s;
    Py_ssize_t n;
    if (read_span(r, &s, &n) < 0) return NULL;
    return PyUnicode_DecodeUTF8(s, n, NULL);
}

/* Block counts of arrays and maps; a negative count is followed by the block's byte size. */
static int read_count(Node *nd, Rd *r, uint64_t *out) {
    int64_t n;
    if (read_long(r, &n) < 0) return -1;
    uint64_t count = (uint64_t)n;
    if (n < 0) {
        int64_t size;
        if (read_long(r, &size) < 0) return -1;
        if (size < 0 || size > r->len - r->p) {
            PyErr_Format(PyExc_ValueError, "bad block size %lld at offset %zd", (long long)size, r->p);
            return -1;
        }
        count = (uint64_t)0 - (uint64_t)n;
    }
    uint64_t limit = nd->min_size ? (uint64_t)(r->len - r->p) / (uint64_t)nd->min_size : MAX_ZERO_SIZE_ITEMS;
    if (count > limit) {
        PyErr_Format(PyExc_ValueError, "block count %llu at offset %zd is larger than the bytes left",
                     (unsigned long long)count, r->p);
        return -1;
    }
    *out = count;
    return 0;
}

static PyObject *dec_array(Node *nd, Rd *r) {
    PyObject *out = NULL;
    for (;;) {
        uint64_t count;
        if (read_count(nd, r, &count) < 0) goto fail;
        if (count == 0) break;
        if (out == NULL) { /* the first block sizes the list */
            out = PyList_New((Py_ssize_t)count);
            if (out == NULL) return NULL;
            for (Py_ssize_t i = 0; i < (Py_ssize_t)count; i++) {
                PyObject *x = dec(nd->child, r);
                if (x == NULL) goto fail;
                PyList_SET_ITEM(out, i, x);
            }
        } else {
            for (uint64_t i = 0; i < count; i++) {
                PyObject *x = dec(nd->child, r);
                if (x == NULL) goto fail;
                int rc = PyList_Append(out, x);
                Py_DECREF(x);
                if (rc < 0) goto fail;
            }
        }
    }
    return out != NULL ? out : PyList_New(0);
fail:
    Py_XDECREF(out);
    return NULL;
}

static PyObject *dec_map(Node *nd, Rd *r) {
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    for (;;) {
        uint64_t count;
        if (read_count(nd, r, &count) < 0) goto fail;
        if (count == 0) break;
        for (uint64_t i = 0; i < count; i++) {
            PyObject *k = dec_string(r);
            if (k == NULL) goto fail;
            PyObject *x = dec(nd->child, r);
            if (x == NULL) {
                Py_DECREF(k);
                goto fail;
            }
            int rc = PyDict_SetItem(out, k, x);
            Py_DECREF(k);
            Py_DECREF(x);
            if (rc < 0) goto fail;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* A union's branch index; returns 0, or -1 with the error codec._bad_index raises. */
static int dec_branch(Rd *r, Py_ssize_t nbranches, Py_ssize_t *branch) {
    uint64_t u;
    if (r->p < r->len && r->d[r->p] < 0x80) {
        u = r->d[r->p++];
    } else if (read_raw(r, &u) < 0) {
        return -1;
    }
    if (!(u & 1) && (u >> 1) < (uint64_t)nbranches) {
        *branch = (Py_ssize_t)(u >> 1);
        return 0;
    }
    PyErr_Format(PyExc_ValueError, "union index %s%llu at offset %zd is not in 0..%zd", (u & 1) ? "-" : "",
                 (unsigned long long)((u & 1) ? (u >> 1) + 1 : u >> 1), r->p, nbranches - 1);
    return -1;
}

static PyObject *dec(Node *nd, Rd *r) {
    switch (nd->op) {
    case OP_NULL:
        Py_RETURN_NONE;
    case OP_BOOLEAN: {
        if (r->p >= r->len) {
            truncated(r);
            return NULL;
        }
        unsigned char c = r->d[r->p];
        if (c > 1) {
            PyErr_Format(PyExc_ValueError, "boolean byte %d at offset %zd is not 0 or 1", (int)c, r->p);
            return NULL;
        }
        r->p++;
        return Py_NewRef(c ? Py_True : Py_False);
    }
    case OP_INT:
    case OP_LONG:
    case OP_TIMESTAMP: {
        int64_t n;
        if (r->p < r->len && r->d[r->p] < 0x80) {
            unsigned char c = r->d[r->p++];
            n = (int64_t)(c >> 1) ^ -(int64_t)(c & 1);
        } else if (read_long(r, &n) < 0) {
            return NULL;
        }
        if (nd->op == OP_INT && (n < INT32_MIN || n > INT32_MAX)) {
            PyErr_Format(PyExc_ValueError, "int out of 32-bit range at offset %zd", r->p);
            return NULL;
        }
        return PyLong_FromLongLong(n);
    }
    case OP_DOUBLE: {
        if (r->len - r->p < 8) {
            truncated(r);
            return NULL;
        }
        double d = PyFloat_Unpack8((const char *)r->d + r->p, 1);
        if (d == -1.0 && PyErr_Occurred()) return NULL;
        r->p += 8;
        return PyFloat_FromDouble(d);
    }
    case OP_FLOAT: {
        if (r->len - r->p < 4) {
            truncated(r);
            return NULL;
        }
        double d = PyFloat_Unpack4((const char *)r->d + r->p, 1);
        if (d == -1.0 && PyErr_Occurred()) return NULL;
        r->p += 4;
        return PyFloat_FromDouble(d);
    }
    case OP_STRING:
        return dec_string(r);
    case OP_BYTES: {
        const char *s;
        Py_ssize_t n;
        if (read_span(r, &s, &n) < 0) return NULL;
        return PyBytes_FromStringAndSize(s, n);
    }
    case OP_ARRAY:
        return dec_array(nd, r);
    case OP_MAP:
        return dec_map(nd, r);
    case OP_RECORD: {
        PyObject *out = _PyDict_NewPresized(nd->n);
        if (out == NULL) return NULL;
        for (Py_ssize_t i = 0; i < nd->n; i++) {
            PyObject *x = dec(nd->fields[i].node, r);
            if (x == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            int rc = PyDict_SetItem(out, nd->fields[i].name, x);
            Py_DECREF(x);
            if (rc < 0) {
                Py_DECREF(out);
                return NULL;
            }
        }
        return out;
    }
    case OP_NULLABLE: {
        Py_ssize_t j;
        if (dec_branch(r, 2, &j) < 0) return NULL;
        if (j == nd->null_index) Py_RETURN_NONE;
        return dec(nd->child, r);
    }
    case OP_UNION: {
        Py_ssize_t j;
        if (dec_branch(r, nd->n, &j) < 0) return NULL;
        return dec(nd->branches[j], r);
    }
    }
    PyErr_SetString(PyExc_SystemError, "bad opcode in Avro plan");
    return NULL;
}

/* exact: the datum must fill data[offset:] (AvroCodec.decode's rule); returns the value alone. */
static PyObject *plan_decode(PlanObject *pl, PyObject *data, Py_ssize_t offset, int exact) {
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *out = NULL;
    if (offset < 0 || offset > view.len) {
        PyErr_Format(PyExc_EOFError, "offset %zd is outside the %zd bytes of Avro data", offset, view.len);
    } else {
        Rd r = {(const unsigned char *)view.buf, view.len, offset};
        PyObject *value = dec(pl->root, &r);
        if (value != NULL && exact) {
            if (r.p == view.len) {
                out = value;
            } else {
                Py_DECREF(value);
                PyErr_Format(PyExc_ValueError, "%zd trailing bytes after the Avro datum", view.len - r.p);
            }
        } else if (value != NULL) {
            out = PyTuple_New(2);
            PyObject *end = PyLong_FromSsize_t(r.p);
            if (out == NULL || end == NULL) {
                Py_XDECREF(out);
                Py_XDECREF(end);
                Py_DECREF(value);
                out = NULL;
            } else {
                PyTuple_SET_ITEM(out, 0, value);
                PyTuple_SET_ITEM(out, 1, end);
            }
        }
    }
    PyBuffer_Release(&view);
    return out;
}

/* ------------------------------------------------------------------ canonical copy
 *
 * copy(record, limit) -> what decode(encode(record)) returns, built without the bytes, or None when that
 * cannot be shown cheaply: then the caller encodes and decodes (EnvelopeSerde.roundtrip), which gives the
 * values, or raises the errors, of the real crossing. A value is copied only where the encoder takes it as
 * it is and the decoder gives an equal value of the same type back: exact dict/list/str/int/float/bool/None/
 * bytes, ints in range, strings without lone surrogates. Everything else (a float field, a general union, a
 * subclass, a Mapping, a missing required field, anything a helper would convert or refuse) is "not shown".
 * Containers are new objects (in the decoder's order: record fields in schema order, map entries in
 * iteration order); immutable scalars are shared. The encoded size is counted on the way, so a record the
 * topic could not take (over `limit` body bytes) is "not shown" either and gets its size error from encode.
 * No Python code runs here except the equality of a dict key that collides with a field name's hash.
 *
 * canon returns a new reference; NULL without an exception means "not shown", with one an error.
 */

static inline Py_ssize_t varint_size(uint64_t n) {
    Py_ssize_t k = 1;
    while (n > 0x7F) {
        n >>= 7;
        k++;
    }
    return k;
}

/* The UTF-8 length of an exact str, or -1 when it holds a lone surrogate (the encoder refuses it). */
static Py_ssize_t utf8_size(PyObject *v) {
    if (PyUnicode_READY(v) < 0) { /* a legacy string that cannot be made ready: let encode say */
        PyErr_Clear();
        return -1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    if (PyUnicode_IS_ASCII(v)) return n;
    int kind = PyUnicode_KIND(v);
    const void *data = PyUnicode_DATA(v);
    Py_ssize_t size = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) size += 1;
        else if (c < 0x800) size += 2;
        else if (c >= 0xD800 && c <= 0xDFFF) return -1;
        else if (c < 0x10000) size += 3;
        else size += 4;
    }
    return size;
}

static PyObject *canon_str(PyObject *v, Py_ssize_t *size) {
    if (!PyUnicode_CheckExact(v)) return NULL;
    Py_ssize_t n = utf8_size(v);
    if (n < 0) return NULL;
    *size += varint_size((uint64_t)n << 1) + n;
    return Py_NewRef(v);
}

static PyObject *canon(Node *nd, PyObject *v, Py_ssize_t *size);

static PyObject *canon_array(Node *nd, PyObject *v, Py_ssize_t *size) {
    if (!PyList_CheckExact(v)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(v);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i >= PyList_GET_SIZE(v)) goto not_shown; /* shrunk by a key's __eq__: let encode say */
        PyObject *item = Py_NewRef(PyList_GET_ITEM(v, i));
        PyObject *x = canon(nd->child, item, size);
        Py_DECREF(item);
        if (x == NULL) goto not_shown;
        PyList_SET_ITEM(out, i, x);
    }
    if (PyList_GET_SIZE(v) != n) goto not_shown;
    *size += (n ? varint_size((uint64_t)n << 1) : 0) + 1;
    return out;
not_shown:
    Py_DECREF(out);
    return NULL;
}

static PyObject *canon_map(Node *nd, PyObject *v, Py_ssize_t *size) {
    if (!PyDict_CheckExact(v)) return NULL;
    Py_ssize_t n = PyDict_GET_SIZE(v);
    PyObject *out = _PyDict_NewPresized(n);
    if (out == NULL) return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *val;
    while (PyDict_Next(v, &pos, &k, &val)) {
        Py_INCREF(k);
        Py_INCREF(val);
        PyObject *key = canon_str(k, size);
        PyObject *x = key != NULL ? canon(nd->child, val, size) : NULL;
        int rc = x != NULL ? PyDict_SetItem(out, key, x) : -1;
        Py_XDECREF(key);
        Py_XDECREF(x);
        Py_DECREF(k);
        Py_DECREF(val);
        if (rc < 0 || PyDict_GET_SIZE(v) != n) goto not_shown;
    }
    *size += (n ? varint_size((uint64_t)n << 1) : 0) + 1;
    return out;
not_shown:
    Py_DECREF(out);
    return NULL;
}

/* A record of scalars whose dict holds exactly its fields, in the schema's order (a payload that crossed a
 * boundary before): the decoded record is a copy of that dict, which PyDict_Copy makes in one go. 0 and
 * *out set (NULL: not shown, or an error), or -1 when the dict is not in that shape (build it field by
 * field). */
static int canon_record_as_is(Node *nd, PyObject *v, Py_ssize_t *size, PyObject **out) {
    if (!nd->scalars || PyDict_GET_SIZE(v) != nd->n) return -1;
    Py_ssize_t pos = 0, i = 0, counted = 0;
    PyObject *k, *x;
    while (PyDict_Next(v, &pos, &k, &x)) {
        if (i >= nd->n) return -1;
        PyObject *name = nd->fields[i].name;
        if (k != name && (!PyUnicode_CheckExact(k) || PyUnicode_Compare(k, name) != 0)) return -1;
        PyObject *y = canon(nd->fields[i].node, x, &counted); /* a scalar: x itself, or not shown */
        if (y == NULL) {
            *out = NULL;
            return 0;
        }
        Py_DECREF(y);
        if (y != x) return -1; /* not a scalar after all (nd->scalars is only a shortcut): field by field */
        i++;
    }
    if (i != nd->n) return -1;
    *size += counted;
    *out = PyDict_Copy(v);
    return 0;
}

static PyObject *canon_record(Node *nd, PyObject *v, Py_ssize_t *size) {
    if (!PyDict_CheckExact(v)) return NULL;
    PyObject *as_is;
    if (canon_record_as_is(nd, v, size, &as_is) == 0) return as_is;
    PyObject *out = _PyDict_NewPresized(nd->n);
    if (out == NULL) return NULL;
    Py_INCREF(v); /* a colliding key's __eq__ could drop the caller's last reference */
    for (Py_ssize_t i = 0; i < nd->n; i++) {
        Field *f = &nd->fields[i];
        PyObject *x = PyDict_GetItemWithError(v, f->name);
        if (x == NULL) {
            if (PyErr_Occurred() || f->required) goto not_shown; /* encode raises its own error */
            x = f->dflt;
        }
        Py_INCREF(x);
        PyObject *y = canon(f->node, x, size);
        Py_DECREF(x);
        if (y == NULL) goto not_shown;
        int rc = PyDict_SetItem(out, f->name, y);
        Py_DECREF(y);
        if (rc < 0) goto not_shown;
    }
    Py_DECREF(v);
    return out;
not_shown:
    Py_DECREF(v);
    Py_DECREF(out);
    return NULL;
}

static PyObject *canon(Node *nd, PyObject *v, Py_ssize_t *size) {
    switch (nd->op) {
    case OP_NULL:
        return v == Py_None ? Py_NewRef(v) : NULL;
    case OP_BOOLEAN:
        if (v != Py_True && v != Py_False) return NULL;
        *size += 1;
        return Py_NewRef(v);
    case OP_INT:
    case OP_LONG:
    case OP_TIMESTAMP: {
        if (!PyLong_CheckExact(v)) return NULL;
        int overflow = 0;
        long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || (nd->op == OP_INT && (n < INT32_MIN || n > INT32_MAX))) return NULL;
        *size += varint_size(((uint64_t)n << 1) ^ (uint64_t)(n >> 63));
        return Py_NewRef(v);
    }
    case OP_DOUBLE: /* 8 bytes that decode to the same bits: the value as it is */
        if (!PyFloat_CheckExact(v)) return NULL;
        *size += 8;
        return Py_NewRef(v);
    case OP_STRING:
        return canon_str(v, size);
    case OP_BYTES:
        if (!PyBytes_CheckExact(v)) return NULL;
        *size += varint_size((uint64_t)PyBytes_GET_SIZE(v) << 1) + PyBytes_GET_SIZE(v);
        return Py_NewRef(v);
    case OP_ARRAY:
        return canon_array(nd, v, size);
    case OP_MAP:
        return canon_map(nd, v, size);
    case OP_RECORD:
        return canon_record(nd, v, size);
    case OP_NULLABLE:
        *size += 1;
        return v == Py_None ? Py_NewRef(v) : canon(nd->child, v, size);
    default: /* OP_FLOAT rounds to 32 bits; OP_UNION picks its branch in Python: encode and decode */
        return NULL;
    }
}

static PyObject *Plan_copy(PlanObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "copy(record, limit) takes 2 arguments");
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[1]);
    if (limit == -1 && PyErr_Occurred()) return NULL;
    if (self->root->op != OP_RECORD) Py_RETURN_NONE; /* None would be ambiguous for other roots */
    Py_ssize_t size = 0;
    PyObject *out = canon(self->root, args[0], &size);
    if (out == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    if (size > limit) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

/* copy_into(source, target, limit) -> True, or None when not shown: copy's rule for a record root whose
 * fields are read as attributes of source and set as attributes of target (an object made without its
 * __init__), so the caller's record dict and its rebuilding from the decoded dict are not needed. target is
 * set only when every field is shown; an attribute source lacks is "not shown". */
/* The root record's fields as __slots__ of class t, for copy_into: each a writable object slot (a member
 * descriptor) of a class with the generic attribute access, so reading and setting it is what getattr and
 * setattr would do. Cached per class and version. Returns the offsets, or NULL (error set or not: a field is
 * no such slot, or the class cannot be cached) when the attributes must be read by name. */
static Py_ssize_t *slot_offsets(PlanObject *pl, PyTypeObject *t) {
    if (pl->slots_type == t && t->tp_version_tag == pl->slots_version &&
        PyType_HasFeature(t, Py_TPFLAGS_VALID_VERSION_TAG))
        return pl->slot_offsets;
    if (t->tp_getattro != PyObject_GenericGetAttr || t->tp_setattro != PyObject_GenericSetAttr) return NULL;
    Node *nd = pl->root;
    Py_ssize_t *offs = PyMem_Calloc(nd->n ? (size_t)nd->n : 1, sizeof(Py_ssize_t));
    if (offs == NULL) return (Py_ssize_t *)PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < nd->n; i++) {
        PyObject *d = _PyType_Lookup(t, nd->fields[i].name); /* borrowed; sets no error */
        /* a member descriptor of t's own layout (one of another class, set as an attribute, is not) */
        if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type) || !PyType_IsSubtype(t, PyDescr_TYPE(d))) goto none;
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY)) goto none;
        offs[i] = m->offset;
    }
    if (!PyType_HasFeature(t, Py_TPFLAGS_VALID_VERSION_TAG)) goto none; /* _PyType_Lookup assigns one */
    Py_XSETREF(pl->slots_type, (PyTypeObject *)Py_NewRef(t));
    pl->slots_version = t->tp_version_tag;
    PyMem_Free(pl->slot_offsets);
    pl->slot_offsets = offs;
    return offs;
none:
    PyMem_Free(offs);
    return NULL;
}

static PyObject *Plan_copy_into(PlanObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "copy_into(source, target, limit) takes 3 arguments");
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred()) return NULL;
    Node *nd = self->root;
    if (nd->op != OP_RECORD) Py_RETURN_NONE;
    PyObject *values = PyTuple_New(nd->n);
    if (values == NULL) return NULL;
    Py_ssize_t size = 0;
    /* the same class on both sides, fields that are its slots: read and set them in place. The offsets are
     * copied here, as the cache may be replaced by a nested call (a key's __eq__ can run any code). */
    Py_ssize_t local[64], *offs = NULL;
    if (nd->n <= 64 && Py_IS_TYPE(args[1], Py_TYPE(args[0]))) {
        Py_ssize_t *cached = slot_offsets(self, Py_TYPE(args[0]));
        if (cached == NULL && PyErr_Occurred()) goto fail;
        if (cached != NULL) {
            memcpy(local, cached, (size_t)nd->n * sizeof(Py_ssize_t));
            offs = local;
        }
    }
    for (Py_ssize_t i = 0; i < nd->n; i++) {
        PyObject *x;
        if (offs != NULL) {
            x = *(PyObject **)((char *)args[0] + offs[i]);
            if (x == NULL) goto not_shown; /* an unset slot: getattr would raise AttributeError */
            Py_INCREF(x);
        } else {
            x = PyObject_GetAttr(args[0], nd->fields[i].name);
        }
        if (x == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) goto fail;
            PyErr_Clear();
            goto not_shown;
        }
        PyObject *y = canon(nd->fields[i].node, x, &size);
        Py_DECREF(x);
        if (y == NULL) {
            if (PyErr_Occurred()) goto fail;
            goto not_shown;
        }
        PyTuple_SET_ITEM(values, i, y);
    }
    if (size > limit) goto not_shown;
    for (Py_ssize_t i = 0; i < nd->n; i++) {
        PyObject *y = PyTuple_GET_ITEM(values, i);
        if (offs != NULL) { /* what the member descriptor's __set__ does (PyMember_SetOne) */
            PyObject **slot = (PyObject **)((char *)args[1] + offs[i]);
            PyObject *old = *slot;
            *slot = Py_NewRef(y);
            Py_XDECREF(old);
        } else if (PyObject_SetAttr(args[1], nd->fields[i].name, y) < 0) {
            goto fail;
        }
    }
    Py_DECREF(values);
    Py_RETURN_TRUE;
not_shown:
    Py_DECREF(values);
    Py_RETURN_NONE;
fail:
    Py_DECREF(values);
    return NULL;
}

/* ------------------------------------------------------------------ records read from attributes
 *
 * encode_attrs(objects) -> [encode(record of each object)], where an object's record is its attributes named
 * as the root record's fields: the bytes and errors of encode({name: getattr(o, name) for name in fields})
 * without building that dict (a worker encodes every audit row it writes: sinks/audit_model.AuditRow, a
 * slots dataclass, ~7 an event). The attributes are read through the slot offsets copy_into caches where the
 * class allows it (what getattr would read), else by name; each value goes through the same enc() as a dict's.
 * One difference in order only: an object lacking an attribute raises AttributeError when its field is
 * reached, after the fields before it were encoded, where the dict display would raise before any encoding
 * (both raise, no bytes come out). */

static int enc_attrs(PlanObject *pl, PyObject *o, Buf *b) {
    Node *nd = pl->root;
    Py_ssize_t local[64], *offs = NULL;
    if (nd->n <= 64) {
        Py_ssize_t *cached = slot_offsets(pl, Py_TYPE(o));
        if (cached == NULL && PyErr_Occurred()) return -1;
        if (cached != NULL) { /* copied: a helper called below may replace the cache */
            memcpy(local, cached, (size_t)nd->n * sizeof(Py_ssize_t));
            offs = local;
        }
    }
    for (Py_ssize_t i = 0; i < nd->n; i++) {
        Field *f = &nd->fields[i];
        PyObject *x = offs != NULL ? *(PyObject **)((char *)o + offs[i]) : NULL;
        if (x != NULL) {
            Py_INCREF(x);
        } else { /* by name, or an unset slot: getattr raises its AttributeError */
            x = PyObject_GetAttr(o, f->name);
            if (x == NULL) return -1;
        }
        int rc = enc(pl, f->node, x, f->name, b);
        Py_DECREF(x);
        if (rc < 0) return -1;
    }
    return 0;
}

static PyObject *Plan_encode_attrs(PlanObject *self, PyObject *objects) {
    if (self->root->op != OP_RECORD) {
        PyErr_SetString(PyExc_TypeError, "encode_attrs needs a plan whose schema is a record");
        return NULL;
    }
    PyObject *items = PySequence_Tuple(objects); /* a list a helper could change while we walk it */
    if (items == NULL) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(items);
        return NULL;
    }
    Buf b;
    b.data = b.stack;
    b.cap = (Py_ssize_t)sizeof(b.stack);
    b.heap = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        b.len = 0;
        PyObject *body = NULL;
        if (enc_attrs(self, PyTuple_GET_ITEM(items, i), &b) == 0) body = PyBytes_FromStringAndSize(b.data, b.len);
        if (body == NULL) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, body);
    }
    if (b.heap) PyMem_Free(b.data);
    Py_DECREF(items);
    return out;
}

/* ------------------------------------------------------------------ Kafka's murmur2
 *
 * murmur2(key) -> the 32-bit hash (unsigned) that Kafka's producers pick a keyed record's partition with:
 * org.apache.kafka.common.utils.Utils.murmur2 (MurmurHash2, seed 0x9747b28c, the key's bytes read
 * little-endian four at a time, the last 1-3 bytes mixed in as Java's switch falls through), what aiokafka's
 * pure-Python aiokafka.partitioner.murmur2 returns. The partition is (murmur2(key) & 0x7fffffff) % count
 * (streams/kafka/partitioner.py). Here because aiokafka's costs ~3-6 us a key, one per record a worker sends. */

static PyObject *mod_murmur2(PyObject *m, PyObject *key) {
    (void)m;
    Py_buffer view;
    if (PyObject_GetBuffer(key, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *d = (const unsigned char *)view.buf;
    const Py_ssize_t len = view.len;
    const uint32_t mix = 0x5bd1e995;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    for (Py_ssize_t i = 0; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)d[i] | ((uint32_t)d[i + 1] << 8) | ((uint32_t)d[i + 2] << 16) |
                     ((uint32_t)d[i + 3] << 24);
        k *= mix;
        k ^= k >> 24;
        k *= mix;
        h *= mix;
        h ^= k;
    }
    const unsigned char *tail = d + (len & ~(Py_ssize_t)3);
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)tail[0];
        h *= mix;
    }
    h ^= h >> 13;
    h *= mix;
    h ^= h >> 15;
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong((unsigned long)h);
}

/* ------------------------------------------------------------------ Python surface */

static PyObject *Plan_encode(PlanObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "encode(record, prefix=b'') takes 1 or 2 arguments");
        return NULL;
    }
    return plan_encode(self, args[0], nargs == 2 ? args[1] : NULL);
}

static PyObject *decode_args(PlanObject *self, PyObject *const *args, Py_ssize_t nargs, int exact) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "decode(data, offset=0) takes 1 or 2 arguments");
        return NULL;
    }
    Py_ssize_t offset = 0;
    if (nargs == 2) {
        offset = PyLong_AsSsize_t(args[1]);
        if (offset == -1 && PyErr_Occurred()) return NULL;
    }
    return plan_decode(self, args[0], offset, exact);
}

static PyObject *Plan_decode(PlanObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return decode_args(self, args, nargs, 0);
}

static PyObject *Plan_decode_all(PlanObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return decode_args(self, args, nargs, 1);
}

static PyMethodDef Plan_methods[] = {
    {"encode", (PyCFunction)(void (*)(void))Plan_encode, METH_FASTCALL,
     "encode(record, prefix=b'') -> prefix + the record's Avro binary encoding"},
    {"decode", (PyCFunction)(void (*)(void))Plan_decode, METH_FASTCALL,
     "decode(data, offset=0) -> (value, end offset)"},
    {"decode_all", (PyCFunction)(void (*)(void))Plan_decode_all, METH_FASTCALL,
     "decode_all(data, offset=0) -> value; ValueError when bytes are left after it"},
    {"copy", (PyCFunction)(void (*)(void))Plan_copy, METH_FASTCALL,
     "copy(record, limit) -> decode_all(encode(record)) built without the bytes, or None when not shown "
     "(a value encode would convert or refuse, a union, a float, a body over limit bytes)"},
    {"copy_into", (PyCFunction)(void (*)(void))Plan_copy_into, METH_FASTCALL,
     "copy_into(source, target, limit) -> True after setting target's attributes to copy's fields read "
     "from source's attributes, or None when not shown (target untouched)"},
    {"encode_attrs", (PyCFunction)Plan_encode_attrs, METH_O,
     "encode_attrs(objects) -> [encode({field: getattr(o, field) for each field of the record}) for o in "
     "objects], without the dicts"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "schemas._avrofast.Plan",
    .tp_basicsize = sizeof(PlanObject),
    .tp_dealloc = (destructor)Plan_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Plan(tree, helpers): an Avro schema compiled by schemas.codec, ready to run in C.",
    .tp_methods = Plan_methods,
    .tp_new = Plan_new,
};

static int check_plan(PyObject *plan) {
    if (Py_IS_TYPE(plan, &PlanType)) return 0;
    PyErr_Format(PyExc_TypeError, "expected a schemas._avrofast.Plan, got %s", Py_TYPE(plan)->tp_name);
    return -1;
}

static PyObject *mod_encode(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    (void)m;
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "encode(plan, record, prefix=b'') takes 2 or 3 arguments");
        return NULL;
    }
    if (check_plan(args[0]) < 0) return NULL;
    return plan_encode((PlanObject *)args[0], args[1], nargs == 3 ? args[2] : NULL);
}

static PyObject *mod_decode(PyObject *m, PyObject *const *args, Py_ssize_t nargs) {
    (void)m;
    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "decode(plan, data, offset=0) takes 2 or 3 arguments");
        return NULL;
    }
    if (check_plan(args[0]) < 0) return NULL;
    return Plan_decode((PlanObject *)args[0], args + 1, nargs - 1);
}

static PyMethodDef module_methods[] = {
    {"encode", (PyCFunction)(void (*)(void))mod_encode, METH_FASTCALL,
     "encode(plan, record, prefix=b'') -> bytes"},
    {"decode", (PyCFunction)(void (*)(void))mod_decode, METH_FASTCALL,
     "decode(plan, data, offset=0) -> (value, end offset)"},
    {"murmur2", (PyCFunction)mod_murmur2, METH_O,
     "murmur2(key: bytes-like) -> Kafka's murmur2 hash of the key (unsigned 32-bit), as aiokafka.partitioner's"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "schemas._avrofast",
    .m_doc = "C executor for the Avro codec plans compiled by schemas.codec (optional accelerator).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__avrofast(void) {
    if (PyType_Ready(&PlanType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Plan", (PyObject *)&PlanType) < 0 ||
        PyModule_AddIntConstant(m, "PLAN_VERSION", 1) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
