/* Native hot path of the request handler: per-step loops run once per request, ~100 steps.
 *
 * Each function has a pure-Python twin (segmentation.segment_with, store._codec.steps_layout,
 * the protobuf messages that responses.py would otherwise build), which defines the
 * behaviour; tests check that both agree. Built by hatch_build.py at install time.
 * API_VERSION changes whenever a function is added, removed or changes its signature:
 * native.py refuses a module built from another version of this file.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define API_VERSION 2

static PyObject *s_index, *s_text, *s_char_start, *s_char_end;

/* Blank-line separators: "\n", then [ \t\r\f\v]*, then "\n", then any whitespace
 * (str.isspace). Returns the offset where the separator found at or after `pos` ends,
 * or -1 when there is none; the same leftmost matches as segmentation's regular expression. */
static Py_ssize_t
next_cut(int kind, const void *data, Py_ssize_t n, Py_ssize_t pos)
{
    while (pos < n) {
        Py_ssize_t q = pos;
        if (kind == PyUnicode_1BYTE_KIND) {  /* most rollouts: memchr */
            const char *hit = memchr((const char *)data + pos, '\n', (size_t)(n - pos));
            if (hit == NULL)
                return -1;
            q = hit - (const char *)data;
        } else {
            while (q < n && PyUnicode_READ(kind, data, q) != '\n')
                q++;
            if (q >= n)
                return -1;
        }
        Py_ssize_t r = q + 1;
        while (r < n) {
            Py_UCS4 c = PyUnicode_READ(kind, data, r);
            if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v')
                break;
            r++;
        }
        if (r < n && PyUnicode_READ(kind, data, r) == '\n') {
            Py_ssize_t end = r + 1;
            while (end < n && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, end)))
                end++;
            return end;
        }
        pos = q + 1;
    }
    return -1;
}

/* How to build a Step: its type and the descriptors of its four slots. Assigning the slots
 * is all that Step's __init__ does (a plain slots dataclass); the tests compare the steps. */
typedef struct {
    PyTypeObject *type;
    PyObject *slots[4];  /* index, text, char_start, char_end */
} StepMaker;

static int
maker_init(StepMaker *maker, PyObject *step_type)
{
    if (!PyType_Check(step_type)) {
        PyErr_SetString(PyExc_TypeError, "step_type must be a class");
        return -1;
    }
    maker->type = (PyTypeObject *)step_type;
    PyObject *names[4] = {s_index, s_text, s_char_start, s_char_end};
    for (int i = 0; i < 4; i++) {
        PyObject *descr = PyObject_GetAttr(step_type, names[i]);
        if (descr == NULL || Py_TYPE(descr)->tp_descr_set == NULL) {
            if (descr != NULL)
                PyErr_Format(PyExc_TypeError, "step_type.%U is not a slot", names[i]);
            for (int j = 0; j < i; j++)
                Py_DECREF(maker->slots[j]);
            Py_XDECREF(descr);
            return -1;
        }
        maker->slots[i] = descr;
    }
    return 0;
}

static void
maker_clear(StepMaker *maker)
{
    for (int i = 0; i < 4; i++)
        Py_CLEAR(maker->slots[i]);
}

static PyObject *
new_step(const StepMaker *maker, PyObject *text, Py_ssize_t index, Py_ssize_t start,
         Py_ssize_t end)
{
    PyObject *values[4] = {PyLong_FromSsize_t(index), PyUnicode_Substring(text, start, end),
                           PyLong_FromSsize_t(start), PyLong_FromSsize_t(end)};
    PyObject *step = NULL;
    if (values[0] && values[1] && values[2] && values[3])
        step = maker->type->tp_alloc(maker->type, 0);
    for (int i = 0; step != NULL && i < 4; i++) {
        descrsetfunc set = Py_TYPE(maker->slots[i])->tp_descr_set;
        if (set(maker->slots[i], step, values[i]) < 0)
            Py_CLEAR(step);
    }
    for (int i = 0; i < 4; i++)
        Py_XDECREF(values[i]);
    return step;
}

static int
append_step(PyObject *steps, const StepMaker *maker, PyObject *text, Py_ssize_t index,
            Py_ssize_t start, Py_ssize_t end)
{
    PyObject *step = new_step(maker, text, index, start, end);
    if (step == NULL)
        return -1;
    int appended = PyList_Append(steps, step);
    Py_DECREF(step);
    return appended;
}

/* Keyword mode (segmentation's rules, version 2): a cut right before a keyword that is a
 * whole word and opens a line (after a newline and optional spaces or tabs) or a sentence
 * (after one of .!?:;)] and at least one space or tab). */
typedef struct {
    PyObject *keywords;        /* tuple of non-empty str */
    unsigned char ascii[128];  /* first characters of the keywords, when ASCII */
    int other_first;           /* some keyword starts with a non-ASCII character */
} Keywords;

static int
keywords_init(Keywords *kw, PyObject *keywords)
{
    kw->keywords = keywords;
    memset(kw->ascii, 0, sizeof kw->ascii);
    kw->other_first = 0;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keywords); k++) {
        PyObject *keyword = PyTuple_GET_ITEM(keywords, k);
        if (!PyUnicode_Check(keyword) || PyUnicode_GET_LENGTH(keyword) == 0) {
            PyErr_SetString(PyExc_TypeError, "keywords must be non-empty str");
            return -1;
        }
        Py_UCS4 first = PyUnicode_READ_CHAR(keyword, 0);
        if (first < 128)
            kw->ascii[first] = 1;
        else
            kw->other_first = 1;
    }
    return 0;
}

static int
opens_step(int kind, const void *data, Py_ssize_t n, Py_ssize_t pos, const Keywords *kw)
{
    Py_UCS4 prev = PyUnicode_READ(kind, data, pos - 1);
    if (prev != ' ' && prev != '\t' && prev != '\n')
        return 0;
    Py_UCS4 first = PyUnicode_READ(kind, data, pos);
    if (first < 128 ? !kw->ascii[first] : !kw->other_first)
        return 0;
    int whole = 0;
    PyObject *keywords = kw->keywords;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keywords) && !whole; k++) {
        PyObject *keyword = PyTuple_GET_ITEM(keywords, k);
        int kkind = PyUnicode_KIND(keyword);
        const void *kdata = PyUnicode_DATA(keyword);
        Py_ssize_t klen = PyUnicode_GET_LENGTH(keyword);
        if (PyUnicode_READ(kkind, kdata, 0) != first || pos + klen > n)
            continue;
        Py_ssize_t i = 1;
        while (i < klen && PyUnicode_READ(kind, data, pos + i) == PyUnicode_READ(kkind, kdata, i))
            i++;
        if (i < klen)
            continue;
        Py_ssize_t end = pos + klen;
        if (end == n)
            whole = 1;
        else {
            Py_UCS4 next = PyUnicode_READ(kind, data, end);
            whole = !(Py_UNICODE_ISALNUM(next) || next == '_');
        }
    }
    if (!whole)
        return 0;
    Py_ssize_t start = pos;
    while (start > 0) {
        Py_UCS4 c = PyUnicode_READ(kind, data, start - 1);
        if (c != ' ' && c != '\t')
            break;
        start--;
    }
    if (start == 0)
        return 0;
    Py_UCS4 before = PyUnicode_READ(kind, data, start - 1);
    if (before == '\n')
        return 1;
    return start != pos && before < 128 && memchr(".!?:;)]", (int)before, 7) != NULL;
}

/* segment_steps(text, keywords, step_type): the steps of a text, as step_type(index, text,
 * char_start, char_end). Cuts are the ends of blank-line separators and, if `keywords` (a
 * tuple of non-empty str) is not empty, the keyword cuts; a cut counts where it falls after
 * the first non-space character and before the end. With no keywords this is blank-line
 * mode (whose whitespace-only first step joins the second), with segmentation.KEYWORDS it
 * is keyword mode. */
static PyObject *
segment_steps(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyUnicode_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "segment_steps(text: str, keywords: tuple[str, ...], step_type)");
        return NULL;
    }
    PyObject *text = args[0];
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)  /* a legacy string made through the old C API */
        return NULL;
#endif
    Keywords keywords;
    if (keywords_init(&keywords, args[1]) < 0)
        return NULL;
    StepMaker maker;
    if (maker_init(&maker, args[2]) < 0)
        return NULL;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *steps = PyList_New(0);
    if (steps == NULL) {
        maker_clear(&maker);
        return NULL;
    }
    if (n == 0)
        goto done;
    Py_ssize_t first_content = 0;
    while (first_content < n && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, first_content)))
        first_content++;
    /* two increasing sequences of cuts, merged: blank-line cuts and keyword cuts */
    int any_keyword = PyTuple_GET_SIZE(args[1]) > 0;
    Py_ssize_t start = 0, index = 0, blank = next_cut(kind, data, n, 0), pos = 1;
    for (;;) {
        Py_ssize_t limit = blank >= 0 ? blank : n, cut;
        if (!any_keyword)
            pos = limit;
        for (; pos < limit; pos++) {
            if (kind == PyUnicode_1BYTE_KIND) {  /* most rollouts: skip non-initials fast */
                Py_UCS1 c = ((const Py_UCS1 *)data)[pos];
                if (c < 128 ? !keywords.ascii[c] : !keywords.other_first)
                    continue;
            }
            if (opens_step(kind, data, n, pos, &keywords))
                break;
        }
        if (pos < limit) {
            cut = pos;
        } else {
            cut = limit;
            if (blank >= 0)
                blank = next_cut(kind, data, n, blank);
        }
        pos = cut + 1;
        if (cut >= n)
            break;
        if (cut <= first_content)
            continue;  /* whitespace before the first content stays in step 1 */
        if (append_step(steps, &maker, text, ++index, start, cut) < 0)
            goto fail;
        start = cut;
    }
    if (append_step(steps, &maker, text, ++index, start, n) < 0)
        goto fail;
done:;
    maker_clear(&maker);
    PyObject *result = PyList_AsTuple(steps);
    Py_DECREF(steps);
    return result;
fail:
    maker_clear(&maker);
    Py_DECREF(steps);
    return NULL;
}

/* The four fields of a step, checked: index, char_start and char_end are uint32. */
typedef struct {
    uint64_t index, start, end;
    const char *utf8;
    Py_ssize_t size;
    Py_ssize_t chars;
} StepFields;

static int
read_uint32(PyObject *step, PyObject *name, uint64_t *out)
{
    PyObject *value = PyObject_GetAttr(step, name);
    if (value == NULL)
        return -1;
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "step.%U must be an int", name);
        Py_DECREF(value);
        return -1;
    }
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    Py_DECREF(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    if (v > 0xFFFFFFFFull) {
        PyErr_Format(PyExc_OverflowError, "step.%U does not fit in uint32", name);
        return -1;
    }
    *out = v;
    return 0;
}

/* Fields of every step; texts stay referenced by `texts` (a list) while the UTF-8 is used.
 * Without `utf8`, only the texts' lengths in characters are read. */
static StepFields *
read_steps(PyObject *seq, Py_ssize_t count, PyObject *texts, int utf8)
{
    StepFields *fields = PyMem_New(StepFields, count ? count : 1);
    if (fields == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *step = PyTuple_GET_ITEM(seq, i);  /* a tuple: nothing can remove it */
        StepFields *f = &fields[i];
        if (read_uint32(step, s_index, &f->index) < 0 ||
            read_uint32(step, s_char_start, &f->start) < 0 ||
            read_uint32(step, s_char_end, &f->end) < 0)
            goto fail;
        PyObject *text = PyObject_GetAttr(step, s_text);
        if (text == NULL)
            goto fail;
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "step.text must be a str");
            Py_DECREF(text);
            goto fail;
        }
        int appended = PyList_Append(texts, text);
        Py_DECREF(text);
        if (appended < 0)
            goto fail;
        f->utf8 = NULL;
        f->size = 0;
        if (utf8 && (f->utf8 = PyUnicode_AsUTF8AndSize(text, &f->size)) == NULL)
            goto fail;
        f->chars = PyUnicode_GET_LENGTH(text);
    }
    return fields;
fail:
    PyMem_Free(fields);
    return NULL;
}

static size_t
varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static char *
put_varint(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

/* Size of one splice.v1.Step body; fields holding their default are left out, as protobuf
 * itself serializes them. */
static size_t
step_body_size(const StepFields *f)
{
    size_t size = 0;
    if (f->index)
        size += 1 + varint_size(f->index);
    if (f->size)
        size += 1 + varint_size((uint64_t)f->size) + (size_t)f->size;
    if (f->start)
        size += 1 + varint_size(f->start);
    if (f->end)
        size += 1 + varint_size(f->end);
    return size;
}

/* steps_wire(steps, field_number): the protobuf encoding of `steps` as the repeated
 * splice.v1.Step field `field_number` of the enclosing message. */
static PyObject *
steps_wire(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "steps_wire(steps, field_number: int)");
        return NULL;
    }
    long number = PyLong_AsLong(args[1]);
    if (number < 1 || number > 15) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "field_number must be 1..15");
        return NULL;
    }
    PyObject *seq = PySequence_Tuple(args[0]);
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(seq);
    PyObject *texts = PyList_New(0);
    PyObject *out = NULL;
    StepFields *fields = texts ? read_steps(seq, count, texts, 1) : NULL;
    if (fields == NULL)
        goto end;
    size_t total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        size_t body = step_body_size(&fields[i]);
        total += 1 + varint_size(body) + body;
        if (total > (size_t)PY_SSIZE_T_MAX / 2) {
            PyErr_SetString(PyExc_OverflowError, "steps too large to encode");
            goto end;
        }
    }
    out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (out == NULL)
        goto end;
    char *p = PyBytes_AS_STRING(out);
    char tag = (char)((number << 3) | 2);
    for (Py_ssize_t i = 0; i < count; i++) {
        const StepFields *f = &fields[i];
        *p++ = tag;
        p = put_varint(p, step_body_size(f));
        if (f->index) {
            *p++ = 0x08;
            p = put_varint(p, f->index);
        }
        if (f->size) {
            *p++ = 0x12;
            p = put_varint(p, (uint64_t)f->size);
            memcpy(p, f->utf8, (size_t)f->size);
            p += f->size;
        }
        if (f->start) {
            *p++ = 0x18;
            p = put_varint(p, f->start);
        }
        if (f->end) {
            *p++ = 0x20;
            p = put_varint(p, f->end);
        }
    }
end:
    PyMem_Free(fields);
    Py_XDECREF(texts);
    Py_DECREF(seq);
    return out;
}

static char *
put_decimal(char *p, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

/* steps_layout(steps): the store's layout JSON "[[index,char_start,char_end,length],...]". */
static PyObject *
steps_layout(PyObject *self, PyObject *arg)
{
    PyObject *seq = PySequence_Tuple(arg);
    if (seq == NULL)
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(seq);
    PyObject *texts = PyList_New(0);
    PyObject *out = NULL;
    char *buffer = NULL;
    StepFields *fields = texts ? read_steps(seq, count, texts, 0) : NULL;
    if (fields == NULL)
        goto end;
    /* each number is at most 20 digits, each step adds "[,,,]," */
    if ((size_t)count > ((size_t)PY_SSIZE_T_MAX - 2) / (4 * 20 + 6)) {
        PyErr_NoMemory();
        goto end;
    }
    size_t cap = 2 + (size_t)count * (4 * 20 + 6);
    buffer = PyMem_Malloc(cap);
    if (buffer == NULL) {
        PyErr_NoMemory();
        goto end;
    }
    char *p = buffer;
    *p++ = '[';
    for (Py_ssize_t i = 0; i < count; i++) {
        const StepFields *f = &fields[i];
        if (i)
            *p++ = ',';
        *p++ = '[';
        p = put_decimal(p, f->index);
        *p++ = ',';
        p = put_decimal(p, f->start);
        *p++ = ',';
        p = put_decimal(p, f->end);
        *p++ = ',';
        p = put_decimal(p, (uint64_t)f->chars);
        *p++ = ']';
    }
    *p++ = ']';
    out = PyUnicode_FromStringAndSize(buffer, p - buffer);
end:
    PyMem_Free(buffer);
    PyMem_Free(fields);
    Py_XDECREF(texts);
    Py_DECREF(seq);
    return out;
}

static PyMethodDef methods[] = {
    {"segment_steps", (PyCFunction)(void (*)(void))segment_steps, METH_FASTCALL,
     "Steps of a text: blank-line mode, or keyword mode given the keywords."},
    {"steps_wire", (PyCFunction)(void (*)(void))steps_wire, METH_FASTCALL,
     "Protobuf encoding of steps as a repeated splice.v1.Step field."},
    {"steps_layout", steps_layout, METH_O, "The store's layout JSON of steps."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "splice.server._native",
    "Native hot path of the request handler (see splice.server.native).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    s_index = PyUnicode_InternFromString("index");
    s_text = PyUnicode_InternFromString("text");
    s_char_start = PyUnicode_InternFromString("char_start");
    s_char_end = PyUnicode_InternFromString("char_end");
    if (!s_index || !s_text || !s_char_start || !s_char_end)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "API_VERSION", API_VERSION) < 0)
        Py_CLEAR(m);
    return m;
}
