package model

import (
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Range
		wantErr string
	}{
		{in: "0:6", want: Range{0, 6}},
		{in: "2:4", want: Range{2, 4}},
		{in: "5:6", want: Range{5, 6}},
		{in: ":3", want: Range{0, 3}},
		{in: "2:", want: Range{2, 6}},
		{in: ":", want: Range{0, 6}},
		{in: "0:7", wantErr: "layer range 0:7 is outside the model: it has layers 0..5, so want 0 <= A < B <= 6"},
		{in: "-1:3", wantErr: "layer range -1:3 is outside the model"},
		{in: "6:", wantErr: "layer range 6:6 is empty"},
		{in: "3:3", wantErr: "layer range 3:3 is empty: want A < B"},
		{in: "4:2", wantErr: "layer range 4:2 is empty"},
		{in: "a:b", wantErr: `layer range "a:b": start "a" is not an integer`},
		{in: "1:b", wantErr: `layer range "1:b": end "b" is not an integer`},
		{in: "3", wantErr: `layer range "3": want A:B, e.g. 0:6`},
		{in: "", wantErr: `want A:B`},
		{in: "1:2:3", wantErr: `end "2:3" is not an integer`},
		{in: " 1:2", wantErr: `start " 1" is not an integer`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRange(tc.in, 6)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, %v; want error %q", got, err, tc.wantErr)
				}
				if got != (Range{}) {
					t.Errorf("got %v with the error, want the zero Range", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			if got.String() != (Range{tc.want.Start, tc.want.End}).String() || got.Len() != tc.want.End-tc.want.Start {
				t.Errorf("String %q, Len %d", got, got.Len())
			}
		})
	}
}
