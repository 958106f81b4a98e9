package model

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// plainEnv resolves nothing: enough for pickles of plain values.
var plainEnv = unpickleEnv{
	global: func(module, name string) (any, error) {
		return nil, errors.New("refusing GLOBAL " + module + "." + name)
	},
	persistentLoad: func(any) (any, error) { return nil, errors.New("no persistent ids") },
}

// Pickles made by CPython 3.11's pickle.dumps, with the value each holds.
func TestUnpickleValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want func(t *testing.T, v any)
	}{
		{"None p2", "\x80\x02N.", isValue(nil)},
		{"True p2", "\x80\x02\x88.", isValue(true)},
		{"int1", "\x80\x02K\x07.", isValue(int64(7))},
		{"int2", "\x80\x02M\xe8\x03.", isValue(int64(1000))},
		{"negative int", "\x80\x02J\xff\xff\xff\xff.", isValue(int64(-1))},
		{"long1 2**40", "\x80\x02\x8a\x06\x00\x00\x00\x00\x00\x01.", isValue(int64(1) << 40)},
		{"long1 -2**40", "\x80\x02\x8a\x06\x00\x00\x00\x00\x00\xff.", isValue(-int64(1) << 40)},
		{"long1 2**63-1", "\x80\x02\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f.", isValue(int64(math.MaxInt64))},
		{"long1 zero", "\x80\x02\x8a\x00.", isValue(int64(0))},
		{"float 1.5", "\x80\x02G?\xf8\x00\x00\x00\x00\x00\x00.", isValue(1.5)},
		{"str p2", "\x80\x02X\x03\x00\x00\x00abc.", isValue("abc")},
		{"str p4", "\x80\x04\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03abc\x94.", isValue("abc")},
		{"bytes p3", "\x80\x03C\x02hi.", isValue("hi")},
		{"tuple3", "\x80\x02K\x01K\x02K\x03\x87.", isTuple(3)},
		{"tuple5", "\x80\x02(K\x01K\x02K\x03K\x04K\x05t.", isTuple(5)},
		{"empty tuple", "\x80\x02).", isTuple(0)},
		{"list", "\x80\x02]q\x00(K\x01K\x02e.", func(t *testing.T, v any) {
			if l, ok := v.(*pyList); !ok || len(l.items) != 2 {
				t.Errorf("got %s", pyTypeName(v))
			}
		}},
		// {'a': 1, 'b': [2, 'a']} at protocol 2 (memo: BINGET of 'a').
		{"dict", "\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02]q\x03(K\x02h\x01eu.", func(t *testing.T, v any) {
			d, ok := v.(*pyDict)
			if !ok || len(d.keys) != 2 || d.keys[0] != "a" || d.vals[0] != int64(1) {
				t.Fatalf("got %s", pyTypeName(v))
			}
			l := d.vals[1].(*pyList)
			if l.items[1] != "a" {
				t.Errorf("memo: got %v", l.items[1])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := unpickle([]byte(tc.in), plainEnv)
			if err != nil {
				t.Fatal(err)
			}
			tc.want(t, v)
		})
	}
}

func isValue(want any) func(*testing.T, any) {
	return func(t *testing.T, v any) {
		if v != want {
			t.Errorf("got %v (%T), want %v", v, v, want)
		}
	}
}

func isTuple(n int) func(*testing.T, any) {
	return func(t *testing.T, v any) {
		if tu, ok := v.(pyTuple); !ok || len(tu) != n {
			t.Errorf("got %s, want a tuple of %d", pyTypeName(v), n)
		}
	}
}

func TestUnpickleErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no STOP"},
		{"stop on empty stack", ".", "stack underflow"},
		{"protocol 6", "\x80\x06N.", "protocol 6"},
		{"truncated int", "\x80\x02J\x01\x00", "truncated"},
		{"truncated string", "\x80\x02X\xff\x00\x00\x00abc.", "string of 255 bytes"},
		{"huge string8", "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff.", "truncated"},
		{"long1 too big", "\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.", "does not fit in 64 bits"},
		{"frame too long", "\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.", "FRAME of 255 bytes"},
		{"tuple underflow", "\x80\x02K\x01\x87.", "stack underflow"},
		{"pop mark without mark", "\x80\x02K\x01t.", "no MARK"},
		{"memo miss", "\x80\x02h\x05.", "memo entry 5"},
		{"long memo miss", "\x80\x02j\x00\x00\x01\x00.", "memo entry 65536"},
		{"put on empty", "\x80\x02q\x00.", "stack underflow"},
		{"setitem on list", "\x80\x02]K\x01K\x02s.", "SETITEM on a list"},
		{"setitems odd", "\x80\x02}(K\x01u.", "odd number"},
		{"append to dict", "\x80\x02}K\x01a.", "APPEND on a dict"},
		{"unhashable key", "\x80\x02})K\x01s.", "dict key of type tuple"},
		{"reduce a string", "\x80\x02X\x01\x00\x00\x00f)R.", "REDUCE calls a str"},
		{"build on int", "\x80\x02K\x01}b.", "BUILD on a int"},
		{"global refused", "\x80\x02cos\nsystem\n.", "refusing GLOBAL os.system"},
		{"global without newline", "\x80\x02cos", "GLOBAL name is not a line"},
		{"global too long", "\x80\x02c" + strings.Repeat("a", 300) + "\nb\n.", "GLOBAL name is not a line"},
		{"stack global of ints", "\x80\x04K\x01K\x02\x93.", "STACK_GLOBAL of a int and a int"},
		{"persistent id", "\x80\x02K\x01Q.", "no persistent ids"},
		{"inst", "\x80\x02(cos\nsystem\ni.", "refusing GLOBAL"},
		{"obj opcode", "\x80\x02(o.", "OBJ"},
		{"newobj", "\x80\x02\x81.", "NEWOBJ"},
		{"text opcode", "I1\n.", "protocol 0/1"},
		{"unknown opcode", "\x80\x02\xff.", "opcode 0xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := unpickle([]byte(tc.in), plainEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestUnpickleTruncated cuts a real state dict pickle at every length.
func TestUnpickleTruncated(t *testing.T) {
	pkl := zipEntry(t, readFixture(t, "bert_model.bin"), "archive/data.pkl")
	for n := 0; n < len(pkl); n++ {
		l := &torchLoader{storages: map[string]*torchStorage{}}
		if _, err := unpickle(pkl[:n], unpickleEnv{global: l.global, persistentLoad: l.persistentLoad}); err == nil {
			t.Fatalf("%d of %d bytes: no error", n, len(pkl))
		}
	}
}

// FuzzUnpickle runs data.pkl mutations through the VM and the tensor checks,
// then decodes every tensor that passed against a zeroed storage: check must
// guarantee that decoding stays in bounds. (Fuzzing the whole archive mostly
// meets the zip CRC; this reaches the pickle.)
func FuzzUnpickle(f *testing.F) {
	for _, c := range []struct{ file, entry string }{
		{"bert_model.bin", "archive/data.pkl"},
		{"variants.bin", "variants/data.pkl"},
		{"bert_cls_gamma.bin", "bert_cls_gamma/data.pkl"},
	} {
		f.Add(zipEntry(f, readFixture(f, c.file), c.entry))
	}
	f.Add(stateDict(crafted{"t", "FloatStorage", "0", 6, 1, []int64{2, 2}, []int64{3, 1}}))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		l := &torchLoader{storages: map[string]*torchStorage{}}
		v, err := unpickle(pkl, unpickleEnv{global: l.global, persistentLoad: l.persistentLoad})
		if err != nil {
			return
		}
		d, ok := v.(*pyDict)
		if !ok {
			return
		}
		for _, v := range d.vals {
			tensor, ok := v.(*torchTensor)
			if !ok || tensor.check() != nil || tensor.dtype.st == "" {
				continue
			}
			if tensor.storage.nbytes() > 1<<20 || tensor.numel() > 1<<20 {
				continue
			}
			got := tensor.decode(make([]byte, tensor.storage.nbytes()), false)
			if int64(len(got)) != tensor.numel() {
				t.Fatalf("decoded %d values, want %d", len(got), tensor.numel())
			}
		}
	})
}
