// Package index is the contract between mediavec and its vector stores:
// points (named dense and sparse vectors plus a payload), collections
// behind aliases, and similarity queries over them.
//
// It holds what every backend shares, once:
//
//   - the role interfaces Admin, Writer and Reader, and Index, which embeds
//     them (a caller takes the role it needs: search a Reader, the worker a
//     Writer);
//   - the rules a backend applies alike (schema.go): schema validation and
//     equality, point and sparse-vector checks, collection names, the unit
//     normalisation of cosine vectors, the IDF of sparse scoring, and the
//     canonical point ids (point.go);
//   - the errors callers map to a status or an outcome, the permanent ones
//     marked so (a worker dead-letters at once what retrying cannot fix);
//   - generations ("segments_g1") behind aliases ("segments"), so a new
//     model set is written and backfilled beside the live one and switched
//     to atomically.
//
// The backends live in their own packages and pass the same conformance
// suite, index/indextest:
//
//   - index/embedded, for `mediavec up`: files in a folder, an exact scan;
//   - index/qdrant, for a fleet: a Qdrant cluster over gRPC, also tested
//     against index/qdranttest, an in-process server with Qdrant's
//     validation.
//
// index imports no other mediavec package but internal/vecmath.
package index
