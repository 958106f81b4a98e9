// The C side of package c10d: thin wrappers over libtorch's c10d that turn
// C++ exceptions into error strings. With USE_C10D_NCCL (scripts/setup.sh
// defines it for a CUDA libtorch with the NCCL headers) it also wraps
// ProcessGroupNCCL; without it, asking for NCCL is an error that says so.
#include "shim.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/version.h>
#include <torch/torch.h>

struct af_store {
  c10::intrusive_ptr<c10d::Store> store;
};

// A process group of either backend. device is where host values travel
// through a collective: the CPU for Gloo, this rank's GPU for NCCL (which
// reduces CUDA tensors only).
struct af_group {
  c10::intrusive_ptr<c10d::Backend> pg;
  std::chrono::milliseconds timeout;
  at::Device device;
};

static char *err_string(const std::string &msg) {
  char *out = static_cast<char *>(std::malloc(msg.size() + 1));
  std::memcpy(out, msg.c_str(), msg.size() + 1);
  return out;
}

// c10::Error's what() carries a C++ backtrace; the message alone is what a
// user needs.
#define AF_TRY try {
#define AF_CATCH                                                              \
  }                                                                           \
  catch (const c10::Error &e) {                                               \
    return err_string(e.msg());                                               \
  }                                                                           \
  catch (const std::exception &e) {                                           \
    return err_string(e.what());                                              \
  }                                                                           \
  catch (...) {                                                               \
    return err_string("unknown C++ exception");                               \
  }                                                                           \
  return nullptr;

// listen_on opens a listening TCP socket on the numeric address addr and
// port (0: any free port, written back to *port), for TCPStore to take over
// (TCPStoreOptions::masterListenFd): libtorch 2.1's TCPStore cannot be told
// an address to bind, only handed a bound socket.
static int listen_on(const char *addr, int *port) {
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  char service[16];
  std::snprintf(service, sizeof service, "%d", *port);
  struct addrinfo *res = nullptr;
  int rc = getaddrinfo(addr, service, &hints, &res);
  if (rc != 0) {
    throw std::runtime_error(std::string("store address ") + addr + ": " +
                             gai_strerror(rc));
  }
  int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
                  res->ai_protocol);
  if (fd < 0) {
    freeaddrinfo(res);
    throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    int e = errno;
    freeaddrinfo(res);
    close(fd);
    throw std::runtime_error(std::string("listening on ") + addr + ":" +
                             service + ": " + std::strerror(e));
  }
  freeaddrinfo(res);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<struct sockaddr *>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET) {
      *port = ntohs(reinterpret_cast<struct sockaddr_in *>(&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      *port = ntohs(reinterpret_cast<struct sockaddr_in6 *>(&ss)->sin6_port);
    }
  }
  return fd;
}

// on_device runs a collective on host values: in place for Gloo, through a
// copy on the group's GPU for NCCL.
template <typename F>
static void on_device(af_group *g, at::Tensor host, F op) {
  if (g->device.is_cpu()) {
    std::vector<at::Tensor> t{host};
    op(t);
    return;
  }
  std::vector<at::Tensor> t{host.to(g->device)};
  op(t);
  host.copy_(t[0]);
}

extern "C" {

char *af_store_new(const char *host, int port, int is_server, int world,
                   int64_t timeout_ms, const char *prefix, const char *bind_addr,
                   af_store **out) {
  AF_TRY
  c10d::TCPStoreOptions opts;
  if (is_server != 0 && bind_addr != nullptr && bind_addr[0] != 0) {
    // The store takes the socket over (and closes it).
    opts.masterListenFd = listen_on(bind_addr, &port);
  }
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = is_server != 0;
  if (world > 0) {
    opts.numWorkers = static_cast<std::size_t>(world);
  }
  // Every rank announces itself; the server waits for all of them.
  opts.waitWorkers = world > 0;
  opts.timeout = std::chrono::milliseconds(timeout_ms);
  c10::intrusive_ptr<c10d::Store> store =
      c10::make_intrusive<c10d::TCPStore>(std::string(host), opts);
  if (prefix != nullptr && prefix[0] != 0) {
    store = c10::make_intrusive<c10d::PrefixStore>(std::string(prefix), store);
  }
  *out = new af_store{store};
  AF_CATCH
}

char *af_store_set(af_store *s, const char *key, const char *value, int64_t n) {
  AF_TRY
  std::vector<uint8_t> v(value, value + n);
  s->store->set(std::string(key), v);
  AF_CATCH
}

char *af_store_get(af_store *s, const char *key, char **value, int64_t *n) {
  AF_TRY
  std::vector<uint8_t> v = s->store->get(std::string(key));
  char *buf = static_cast<char *>(std::malloc(v.size() + 1));
  std::memcpy(buf, v.data(), v.size());
  buf[v.size()] = 0;
  *value = buf;
  *n = static_cast<int64_t>(v.size());
  AF_CATCH
}

char *af_store_add(af_store *s, const char *key, int64_t delta, int64_t *out) {
  AF_TRY
  *out = s->store->add(std::string(key), delta);
  AF_CATCH
}

void af_store_free(af_store *s) { delete s; }

char *af_gloo_new(af_store *s, int rank, int size, const char *iface,
                  const char *host, int64_t timeout_ms, af_group **out) {
  AF_TRY
  auto timeout = std::chrono::milliseconds(timeout_ms);
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  if (iface != nullptr && iface[0] != 0) {
    opts->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForInterface(std::string(iface)));
  } else if (host != nullptr && host[0] != 0) {
    opts->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(std::string(host)));
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(s->store, rank, size,
                                                         opts);
  *out = new af_group{pg, timeout, at::Device(at::kCPU)};
  AF_CATCH
}

int af_nccl_built(void) {
#ifdef USE_C10D_NCCL
  return 1;
#else
  return 0;
#endif
}

int af_cuda_device_count(void) {
  try {
    return static_cast<int>(torch::cuda::device_count());
  } catch (...) {
    return 0;
  }
}

char *af_nccl_new(af_store *s, int rank, int size, int device,
                  int64_t timeout_ms, af_group **out) {
  AF_TRY
#ifdef USE_C10D_NCCL
  int n = static_cast<int>(torch::cuda::device_count());
  if (n == 0) {
    throw std::runtime_error(
        "NCCL needs a CUDA GPU, and libtorch finds none on this machine (no "
        "NVIDIA GPU, or no driver): use --dist-backend gloo");
  }
  if (device < 0 || device >= n) {
    throw std::runtime_error("NCCL: GPU " + std::to_string(device) +
                             " does not exist (this machine has " +
                             std::to_string(n) + ")");
  }
  // Without blocking waits a collective that never completes hangs instead
  // of failing after the timeout, as Gloo's do (a user's setting wins).
  setenv("NCCL_BLOCKING_WAIT", "1", 0);
  auto timeout = std::chrono::milliseconds(timeout_ms);
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(s->store, rank, size,
                                                         opts);
  *out = new af_group{pg, timeout,
                      at::Device(at::kCUDA, static_cast<int8_t>(device))};
#else
  (void)s, (void)rank, (void)size, (void)device, (void)timeout_ms, (void)out;
  throw std::runtime_error(
      "this autofreeze was built without NCCL (against a CPU libtorch): build "
      "the CUDA variant with `GPU=1 make setup` on a machine with NVIDIA GPUs, "
      "or use --dist-backend gloo");
#endif
  AF_CATCH
}

void af_group_free(af_group *g) { delete g; }

static void wait(af_group *g, c10::intrusive_ptr<c10d::Work> work) {
  work->wait(g->timeout);
}

static void allreduce_bucket(af_group *g, std::vector<at::Tensor> &bucket) {
  if (bucket.empty()) {
    return;
  }
  std::vector<at::Tensor> flat;
  if (bucket.size() == 1 && bucket[0].is_contiguous()) {
    flat.push_back(bucket[0].view({-1}));
    wait(g, g->pg->allreduce(flat));
    return;
  }
  std::vector<at::Tensor> views;
  views.reserve(bucket.size());
  for (auto &t : bucket) {
    views.push_back(t.reshape({-1}));
  }
  flat.push_back(at::cat(views));
  wait(g, g->pg->allreduce(flat));
  int64_t off = 0;
  for (auto &t : bucket) {
    int64_t n = t.numel();
    t.copy_(flat[0].narrow(0, off, n).view_as(t));
    off += n;
  }
}

char *af_allreduce_tensors(af_group *g, void **tensors, int n,
                           int64_t bucket_bytes) {
  AF_TRY
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> bucket;
  int64_t bytes = 0;
  for (int i = 0; i < n; i++) {
    at::Tensor t = *static_cast<at::Tensor *>(tensors[i]);
    int64_t tb = t.numel() * t.element_size();
    if (!bucket.empty() &&
        (bytes + tb > bucket_bytes ||
         t.scalar_type() != bucket[0].scalar_type() ||
         t.device() != bucket[0].device())) {
      allreduce_bucket(g, bucket);
      bucket.clear();
      bytes = 0;
    }
    bucket.push_back(t);
    bytes += tb;
  }
  allreduce_bucket(g, bucket);
  AF_CATCH
}

char *af_allreduce_f64(af_group *g, double *values, int64_t n) {
  AF_TRY
  at::Tensor host =
      at::from_blob(values, {n}, at::TensorOptions().dtype(at::kDouble));
  on_device(g, host, [&](std::vector<at::Tensor> &t) {
    wait(g, g->pg->allreduce(t));
  });
  AF_CATCH
}

char *af_broadcast_i64(af_group *g, int64_t *values, int64_t n, int root) {
  AF_TRY
  at::Tensor host =
      at::from_blob(values, {n}, at::TensorOptions().dtype(at::kLong));
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  on_device(g, host, [&](std::vector<at::Tensor> &t) {
    wait(g, g->pg->broadcast(t, opts));
  });
  AF_CATCH
}

char *af_broadcast_tensor(af_group *g, void *tensor, int root) {
  AF_TRY
  at::NoGradGuard no_grad;
  at::Tensor t = *static_cast<at::Tensor *>(tensor);
  at::Tensor c = t.is_contiguous() ? t : t.contiguous();
  std::vector<at::Tensor> v{c};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  wait(g, g->pg->broadcast(v, opts));
  if (!c.is_same(t)) {
    t.copy_(c);
  }
  AF_CATCH
}

char *af_barrier(af_group *g) {
  AF_TRY
  wait(g, g->pg->barrier());
  AF_CATCH
}

const char *af_libtorch_version(void) { return TORCH_VERSION; }

}  // extern "C"
