/*
 * Hyper-V socket service ids. A vsock port P is the service GUID
 * PPPPPPPP-facb-11e6-bd58-64006a7986d3, so a port names the same service on a Linux guest
 * (AF_VSOCK over hv_sock) and on Windows (AF_HYPERV). Pure functions.
 */
#ifndef GPUPV_NET_SERVICE_ID_H
#define GPUPV_NET_SERVICE_ID_H

#include "net/uri.h"

#include <stddef.h>
#include <stdint.h>

/* A GUID in its Windows memory layout (Data1..Data3 little-endian on x86). */
struct guid {
  uint32_t data1;
  uint16_t data2;
  uint16_t data3;
  uint8_t data4[8];
};

#define GUID_TEXT_LEN 36

extern const struct guid GUID_HV_WILDCARD;
extern const struct guid GUID_HV_PARENT;
extern const struct guid GUID_HV_CHILDREN;
extern const struct guid GUID_HV_LOOPBACK;

/* Parses "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", braces optional; 0 or GPUPV_EURI. */
int guid_parse(const char *text, struct guid *ret);
void guid_format(const struct guid *g, char ret[GUID_TEXT_LEN + 1]);
int guid_equal(const struct guid *a, const struct guid *b);
/* The service GUID of a vsock port; GPUPV_EURI for a port over 0x7fffffff. */
int service_id_from_port(uint32_t port, struct guid *ret);
/* The port of a vsock-template service GUID; GPUPV_EURI when g does not follow the template. */
int service_id_to_port(const struct guid *g, uint32_t *ret_port);
/* Resolves an hvsock VM name: "parent", "*" (wildcard), "children", "loopback" or a GUID. */
int service_id_vm(const char *name, struct guid *ret);

/* AF_HYPERV; mingw's ws2def.h does not define it. */
#define HV_AF_HYPERV 34

/* The layout of Windows' SOCKADDR_HV (hvsocket.h), so it can be built and tested anywhere. */
struct hv_address {
  uint16_t family; /* HV_AF_HYPERV */
  uint16_t reserved;
  struct guid vm_id;      /* a VM, or HV_GUID_PARENT / HV_GUID_WILDCARD ... */
  struct guid service_id; /* the port's template GUID, or the GUID the URI gave */
};

/* The address of an hvsock:// URI; GPUPV_EURI for another kind or a bad VM or service. */
int hv_address_from_uri(const struct uri *uri, struct hv_address *ret);
/* The guest identity a host records for a peer: "hvsock:<vm-id>". */
void hv_address_peer_id(const struct hv_address *a, char *ret, size_t size);

#endif
