package qdranttest

import (
	"slices"
	"strings"
	"time"

	"github.com/qdrant/go-client/qdrant"
)

// matches evaluates a Qdrant filter on a point: every must condition, no
// must_not condition, at least one should condition when there are any,
// and at least min_should.min_count of its conditions.
func matches(f *qdrant.Filter, p *point) (bool, error) {
	return matchFilter(f, p.payload, p)
}

// matchFilter evaluates f on a payload; p is the point it belongs to, nil
// inside a nested condition (where id and vector conditions cannot be).
func matchFilter(f *qdrant.Filter, payload map[string]*qdrant.Value, p *point) (bool, error) {
	if f == nil {
		return true, nil
	}
	for _, c := range f.GetMust() {
		ok, err := matchCondition(c, payload, p)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, c := range f.GetMustNot() {
		ok, err := matchCondition(c, payload, p)
		if err != nil || ok {
			return false, err
		}
	}
	if should := f.GetShould(); len(should) > 0 {
		found := false
		for _, c := range should {
			ok, err := matchCondition(c, payload, p)
			if err != nil {
				return false, err
			}
			if ok {
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	if ms := f.GetMinShould(); ms != nil {
		n := uint64(0)
		for _, c := range ms.GetConditions() {
			ok, err := matchCondition(c, payload, p)
			if err != nil {
				return false, err
			}
			if ok {
				n++
			}
		}
		if n < ms.GetMinCount() {
			return false, nil
		}
	}
	return true, nil
}

func matchCondition(c *qdrant.Condition, payload map[string]*qdrant.Value, p *point) (bool, error) {
	switch x := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return matchField(x.Field, payload)
	case *qdrant.Condition_IsEmpty:
		return len(values(payload, x.IsEmpty.GetKey())) == 0, nil
	case *qdrant.Condition_IsNull:
		return isNull(payload, x.IsNull.GetKey()), nil
	case *qdrant.Condition_Filter:
		return matchFilter(x.Filter, payload, p)
	case *qdrant.Condition_Nested:
		// Some element of the array at key satisfies the whole filter.
		for _, v := range values(payload, x.Nested.GetKey()) {
			obj := v.GetStructValue()
			if obj == nil {
				continue
			}
			ok, err := matchFilter(x.Nested.GetFilter(), obj.GetFields(), nil)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *qdrant.Condition_HasId:
		if p == nil {
			return false, badInput("has_id is not allowed inside a nested condition")
		}
		for _, id := range x.HasId.GetHasId() {
			_, key, err := parseID(id)
			if err != nil {
				return false, err
			}
			if key == p.key {
				return true, nil
			}
		}
		return false, nil
	case *qdrant.Condition_HasVector:
		if p == nil {
			return false, badInput("has_vector is not allowed inside a nested condition")
		}
		name := x.HasVector.GetHasVector()
		_, dense := p.dense[name]
		_, sparse := p.sparse[name]
		return dense || sparse, nil
	}
	return false, validation("filter: empty condition")
}

func matchField(fc *qdrant.FieldCondition, payload map[string]*qdrant.Value) (bool, error) {
	vals := values(payload, fc.GetKey())
	switch {
	case fc.Match != nil:
		return matchValue(fc.Match, vals)
	case fc.Range != nil:
		r := fc.Range
		for _, v := range vals {
			x, ok := number(v)
			if !ok {
				continue
			}
			if (r.Lt == nil || x < *r.Lt) && (r.Gt == nil || x > *r.Gt) &&
				(r.Lte == nil || x <= *r.Lte) && (r.Gte == nil || x >= *r.Gte) {
				return true, nil
			}
		}
		return false, nil
	case fc.DatetimeRange != nil:
		r := fc.DatetimeRange
		for _, v := range vals {
			t, ok := datetime(v)
			if !ok {
				continue
			}
			if (r.Lt == nil || t.Before(r.Lt.AsTime())) && (r.Gt == nil || t.After(r.Gt.AsTime())) &&
				(r.Lte == nil || !t.After(r.Lte.AsTime())) && (r.Gte == nil || !t.Before(r.Gte.AsTime())) {
				return true, nil
			}
		}
		return false, nil
	case fc.ValuesCount != nil:
		r, n := fc.ValuesCount, uint64(len(vals))
		return (r.Lt == nil || n < *r.Lt) && (r.Gt == nil || n > *r.Gt) &&
			(r.Lte == nil || n <= *r.Lte) && (r.Gte == nil || n >= *r.Gte), nil
	case fc.IsEmpty != nil:
		return (len(vals) == 0) == fc.GetIsEmpty(), nil
	case fc.IsNull != nil:
		return isNull(payload, fc.GetKey()) == fc.GetIsNull(), nil
	case fc.GeoBoundingBox != nil || fc.GeoRadius != nil || fc.GeoPolygon != nil:
		return false, unsupported("geo conditions")
	}
	return false, validation("filter: a field condition on %q has nothing to check", fc.GetKey())
}

// matchValue checks a match against the values at a key (an array's
// elements each count): true if any value matches. For except, as in
// Qdrant, a value of another type counts as not excluded, and a key with
// no value (missing, null, []) matches nothing.
func matchValue(m *qdrant.Match, vals []*qdrant.Value) (bool, error) {
	anyOf := func(pred func(*qdrant.Value) bool) bool { return slices.ContainsFunc(vals, pred) }
	switch x := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		return anyOf(func(v *qdrant.Value) bool { s, ok := str(v); return ok && s == x.Keyword }), nil
	case *qdrant.Match_Keywords:
		return anyOf(func(v *qdrant.Value) bool { s, ok := str(v); return ok && slices.Contains(x.Keywords.GetStrings(), s) }), nil
	case *qdrant.Match_ExceptKeywords:
		return anyOf(func(v *qdrant.Value) bool {
			s, ok := str(v)
			return !ok || !slices.Contains(x.ExceptKeywords.GetStrings(), s)
		}), nil
	case *qdrant.Match_Integer:
		return anyOf(func(v *qdrant.Value) bool { i, ok := integer(v); return ok && i == x.Integer }), nil
	case *qdrant.Match_Integers:
		return anyOf(func(v *qdrant.Value) bool {
			i, ok := integer(v)
			return ok && slices.Contains(x.Integers.GetIntegers(), i)
		}), nil
	case *qdrant.Match_ExceptIntegers:
		return anyOf(func(v *qdrant.Value) bool {
			i, ok := integer(v)
			return !ok || !slices.Contains(x.ExceptIntegers.GetIntegers(), i)
		}), nil
	case *qdrant.Match_Boolean:
		return anyOf(func(v *qdrant.Value) bool {
			b, ok := v.GetKind().(*qdrant.Value_BoolValue)
			return ok && b.BoolValue == x.Boolean
		}), nil
	case *qdrant.Match_Text:
		// Without a full-text index Qdrant matches a substring.
		return anyOf(func(v *qdrant.Value) bool { s, ok := str(v); return ok && strings.Contains(s, x.Text) }), nil
	case *qdrant.Match_Phrase:
		return anyOf(func(v *qdrant.Value) bool { s, ok := str(v); return ok && strings.Contains(s, x.Phrase) }), nil
	case *qdrant.Match_TextAny:
		words := strings.Fields(x.TextAny)
		return anyOf(func(v *qdrant.Value) bool {
			s, ok := str(v)
			return ok && slices.ContainsFunc(words, func(w string) bool { return strings.Contains(s, w) })
		}), nil
	}
	return false, validation("filter: match without a value")
}

// values returns the values at a key path ("a.b", "a[].b"), arrays on the
// way and at the end flattened, nulls left out.
func values(payload map[string]*qdrant.Value, key string) []*qdrant.Value {
	cur := []*qdrant.Value{{Kind: &qdrant.Value_StructValue{StructValue: &qdrant.Struct{Fields: payload}}}}
	for _, part := range strings.Split(key, ".") {
		part = strings.TrimSuffix(part, "[]")
		var next []*qdrant.Value
		for _, v := range flatten(cur) {
			if obj := v.GetStructValue(); obj != nil {
				if x, ok := obj.GetFields()[part]; ok {
					next = append(next, x)
				}
			}
		}
		cur = next
	}
	return flatten(cur)
}

func flatten(vals []*qdrant.Value) []*qdrant.Value {
	var out []*qdrant.Value
	for _, v := range vals {
		switch k := v.GetKind().(type) {
		case *qdrant.Value_ListValue:
			out = append(out, flatten(k.ListValue.GetValues())...)
		case *qdrant.Value_NullValue, nil:
		default:
			out = append(out, v)
		}
	}
	return out
}

// isNull reports whether the key holds null itself (not a missing key, not
// an empty array).
func isNull(payload map[string]*qdrant.Value, key string) bool {
	parts := strings.Split(key, ".")
	obj := payload
	for i, part := range parts {
		v, ok := obj[part]
		if !ok {
			return false
		}
		if i == len(parts)-1 {
			_, null := v.GetKind().(*qdrant.Value_NullValue)
			return null
		}
		if obj = v.GetStructValue().GetFields(); obj == nil {
			return false
		}
	}
	return false
}

func str(v *qdrant.Value) (string, bool) {
	s, ok := v.GetKind().(*qdrant.Value_StringValue)
	if !ok {
		return "", false
	}
	return s.StringValue, true
}

func integer(v *qdrant.Value) (int64, bool) {
	i, ok := v.GetKind().(*qdrant.Value_IntegerValue)
	if !ok {
		return 0, false
	}
	return i.IntegerValue, true
}

func number(v *qdrant.Value) (float64, bool) {
	switch k := v.GetKind().(type) {
	case *qdrant.Value_IntegerValue:
		return float64(k.IntegerValue), true
	case *qdrant.Value_DoubleValue:
		return k.DoubleValue, true
	}
	return 0, false
}

var datetimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// datetime parses a payload string as Qdrant's datetime conditions do:
// RFC 3339, or without a zone (taken as UTC), or a bare date.
func datetime(v *qdrant.Value) (time.Time, bool) {
	s, ok := str(v)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range datetimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
