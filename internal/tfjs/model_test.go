package tfjs

import (
	"encoding/json"
	"testing"
)

// Older converters (tfjs-converter 0.x/1.x, as USE-Lite's model.json was
// made) write dtypes as enum numbers and strings as lists of byte values;
// both read as today's forms.
func TestAttrsOfOlderConverters(t *testing.T) {
	t.Parallel()
	var n NodeDef
	if err := json.Unmarshal([]byte(`{"name": "c", "op": "Conv2D", "attr": {
		"T": {"type": 1}, "Tidx": {"type": 9}, "flag": {"type": 10}, "odd": {"type": 42},
		"data_format": {"s": [78, 72, 87, 67]}, "padding": {"s": "U0FNRQ=="},
		"list": {"list": {"s": [[97], "Yg=="], "type": [3, "DT_BOOL"]}}}}`), &n); err != nil {
		t.Fatal(err)
	}
	for attr, want := range map[string]string{"T": "DT_FLOAT", "Tidx": "DT_INT64", "flag": "DT_BOOL", "odd": "DT_ENUM_42"} {
		if got := n.attrType(attr); got != want {
			t.Errorf("%s: %q, want %q", attr, got, want)
		}
	}
	for attr, want := range map[string]string{"data_format": "NHWC", "padding": "SAME"} {
		if got, err := n.attrString(attr, ""); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", attr, got, err, want)
		}
	}
	if got, _ := n.attrStrings("list"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("list of strings: %q", got)
	}
	if l := n.Attr["list"].List.Type; len(l) != 2 || l[0] != "DT_INT32" || l[1] != "DT_BOOL" {
		t.Errorf("list of types: %q", l)
	}
	for _, bad := range []string{`{"s": [300]}`, `{"s": {"x": 1}}`, `{"type": true}`} {
		var a AttrValue
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("%s was read", bad)
		}
	}
}
