/* xlb: the command. Each subcommand lives in the file named for its job. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "cli.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct subcommand subcommands[] = {
	{ "agent", cmd_agent, "run the node agent (DaemonSet process); --help for flags" },
	{ "services", cmd_services, "list frontends and their backend tables (pinned maps)" },
	{ "backends", cmd_backends, "list backends (pinned maps)" },
	{ "conntrack", cmd_conntrack, "list tracked flows (pinned maps)" },
	{ "stats", cmd_stats, "drop/skip/packet counters and map occupancy" },
	{ "cleanup", cmd_cleanup, "detach the programs and remove the pin directory" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xlb COMMAND [flags]\n\n"
		   "xlb is an eBPF/XDP service load balancer that replaces kube-proxy.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].help);
	fprintf(f, "\nEvery command takes --bpffs DIR (default /sys/fs/bpf/xlb); "
		   "'xlb COMMAND --help' for its flags.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "xlb: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
