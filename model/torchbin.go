package model

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// pytorch_model.bin, as torch.save writes it since PyTorch 1.6 (see
// torch/serialization.py _save and caffe2/serialize/inline_container.cc):
//
//	a zip archive, every entry uncompressed and 64-byte aligned, all under one
//	folder (the file's base name, or "archive"):
//	  NAME/data.pkl          a pickle (protocol 2) of the saved object: for a
//	                         model, an OrderedDict of tensor name -> tensor
//	  NAME/data/KEY          the raw bytes of storage KEY ("0", "1", ...)
//	  NAME/byteorder         "little" or "big" (PyTorch >= 2.1; else little)
//	  NAME/version           format version, e.g. "3\n" (or .data/version)
//	  NAME/.format_version, NAME/.storage_alignment, NAME/.data/serialization_id
//
// Each tensor in data.pkl is
//
//	torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
//	                                requires_grad, backward_hooks[, metadata])
//
// with offset and stride counted in elements, and storage a persistent id
// (BINPERSID) ('storage', torch.FloatStorage, KEY, location, numel). Dtypes
// newer than the typed storages use _rebuild_tensor_v3(..., dtype) over
// ('storage', torch.storage.UntypedStorage, KEY, location, nbytes). Several
// tensors may share one storage (tied weights, views), at different offsets.

// maxPickleSize bounds data.pkl: a state dict's pickle is a few hundred bytes
// per tensor, so even a model with 100k tensors stays far below it.
const maxPickleSize = 64 << 20

// maxValuesPerByte bounds the float values all tensors may add up to, per
// byte of the file. Honest files stay below 1/2 (F16); shared storages (tied
// weights) multiply that by a few. A hostile pickle could otherwise point a
// million tensors at one storage and exhaust memory.
const (
	maxValuesPerByte = 2
	valuesSlack      = 1 << 20 // so that tiny files are not held to the ratio
)

// legacyMagic starts the files of PyTorch's legacy serialization (before 1.6,
// or _use_new_zipfile_serialization=False): PROTO 2, then the magic number
// 0x1950a86a20f9469cfc6c as a LONG1.
var legacyMagic = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")

// lfsPointer starts a Git LFS pointer file: what a clone without git-lfs
// holds in place of the weights.
const lfsPointer = "version https://git-lfs"

// ReadTorchBin reads the floating-point tensors of a pytorch_model.bin saved
// by torch.save (PyTorch >= 1.6), converting F16, BF16 and F64 to float32.
// Integer tensors (such as BERT's position_ids buffer) are skipped. The pickle
// inside is read by a restricted interpreter that knows tensors, storages and
// dicts and runs nothing from the file.
func ReadTorchBin(path string) (map[string]*Tensor, error) {
	return readWeightFile(path, readTorchBin)
}

func readTorchBin(r io.ReaderAt, size int64, name string) (map[string]*Tensor, error) {
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("%s: %w: %s", name, ErrCorrupt, fmt.Sprintf(format, a...))
	}
	head := make([]byte, min(size, 512))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
	case bytes.HasPrefix(head, []byte(lfsPointer)):
		return nil, corrupt("this is a Git LFS pointer, not the weights: fetch them with `git lfs pull` (or download the file again)")
	case bytes.HasPrefix(head, legacyMagic), len(head) > 0 && head[0] == opProto,
		len(head) >= 262 && string(head[257:262]) == "ustar":
		return nil, corrupt("legacy PyTorch format; re-save with torch.save(..., _use_new_zipfile_serialization=True) or convert to safetensors")
	default:
		return nil, corrupt("not a PyTorch checkpoint: neither a zip archive (torch.save since PyTorch 1.6) nor a legacy pickle (%d bytes)", size)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are only looked up, never opened as paths
		return nil, corrupt("not a readable zip archive: %v (file truncated?)", err)
	}
	a, err := openTorchArchive(zr, size)
	if err != nil {
		return nil, corrupt("%v", err)
	}
	out, err := a.load()
	if err != nil {
		return nil, corrupt("%v", err)
	}
	return out, nil
}

// torchArchive is an opened torch.save zip.
type torchArchive struct {
	size    int64
	prefix  string // "archive/"
	entries map[string]*zip.File
	bigEnd  bool
}

func openTorchArchive(zr *zip.Reader, size int64) (*torchArchive, error) {
	if len(zr.File) == 0 {
		return nil, errors.New("the zip archive is empty")
	}
	a := &torchArchive{size: size, entries: make(map[string]*zip.File, len(zr.File))}
	for _, f := range zr.File {
		if a.entries[f.Name] != nil {
			return nil, fmt.Errorf("the zip archive holds %q twice", f.Name)
		}
		a.entries[f.Name] = f
	}
	// Like torch's reader, take the folder of the first entry as the archive
	// name: it is "archive" or the file's base name, depending on the writer.
	first := zr.File[0].Name
	i := strings.IndexByte(first, '/')
	if i <= 0 {
		return nil, fmt.Errorf("zip entry %q is not inside an archive folder, as torch.save writes them", first)
	}
	a.prefix = first[:i+1]
	if a.entries[a.prefix+"constants.pkl"] != nil || a.entries[a.prefix+"code/"] != nil {
		return nil, errors.New("this is a TorchScript archive (torch.jit.save), not a state dict: save model.state_dict() with torch.save, or convert to safetensors")
	}
	if a.entries[a.prefix+"data.pkl"] == nil {
		return nil, fmt.Errorf("no %sdata.pkl: a zip file, but not one torch.save wrote", a.prefix)
	}
	version, err := a.smallRecord("version", ".data/version")
	if err != nil {
		return nil, err
	}
	if v, err := strconv.Atoi(strings.TrimSpace(version)); err != nil || v < 1 {
		return nil, fmt.Errorf("%sversion is %q, want a positive integer", a.prefix, version)
	}
	if a.entries[a.prefix+"byteorder"] != nil {
		order, err := a.smallRecord("byteorder")
		if err != nil {
			return nil, err
		}
		switch order {
		case "little":
		case "big":
			a.bigEnd = true
		default:
			return nil, fmt.Errorf("%sbyteorder is %q, want \"little\" or \"big\"", a.prefix, order)
		}
	}
	return a, nil
}

// smallRecord reads the first of the named records that exists.
func (a *torchArchive) smallRecord(names ...string) (string, error) {
	for _, n := range names {
		if f := a.entries[a.prefix+n]; f != nil {
			b, err := readZipRecord(f, 1<<10)
			return string(b), err
		}
	}
	return "", fmt.Errorf("no %s%s record: a zip file, but not one torch.save wrote", a.prefix, names[0])
}

// readZipRecord reads a whole zip entry of at most limit bytes, reading to
// the end so that archive/zip verifies its CRC-32.
func readZipRecord(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d it can be", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.Name, err)
	}
	defer rc.Close()
	// The declared size is within limit, and for stored entries limit is
	// at most the file size, so this allocation is bounded by the input.
	buf := make([]byte, f.UncompressedSize64)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("%s: %v (file truncated?)", f.Name, err)
	}
	if n, err := rc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("longer than its declared size")
		}
		return nil, fmt.Errorf("%s: %v", f.Name, err)
	}
	return buf, nil
}

// load runs data.pkl and reads the float tensors it describes.
func (a *torchArchive) load() (map[string]*Tensor, error) {
	pkl, err := readZipRecord(a.entries[a.prefix+"data.pkl"], min(maxPickleSize, a.size*1100))
	if err != nil {
		return nil, err
	}
	l := &torchLoader{storages: map[string]*torchStorage{}}
	obj, err := unpickle(pkl, unpickleEnv{global: l.global, persistentLoad: l.persistentLoad})
	if err != nil {
		return nil, fmt.Errorf("%sdata.pkl: %v", a.prefix, err)
	}
	sd, ok := obj.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("%sdata.pkl holds a Python %s, want a state dict (a dict of name -> tensor)", a.prefix, pyTypeName(obj))
	}
	tensors := make([]namedTensor, 0, len(sd.keys))
	for i, k := range sd.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key of type %s, want str", pyTypeName(k))
		}
		t, ok := sd.vals[i].(*torchTensor)
		if !ok {
			return nil, fmt.Errorf("state dict entry %q holds a Python %s, not a tensor (a training checkpoint rather than a state dict? save model.state_dict())", name, pyTypeName(sd.vals[i]))
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		tensors = append(tensors, namedTensor{name, t})
	}
	return a.readTensors(tensors)
}

type namedTensor struct {
	name string
	t    *torchTensor
}

// readTensors reads each storage once, for all the tensors that view it.
func (a *torchArchive) readTensors(tensors []namedTensor) (map[string]*Tensor, error) {
	sort.Slice(tensors, func(i, j int) bool {
		if ki, kj := tensors[i].t.storage.key, tensors[j].t.storage.key; ki != kj {
			return ki < kj
		}
		return tensors[i].name < tensors[j].name
	})
	out := make(map[string]*Tensor, len(tensors))
	var (
		values  int64
		key     string
		raw     []byte
		haveRaw bool
	)
	for _, nt := range tensors {
		t := nt.t
		s := t.storage
		f := a.entries[a.prefix+"data/"+s.key]
		if f == nil {
			return nil, fmt.Errorf("tensor %q: its storage %sdata/%s is not in the archive", nt.name, a.prefix, s.key)
		}
		if f.UncompressedSize64 != uint64(s.nbytes()) {
			return nil, fmt.Errorf("tensor %q: storage %s holds %d bytes, but data.pkl says %d (%d × %s)", nt.name, f.Name, f.UncompressedSize64, s.nbytes(), s.numel, s.dtype.name)
		}
		if f.Method != zip.Store {
			return nil, fmt.Errorf("storage %s is compressed (zip method %d); torch.save stores tensor data uncompressed: re-save it with torch.save", f.Name, f.Method)
		}
		if t.dtype.st == "" {
			continue // an integer or bool tensor
		}
		n := t.numel()
		if values += n; values > maxValuesPerByte*a.size+valuesSlack {
			return nil, fmt.Errorf("the tensors add up to at least %d values, far more than a %d-byte file holds (many views of the same storage?)", values, a.size)
		}
		if !haveRaw || key != s.key {
			b, err := readZipRecord(f, a.size)
			if err != nil {
				return nil, fmt.Errorf("tensor %q: %v", nt.name, err)
			}
			raw, key, haveRaw = b, s.key, true
		}
		out[nt.name] = &Tensor{Shape: append([]int64{}, t.shape...), Data: t.decode(raw, a.bigEnd)}
	}
	return out, nil
}
