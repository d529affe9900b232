/* The command lines' front end (csrc/front.c): a small C program installed as
 * `pycontain-runc` and `pycontain`.  It answers the light runc verbs itself (csrc/front_verbs.c)
 * and starts the Python runtime, without `site`, for everything else.
 *
 * A verb function either does the whole verb and returns its exit status, or returns
 * FRONT_FALLBACK having changed nothing: then the Python runtime does the verb from the start
 * (and writes every error message: the C side only ever takes the successful path).
 */
#ifndef PYCONTAIN_FRONT_H
#define PYCONTAIN_FRONT_H

#define FRONT_FALLBACK (-1000)

struct front_opts {
    const char *root;        /* the state root: --root, or the default resolved by front.c */
    const char *log;         /* --log FILE or NULL */
    const char *log_format;  /* "text" or "json" */
    int debug;               /* --debug */
};

/* argv: the verb's own arguments (after the verb), argc of them */
int front_state(const struct front_opts *o, int argc, char **argv);
int front_kill(const struct front_opts *o, int argc, char **argv);
int front_start(const struct front_opts *o, int argc, char **argv);
int front_list(const struct front_opts *o, int argc, char **argv);
int front_delete(const struct front_opts *o, int argc, char **argv);

#endif
