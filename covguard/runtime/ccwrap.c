/* covguard's native compiler wrapper: the build's CC/CXX while `covguard build` runs.

   It does, for the common cases, exactly what covguard/toolchains/ccwrap.py does, without
   starting a Python interpreter per compile:

   - one compile (-c or -S) of one source: the configured machine flags, then covguard's
     coverage flags and defines when the source is instrumented (decided from the table covguard
     wrote before the build: the Python wrapper's own decision for every source file in the
     project), one record appended to the log, then exec of the real compiler;
   - a link that names no test framework library (GoogleTest, CppUTest, cmocka): the machine
     flags, the profile's run-time objects and link flags, one record, exec.

   Everything else - a compile of several sources, a compile-and-link, -E/-M, a response file
   (@file), a source the table does not decide, a link that needs a framework hook - goes to the
   Python wrapper unchanged (exec python -I -S ccwrap.py cc|c++ ARGS...).

   Configuration: `cc-native.conf` in the folder above the one holding this executable (the
   work area's bin/cc, bin/c++ are hard links to one build of this file): NUL-terminated
   `key=value` entries, lists as repeated keys, so that no value needs quoting.

   The log (`native.log` in the log folder): one record per invocation, appended with a single
   write(2) on an O_APPEND descriptor, so that parallel compiles never interleave:
       "CGW1" u32le(body length) body
   the body a sequence of fields, each u32le(length) + bytes:
       mode, time_ns, pid, directory, output ("" = none, else "=" + path), number of sources,
       per source: file, sha256 (hex, "" = unreadable), instrumented ("1"/"0"),
       then the full command (compiler and arguments) to the end of the body.
   covguard reads it after the build (covguard/toolchains/ccwrap.py: read_native_log). */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const SOURCE_EXTENSIONS[] = {".c", ".cc", ".cpp", ".cxx", ".c++", ".C", ".s", ".S", ".sx", 0};
static const char *const TAKES_VALUE[] = {
    "-o", "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote", "-idirafter", "-MF",
    "-MT", "-MQ", "-x", "-L", "-l", "-T", "-Xlinker", "-Xassembler", "-Xpreprocessor", "-aux-info",
    "--param", "-arch", "-target", "--sysroot", "-specs", "-e", "-u", "-z", 0};
static const char *const ONLY_PREPROCESS[] = {"-E", "-M", "-MM", 0};
static const char *const INFO[] = {"--version", "-v", "-dumpversion", "-dumpmachine", "--help", 0};

static void die(int status, const char *what, const char *detail) {
    fprintf(stderr, "covguard-cc: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(status);
}

static void *grab(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die(3, "out of memory", 0);
    return p;
}

static int in(const char *a, const char *const *set) {
    for (; *set; set++)
        if (strcmp(a, *set) == 0) return 1;
    return 0;
}

static int ends_with(const char *a, const char *suffix) {
    size_t n = strlen(a), m = strlen(suffix);
    return n >= m && memcmp(a + n - m, suffix, m) == 0;
}

static int starts_with(const char *a, const char *prefix) { return strncmp(a, prefix, strlen(prefix)) == 0; }

/* ---- configuration ---------------------------------------------------------------------- */

struct list {
    const char **items;
    size_t n;
};

struct config {
    const char *python, *script, *json, *log, *root, *cc, *cxx;
    struct list machine, cflags, lflags, runtime, skip, fwlib, table;
};

static const char *value_of(const char *entry, const char *key) {
    size_t n = strlen(key);
    return strncmp(entry, key, n) == 0 && entry[n] == '=' ? entry + n + 1 : 0;
}

static void read_config(const char *path, struct config *cfg) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(2, "cannot read the wrapper's configuration (run through 'covguard build')", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (1 << 30)) die(2, "bad wrapper configuration", path);
    size_t size = (size_t)st.st_size, got = 0;
    char *data = grab(size + 1);
    while (got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r <= 0) die(2, "cannot read the wrapper's configuration", path);
        got += (size_t)r;
    }
    close(fd);
    data[size] = 0;
    size_t entries = 0;
    for (size_t i = 0; i < size; i++) entries += data[i] == 0;
    struct list *lists[] = {&cfg->machine, &cfg->cflags, &cfg->lflags, &cfg->runtime, &cfg->skip, &cfg->fwlib, &cfg->table};
    const char *names[] = {"machine", "cflag", "lflag", "runtime", "skip", "fwlib", "src"};
    for (size_t k = 0; k < 7; k++) lists[k]->items = grab(sizeof(char *) * (entries + 1));
    for (char *p = data; p < data + size; p += strlen(p) + 1) {
        const char *v;
        if ((v = value_of(p, "python"))) cfg->python = v;
        else if ((v = value_of(p, "script"))) cfg->script = v;
        else if ((v = value_of(p, "json"))) cfg->json = v;
        else if ((v = value_of(p, "log"))) cfg->log = v;
        else if ((v = value_of(p, "root"))) cfg->root = v;
        else if ((v = value_of(p, "cc"))) cfg->cc = v;
        else if ((v = value_of(p, "cxx"))) cfg->cxx = v;
        else
            for (size_t k = 0; k < 7; k++)
                if ((v = value_of(p, names[k]))) {
                    lists[k]->items[lists[k]->n++] = v;
                    break;
                }
    }
    if (!cfg->python || !cfg->script || !cfg->json || !cfg->log || !cfg->cc || !cfg->cxx)
        die(2, "incomplete wrapper configuration", path);
}

/* ---- the Python wrapper, for everything not handled here ---------------------------------- */

static void to_python(const struct config *cfg, const char *kind, int argc, char **argv) {
    char **args = grab(sizeof(char *) * ((size_t)argc + 6));
    size_t n = 0;
    args[n++] = (char *)cfg->python;
    args[n++] = "-I";
    args[n++] = "-S";
    args[n++] = (char *)cfg->script;
    args[n++] = (char *)kind;
    for (int i = 1; i < argc; i++) args[n++] = argv[i];
    args[n] = 0;
    if (setenv("COVGUARD_CC_CONFIG", cfg->json, 1) != 0) die(3, "cannot set COVGUARD_CC_CONFIG", strerror(errno));
    execv(cfg->python, args);
    fprintf(stderr, "covguard-cc: cannot run the Python wrapper '%s': %s\n", cfg->python, strerror(errno));
    exit(127);
}

/* ---- paths ----------------------------------------------------------------------------- */

/* posixpath.normpath of a path (Python's rules: exactly two leading slashes stay; '..' at the
   root stays at the root; leading '..' of a relative path are kept). */
static char *normpath(const char *path) {
    size_t n = strlen(path);
    size_t lead = path[0] == '/' ? ((path[1] == '/' && path[2] != '/') ? 2 : 1) : 0;
    const char **start = grab(sizeof(char *) * (n / 2 + 2));
    size_t *len = grab(sizeof(size_t) * (n / 2 + 2));
    size_t depth = 0;
    for (const char *p = path; *p;) {
        const char *e = strchr(p, '/');
        size_t m = e ? (size_t)(e - p) : strlen(p);
        int dots = m == 2 && p[0] == '.' && p[1] == '.';
        if (m == 0 || (m == 1 && p[0] == '.')) {
            /* skip */
        } else if (!dots || (!lead && depth == 0) ||
                   (depth > 0 && len[depth - 1] == 2 && memcmp(start[depth - 1], "..", 2) == 0)) {
            start[depth] = p;
            len[depth++] = m;
        } else if (depth > 0) {
            depth--;
        }
        p += m;
        if (*p == '/') p++;
    }
    char *out = grab(n + 3);
    size_t k = 0;
    for (size_t i = 0; i < lead; i++) out[k++] = '/';
    for (size_t i = 0; i < depth; i++) {
        if (i) out[k++] = '/';
        memcpy(out + k, start[i], len[i]);
        k += len[i];
    }
    if (k == 0) out[k++] = '.';
    out[k] = 0;
    free(start);
    free(len);
    return out;
}

static char *join(const char *dir, const char *name) {
    if (name[0] == '/') return strdup(name);
    size_t a = strlen(dir), b = strlen(name);
    char *out = grab(a + b + 2);
    memcpy(out, dir, a);
    size_t len = a;
    if (a == 0 || dir[a - 1] != '/') out[len++] = '/';
    memcpy(out + len, name, b + 1);
    return out;
}

/* 1 instrumented, 0 not, -1 undecided (the Python wrapper decides). */
static int instrumented(const struct config *cfg, const char *full) {
    for (size_t i = 0; i < cfg->skip.n; i++) {
        const char *s = cfg->skip.items[i];
        size_t m = strlen(s);
        if (strcmp(full, s) == 0) return 0;
        while (m > 0 && s[m - 1] == '/') m--;
        if (strncmp(full, s, m) == 0 && full[m] == '/') return 0;
    }
    for (size_t i = 0; i < cfg->table.n; i++) {
        const char *e = cfg->table.items[i];
        if (strcmp(e + 1, full) == 0) return e[0] == '1';
    }
    if (cfg->root && full[0] == '/' && full[1] != '/') {
        size_t m = strlen(cfg->root);
        int under = strcmp(cfg->root, "/") == 0 || (strncmp(full, cfg->root, m) == 0 && (full[m] == '/' || !full[m]));
        if (!under) return 0; /* outside the project: never instrumented */
    }
    return -1;
}

/* ---- SHA-256 (FIPS 180-4) ------------------------------------------------------------------ */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *b) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 | (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b2 = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b2) ^ (a & c) ^ (b2 & c));
        hh = g, g = f, f = e, e = d + t1, d = c, c = b2, b2 = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b2, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

/* The hex SHA-256 of a file's bytes into hex[65]; "" when it cannot be read (as ccwrap.py's None). */
static void sha256_file(const char *path, char hex[65]) {
    hex[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    static unsigned char buf[65536 + 128];
    uint64_t total = 0;
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, 65536);
        if (r < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return;
        }
        if (r == 0) break;
        total += (uint64_t)r;
        have += (size_t)r;
        size_t whole = have / 64 * 64;
        for (size_t i = 0; i < whole; i += 64) sha256_block(h, buf + i);
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    close(fd);
    buf[have++] = 0x80;
    if (have > 56) {
        memset(buf + have, 0, 64 - have);
        sha256_block(h, buf);
        have = 0;
    }
    memset(buf + have, 0, 56 - have);
    uint64_t bits = total * 8;
    for (int i = 0; i < 8; i++) buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_block(h, buf);
    for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", h[i]);
}

/* ---- the record ------------------------------------------------------------------------ */

struct buffer {
    char *data;
    size_t len, cap;
};

static void put(struct buffer *b, const void *p, size_t n) {
    if (b->len + n > b->cap) {
        while (b->len + n > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
        b->data = realloc(b->data, b->cap);
        if (!b->data) die(3, "out of memory", 0);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u32(struct buffer *b, size_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    put(b, x, 4);
}

static void field(struct buffer *b, const char *s) {
    size_t n = strlen(s);
    put_u32(b, n);
    put(b, s, n);
}

static void append_record(const struct config *cfg, const char *mode, const char *cwd, const char *output,
                          const char *source, const char *sha, int instr, char **command) {
    struct buffer b = {0, 0, 0};
    char num[32];
    put(&b, "CGW1\0\0\0\0", 8);
    field(&b, mode);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(num, sizeof num, "%lld", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    field(&b, num);
    snprintf(num, sizeof num, "%ld", (long)getpid());
    field(&b, num);
    field(&b, cwd);
    if (output) {
        put_u32(&b, strlen(output) + 1);
        put(&b, "=", 1);
        put(&b, output, strlen(output));
    } else {
        field(&b, "");
    }
    field(&b, source ? "1" : "0");
    if (source) {
        field(&b, source);
        field(&b, sha);
        field(&b, instr ? "1" : "0");
    }
    for (char **a = command; *a; a++) field(&b, *a);
    size_t body = b.len - 8;
    if (body > 0xffffffffu) die(3, "the command line is too long to record", 0);
    unsigned char x[4] = {(unsigned char)body, (unsigned char)(body >> 8), (unsigned char)(body >> 16), (unsigned char)(body >> 24)};
    memcpy(b.data + 4, x, 4);
    int fd = open(cfg->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) die(3, "cannot open the build record log", cfg->log);
    ssize_t w = write(fd, b.data, b.len);
    if (w < 0 || (size_t)w != b.len) die(3, "cannot write the build record log", cfg->log);
    if (close(fd) != 0) die(3, "cannot write the build record log", cfg->log);
    free(b.data);
}

/* ---- main ------------------------------------------------------------------------------- */

static int links_framework(const struct config *cfg, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *slash = strrchr(a, '/');
        const char *base = slash ? slash + 1 : a;
        for (size_t k = 0; k < cfg->fwlib.n; k++) {
            const char *name = cfg->fwlib.items[k];
            if (a[0] == '-' && a[1] == 'l' && strcmp(a + 2, name) == 0) return 1;
            if (a[0] == '-' || !starts_with(base, "lib")) continue;
            size_t m = strlen(name);
            const char *rest = base + 3;
            if (strncmp(rest, name, m) != 0) continue;
            rest += m;
            if (strcmp(rest, ".a") == 0 || strcmp(rest, ".so") == 0 || starts_with(rest, ".so.")) return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    /* bin/cc and bin/c++ are links to this program; the configuration is beside bin/ */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) {
        if (!strchr(argv[0], '/')) die(2, "cannot locate the wrapper's configuration", argv[0]);
        snprintf(self, sizeof self, "%s", argv[0]);
    } else {
        self[n] = 0;
    }
    char *slash = strrchr(self, '/');
    const char *kind = strcmp(slash ? slash + 1 : self, "c++") == 0 ? "c++" : "cc";
    if (slash) *slash = 0;
    char *conf = grab(strlen(self) + 32);
    sprintf(conf, "%s/../cc-native.conf", self);
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    read_config(conf, &cfg);

    /* classify exactly as ccwrap.classify does */
    const char *output = 0, *source = 0;
    int sources = 0, compile_only = 0, preprocess = 0, response = 0, info = 0, shared = 0;
    for (int i = 1; i < argc; i++) { /* over every argument, as ccwrap.py's `x in args` */
        response |= argv[i][0] == '@';
        shared |= strcmp(argv[i], "-shared") == 0 || strcmp(argv[i], "-r") == 0;
        info |= in(argv[i], INFO);
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (in(a, TAKES_VALUE)) {
            if (strcmp(a, "-o") == 0 && i + 1 < argc) output = argv[i + 1];
            i++;
            continue;
        }
        if (starts_with(a, "-o") && strlen(a) > 2) {
            output = a + 2;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "-S") == 0) {
            compile_only = 1;
        } else if (in(a, ONLY_PREPROCESS)) {
            preprocess = 1;
        } else if (a[0] != '-') {
            for (const char *const *e = SOURCE_EXTENSIONS; *e; e++)
                if (ends_with(a, *e)) {
                    sources++;
                    source = a;
                    break;
                }
        }
    }
    const char *compiler = strcmp(kind, "c++") == 0 ? cfg.cxx : cfg.cc;
    int compile = !preprocess && compile_only && sources == 1;
    int link = !preprocess && !compile_only && sources == 0 && !info;
    if (response || !(compile || link)) to_python(&cfg, kind, argc, argv);
    if (link && !shared && !(getenv("COVGUARD_NO_FRAMEWORK_HOOKS") && strcmp(getenv("COVGUARD_NO_FRAMEWORK_HOOKS"), "1") == 0) &&
        links_framework(&cfg, argc, argv))
        to_python(&cfg, kind, argc, argv); /* the framework's per-test hook is compiled there */

    char *cwd = getcwd(0, 0);
    if (!cwd) die(3, "cannot read the working folder", strerror(errno));
    int instr = 0;
    char sha[65] = "";
    if (compile) {
        char *joined = join(cwd, source);
        char *full = normpath(joined);
        instr = instrumented(&cfg, full);
        if (instr < 0) to_python(&cfg, kind, argc, argv);
        sha256_file(joined, sha);
        free(full);
        free(joined);
    }
    size_t extra = cfg.machine.n + (compile ? (instr ? cfg.cflags.n : 0) : cfg.runtime.n + cfg.lflags.n);
    char **command = grab(sizeof(char *) * ((size_t)argc + extra + 1));
    size_t k = 0;
    command[k++] = (char *)compiler;
    for (int i = 1; i < argc; i++) command[k++] = argv[i];
    for (size_t i = 0; i < cfg.machine.n; i++) command[k++] = (char *)cfg.machine.items[i];
    if (compile && instr)
        for (size_t i = 0; i < cfg.cflags.n; i++) command[k++] = (char *)cfg.cflags.items[i];
    if (link) {
        if (!shared) /* never into a shared library or a partial link */
            for (size_t i = 0; i < cfg.runtime.n; i++) command[k++] = (char *)cfg.runtime.items[i];
        for (size_t i = 0; i < cfg.lflags.n; i++) command[k++] = (char *)cfg.lflags.items[i];
    }
    command[k] = 0;
    append_record(&cfg, compile ? "compile" : "link", cwd, output, compile ? source : 0, sha, instr, command);
    execvp(command[0], command);
    fprintf(stderr, "covguard-cc: cannot run the compiler '%s': %s\n", command[0], strerror(errno));
    return 127;
}
