/* The D3DKMT calls the adapters check makes, and the structures they take: the same layout in
 * libdxcore.so (Linux) and gdi32.dll (Windows). Internal to adapters*.c. */
#ifndef GPUPV_GUEST_D3DKMT_H
#define GPUPV_GUEST_D3DKMT_H

#include <cjson/cJSON.h>
#include <stdint.h>

typedef int32_t ntstatus;
struct kmt_adapterinfo {
  uint32_t handle;
  uint32_t luid_low, luid_high;
  uint32_t num_sources;
  uint32_t present_move_regions_preferred;
};
struct kmt_enumadapters2 {
  uint32_t num_adapters;
  struct kmt_adapterinfo *adapters;
};
struct kmt_queryadapterinfo {
  uint32_t handle;
  int32_t type;
  void *data;
  uint32_t size;
};
struct kmt_closeadapter {
  uint32_t handle;
};
#define KMT_ADAPTERS_MAX 64
#define KMTQAITYPE_DRIVERVERSION 13
#define KMTQAITYPE_QUERYREGISTRY 48
#define QUERYREGISTRY_DRIVERSTOREPATH 2
#define QUERYREGISTRY_STATUS_SUCCESS 0
#define QUERYREGISTRY_STATUS_BUFFER_OVERFLOW 1
#define QUERYREGISTRY_OUTPUT_OFFSET 544 /* the union after the fixed part */
#define QUERYREGISTRY_SIZE 552
#define QUERYREGISTRY_OUTPUT_MAX 65536
struct kmt_queryregistry { /* the fixed part of D3DDDI_QUERYREGISTRY_INFO */
  int32_t query_type;
  uint32_t query_flags;
  uint16_t value_name[260];
  uint32_t value_type;
  uint32_t physical_adapter_index;
  uint32_t output_value_size;
  int32_t status;
};
_Static_assert(sizeof(struct kmt_queryregistry) == QUERYREGISTRY_OUTPUT_OFFSET,
               "D3DDDI_QUERYREGISTRY_INFO's fixed part");

typedef ntstatus (*enum_fn)(struct kmt_enumadapters2 *);
typedef ntstatus (*query_fn)(const struct kmt_queryadapterinfo *);
typedef ntstatus (*close_fn)(const struct kmt_closeadapter *);

struct d3dkmt_api {
  enum_fn enumerate;
  query_fn query;
  close_fn close_adapter;
};

/* The adapters the API lists, with their WDDM versions and driver-store folders, into o's
 * "adapters" (adapters.h); an error of the API itself in o's "error". */
void d3dkmt_list(const struct d3dkmt_api *api, cJSON *o);

#endif
