/* `xlb agent`: the node process. */
#ifndef XLB_AGENT_H
#define XLB_AGENT_H

int cmd_agent(int argc, char **argv);

#endif
