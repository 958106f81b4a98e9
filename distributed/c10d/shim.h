// C interface to PyTorch's c10d (TCPStore, ProcessGroupGloo) for cgo.
//
// Every function that can fail returns NULL on success, or an error
// message the caller frees with free().
#ifndef AUTOFREEZE_C10D_SHIM_H
#define AUTOFREEZE_C10D_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct af_store af_store;
typedef struct af_group af_group;

// af_store_new connects to (or, with is_server, hosts) a TCPStore at
// host:port. With world > 0 every rank announces itself and the server
// waits until world ranks have (as torch.distributed does).
// A non-empty prefix wraps the store in a PrefixStore. A hosted store
// listens on the numeric address bind_addr, or on every interface when it
// is empty (libtorch's default).
char *af_store_new(const char *host, int port, int is_server, int world,
                   int64_t timeout_ms, const char *prefix,
                   const char *bind_addr, af_store **out);
char *af_store_set(af_store *s, const char *key, const char *value, int64_t n);
// af_store_get waits for key; *value is malloc'd.
char *af_store_get(af_store *s, const char *key, char **value, int64_t *n);
char *af_store_add(af_store *s, const char *key, int64_t delta, int64_t *out);
void af_store_free(af_store *s);

// af_gloo_new creates a Gloo process group of size ranks over store. iface
// names a network interface (GLOO_SOCKET_IFNAME) and host a hostname or
// address to bind; both empty means Gloo's default device.
char *af_gloo_new(af_store *s, int rank, int size, const char *iface,
                  const char *host, int64_t timeout_ms, af_group **out);
void af_group_free(af_group *g);

// af_nccl_new creates a NCCL process group of size ranks over store, this
// rank on CUDA device `device`. It fails with a message when the shim was
// built without NCCL or the GPU is not there.
char *af_nccl_new(af_store *s, int rank, int size, int device,
                  int64_t timeout_ms, af_group **out);
// af_nccl_built is 1 when the shim was compiled with ProcessGroupNCCL.
int af_nccl_built(void);
// af_cuda_device_count is the number of CUDA GPUs libtorch sees (0 for a
// CPU libtorch, or without a GPU or driver).
int af_cuda_device_count(void);

// af_allreduce_tensors sums tensors (torch::Tensor*; CUDA tensors for NCCL)
// across ranks in place, packed into flat buckets of at most
// bucket_bytes (a tensor larger than that is its own bucket).
char *af_allreduce_tensors(af_group *g, void **tensors, int n,
                           int64_t bucket_bytes);
// af_allreduce_f64 sums n doubles across ranks in place.
char *af_allreduce_f64(af_group *g, double *values, int64_t n);
// af_broadcast_i64 copies n int64s from root to every rank.
char *af_broadcast_i64(af_group *g, int64_t *values, int64_t n, int root);
// af_broadcast_tensor copies a tensor (torch::Tensor*) from root in place.
char *af_broadcast_tensor(af_group *g, void *tensor, int root);
char *af_barrier(af_group *g);

// af_libtorch_version is the libtorch this shim was compiled against.
const char *af_libtorch_version(void);

#ifdef __cplusplus
}
#endif

#endif
