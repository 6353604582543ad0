package index

import "slices"

// Filter restricts a query by payload. Every field that is set must match.
type Filter struct {
	VideoIDs        []string // the point's video is one of these
	ExcludeVideoIDs []string // the point's video is none of these
	Space           string
	Modality        string
	// Labels: the point carries every one of these labels.
	Labels []string
	// TStartFrom and TStartTo bound t_start: From ≤ t_start < To.
	TStartFrom, TStartTo *float64
	// ExcludeUnsafe drops the points marked unsafe (Payload.Unsafe).
	ExcludeUnsafe bool
}

// IsZero reports whether the filter lets every point through.
func (f Filter) IsZero() bool {
	return len(f.VideoIDs) == 0 && len(f.ExcludeVideoIDs) == 0 && f.Space == "" && f.Modality == "" &&
		len(f.Labels) == 0 && f.TStartFrom == nil && f.TStartTo == nil && !f.ExcludeUnsafe
}

// Match reports whether a payload passes the filter. Backends that filter
// in memory use it; it is the reference for what the filter means.
func (f Filter) Match(p *Payload) bool {
	if len(f.VideoIDs) > 0 && !slices.Contains(f.VideoIDs, p.VideoID) {
		return false
	}
	if slices.Contains(f.ExcludeVideoIDs, p.VideoID) {
		return false
	}
	if f.Space != "" && p.Space != f.Space {
		return false
	}
	if f.Modality != "" && p.Modality != f.Modality {
		return false
	}
	for _, l := range f.Labels {
		if !slices.Contains(p.Labels, l) {
			return false
		}
	}
	if f.TStartFrom != nil && p.TStart < *f.TStartFrom {
		return false
	}
	if f.TStartTo != nil && p.TStart >= *f.TStartTo {
		return false
	}
	if f.ExcludeUnsafe && p.Unsafe {
		return false
	}
	return true
}
