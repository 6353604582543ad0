package qdrant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mediavec/mediavec/index"
)

// payloadIndexes are the payload fields queries filter and group on.
var payloadIndexes = []struct {
	field string
	typ   qc.FieldType
}{
	{"video_id", qc.FieldType_FieldTypeKeyword},
	{"space", qc.FieldType_FieldTypeKeyword},
	{"modality", qc.FieldType_FieldTypeKeyword},
	{"labels", qc.FieldType_FieldTypeKeyword},
	{"unsafe", qc.FieldType_FieldTypeBool},
	{"t_start", qc.FieldType_FieldTypeFloat},
}

// Ensure creates the collection with the schema, or checks an existing
// one has it; either way it creates the payload indexes it lacks.
func (q *Index) Ensure(ctx context.Context, name string, schema index.Schema) error {
	if err := schema.Validate(); err != nil {
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	if err := index.ValidateName(name); err != nil {
		return fmt.Errorf("ensure collection %w", err)
	}
	aliases, err := q.Aliases(ctx)
	if err != nil {
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	if _, ok := aliases[name]; ok {
		// Qdrant would answer with the aliased collection's info.
		return fmt.Errorf("ensure collection %s: an alias has that name", name)
	}
	info, err := q.info(ctx, name)
	if errors.Is(err, index.ErrNoCollection) {
		err = q.do(ctx, func(ctx context.Context) error {
			_, err := q.client.GetCollectionsClient().Create(ctx, createRequest(name, schema))
			return err
		})
		if alreadyExists(err, name) {
			// Created meanwhile, by another worker or by a retried call
			// whose first answer was lost: check it like any other.
			info, err = q.info(ctx, name)
		} else if err != nil {
			return qerr(ctx, "create collection "+name, err, true)
		}
	}
	if err != nil {
		return fmt.Errorf("ensure collection %s: %w", name, err)
	}
	if info != nil {
		have, problems := schemaOf(info.GetConfig().GetParams())
		if len(problems) > 0 || !have.Equal(schema) {
			return fmt.Errorf("ensure collection %s: %w: it has %s%s, asked for %s", name, index.ErrSchema, have, strings.Join(problems, ""), schema)
		}
	}
	for _, ix := range payloadIndexes {
		if _, ok := info.GetPayloadSchema()[ix.field]; ok {
			continue
		}
		var res *qc.PointsOperationResponse
		err := q.do(ctx, func(ctx context.Context) (err error) {
			res, err = q.client.GetPointsClient().CreateFieldIndex(ctx, fieldIndexRequest(name, ix.field, ix.typ))
			return err
		})
		if err == nil {
			err = completed(res.GetResult())
		}
		if err != nil {
			return qerr(ctx, fmt.Sprintf("create payload index %s on %s", ix.field, name), err, true)
		}
	}
	return nil
}

// alreadyExists reports whether a create failed because the collection
// exists: Qdrant answers InvalidArgument "Collection `NAME` already
// exists!" (not for an alias of that name, which is another message).
func alreadyExists(err error, name string) bool {
	st, _ := status.FromError(err)
	return st.Code() == codes.AlreadyExists ||
		st.Code() == codes.InvalidArgument && strings.Contains(st.Message(), "Collection `"+name+"` already exists")
}

// info returns a collection's info; Qdrant resolves an alias.
// Schema returns a collection's schema, read from its configuration.
func (q *Index) Schema(ctx context.Context, collection string) (index.Schema, error) {
	info, err := q.info(ctx, collection)
	if err != nil {
		return index.Schema{}, err
	}
	s, problems := schemaOf(info.GetConfig().GetParams())
	if len(problems) > 0 {
		return s, fmt.Errorf("collection %s is not a mediavec collection:%s", collection, strings.Join(problems, ","))
	}
	return s, nil
}

func (q *Index) info(ctx context.Context, name string) (*qc.CollectionInfo, error) {
	var res *qc.GetCollectionInfoResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetCollectionsClient().Get(ctx, &qc.GetCollectionInfoRequest{CollectionName: name})
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "collection info of "+name, err, false)
	}
	return res.GetResult(), nil
}

// SetAlias points alias at collection in one UpdateAliases call (delete,
// then create), which Qdrant applies under one lock: no reader sees the
// alias missing. Both names are checked first, because Qdrant keeps the
// delete when the create fails.
func (q *Index) SetAlias(ctx context.Context, alias, collection string) error {
	cols, err := q.Collections(ctx)
	if err != nil {
		return fmt.Errorf("set alias %s → %s: %w", alias, collection, err)
	}
	if !slices.Contains(cols, collection) {
		return fmt.Errorf("set alias %s → %s: %w", alias, collection, index.ErrNoCollection)
	}
	if slices.Contains(cols, alias) {
		return fmt.Errorf("set alias %s: a collection has that name", alias)
	}
	if err := index.ValidateName(alias); err != nil {
		return fmt.Errorf("set alias %w", err)
	}
	err = q.do(ctx, func(ctx context.Context) error {
		_, err := q.client.GetCollectionsClient().UpdateAliases(ctx, aliasRequest(alias, collection))
		return err
	})
	if err != nil {
		return qerr(ctx, fmt.Sprintf("set alias %s → %s", alias, collection), err, true)
	}
	return nil
}

// Aliases returns every alias and its collection.
func (q *Index) Aliases(ctx context.Context) (map[string]string, error) {
	var res *qc.ListAliasesResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetCollectionsClient().ListAliases(ctx, &qc.ListAliasesRequest{})
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "list aliases", err, false)
	}
	out := make(map[string]string, len(res.GetAliases()))
	for _, a := range res.GetAliases() {
		out[a.GetAliasName()] = a.GetCollectionName()
	}
	return out, nil
}

// Collections lists the collections, sorted.
func (q *Index) Collections(ctx context.Context) ([]string, error) {
	var res *qc.ListCollectionsResponse
	err := q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetCollectionsClient().List(ctx, &qc.ListCollectionsRequest{})
		return err
	})
	if err != nil {
		return nil, qerr(ctx, "list collections", err, false)
	}
	out := make([]string, 0, len(res.GetCollections()))
	for _, c := range res.GetCollections() {
		out = append(out, c.GetName())
	}
	sort.Strings(out)
	return out, nil
}

// DropCollection deletes a collection no alias points at. Qdrant itself
// would drop the aliases along with it, so the check is made here first.
func (q *Index) DropCollection(ctx context.Context, name string) error {
	cols, err := q.Collections(ctx)
	if err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	if !slices.Contains(cols, name) {
		return fmt.Errorf("drop %s: %w", name, index.ErrNoCollection)
	}
	var aliases *qc.ListAliasesResponse
	err = q.do(ctx, func(ctx context.Context) (err error) {
		aliases, err = q.client.GetCollectionsClient().ListCollectionAliases(ctx, &qc.ListCollectionAliasesRequest{CollectionName: name})
		return err
	})
	if err != nil {
		return qerr(ctx, "list aliases of "+name, err, false)
	}
	if a := aliases.GetAliases(); len(a) > 0 {
		return fmt.Errorf("drop %s: alias %s points at it; move the alias first", name, a[0].GetAliasName())
	}
	var res *qc.CollectionOperationResponse
	err = q.do(ctx, func(ctx context.Context) (err error) {
		res, err = q.client.GetCollectionsClient().Delete(ctx, &qc.DeleteCollection{CollectionName: name})
		return err
	})
	if err != nil {
		return qerr(ctx, "drop "+name, err, true)
	}
	if !res.GetResult() {
		// Qdrant answers false, not NotFound, for a collection that is
		// not there (deleted since the list above).
		return fmt.Errorf("drop %s: %w", name, index.ErrNoCollection)
	}
	return nil
}
