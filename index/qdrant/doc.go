// Package qdrant is the index.Index of a fleet: a Qdrant cluster through
// its gRPC API and the official go-client.
//
// translate.go is the pure half — index types to Qdrant requests and
// Qdrant responses back to index types, with no connection — so every
// request is table-tested for exactly what it sends. The rest is the
// connection (qdrant.go: retries of idempotent calls, error mapping),
// collection admin (admin.go), writes (write.go: concurrent ReplaceVideo
// calls coalesced into shared upsert requests) and reads (read.go).
//
// Tested three ways: exact request construction, a contract test against
// index/qdranttest (an in-process gRPC server with Qdrant's validation and
// message-size behaviour), and the shared conformance suite against that
// server always and against a real Qdrant whenever QDRANT_ADDR is set.
package qdrant
