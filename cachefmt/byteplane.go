package cachefmt

import "math"

// Byte planes: element j's byte p lives at planes[p][j], plane 0 holding the least significant
// bytes. The conversions to and from float32 are fused with the split and the merge, so each
// element is touched once on the way in and once on the way out.

// splitInto converts src to d and stores element j at planes[*][off+j]. Every plane must
// already hold off+len(src) bytes.
func splitInto(d Dtype, planes [][]byte, off int, src []float32) {
	switch d {
	case Float32:
		p0, p1, p2, p3 := planes[0][off:off+len(src)], planes[1][off:off+len(src)], planes[2][off:off+len(src)], planes[3][off:off+len(src)]
		for j, f := range src {
			b := math.Float32bits(f)
			p0[j], p1[j], p2[j], p3[j] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
		}
	case Float16:
		p0, p1 := planes[0][off:off+len(src)], planes[1][off:off+len(src)]
		for j, f := range src {
			h := F32ToF16(f)
			p0[j], p1[j] = byte(h), byte(h>>8)
		}
	case BFloat16:
		p0, p1 := planes[0][off:off+len(src)], planes[1][off:off+len(src)]
		for j, f := range src {
			h := F32ToBF16(f)
			p0[j], p1[j] = byte(h), byte(h>>8)
		}
	}
}

// mergeFrom widens elements [off, off+len(dst)) of the planes into dst.
func mergeFrom(d Dtype, planes [][]byte, off int, dst []float32) {
	n := len(dst)
	switch d {
	case Float32:
		p0, p1, p2, p3 := planes[0][off:off+n], planes[1][off:off+n], planes[2][off:off+n], planes[3][off:off+n]
		for j := range dst {
			dst[j] = math.Float32frombits(uint32(p0[j]) | uint32(p1[j])<<8 | uint32(p2[j])<<16 | uint32(p3[j])<<24)
		}
	case Float16:
		t := f16Table()
		p0, p1 := planes[0][off:off+n], planes[1][off:off+n]
		for j := range dst {
			dst[j] = t[uint16(p0[j])|uint16(p1[j])<<8]
		}
	case BFloat16:
		p0, p1 := planes[0][off:off+n], planes[1][off:off+n]
		for j := range dst {
			dst[j] = math.Float32frombits(uint32(p0[j])<<16 | uint32(p1[j])<<24)
		}
	}
}
