// Package lists reads the comma-separated lists that flags, environment
// variables and form fields carry ("eng, fra,,deu").
package lists

import "strings"

// Split returns the items of a comma-separated list, each trimmed of
// spaces, empty items left out; nil for an empty list.
func Split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
