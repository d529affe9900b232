/* The light runc verbs in C (see front.h): each does its verb or returns FRONT_FALLBACK. */
#include "front.h"

int front_state(const struct front_opts *o, int argc, char **argv)
{ (void)o; (void)argc; (void)argv; return FRONT_FALLBACK; }
int front_kill(const struct front_opts *o, int argc, char **argv)
{ (void)o; (void)argc; (void)argv; return FRONT_FALLBACK; }
int front_start(const struct front_opts *o, int argc, char **argv)
{ (void)o; (void)argc; (void)argv; return FRONT_FALLBACK; }
int front_list(const struct front_opts *o, int argc, char **argv)
{ (void)o; (void)argc; (void)argv; return FRONT_FALLBACK; }
int front_delete(const struct front_opts *o, int argc, char **argv)
{ (void)o; (void)argc; (void)argv; return FRONT_FALLBACK; }
