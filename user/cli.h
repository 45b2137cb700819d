/* The inspection subcommands: read the pinned maps, print tables or JSON. */
#ifndef XLB_CLI_H
#define XLB_CLI_H

int cmd_services(int argc, char **argv);
int cmd_backends(int argc, char **argv);
int cmd_conntrack(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_cleanup(int argc, char **argv);

#endif
