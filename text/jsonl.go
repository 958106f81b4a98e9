package text

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// readJSONL reads JSON Lines: one object per line, the text a string, the
// label a string, a number or a list (multi-label). Blank lines are not rows.
func readJSONL(b *builder, br *bufio.Reader) error {
	o := b.opts
	if o.NoHeader {
		return fmt.Errorf("%s: NoHeader applies to CSV and TSV files; JSON Lines name their fields", b.ds.Path)
	}
	textKey, labelKey := orDefault(o.TextColumn, "text"), orDefault(o.LabelColumn, "label")
	labelRequired := o.RequireLabels || o.LabelColumn != ""
	if first, _ := br.Peek(512); bytes.HasPrefix(bytes.TrimLeft(first, " \t\r\n"), []byte("[")) {
		return fmt.Errorf("%s: a JSON array; write one object per line (JSON Lines), e.g. jq -c '.[]' %s > data.jsonl", b.ds.Path, b.ds.Path)
	}
	for line := 1; ; line++ {
		data, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b.ds.Path, err)
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		r, reason := parseJSONLine(data, textKey, o.TextPairColumn, labelKey, labelRequired)
		if reason != "" {
			if e := b.bad(line, "%s", reason); e != nil {
				return e
			}
			continue
		}
		r.line = line
		if err := b.add(r); err != nil {
			return err
		}
	}
}

// parseJSONLine reads one object; a non-empty reason says what is wrong.
func parseJSONLine(data []byte, textKey, pairKey, labelKey string, labelRequired bool) (row, string) {
	r := row{textName: fmt.Sprintf("field %q", textKey), pairName: fmt.Sprintf("field %q", pairKey), labelName: fmt.Sprintf("field %q", labelKey)}
	if !utf8.Valid(data) { // encoding/json would quietly turn bad bytes into U+FFFD
		return r, fmt.Sprintf("invalid UTF-8 at byte %d; convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8)", invalidUTF8(string(data)))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return r, fmt.Sprintf("invalid JSON at column %d: %v; each line must be one JSON object", syn.Offset, syn)
		case errors.As(err, &typ):
			return r, fmt.Sprintf("the line is a JSON %s, not an object; each line must be one JSON object", typ.Value)
		}
		return r, fmt.Sprintf("invalid JSON: %v; each line must be one JSON object", err)
	}
	if obj == nil {
		return r, "the line is null, not an object; each line must be one JSON object"
	}
	keys := func() string {
		var ks []string
		for k := range obj {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return strings.Join(ks, ", ")
	}
	raw, ok := obj[textKey]
	if !ok {
		return r, fmt.Sprintf("no %q field (fields: %s); name the text field in the options", textKey, keys())
	}
	var reason string
	if r.text, reason = jsonString(raw, r.textName); reason != "" {
		return r, reason
	}
	if pairKey != "" {
		raw, ok := obj[pairKey]
		if !ok {
			return r, fmt.Sprintf("no %q field (fields: %s)", pairKey, keys())
		}
		if r.pair, reason = jsonString(raw, r.pairName); reason != "" {
			return r, reason
		}
	}
	raw, ok = obj[labelKey]
	if !ok {
		if labelRequired {
			return r, fmt.Sprintf("no %q field (fields: %s); every training and evaluation row needs a label", labelKey, keys())
		}
		return r, ""
	}
	r.label, reason = jsonLabel(raw, r.labelName)
	r.hasLabel = true
	return r, reason
}

func jsonString(raw json.RawMessage, name string) (string, string) {
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Sprintf("%s is %s, want a string", name, jsonKind(raw))
	}
	return s, ""
}

// jsonLabel accepts a string; a number, kept as written (7, -1, 3.25: a
// class or a regression score); or an array (a multi-label list), kept as
// its compact JSON text.
func jsonLabel(raw json.RawMessage, name string) (string, string) {
	if s, reason := jsonString(raw, name); reason == "" {
		return s, ""
	}
	switch jsonKind(raw) {
	case "a number":
		return string(bytes.TrimSpace(raw)), ""
	case "an array":
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "", fmt.Sprintf("%s is not a valid JSON array", name)
		}
		for _, it := range items {
			if _, reason := jsonClassName(it, "an item"); reason != "" {
				return "", fmt.Sprintf("%s: %s; a label list holds names or integers", name, reason)
			}
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return "", fmt.Sprintf("%s is not a valid JSON array", name)
		}
		return b.String(), ""
	}
	return "", fmt.Sprintf("%s is %s, want a string, a number or a list (omit the field for unlabeled rows)", name, jsonKind(raw))
}

// jsonClassName accepts a string or an integer (kept as written).
func jsonClassName(raw json.RawMessage, name string) (string, string) {
	if s, reason := jsonString(raw, name); reason == "" {
		return s, ""
	}
	if jsonKind(raw) == "a number" {
		n := string(bytes.TrimSpace(raw))
		if strings.ContainsAny(n, ".eE") {
			return "", fmt.Sprintf("%s is %s, not an integer", name, n)
		}
		return n, ""
	}
	return "", fmt.Sprintf("%s is %s, want a string or an integer", name, jsonKind(raw))
}

func jsonKind(raw json.RawMessage) string {
	switch t := bytes.TrimSpace(raw); {
	case len(t) == 0:
		return "empty"
	case t[0] == '"':
		return "a string"
	case t[0] == '{':
		return "an object"
	case t[0] == '[':
		return "an array"
	case t[0] == 't' || t[0] == 'f':
		return "a boolean"
	case t[0] == 'n':
		return "null"
	}
	return "a number"
}
