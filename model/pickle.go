package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A minimal reader for the pickles inside torch.save archives (data.pkl).
//
// It is not a Python. It builds values out of a handful of Go types (None,
// bool, int64, float64, string, tuple, list, dict), asks the caller to
// resolve every GLOBAL against an allowlist, and REDUCE can only call a
// *pyFunc the caller returned from that allowlist. Nothing named in the file
// is ever looked up in a module, imported or run. Every length, index and
// memo reference is checked against the input, so a hostile or truncated
// pickle ends in an error, never a panic; and since every value on the stack
// was pushed by at least one input byte, memory and time stay linear in the
// size of the pickle.
//
// Only the opcodes that Python's pickler emits for a state dict are known:
// protocol 2 (torch.save's default) plus the framing, memo and string opcodes
// of protocols 3 to 5. Any other opcode is an error naming it.

// Pickle opcodes, named as in CPython's Lib/pickle.py.
const (
	opMark           = '('
	opStop           = '.'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opAppends        = 'e'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opEmptyList      = ']'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opSetItems       = 'u'
	opEmptyDict      = '}'
	opEmptyTuple     = ')'
	opBinFloat       = 'G'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opProto          = 0x80
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
)

// maxPickleProtocol is the newest protocol whose opcodes we know the framing
// of; a higher one is refused rather than misread.
const maxPickleProtocol = 5

// maxGlobalLine bounds a GLOBAL's module or name line.
const maxGlobalLine = 256

// pyTuple is a Python tuple.
type pyTuple []any

// pyList is a Python list; a pointer, because APPEND mutates it in place.
type pyList struct{ items []any }

// pyDict is a Python dict or collections.OrderedDict, in insertion order.
type pyDict struct {
	keys  []any
	vals  []any
	index map[any]int
}

func newPyDict() *pyDict { return &pyDict{index: map[any]int{}} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool, float64, nil:
	default:
		// A tuple or list key is legal Python, but no state dict uses one,
		// and a Go map key must be comparable.
		return fmt.Errorf("dict key of type %s", pyTypeName(k))
	}
	if i, ok := d.index[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

// pyFunc is an allowlisted callable: the only thing REDUCE will call.
type pyFunc struct {
	name string // "module.name", for errors
	call func(args pyTuple) (any, error)
}

// pyStateful values accept BUILD (Python's __setstate__); the state is
// theirs to check or ignore.
type pyStateful interface{ setState(state any) error }

// unpickleEnv is what the caller lends the VM.
type unpickleEnv struct {
	// global resolves GLOBAL and STACK_GLOBAL. It returns a value to push
	// (a *pyFunc, or any plain value such as a type marker) or an error
	// saying why the name is refused.
	global func(module, name string) (any, error)
	// persistentLoad resolves BINPERSID's id.
	persistentLoad func(pid any) (any, error)
}

type unpickler struct {
	env       unpickleEnv
	data      []byte
	pos       int // offset of the next byte
	op        int // offset of the current opcode, for errors
	stack     []any
	metastack [][]any
	memo      map[uint32]any
}

// unpickle runs the pickle in data and returns the object STOP leaves.
func unpickle(data []byte, env unpickleEnv) (any, error) {
	u := &unpickler{env: env, data: data, memo: map[uint32]any{}}
	v, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("pickle byte %d: %w", u.op, err)
	}
	return v, nil
}

func (u *unpickler) run() (any, error) {
	for {
		u.op = u.pos
		code, err := u.read(1)
		if err != nil {
			return nil, fmt.Errorf("no STOP opcode: the pickle is truncated")
		}
		op := code[0]
		if op == opStop {
			return u.pop()
		}
		if err := u.step(op); err != nil {
			return nil, err
		}
	}
}

func (u *unpickler) step(op byte) error {
	switch op {
	case opProto:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		if b[0] > maxPickleProtocol {
			return fmt.Errorf("pickle protocol %d is newer than %d", b[0], maxPickleProtocol)
		}
	case opFrame:
		b, err := u.read(8)
		if err != nil {
			return err
		}
		// Frames only group opcodes for buffered reading; check the length
		// and carry on reading opcodes.
		if n := binary.LittleEndian.Uint64(b); n > uint64(len(u.data)-u.pos) {
			return fmt.Errorf("FRAME of %d bytes, but only %d follow", n, len(u.data)-u.pos)
		}

	case opMark:
		u.metastack = append(u.metastack, u.stack)
		u.stack = nil
	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opEmptyTuple:
		u.push(pyTuple{})
	case opEmptyList:
		u.push(&pyList{})
	case opEmptyDict:
		u.push(newPyDict())

	case opBinInt:
		b, err := u.read(4)
		if err != nil {
			return err
		}
		u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		u.push(int64(b[0]))
	case opBinInt2:
		b, err := u.read(2)
		if err != nil {
			return err
		}
		u.push(int64(binary.LittleEndian.Uint16(b)))
	case opLong1:
		n, err := u.read(1)
		if err != nil {
			return err
		}
		b, err := u.read(int(n[0]))
		if err != nil {
			return err
		}
		v, err := decodeLong(b)
		if err != nil {
			return err
		}
		u.push(v)
	case opBinFloat:
		b, err := u.read(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))

	case opShortBinUni, opShortBinString, opShortBinBytes:
		return u.pushString(1)
	case opBinUnicode, opBinString, opBinBytes:
		return u.pushString(4)
	case opBinUnicode8, opBinBytes8:
		return u.pushString(8)

	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		if len(u.stack) < n {
			return errStackUnderflow
		}
		t := append(pyTuple(nil), u.stack[len(u.stack)-n:]...)
		u.stack = append(u.stack[:len(u.stack)-n], t)

	case opSetItem:
		v, err := u.pop()
		if err != nil {
			return err
		}
		k, err := u.pop()
		if err != nil {
			return err
		}
		d, err := u.topDict("SETITEM")
		if err != nil {
			return err
		}
		return d.set(k, v)
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return fmt.Errorf("SETITEMS with an odd number (%d) of keys and values", len(items))
		}
		d, err := u.topDict("SETITEMS")
		if err != nil {
			return err
		}
		for i := 0; i < len(items); i += 2 {
			if err := d.set(items[i], items[i+1]); err != nil {
				return err
			}
		}
	case opAppend:
		v, err := u.pop()
		if err != nil {
			return err
		}
		l, err := u.topList("APPEND")
		if err != nil {
			return err
		}
		l.items = append(l.items, v)
	case opAppends:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		l, err := u.topList("APPENDS")
		if err != nil {
			return err
		}
		l.items = append(l.items, items...)

	case opBinPut:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		return u.put(uint32(b[0]))
	case opLongBinPut:
		b, err := u.read(4)
		if err != nil {
			return err
		}
		return u.put(binary.LittleEndian.Uint32(b))
	case opMemoize:
		return u.put(uint32(len(u.memo)))
	case opBinGet:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		return u.get(uint32(b[0]))
	case opLongBinGet:
		b, err := u.read(4)
		if err != nil {
			return err
		}
		return u.get(binary.LittleEndian.Uint32(b))

	case opGlobal:
		module, err := u.readLine()
		if err != nil {
			return err
		}
		name, err := u.readLine()
		if err != nil {
			return err
		}
		return u.global(module, name)
	case opStackGlobal:
		name, err := u.pop()
		if err != nil {
			return err
		}
		module, err := u.pop()
		if err != nil {
			return err
		}
		m, ok1 := module.(string)
		n, ok2 := name.(string)
		if !ok1 || !ok2 {
			return fmt.Errorf("STACK_GLOBAL of a %s and a %s, want two strings", pyTypeName(module), pyTypeName(name))
		}
		return u.global(m, n)
	case opReduce:
		args, err := u.pop()
		if err != nil {
			return err
		}
		if len(u.stack) == 0 {
			return errStackUnderflow
		}
		fn, ok := u.stack[len(u.stack)-1].(*pyFunc)
		if !ok {
			return fmt.Errorf("REDUCE calls a %s, which is not an allowed function", pyTypeName(u.stack[len(u.stack)-1]))
		}
		t, ok := args.(pyTuple)
		if !ok {
			return fmt.Errorf("REDUCE of %s with a %s for arguments, want a tuple", fn.name, pyTypeName(args))
		}
		v, err := fn.call(t)
		if err != nil {
			return fmt.Errorf("%s: %w", fn.name, err)
		}
		u.stack[len(u.stack)-1] = v
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return err
		}
		if len(u.stack) == 0 {
			return errStackUnderflow
		}
		switch inst := u.stack[len(u.stack)-1].(type) {
		case *pyDict:
			// OrderedDict's attributes: a state dict's _metadata (module
			// versions), which loading does not need.
		case pyStateful:
			return inst.setState(state)
		default:
			return fmt.Errorf("BUILD on a %s (only dicts and tensors take state)", pyTypeName(inst))
		}
	case opBinPersID:
		pid, err := u.pop()
		if err != nil {
			return err
		}
		v, err := u.env.persistentLoad(pid)
		if err != nil {
			return err
		}
		u.push(v)

	default:
		return fmt.Errorf("unsupported pickle opcode 0x%02x%s (not one a state dict uses)", op, opcodeHint(op))
	}
	return nil
}

var errStackUnderflow = errors.New("stack underflow")

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, errStackUnderflow
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) popMark() ([]any, error) {
	if len(u.metastack) == 0 {
		return nil, fmt.Errorf("no MARK to pop to")
	}
	items := u.stack
	u.stack = u.metastack[len(u.metastack)-1]
	u.metastack = u.metastack[:len(u.metastack)-1]
	return items, nil
}

func (u *unpickler) topDict(op string) (*pyDict, error) {
	if len(u.stack) == 0 {
		return nil, errStackUnderflow
	}
	d, ok := u.stack[len(u.stack)-1].(*pyDict)
	if !ok {
		return nil, fmt.Errorf("%s on a %s, want a dict", op, pyTypeName(u.stack[len(u.stack)-1]))
	}
	return d, nil
}

func (u *unpickler) topList(op string) (*pyList, error) {
	if len(u.stack) == 0 {
		return nil, errStackUnderflow
	}
	l, ok := u.stack[len(u.stack)-1].(*pyList)
	if !ok {
		return nil, fmt.Errorf("%s on a %s, want a list", op, pyTypeName(u.stack[len(u.stack)-1]))
	}
	return l, nil
}

func (u *unpickler) put(i uint32) error {
	if len(u.stack) == 0 {
		return errStackUnderflow
	}
	u.memo[i] = u.stack[len(u.stack)-1]
	return nil
}

func (u *unpickler) get(i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo entry %d was never stored", i)
	}
	u.push(v)
	return nil
}

func (u *unpickler) global(module, name string) error {
	v, err := u.env.global(module, name)
	if err != nil {
		return err
	}
	u.push(v)
	return nil
}

// read returns the next n bytes.
func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("truncated: opcode needs %d bytes, %d remain", n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

// pushString reads a string whose length is a little-endian integer of
// width bytes. Python 2 str and bytes become Go strings too: torch accepts
// either for the storage key and tag.
func (u *unpickler) pushString(width int) error {
	b, err := u.read(width)
	if err != nil {
		return err
	}
	var n uint64
	switch width {
	case 1:
		n = uint64(b[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(b))
	case 8:
		n = binary.LittleEndian.Uint64(b)
	}
	if n > uint64(len(u.data)-u.pos) {
		return fmt.Errorf("truncated: string of %d bytes, %d remain", n, len(u.data)-u.pos)
	}
	s, _ := u.read(int(n))
	u.push(string(s))
	return nil
}

func (u *unpickler) readLine() (string, error) {
	rest := u.data[u.pos:]
	i := bytes.IndexByte(rest[:min(len(rest), maxGlobalLine+1)], '\n')
	if i < 0 {
		return "", fmt.Errorf("GLOBAL name is not a line of at most %d bytes", maxGlobalLine)
	}
	u.pos += i + 1
	return string(rest[:i]), nil
}

// decodeLong decodes LONG1's little-endian two's-complement integer.
func decodeLong(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) > 8 {
		return 0, fmt.Errorf("integer of %d bytes does not fit in 64 bits", len(b))
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	if shift := 64 - 8*uint(len(b)); shift > 0 {
		return int64(v<<shift) >> shift, nil // sign-extend
	}
	return int64(v), nil
}

// pyTypeName names a value's Python type for errors. It never formats the
// value itself: a hostile pickle can build cycles (a list inside itself).
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case pyTuple:
		return fmt.Sprintf("tuple of %d", len(v))
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pyFunc:
		return v.name
	case interface{ pyType() string }:
		return v.pyType()
	}
	return fmt.Sprintf("%T", v)
}

// opcodeHint names opcodes a caller might meet in files from other tools.
func opcodeHint(op byte) string {
	switch op {
	case 'i', 0x92:
		return " (INST/NEWOBJ_EX: constructs arbitrary objects)"
	case 0x81:
		return " (NEWOBJ: constructs an object)"
	case 'o':
		return " (OBJ: constructs an object)"
	case 'p', 'g', 'I', 'L', 'F', 'S', 'V', 'd', 'l':
		return " (a text-mode protocol 0/1 opcode)"
	}
	return ""
}
