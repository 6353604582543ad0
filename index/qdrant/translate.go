package qdrant

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	qc "github.com/qdrant/go-client/qdrant"

	"github.com/mediavec/mediavec/index"
)

func createRequest(name string, schema index.Schema) *qc.CreateCollection {
	req := &qc.CreateCollection{CollectionName: name}
	if len(schema.Dense) > 0 {
		params := make(map[string]*qc.VectorParams, len(schema.Dense))
		for n, dim := range schema.Dense {
			params[n] = &qc.VectorParams{Size: uint64(dim), Distance: qc.Distance_Cosine}
		}
		req.VectorsConfig = qc.NewVectorsConfigMap(params)
	}
	if len(schema.Sparse) > 0 {
		params := make(map[string]*qc.SparseVectorParams, len(schema.Sparse))
		for _, n := range schema.Sparse {
			params[n] = &qc.SparseVectorParams{Modifier: qc.Modifier_Idf.Enum()}
		}
		req.SparseVectorsConfig = qc.NewSparseVectorsConfig(params)
	}
	return req
}

func fieldIndexRequest(collection, field string, typ qc.FieldType) *qc.CreateFieldIndexCollection {
	return &qc.CreateFieldIndexCollection{
		CollectionName: collection,
		Wait:           ptrTo(true),
		FieldName:      field,
		FieldType:      typ.Enum(),
	}
}

// schemaOf reads a collection's configuration as a Schema, with what a
// Schema cannot say (another distance, no IDF, an unnamed vector) as
// problems.
func schemaOf(params *qc.CollectionParams) (index.Schema, []string) {
	var s index.Schema
	var problems []string
	switch vc := params.GetVectorsConfig().GetConfig().(type) {
	case *qc.VectorsConfig_Params:
		problems = append(problems, fmt.Sprintf(" (a single unnamed %d-d vector)", vc.Params.GetSize()))
	case *qc.VectorsConfig_ParamsMap:
		for n, p := range vc.ParamsMap.GetMap() {
			if s.Dense == nil {
				s.Dense = map[string]int{}
			}
			s.Dense[n] = int(p.GetSize())
			if p.GetDistance() != qc.Distance_Cosine {
				problems = append(problems, fmt.Sprintf(" (vector %q uses %s distance)", n, p.GetDistance()))
			}
			if p.MultivectorConfig != nil {
				problems = append(problems, fmt.Sprintf(" (vector %q is a multivector)", n))
			}
		}
	}
	for n, p := range params.GetSparseVectorsConfig().GetMap() {
		s.Sparse = append(s.Sparse, n)
		if p.GetModifier() != qc.Modifier_Idf {
			problems = append(problems, fmt.Sprintf(" (sparse vector %q has no IDF modifier)", n))
		}
	}
	sort.Strings(s.Sparse)
	sort.Strings(problems)
	return s, problems
}

func aliasRequest(alias, collection string) *qc.ChangeAliases {
	return &qc.ChangeAliases{Actions: []*qc.AliasOperations{
		qc.NewAliasDelete(alias),
		qc.NewAliasCreate(alias, collection),
	}}
}

// upsertRequests splits points into requests of at most batch points.
func upsertRequests(collection string, points []*qc.PointStruct, batch int) []*qc.UpsertPoints {
	var out []*qc.UpsertPoints
	for start := 0; start < len(points); start += batch {
		out = append(out, &qc.UpsertPoints{
			CollectionName: collection,
			Wait:           ptrTo(true),
			Points:         points[start:min(start+batch, len(points))],
		})
	}
	return out
}

// completed checks an update's result: with wait=true Qdrant answers
// Completed once the write is applied; anything else (Acknowledged,
// ClockRejected, WaitTimeout) is not the durable write callers wait for.
func completed(r *qc.UpdateResult) error {
	if s := r.GetStatus(); s != qc.UpdateStatus_Completed {
		return fmt.Errorf("update %d not completed: status %s", r.GetOperationId(), s)
	}
	return nil
}

// staleFilter selects a video's points other than keep.
func staleFilter(videoID string, keep []*qc.PointId) *qc.Filter {
	f := &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword("video_id", videoID)}}
	if len(keep) > 0 {
		f.MustNot = []*qc.Condition{qc.NewHasID(keep...)}
	}
	return f
}

func groupID(id *qc.GroupId) string {
	switch k := id.GetKind().(type) {
	case *qc.GroupId_StringValue:
		return k.StringValue
	case *qc.GroupId_UnsignedValue:
		return strconv.FormatUint(k.UnsignedValue, 10)
	case *qc.GroupId_IntegerValue:
		return strconv.FormatInt(k.IntegerValue, 10)
	}
	return ""
}

func hitsFrom(points []*qc.ScoredPoint) ([]index.Hit, error) {
	out := make([]index.Hit, len(points))
	for i, sp := range points {
		payload, err := payloadFrom(sp.GetPayload())
		if err != nil {
			return nil, fmt.Errorf("point %s: %w", idString(sp.GetId()), err)
		}
		out[i] = index.Hit{ID: idString(sp.GetId()), Score: sp.GetScore(), Payload: payload}
	}
	return out, nil
}

// queryRequest is the QueryPoints for a checked query. Prefetches become
// Qdrant prefetches fused by RRF; the query's filter is set on every
// prefetch without one of its own (and not on the fusion, whose
// candidates have all passed it), as Embedded applies it.
func queryRequest(qu index.Query) *qc.QueryPoints {
	req := &qc.QueryPoints{
		CollectionName: qu.Collection,
		Limit:          ptrTo(uint64(qu.Limit)),
		WithPayload:    qc.NewWithPayload(true),
	}
	if len(qu.Prefetch) == 0 {
		req.Query = nearest(qu)
		req.Using = ptrTo(qu.Using)
		req.Filter = qdrantFilter(qu.Filter)
		req.ScoreThreshold = qu.ScoreThreshold
		return req
	}
	for _, sub := range qu.Prefetch {
		f := sub.Filter
		if f.IsZero() {
			f = qu.Filter
		}
		req.Prefetch = append(req.Prefetch, &qc.PrefetchQuery{
			Query:          nearest(sub),
			Using:          ptrTo(sub.Using),
			Filter:         qdrantFilter(f),
			ScoreThreshold: sub.ScoreThreshold,
			Limit:          ptrTo(uint64(sub.Limit)),
		})
	}
	req.Query = qc.NewQueryRRF(&qc.Rrf{K: ptrTo(qdrantRRFK(qu.RRFK))})
	return req
}

// qdrantRRFK is the k to send Qdrant for Query.RRFK. Query defines a
// point's score as Σ 1/(RRFK + rank), rank counted from 1; Qdrant computes
// Σ 1/(k + position) with position counted from 0
// (lib/segment/src/common/reciprocal_rank_fusion.rs), so k = RRFK + 1
// gives the same scores.
func qdrantRRFK(rrfk int) uint32 {
	if rrfk <= 0 {
		rrfk = index.DefaultRRFK
	}
	return uint32(rrfk + 1)
}

func groupsRequest(qu index.Query, groupSize int) *qc.QueryPointGroups {
	r := queryRequest(qu)
	return &qc.QueryPointGroups{
		CollectionName: r.CollectionName,
		Prefetch:       r.Prefetch,
		Query:          r.Query,
		Using:          r.Using,
		Filter:         r.Filter,
		ScoreThreshold: r.ScoreThreshold,
		WithPayload:    r.WithPayload,
		Limit:          r.Limit,
		GroupSize:      ptrTo(uint64(groupSize)),
		GroupBy:        "video_id",
	}
}

func nearest(qu index.Query) *qc.Query {
	if qu.Sparse != nil {
		return qc.NewQuerySparse(qu.Sparse.Indices, qu.Sparse.Values)
	}
	return qc.NewQueryDense(qu.Dense)
}

// qdrantFilter maps a Filter onto payload conditions; nil lets every
// point through.
func qdrantFilter(f index.Filter) *qc.Filter {
	if f.IsZero() {
		return nil
	}
	out := &qc.Filter{}
	if len(f.VideoIDs) > 0 {
		out.Must = append(out.Must, qc.NewMatchKeywords("video_id", f.VideoIDs...))
	}
	if len(f.ExcludeVideoIDs) > 0 {
		out.MustNot = append(out.MustNot, qc.NewMatchKeywords("video_id", f.ExcludeVideoIDs...))
	}
	if f.Space != "" {
		out.Must = append(out.Must, qc.NewMatchKeyword("space", f.Space))
	}
	if f.Modality != "" {
		out.Must = append(out.Must, qc.NewMatchKeyword("modality", f.Modality))
	}
	for _, l := range f.Labels {
		out.Must = append(out.Must, qc.NewMatchKeyword("labels", l))
	}
	if f.ExcludeUnsafe {
		out.MustNot = append(out.MustNot, qc.NewMatchBool(keyUnsafe, true))
	}
	if f.TStartFrom != nil || f.TStartTo != nil {
		out.Must = append(out.Must, qc.NewRange("t_start", &qc.Range{Gte: f.TStartFrom, Lt: f.TStartTo}))
	}
	return out
}

// pointID is the Qdrant id of a valid id (see ValidateID): an unsigned
// integer, else a UUID in canonical form.
func pointID(id string) *qc.PointId {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil {
		return qc.NewIDNum(n)
	}
	u, _ := uuid.Parse(id)
	return qc.NewIDUUID(u.String())
}

// idString is the id string of a Qdrant id, as pointID would make it.
func idString(id *qc.PointId) string {
	switch o := id.GetPointIdOptions().(type) {
	case *qc.PointId_Num:
		return strconv.FormatUint(o.Num, 10)
	case *qc.PointId_Uuid:
		return o.Uuid
	}
	return ""
}

// pointStruct converts a point that passed index.Schema.CheckPoint for an
// upsert; only the payload can still be refused (times that are not finite,
// text that is not UTF-8, which protobuf cannot carry).
func pointStruct(p index.Point) (*qc.PointStruct, error) {
	vecs := make(map[string]*qc.Vector, len(p.Vectors)+len(p.Sparse))
	for name, v := range p.Vectors {
		vecs[name] = qc.NewVectorDense(v)
	}
	for name, sv := range p.Sparse {
		vecs[name] = qc.NewVectorSparse(sv.Indices, sv.Values)
	}
	payload, err := qdrantPayload(p.Payload)
	if err != nil {
		return nil, fmt.Errorf("point %s: %w: %v", p.ID, index.ErrBadPoint, err)
	}
	return &qc.PointStruct{Id: pointID(p.ID), Vectors: qc.NewVectorsMap(vecs), Payload: payload}, nil
}

// Payload keys in Qdrant.
const (
	keyVideoID   = "video_id"
	keySpace     = "space"
	keyModality  = "modality"
	keyTStart    = "t_start"
	keyTEnd      = "t_end"
	keyText      = "text"
	keyWords     = "words"
	keyConf      = "confidence"
	keyLabels    = "labels"
	keySource    = "source"
	keyIndexedAt = "indexed_at"
	keyFields    = "fields"
	keySpeech    = "speech"
	keySafety    = "safety"
	keyUnsafe    = "unsafe"
)

// qdrantPayload maps a Payload onto Qdrant payload: video_id and the
// times always, the optional fields only when set, indexed_at as an
// RFC 3339 string (Qdrant's datetime format), fields as an object.
func qdrantPayload(p index.Payload) (map[string]*qc.Value, error) {
	if math.IsNaN(p.TStart) || math.IsInf(p.TStart, 0) || math.IsNaN(p.TEnd) || math.IsInf(p.TEnd, 0) {
		return nil, fmt.Errorf("times %v–%v are not finite", p.TStart, p.TEnd)
	}
	// Protobuf strings must be UTF-8; say so here rather than fail the
	// whole request in marshalling.
	bad := ""
	check := func(what, s string) {
		if bad == "" && !utf8.ValidString(s) {
			bad = what
		}
	}
	m := map[string]*qc.Value{
		keyVideoID: qc.NewValueString(p.VideoID),
		keyTStart:  qc.NewValueDouble(p.TStart),
		keyTEnd:    qc.NewValueDouble(p.TEnd),
	}
	check(keyVideoID, p.VideoID)
	for _, kv := range []struct{ key, val string }{
		{keySpace, p.Space}, {keyModality, p.Modality}, {keyText, p.Text}, {keySource, p.Source},
	} {
		if kv.val != "" {
			check(kv.key, kv.val)
			m[kv.key] = qc.NewValueString(kv.val)
		}
	}
	if len(p.Labels) > 0 {
		labels := make([]*qc.Value, len(p.Labels))
		for i, l := range p.Labels {
			check(keyLabels, l)
			labels[i] = qc.NewValueString(l)
		}
		m[keyLabels] = qc.NewValueFromList(labels...)
	}
	if len(p.Words) > 0 {
		words := make([]*qc.Value, len(p.Words))
		for i, w := range p.Words {
			if math.IsNaN(w.TStart) || math.IsInf(w.TStart, 0) || math.IsNaN(w.TEnd) || math.IsInf(w.TEnd, 0) {
				return nil, fmt.Errorf("word %q times %v–%v are not finite", w.Text, w.TStart, w.TEnd)
			}
			check(keyWords, w.Text)
			words[i] = qc.NewValueFromFields(map[string]*qc.Value{
				keyText: qc.NewValueString(w.Text), keyTStart: qc.NewValueDouble(w.TStart), keyTEnd: qc.NewValueDouble(w.TEnd),
			})
		}
		m[keyWords] = qc.NewValueFromList(words...)
	}
	if p.Confidence != 0 {
		if math.IsNaN(p.Confidence) || math.IsInf(p.Confidence, 0) {
			return nil, fmt.Errorf("confidence %v is not finite", p.Confidence)
		}
		m[keyConf] = qc.NewValueDouble(p.Confidence)
	}
	if p.Speech != 0 {
		if math.IsNaN(p.Speech) || math.IsInf(p.Speech, 0) {
			return nil, fmt.Errorf("speech probability %v is not finite", p.Speech)
		}
		m[keySpeech] = qc.NewValueDouble(p.Speech)
	}
	if len(p.Safety) > 0 {
		scores := make(map[string]*qc.Value, len(p.Safety))
		for k, v := range p.Safety {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("safety score %s %v is not finite", k, v)
			}
			check(keySafety, k)
			scores[k] = qc.NewValueDouble(v)
		}
		m[keySafety] = qc.NewValueFromFields(scores)
	}
	if p.Unsafe {
		m[keyUnsafe] = qc.NewValueBool(true)
	}
	if !p.IndexedAt.IsZero() {
		m[keyIndexedAt] = qc.NewValueString(p.IndexedAt.Format(time.RFC3339Nano))
	}
	if len(p.Fields) > 0 {
		fields := make(map[string]*qc.Value, len(p.Fields))
		for k, v := range p.Fields {
			check(keyFields, k)
			check(keyFields, v)
			fields[k] = qc.NewValueString(v)
		}
		m[keyFields] = qc.NewValueFromFields(fields)
	}
	if bad != "" {
		return nil, fmt.Errorf("payload %s is not valid UTF-8", bad)
	}
	return m, nil
}

// payloadFrom reads a Payload back; keys it does not know are ignored.
func payloadFrom(m map[string]*qc.Value) (index.Payload, error) {
	var p index.Payload
	for k, v := range m {
		switch k {
		case keyVideoID:
			p.VideoID = v.GetStringValue()
		case keySpace:
			p.Space = v.GetStringValue()
		case keyModality:
			p.Modality = v.GetStringValue()
		case keyText:
			p.Text = v.GetStringValue()
		case keySource:
			p.Source = v.GetStringValue()
		case keyTStart:
			p.TStart = numberValue(v)
		case keyTEnd:
			p.TEnd = numberValue(v)
		case keySpeech:
			p.Speech = numberValue(v)
		case keyConf:
			p.Confidence = numberValue(v)
		case keySafety:
			if fields := v.GetStructValue().GetFields(); len(fields) > 0 {
				p.Safety = make(map[string]float64, len(fields))
				for k, fv := range fields {
					p.Safety[k] = numberValue(fv)
				}
			}
		case keyUnsafe:
			p.Unsafe = v.GetBoolValue()
		case keyLabels:
			for _, l := range v.GetListValue().GetValues() {
				p.Labels = append(p.Labels, l.GetStringValue())
			}
		case keyWords:
			for _, w := range v.GetListValue().GetValues() {
				f := w.GetStructValue().GetFields()
				p.Words = append(p.Words, index.TimedWord{Text: f[keyText].GetStringValue(), TStart: numberValue(f[keyTStart]), TEnd: numberValue(f[keyTEnd])})
			}
		case keyIndexedAt:
			s := v.GetStringValue()
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return index.Payload{}, fmt.Errorf("payload indexed_at %q: %w", s, err)
			}
			p.IndexedAt = t
		case keyFields:
			fields := v.GetStructValue().GetFields()
			if len(fields) > 0 {
				p.Fields = make(map[string]string, len(fields))
				for fk, fv := range fields {
					p.Fields[fk] = fv.GetStringValue()
				}
			}
		}
	}
	return p, nil
}

// numberValue reads a number Qdrant may hand back as a double or, for a
// whole number, an integer.
func numberValue(v *qc.Value) float64 {
	if i, ok := v.GetKind().(*qc.Value_IntegerValue); ok {
		return float64(i.IntegerValue)
	}
	return v.GetDoubleValue()
}

// pointFrom rebuilds a Point from what Get returns. Vectors may come in
// the current oneof form or the deprecated data/indices fields.
func pointFrom(id *qc.PointId, payload map[string]*qc.Value, vectors *qc.VectorsOutput) (index.Point, error) {
	p := index.Point{ID: idString(id)}
	var err error
	if p.Payload, err = payloadFrom(payload); err != nil {
		return index.Point{}, fmt.Errorf("point %s: %w", p.ID, err)
	}
	put := func(name string, vo *qc.VectorOutput) error {
		var dense []float32
		var sparse *index.SparseVector
		switch x := vo.GetVector().(type) {
		case *qc.VectorOutput_Dense:
			dense = slices.Clone(x.Dense.GetData())
		case *qc.VectorOutput_Sparse:
			sparse = &index.SparseVector{Indices: slices.Clone(x.Sparse.GetIndices()), Values: slices.Clone(x.Sparse.GetValues())}
		case nil:
			switch {
			case vo.Indices != nil:
				sparse = &index.SparseVector{Indices: slices.Clone(vo.Indices.GetData()), Values: slices.Clone(vo.GetData())}
			case vo.VectorsCount != nil:
				return fmt.Errorf("point %s: vector %q is a multivector", p.ID, name)
			default:
				dense = slices.Clone(vo.GetData())
			}
		default:
			return fmt.Errorf("point %s: vector %q is a multivector", p.ID, name)
		}
		if sparse != nil {
			if p.Sparse == nil {
				p.Sparse = map[string]index.SparseVector{}
			}
			p.Sparse[name] = *sparse
			return nil
		}
		if p.Vectors == nil {
			p.Vectors = map[string][]float32{}
		}
		p.Vectors[name] = dense
		return nil
	}
	switch o := vectors.GetVectorsOptions().(type) {
	case *qc.VectorsOutput_Vectors:
		for name, vo := range o.Vectors.GetVectors() {
			if err := put(name, vo); err != nil {
				return index.Point{}, err
			}
		}
	case *qc.VectorsOutput_Vector:
		if err := put("", o.Vector); err != nil {
			return index.Point{}, err
		}
	}
	return p, nil
}

func ptrTo[T any](v T) *T { return &v }
