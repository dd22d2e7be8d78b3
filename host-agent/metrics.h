/* /metrics: the host's state in the Prometheus text format (version 0.0.4). */
#ifndef GPUPV_HOST_METRICS_H
#define GPUPV_HOST_METRICS_H

#include "host-agent/host-state.h"

/* *ret is new (free). */
int metrics_text(const struct host_state *st, char **ret);

#endif
