/* The command lines' front end, installed as `pycontain-runc` and `pycontain` (see front.h).
 *
 * Why a C program: a one-shot command pays the interpreter's start before any of our code,
 * and with the installation's `site` (every .pth file of site-packages) that alone is more
 * than runc needs for a whole verb.  So the verbs that clients call most and that only read
 * or signal (`state`, `kill`, `start`, `list`, `delete` of a stopped container) are answered
 * here, from the runtime's own state files, and everything else execs the Python runtime
 * with `-I -S`: isolated (no PYTHON* variables, no current directory on sys.path) and without
 * `site`; the boot code below puts site-packages on sys.path itself and runs only pycontain's
 * own editable-install hook, falling back to the whole of `site` where that does not find
 * the package.  This program never runs in a container and never runs Python in-process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front.h"
#include "front_config.h"   /* PYC_PYTHON: the interpreter the package was built for;
                                PYC_VERSION: its version, as a Python string literal */

/* Runs in the Python that this program execs: argv[1] is the program's name, argv[2] the
 * module whose main() runs the command line.  An editable install (setuptools' meta path
 * finder, whose import alone costs more than the interpreter's start) is read for the package
 * directory instead of imported: its parent goes on sys.path after site-packages.  The
 * collector's threshold is raised first, as pycontain.cli._exit.one_shot() does. */
static const char BOOT[] =
    "import gc\n"
    "gc.set_threshold(100000)\n"     /* pycontain.cli._exit.one_shot(), before any import */
    "import sys,site,os\n"
    "p,m=sys.argv[1:3]\n"
    "del sys.argv[1:3]\n"
    "sys.argv[0]=p\n"
    "def pkg(d,n):\n"                 /* an editable install's package directory */
    " try:\n"
    "  with open(os.path.join(d,n),'rb') as f:\n"
    "   t=f.read()\n"
    "  if t.startswith(b'import __editable___pycontain_'):\n"
    "   f=t[7:].split(b';',1)[0].strip().decode()\n"
    "   with open(os.path.join(d,f+'.py'),'rb') as g:\n"
    "    t=g.read()\n"
    "   t=t.split(b\"MAPPING\",1)[1].split(b\"'pycontain': '\",1)[1].split(b\"'\",1)[0]\n"
    "   t=os.fsdecode(t)\n"
    "   if os.path.isfile(os.path.join(t,'__init__.py')):\n"
    "    return os.path.dirname(t)\n"
    " except (OSError,IndexError,ValueError):\n"
    "  pass\n"
    /* the editable install's hook is named after the version this program was built with
     * (one stat, not a listing of site-packages); any other layout is found by the whole of
     * `site` below */
    "n='__editable__.pycontain-'+" PYC_VERSION "+'.pth'\n"
    "for d in site.getsitepackages():\n"
    " if d not in sys.path and os.path.isdir(d):\n"
    "  sys.path.append(d)\n"
    "  if os.path.exists(os.path.join(d,n)):\n"
    "   e=pkg(d,n)\n"
    "   if e:\n"
    "    sys.path.append(e)\n"
    "   else:\n"
    "    site.addpackage(d,n,None)\n"
    "try:\n"                          /* not importlib: it loads `types` and `warnings` */
    " __import__(m)\n"
    "except ImportError:\n"
    " site.main()\n"
    " __import__(m)\n"
    "import pycontain.cli._exit as x\n"
    "x.one_shot()\n"                 /* the flag: this process ends with its verb */
    "x.leave(sys.modules[m].main())\n";

static int executable(const char *path)
{
    return path && path[0] == '/' && access(path, X_OK) == 0;
}

/* The interpreter: $PYCONTAIN_PYTHON, the one the package was built with, `python3` beside
 * this program (a virtual environment's bin/), or the system's. */
static const char *python(void)
{
    static char beside[PATH_MAX];
    const char *env = getenv("PYCONTAIN_PYTHON");
    if (executable(env))
        return env;
    if (executable(PYC_PYTHON))
        return PYC_PYTHON;
    ssize_t n = readlink("/proc/self/exe", beside, sizeof(beside) - 16);
    if (n > 0) {
        beside[n] = '\0';
        char *slash = strrchr(beside, '/');
        if (slash) {
            strcpy(slash + 1, "python3");
            if (executable(beside))
                return beside;
        }
    }
    return "/usr/bin/python3";
}

static int exec_python(const char *prog, const char *module, int argc, char **argv)
{
    const char *py = python();
    char **args = calloc((size_t)argc + 8, sizeof(char *));
    if (!args) {
        perror(prog);
        return 125;
    }
    int i = 0;
    args[i++] = (char *)py;
    args[i++] = "-IS";
    args[i++] = "-c";
    args[i++] = (char *)BOOT;
    args[i++] = (char *)prog;
    args[i++] = (char *)module;
    for (int k = 1; k < argc; k++)
        args[i++] = argv[k];
    args[i] = NULL;
    fflush(stdout);
    execv(py, args);
    fprintf(stderr, "%s: cannot run the Python runtime %s: %s (set PYCONTAIN_PYTHON to the "
            "interpreter pycontain is installed for)\n", prog, py, strerror(errno));
    return 127;
}

/* runc's default root (pycontain.oci.store.default_root): /run/pycontain for root in the
 * initial user namespace, $XDG_RUNTIME_DIR/pycontain for other users; NULL where the rule
 * needs more than this (root in a user namespace with XDG_RUNTIME_DIR set). */
static const char *default_root(void)
{
    static char buf[PATH_MAX];
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (!xdg || xdg[0] != '/')
        return "/run/pycontain";
    if (geteuid() != 0) {
        if (snprintf(buf, sizeof(buf), "%s/pycontain", xdg) >= (int)sizeof(buf))
            return NULL;
        return buf;
    }
    FILE *f = fopen("/proc/self/uid_map", "re");
    if (!f)
        return NULL;
    unsigned long a, b, c;
    int n = fscanf(f, "%lu %lu %lu", &a, &b, &c);
    int more = n == 3 && fscanf(f, "%lu", &a) == 1;
    fclose(f);
    if (n == 3 && !more && a == 0 && b == 0 && c == 4294967295UL)
        return "/run/pycontain";
    return NULL;
}

/* Go's strconv.ParseBool, as the Python runtime reads --debug=VALUE */
static int parse_bool(const char *v, int *out)
{
    static const char *t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (unsigned i = 0; i < 6; i++) {
        if (strcmp(v, t[i]) == 0) { *out = 1; return 0; }
        if (strcmp(v, f[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

/* The global options the C verbs understand (--root, --log, --log-format, --debug); any
 * other option, or one written in a way this does not read, leaves it all to Python.
 * Returns the index of the verb, or -1. */
static int global_options(int argc, char **argv, struct front_opts *o)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break;
        const char *name = a + 1 + (a[1] == '-');
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const char **dst = NULL;
        if (len == 4 && strncmp(name, "root", 4) == 0)
            dst = &o->root;
        else if (len == 3 && strncmp(name, "log", 3) == 0)
            dst = &o->log;
        else if (len == 10 && strncmp(name, "log-format", 10) == 0)
            dst = &o->log_format;
        else if (len == 5 && strncmp(name, "debug", 5) == 0) {
            if (eq && parse_bool(eq + 1, &o->debug) != 0)
                return -1;
            if (!eq)
                o->debug = 1;
            continue;
        } else
            return -1;
        if (eq)
            *dst = eq + 1;
        else if (i + 1 < argc)
            *dst = argv[++i];
        else
            return -1;
    }
    if (i >= argc)
        return -1;
    if (strcmp(o->log_format, "text") != 0 && strcmp(o->log_format, "json") != 0)
        return -1;
    return i;
}

static int runc_main(int argc, char **argv)
{
    const char *prog = "pycontain-runc";
    const char *no_fast = getenv("PYCONTAIN_NO_FAST_VERBS");
    if (!(no_fast && no_fast[0] && strcmp(no_fast, "0") != 0)) {
        struct front_opts o = {NULL, NULL, "text", 0};
        int v = global_options(argc, argv, &o);
        if (v > 0 && !o.debug && (o.root || (o.root = default_root()))) {
            static const struct {
                const char *verb;
                int (*fn)(const struct front_opts *, int, char **);
            } verbs[] = {
                {"state", front_state}, {"kill", front_kill}, {"start", front_start},
                {"list", front_list},   {"delete", front_delete},
            };
            for (unsigned k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
                if (strcmp(argv[v], verbs[k].verb) != 0)
                    continue;
                int rc = verbs[k].fn(&o, argc - v - 1, argv + v + 1);
                if (rc != FRONT_FALLBACK) {
                    if (fflush(stdout) != 0)
                        return 1;
                    return rc;
                }
                break;
            }
        }
    }
    return exec_python(prog, "pycontain.cli.runc", argc, argv);
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    if (strncmp(base, "pycontain-runc", 14) == 0)
        return runc_main(argc, argv);
    return exec_python("pycontain", "pycontain.cli.main", argc, argv);
}
