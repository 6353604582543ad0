package qdranttest

import (
	"context"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
)

type pointsService struct {
	qdrant.UnimplementedPointsServer
	s *Server
}

// point is one stored point. Nothing in it is modified after it is stored,
// so responses may share its slices and values.
type point struct {
	id      *qdrant.PointId // canonical
	key     string          // idKey(id), also the tie-break order
	dense   map[string][]float32
	sparse  map[string]*qdrant.SparseVector // indices sorted
	payload map[string]*qdrant.Value
}

// parseID checks a point id as Qdrant does and returns it in canonical
// form with its key: the decimal number, or the lower-case hyphenated UUID.
func parseID(id *qdrant.PointId) (*qdrant.PointId, string, error) {
	switch o := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return id, strconv.FormatUint(o.Num, 10), nil
	case *qdrant.PointId_Uuid:
		u, err := uuid.Parse(o.Uuid)
		if err != nil {
			return nil, "", status400("Unable to parse UUID: %s", o.Uuid)
		}
		return qdrant.NewIDUUID(u.String()), u.String(), nil
	}
	return nil, "", status400("No ID options provided")
}

// parseVector reads one named vector of an upsert: dense from either the
// current oneof or the deprecated data field, sparse from either form.
func parseVector(v *qdrant.Vector) (dense []float32, sparse *qdrant.SparseVector, err error) {
	switch x := v.GetVector().(type) {
	case *qdrant.Vector_Dense:
		return x.Dense.GetData(), nil, nil
	case *qdrant.Vector_Sparse:
		return nil, &qdrant.SparseVector{Indices: x.Sparse.GetIndices(), Values: x.Sparse.GetValues()}, nil
	case nil:
		switch {
		case v.Indices != nil:
			return nil, &qdrant.SparseVector{Indices: v.Indices.GetData(), Values: v.GetData()}, nil
		case v.VectorsCount != nil:
			return nil, nil, unsupported("multivectors")
		}
		return v.GetData(), nil, nil
	case *qdrant.Vector_MultiDense:
		return nil, nil, unsupported("multivectors")
	default:
		return nil, nil, unsupported("inference (documents, images, objects)")
	}
}

// checkDense checks a dense vector against the collection: the name must
// be a dense vector of it and the dimension must match.
func (c *collection) checkDense(name string, v []float32) error {
	params, ok := c.dense[name]
	if !ok {
		if _, isSparse := c.sparse[name]; isSparse {
			return badInput("Conversion between sparse and regular vectors failed")
		}
		return badInput("Not existing vector name error: %s", name)
	}
	if uint64(len(v)) != params.GetSize() {
		return badInput("Vector dimension error: expected dim: %d, got %d", params.GetSize(), len(v))
	}
	return nil
}

func (c *collection) checkSparse(name string, sv *qdrant.SparseVector) error {
	if _, ok := c.sparse[name]; !ok {
		if _, isDense := c.dense[name]; isDense {
			return badInput("Conversion between sparse and regular vectors failed")
		}
		return badInput("Not existing vector name error: %s", name)
	}
	if len(sv.Indices) != len(sv.Values) {
		return validation("vector: indices and values must be the same length (%d indices, %d values)", len(sv.Indices), len(sv.Values))
	}
	seen := make(map[uint32]bool, len(sv.Indices))
	for _, i := range sv.Indices {
		if seen[i] {
			return validation("vector: indices must be unique, %d is there twice", i)
		}
		seen[i] = true
	}
	return nil
}

// newPoint validates a PointStruct against the collection and returns it
// as stored: Cosine vectors normalised, sparse vectors sorted by index.
func (c *collection) newPoint(ps *qdrant.PointStruct) (*point, error) {
	id, key, err := parseID(ps.GetId())
	if err != nil {
		return nil, err
	}
	p := &point{id: id, key: key, dense: map[string][]float32{}, sparse: map[string]*qdrant.SparseVector{}, payload: ps.GetPayload()}
	add := func(name string, v *qdrant.Vector) error {
		d, sv, err := parseVector(v)
		if err != nil {
			return err
		}
		if sv != nil {
			if err := c.checkSparse(name, sv); err != nil {
				return err
			}
			p.sparse[name] = sortedSparse(sv)
			return nil
		}
		if err := c.checkDense(name, d); err != nil {
			return err
		}
		if c.dense[name].GetDistance() == qdrant.Distance_Cosine {
			d = normalized(d)
		} else {
			d = slices.Clone(d)
		}
		p.dense[name] = d
		return nil
	}
	switch o := ps.GetVectors().GetVectorsOptions().(type) {
	case *qdrant.Vectors_Vector:
		err = add("", o.Vector)
	case *qdrant.Vectors_Vectors:
		for name, v := range o.Vectors.GetVectors() {
			if err = add(name, v); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if p.payload == nil {
		p.payload = map[string]*qdrant.Value{}
	}
	return p, nil
}

func sortedSparse(sv *qdrant.SparseVector) *qdrant.SparseVector {
	order := make([]int, len(sv.Indices))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return sv.Indices[order[a]] < sv.Indices[order[b]] })
	out := &qdrant.SparseVector{Indices: make([]uint32, len(order)), Values: make([]float32, len(order))}
	for i, j := range order {
		out.Indices[i], out.Values[i] = sv.Indices[j], sv.Values[j]
	}
	return out
}

// normalized is v scaled to unit length, as Qdrant stores Cosine vectors; a
// zero vector stays as it is.
func normalized(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	out := slices.Clone(v)
	if n < 1e-30 {
		return out
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range out {
		out[i] *= inv
	}
	return out
}

func (ps *pointsService) done(start time.Time, wait bool) *qdrant.PointsOperationResponse {
	st := qdrant.UpdateStatus_Acknowledged
	if wait {
		st = qdrant.UpdateStatus_Completed
	}
	op := ps.s.nextOperation()
	return &qdrant.PointsOperationResponse{Result: &qdrant.UpdateResult{OperationId: &op, Status: st}, Time: since(start)}
}

func (ps *pointsService) Upsert(ctx context.Context, req *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	if req.UpdateFilter != nil {
		return nil, unsupported("conditional upserts (update_filter)")
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	// Validate every point before writing any.
	pts := make([]*point, len(req.GetPoints()))
	for i, p := range req.GetPoints() {
		if pts[i], err = c.newPoint(p); err != nil {
			return nil, err
		}
	}
	for _, p := range pts {
		c.points[p.key] = p
	}
	return ps.done(start, req.GetWait()), nil
}

func (ps *pointsService) Delete(ctx context.Context, req *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	switch sel := req.GetPoints().GetPointsSelectorOneOf().(type) {
	case *qdrant.PointsSelector_Points:
		keys := make([]string, 0, len(sel.Points.GetIds()))
		for _, id := range sel.Points.GetIds() {
			_, key, err := parseID(id)
			if err != nil {
				return nil, err
			}
			keys = append(keys, key)
		}
		for _, k := range keys {
			delete(c.points, k)
		}
	case *qdrant.PointsSelector_Filter:
		var gone []string
		for k, p := range c.points {
			ok, err := matches(sel.Filter, p)
			if err != nil {
				return nil, err
			}
			if ok {
				gone = append(gone, k)
			}
		}
		for _, k := range gone {
			delete(c.points, k)
		}
	default:
		return nil, validation("points: a points selector is required")
	}
	return ps.done(start, req.GetWait()), nil
}

func (ps *pointsService) CreateFieldIndex(ctx context.Context, req *qdrant.CreateFieldIndexCollection) (*qdrant.PointsOperationResponse, error) {
	start := time.Now()
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if req.FieldType == nil {
		return nil, badInput("field_type is required")
	}
	types := map[qdrant.FieldType]qdrant.PayloadSchemaType{
		qdrant.FieldType_FieldTypeKeyword:  qdrant.PayloadSchemaType_Keyword,
		qdrant.FieldType_FieldTypeInteger:  qdrant.PayloadSchemaType_Integer,
		qdrant.FieldType_FieldTypeFloat:    qdrant.PayloadSchemaType_Float,
		qdrant.FieldType_FieldTypeGeo:      qdrant.PayloadSchemaType_Geo,
		qdrant.FieldType_FieldTypeText:     qdrant.PayloadSchemaType_Text,
		qdrant.FieldType_FieldTypeBool:     qdrant.PayloadSchemaType_Bool,
		qdrant.FieldType_FieldTypeDatetime: qdrant.PayloadSchemaType_Datetime,
		qdrant.FieldType_FieldTypeUuid:     qdrant.PayloadSchemaType_Uuid,
	}
	t, ok := types[req.GetFieldType()]
	if !ok {
		return nil, badInput("unknown field type %v", req.GetFieldType())
	}
	c.indexes[req.GetFieldName()] = t
	return ps.done(start, req.GetWait()), nil
}

func (ps *pointsService) Get(ctx context.Context, req *qdrant.GetPoints) (*qdrant.GetResponse, error) {
	start := time.Now()
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	out := &qdrant.GetResponse{}
	seen := map[string]bool{}
	for _, id := range req.GetIds() {
		_, key, err := parseID(id)
		if err != nil {
			return nil, err
		}
		p, ok := c.points[key]
		if !ok || seen[key] {
			continue
		}
		seen[key] = true
		out.Result = append(out.Result, &qdrant.RetrievedPoint{
			Id:      p.id,
			Payload: selectPayload(p.payload, req.GetWithPayload(), true),
			Vectors: c.selectVectors(p, req.GetWithVectors()),
		})
	}
	out.Time = since(start)
	return out, nil
}

func (ps *pointsService) Count(ctx context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	start := time.Now()
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := uint64(0)
	for _, p := range c.points {
		ok, err := matches(req.GetFilter(), p)
		if err != nil {
			return nil, err
		}
		if ok {
			n++
		}
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: n}, Time: since(start)}, nil
}

// selectPayload applies a with_payload selector; def is the answer when
// the request has none.
func selectPayload(payload map[string]*qdrant.Value, sel *qdrant.WithPayloadSelector, def bool) map[string]*qdrant.Value {
	switch o := sel.GetSelectorOptions().(type) {
	case nil:
		if !def {
			return nil
		}
	case *qdrant.WithPayloadSelector_Enable:
		if !o.Enable {
			return nil
		}
	case *qdrant.WithPayloadSelector_Include:
		out := map[string]*qdrant.Value{}
		for _, k := range o.Include.GetFields() {
			if v, ok := payload[k]; ok {
				out[k] = v
			}
		}
		return out
	case *qdrant.WithPayloadSelector_Exclude:
		out := map[string]*qdrant.Value{}
		for k, v := range payload {
			if !slices.Contains(o.Exclude.GetFields(), k) {
				out[k] = v
			}
		}
		return out
	}
	out := make(map[string]*qdrant.Value, len(payload))
	for k, v := range payload {
		out[k] = v
	}
	return out
}

// selectVectors applies a with_vectors selector (none: no vectors).
func (c *collection) selectVectors(p *point, sel *qdrant.WithVectorsSelector) *qdrant.VectorsOutput {
	var names []string
	switch o := sel.GetSelectorOptions().(type) {
	case *qdrant.WithVectorsSelector_Enable:
		if !o.Enable {
			return nil
		}
		for n := range p.dense {
			names = append(names, n)
		}
		for n := range p.sparse {
			names = append(names, n)
		}
	case *qdrant.WithVectorsSelector_Include:
		names = o.Include.GetNames()
	default:
		return nil
	}
	out := map[string]*qdrant.VectorOutput{}
	for _, n := range names {
		if d, ok := p.dense[n]; ok {
			out[n] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Dense{Dense: &qdrant.DenseVector{Data: d}}}
		} else if sv, ok := p.sparse[n]; ok {
			out[n] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Sparse{Sparse: sv}}
		}
	}
	if c.unnamed {
		if v, ok := out[""]; ok {
			return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vector{Vector: v}}
		}
	}
	return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vectors{Vectors: &qdrant.NamedVectorsOutput{Vectors: out}}}
}

func (ps *pointsService) Query(ctx context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	start := time.Now()
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	limit := int(valueOr(req.Limit, 10))
	hits, err := c.run(stage{
		prefetch: req.GetPrefetch(), query: req.GetQuery(), using: req.GetUsing(),
		filter: req.GetFilter(), threshold: req.ScoreThreshold,
		limit: limit + int(req.GetOffset()),
	})
	if err != nil {
		return nil, err
	}
	hits = hits[min(len(hits), int(req.GetOffset())):]
	out := &qdrant.QueryResponse{Result: make([]*qdrant.ScoredPoint, len(hits))}
	for i, h := range hits {
		out.Result[i] = c.scored(h, req.GetWithPayload(), req.GetWithVectors())
	}
	out.Time = since(start)
	return out, nil
}

func (c *collection) scored(h hit, wp *qdrant.WithPayloadSelector, wv *qdrant.WithVectorsSelector) *qdrant.ScoredPoint {
	return &qdrant.ScoredPoint{
		Id:      h.p.id,
		Score:   h.score,
		Version: 1,
		Payload: selectPayload(h.p.payload, wp, false),
		Vectors: c.selectVectors(h.p, wv),
	}
}

// QueryGroups runs the query over every point, then walks the hits best
// first: a hit opens a group for each value of its group_by field until
// limit groups are open, and joins an open group that has room.
func (ps *pointsService) QueryGroups(ctx context.Context, req *qdrant.QueryPointGroups) (*qdrant.QueryGroupsResponse, error) {
	start := time.Now()
	ps.s.mu.RLock()
	defer ps.s.mu.RUnlock()
	c, err := ps.s.resolve(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	if req.GetGroupBy() == "" {
		return nil, validation("group_by: must not be empty")
	}
	limit, size := int(valueOr(req.Limit, 10)), int(valueOr(req.GroupSize, 3))
	if limit < 1 || size < 1 {
		return nil, validation("limit and group_size must be at least 1")
	}
	hits, err := c.run(stage{
		prefetch: req.GetPrefetch(), query: req.GetQuery(), using: req.GetUsing(),
		filter: req.GetFilter(), threshold: req.ScoreThreshold, limit: len(c.points),
	})
	if err != nil {
		return nil, err
	}
	type group struct {
		id   *qdrant.GroupId
		hits []*qdrant.ScoredPoint
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, h := range hits {
		for _, v := range values(h.p.payload, req.GetGroupBy()) {
			var id *qdrant.GroupId
			var key string
			switch k := v.GetKind().(type) {
			case *qdrant.Value_StringValue:
				id, key = qdrant.NewGroupIDString(k.StringValue), "s"+k.StringValue
			case *qdrant.Value_IntegerValue:
				if k.IntegerValue >= 0 {
					id = qdrant.NewGroupIDUnsigned(uint64(k.IntegerValue))
				} else {
					id = qdrant.NewGroupIDInt(k.IntegerValue)
				}
				key = "i" + strconv.FormatInt(k.IntegerValue, 10)
			default:
				continue // only keywords and integers group
			}
			g := byKey[key]
			if g == nil {
				if len(groups) == limit {
					continue
				}
				g = &group{id: id}
				byKey[key] = g
				groups = append(groups, g)
			}
			if len(g.hits) < size {
				g.hits = append(g.hits, c.scored(h, req.GetWithPayload(), req.GetWithVectors()))
			}
		}
	}
	out := &qdrant.QueryGroupsResponse{Result: &qdrant.GroupsResult{}}
	for _, g := range groups {
		out.Result.Groups = append(out.Result.Groups, &qdrant.PointGroup{Id: g.id, Hits: g.hits})
	}
	out.Time = since(start)
	return out, nil
}

func valueOr(p *uint64, def uint64) uint64 {
	if p == nil {
		return def
	}
	return *p
}
