// Package index stores points (named dense and sparse vectors plus a
// payload) and answers similarity queries over them. Index is the one
// interface; two backends implement it and pass the same conformance suite
// (index/indextest):
//
//   - Embedded, for `mediavec up`: an exact scan over contiguous float32
//     slabs per named vector (SIMD dot products from viterin/vek, split
//     across cores for large slabs), an inverted index per sparse vector,
//     kept in memory and persisted as an append-only, checksummed log per
//     collection plus a manifest of collections and aliases. A write
//     returns only after the log is fsynced — the "durably written" a
//     worker waits for before it acks a job.
//   - Qdrant, for a fleet: the gRPC API of a Qdrant cluster through the
//     official go-client, tested against index/qdranttest (an in-process
//     server with Qdrant's validation) and a real Qdrant when QDRANT_ADDR
//     is set.
//
// Collections are generations ("segments_g1") behind aliases ("segments"),
// so a new model set can be written and backfilled beside the live one and
// switched to atomically.
//
// index imports no other mediavec package.
package index
